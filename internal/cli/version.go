package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Version is baram's version. Release builds set it with
//
//	go build -ldflags "-X github.com/baram-mqtt/baram/internal/cli.Version=v1.2.3"
//
// When it is left "dev", the module version recorded by
// "go install ...@version" is used if there is one.
var Version = "dev"

// newVersionCommand returns the "version" command.
func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print baram's version, Go version and platform",
		Args:  noArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), versionString())
		},
	}
}

// versionString returns "baram VERSION GOVERSION GOOS/GOARCH".
func versionString() string {
	v := Version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	return fmt.Sprintf("baram %s %s %s/%s", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
