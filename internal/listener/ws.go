package listener

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Defaults of WSOptions.
const (
	// DefaultWSPath is the URL path of MQTT over WebSocket when
	// WSOptions.Path is empty.
	DefaultWSPath = "/mqtt"
	// DefaultWSHandshakeTimeout bounds the TLS handshake (wss), the HTTP
	// request and the upgrade when WSOptions.HandshakeTimeout is 0.
	DefaultWSHandshakeTimeout = 10 * time.Second
	// DefaultWSMaxMessageSize is the largest WebSocket message accepted
	// when WSOptions.MaxMessageSize is 0: the largest MQTT packet, a
	// remaining length of 268435455 after up to 5 bytes of fixed header.
	// Messages are streamed to the broker, not held whole, so this bounds
	// no memory; the broker refuses packets over its own maximum packet
	// size before they arrive whole.
	DefaultWSMaxMessageSize = 268435455 + 5
)

// WSSubprotocols are the WebSocket subprotocols of MQTT, in order of
// preference: "mqtt" (MQTT 3.1.1 and 5) and "mqttv3.1" (MQTT 3.1).
var WSSubprotocols = []string{"mqtt", "mqttv3.1"}

// WSOptions configure a WebSocket listener.
type WSOptions struct {
	// Path is the URL path clients connect to, as in "/mqtt"; requests
	// for other paths are answered 404. Empty means DefaultWSPath.
	Path string
	// AllowedOrigins are the web pages, besides those served by the same
	// host, whose scripts may connect: patterns matched with path.Match,
	// case-insensitively, against the host of the Origin header (as in
	// "*.example.com"), or against scheme://host when the pattern holds
	// "://". Empty allows only an Origin of the same host, or none, which
	// is what clients outside browsers send. A refused Origin is answered
	// 403.
	AllowedOrigins []string
	// TrustedProxies are the proxies whose X-Forwarded-For (or, without
	// it, X-Real-IP) header names the client: when the peer of the TCP
	// connection is in one of them, the connection's RemoteAddr is the
	// rightmost address of X-Forwarded-For that is not itself a trusted
	// proxy. The headers of any other peer are ignored.
	TrustedProxies []netip.Prefix
	// HandshakeTimeout bounds the TLS handshake (wss), reading the HTTP
	// request and answering it; 0 means DefaultWSHandshakeTimeout.
	HandshakeTimeout time.Duration
	// MaxMessageSize is the largest WebSocket message accepted; a larger
	// one closes the connection (status 1009). 0 means
	// DefaultWSMaxMessageSize.
	MaxMessageSize int64
}

// withDefaults returns o with its zero values replaced by the defaults.
func (o WSOptions) withDefaults() WSOptions {
	if o.Path == "" {
		o.Path = DefaultWSPath
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultWSHandshakeTimeout
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultWSMaxMessageSize
	}
	return o
}

// wsListener serves HTTP on a listener and yields a net.Conn for each
// WebSocket that an MQTT client opens.
type wsListener struct {
	inner net.Listener // closed by srv.Close
	srv   *http.Server
	o     WSOptions
	log   *slog.Logger

	conns     chan net.Conn // upgraded connections, handed from handlers to Accept
	done      chan struct{} // closed by Close
	closeOnce sync.Once

	serveDone chan struct{} // closed when srv.Serve has returned
	serveErr  error         // what it returned; read after serveDone

	mu       sync.Mutex     // guards closing and the Add of handlers
	closing  bool           // set by Close: no more handlers may start
	handlers sync.WaitGroup // handlers running
	httpWG   sync.WaitGroup // the server's connection goroutines, from StateNew to StateClosed or StateHijacked
}

