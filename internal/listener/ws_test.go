package listener

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baram-mqtt/baram/internal/testlog"
	"github.com/baram-mqtt/baram/internal/testpki"
)

// MQTT packets for the stream tests, as a client sends them.
var (
	// CONNECT, MQTT 3.1.1, clean session, keep alive 60, client id "abcd".
	mqttConnect = []byte{0x10, 0x10, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 4, 'a', 'b', 'c', 'd'}
	// PUBLISH QoS 0 to "t" with payload "hello".
	mqttPublish = []byte{0x30, 0x08, 0, 1, 't', 'h', 'e', 'l', 'l', 'o'}
	mqttPingreq = []byte{0xC0, 0}
)

// readPacket reads one MQTT packet from r: the fixed header, then as many
// bytes as its remaining length says.
func readPacket(r io.Reader) ([]byte, error) {
	pkt := make([]byte, 1, 5)
	if _, err := io.ReadFull(r, pkt); err != nil {
		return nil, err
	}
	n, mult := 0, 1
	for i := 0; ; i++ {
		var b [1]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, err
		}
		pkt = append(pkt, b[0])
		n += int(b[0]&0x7f) * mult
		mult *= 128
		if b[0]&0x80 == 0 {
			break
		}
		if i == 3 {
			return nil, errors.New("malformed remaining length")
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return append(pkt, body...), nil
}

// wsServer is a WebSocket listener on 127.0.0.1 for a test.
type wsServer struct {
	ln       net.Listener
	url      string // ws://127.0.0.1:port/path or wss://...
	logs     *testlog.Buffer
	accepted []net.Conn // closed when the test ends
}

// startWS opens WebSocket(o) on 127.0.0.1:0, under TLS with tl if it is
// not nil, and closes it when the test ends.
func startWS(t *testing.T, o WSOptions, tl *TLS) *wsServer {
	t.Helper()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	inner, scheme := tcp, "ws"
	if tl != nil {
		inner, scheme = tls.NewListener(tcp, tl.Config()), "wss"
	}
	logs := new(testlog.Buffer)
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(logs, t.Output()), &slog.HandlerOptions{Level: slog.LevelDebug}))
	ln := WebSocket(inner, o, logger)
	path := o.Path
	if path == "" {
		path = DefaultWSPath
	}
	s := &wsServer{ln: ln, url: scheme + "://" + tcp.Addr().String() + path, logs: logs}
	// Registered before any client's, so it runs after they have closed:
	// Close waits for a client that is not reading to answer its close
	// frame.
	t.Cleanup(func() {
		ln.Close()
		for _, c := range s.accepted {
			c.Close()
		}
	})
	return s
}

// accept accepts one connection, within ioTimeout.
func (s *wsServer) accept(t *testing.T) net.Conn {
	t.Helper()
	c := acceptWithin(t, s.ln)
	s.accepted = append(s.accepted, c)
	return c
}

// wsDial is the client side of a WebSocket dial.
type wsDial struct {
	conn  *websocket.Conn
	resp  *http.Response
	local net.Addr // the client's end of the TCP connection
}

// dialWS dials url with coder/websocket, offering the subprotocols and
// sending the headers of o, over TLS with tlsCfg for wss. The connection
// and the client's idle ones are closed when the test ends.
func dialWS(t *testing.T, url string, o websocket.DialOptions, tlsCfg *tls.Config) (wsDial, error) {
	t.Helper()
	var d wsDial
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				d.local = c.LocalAddr()
			}
			return c, err
		},
		TLSClientConfig: tlsCfg,
	}
	t.Cleanup(tr.CloseIdleConnections)
	o.HTTPClient = &http.Client{Transport: tr}
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, url, &o)
	d.conn, d.resp = c, resp
	if err == nil {
		t.Cleanup(func() { c.CloseNow() })
	}
	return d, err
}

