package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/baram-mqtt/baram/internal/bench"
	"github.com/baram-mqtt/baram/internal/packet"
)

// benchFlags are the flags of baram bench, shared by its scenarios.
type benchFlags struct {
	url, host                       string
	port                            int
	qos                             int
	mqtt                            string
	size                            int
	duration, drain, connectTimeout time.Duration
	count                           int
	rate                            float64
	publishers, subscribers         int
	clients, window, parallel       int
	sources                         string
	username, password              string
	cafile, cert, key               string
	insecure                        bool
	topic, filter                   string
	json, quiet, progress           bool
	brokerPID                       int
	cpuProfile                      string
}

// benchScenarios describe the subcommands of baram bench.
var benchScenarios = []struct {
	name, short string
	// flags are the scenario-specific flags it takes.
	flags []string
}{
	{bench.ScenarioConn, "Open --clients idle connections at --rate per second and hold them for --duration",
		[]string{"clients", "rate"}},
	{bench.ScenarioPub, "--publishers (10) publish as fast as they can, or at --rate; nobody subscribes",
		[]string{"publishers", "rate", "count", "size", "window"}},
	{bench.ScenarioSub, "--subscribers (1) count what arrives on --filter, as from a baram bench pub elsewhere",
		[]string{"subscribers", "filter", "count"}},
	{bench.ScenarioFanin, "--publishers (100) publish on TOPIC/i to --subscribers (1) on the wildcard TOPIC/#",
		[]string{"publishers", "subscribers", "rate", "count", "size", "window"}},
	{bench.ScenarioFanout, "--publishers (1) publish to --subscribers (100) on TOPIC/#",
		[]string{"publishers", "subscribers", "rate", "count", "size", "window"}},
	{bench.ScenarioPairs, "--clients (100) publisher/subscriber pairs, pair i on topic TOPIC/i",
		[]string{"clients", "rate", "count", "size", "window"}},
	{bench.ScenarioLatency, "Publish-to-delivery latency at a fixed offered --rate (10000 msgs/s), 1 publisher to 1 subscriber",
		[]string{"publishers", "subscribers", "rate", "count", "size", "window"}},
}

// scenarioFlags are the flags that only some scenarios take.
var scenarioFlags = []string{"clients", "publishers", "subscribers", "rate", "count", "size", "window", "filter"}

// newBenchCommand returns the "bench" command, a load tool for any MQTT
// broker.
func newBenchCommand() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench SCENARIO",
		Short: "Load-test an MQTT broker, baram or any other",
		Long: "baram bench runs a load scenario against an MQTT broker (baram or any other)\n" +
			"and reports messages per second, publish-to-delivery latency percentiles,\n" +
			"and lost and duplicated messages, counted from the run id, sequence number\n" +
			"and send time that every payload carries (so payloads need at least 24\n" +
			"bytes, except for pub).\n\n" +
			"While it runs, a progress line goes to standard error once a second (when\n" +
			"that is a terminal, or with --progress); the result goes to standard output\n" +
			"as a table, or as JSON with --json. Ctrl-C stops a run: publishing stops,\n" +
			"what is in flight is waited for, and the result is printed.\n\n" +
			"The exit status is 1 when messages were lost at QoS 1 or 2 or anything\n" +
			"failed (a connection, a subscription), 2 for bad flags.\n\n" +
			"Every client connects through one dialer: --url mqtt://, mqtts://, ws:// or\n" +
			"wss://, or --host and --port (TLS when --cafile, --cert or --insecure is\n" +
			"given). --sources spreads connections over several local addresses, to go\n" +
			"past the ~28,000 ephemeral ports of one.",
		Example: "  baram bench fanin --qos 1 --duration 10s\n" +
			"  baram bench pairs --clients 500 --qos 1 --json\n" +
			"  baram bench latency --rate 10000 --url ws://broker.example:8080/mqtt\n" +
			"  baram bench conn --clients 50000 --rate 2000 --sources 127.0.0.2-127.0.0.9 --duration 30s\n" +
			"  baram bench fanout --subscribers 1000 --mqtt 5 --url mqtts://broker.example --cafile ca.pem",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	f.bind(cmd.PersistentFlags())
	for _, sc := range benchScenarios {
		cmd.AddCommand(&cobra.Command{
			Use:   sc.name,
			Short: sc.short,
			Long: sc.short + ".\n\nScenario flags: --" + strings.Join(sc.flags, ", --") +
				". The other flags are under Global Flags.",
			Args: noArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				for _, name := range scenarioFlags {
					if cmd.Flags().Changed(name) && !slices.Contains(sc.flags, name) {
						return usageError{fmt.Errorf("--%s does not apply to %s (it takes --%s)", name, sc.name, strings.Join(sc.flags, ", --"))}
					}
				}
				return f.run(cmd, sc.name)
			},
		})
	}
	return cmd
}