// WebSocket serves MQTT over WebSocket on ln: it runs an HTTP server on
// ln, upgrades the requests for o.Path that offer an MQTT subprotocol,
// and returns each upgraded connection from Accept as a net.Conn that
// carries MQTT as a byte stream of binary messages, whatever their
// framing [MQTT-6.0.0-2]. For wss, ln is a TLS listener.
//
// The returned listener owns ln: Close closes it, shuts the HTTP server
// down, closes the connections not yet accepted, and returns once every
// goroutine it started has ended. Connections already accepted belong to
// the caller. Accept after Close returns an error for which
// errors.Is(err, net.ErrClosed) holds.
//
// Refused handshakes (wrong path, no MQTT subprotocol, a refused Origin,
// failed TLS) are answered with an HTTP error and logged to log; they do
// not make Accept fail.
func WebSocket(ln net.Listener, o WSOptions, log *slog.Logger) net.Listener {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &wsListener{
		inner:     ln,
		o:         o.withDefaults(),
		log:       log,
		conns:     make(chan net.Conn),
		done:      make(chan struct{}),
		serveDone: make(chan struct{}),
	}
	l.srv = &http.Server{
		Handler: l,
		// Bounds reading the request and, for wss, the TLS handshake; the
		// handler bounds writing the answer.
		ReadHeaderTimeout: l.o.HandshakeTimeout,
		IdleTimeout:       l.o.HandshakeTimeout,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelInfo),
		// No HTTP/2: WebSocket is upgraded from HTTP/1.1 here.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ConnState:    l.connState,
	}
	// One request per connection: a client that did not upgrade is not
	// kept waiting for another.
	l.srv.SetKeepAlivesEnabled(false)
	go func() {
		defer close(l.serveDone)
		err := l.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = net.ErrClosed
		}
		l.serveErr = &net.OpError{Op: "accept", Net: ln.Addr().Network(), Addr: ln.Addr(), Err: err}
	}()
	return l
}

// Accept returns the next upgraded connection.
func (l *wsListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: l.Addr().Network(), Addr: l.Addr(), Err: net.ErrClosed}
	case <-l.serveDone:
		return nil, l.serveErr
	}
}

// Close stops the listener and waits for its goroutines.
func (l *wsListener) Close() error {
	err := net.ErrClosed
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closing = true
		l.mu.Unlock()
		close(l.done)
		err = l.srv.Close() // closes inner and the connections not hijacked
		<-l.serveDone       // no connection is added to httpWG after this
		l.handlers.Wait()   // they hand over or close their connection
		l.httpWG.Wait()
	})
	return err
}

// Addr returns the address of the underlying listener.
func (l *wsListener) Addr() net.Addr { return l.inner.Addr() }

// Path returns the URL path that the listener serves, as in "/mqtt", for
// URLs in logs.
func (l *wsListener) Path() string { return l.o.Path }

// connState counts the HTTP server's connection goroutines, so that
// Close can wait for them.
func (l *wsListener) connState(_ net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		l.httpWG.Add(1) // called by Serve, before it returns
	case http.StateClosed, http.StateHijacked:
		l.httpWG.Done()
	}
}

// ServeHTTP upgrades one request to an MQTT WebSocket and hands the
// connection to Accept.
func (l *wsListener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		http.Error(w, "server closing", http.StatusServiceUnavailable)
		return
	}
	l.handlers.Add(1)
	l.mu.Unlock()
	defer l.handlers.Done()

	if r.URL.Path != l.o.Path {
		l.log.Debug("WebSocket request for another path", "remote", r.RemoteAddr, "path", r.URL.Path)
		http.NotFound(w, r)
		return
	}
	// A request that is no upgrade at all is left to websocket.Accept,
	// which answers 426 Upgrade Required.
	if isUpgrade(r) && !offersMQTT(r) {
		l.log.Info("WebSocket handshake refused: the client offers no MQTT subprotocol [MQTT-6.0.0-3]",
			"remote", r.RemoteAddr, "offered", r.Header.Values("Sec-WebSocket-Protocol"), "want", strings.Join(WSSubprotocols, " or "))
		http.Error(w, "Bad Request: offer the WebSocket subprotocol mqtt (or mqttv3.1)", http.StatusBadRequest)
		return
	}
	// ReadHeaderTimeout bounded the request; this bounds the answer.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(l.o.HandshakeTimeout))
	hw := &hijackWriter{ResponseWriter: w}
	ws, err := websocket.Accept(hw, r, &websocket.AcceptOptions{
		Subprotocols:   WSSubprotocols, // the chosen one is echoed [MQTT-6.0.0-4]
		OriginPatterns: l.o.AllowedOrigins,
	})
	if err != nil {
		l.log.Info("WebSocket handshake refused", "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"), "err", err)
		return
	}
	raw := hw.conn
	_ = raw.SetDeadline(time.Time{})
	nc := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
	ws.SetReadLimit(l.o.MaxMessageSize) // after NetConn, which disables the limit
	remote := l.clientAddr(raw.RemoteAddr(), r)
	c := newWSConn(ws, nc, raw, remote, r.TLS)
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

