package mqttclient

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// wait bounds every wait of these tests.
const wait = 5 * time.Second

// tcpDial dials addr over TCP.
func tcpDial(addr string) func(context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
}

// fake is a scripted broker: it accepts one connection and runs script
// on it.
type fake struct {
	t    *testing.T
	addr string
	done chan struct{}
}

// peer is the broker's side of one connection.
type peer struct {
	t       *testing.T
	nc      net.Conn
	br      *bufio.Reader
	version byte
}

func startFake(t *testing.T, script func(p *peer)) *fake {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{t: t, addr: ln.Addr().String(), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		defer ln.Close()
		nc, err := ln.Accept()
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		defer nc.Close()
		script(&peer{t: t, nc: nc, br: bufio.NewReader(nc)})
	}()
	t.Cleanup(func() {
		ln.Close()
		select {
		case <-f.done:
		case <-time.After(wait):
			t.Error("the fake broker's script did not end")
		}
	})
	return f
}

// read reads the next packet, or returns nil when the connection ends.
func (p *peer) read() packet.Packet {
	_ = p.nc.SetReadDeadline(time.Now().Add(wait))
	c := &Client{version: p.version, cfg: Config{}}
	pk, err := c.readPacket(p.br)
	if err != nil {
		return nil
	}
	if conn, ok := pk.(*packet.Connect); ok {
		p.version = conn.Version
	}
	return pk
}

// expect reads the next packet and fails unless it is of type typ.
func (p *peer) expect(typ packet.Type) packet.Packet {
	pk := p.read()
	if pk == nil || pk.Type() != typ {
		p.t.Errorf("fake broker: got %v, want %s", pk, typ)
		return nil
	}
	return pk
}

func (p *peer) send(pk packet.Packet) {
	b, err := packet.Append(nil, pk, p.version)
	if err != nil {
		p.t.Errorf("encode %s: %v", pk.Type(), err)
		return
	}
	_ = p.nc.SetWriteDeadline(time.Now().Add(wait))
	_, _ = p.nc.Write(b)
}

// accept reads the CONNECT and accepts it with props.
func (p *peer) accept(props packet.Properties) *packet.Connect {
	c, _ := p.expect(packet.CONNECT).(*packet.Connect)
	p.send(&packet.Connack{Props: props})
	return c
}

