package broker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
	"github.com/baram-mqtt/baram/internal/testlog"
)

// Abuse limits (limits.go): each limit is exceeded by one client, which
// is refused or cut off with the right reason code (v5) or return code /
// close (3.x), while a well-behaved client keeps connecting, publishing
// and receiving, and the refusal is counted.

// limStart runs a broker with one listener per entry of los, and returns
// the broker and the listeners' addresses.
func limStart(t *testing.T, opts broker.Options, los ...broker.ListenerOptions) (*broker.Broker, []string) {
	t.Helper()
	opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	if opts.Users == nil {
		opts.AllowAnonymous = true
	}
	b := broker.New(opts)
	served := make(chan error, len(los))
	addrs := make([]string, len(los))
	for i, lo := range los {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = ln.Addr().String()
		lo.Name = addrs[i]
		go func() { served <- b.ServeListener(ln, lo) }()
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		for range los {
			if err := <-served; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	})
	return b, addrs
}

// limV3Refused sends a 3.1.1 CONNECT and requires CONNACK with return
// code rc, then the close.
func limV3Refused(t *testing.T, addr string, c *packet.Connect, rc byte) {
	t.Helper()
	r := brokertest.Dial(t, addr, packet.V311)
	c.Version, c.ProtocolName, c.KeepAlive = packet.V311, "MQTT", 30
	r.Send(c)
	if got := v3ReadToClose(t, r.Conn, v3Timeout); !bytes.Equal(got, v3Connack(rc)) {
		t.Fatalf("got % X, want CONNACK return code %d (% X) and close", got, rc, v3Connack(rc))
	}
}

// limV5Refused is v5Refused, requiring the reason code.
func limV5Refused(t *testing.T, addr string, c *packet.Connect, code packet.ReasonCode) {
	t.Helper()
	if c.KeepAlive == 0 {
		c.KeepAlive = 30
	}
	if ack := v5Refused(t, addr, c); ack.ReasonCode != code {
		t.Fatalf("CONNACK 0x%02X, want 0x%02X (%s)", byte(ack.ReasonCode), byte(code), ack.Props.ReasonString)
	}
}

// limWorks proves a client connected now can publish and receive.
func limWorks(t *testing.T, addr string) {
	t.Helper()
	by := v5NewBystander(t, addr)
	by.check(t)
}

// limEventually polls cond until it holds.
func limEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(v5Wait); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// limClient is a raw client dialled from a chosen loopback address, for
// tests that need two source addresses.
type limClient struct {
	t   *testing.T
	nc  net.Conn
	v   byte
	buf []byte
}

// limDialFrom dials addr from the local IP from, skipping the test where
// the system cannot (127.0.0.2 is loopback on Linux, not everywhere).
func limDialFrom(t *testing.T, from, addr string, v byte) *limClient {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: v5Wait}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Skipf("cannot dial from %s: %v", from, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &limClient{t: t, nc: nc, v: v}
}

func (c *limClient) send(p packet.Packet) {
	c.t.Helper()
	b, err := packet.Append(nil, p, c.v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.nc.SetWriteDeadline(time.Now().Add(v5Wait))
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *limClient) next() packet.Packet {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(v5Wait))
	for {
		h, err := packet.ParseFixedHeader(c.buf)
		if err == nil && len(c.buf) >= h.PacketLen() {
			p, err := packet.Decode(h, bytes.Clone(c.buf[h.HeaderLen:h.PacketLen()]), c.v)
			if err != nil {
				c.t.Fatal(err)
			}
			c.buf = c.buf[h.PacketLen():]
			return p
		}
		chunk := make([]byte, 4096)
		n, err := c.nc.Read(chunk)
		c.buf = append(c.buf, chunk[:n]...)
		if err != nil && n == 0 {
			c.t.Fatalf("read: %v", err)
		}
	}
}

// connect sends CONNECT and returns the CONNACK's code.
func (c *limClient) connect(p *packet.Connect) packet.ReasonCode {
	c.t.Helper()
	p.Version, p.ProtocolName, p.KeepAlive = c.v, "MQTT", 30
	c.send(p)
	ack, ok := c.next().(*packet.Connack)
	if !ok {
		c.t.Fatal("no CONNACK")
	}
	return ack.ReasonCode
}

