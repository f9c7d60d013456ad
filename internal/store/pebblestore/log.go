//go:build amd64 || arm64 || arm64be || ppc64 || ppc64le || mips64 || mips64le || s390x || sparc64 || riscv64 || loong64

package pebblestore

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/cockroachdb/pebble/v2"
)

// exit ends the process after a fatal Pebble error; tests replace it.
var exit = os.Exit

// logAdapter routes Pebble's logger to slog.
type logAdapter struct{ l *slog.Logger }

// Infof logs at debug level: Pebble's informational messages (WAL replay,
// file counts) are noise in a broker's log.
func (a logAdapter) Infof(format string, args ...any) {
	if a.l.Enabled(context.Background(), slog.LevelDebug) {
		a.l.Debug(fmt.Sprintf(format, args...))
	}
}

func (a logAdapter) Errorf(format string, args ...any) {
	a.l.Error(fmt.Sprintf(format, args...))
}

// Fatalf is called by Pebble when it cannot go on safely, notably when a
// WAL write or fsync failed: the commit pipeline is then unusable and a
// batch may or may not be on disk. Like log.Fatalf it does not return: it
// logs and exits, so that no goroutine acknowledges anything afterwards and
// a restart recovers from the WAL.
func (a logAdapter) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	a.l.Error("fatal storage error; stopping", "err", msg)
	fmt.Fprintf(os.Stderr, "baram: fatal storage error: %s\n", msg)
	exit(70) // EX_SOFTWARE
}

// eventListener logs the Pebble events an operator should see: background
// errors, write stalls and slow disks.
func eventListener(l *slog.Logger) *pebble.EventListener {
	return &pebble.EventListener{
		BackgroundError: func(err error) {
			l.Error("background error", "err", err)
		},
		WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
			l.Warn("write stall", "reason", info.Reason)
		},
		WriteStallEnd: func() {
			l.Info("write stall ended")
		},
		// Pebble's default for corruption found while reading is Fatalf;
		// the read returns the error instead, and the broker decides.
		DataCorruption: func(info pebble.DataCorruptionInfo) {
			l.Error("on-disk corruption: restore the data directory from a backup",
				"file", info.Path, "err", info.Details.Error())
		},
		DiskSlow: func(info pebble.DiskSlowInfo) {
			l.Warn("slow disk", "path", info.Path, "op", info.OpType.String(), "duration", info.Duration)
		},
	}
}