func connectTo(t *testing.T, addr string, cfg Config) *Client {
	t.Helper()
	cfg.Dial = tcpDial(addr)
	if cfg.Connect.ClientID == "" {
		cfg.Connect.ClientID = "c"
		cfg.Connect.CleanStart = true
	}
	c, err := Connect(context.Background(), cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Messages at QoS 0, 1 and 2 go through a real broker both ways, in
// MQTT 3.1.1 and 5.
func TestRoundTrip(t *testing.T) {
	_, addr := brokertest.Start(t, broker.Options{})
	for _, version := range []byte{packet.V311, packet.V5} {
		got := make(chan packet.Publish, 10)
		sub := connectTo(t, addr, Config{Connect: packet.Connect{Version: version, ClientID: "sub", CleanStart: true},
			OnPublish: func(p *packet.Publish) bool {
				q := *p
				q.Payload = append([]byte(nil), p.Payload...)
				got <- q
				return true
			}})
		s := &packet.Subscribe{Subs: []packet.Subscription{{Filter: "rt/#", QoS: 2}}}
		ack, err := sub.Subscribe(context.Background(), s)
		if err != nil || len(ack.ReasonCodes) != 1 || ack.ReasonCodes[0] != 2 {
			t.Fatalf("v%d subscribe: %+v, %v", version, ack, err)
		}
		pub := connectTo(t, addr, Config{Connect: packet.Connect{Version: version, ClientID: "pub", CleanStart: true}})
		for qos := range byte(3) {
			p := &packet.Publish{Topic: "rt/q", QoS: qos, Payload: []byte{'0' + qos}}
			if version == packet.V5 {
				p.Props.User = []packet.UserProperty{{Key: "k", Value: "v"}}
			}
			if err := pub.Publish(context.Background(), p); err != nil {
				t.Fatalf("v%d publish qos %d: %v", version, qos, err)
			}
			select {
			case m := <-got:
				if m.QoS != qos || string(m.Payload) != string('0'+rune(qos)) || m.Topic != "rt/q" ||
					version == packet.V5 && (len(m.Props.User) != 1 || m.Props.User[0].Key != "k") {
					t.Fatalf("v%d qos %d: got %+v", version, qos, m)
				}
			case <-time.After(wait):
				t.Fatalf("v%d qos %d: nothing delivered", version, qos)
			}
		}
		if _, err := sub.Unsubscribe(context.Background(), &packet.Unsubscribe{Filters: []string{"rt/#"}}); err != nil {
			t.Fatalf("unsubscribe: %v", err)
		}
		if err := pub.Disconnect(nil); err != nil {
			t.Errorf("disconnect: %v", err)
		}
		if err := sub.Disconnect(nil); err != nil {
			t.Errorf("disconnect: %v", err)
		}
	}
}

func TestConnackRefused(t *testing.T) {
	for _, tt := range []struct {
		version byte
		code    packet.ReasonCode
		reason  string
		want    string
	}{
		{packet.V5, packet.BadUserNameOrPassword, "", "connection refused: Bad User Name or Password (0x86)"},
		{packet.V5, packet.NotAuthorized, "go away", `connection refused: Not authorized (0x87): "go away"`},
		{packet.V311, packet.BadUserNameOrPassword, "", "connection refused: bad user name or password (return code 4)"},
		{packet.V31, packet.ClientIdentifierNotValid, "", "connection refused: identifier rejected (return code 2)"},
	} {
		f := startFake(t, func(p *peer) {
			p.expect(packet.CONNECT)
			ack := &packet.Connack{ReasonCode: tt.code}
			if tt.reason != "" {
				ack.Props.Set(packet.PropReasonString)
				ack.Props.ReasonString = tt.reason
			}
			p.send(ack)
		})
		_, err := Connect(context.Background(), Config{Dial: tcpDial(f.addr), Connect: packet.Connect{Version: tt.version, ClientID: "x"}})
		var ce *ConnackError
		if !errors.As(err, &ce) || err.Error() != tt.want {
			t.Errorf("v%d refused with 0x%02X: %v, want %q", tt.version, byte(tt.code), err, tt.want)
		}
	}
}

// A CONNACK that does not come ends the wait after the timeout.
func TestConnackTimeout(t *testing.T) {
	f := startFake(t, func(p *peer) {
		p.expect(packet.CONNECT)
		p.read() // until the client gives up
	})
	start := time.Now()
	_, err := Connect(context.Background(), Config{Dial: tcpDial(f.addr), Timeout: 200 * time.Millisecond,
		Connect: packet.Connect{ClientID: "x"}})
	if err == nil || !strings.Contains(err.Error(), "waiting for CONNACK") || time.Since(start) > 2*time.Second {
		t.Fatalf("no CONNACK: %v after %v", err, time.Since(start))
	}
}

// MQTT 5 failure reason codes in PUBACK and PUBREC end Publish with a
// ReasonError naming the code; an acknowledgement that does not come
// ends it after the timeout.
func TestPublishErrors(t *testing.T) {
	f := startFake(t, func(p *peer) {
		p.accept(packet.Properties{})
		pub, _ := p.expect(packet.PUBLISH).(*packet.Publish)
		a := &packet.Ack{Kind: packet.PUBACK, PacketID: pub.PacketID, ReasonCode: packet.NotAuthorized}
		a.Props.Set(packet.PropReasonString)
		a.Props.ReasonString = "$SYS is the broker's"
		p.send(a)
		pub, _ = p.expect(packet.PUBLISH).(*packet.Publish)
		p.send(&packet.Ack{Kind: packet.PUBREC, PacketID: pub.PacketID, ReasonCode: packet.QuotaExceeded})
		p.expect(packet.PUBLISH) // never acknowledged
		p.expect(packet.DISCONNECT)
	})
	c := connectTo(t, f.addr, Config{Connect: packet.Connect{Version: packet.V5}, Timeout: 300 * time.Millisecond})
	err := c.Publish(context.Background(), &packet.Publish{Topic: "$SYS/x", QoS: 1})
	var re *ReasonError
	if !errors.As(err, &re) || re.Code != packet.NotAuthorized ||
		err.Error() != `PUBACK for packet id 1: Not authorized (0x87): "$SYS is the broker's"` {
		t.Errorf("PUBACK 0x87: %v", err)
	}
	err = c.Publish(context.Background(), &packet.Publish{Topic: "a", QoS: 2})
	if !errors.As(err, &re) || err.Error() != "PUBREC for packet id 2: Quota exceeded (0x97)" {
		t.Errorf("PUBREC 0x97: %v", err)
	}
	err = c.Publish(context.Background(), &packet.Publish{Topic: "a", QoS: 1})
	if err == nil || err.Error() != "no PUBACK for packet id 3 within 300ms" {
		t.Errorf("no PUBACK: %v", err)
	}
	if err := c.Disconnect(nil); err != nil {
		t.Errorf("disconnect: %v", err)
	}
}

// The CONNACK's Maximum QoS, Retain Available and Maximum Packet Size are
// kept before anything is sent.
func TestServerLimits(t *testing.T) {
	f := startFake(t, func(p *peer) {
		var props packet.Properties
		props.Set(packet.PropMaximumQoS)
		props.MaximumQoS = 1
		props.Set(packet.PropRetainAvailable)
		props.Set(packet.PropMaximumPacketSize)
		props.MaximumPacketSize = 100
		p.accept(props)
		p.expect(packet.DISCONNECT)
	})
	c := connectTo(t, f.addr, Config{Connect: packet.Connect{Version: packet.V5}})
	for _, tt := range []struct {
		p    *packet.Publish
		want string
	}{
		{&packet.Publish{Topic: "a", QoS: 2}, "the broker accepts QoS up to 1"},
		{&packet.Publish{Topic: "a", Retain: true}, "does not support retained messages"},
		{&packet.Publish{Topic: "a", Payload: make([]byte, 200)}, "the broker takes at most 100"},
	} {
		if err := c.Publish(context.Background(), tt.p); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("publish %+v: %v, want %q", tt.p, err, tt.want)
		}
	}
	if err := c.Disconnect(nil); err != nil {
		t.Error(err)
	}
}

// An incoming QoS 2 message is delivered once, even when the broker
// sends it again before releasing it; QoS 1 is acknowledged only when
// taken.
func TestReceiveQoS(t *testing.T) {
	f := startFake(t, func(p *peer) {
		p.accept(packet.Properties{})
		msg := &packet.Publish{Topic: "t", QoS: 2, PacketID: 7, Payload: []byte("two")}
		p.send(msg)
		if a, _ := p.expect(packet.PUBREC).(*packet.Ack); a == nil || a.PacketID != 7 {
			p.t.Errorf("PUBREC %+v", a)
		}
		msg.Dup = true
		p.send(msg)
		p.expect(packet.PUBREC)
		p.send(&packet.Ack{Kind: packet.PUBREL, PacketID: 7})
		if a, _ := p.expect(packet.PUBCOMP).(*packet.Ack); a == nil || a.PacketID != 7 {
			p.t.Errorf("PUBCOMP %+v", a)
		}
		p.send(&packet.Publish{Topic: "t", QoS: 1, PacketID: 8, Payload: []byte("refused")})
		p.send(&packet.Publish{Topic: "t", QoS: 1, PacketID: 9, Payload: []byte("one")})
		if a, _ := p.expect(packet.PUBACK).(*packet.Ack); a == nil || a.PacketID != 9 {
			p.t.Errorf("PUBACK %+v, want id 9 only", a)
		}
		p.expect(packet.DISCONNECT)
	})
	var mu sync.Mutex
	var got []string
	allDone := make(chan struct{})
	c := connectTo(t, f.addr, Config{Connect: packet.Connect{Version: packet.V5}, OnPublish: func(p *packet.Publish) bool {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, string(p.Payload))
		if string(p.Payload) == "one" {
			close(allDone)
		}
		return string(p.Payload) != "refused"
	}})
	select {
	case <-allDone:
	case <-time.After(wait):
		t.Fatal("messages not delivered")
	}
	time.Sleep(50 * time.Millisecond) // let the PUBACK go out before DISCONNECT
	if err := c.Disconnect(nil); err != nil {
		t.Error(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, ",") != "two,refused,one" {
		t.Errorf("delivered %q", got)
	}
}

// An idle client pings; one whose PINGREQ is not answered ends with an
// error that says so.
func TestKeepAlive(t *testing.T) {
	f := startFake(t, func(p *peer) {
		var props packet.Properties
		props.Set(packet.PropServerKeepAlive)
		props.ServerKeepAlive = 1
		p.accept(props)
		p.expect(packet.PINGREQ)
		p.send(&packet.Pingresp{})
		p.expect(packet.PINGREQ) // not answered
		p.read()                 // until the client closes
	})
	c := connectTo(t, f.addr, Config{Connect: packet.Connect{Version: packet.V5, KeepAlive: 60}, Timeout: 300 * time.Millisecond})
	if c.KeepAlive() != time.Second {
		t.Errorf("keep alive %v, want the server's 1s", c.KeepAlive())
	}
	select {
	case <-c.Done():
	case <-time.After(wait):
		t.Fatal("the connection outlived an unanswered PINGREQ")
	}
	if err := c.Err(); err == nil || !strings.Contains(err.Error(), "no PINGRESP within 300ms") {
		t.Errorf("Err = %v", err)
	}
	if err := c.Disconnect(nil); err == nil {
		t.Error("Disconnect after a lost connection returned nil")
	}
}

// A DISCONNECT from an MQTT 5 broker ends the connection with its reason.
func TestBrokerDisconnect(t *testing.T) {
	f := startFake(t, func(p *peer) {
		p.accept(packet.Properties{})
		p.send(&packet.Disconnect{ReasonCode: packet.SessionTakenOver})
	})
	c := connectTo(t, f.addr, Config{Connect: packet.Connect{Version: packet.V5}})
	select {
	case <-c.Done():
	case <-time.After(wait):
		t.Fatal("still connected")
	}
	if err := c.Err(); err == nil || err.Error() != "the broker sent DISCONNECT: Session taken over (0x8E)" {
		t.Errorf("Err = %v", err)
	}
	// An operation on the ended connection says why it ended.
	if err := c.Publish(context.Background(), &packet.Publish{Topic: "a", QoS: 1}); err == nil ||
		!strings.Contains(err.Error(), "connection lost: the broker sent DISCONNECT") {
		t.Errorf("publish after the end: %v", err)
	}
}

func TestSubackErrors(t *testing.T) {
	for _, version := range []byte{packet.V311, packet.V5} {
		f := startFake(t, func(p *peer) {
			p.accept(packet.Properties{})
			s, _ := p.expect(packet.SUBSCRIBE).(*packet.Subscribe)
			code := packet.NotAuthorized
			if version != packet.V5 {
				code = packet.SubackFailure
			}
			p.send(&packet.Suback{PacketID: s.PacketID, ReasonCodes: []packet.ReasonCode{1, code}})
			p.expect(packet.DISCONNECT)
		})
		c := connectTo(t, f.addr, Config{Connect: packet.Connect{Version: version}})
		s := &packet.Subscribe{Subs: []packet.Subscription{{Filter: "ok", QoS: 1}, {Filter: "secret/#", QoS: 1}}}
		ack, err := c.Subscribe(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		errs := c.SubackErrors(s, ack)
		want := `subscription to "secret/#" refused: Not authorized (0x87)`
		if version != packet.V5 {
			want = `subscription to "secret/#" refused: SUBACK return code 0x80 (failure)`
		}
		if len(errs) != 1 || errs[0].Error() != want {
			t.Errorf("v%d: %v, want %q", version, errs, want)
		}
		if err := c.Disconnect(nil); err != nil {
			t.Error(err)
		}
	}
}
