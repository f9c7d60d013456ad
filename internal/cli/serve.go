package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/config"
	"github.com/baram-mqtt/baram/internal/listener"
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
	tlsCert        string
	tlsKey         string
	passwordFile   string
	aclFile        string
	admin          string
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
			"An mqtts (TLS) listener needs a certificate and key: --tls-cert and --tls-key\n" +
			"with --listen mqtts://host:port, or a tls block in the config file. Their\n" +
			"files are reloaded when they change and on SIGHUP.\n\n" +
			"--password-file (auth.password_file) checks the username and password of\n" +
			"clients that send a username; --acl-file (auth.acl_file) limits the topics\n" +
			"each client may use. Both take Mosquitto's formats, and are reloaded when\n" +
			"they change and on SIGHUP. 'baram passwd' writes password files.\n\n" +
			"Sessions, queues and retained messages are kept in --data-dir (./data);\n" +
			"--store memory keeps them in memory only, so a restart loses them.\n\n" +
			"The admin HTTP listener (health, metrics, REST API, dashboard) is on\n" +
			"127.0.0.1:8080 unless --admin or admin.address says otherwise.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd.Flags().Changed)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), &cfg, cmd.ErrOrStderr(), listener.Listen)
		},
	}
	f.bind(cmd)
	return cmd
}

