package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
)

// reloader is one thing that SIGHUP reloads: the TLS files of an mqtts
// listener, and later the password file and ACL. reload must leave the
// old state in use when it fails, and be safe to call concurrently with
// the broker's use of that state.
type reloader struct {
	name   string // what it reloads, for the log: "tls mqtts://127.0.0.1:8883"
	reload func() error
}

// tlsReloaders returns a reloader for each mqtts listener of lns.
func tlsReloaders(lns []openListener) []reloader {
	var rs []reloader
	for _, ln := range lns {
		if ln.tls != nil {
			rs = append(rs, reloader{name: "tls " + ln.url(), reload: ln.tls.Reload})
		}
	}
	return rs
}

// reloadAll runs every reloader in turn, as SIGHUP does, and logs each
// result; one that fails keeps its old state and does not stop the
// others. It returns the failures, joined.
func reloadAll(logger *slog.Logger, rs []reloader) error {
	var errs []error
	for _, r := range rs {
		if err := r.reload(); err != nil {
			logger.Error("reload failed; still using the previous one", "what", r.name, "err", err)
			errs = append(errs, fmt.Errorf("%s: %w", r.name, err))
			continue
		}
		logger.Info("reloaded", "what", r.name)
	}
	return errors.Join(errs...)
}

// watchReload calls reloadAll for each signal from hup until ctx is done.
func watchReload(ctx context.Context, hup <-chan os.Signal, logger *slog.Logger, rs []reloader) {
	for {
		select {
		case <-ctx.Done():
			return
		case sig := <-hup:
			if len(rs) == 0 {
				logger.Info("nothing to reload", "signal", sig.String())
				continue
			}
			logger.Info("reloading", "signal", sig.String(), "items", len(rs))
			_ = reloadAll(logger, rs) // each failure is logged
		}
	}
}