// mustDialWS is dialWS offering "mqtt", failing the test on error.
func mustDialWS(t *testing.T, url string, tlsCfg *tls.Config) wsDial {
	t.Helper()
	d, err := dialWS(t, url, websocket.DialOptions{Subprotocols: []string{"mqtt"}}, tlsCfg)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	return d
}

// wsCtx is a context bounded by ioTimeout.
func wsCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), ioTimeout)
	t.Cleanup(cancel)
	return ctx
}

func TestWSStream(t *testing.T) {
	s := startWS(t, WSOptions{}, nil)
	d := mustDialWS(t, s.url, nil)
	if got := d.conn.Subprotocol(); got != "mqtt" {
		t.Errorf("subprotocol %q, want mqtt echoed", got)
	}
	c := s.accept(t)
	if got, want := c.RemoteAddr().String(), d.local.String(); got != want {
		t.Errorf("RemoteAddr %s, want the client's address %s", got, want)
	}
	if _, ok := c.RemoteAddr().(*net.TCPAddr); !ok {
		t.Errorf("RemoteAddr is a %T, want *net.TCPAddr", c.RemoteAddr())
	}
	if c.LocalAddr().String() != s.ln.Addr().String() {
		t.Errorf("LocalAddr %s, want %s", c.LocalAddr(), s.ln.Addr())
	}
	c.SetDeadline(time.Now().Add(ioTimeout))
	ctx := wsCtx(t)

	// CONNECT split over three messages, the last one in two frames.
	for _, part := range [][]byte{mqttConnect[:1], mqttConnect[1:5]} {
		if err := d.conn.Write(ctx, websocket.MessageBinary, part); err != nil {
			t.Fatal(err)
		}
	}
	w, err := d.conn.Writer(ctx, websocket.MessageBinary)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(mqttConnect[5:9])
	w.Write(mqttConnect[9:])
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Then PUBLISH and PINGREQ in one message.
	if err := d.conn.Write(ctx, websocket.MessageBinary, append(append([]byte(nil), mqttPublish...), mqttPingreq...)); err != nil {
		t.Fatal(err)
	}
	for _, want := range [][]byte{mqttConnect, mqttPublish, mqttPingreq} {
		got, err := readPacket(c)
		if err != nil {
			t.Fatalf("server read: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("server read % x, want % x", got, want)
		}
	}

	// The server's writes reach the client as binary messages.
	connack := []byte{0x20, 2, 0, 0}
	if _, err := c.Write(connack); err != nil {
		t.Fatal(err)
	}
	typ, got, err := d.conn.Read(ctx)
	if err != nil || typ != websocket.MessageBinary || !bytes.Equal(got, connack) {
		t.Fatalf("client read %v % x %v, want binary % x", typ, got, err, connack)
	}

	// A client's close is the end of the stream.
	d.conn.Close(websocket.StatusNormalClosure, "")
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("server read after the client's close: %v, want EOF", err)
	}
}

func TestWSPingPong(t *testing.T) {
	s := startWS(t, WSOptions{}, nil)
	d := mustDialWS(t, s.url, nil)
	c := s.accept(t) // never read by the test: the connection answers pings itself
	ctx := wsCtx(t)
	// The client sees the pong only while it reads.
	read := make(chan error, 1)
	go func() {
		_, _, err := d.conn.Read(ctx)
		read <- err
	}()
	if err := d.conn.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	c.Write([]byte{0xD0, 0}) // ends the client's read
	if err := <-read; err != nil {
		t.Fatalf("client read: %v", err)
	}
}

