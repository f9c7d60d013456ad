//go:build !unix

package cli

import "github.com/baram-mqtt/baram/internal/bench"

// fdWarning is only for Unix systems.
func fdWarning(bench.Config) string { return "" }
