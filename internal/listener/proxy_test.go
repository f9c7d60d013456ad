package listener

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	proxyproto "github.com/pires/go-proxyproto"

	"github.com/baram-mqtt/baram/internal/testlog"
	"github.com/baram-mqtt/baram/internal/testpki"
)

// proxyServer is a ProxyProtocol listener on 127.0.0.1 for a test.
type proxyServer struct {
	ln   net.Listener
	addr string
	logs *testlog.Buffer
}

// startProxy opens ProxyProtocol on 127.0.0.1:0 with trusted and
// headerTimeout, and closes it when the test ends.
func startProxy(t *testing.T, trusted []netip.Prefix, headerTimeout time.Duration) *proxyServer {
	t.Helper()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := new(testlog.Buffer)
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(logs, t.Output()), &slog.HandlerOptions{Level: slog.LevelDebug}))
	ln := ProxyProtocol(tcp, trusted, headerTimeout, logger)
	t.Cleanup(func() { ln.Close() })
	return &proxyServer{ln: ln, addr: tcp.Addr().String(), logs: logs}
}

// accept accepts one connection within ioTimeout and closes it when the
// test ends.
func (s *proxyServer) accept(t *testing.T) net.Conn {
	t.Helper()
	c := acceptWithin(t, s.ln)
	t.Cleanup(func() { c.Close() })
	return c
}

// dial connects to s and writes each of parts in a Write of its own.
func (s *proxyServer) dial(t *testing.T, parts ...[]byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	for _, p := range parts {
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// expectClosed waits for the server to close c.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	if _, err := io.ReadAll(c); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the server did not close the connection")
	}
}

// header formats a PROXY header of version v from src to dst.
func header(t *testing.T, v byte, src, dst string) []byte {
	t.Helper()
	h := proxyproto.HeaderProxyFromAddrs(v, net.TCPAddrFromAddrPort(netip.MustParseAddrPort(src)),
		net.TCPAddrFromAddrPort(netip.MustParseAddrPort(dst)))
	var b bytes.Buffer
	if _, err := h.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

func TestProxyTrustedHeader(t *testing.T) {
	s := startProxy(t, loopback, 0)
	tests := []struct {
		name     string
		parts    [][]byte
		src, dst string
	}{
		{"v1", [][]byte{[]byte("PROXY TCP4 203.0.113.7 192.0.2.1 4242 1883\r\n"), mqttConnect},
			"203.0.113.7:4242", "192.0.2.1:1883"},
		{"v1 with the data", [][]byte{append([]byte("PROXY TCP6 2001:db8::7 2001:db8::1 4242 1883\r\n"), mqttConnect...)},
			"[2001:db8::7]:4242", "[2001:db8::1]:1883"},
		{"v2 IPv4", [][]byte{header(t, 2, "203.0.113.8:5000", "192.0.2.1:1883"), mqttConnect},
			"203.0.113.8:5000", "192.0.2.1:1883"},
		{"v2 IPv6 with the data", [][]byte{append(header(t, 2, "[2001:db8::8]:5000", "[2001:db8::1]:8883"), mqttConnect...)},
			"[2001:db8::8]:5000", "[2001:db8::1]:8883"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.dial(t, tt.parts...)
			c := s.accept(t)
			if got := c.RemoteAddr().String(); got != tt.src {
				t.Errorf("RemoteAddr %s, want %s from the header", got, tt.src)
			}
			if _, ok := c.RemoteAddr().(*net.TCPAddr); !ok {
				t.Errorf("RemoteAddr is a %T, want *net.TCPAddr", c.RemoteAddr())
			}
			if got := c.LocalAddr().String(); got != tt.dst {
				t.Errorf("LocalAddr %s, want %s from the header", got, tt.dst)
			}
			c.SetReadDeadline(time.Now().Add(ioTimeout))
			if got, err := readPacket(c); err != nil || !bytes.Equal(got, mqttConnect) {
				t.Errorf("read % x, %v; want the CONNECT after the header", got, err)
			}
		})
	}
}