func TestWSTextMessageCloses(t *testing.T) {
	s := startWS(t, WSOptions{}, nil)
	d := mustDialWS(t, s.url, nil)
	c := s.accept(t)
	c.SetDeadline(time.Now().Add(ioTimeout))
	ctx := wsCtx(t)
	// The client reads, so that it answers the server's close frame.
	read := make(chan error, 1)
	go func() {
		_, _, err := d.conn.Read(ctx)
		read <- err
	}()
	if err := d.conn.Write(ctx, websocket.MessageText, mqttConnect); err != nil {
		t.Fatal(err)
	}
	_, err := c.Read(make([]byte, 64))
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("server read of a text message: %v, want an error", err)
	}
	if err := <-read; websocket.CloseStatus(err) != websocket.StatusUnsupportedData {
		t.Errorf("client read: %v, want close status 1003 (unsupported data)", err)
	}
}

func TestWSMaxMessageSize(t *testing.T) {
	s := startWS(t, WSOptions{MaxMessageSize: 8}, nil)
	d := mustDialWS(t, s.url, nil)
	c := s.accept(t)
	c.SetDeadline(time.Now().Add(ioTimeout))
	ctx := wsCtx(t)
	if err := d.conn.Write(ctx, websocket.MessageBinary, mqttPublish[:8]); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 8)); err != nil {
		t.Fatalf("server read of a message at the limit: %v", err)
	}
	if err := d.conn.Write(ctx, websocket.MessageBinary, mqttPublish); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(c); err == nil {
		t.Error("server read a message over the limit")
	}
	if _, _, err := d.conn.Read(ctx); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Errorf("client read: %v, want close status 1009 (message too big)", err)
	}
}

// TestWSReadDeadline checks that a read deadline ends a Read without
// ending the connection, as the broker needs when it kicks a client.
func TestWSReadDeadline(t *testing.T) {
	s := startWS(t, WSOptions{}, nil)
	d := mustDialWS(t, s.url, nil)
	c := s.accept(t)

	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read past the deadline: %v, want a timeout", err)
	}
	// A deadline in the past also ends a Read that is blocked.
	blocked := make(chan error, 1)
	c.SetReadDeadline(time.Time{})
	go func() {
		_, err := c.Read(make([]byte, 1))
		blocked <- err
	}()
	c.SetReadDeadline(time.Unix(1, 0))
	select {
	case err := <-blocked:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("blocked Read: %v, want a deadline error", err)
		}
	case <-time.After(ioTimeout):
		t.Fatal("a past deadline did not end a blocked Read")
	}

	// The connection still works both ways.
	ctx := wsCtx(t)
	if _, err := c.Write(mqttPingreq); err != nil {
		t.Fatalf("write after the deadline: %v", err)
	}
	if _, got, err := d.conn.Read(ctx); err != nil || !bytes.Equal(got, mqttPingreq) {
		t.Fatalf("client read % x, %v", got, err)
	}
	if err := d.conn.Write(ctx, websocket.MessageBinary, mqttPingreq); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	if got, err := readPacket(c); err != nil || !bytes.Equal(got, mqttPingreq) {
		t.Fatalf("server read % x, %v after the deadline was moved", got, err)
	}
}