// limWorksFrom proves a client from the local IP from can connect,
// subscribe, publish and receive its message.
func limWorksFrom(t *testing.T, from, addr string, c *packet.Connect) {
	t.Helper()
	r := limDialFrom(t, from, addr, packet.V5)
	if code := r.connect(c); code != packet.Success {
		t.Fatalf("client from %s refused: CONNACK 0x%02X", from, byte(code))
	}
	r.send(&packet.Subscribe{PacketID: 1, Subs: []packet.Subscription{{Filter: "from/" + from, QoS: 0}}})
	if _, ok := r.next().(*packet.Suback); !ok {
		t.Fatal("no SUBACK")
	}
	r.send(&packet.Publish{Topic: "from/" + from, Payload: []byte("hello")})
	if p, ok := r.next().(*packet.Publish); !ok || string(p.Payload) != "hello" {
		t.Fatalf("got %v, want the PUBLISH back", p)
	}
}

// limFlood sends p n times in one write, which may fail when the broker
// has already closed the connection.
func limFlood(r *brokertest.Raw, n int, p packet.Packet) {
	var b []byte
	for range n {
		b, _ = packet.Append(b, p, r.Version)
	}
	r.Conn.SetWriteDeadline(time.Now().Add(v5Wait))
	r.Conn.Write(b)
}

// A listener's max_connections refuses connections past it with CONNACK
// 0x97 (3.x: 3); another listener, and the listener once a client has
// left, admit clients.
func TestLimitListenerMaxConnections(t *testing.T) {
	b, addrs := limStart(t, broker.Options{}, broker.ListenerOptions{MaxConnections: 1}, broker.ListenerOptions{})
	capped, open := addrs[0], addrs[1]
	first, _ := v5Conn(t, capped, "lmc-1", true, nil)
	limV5Refused(t, capped, &packet.Connect{ClientID: "lmc-2", CleanStart: true}, packet.QuotaExceeded)
	limV3Refused(t, capped, &packet.Connect{ClientID: "lmc-3", CleanStart: true}, packet.ConnRefusedUnavailable)
	limWorks(t, open)
	v5ExpectNothing(t, first)
	if got := b.Stats().RefusedListenerMaxConnections; got != 2 {
		t.Errorf("RefusedListenerMaxConnections = %d, want 2", got)
	}

	v5Disconnect(t, first, packet.NormalDisconnection)
	limEventually(t, "a free slot", func() bool { return b.Stats().Connections == 2 }) // the bystanders
	v5Conn(t, capped, "lmc-4", true, nil)
}

// A listener's connect_rate refuses connections past its burst with
// CONNACK 0x9F (3.x: 3); other listeners are not affected.
func TestLimitListenerConnectRate(t *testing.T) {
	b, addrs := limStart(t, broker.Options{},
		broker.ListenerOptions{ConnectRate: 0.01, ConnectBurst: 2}, broker.ListenerOptions{})
	limited, open := addrs[0], addrs[1]
	a, _ := v5Conn(t, limited, "lcr-1", true, nil)
	v5Conn(t, limited, "lcr-2", true, nil)
	limV5Refused(t, limited, &packet.Connect{ClientID: "lcr-3", CleanStart: true}, packet.ConnectionRateExceeded)
	limV3Refused(t, limited, &packet.Connect{ClientID: "lcr-4", CleanStart: true}, packet.ConnRefusedUnavailable)
	limWorks(t, open)
	v5ExpectNothing(t, a) // admitted clients keep working
	if got := b.Stats().RefusedListenerConnectRate; got != 2 {
		t.Errorf("RefusedListenerConnectRate = %d, want 2", got)
	}
}