// bind declares f's flags in fs.
func (f *benchFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.url, "url", "", "broker `URL`: mqtt://HOST:PORT, mqtts://, ws://HOST:PORT/PATH or wss:// (instead of --host, --port)")
	fs.StringVar(&f.host, "host", "localhost", "broker `HOST`")
	fs.IntVar(&f.port, "port", 0, "broker `PORT` (default 1883, or 8883 with TLS)")
	fs.IntVar(&f.qos, "qos", 0, "`QOS` of publishing and subscribing: 0, 1 or 2")
	fs.StringVar(&f.mqtt, "mqtt", "3.1.1", "MQTT `VERSION`: 3.1.1 or 5")
	fs.IntVar(&f.size, "size", 64, "payload size in `BYTES` (at least 24 where loss and latency are counted)")
	fs.DurationVar(&f.duration, "duration", 0, "publish (conn: hold the connections) for `DURATION` (default 10s, or until --count)")
	fs.IntVar(&f.count, "count", 0, "stop after `N` messages per publisher (sub: per subscriber)")
	fs.Float64Var(&f.rate, "rate", 0, "offered load: messages per second over all publishers (conn: connections per second); 0 is as fast as possible")
	fs.IntVar(&f.publishers, "publishers", 0, "number of publishers (default per scenario)")
	fs.IntVar(&f.subscribers, "subscribers", 0, "number of subscribers (default per scenario)")
	fs.IntVar(&f.clients, "clients", 0, "connections of conn (default 1000), pairs of pairs (default 100)")
	fs.IntVar(&f.window, "window", 10, "unacknowledged messages per publisher at QoS 1 and 2 (QoS 0: messages per write)")
	fs.StringVar(&f.sources, "sources", "", "local `ADDRESSES` to connect from, round-robin: 127.0.0.2,127.0.0.3 or 127.0.0.2-127.0.0.9")
	fs.StringVar(&f.username, "username", "", "`USER` name in every CONNECT")
	fs.StringVar(&f.password, "password", "", "`PASSWORD` in every CONNECT")
	fs.StringVar(&f.cafile, "cafile", "", "trust the certificate authorities in PEM `FILE` (turns TLS on with --host)")
	fs.StringVar(&f.cert, "cert", "", "client certificate PEM `FILE` (with --key)")
	fs.StringVar(&f.key, "key", "", "client private key PEM `FILE` (with --cert)")
	fs.BoolVar(&f.insecure, "insecure", false, "do not verify the broker's certificate")
	fs.StringVar(&f.topic, "topic", "", "topic `PREFIX`: publisher i publishes on PREFIX/i (default bench/RUNID, the run id in hex)")
	fs.StringVar(&f.filter, "filter", "", "topic `FILTER` of sub (default PREFIX/#, or bench/# without --topic)")
	fs.BoolVar(&f.json, "json", false, "print the result as JSON")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress line and no warnings on standard error")
	fs.BoolVar(&f.progress, "progress", false, "print progress lines even when standard error is not a terminal")
	fs.IntVar(&f.brokerPID, "broker-pid", 0, "report the CPU time of the broker process `PID` on this machine (Linux)")
	fs.DurationVar(&f.drain, "drain-timeout", 10*time.Second, "after publishing, wait at most `DURATION` for acknowledgements and deliveries")
	fs.DurationVar(&f.connectTimeout, "connect-timeout", 5*time.Second, "bound each connection's dial and handshakes by `DURATION`")
	fs.IntVar(&f.parallel, "connect-parallel", 64, "`N` handshakes at a time")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write this process's CPU profile to `FILE` (go tool pprof)")
	_ = fs.MarkHidden("cpuprofile")
}

