// Package cli is baram's command line: the cobra commands behind the baram
// binary (serve, passwd, store check, store dump, version) and the exit status
// they end with. It reads settings through package config, runs package
// broker and inspects the store with package storeinspect; nothing
// imports it but cmd/baram.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Exit statuses returned by Execute.
const (
	ExitOK    = 0 // the command succeeded, or serve was stopped by a signal
	ExitError = 1 // the command failed: bad config file, busy port, ...
	ExitUsage = 2 // bad flags, flag values or arguments
)

// Execute runs the baram command line with args (without the program
// name), writing output to stdout and messages to stderr, and returns the
// process exit status. Cancelling ctx stops a running serve command as
// SIGINT and SIGTERM do.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return execute(ctx, args, os.Stdin, stdout, stderr)
}

// execute is Execute reading standard input from stdin.
func execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := NewRootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	// Validate joins its problems with newlines; indent all but the first.
	fmt.Fprintf(stderr, "baram: %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	if errors.As(err, new(usageError)) {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return ExitUsage
	}
	return ExitError
}

// NewRootCommand returns the baram command with all its subcommands.
func NewRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "baram",
		Short: "baram is an MQTT 3.1.1 and 5.0 broker",
		Long: "baram is an MQTT 3.1.1 and 5.0 broker.\n\n" +
			"Start it with 'baram serve'; by default it listens on localhost only\n" +
			"(127.0.0.1:1883 and [::1]:1883) and admits anonymous clients there.",
		Example: "  baram serve\n  baram serve --listen 0.0.0.0:1883 --allow-anonymous\n" +
			"  baram serve --config /etc/baram/baram.yaml\n  baram passwd /etc/baram/passwd alice\n" +
			"  baram store check --data-dir ./data",
		Version:       Version,
		Args:          noArgs,
		SilenceErrors: true, // Execute prints them
		SilenceUsage:  true, // a failing broker is no reason to print usage
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	root.SetVersionTemplate(versionString() + "\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.CompletionOptions.HiddenDefaultCmd = true
	root.AddCommand(newServeCommand(), newPasswdCommand(), newStoreCommand(), newVersionCommand(), newBenchCommand(), newPubCommand(), newSubCommand())
	return root
}

// usageError marks an error in how the command was invoked, which makes
// Execute point at --help and return ExitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// noArgs is cobra.NoArgs returning a usageError.
func noArgs(cmd *cobra.Command, args []string) error {
	if err := cobra.NoArgs(cmd, args); err != nil {
		return usageError{err}
	}
	return nil
}