func TestWSRefusals(t *testing.T) {
	s := startWS(t, WSOptions{}, nil)
	tests := []struct {
		name   string
		url    string
		o      websocket.DialOptions
		status int
		log    string
	}{
		{"wrong path", strings.TrimSuffix(s.url, "/mqtt") + "/other", websocket.DialOptions{Subprotocols: []string{"mqtt"}},
			http.StatusNotFound, "WebSocket request for another path"},
		{"no subprotocol", s.url, websocket.DialOptions{}, http.StatusBadRequest, "the client offers no MQTT subprotocol"},
		{"other subprotocol", s.url, websocket.DialOptions{Subprotocols: []string{"chat"}}, http.StatusBadRequest,
			`offered=[chat]`},
		{"other origin", s.url, websocket.DialOptions{Subprotocols: []string{"mqtt"},
			HTTPHeader: http.Header{"Origin": {"https://evil.example"}}}, http.StatusForbidden,
			`msg="WebSocket handshake refused" remote=127.0.0.1:`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := dialWS(t, tt.url, tt.o, nil)
			if err == nil {
				t.Fatal("dial succeeded")
			}
			if d.resp == nil || d.resp.StatusCode != tt.status {
				t.Fatalf("dial: %v, response %v; want status %d", err, d.resp, tt.status)
			}
			if !s.logs.Contains(tt.log) {
				t.Errorf("log lacks %q", tt.log)
			}
		})
	}
	if !s.logs.Contains(`origin=https://evil.example err="failed to accept WebSocket connection: request Origin \"evil.example\" is not authorized`) {
		t.Errorf("the refused origin is not logged with its reason")
	}

	// mqttv3.1 is accepted too, and echoed.
	d, err := dialWS(t, s.url, websocket.DialOptions{Subprotocols: []string{"chat", "mqttv3.1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.conn.Subprotocol(); got != "mqttv3.1" {
		t.Errorf("subprotocol %q, want mqttv3.1", got)
	}
}

func TestWSOrigins(t *testing.T) {
	s := startWS(t, WSOptions{AllowedOrigins: []string{"*.example.com", "https://app.example.org"}}, nil)
	host := strings.TrimPrefix(strings.TrimSuffix(s.url, "/mqtt"), "ws://")
	tests := []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{"http://" + host, true}, // the same host
		{"https://web.example.com", true},
		{"http://web.example.com:8080", false}, // the pattern has no port
		{"https://app.example.org", true},
		{"http://app.example.org", false}, // the pattern names the scheme
		{"https://example.com", false},
		{"https://evil.example", false},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.origin != "" {
			h.Set("Origin", tt.origin)
		}
		d, err := dialWS(t, s.url, websocket.DialOptions{Subprotocols: []string{"mqtt"}, HTTPHeader: h}, nil)
		switch {
		case tt.ok && err != nil:
			t.Errorf("origin %q refused: %v", tt.origin, err)
		case !tt.ok && (d.resp == nil || d.resp.StatusCode != http.StatusForbidden):
			t.Errorf("origin %q: %v, want 403", tt.origin, err)
		}
		if err == nil {
			s.accept(t)
		}
	}
}

