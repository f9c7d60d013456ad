package listener

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/testpki"
)

// ioTimeout bounds every network step of a test.
const ioTimeout = 5 * time.Second

// pki is a test's certificates, written as PEM files to dir.
type pki struct {
	dir    string
	ca     *testpki.CA // the client and server root
	other  *testpki.CA // a root that the server does not trust
	server *testpki.Cert
	cfg    TLSConfig // Cert, Key and ClientCA set
}

// newPKI makes a root CA, a server certificate for localhost, 127.0.0.1
// and ::1, and another CA, and writes server.pem, server.key and ca.pem.
func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir(), ca: testpki.NewCA(t, "Test Root CA"), other: testpki.NewCA(t, "Other CA")}
	p.server = p.ca.Server(t)
	cert, key := p.server.WriteFiles(t, p.dir, "server")
	p.cfg = TLSConfig{Cert: cert, Key: key, ClientCA: testpki.WriteFile(t, p.dir, "ca.pem", p.ca.PEM)}
	return p
}

// clientConfig trusts p's root, names localhost, and presents certs.
func (p *pki) clientConfig(certs ...tls.Certificate) *tls.Config {
	cfg := p.ca.ClientConfig(certs...)
	cfg.ServerName = "localhost"
	return cfg
}

// testServer accepts TLS connections, handshakes each and reports it.
type testServer struct {
	addr    string
	tls     *TLS
	results chan result
}

// result is the server's side of one handshake.
type result struct {
	state tls.ConnectionState
	err   error
}

// testLogger logs to the test's output, at debug level.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newTLS calls NewTLS and stops its poller when the test ends.
func newTLS(t *testing.T, cfg TLSConfig, logger *slog.Logger) *TLS {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tl, err := NewTLS(ctx, cfg, logger)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-tl.pollDone
	})
	return tl
}

// serve starts a TLS server for cfg on 127.0.0.1. Each connection is
// handshaken, sent one byte if that succeeded, reported and closed.
func serve(t *testing.T, cfg TLSConfig, logger *slog.Logger) *testServer {
	t.Helper()
	tl := newTLS(t, cfg, logger)
	ln, err := Listen(t.Context(), "tcp", "127.0.0.1:0", tl)
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{addr: ln.Addr().String(), tls: tl, results: make(chan result, 16)}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { s.handle(c.(*tls.Conn)) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return s
}

// handle handshakes one connection and reports it.
func (s *testServer) handle(c *tls.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(ioTimeout))
	err := c.Handshake()
	if err == nil {
		_, err = c.Write([]byte("k"))
	}
	s.results <- result{c.ConnectionState(), err}
}

// dial connects with cfg, reads the server's byte, and returns the
// client's state, the server's result and the client's error.
func (s *testServer) dial(t *testing.T, cfg *tls.Config) (tls.ConnectionState, result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), ioTimeout)
	defer cancel()
	d := tls.Dialer{Config: cfg}
	var state tls.ConnectionState
	c, err := d.DialContext(ctx, "tcp", s.addr)
	if err == nil {
		tc := c.(*tls.Conn)
		tc.SetDeadline(time.Now().Add(ioTimeout))
		// In TLS 1.3 a refused client certificate shows on the first read.
		_, err = io.ReadFull(tc, make([]byte, 1))
		state = tc.ConnectionState()
		tc.Close()
	}
	select {
	case r := <-s.results:
		return state, r, err
	case <-time.After(ioTimeout):
		t.Fatal("no server result")
		return state, result{}, err
	}
}

// mustAccept dials and fails the test unless both sides succeed.
func (s *testServer) mustAccept(t *testing.T, cfg *tls.Config) (client tls.ConnectionState, server tls.ConnectionState) {
	t.Helper()
	cs, r, cerr := s.dial(t, cfg)
	if cerr != nil || r.err != nil {
		t.Fatalf("handshake failed: client: %v; server: %v", cerr, r.err)
	}
	return cs, r.state
}

// mustRefuse dials and fails the test unless the server refuses with an
// error that contains want.
func (s *testServer) mustRefuse(t *testing.T, cfg *tls.Config, want string) error {
	t.Helper()
	_, r, cerr := s.dial(t, cfg)
	if r.err == nil {
		t.Fatalf("handshake accepted, want refusal with %q", want)
	}
	if cerr == nil {
		t.Errorf("client saw no error; server: %v", r.err)
	}
	if !strings.Contains(r.err.Error(), want) {
		t.Fatalf("server error %q does not contain %q", r.err, want)
	}
	return r.err
}

// servedSerial dials and returns the serial number of the server's
// certificate.
func (s *testServer) servedSerial(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	cs, _ := s.mustAccept(t, cfg)
	return cs.PeerCertificates[0].SerialNumber.String()
}

// acceptWithin accepts one connection from ln within ioTimeout; when none
// comes it closes ln (which ends the Accept) and fails the test.
func acceptWithin(t *testing.T, ln net.Listener) net.Conn {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("Accept: %v", r.err)
		}
		return r.c
	case <-time.After(ioTimeout):
		ln.Close()
		<-ch
		t.Fatal("Accept returned no connection")
		return nil
	}
}

// eventually polls cond until it holds or the time runs out.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
