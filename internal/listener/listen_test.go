package listener

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// TestHandshakeDoesNotBlockAccept keeps a client silent in its handshake
// and checks that Accept still returns the next client, and that the
// silent one's first Read ends at its read deadline.
func TestHandshakeDoesNotBlockAccept(t *testing.T) {
	p := newPKI(t)
	tl := newTLS(t, p.cfg, testLogger(t))
	ln, err := Listen(t.Context(), "tcp", "127.0.0.1:0", tl)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	silent, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	first, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if _, ok := first.(*tls.Conn); !ok {
		t.Fatalf("Accept returned %T, want *tls.Conn", first)
	}

	// The broker's connection goroutine: a read deadline, then Read.
	readErr := make(chan error, 1)
	first.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	go func() {
		_, err := first.Read(make([]byte, 1))
		readErr <- err
	}()

	done := make(chan error, 1)
	go func() {
		c, err := tls.Dial("tcp", ln.Addr().String(), p.clientConfig())
		if err == nil {
			c.Close()
		}
		done <- err
	}()
	second, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	second.SetDeadline(time.Now().Add(ioTimeout))
	if err := second.(*tls.Conn).Handshake(); err != nil {
		t.Fatalf("second client: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("second client: %v", err)
	}

	select {
	case err := <-readErr:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("silent client's Read: %v, want a deadline error", err)
		}
	case <-time.After(ioTimeout):
		t.Fatal("silent client's handshake was not bounded by the read deadline")
	}
}