// bind declares f's flags on cmd.
func (f *serveFlags) bind(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.configFile, "config", "", "read settings from the YAML `FILE`")
	fs.StringArrayVar(&f.listen, "listen", nil, "accept clients on `ADDR`, host:port, mqtt://, mqtts://, ws:// or wss://host:port[/path]\n(mqtts and wss with --tls-cert and --tls-key); repeat for several; replaces the listeners\nof the config file")
	fs.StringVar(&f.logLevel, "log-level", "", "log `LEVEL`: debug, info, warn or error (default info)")
	fs.StringVar(&f.logFormat, "log-format", "", "log `FORMAT`: text or json (default text)")
	fs.BoolVar(&f.allowAnonymous, "allow-anonymous", false, "admit clients without a username; --allow-anonymous=false refuses them\n(when not given: only if every listener is on a loopback address)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "the certificate chain of the mqtts and wss listeners given with --listen, a PEM `FILE`")
	fs.StringVar(&f.tlsKey, "tls-key", "", "the private key of --tls-cert, a PEM `FILE`")
	fs.StringVar(&f.passwordFile, "password-file", "", "check usernames and passwords against the Mosquitto-format password `FILE`\n(write it with 'baram passwd')")
	fs.StringVar(&f.aclFile, "acl-file", "", "limit the topics of each client with the Mosquitto-format ACL `FILE`")
	fs.StringVar(&f.admin, "admin", "", "serve the admin API, metrics and dashboard on `ADDR` (host:port; default\n127.0.0.1:8080); --admin= turns them off")
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
			if l.Protocol == config.ProtocolMQTTS || l.Protocol == config.ProtocolWSS {
				if l.TLS, err = f.listenTLS(s); err != nil {
					return config.Config{}, err
				}
			}
			cfg.Listeners = append(cfg.Listeners, l)
		}
	}
	if changed("tls-cert") || changed("tls-key") {
		isTLS := func(l config.Listener) bool {
			return l.Protocol == config.ProtocolMQTTS || l.Protocol == config.ProtocolWSS
		}
		if !changed("listen") || !slices.ContainsFunc(cfg.Listeners, isTLS) {
			return config.Config{}, usageError{errors.New("--tls-cert and --tls-key are for --listen mqtts://host:port or wss://host:port; " +
				"in a config file a listener's certificate is tls.cert and tls.key")}
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
	if changed("password-file") {
		cfg.Auth.PasswordFile = f.passwordFile
	}
	if changed("acl-file") {
		cfg.Auth.ACLFile = f.aclFile
	}
	if changed("admin") {
		cfg.Admin.Address = f.admin
	}
	if err := f.store.apply(&cfg, changed); err != nil {
		return config.Config{}, err
	}
	for _, check := range []func() error{cfg.Validate, cfg.CheckFiles} {
		if err := check(); err != nil {
			if f.configFile != "" {
				return config.Config{}, fmt.Errorf("config %s: %w", f.configFile, err)
			}
			return config.Config{}, fmt.Errorf("invalid settings: %w", err)
		}
	}
	return cfg, nil
}

// listenTLS returns the TLS settings of the mqtts or wss listener given as
// --listen s: --tls-cert and --tls-key, which must both be given and
// readable.
func (f *serveFlags) listenTLS(s string) (*config.TLS, error) {
	switch {
	case f.tlsCert == "" && f.tlsKey == "":
		return nil, usageError{fmt.Errorf("--listen %s: an mqtts listener needs a certificate and its key: "+
			"add --tls-cert FILE and --tls-key FILE, or declare the listener with a tls block in --config FILE", s)}
	case f.tlsKey == "":
		return nil, usageError{fmt.Errorf("--tls-key: missing; --listen %s needs the private key of --tls-cert", s)}
	case f.tlsCert == "":
		return nil, usageError{fmt.Errorf("--tls-cert: missing; --listen %s needs the certificate of --tls-key", s)}
	}
	if err := config.CheckReadable(f.tlsCert); err != nil {
		return nil, fmt.Errorf("--tls-cert: %w", err)
	}
	if err := config.CheckReadable(f.tlsKey); err != nil {
		return nil, fmt.Errorf("--tls-key: %w", err)
	}
	return &config.TLS{Cert: f.tlsCert, Key: f.tlsKey}, nil
}

// serve runs a broker configured by cfg on listeners opened with
// listenFn until ctx is cancelled, SIGINT or SIGTERM arrives or a
// listener fails, then shuts it down. It logs to stderr. The store is
// opened first, so that a locked or damaged data directory stops it
// before it listens, and closed once the broker has shut down. SIGHUP
// reloads what can be reloaded (see reloadAll) until shutdown starts.
func serve(ctx context.Context, cfg *config.Config, stderr io.Writer, listenFn listenFunc) error {
	logger, err := newLogger(stderr, cfg.Log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Caught from the start, so that an early SIGHUP does not kill the
	// process; it is handled once the listeners are open.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// runCtx ends the TLS, password and ACL file pollers and the SIGHUP
	// goroutine.
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()

	// The password and ACL files come first: a broken one stops startup
	// before the store is opened.
	af, err := openAuthFiles(runCtx, cfg.Auth, logger)
	if err != nil {
		return err
	}
	defer af.close() // waits for the password file watcher
	st, lns, b, err := start(runCtx, cfg, logger, listenFn, af)
	if err != nil {
		return err
	}
	sc, err := startSidecars(runCtx, cfg, b, lns, listenFn, logger)
	if err != nil {
		b.Shutdown(context.WithoutCancel(ctx)) // nothing is served yet
		closeListeners(lns)
		closeStore(st, logger)
		return err
	}
	var reloadWG sync.WaitGroup
	reloaders := append(tlsReloaders(lns), af.reloaders()...)
	reloaders = append(reloaders, sc.reloaders()...)
	reloadWG.Go(func() { watchReload(runCtx, hup, logger, reloaders) })
	errc := make(chan error, len(lns)) // never blocks a Serve goroutine
	var wg sync.WaitGroup
	for i, ln := range lns {
		wg.Go(func() {
			lo := listenerOptions(cfg, i)
			lo.Name, lo.IdentityAsUsername = ln.url(), ln.identity // as in the startup line
			if err := b.ServeListener(ln.Listener, lo); err != nil {
				errc <- fmt.Errorf("serve %s: %w", ln.Addr(), err)
			}
		})
	}
	sc.logStartup(logger, cfg) // before "baram listening", which says all is up
	logStartup(logger, cfg, lns, af)

	var serveErr error
	select {
	case <-ctx.Done():
		stop() // from here a second signal kills the process the default way
		logger.Info("shutting down", "reason", context.Cause(ctx).Error(), "timeout", shutdownTimeout.String())
	case serveErr = <-errc:
		logger.Error("listener failed, shutting down", "err", serveErr)
	}
	cancelRun()
	reloadWG.Wait() // no reload from here on
	af.close()      // the broker keeps using the files last loaded
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	scErr := sc.stop(sctx) // admin and $SYS first: they use the broker
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
	if err := errors.Join(serveErr, scErr, shutErr); err != nil {
		return err
	}
	logger.Info("baram stopped")
	return nil
}

// listenerOptions returns the limits of the i-th open listener: those of
// its entry in cfg.Listeners, or, for the default listeners (of which
// openListeners may skip one), the limits section's. openListeners opens
// every configured listener or none, so i is the index of its entry.
func listenerOptions(cfg *config.Config, i int) broker.ListenerOptions {
	var l config.Listener
	if i < len(cfg.Listeners) {
		l = cfg.Listeners[i]
	}
	return cfg.ListenerOptions(l)
}

// start opens the store, then the listeners, then recovers the broker's
// state from the store; on error it closes what it opened. The TLS
// setups of the listeners watch their files until ctx is done. The broker
// checks clients against af.
func start(ctx context.Context, cfg *config.Config, logger *slog.Logger, listenFn listenFunc, af *authFiles) (store.Store, []openListener, *broker.Broker, error) {
	st, err := openStore(cfg.Store, logger)
	if err != nil {
		return nil, nil, nil, err
	}
	listeners, isDefault := cfg.EffectiveListeners()
	listeners = allowDashboardOrigin(listeners, cfg.Admin)
	lns, err := openListeners(ctx, listeners, isDefault, listenFn, logger)
	if err != nil {
		closeStore(st, logger)
		return nil, nil, nil, err
	}
	opts := cfg.BrokerOptions(logger)
	opts.Store = st
	af.apply(&opts)
	b, err := broker.Open(opts)
	if err != nil {
		closeListeners(lns)
		closeStore(st, logger)
		return nil, nil, nil, fmt.Errorf("store %s: %w (run 'baram store check' to list what is damaged)", describeStore(cfg.Store), err)
	}
	return st, lns, b, nil
}

// logStartup logs where the broker listens, where it keeps its state and
// the password and ACL files of af, and warns about risky or useless
// authentication settings.
func logStartup(logger *slog.Logger, cfg *config.Config, lns []openListener, af *authFiles) {
	urls := make([]string, len(lns))
	public, certUsers := false, false
	for i, ln := range lns {
		urls[i] = ln.url()
		public = public || !config.IsLoopback(ln.Addr().String())
		certUsers = certUsers || ln.identity != ""
	}
	anon := cfg.AnonymousAllowed()
	attrs := []any{"listeners", strings.Join(urls, ", "), "anonymous", anon}
	attrs = append(attrs, af.logAttrs()...)
	attrs = append(attrs, "store", describeStore(cfg.Store))
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
	case !anon && (af.http != nil || af.jwt != nil):
		// other authenticators decide; nothing to warn about here
	case !anon && !certUsers && af.passwd == nil:
		logger.Warn("anonymous clients are refused and no users are configured, so no client can connect",
			"hint", "set auth.allow_anonymous: true or pass --allow-anonymous, or name a password file in auth.password_file")
	case !anon && !certUsers && af.users() == 0:
		logger.Warn("anonymous clients are refused and the password file has no users, so no client can connect until one is added",
			"password_file", cfg.Auth.PasswordFile, "hint", "add one with 'baram passwd "+cfg.Auth.PasswordFile+" USER'")
	case public:
		logger.Warn("anonymous clients are allowed on a non-loopback listener: anyone who reaches it can publish and subscribe")
	}
}