// clientAddr returns the address of the client: peer, the TCP peer, or
// the client that a trusted proxy names in its headers.
func (l *wsListener) clientAddr(peer net.Addr, r *http.Request) net.Addr {
	if len(l.o.TrustedProxies) == 0 || !isTrusted(addrOf(peer), l.o.TrustedProxies) {
		return peer
	}
	ap, ok := forwardedClient(r.Header, l.o.TrustedProxies)
	if !ok {
		if r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("X-Real-IP") != "" {
			l.log.Debug("ignoring unparsable X-Forwarded-For / X-Real-IP", "remote", r.RemoteAddr,
				"x_forwarded_for", r.Header.Values("X-Forwarded-For"), "x_real_ip", r.Header.Get("X-Real-IP"))
		}
		return peer
	}
	return net.TCPAddrFromAddrPort(ap)
}

// isUpgrade reports whether r asks for a WebSocket upgrade.
func isUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Upgrade") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "websocket") {
				return true
			}
		}
	}
	return false
}

// offersMQTT reports whether r offers one of WSSubprotocols.
func offersMQTT(r *http.Request) bool {
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, tok := range strings.Split(v, ",") {
			for _, sp := range WSSubprotocols {
				if strings.EqualFold(strings.TrimSpace(tok), sp) {
					return true
				}
			}
		}
	}
	return false
}

// hijackWriter is the http.ResponseWriter given to websocket.Accept; it
// keeps the connection that Accept hijacks, whose deadlines and addresses
// the WebSocket does not expose.
type hijackWriter struct {
	http.ResponseWriter
	conn net.Conn
}

// Hijack hijacks the connection and keeps it.
func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	w.conn = c
	return c, brw, err
}

// forwardedClient returns the client address that a trusted proxy names:
// in X-Forwarded-For, the rightmost address that is not itself a trusted
// proxy (hops to its left were written by the client or by proxies not
// trusted, and prove nothing); the leftmost one if all are trusted; and
// without X-Forwarded-For, X-Real-IP. An address that cannot be parsed
// ends the walk at the trusted hop to its right; when there is none, ok
// is false. Entries may carry a port ("192.0.2.1:4711",
// "[2001:db8::1]:4711"); the port is 0 otherwise.
func forwardedClient(h http.Header, trusted []netip.Prefix) (ap netip.AddrPort, ok bool) {
	var hops []string
	for _, v := range h.Values("X-Forwarded-For") {
		for _, hop := range strings.Split(v, ",") {
			if hop = strings.TrimSpace(hop); hop != "" {
				hops = append(hops, hop)
			}
		}
	}
	if len(hops) == 0 {
		if v := strings.TrimSpace(h.Get("X-Real-IP")); v != "" {
			return parseHop(v)
		}
		return netip.AddrPort{}, false
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop, hopOK := parseHop(hops[i])
		if !hopOK {
			return ap, ok
		}
		ap, ok = hop, true
		if !isTrusted(hop.Addr(), trusted) {
			break
		}
	}
	return ap, ok
}

// parseHop parses one address of X-Forwarded-For or X-Real-IP: an IP
// address, with or without a port, IPv6 optionally in brackets.
func parseHop(s string) (netip.AddrPort, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a.Unmap(), 0), true
}

// addrOf returns the IP address of a, unmapped; the zero Addr if it has
// none.
func addrOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	if a == nil {
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// isTrusted reports whether a is in one of trusted.
func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