func TestProxyLocalKeepsPeer(t *testing.T) {
	s := startProxy(t, loopback, 0)
	local := &proxyproto.Header{Version: 2, Command: proxyproto.LOCAL, TransportProtocol: proxyproto.UNSPEC}
	var b bytes.Buffer
	if _, err := local.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	client := s.dial(t, b.Bytes(), mqttConnect)
	c := s.accept(t)
	if c.RemoteAddr().String() != client.LocalAddr().String() {
		t.Errorf("RemoteAddr %s after a LOCAL header, want the peer %s", c.RemoteAddr(), client.LocalAddr())
	}
}

func TestProxyRefusals(t *testing.T) {
	trusting := startProxy(t, loopback, 200*time.Millisecond)
	other := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32")}
	untrusting := startProxy(t, other, 200*time.Millisecond)
	udp := &proxyproto.Header{Version: 2, Command: proxyproto.PROXY, TransportProtocol: proxyproto.UDPv4,
		SourceAddr: &net.UDPAddr{IP: net.IPv4(203, 0, 113, 7), Port: 1}, DestinationAddr: &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 2}}
	var udpHeader bytes.Buffer
	if _, err := udp.WriteTo(&udpHeader); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		s     *proxyServer
		parts [][]byte
		log   string
	}{
		{"trusted without header", trusting, [][]byte{mqttConnect}, "no PROXY protocol header from a trusted proxy"},
		{"trusted silent", trusting, nil, "no PROXY protocol header from a trusted proxy"},
		{"trusted bad v1", trusting, [][]byte{[]byte("PROXY TCP4 203.0.113.7 nonsense\r\n")}, "proxyproto: can't read address family"},
		{"trusted UDP", trusting, [][]byte{udpHeader.Bytes()}, "PROXY header names a connection that is not TCP"},
		{"untrusted v1", untrusting, [][]byte{[]byte("PROXY TCP4 203.0.113.7 192.0.2.1 4242 1883\r\n"), mqttConnect},
			"a PROXY protocol header from an address that is not a trusted proxy"},
		{"untrusted v2", untrusting, [][]byte{header(t, 2, "203.0.113.8:5000", "192.0.2.1:1883")},
			"a PROXY protocol header from an address that is not a trusted proxy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.s.dial(t, tt.parts...)
			expectClosed(t, c)
			line := `msg="PROXY protocol: connection refused" remote=` + c.LocalAddr().String() + ` err="` + tt.log
			eventually(t, "the log line", func() bool { return tt.s.logs.Contains(line) })
		})
	}
	// The listeners go on: a good connection after all that is served.
	trusting.dial(t, []byte("PROXY TCP4 203.0.113.7 192.0.2.1 4242 1883\r\n"), mqttConnect)
	if c := trusting.accept(t); c.RemoteAddr().String() != "203.0.113.7:4242" {
		t.Errorf("RemoteAddr %s, want 203.0.113.7:4242", c.RemoteAddr())
	}
}

func TestProxyUntrustedPlain(t *testing.T) {
	s := startProxy(t, []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, 100*time.Millisecond)
	client := s.dial(t, mqttConnect)
	c := s.accept(t)
	if c.RemoteAddr().String() != client.LocalAddr().String() {
		t.Errorf("RemoteAddr %s, want the peer %s", c.RemoteAddr(), client.LocalAddr())
	}
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	if got, err := readPacket(c); err != nil || !bytes.Equal(got, mqttConnect) {
		t.Errorf("read % x, %v; want the CONNECT", got, err)
	}

	// A client that says nothing within the header timeout is served too;
	// what it sends later is read as usual.
	silent := s.dial(t)
	c = s.accept(t)
	if _, err := silent.Write(mqttPingreq); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	if got, err := readPacket(c); err != nil || !bytes.Equal(got, mqttPingreq) {
		t.Errorf("read % x, %v from a late client", got, err)
	}
}

