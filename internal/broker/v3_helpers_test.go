package broker_test

// Helpers shared by the MQTT 3.1 / 3.1.1 tests (v3_*_test.go) and the
// bad-input tests (badinput_test.go): a broker whose log can be searched,
// raw clients and hand-made packet bytes. The paho.mqtt.golang clients
// are brokertest's (ConnectV3).

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
)

// v3Timeout bounds every wait for something that should happen at once.
const v3Timeout = 5 * time.Second

// v3Versions are the 3.x protocol levels most tests run for.
var v3Versions = []struct {
	name  string
	level byte
}{{"3.1", packet.V31}, {"3.1.1", packet.V311}}

// v3LogSink keeps everything the broker logs, so a test can wait for the
// line a bad client must leave, and copies it to the test output.
type v3LogSink struct {
	out     io.Writer
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func (l *v3LogSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf.Write(p)
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
	return l.out.Write(p)
}

// find returns the first log line that contains every part.
func (l *v3LogSink) find(parts ...string) (string, chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sc := bufio.NewScanner(bytes.NewReader(l.buf.Bytes()))
	sc.Buffer(nil, 1<<20)
next:
	for sc.Scan() {
		line := sc.Text() + " " // so "remote=host:port " matches as the last attribute too
		for _, p := range parts {
			if !strings.Contains(line, p) {
				continue next
			}
		}
		return sc.Text(), nil
	}
	return "", l.changed
}

// wait fails the test unless a line with every part is logged in time.
func (l *v3LogSink) wait(t testing.TB, parts ...string) string {
	t.Helper()
	timeout := time.NewTimer(v3Timeout)
	defer timeout.Stop()
	for {
		line, changed := l.find(parts...)
		if changed == nil {
			return line
		}
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("no log line with %q", parts)
		}
	}
}

