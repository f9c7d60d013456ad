//go:build unix

package cli

import (
	"fmt"
	"syscall"

	"github.com/baram-mqtt/baram/internal/bench"
)

// fdWarning says when the run needs more file descriptors than the
// process may open (Go raises the soft limit to the hard one at start).
func fdWarning(cfg bench.Config) string {
	n := cfg.Publishers + cfg.Subscribers
	if cfg.Scenario == bench.ScenarioConn {
		n = cfg.Clients
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || uint64(n)+32 <= lim.Cur {
		return ""
	}
	return fmt.Sprintf("%d connections need as many file descriptors, and this process may open %d (ulimit -n)", n, lim.Cur)
}