// TestProxySlowHeaderDoesNotBlockAccept keeps a trusted peer silent and
// checks that Accept still returns the next connection, and that Close
// ends the wait for the silent one's header.
func TestProxySlowHeaderDoesNotBlockAccept(t *testing.T) {
	s := startProxy(t, loopback, time.Minute)
	silent := s.dial(t)
	s.dial(t, []byte("PROXY TCP4 203.0.113.7 192.0.2.1 4242 1883\r\n"))
	if c := s.accept(t); c.RemoteAddr().String() != "203.0.113.7:4242" {
		t.Errorf("RemoteAddr %s, want 203.0.113.7:4242", c.RemoteAddr())
	}
	if err := s.ln.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
	expectClosed(t, silent)
}

func TestProxyUnderTLS(t *testing.T) {
	p := newPKI(t)
	tl := newTLS(t, p.cfg, testLogger(t))
	s := startProxy(t, loopback, 0)
	ln := tls.NewListener(s.ln, tl.Config())
	clientCfg := p.clientConfig(p.ca.Issue(t, testpki.Opts{CN: "alice"}).TLS(t))
	hdr := header(t, 2, "[2001:db8::9]:4711", "[2001:db8::1]:8883")

	errc := make(chan error, 1)
	go func() {
		raw, err := net.Dial("tcp", s.addr)
		if err != nil {
			errc <- err
			return
		}
		defer raw.Close()
		if _, err := raw.Write(hdr); err != nil {
			errc <- err
			return
		}
		c := tls.Client(raw, clientCfg)
		c.SetDeadline(time.Now().Add(ioTimeout))
		if _, err := c.Write(mqttConnect); err != nil {
			errc <- err
			return
		}
		_, err = io.ReadFull(c, make([]byte, 1))
		errc <- err
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tc := c.(*tls.Conn)
	tc.SetDeadline(time.Now().Add(ioTimeout))
	if got, err := readPacket(tc); err != nil || !bytes.Equal(got, mqttConnect) {
		t.Fatalf("read % x, %v over TLS after the header", got, err)
	}
	if _, err := tc.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("client: %v", err)
	}
	if got := tc.RemoteAddr().String(); got != "[2001:db8::9]:4711" {
		t.Errorf("RemoteAddr %s, want the header's [2001:db8::9]:4711", got)
	}
	if got := Identity(tc.ConnectionState(), IdentityCN); got != "alice" {
		t.Errorf("identity %q, want alice", got)
	}
}

// TestProxyUnderWebSocket puts PROXY, TLS and WebSocket in their order
// on the wire, and checks that the header's address reaches the MQTT
// connection.
func TestProxyUnderWebSocket(t *testing.T) {
	p := newPKI(t)
	tl := newTLS(t, p.cfg, testLogger(t))
	s := startProxy(t, loopback, 0)
	ln := WebSocket(tls.NewListener(s.ln, tl.Config()), WSOptions{}, testLogger(t))
	defer ln.Close()

	raw, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Write([]byte("PROXY TCP4 203.0.113.7 192.0.2.1 4242 443\r\n")); err != nil {
		t.Fatal(err)
	}
	c := tls.Client(raw, p.clientConfig())
	c.SetDeadline(time.Now().Add(ioTimeout))
	// A hand-written upgrade request, since the connection is already open.
	if _, err := io.WriteString(c, "GET /mqtt HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	got := make(chan net.Conn, 1)
	go func() {
		sc, err := ln.Accept()
		if err != nil {
			t.Error(err)
		}
		got <- sc
	}()
	select {
	case sc := <-got:
		if sc == nil {
			return
		}
		defer func() {
			raw.Close() // first, so that Close does not wait for the client's close frame
			sc.Close()
		}()
		if sc.RemoteAddr().String() != "203.0.113.7:4242" {
			t.Errorf("RemoteAddr %s, want 203.0.113.7:4242 from the PROXY header", sc.RemoteAddr())
		}
	case <-time.After(ioTimeout):
		ln.Close()
		<-got
		t.Fatal("no WebSocket connection")
	}
}
