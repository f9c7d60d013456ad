package broker_test

import (
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.golang/paho"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
)

// Helpers shared by the MQTT 5 integration tests (v5_*_test.go).

// v5Wait bounds every wait for a packet or a message.
const v5Wait = 5 * time.Second

// v5Conn dials addr and connects a raw MQTT 5 client. edit, when not nil,
// adjusts the CONNECT (properties, will, credentials) before it is sent.
// The CONNACK must be a success.
func v5Conn(t *testing.T, addr, id string, clean bool, edit func(*packet.Connect)) (*brokertest.Raw, *packet.Connack) {
	t.Helper()
	r := brokertest.Dial(t, addr, packet.V5)
	c := &packet.Connect{ClientID: id, CleanStart: clean, KeepAlive: 60}
	if edit != nil {
		edit(c)
	}
	return r, r.Connect(c)
}

// v5Refused sends a CONNECT that the broker must refuse and returns the
// CONNACK; the broker must then close the connection [MQTT-3.2.2-7].
func v5Refused(t *testing.T, addr string, c *packet.Connect) *packet.Connack {
	t.Helper()
	r := brokertest.Dial(t, addr, packet.V5)
	c.Version, c.ProtocolName = packet.V5, "MQTT"
	r.Send(c)
	ack := brokertest.Expect[*packet.Connack](r)
	if ack.SessionPresent {
		t.Errorf("refused CONNACK has session present set [MQTT-3.2.2-6]")
	}
	r.ExpectClosed(v5Wait)
	return ack
}

// v5Expiry sets the Session Expiry Interval of a CONNECT.
func v5Expiry(secs uint32) func(*packet.Connect) {
	return func(c *packet.Connect) {
		c.Props.SessionExpiry = secs
		c.Props.Set(packet.PropSessionExpiry)
	}
}

// v5Subscribe sends one SUBSCRIBE and checks the SUBACK reason codes.
func v5Subscribe(t *testing.T, r *brokertest.Raw, id uint16, subID uint32, subs []packet.Subscription, want ...packet.ReasonCode) {
	t.Helper()
	s := &packet.Subscribe{PacketID: id, Subs: subs}
	if subID != 0 {
		s.Props.SubscriptionIDs = []uint32{subID}
		s.Props.Set(packet.PropSubscriptionID)
	}
	r.Send(s)
	ack := brokertest.Expect[*packet.Suback](r)
	if ack.PacketID != id {
		t.Fatalf("SUBACK packet id %d, want %d [MQTT-3.8.4-2]", ack.PacketID, id)
	}
	if fmt.Sprint(ack.ReasonCodes) != fmt.Sprint(want) {
		t.Fatalf("SUBACK reason codes %v, want %v", ack.ReasonCodes, want)
	}
}

// v5Sub subscribes to one filter at qos and expects it granted.
func v5Sub(t *testing.T, r *brokertest.Raw, filter string, qos byte) {
	t.Helper()
	v5Subscribe(t, r, 1, 0, []packet.Subscription{{Filter: filter, QoS: qos}}, packet.ReasonCode(qos))
}

// v5Pub builds a PUBLISH.
func v5Pub(topic string, qos byte, id uint16, payload string) *packet.Publish {
	return &packet.Publish{Topic: topic, QoS: qos, PacketID: id, Payload: []byte(payload)}
}

// v5Publish1 sends a QoS 1 PUBLISH and returns the PUBACK reason code.
func v5Publish1(t *testing.T, r *brokertest.Raw, p *packet.Publish) packet.ReasonCode {
	t.Helper()
	p.QoS = 1
	r.Send(p)
	ack := brokertest.Expect[*packet.Ack](r)
	if ack.Kind != packet.PUBACK || ack.PacketID != p.PacketID {
		t.Fatalf("got %s id %d, want PUBACK id %d", ack.Kind, ack.PacketID, p.PacketID)
	}
	return ack.ReasonCode
}

// v5ExpectPublish reads the next packet and requires a PUBLISH on topic
// with payload.
func v5ExpectPublish(t *testing.T, r *brokertest.Raw, topic, payload string) *packet.Publish {
	t.Helper()
	p := brokertest.Expect[*packet.Publish](r)
	if p.Topic != topic || string(p.Payload) != payload {
		t.Fatalf("got PUBLISH %q %q, want %q %q", p.Topic, p.Payload, topic, payload)
	}
	return p
}

// v5Ping sends PINGREQ and returns every packet that arrives before the
// PINGRESP. The broker answers packets of one connection in order, so
// everything it queued for this client before reading the PINGREQ is in
// the result: this is how a test proves that nothing else was sent.
func v5Ping(t *testing.T, r *brokertest.Raw) []packet.Packet {
	t.Helper()
	r.Send(&packet.Pingreq{})
	var got []packet.Packet
	for {
		p, err := r.Read(v5Wait)
		if err != nil {
			t.Fatalf("waiting for PINGRESP: %v (got %d packets before)", err, len(got))
		}
		if _, ok := p.(*packet.Pingresp); ok {
			return got
		}
		got = append(got, p)
	}
}

// v5ExpectNothing requires that no packet is waiting for r (see ping).
func v5ExpectNothing(t *testing.T, r *brokertest.Raw) {
	t.Helper()
	if got := v5Ping(t, r); len(got) > 0 {
		t.Fatalf("unexpected packets: %s", v5Describe(got))
	}
}

