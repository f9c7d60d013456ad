package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"syscall"
	"time"

	"github.com/baram-mqtt/baram/internal/admin"
	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/config"
	"github.com/baram-mqtt/baram/internal/listener"
	"github.com/baram-mqtt/baram/internal/metrics"
	"github.com/baram-mqtt/baram/internal/sys"
)

// sidecars are what runs beside the broker: the $SYS publisher and the
// admin HTTP listener (with the metrics it serves). Each is nil when
// turned off.
type sidecars struct {
	sys    *sys.Publisher
	admin  *admin.Server
	tls    *listener.TLS // the admin listener's certificates; nil for HTTP
	url    string        // where the admin listener is, as in "http://127.0.0.1:8080/"
	served chan error    // receives what admin.Serve returned
}

// startSidecars starts the $SYS publisher (unless sys_interval is 0) and
// the admin listener (unless admin.address is ""), listening with
// listenFn. lns are the broker's client listeners, which the dashboard
// shows. The TLS files of the admin listener are checked for changes
// until ctx is done. When the default admin address is in use, baram runs
// without the admin listener and says so; any other failure is an error.
func startSidecars(ctx context.Context, cfg *config.Config, b *broker.Broker, lns []openListener, listenFn listenFunc, logger *slog.Logger) (*sidecars, error) {
	sc := &sidecars{}
	if a := cfg.Admin; a.Enabled() {
		if err := sc.startAdmin(ctx, cfg, b, lns, listenFn, logger); err != nil {
			return nil, err
		}
	}
	if cfg.SysInterval > 0 {
		sc.sys = sys.Start(b, sys.Options{Interval: time.Duration(cfg.SysInterval), Version: Version, Logger: logger.With("component", "sys")})
	}
	return sc, nil
}

func (sc *sidecars) startAdmin(ctx context.Context, cfg *config.Config, b *broker.Broker, lns []openListener, listenFn listenFunc, logger *slog.Logger) error {
	a := cfg.Admin
	log := logger.With("component", "admin")
	o := admin.Options{
		Address: a.Address,
		Metrics: metrics.Handler(metrics.NewRegistry(b, Version)),
		Version: Version,
		Logger:  log,
	}
	for _, u := range a.Users {
		o.Users = append(o.Users, admin.User{Username: u.Username, PasswordHash: u.PasswordHash, Role: admin.Role(u.Role)})
	}
	for _, t := range a.Tokens {
		o.Tokens = append(o.Tokens, admin.Token{Value: t.Token, File: t.TokenFile, Role: admin.Role(t.Role)})
	}
	for _, ln := range lns {
		o.ClientURLs = append(o.ClientURLs, admin.ClientURL{Protocol: ln.protocol, URL: ln.url()})
	}
	if a.TLS != nil {
		t, err := listener.NewTLS(ctx, a.TLS.ListenerConfig(), log)
		if err != nil {
			return fmt.Errorf("admin.%w", err) // err starts with "tls: "
		}
		o.TLS, sc.tls = t, t
	}
	srv, err := admin.New(b, o)
	if err != nil {
		return err
	}
	ln, err := listenFn(ctx, "tcp", a.Address, nil)
	if err != nil {
		if a.Address == config.DefaultAdminAddress && errors.Is(err, syscall.EADDRINUSE) {
			logger.Warn("admin listener not started: its default address is in use",
				"address", a.Address, "hint", "set admin.address or --admin to another address, or --admin= to turn it off")
			return nil
		}
		return fmt.Errorf("admin.address: %w", listenError(a.Address, err))
	}
	sc.admin, sc.served = srv, make(chan error, 1)
	scheme := "http"
	if sc.tls != nil {
		scheme = "https"
	}
	sc.url = scheme + "://" + ln.Addr().String() + "/"
	go func() {
		err := srv.Serve(ln)
		if err != nil { // the broker carries on without it
			log.Error("admin listener failed", "err", err)
		}
		sc.served <- err
	}()
	return nil
}

// reloaders returns the admin listener's TLS reload for SIGHUP.
func (sc *sidecars) reloaders() []reloader {
	if sc.admin == nil || sc.tls == nil {
		return nil
	}
	return []reloader{{name: "tls admin " + sc.url, reload: sc.tls.Reload}}
}

// logStartup logs where the admin listener is and who may use it.
func (sc *sidecars) logStartup(logger *slog.Logger, cfg *config.Config) {
	if sc.admin == nil {
		return
	}
	access := "open (loopback only, no credentials configured)"
	if !sc.admin.Open() {
		access = fmt.Sprintf("%d users, %d tokens", len(cfg.Admin.Users), len(cfg.Admin.Tokens))
	}
	sys := "off"
	if sc.sys != nil {
		sys = cfg.SysInterval.String()
	}
	logger.Info("admin listening", "url", sc.url, "access", access, "metrics", sc.url+"metrics", "sys_interval", sys)
}

// stop shuts the admin listener down (waiting for requests in progress
// until ctx expires) and stops the $SYS publisher; call it before the
// broker's Shutdown.
func (sc *sidecars) stop(ctx context.Context) error {
	var err error
	if sc.admin != nil {
		err = sc.admin.Shutdown(ctx)
		if serr := <-sc.served; serr != nil {
			err = errors.Join(err, serr)
		}
		if err != nil {
			err = fmt.Errorf("admin: %w", err)
		}
	}
	if sc.sys != nil {
		sc.sys.Stop()
	}
	return err
}
