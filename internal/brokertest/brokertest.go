// Package brokertest starts brokers on loopback for tests, speaks raw
// MQTT to them where a client library would hide behaviour, and connects
// real clients (paho.golang for MQTT 5, paho.mqtt.golang for 3.1 and
// 3.1.1) where it would not.
package brokertest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/packet"
)

// Start runs a broker on 127.0.0.1 with a free port and shuts it down when
// the test ends. Zero options allow anonymous clients.
func Start(t testing.TB, opts broker.Options) (*broker.Broker, string) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.Users == nil {
		opts.AllowAnonymous = true
	}
	if opts.MaxQueuedMessages == 0 {
		opts.MaxQueuedMessages = broker.Defaults.MaxQueuedMessages
	}
	if opts.MaxTopicAlias == 0 {
		opts.MaxTopicAlias = broker.Defaults.MaxTopicAlias
	}
	b := broker.New(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- b.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return b, ln.Addr().String()
}

// Raw is a client connection that sends and reads packets with no client
// library in between.
type Raw struct {
	t       testing.TB
	Conn    net.Conn
	Version byte
	buf     []byte
}

// Dial connects a raw client; the connection closes when the test ends.
func Dial(t testing.TB, addr string, version byte) *Raw {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &Raw{t: t, Conn: nc, Version: version}
}

// Send encodes and writes p.
func (r *Raw) Send(p packet.Packet) {
	r.t.Helper()
	b, err := packet.Append(nil, p, r.Version)
	if err != nil {
		r.t.Fatalf("encode %s: %v", p.Type(), err)
	}
	r.SendBytes(b)
}

// SendBytes writes raw bytes.
func (r *Raw) SendBytes(b []byte) {
	r.t.Helper()
	r.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.Conn.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// Connect sends a CONNECT for clientID and expects a successful CONNACK,
// which it returns.
func (r *Raw) Connect(c *packet.Connect) *packet.Connack {
	r.t.Helper()
	c.Version = r.Version
	c.ProtocolName = "MQTT"
	if r.Version == packet.V31 {
		c.ProtocolName = "MQIsdp"
	}
	r.Send(c)
	ack := Expect[*packet.Connack](r)
	if ack.ReasonCode != packet.Success {
		r.t.Fatalf("CONNACK reason 0x%02X", byte(ack.ReasonCode))
	}
	return ack
}

// Read returns the next packet, or an error when the connection closes or
// nothing arrives within the timeout.
func (r *Raw) Read(timeout time.Duration) (packet.Packet, error) {
	deadline := time.Now().Add(timeout)
	for {
		h, err := packet.ParseFixedHeader(r.buf)
		if err == nil && len(r.buf) >= h.PacketLen() {
			body := r.buf[h.HeaderLen:h.PacketLen()]
			p, err := packet.Decode(h, body, r.Version)
			if pub, ok := p.(*packet.Publish); ok {
				pub.Payload = append([]byte(nil), pub.Payload...)
			}
			r.buf = r.buf[h.PacketLen():]
			return p, err
		}
		if err != nil && !errors.Is(err, packet.ErrIncomplete) {
			return nil, err
		}
		r.Conn.SetReadDeadline(deadline)
		chunk := make([]byte, 4096)
		n, err := r.Conn.Read(chunk)
		r.buf = append(r.buf, chunk[:n]...)
		if err != nil && n == 0 {
			return nil, err
		}
	}
}

// Expect reads the next packet and fails the test unless it is a T.
func Expect[T packet.Packet](r *Raw) T {
	r.t.Helper()
	p, err := r.Read(5 * time.Second)
	if err != nil {
		r.t.Fatalf("expected %T, got error: %v", *new(T), err)
	}
	v, ok := p.(T)
	if !ok {
		r.t.Fatalf("expected %T, got %T %+v", *new(T), p, p)
	}
	return v
}

// ExpectClosed fails the test unless the server closes the connection
// (after any packets, which it returns) within the timeout.
func (r *Raw) ExpectClosed(timeout time.Duration) []packet.Packet {
	r.t.Helper()
	var got []packet.Packet
	for {
		p, err := r.Read(timeout)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				r.t.Fatalf("connection still open after %v (got %d packets)", timeout, len(got))
			}
			return got
		}
		got = append(got, p)
	}
}