// v5ExpectDisconnect requires the broker to send DISCONNECT with code and
// then close the connection [MQTT-4.13.1-1].
func v5ExpectDisconnect(t *testing.T, r *brokertest.Raw, code packet.ReasonCode) {
	t.Helper()
	got := r.ExpectClosed(v5Wait)
	if len(got) == 0 {
		t.Fatalf("connection closed without DISCONNECT, want reason 0x%02X", byte(code))
	}
	d, ok := got[len(got)-1].(*packet.Disconnect)
	if !ok {
		t.Fatalf("last packet before close is %T, want DISCONNECT 0x%02X (got %s)", got[len(got)-1], byte(code), v5Describe(got))
	}
	if d.ReasonCode != code {
		t.Fatalf("DISCONNECT reason 0x%02X, want 0x%02X (%s)", byte(d.ReasonCode), byte(code), d.Props.ReasonString)
	}
}

// v5Disconnect sends a DISCONNECT with code and waits until the broker has
// closed the connection, which it does after detaching the session.
func v5Disconnect(t *testing.T, r *brokertest.Raw, code packet.ReasonCode) {
	t.Helper()
	r.Send(&packet.Disconnect{ReasonCode: code})
	if got := r.ExpectClosed(v5Wait); len(got) > 0 {
		t.Fatalf("packets after DISCONNECT: %s", v5Describe(got))
	}
}

// v5Drop closes a raw client's socket without DISCONNECT (an abnormal
// close) and waits until the broker has noticed: it closes its side once
// the connection's cleanup is done.
func v5Drop(t *testing.T, r *brokertest.Raw) {
	t.Helper()
	tc := r.Conn.(*net.TCPConn)
	// Half-close first so the broker sees EOF, then wait for its close.
	if err := tc.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	r.ExpectClosed(v5Wait)
	r.Conn.Close()
}

func v5Describe(ps []packet.Packet) string {
	s := ""
	for _, p := range ps {
		switch p := p.(type) {
		case *packet.Publish:
			s += fmt.Sprintf("[PUBLISH %q %q qos=%d id=%d] ", p.Topic, p.Payload, p.QoS, p.PacketID)
		case *packet.Disconnect:
			s += fmt.Sprintf("[DISCONNECT 0x%02X] ", byte(p.ReasonCode))
		default:
			s += fmt.Sprintf("[%s] ", p.Type())
		}
	}
	return s
}

// v5Bystander is a publisher and a subscriber connected while a test
// misbehaves on another connection; check proves they still work.
type v5Bystander struct {
	pubc, subc *brokertest.Raw
	n          uint16
}

func v5NewBystander(t *testing.T, addr string) *v5Bystander {
	t.Helper()
	sub, _ := v5Conn(t, addr, "bystander-sub", true, nil)
	v5Sub(t, sub, "bystander/t", 1)
	p, _ := v5Conn(t, addr, "bystander-pub", true, nil)
	return &v5Bystander{pubc: p, subc: sub}
}

func (b *v5Bystander) check(t *testing.T) {
	t.Helper()
	b.n++
	payload := fmt.Sprintf("still here %d", b.n)
	if code := v5Publish1(t, b.pubc, v5Pub("bystander/t", 1, b.n, payload)); code != packet.Success {
		t.Fatalf("bystander PUBACK 0x%02X", byte(code))
	}
	p := v5ExpectPublish(t, b.subc, "bystander/t", payload)
	b.subc.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: p.PacketID})
}

// v5NextIs requires the next message to be topic/payload.
func v5NextIs(t *testing.T, msgs chan *paho.Publish, topic, payload string) *paho.Publish {
	t.Helper()
	m := brokertest.Next(t, msgs)
	if m.Topic != topic || string(m.Payload) != payload {
		t.Fatalf("got %q %q, want %q %q", m.Topic, m.Payload, topic, payload)
	}
	return m
}

var v5IDSeq atomic.Uint32

// v5UniqueID returns a client id no other test uses.
func v5UniqueID(prefix string) string { return fmt.Sprintf("%s-%d", prefix, v5IDSeq.Add(1)) }

// v5Start runs a broker for one test.
func v5Start(t *testing.T, opts broker.Options) string {
	t.Helper()
	_, addr := brokertest.Start(t, opts)
	return addr
}

// v5ExpectAck reads the next packet and requires an Ack of kind for id.
func v5ExpectAck(t *testing.T, r *brokertest.Raw, kind packet.Type, id uint16) *packet.Ack {
	t.Helper()
	p, err := r.Read(v5Wait)
	if err != nil {
		t.Fatalf("waiting for %s %d: %v", kind, id, err)
	}
	a, ok := p.(*packet.Ack)
	if !ok || a.Kind != kind || a.PacketID != id {
		t.Fatalf("got %s, want %s id %d", v5Describe([]packet.Packet{p}), kind, id)
	}
	return a
}

// v5ReadPublish reads the next packet and requires a PUBLISH.
func v5ReadPublish(t *testing.T, r *brokertest.Raw) *packet.Publish {
	t.Helper()
	return brokertest.Expect[*packet.Publish](r)
}

// v5After is the timeout channel for a select on several clients.
func v5After() <-chan time.Time { return time.After(v5Wait) }
