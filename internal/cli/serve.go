package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/config"
	"github.com/baram-mqtt/baram/internal/store"
)

// shutdownTimeout bounds the graceful shutdown after a signal.
const shutdownTimeout = 10 * time.Second

// serveFlags holds the flags of the serve command.
type serveFlags struct {
	configFile     string
	listen         []string
	logLevel       string
	logFormat      string
	allowAnonymous bool
	store          storeFlags
}

// newServeCommand returns the "serve" command.
func newServeCommand() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the MQTT broker",
		Long: "Run the MQTT broker until SIGINT or SIGTERM.\n\n" +
			"Settings come from the defaults, then --config FILE, then the other flags.\n" +
			"Without listeners it listens on 127.0.0.1:1883 and [::1]:1883. Unless\n" +
			"auth.allow_anonymous or --allow-anonymous says otherwise, clients without\n" +
			"a username are admitted only when every listener is on a loopback address.\n\n" +
			"Sessions, queues and retained messages are kept in --data-dir (./data);\n" +
			"--store memory keeps them in memory only, so a restart loses them.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd.Flags().Changed)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), &cfg, cmd.ErrOrStderr(), net.Listen)
		},
	}
	f.bind(cmd)
	return cmd
}

// bind declares f's flags on cmd.
func (f *serveFlags) bind(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.configFile, "config", "", "read settings from the YAML `FILE`")
	fs.StringArrayVar(&f.listen, "listen", nil, "accept clients on `ADDR`, host:port or mqtt://host:port; repeat for\nseveral; replaces the listeners of the config file")
	fs.StringVar(&f.logLevel, "log-level", "", "log `LEVEL`: debug, info, warn or error (default info)")
	fs.StringVar(&f.logFormat, "log-format", "", "log `FORMAT`: text or json (default text)")
	fs.BoolVar(&f.allowAnonymous, "allow-anonymous", false, "admit clients without a username; --allow-anonymous=false refuses them\n(when not given: only if every listener is on a loopback address)")
	f.store.bind(cmd)
}

// load returns the settings: Default, then the config file, then the
// flags that changed reports as given; validated.
func (f *serveFlags) load(changed func(name string) bool) (config.Config, error) {
	cfg := config.Default()
	if f.configFile != "" {
		var err error
		if cfg, err = config.Load(f.configFile); err != nil {
			return config.Config{}, err
		}
	}
	if changed("listen") {
		cfg.Listeners = nil
		for _, s := range f.listen {
			l, err := config.ParseListener(s)
			if err != nil {
				return config.Config{}, usageError{fmt.Errorf("--listen: %w", err)}
			}
			cfg.Listeners = append(cfg.Listeners, l)
		}
	}
	if changed("log-level") {
		cfg.Log.Level = f.logLevel
		if _, err := cfg.Log.SlogLevel(); err != nil {
			return config.Config{}, usageError{fmt.Errorf("--log-level: %w", err)}
		}
	}
	if changed("log-format") {
		cfg.Log.Format = f.logFormat
		if err := config.CheckLogFormat(f.logFormat); err != nil {
			return config.Config{}, usageError{fmt.Errorf("--log-format: %w", err)}
		}
	}
	if changed("allow-anonymous") {
		cfg.Auth.AllowAnonymous = &f.allowAnonymous
	}
	if err := f.store.apply(&cfg, changed); err != nil {
		return config.Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		if f.configFile != "" {
			return config.Config{}, fmt.Errorf("config %s: %w", f.configFile, err)
		}
		return config.Config{}, fmt.Errorf("invalid settings: %w", err)
	}
	return cfg, nil
}

// serve runs a broker configured by cfg on listeners opened with
// listenFn until ctx is cancelled, SIGINT or SIGTERM arrives or a
// listener fails, then shuts it down. It logs to stderr. The store is
// opened first, so that a locked or damaged data directory stops it
// before it listens, and closed once the broker has shut down.
func serve(ctx context.Context, cfg *config.Config, stderr io.Writer, listenFn listenFunc) error {
	logger, err := newLogger(stderr, cfg.Log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	st, lns, b, err := start(cfg, logger, listenFn)
	if err != nil {
		return err
	}
	errc := make(chan error, len(lns)) // never blocks a Serve goroutine
	var wg sync.WaitGroup
	for _, ln := range lns {
		wg.Go(func() {
			if err := b.Serve(ln.Listener); err != nil {
				errc <- fmt.Errorf("serve %s: %w", ln.Addr(), err)
			}
		})
	}
	logStartup(logger, cfg, lns)

	var serveErr error
	select {
	case <-ctx.Done():
		stop() // from here a second signal kills the process the default way
		logger.Info("shutting down", "reason", context.Cause(ctx).Error(), "timeout", shutdownTimeout.String())
	case serveErr = <-errc:
		logger.Error("listener failed, shutting down", "err", serveErr)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	shutErr := b.Shutdown(sctx)
	if shutErr != nil {
		shutErr = fmt.Errorf("shutdown: %w", shutErr)
	}
	closeListeners(lns)
	wg.Wait()
	close(errc)
	for err := range errc { // expected while stopping: Close makes Accept fail
		logger.Debug("listener stopped", "err", err)
	}
	closeStore(st, logger)
	if err := errors.Join(serveErr, shutErr); err != nil {
		return err
	}
	logger.Info("baram stopped")
	return nil
}

// start opens the store, then the listeners, then recovers the broker's
// state from the store; on error it closes what it opened.
func start(cfg *config.Config, logger *slog.Logger, listenFn listenFunc) (store.Store, []openListener, *broker.Broker, error) {
	st, err := openStore(cfg.Store, logger)
	if err != nil {
		return nil, nil, nil, err
	}
	listeners, isDefault := cfg.EffectiveListeners()
	lns, err := openListeners(listeners, isDefault, listenFn, logger)
	if err != nil {
		closeStore(st, logger)
		return nil, nil, nil, err
	}
	opts := cfg.BrokerOptions(logger)
	opts.Store = st
	b, err := broker.Open(opts)
	if err != nil {
		closeListeners(lns)
		closeStore(st, logger)
		return nil, nil, nil, fmt.Errorf("store %s: %w (run 'baram store check' to list what is damaged)", describeStore(cfg.Store), err)
	}
	return st, lns, b, nil
}

// logStartup logs where the broker listens and where it keeps its
// state, and warns about risky or useless authentication settings.
func logStartup(logger *slog.Logger, cfg *config.Config, lns []openListener) {
	urls := make([]string, len(lns))
	public := false
	for i, ln := range lns {
		addr := ln.Addr().String()
		urls[i] = ln.protocol + "://" + addr
		public = public || !config.IsLoopback(addr)
	}
	anon := cfg.AnonymousAllowed()
	attrs := []any{"listeners", strings.Join(urls, ", "), "anonymous", anon, "store", describeStore(cfg.Store)}
	if cfg.Store.Type != config.StoreMemory {
		attrs = append(attrs, "sync", cfg.Store.Sync)
		if cfg.Store.Sync == config.SyncBatch {
			attrs = append(attrs, "sync_interval", cfg.Store.SyncInterval.String())
		}
	}
	logger.Info("baram listening", append(attrs,
		"hint", "change with --listen or --config FILE",
		"version", Version)...)
	switch {
	case !anon: // no users can be configured yet
		logger.Warn("anonymous clients are refused and no users are configured, so no client can connect",
			"hint", "set auth.allow_anonymous: true or pass --allow-anonymous")
	case public:
		logger.Warn("anonymous clients are allowed on a non-loopback listener: anyone who reaches it can publish and subscribe")
	}
}
