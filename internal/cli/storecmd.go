package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/baram-mqtt/baram/internal/config"
	"github.com/baram-mqtt/baram/internal/store"
	"github.com/baram-mqtt/baram/internal/store/open"
	"github.com/baram-mqtt/baram/internal/storeinspect"
	"github.com/baram-mqtt/baram/internal/topic"
)

// newStoreCommand returns the "store" command and its subcommands.
func newStoreCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Check or print the data directory of a stopped broker",
		Long: "Check or print the sessions, queues and retained messages that a broker\n" +
			"keeps in its data directory. The broker must be stopped: while it runs, it\n" +
			"holds the directory's lock. No record is changed.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newStoreCheckCommand(), newStoreDumpCommand())
	return cmd
}

// inspectFlags are the flags of the store subcommands that find the store.
type inspectFlags struct {
	configFile string
	store      storeFlags
}

// bind declares f's flags on cmd.
func (f *inspectFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.configFile, "config", "", "read the store settings from the YAML `FILE` that serve uses")
	f.store.bind(cmd)
}

// open opens the store for reading, as the settings and flags describe
// it, and returns it with a description such as "pebble:./data". It
// refuses a memory store and a directory that holds no store, rather
// than create an empty one.
func (f *inspectFlags) open(changed func(string) bool, stderr io.Writer) (store.Store, string, error) {
	cfg := config.Default()
	if f.configFile != "" {
		var err error
		if cfg, err = config.Load(f.configFile); err != nil {
			return nil, "", err
		}
	}
	if err := f.store.apply(&cfg, changed); err != nil {
		return nil, "", err
	}
	if err := cfg.Validate(); err != nil {
		return nil, "", fmt.Errorf("invalid settings: %w", err)
	}
	c := cfg.Store
	if c.Type == config.StoreMemory {
		return nil, "", usageError{errors.New("store.type is memory: a memory store lives only inside the running broker; nothing to read")}
	}
	found, err := open.Detect(c.Dir)
	if err != nil {
		return nil, "", err
	}
	if found == "" {
		return nil, "", fmt.Errorf("store %s: no store in this directory: name the broker's data directory with --data-dir or --config", c.Dir)
	}
	// Pebble reports only what matters: warnings and errors.
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := openStore(c, logger)
	if err != nil {
		return nil, "", err
	}
	return st, describeStore(c), nil
}

// newStoreCheckCommand returns the "store check" command.
func newStoreCheckCommand() *cobra.Command {
	var f inspectFlags
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Verify that every record decodes and that records refer to each other",
		Long: "Read every record of the store, decode it, and check that the records refer\n" +
			"to each other consistently: client ids to sessions, subscriptions, queued,\n" +
			"inflight and inbound QoS 2 records to their session, inflight records to\n" +
			"their queued message. Print a summary and each problem with its key.\n\n" +
			"Exit status 0: no problems; 1: problems found, or the store could not be read.",
		Example: "  baram store check\n  baram store check --data-dir /var/lib/baram",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			st, desc, err := f.open(cmd.Flags().Changed, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer closeInspected(st, &err)
			r, err := storeinspect.Check(st)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if _, err := fmt.Fprintf(out, "%-16s %s\n", "store", desc); err != nil {
				return err
			}
			if err := r.Write(out); err != nil {
				return err
			}
			if n := r.NumProblems(); n > 0 {
				return fmt.Errorf("store %s: %s found", desc, plural(n, "problem"))
			}
			return nil
		},
	}
	f.bind(cmd)
	return cmd
}

// newStoreDumpCommand returns the "store dump" command.
func newStoreDumpCommand() *cobra.Command {
	var (
		f    inspectFlags
		opts storeinspect.DumpOptions
	)
	cmd := &cobra.Command{
		Use:   "dump",
		Short: "Print sessions, subscriptions, queued messages and retained messages",
		Long: "Print every session (client id, session number, protocol version, expiry,\n" +
			"when it went offline, will topic) with its subscriptions, queued messages\n" +
			"(sequence, QoS, topic, payload size and the start of the payload), inflight\n" +
			"packet ids and inbound QoS 2 packet ids; then the retained messages.",
		Example: "  baram store dump\n  baram store dump --client sensor-1\n  baram store dump --topic 'sensors/#' --json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			if opts.Topic != "" {
				if err := checkDumpFilter(opts.Topic); err != nil {
					return usageError{fmt.Errorf("--topic: %w", err)}
				}
			}
			st, _, err := f.open(cmd.Flags().Changed, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer closeInspected(st, &err)
			bad, err := storeinspect.Dump(st, cmd.OutOrStdout(), opts)
			if err == nil && bad > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "baram: %s could not be decoded (shown with error=); run 'baram store check'\n",
					plural(bad, "record"))
			}
			return err
		},
	}
	f.bind(cmd)
	fs := cmd.Flags()
	fs.StringVar(&opts.Client, "client", "", "print only the session of client `ID` (and no retained messages)")
	fs.StringVar(&opts.Topic, "topic", "", "print only queued and retained messages whose topic matches `FILTER`")
	fs.BoolVar(&opts.JSON, "json", false, "print one JSON object per line")
	return cmd
}

// checkDumpFilter accepts a topic filter to match messages with: valid
// and not shared.
func checkDumpFilter(filter string) error {
	if err := topic.ValidFilter(filter); err != nil {
		return fmt.Errorf("%q: %w", filter, err)
	}
	if strings.HasPrefix(filter, topic.SharedPrefix) {
		return fmt.Errorf("%q: a shared subscription is not a topic filter; leave out $share/GROUP/", filter)
	}
	return nil
}

// closeInspected closes st, reporting a failure in *err unless it already
// holds one.
func closeInspected(st store.Store, err *error) {
	if cerr := st.Close(); cerr != nil && *err == nil {
		*err = fmt.Errorf("close store: %w", cerr)
	}
}

// plural returns "1 problem" or "2 problems".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