// connect_rate_per_ip refuses an address past its burst with CONNACK
// 0x9F (3.x: 3) while clients from other addresses connect.
func TestLimitConnectRatePerIP(t *testing.T) {
	b, addrs := limStart(t, broker.Options{ConnectRatePerIP: 0.01, ConnectBurstPerIP: 4}, broker.ListenerOptions{})
	addr := addrs[0]
	sub, _ := v5Conn(t, addr, "lip-sub", true, nil)
	v5Sub(t, sub, "lip/t", 0)
	pub, _ := v5Conn(t, addr, "lip-pub", true, nil)
	v5Conn(t, addr, "lip-3", true, nil)
	v5Conn(t, addr, "lip-4", true, nil)
	limV5Refused(t, addr, &packet.Connect{ClientID: "lip-5", CleanStart: true}, packet.ConnectionRateExceeded)
	limV3Refused(t, addr, &packet.Connect{ClientID: "lip-6", CleanStart: true}, packet.ConnRefusedUnavailable)
	// Connected clients of the limited address keep working.
	pub.Send(v5Pub("lip/t", 0, 0, "still"))
	v5ExpectPublish(t, sub, "lip/t", "still")
	if got := b.Stats().RefusedConnectRatePerIP; got != 2 {
		t.Errorf("RefusedConnectRatePerIP = %d, want 2", got)
	}
	limWorksFrom(t, "127.0.0.2", addr, &packet.Connect{ClientID: "lip-other", CleanStart: true})
}

// publish_rate: a client publishing faster than its rate, beyond the
// burst and the tolerance, is disconnected with 0x96 (3.x: closed);
// a client within its rate keeps publishing and receiving.
func TestLimitPublishRate(t *testing.T) {
	b, addrs := limStart(t, broker.Options{PublishRate: 5}, broker.ListenerOptions{})
	addr := addrs[0]
	by := v5NewBystander(t, addr)

	fast, _ := v5Conn(t, addr, "lpr-fast", true, nil)
	limFlood(fast, 30, v5Pub("lpr/t", 0, 0, "x"))
	v5ExpectDisconnect(t, fast, packet.MessageRateTooHigh)
	by.check(t)

	old, _ := v3Session(t, addr, packet.V311, "lpr-v3", true)
	limFlood(old, 30, &packet.Publish{Topic: "lpr/t", Payload: []byte("x")})
	if got := v3ReadToClose(t, old.Conn, v3Timeout); len(got) != 0 {
		t.Fatalf("3.1.1 client got % X before the close, want nothing", got)
	}
	by.check(t)
	if got := b.Stats().PublishRateDisconnects; got != 2 {
		t.Errorf("PublishRateDisconnects = %d, want 2", got)
	}
}

// publish_bytes_rate: the same for bytes.
func TestLimitPublishBytesRate(t *testing.T) {
	b, addrs := limStart(t, broker.Options{PublishBytesRate: 1000, MaxPacketSize: 512}, broker.ListenerOptions{})
	addr := addrs[0]
	by := v5NewBystander(t, addr)
	fast, _ := v5Conn(t, addr, "lbr-fast", true, nil)
	payload := strings.Repeat("b", 400)
	v5Publish1(t, fast, v5Pub("lbr/t", 1, 1, payload)) // within the burst
	limFlood(fast, 10, v5Pub("lbr/t", 0, 0, payload))
	v5ExpectDisconnect(t, fast, packet.MessageRateTooHigh)
	by.check(t)
	if got := b.Stats().PublishRateDisconnects; got != 1 {
		t.Errorf("PublishRateDisconnects = %d, want 1", got)
	}
}