func TestWSForwardedFor(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}
	s := startWS(t, WSOptions{TrustedProxies: trusted}, nil)
	untrusted := startWS(t, WSOptions{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}, nil)
	tests := []struct {
		name   string
		s      *wsServer
		header http.Header
		want   string // "" for the TCP peer
	}{
		{"one hop", s, http.Header{"X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9:0"},
		{"rightmost untrusted", s, http.Header{"X-Forwarded-For": {"198.51.100.1, 203.0.113.9, 10.1.2.3"}}, "203.0.113.9:0"},
		{"several header lines", s, http.Header{"X-Forwarded-For": {"198.51.100.1", "203.0.113.9:4711,10.1.2.3"}}, "203.0.113.9:4711"},
		{"IPv6", s, http.Header{"X-Forwarded-For": {"[2001:db8::1]:4711"}}, "[2001:db8::1]:4711"},
		{"X-Real-IP", s, http.Header{"X-Real-Ip": {"192.0.2.7"}}, "192.0.2.7:0"},
		{"garbage", s, http.Header{"X-Forwarded-For": {"unknown"}}, ""},
		{"no header", s, http.Header{}, ""},
		{"untrusted peer", untrusted, http.Header{"X-Forwarded-For": {"203.0.113.9"}, "X-Real-Ip": {"203.0.113.9"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := dialWS(t, tt.s.url, websocket.DialOptions{Subprotocols: []string{"mqtt"}, HTTPHeader: tt.header}, nil)
			if err != nil {
				t.Fatal(err)
			}
			c := tt.s.accept(t)
			want := tt.want
			if want == "" {
				want = d.local.String()
			}
			if got := c.RemoteAddr().String(); got != want {
				t.Errorf("RemoteAddr %s, want %s", got, want)
			}
			if _, ok := c.RemoteAddr().(*net.TCPAddr); !ok {
				t.Errorf("RemoteAddr is a %T, want *net.TCPAddr", c.RemoteAddr())
			}
		})
	}
}

func TestForwardedClient(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
	tests := []struct {
		xff, realIP string
		want        string // "" for none
	}{
		{"", "", ""},
		{"192.0.2.1", "", "192.0.2.1:0"},
		{"192.0.2.1, 10.0.0.1", "", "192.0.2.1:0"},
		{"6.6.6.6, 192.0.2.1, 10.0.0.1, 10.0.0.2", "", "192.0.2.1:0"}, // the client wrote 6.6.6.6
		{"10.0.0.3, 10.0.0.1", "", "10.0.0.3:0"},                      // all trusted: the leftmost
		{"garbage, 10.0.0.1", "", "10.0.0.1:0"},                       // stops at the trusted hop
		{"192.0.2.1, garbage", "", ""},
		{"::ffff:192.0.2.1", "", "192.0.2.1:0"},
		{"[2001:db8::5]", "", "[2001:db8::5]:0"},
		{"2001:db8::5, 2001:db8:ffff::1", "", "[2001:db8::5]:0"},
		{"fe80::1%eth0", "", ""},
		{"", "192.0.2.9", "192.0.2.9:0"},
		{"192.0.2.1", "192.0.2.9", "192.0.2.1:0"}, // X-Forwarded-For wins
		{"", "nonsense", ""},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.xff != "" {
			h.Set("X-Forwarded-For", tt.xff)
		}
		if tt.realIP != "" {
			h.Set("X-Real-IP", tt.realIP)
		}
		ap, ok := forwardedClient(h, trusted)
		got := ""
		if ok {
			got = ap.String()
		}
		if got != tt.want {
			t.Errorf("forwardedClient(X-Forwarded-For %q, X-Real-IP %q) = %q, want %q", tt.xff, tt.realIP, got, tt.want)
		}
	}
}

func TestWSHandshakeTimeout(t *testing.T) {
	s := startWS(t, WSOptions{HandshakeTimeout: 100 * time.Millisecond}, nil)
	c, err := net.Dial("tcp", s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /mqtt HTTP/1.1\r\nHost: x\r\n") // and never the end of the headers
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	if _, err := io.ReadAll(c); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("a stalled handshake was not closed by the handshake timeout")
	}
}

// TestWSClose closes the listener with a handshake under way and an
// upgraded connection not yet accepted; goleak (TestMain) checks that no
// goroutine is left.
func TestWSClose(t *testing.T) {
	s := startWS(t, WSOptions{}, nil)
	stalled, err := net.Dial("tcp", s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	fmt.Fprintf(stalled, "GET /mqtt HTTP/1.1\r\n")
	d := mustDialWS(t, s.url, nil) // upgraded, never accepted
	read := make(chan error, 1)
	go func() {
		_, _, err := d.conn.Read(wsCtx(t))
		read <- err
	}()

	if err := s.ln.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
	// A close frame, or EOF when Close caught the connection before its
	// hijack was complete (http.Server.Close closes it then).
	if err := <-read; websocket.CloseStatus(err) != websocket.StatusNormalClosure && !errors.Is(err, io.EOF) {
		t.Errorf("unaccepted client read: %v, want close status 1000", err)
	}
	stalled.SetReadDeadline(time.Now().Add(ioTimeout))
	if _, err := io.ReadAll(stalled); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Error("the stalled handshake's connection stays open after Close")
	}
	if _, err := net.Dial("tcp", s.ln.Addr().String()); err == nil {
		t.Error("the port still accepts connections after Close")
	}
}

// TestWSConnClose checks that the server's Close reaches the client as a
// normal closure, and that it ends the connection's goroutine.
func TestWSConnClose(t *testing.T) {
	s := startWS(t, WSOptions{}, nil)
	d := mustDialWS(t, s.url, nil)
	c := s.accept(t)
	read := make(chan error, 1)
	go func() {
		_, _, err := d.conn.Read(wsCtx(t))
		read <- err
	}()
	start := time.Now()
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if took := time.Since(start); took >= wsCloseTimeout {
		t.Errorf("Close took %v although the client answers", took)
	}
	if err := <-read; websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("client read: %v, want close status 1000", err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close: %v, want net.ErrClosed", err)
	}
	if _, err := c.Write([]byte{0}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close: %v, want net.ErrClosed", err)
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v, want net.ErrClosed", err)
	}
}

// TestWSConnDeadlineAfterClose checks that setting a read deadline on a
// closed connection whose deadline timer was pending returns: the broker
// does that when it kicks a client whose socket its writer closed (it
// hung serve's shutdown).
func TestWSConnDeadlineAfterClose(t *testing.T) {
	s := startWS(t, WSOptions{}, nil)
	mustDialWS(t, s.url, nil)
	c := s.accept(t)
	c.SetReadDeadline(time.Now().Add(time.Hour)) // a pending timer
	c.Close()
	done := make(chan struct{})
	go func() {
		c.SetReadDeadline(time.Unix(1, 0))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(ioTimeout):
		t.Fatal("SetReadDeadline after Close hangs")
	}
}

// TestWSConnCloseSilentPeer checks that Close does not wait long for a
// client that does not answer the close frame.
func TestWSConnCloseSilentPeer(t *testing.T) {
	s := startWS(t, WSOptions{}, nil)
	mustDialWS(t, s.url, nil) // the client never reads, so never answers
	c := s.accept(t)
	start := time.Now()
	c.Close()
	if d := time.Since(start); d > wsCloseTimeout+time.Second {
		t.Errorf("Close took %v with a silent client, want at most about %v", d, wsCloseTimeout)
	}
}

func TestWSS(t *testing.T) {
	p := newPKI(t)
	tl := newTLS(t, p.cfg, testLogger(t))
	s := startWS(t, WSOptions{}, tl)
	if !strings.HasPrefix(s.url, "wss://") {
		t.Fatal(s.url)
	}
	alice := p.ca.Issue(t, testpki.Opts{CN: "alice"})
	d := mustDialWS(t, s.url, p.clientConfig(alice.TLS(t)))
	c := s.accept(t)
	cs, ok := c.(interface{ ConnectionState() tls.ConnectionState })
	if !ok {
		t.Fatalf("a wss connection (%T) has no ConnectionState", c)
	}
	if got := Identity(cs.ConnectionState(), IdentityCN); got != "alice" {
		t.Errorf("identity %q, want alice from the client certificate", got)
	}
	if c.RemoteAddr().String() != d.local.String() {
		t.Errorf("RemoteAddr %s, want %s", c.RemoteAddr(), d.local)
	}
	ctx := wsCtx(t)
	if err := d.conn.Write(ctx, websocket.MessageBinary, mqttConnect); err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(ioTimeout))
	if got, err := readPacket(c); err != nil || !bytes.Equal(got, mqttConnect) {
		t.Fatalf("server read % x, %v", got, err)
	}

	// A plain ws connection has no ConnectionState.
	plain := startWS(t, WSOptions{}, nil)
	mustDialWS(t, plain.url, nil)
	if _, ok := plain.accept(t).(interface{ ConnectionState() tls.ConnectionState }); ok {
		t.Error("a ws connection has a ConnectionState")
	}

	// A client that does not trust the server's certificate fails the
	// handshake, which is logged; the listener goes on.
	if _, err := dialWS(t, s.url, websocket.DialOptions{Subprotocols: []string{"mqtt"}}, &tls.Config{ServerName: "localhost"}); err == nil {
		t.Fatal("dial with an untrusted server certificate succeeded")
	}
	eventually(t, "the TLS handshake error in the log", func() bool { return s.logs.Contains("TLS handshake error") })
	mustDialWS(t, s.url, p.clientConfig())
	s.accept(t)
}