// target builds the bench target from the connection flags.
func (f *benchFlags) target(changed func(string) bool) (bench.Target, error) {
	tlsFlags := f.cafile != "" || f.cert != "" || f.key != "" || f.insecure
	t, err := brokerTarget(f.url, f.host, f.port, tlsFlags, "--cafile, --cert, --key and --insecure", changed)
	if err != nil {
		return t, err
	}
	t.AllowRemote, t.Username, t.Password, t.ConnectTimeout = true, f.username, f.password, f.connectTimeout
	switch f.mqtt {
	case "3.1.1", "311", "4":
		t.Version = packet.V311
	case "5", "5.0":
		t.Version = packet.V5
	default:
		return t, fmt.Errorf("--mqtt %q: want 3.1.1 or 5", f.mqtt)
	}
	if f.sources != "" {
		srcs, err := bench.ParseSources(f.sources)
		if err != nil {
			return t, fmt.Errorf("--sources: %s", strings.TrimPrefix(err.Error(), "bench: "))
		}
		t.Sources = srcs
	}
	if tlsFlags {
		cfg, err := loadTLS(f.cafile, f.cert, f.key, f.insecure)
		if err != nil {
			return t, err
		}
		t.TLS = cfg
	}
	return t, nil
}

// config builds the run from the flags; its errors are usage errors.
func (f *benchFlags) config(scenario string, changed func(string) bool) (bench.Config, error) {
	t, err := f.target(changed)
	if err != nil {
		return bench.Config{}, err
	}
	if f.qos < 0 || f.qos > 2 {
		return bench.Config{}, fmt.Errorf("--qos %d: want 0, 1 or 2", f.qos)
	}
	for _, c := range []struct {
		name string
		n    int
	}{{"clients", f.clients}, {"publishers", f.publishers}, {"subscribers", f.subscribers}, {"count", f.count},
		{"window", f.window}, {"size", f.size}, {"connect-parallel", f.parallel}} {
		if c.n < 0 || changed(c.name) && c.n == 0 && c.name != "count" {
			return bench.Config{}, fmt.Errorf("--%s %d: want a positive number", c.name, c.n)
		}
	}
	cfg := bench.Config{Target: t, Scenario: scenario, Clients: f.clients, Publishers: f.publishers,
		Subscribers: f.subscribers, QoS: byte(f.qos), PayloadSize: f.size, Duration: f.duration, Count: f.count,
		Rate: f.rate, Window: f.window, Topic: f.topic, Filter: f.filter, DrainTimeout: f.drain,
		ConnectParallel: f.parallel, BrokerPID: f.brokerPID}
	if err := cfg.Validate(); err != nil {
		return cfg, errors.New(strings.TrimPrefix(err.Error(), "bench: "))
	}
	return cfg, nil
}

// run runs scenario with the flags and prints the result.
func (f *benchFlags) run(cmd *cobra.Command, scenario string) error {
	cfg, err := f.config(scenario, cmd.Flags().Changed)
	if err != nil {
		return usageError{err}
	}
	stderr, stdout := cmd.ErrOrStderr(), cmd.OutOrStdout()
	if !f.quiet {
		host, _, _ := net.SplitHostPort(cfg.Addr)
		if !bench.IsLoopback(host) {
			fmt.Fprintf(stderr, "baram bench: warning: %s is not a loopback address: this run loads another machine and its network\n", host)
		}
		if warn := fdWarning(cfg); warn != "" {
			fmt.Fprintln(stderr, "baram bench: warning:", warn)
		}
	}
	// The first Ctrl-C (or SIGTERM) stops the run, which still reports;
	// from then on a second one kills the process the default way.
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	unwatch := context.AfterFunc(ctx, stop)
	defer unwatch()

	if f.cpuProfile != "" {
		out, err := os.Create(f.cpuProfile)
		if err != nil {
			return err
		}
		defer out.Close()
		if err := pprof.StartCPUProfile(out); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var pr *progressPrinter
	if !f.quiet && (f.progress || isTerminal(stderr)) {
		pr = &progressPrinter{w: stderr, terminal: isTerminal(stderr), scenario: scenario}
		cfg.Progress = pr.print
	}
	rep, err := bench.Run(ctx, cfg)
	pr.end()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted while connecting: %w", err)
		}
		return err
	}
	if f.json {
		err = writeJSON(stdout, rep)
	} else {
		err = writeTable(stdout, rep)
	}
	if err != nil {
		return err
	}
	return rep.Failure()
}