// v3Broker starts a broker whose log, at debug level, is searchable.
func v3Broker(t testing.TB, opts broker.Options) (*broker.Broker, string, *v3LogSink) {
	t.Helper()
	sink := &v3LogSink{out: t.Output(), changed: make(chan struct{})}
	opts.Logger = slog.New(slog.NewTextHandler(sink, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b, addr := brokertest.Start(t, opts)
	return b, addr, sink
}

// v3Remote is how the broker's log names the connection of nc; the
// trailing space keeps port 1234 from matching port 12345.
func v3Remote(nc net.Conn) string { return "remote=" + nc.LocalAddr().String() + " " }

// v3Eventually polls cond, for states that have no event to wait on (a
// session expiring, a socket being cleaned up).
func v3Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(v3Timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// --- raw clients ---

// v3Dial connects a raw client and completes CONNECT, failing unless it is
// accepted. The CONNACK is returned.
func v3Dial(t testing.TB, addr string, version byte, c *packet.Connect) (*brokertest.Raw, *packet.Connack) {
	t.Helper()
	r := brokertest.Dial(t, addr, version)
	if c.KeepAlive == 0 {
		c.KeepAlive = 30
	}
	return r, r.Connect(c)
}

// v3Session connects a raw client with the given id and clean flag.
func v3Session(t testing.TB, addr string, version byte, id string, clean bool) (*brokertest.Raw, *packet.Connack) {
	t.Helper()
	return v3Dial(t, addr, version, &packet.Connect{ClientID: id, CleanStart: clean})
}

// v3Subscribe sends one SUBSCRIBE and returns its SUBACK codes.
func v3Subscribe(t testing.TB, r *brokertest.Raw, id uint16, subs ...packet.Subscription) []packet.ReasonCode {
	t.Helper()
	r.Send(&packet.Subscribe{PacketID: id, Subs: subs})
	ack := brokertest.Expect[*packet.Suback](r)
	if ack.PacketID != id {
		t.Fatalf("SUBACK for packet id %d, want %d", ack.PacketID, id)
	}
	if len(ack.ReasonCodes) != len(subs) {
		t.Fatalf("SUBACK has %d codes for %d filters", len(ack.ReasonCodes), len(subs))
	}
	return ack.ReasonCodes
}

// v3SubscribeOK subscribes to one filter and fails unless the QoS is granted.
func v3SubscribeOK(t testing.TB, r *brokertest.Raw, filter string, qos byte) {
	t.Helper()
	codes := v3Subscribe(t, r, 1, packet.Subscription{Filter: filter, QoS: qos})
	if codes[0] != packet.ReasonCode(qos) {
		t.Fatalf("SUBACK code 0x%02X for %s, want %d", byte(codes[0]), filter, qos)
	}
}

// v3Ping sends PINGREQ and reads everything up to the PINGRESP. Because one
// connection's packets are handled in order, and a publish is routed to
// every subscriber's queue before the publisher's next packet is read, the
// PINGRESP is a barrier: what it returns is everything the broker had
// queued for this client by the time it handled the PINGREQ.
func v3Ping(t testing.TB, r *brokertest.Raw) []*packet.Publish {
	t.Helper()
	r.Send(&packet.Pingreq{})
	var got []*packet.Publish
	for {
		switch p := brokertest.Expect[packet.Packet](r).(type) {
		case *packet.Pingresp:
			return got
		case *packet.Publish:
			got = append(got, p)
		default:
			t.Fatalf("waiting for PINGRESP, got %T %+v", p, p)
		}
	}
}

// v3ExpectPublish reads the next packet and fails unless it is a PUBLISH on
// topic with payload.
func v3ExpectPublish(t testing.TB, r *brokertest.Raw, topic, payload string) *packet.Publish {
	t.Helper()
	p := brokertest.Expect[*packet.Publish](r)
	if p.Topic != topic || string(p.Payload) != payload {
		t.Fatalf("got PUBLISH %s %q, want %s %q", p.Topic, p.Payload, topic, payload)
	}
	return p
}

// v3Publish publishes from a raw client and completes the QoS 1 or 2
// exchange.
func v3Publish(t testing.TB, r *brokertest.Raw, p *packet.Publish) {
	t.Helper()
	r.Send(p)
	switch p.QoS {
	case 1:
		if a := brokertest.Expect[*packet.Ack](r); a.Kind != packet.PUBACK || a.PacketID != p.PacketID {
			t.Fatalf("got %s %d, want PUBACK %d", a.Kind, a.PacketID, p.PacketID)
		}
	case 2:
		if a := brokertest.Expect[*packet.Ack](r); a.Kind != packet.PUBREC || a.PacketID != p.PacketID {
			t.Fatalf("got %s %d, want PUBREC %d", a.Kind, a.PacketID, p.PacketID)
		}
		r.Send(&packet.Ack{Kind: packet.PUBREL, PacketID: p.PacketID})
		if a := brokertest.Expect[*packet.Ack](r); a.Kind != packet.PUBCOMP || a.PacketID != p.PacketID {
			t.Fatalf("got %s %d, want PUBCOMP %d", a.Kind, a.PacketID, p.PacketID)
		}
	}
}

// v3ExpectAck reads the next packet and fails unless it is the given ack.
func v3ExpectAck(t testing.TB, r *brokertest.Raw, kind packet.Type, id uint16) {
	t.Helper()
	a := brokertest.Expect[*packet.Ack](r)
	if a.Kind != kind || a.PacketID != id {
		t.Fatalf("got %s %d, want %s %d", a.Kind, a.PacketID, kind, id)
	}
}

// v3Disconnect sends DISCONNECT and waits for the broker to close the
// socket, which it does only after detaching the session.
func v3Disconnect(t testing.TB, r *brokertest.Raw) {
	t.Helper()
	r.Send(&packet.Disconnect{})
	if got := r.ExpectClosed(v3Timeout); len(got) > 0 {
		t.Fatalf("packets after DISCONNECT: %+v", got)
	}
}

// --- bytes on the wire ---

// v3Pkt builds a packet from its first byte and body, with a correctly
// encoded remaining length.
func v3Pkt(first byte, body ...[]byte) []byte {
	var b []byte
	for _, part := range body {
		b = append(b, part...)
	}
	out := []byte{first}
	n := len(b)
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		out = append(out, d)
		if n == 0 {
			break
		}
	}
	return append(out, b...)
}

// v3Str is a length-prefixed string of raw bytes (not checked for UTF-8).
func v3Str(s string) []byte { return append(v3U16(uint16(len(s))), s...) }

func v3U16(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }

// v3ConnectBytes is a CONNECT with the given protocol name, level, flags,
// keep alive and payload fields (client id first).
func v3ConnectBytes(name string, level, flags byte, keepAlive uint16, payload ...[]byte) []byte {
	body := [][]byte{v3Str(name), {level, flags}, v3U16(keepAlive)}
	return v3Pkt(0x10, append(body, payload...)...)
}

// v3ReadToClose reads until the broker closes the connection and returns
// every byte it sent. It fails the test if the connection is still open
// after timeout.
func v3ReadToClose(t testing.TB, nc net.Conn, timeout time.Duration) []byte {
	t.Helper()
	got, err := v3Drain(nc, timeout)
	if err != nil {
		t.Fatalf("connection not closed by the broker: %v (got % X)", err, got)
	}
	return got
}

// v3Drain reads until EOF or a reset, returning an error only on timeout.
func v3Drain(nc net.Conn, timeout time.Duration) ([]byte, error) {
	nc.SetReadDeadline(time.Now().Add(timeout))
	var got []byte
	buf := make([]byte, 512)
	for {
		n, err := nc.Read(buf)
		got = append(got, buf[:n]...)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return got, fmt.Errorf("still open after %v", timeout)
		}
		return got, nil // EOF, or reset by a close with unread bytes
	}
}

// v3WriteAll writes b, ignoring errors: the broker may close the connection
// before it has read everything a bad client sends.
func v3WriteAll(nc net.Conn, b []byte) {
	nc.SetWriteDeadline(time.Now().Add(v3Timeout))
	nc.Write(b)
}

// v3Connack is the 3.x CONNACK with return code rc and no session present.
func v3Connack(rc byte) []byte { return []byte{0x20, 0x02, 0x00, rc} }
