package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/coder/websocket"
)

// Transports of Target.Scheme.
const (
	SchemeMQTT  = "mqtt"  // plain TCP
	SchemeMQTTS = "mqtts" // TLS
	SchemeWS    = "ws"    // MQTT over WebSocket
	SchemeWSS   = "wss"   // MQTT over WebSocket over TLS
)

// DefaultWSPath is the WebSocket URL path when Target.Path is empty.
const DefaultWSPath = "/mqtt"

// defaultPorts are the ports a URL without one gets.
var defaultPorts = map[string]string{SchemeMQTT: "1883", SchemeMQTTS: "8883", SchemeWS: "80", SchemeWSS: "443"}

// schemeAliases are the other names ParseURL accepts.
var schemeAliases = map[string]string{"tcp": SchemeMQTT, "ssl": SchemeMQTTS, "tls": SchemeMQTTS}

// ParseURL sets t.Scheme, t.Addr and t.Path from a broker URL:
// mqtt://host:1883, mqtts://host:8883 (tcp://, ssl:// and tls:// are also
// accepted), ws://host:8080/mqtt or wss://host/mqtt. A missing port is the
// scheme's usual one (1883, 8883, 80, 443); a WebSocket URL without a path
// gets DefaultWSPath.
func (t *Target) ParseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("bench: URL %q: %w", raw, err)
	}
	scheme := strings.ToLower(u.Scheme)
	if alias, ok := schemeAliases[scheme]; ok {
		scheme = alias
	}
	port, ok := defaultPorts[scheme]
	if !ok {
		return fmt.Errorf("bench: URL %q: scheme %q is not one of mqtt, mqtts, ws, wss", raw, u.Scheme)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("bench: URL %q: no host", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("bench: URL %q: user info, query and fragment are not supported", raw)
	}
	if u.Port() != "" {
		port = u.Port()
	}
	path := u.EscapedPath()
	if scheme == SchemeMQTT || scheme == SchemeMQTTS {
		if path != "" && path != "/" {
			return fmt.Errorf("bench: URL %q: a path is only for ws:// and wss://", raw)
		}
		path = ""
	}
	t.Scheme, t.Addr, t.Path = scheme, net.JoinHostPort(u.Hostname(), port), path
	return nil
}

// URL is the target as a URL, as ParseURL reads it.
func (t *Target) URL() string {
	s := t.scheme()
	if s == SchemeWS || s == SchemeWSS {
		return s + "://" + t.Addr + t.wsPath()
	}
	return s + "://" + t.Addr
}

func (t *Target) scheme() string {
	if t.Scheme == "" {
		return SchemeMQTT
	}
	return t.Scheme
}

func (t *Target) wsPath() string {
	if t.Path == "" {
		return DefaultWSPath
	}
	return t.Path
}

// ParseSources reads source addresses written as a comma-separated list
// of addresses and ranges, such as "127.0.0.2,127.0.0.3" or
// "127.0.0.2-127.0.0.9" (the last octet varies in a range). At most
// maxSources addresses.
func ParseSources(s string) ([]string, error) {
	const maxSources = 4096
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		first := net.ParseIP(strings.TrimSpace(lo)).To4()
		if !isRange {
			if net.ParseIP(part) == nil {
				return nil, fmt.Errorf("bench: source %q is not an IP address", part)
			}
			out = append(out, part)
			continue
		}
		last := net.ParseIP(strings.TrimSpace(hi)).To4()
		if first == nil || last == nil || !first[:3].Equal(last[:3]) || first[3] > last[3] {
			return nil, fmt.Errorf("bench: source range %q: want two IPv4 addresses that differ in the last octet, low to high, as in 127.0.0.2-127.0.0.9", part)
		}
		for o := int(first[3]); o <= int(last[3]); o++ {
			ip := net.IPv4(first[0], first[1], first[2], byte(o))
			out = append(out, ip.String())
		}
	}
	if len(out) > maxSources {
		return nil, fmt.Errorf("bench: %d source addresses: at most %d", len(out), maxSources)
	}
	return out, nil
}

// Dial opens the transport connection to t from source (nil lets the
// kernel choose), within t.ConnectTimeout: TCP for mqtt, TCP and TLS for
// mqtts, and for ws and wss a WebSocket (subprotocol "mqtt") whose binary
// messages carry the MQTT byte stream, each Write one message. It speaks
// no MQTT. Every client of this package connects through it.
func (t *Target) Dial(ctx context.Context, source net.IP) (net.Conn, error) {
	scheme := t.scheme()
	if _, ok := defaultPorts[scheme]; !ok {
		return nil, fmt.Errorf("bench: scheme %q is not one of mqtt, mqtts, ws, wss", t.Scheme)
	}
	ctx, cancel := context.WithTimeout(ctx, t.connectTimeout())
	defer cancel()
	d := net.Dialer{}
	if source != nil {
		d.LocalAddr = &net.TCPAddr{IP: source}
	}
	nc, err := d.DialContext(ctx, "tcp", t.Addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", t.Addr, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	secure := scheme == SchemeMQTTS || scheme == SchemeWSS
	if secure {
		tc := tls.Client(nc, t.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", t.Addr, err)
		}
		nc = tc
	}
	if scheme == SchemeWS || scheme == SchemeWSS {
		return t.dialWS(ctx, nc, scheme)
	}
	return nc, nil
}

// tlsConfig is t.TLS, or a default one, with ServerName set from Addr.
func (t *Target) tlsConfig() *tls.Config {
	var cfg *tls.Config
	if t.TLS != nil {
		cfg = t.TLS.Clone()
	} else {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(t.Addr)
	}
	return cfg
}

// dialWS upgrades the connection nc (already through TLS for wss) to a
// WebSocket: net/http writes the upgrade request on nc and hands it over.
func (t *Target) dialWS(ctx context.Context, nc net.Conn, scheme string) (net.Conn, error) {
	var used atomic.Bool
	once := func(context.Context, string, string) (net.Conn, error) {
		if used.Swap(true) {
			return nil, errors.New("bench: the WebSocket transport dialled twice")
		}
		return nc, nil
	}
	tr := &http.Transport{DisableKeepAlives: true, DialContext: once, DialTLSContext: once}
	defer tr.CloseIdleConnections()
	u := scheme + "://" + t.Addr + t.wsPath()
	ws, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{
		HTTPClient:      &http.Client{Transport: tr},
		Subprotocols:    []string{"mqtt"},
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("WebSocket %s: %w", u, err)
	}
	if p := ws.Subprotocol(); p != "mqtt" {
		ws.CloseNow()
		return nil, fmt.Errorf("WebSocket %s: the server chose subprotocol %q, not mqtt", u, p)
	}
	life, stop := context.WithCancel(context.Background())
	return &wsConn{Conn: websocket.NetConn(life, ws, websocket.MessageBinary), ws: ws, stop: stop,
		local: nc.LocalAddr(), remote: nc.RemoteAddr()}, nil
}

// wsConn is websocket.NetConn with the TCP addresses, closing without the
// WebSocket close handshake (MQTT's DISCONNECT already said goodbye, and
// the handshake can wait seconds for a busy peer).
type wsConn struct {
	net.Conn
	ws            *websocket.Conn
	stop          context.CancelFunc
	local, remote net.Addr
}

func (c *wsConn) Close() error {
	err := c.ws.CloseNow()
	if err2 := c.Conn.Close(); err == nil {
		err = err2
	}
	c.stop()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (c *wsConn) LocalAddr() net.Addr  { return c.local }
func (c *wsConn) RemoteAddr() net.Addr { return c.remote }
