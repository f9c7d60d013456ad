package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"syscall"

	"github.com/baram-mqtt/baram/internal/config"
	"github.com/baram-mqtt/baram/internal/listener"
)

// listenFunc opens a listener, serving TLS with tlsCfg when it is not
// nil; listener.Listen in production, a fake in tests. openListeners
// asks it for TCP only (tlsCfg nil) and stacks TLS itself, above the
// PROXY protocol.
type listenFunc func(ctx context.Context, network, address string, tlsCfg *listener.TLS) (net.Listener, error)

// openListener is a listener with the protocol it serves.
type openListener struct {
	net.Listener
	protocol string
	// tls is the certificate setup of an mqtts or wss listener; nil for
	// the others.
	tls *listener.TLS
	// identity is its tls.identity_as_username, "" for none.
	identity string
}

// url names ln in logs: its protocol, bound address and, for ws and wss,
// path, as in "mqtts://127.0.0.1:8883" or "ws://127.0.0.1:8083/mqtt".
func (ln openListener) url() string {
	path := ""
	if ws, ok := ln.Listener.(interface{ Path() string }); ok { // listener.WebSocket
		path = ws.Path()
	}
	return ln.protocol + "://" + ln.Addr().String() + path
}

// openListeners opens every listener in ls, or none: on error it closes
// the ones already open. The TLS setup of an mqtts or wss listener checks
// its files for changes until ctx is done. When ls are the default
// listeners (isDefault), an IPv6 address that the machine cannot bind
// because it has no IPv6 is skipped with a warning.
func openListeners(ctx context.Context, ls []config.Listener, isDefault bool, listen listenFunc, logger *slog.Logger) ([]openListener, error) {
	var lns []openListener
	for i, l := range ls {
		trusted, err := l.TrustedPrefixes() // Validate checked them
		if err != nil {
			closeListeners(lns)
			return nil, fmt.Errorf("listeners[%d].%w", i, err)
		}
		var tlsCfg *listener.TLS
		identity := ""
		if l.Protocol == config.ProtocolMQTTS || l.Protocol == config.ProtocolWSS {
			if l.TLS == nil { // Validate refuses this
				closeListeners(lns)
				return nil, fmt.Errorf("listeners[%d].tls: missing", i)
			}
			tlsCfg, err = listener.NewTLS(ctx, l.TLS.ListenerConfig(), logger.With("listener", l.Protocol+"://"+l.Address))
			if err != nil {
				closeListeners(lns)
				// err starts with "tls: " and names the setting and file.
				return nil, fmt.Errorf("listeners[%d].%w", i, err)
			}
			identity = l.TLS.IdentityAsUsername
		}
		ln, err := listen(ctx, "tcp", l.Address, nil)
		if err != nil {
			if isDefault && ipv6Unavailable(l.Address, err) {
				logger.Warn("IPv6 is unavailable; not listening on it", "address", l.Address, "err", err)
				continue
			}
			closeListeners(lns)
			return nil, listenError(l.Address, err)
		}
		lns = append(lns, stackListener(ln, l, trusted, tlsCfg, identity, logger))
	}
	if len(lns) == 0 {
		return nil, errors.New("no listener could be opened")
	}
	return lns, nil
}

// stackListener puts on the TCP listener ln what the listener l serves,
// in the order of the bytes on the wire: the PROXY protocol header (with
// proxy_protocol, from the trusted proxies), then TLS (mqtts and wss,
// with tlsCfg), then HTTP and WebSocket (ws and wss). trusted are l's
// trusted_proxies, parsed.
func stackListener(ln net.Listener, l config.Listener, trusted []netip.Prefix, tlsCfg *listener.TLS, identity string, logger *slog.Logger) openListener {
	ol := openListener{protocol: l.Protocol, tls: tlsCfg, identity: identity}
	web := l.Protocol == config.ProtocolWS || l.Protocol == config.ProtocolWSS
	path := ""
	if web {
		path = l.WSPath()
	}
	log := logger.With("listener", l.Protocol+"://"+ln.Addr().String()+path)
	if l.ProxyProtocol {
		ln = listener.ProxyProtocol(ln, trusted, 0, log)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg.Config())
	}
	if web {
		ln = listener.WebSocket(ln, listener.WSOptions{
			Path:           path,
			AllowedOrigins: l.AllowedOrigins,
			TrustedProxies: trusted,
		}, log)
	}
	ol.Listener = ln
	return ol
}

// closeListeners closes lns, ignoring errors: they are already closed,
// or closing them cannot fail in a way that matters.
func closeListeners(lns []openListener) {
	for _, ln := range lns {
		_ = ln.Close()
	}
}

// listenError shortens a net.Listen error from
// "listen tcp 127.0.0.1:1883: bind: address already in use" to
// "listen 127.0.0.1:1883: address already in use", keeping the cause
// for errors.Is.
func listenError(addr string, err error) error {
	var se *os.SyscallError
	var oe *net.OpError
	switch {
	case errors.As(err, &se):
		err = se.Err
	case errors.As(err, &oe):
		err = oe.Err
	}
	return fmt.Errorf("listen %s: %w", addr, err)
}

// ipv6Unavailable reports whether err from listening on addr means that
// addr is an IPv6 address and the machine has no IPv6 (disabled in the
// kernel, or no ::1 configured).
func ipv6Unavailable(addr string, err error) bool {
	ap, perr := netip.ParseAddrPort(addr)
	if perr != nil || !ap.Addr().Is6() || ap.Addr().Is4In6() {
		return false
	}
	return errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT) ||
		errors.Is(err, syscall.EPROTONOSUPPORT)
}

// allowDashboardOrigin lets the admin dashboard's MQTT panel reach the
// ws and wss listeners: it adds the dashboard's origin (host:port of the
// admin address) to their allowed origins. Only a concrete address has an
// origin a browser will send; for a wildcard address such as ":8080" the
// user lists the name they browse to in allowed_origins.
func allowDashboardOrigin(ls []config.Listener, admin config.Admin) []config.Listener {
	host, port, err := net.SplitHostPort(admin.Address)
	if err != nil || host == "" {
		return ls
	}
	ip, err := netip.ParseAddr(host)
	if err == nil && ip.IsUnspecified() {
		return ls
	}
	origins := []string{net.JoinHostPort(host, port)}
	if err == nil && ip.IsLoopback() {
		origins = append(origins, net.JoinHostPort("localhost", port))
	}
	out := slices.Clone(ls)
	for i, l := range out {
		if l.Protocol == config.ProtocolWS || l.Protocol == config.ProtocolWSS {
			out[i].AllowedOrigins = slices.Concat(l.AllowedOrigins, origins)
		}
	}
	return out
}