// Flapping: a client id connecting more than flap_count times within
// flap_window is refused with CONNACK 0x8A (3.x: 5) for flap_ban; other
// ids connect meanwhile, and the id is admitted once the ban ends.
func TestLimitFlapping(t *testing.T) {
	const ban = 300 * time.Millisecond
	b, addrs := limStart(t, broker.Options{FlapCount: 3, FlapWindow: time.Minute, FlapBan: ban}, broker.ListenerOptions{})
	addr := addrs[0]
	for _, v := range []struct {
		name string
		v3   bool
	}{{"5.0", false}, {"3.1.1", true}} {
		t.Run(v.name, func(t *testing.T) {
			id := "flappy-" + v.name
			for range 3 {
				r, _ := v5Conn(t, addr, id, true, nil)
				v5Disconnect(t, r, packet.NormalDisconnection)
			}
			began := time.Now()
			if v.v3 {
				limV3Refused(t, addr, &packet.Connect{ClientID: id, CleanStart: true}, packet.ConnRefusedNotAuth)
			} else {
				limV5Refused(t, addr, &packet.Connect{ClientID: id, CleanStart: true}, packet.Banned)
			}
			limWorks(t, addr) // other ids are fine
			if time.Since(began) < ban-50*time.Millisecond {
				limV5Refused(t, addr, &packet.Connect{ClientID: id, CleanStart: true}, packet.Banned)
			}
			time.Sleep(time.Until(began.Add(ban + 50*time.Millisecond)))
			v5Conn(t, addr, id, true, nil)
		})
	}
	s := b.Stats()
	if s.FlapBans != 2 || s.RefusedBanned < 2 {
		t.Errorf("FlapBans = %d, RefusedBanned = %d; want 2 and at least 2", s.FlapBans, s.RefusedBanned)
	}
}

// Authentication failures: after auth_failures failures from an address,
// its CONNECTs are refused with 0x87 (3.x: 5), right password or not,
// for auth_backoff; other addresses log in meanwhile.
func TestLimitAuthBackoff(t *testing.T) {
	const backoff = 400 * time.Millisecond
	users := map[string]string{"alice": "secret"}
	b, addrs := limStart(t, broker.Options{Users: users, AuthFailures: 3, AuthBackoff: backoff}, broker.ListenerOptions{})
	addr := addrs[0]
	login := func(id, pw string) *packet.Connect {
		return &packet.Connect{ClientID: id, CleanStart: true, Username: "alice", HasUsername: true,
			Password: []byte(pw), HasPassword: true}
	}
	began := time.Now()
	for i := range 3 {
		limV5Refused(t, addr, login(fmt.Sprint("laf-", i), "wrong"), packet.BadUserNameOrPassword)
	}
	limV5Refused(t, addr, login("laf-right", "secret"), packet.NotAuthorized)
	limV3Refused(t, addr, login("laf-v3", "secret"), packet.ConnRefusedNotAuth)
	limWorksFrom(t, "127.0.0.2", addr, login("laf-other", "secret"))
	s := b.Stats()
	if s.AuthBackoffs != 1 || s.RefusedAuthBackoff != 2 {
		t.Errorf("AuthBackoffs = %d, RefusedAuthBackoff = %d; want 1 and 2", s.AuthBackoffs, s.RefusedAuthBackoff)
	}
	if time.Since(began) > backoff-50*time.Millisecond {
		t.Skip("too slow to see the back-off end") // the refusals above were within it
	}
	time.Sleep(time.Until(began.Add(backoff + 100*time.Millisecond)))
	r := brokertest.Dial(t, addr, packet.V5)
	c := login("laf-after", "secret")
	c.KeepAlive = 30
	r.Connect(c)
}

// Refusals are logged at most once a second per source address.
func TestLimitLogRateLimited(t *testing.T) {
	var mu testlog.Buffer
	b := broker.New(broker.Options{AllowAnonymous: true, Logger: slog.New(slog.NewTextHandler(&mu, nil))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- b.ServeListener(ln, broker.ListenerOptions{Name: "l", MaxConnections: 1}) }()
	defer func() {
		if err := b.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		if err := <-served; err != nil && !errors.Is(err, broker.ErrClosed) {
			t.Error(err)
		}
	}()
	addr := ln.Addr().String()
	v5Conn(t, addr, "llog-1", true, nil)
	for i := range 5 {
		limV5Refused(t, addr, &packet.Connect{ClientID: fmt.Sprint("llog-r", i), CleanStart: true}, packet.QuotaExceeded)
	}
	if got := b.Stats().RefusedListenerMaxConnections; got != 5 {
		t.Errorf("RefusedListenerMaxConnections = %d, want 5", got)
	}
	if n := strings.Count(mu.String(), "listener connection limit reached"); n != 1 {
		t.Errorf("%d refusal lines logged within a second, want 1:\n%s", n, mu.String())
	}
}
