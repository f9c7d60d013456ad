package broker_test

import (
	"fmt"
	"testing"

	paho "github.com/eclipse/paho.golang/paho"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
)

// MQTT 5 QoS 1 and 2 flows, the inflight window and redelivery.

// QoS 1 and 2 in both directions with a real client: the delivered QoS is
// the lower of the published QoS and the granted one [MQTT-3.8.4-8],
// and the publisher's flows complete with reason 0.
func TestV5QoS1And2WithClient(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	msgs2 := brokertest.SubscriberV5(t, addr, "qos-sub2", "qos/#", 2)
	msgs1 := brokertest.SubscriberV5(t, addr, "qos-sub1", "qos/#", 1)
	c, _ := brokertest.ConnectV5(t, addr, &paho.Connect{ClientID: "qos-pub", CleanStart: true})

	for _, qos := range []byte{1, 2} {
		payload := fmt.Sprintf("at qos %d", qos)
		r := brokertest.PublishV5(t, c, &paho.Publish{Topic: "qos/t", QoS: qos, Payload: []byte(payload)})
		if r.ReasonCode != 0 {
			t.Fatalf("QoS %d publish: reason 0x%02X", qos, r.ReasonCode)
		}
		if m := v5NextIs(t, msgs2, "qos/t", payload); m.QoS != qos {
			t.Errorf("subscriber granted 2 got QoS %d, want %d", m.QoS, qos)
		}
		if m := v5NextIs(t, msgs1, "qos/t", payload); m.QoS != 1 {
			t.Errorf("subscriber granted 1 got QoS %d, want 1 [MQTT-3.8.4-8]", m.QoS)
		}
	}
}

// The QoS 2 protocol flows packet by packet: PUBLISH, PUBREC, PUBREL,
// PUBCOMP from the publisher [MQTT-4.3.3-8..11] and to the subscriber
// [MQTT-4.3.3-1..7], and the QoS 1 flow with PUBACK [MQTT-4.3.2].
func TestV5QoSFlowsRaw(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	s, _ := v5Conn(t, addr, "flow-sub", true, nil)
	v5Sub(t, s, "flow/#", 2)
	p, _ := v5Conn(t, addr, "flow-pub", true, nil)

	// QoS 2 inbound.
	p.Send(v5Pub("flow/2", 2, 10, "two"))
	rec := v5ExpectAck(t, p, packet.PUBREC, 10)
	if rec.ReasonCode != packet.Success {
		t.Fatalf("PUBREC 0x%02X", byte(rec.ReasonCode))
	}
	p.Send(&packet.Ack{Kind: packet.PUBREL, PacketID: 10})
	if comp := v5ExpectAck(t, p, packet.PUBCOMP, 10); comp.ReasonCode != packet.Success {
		t.Fatalf("PUBCOMP 0x%02X", byte(comp.ReasonCode))
	}

	// QoS 2 outbound.
	m := v5ExpectPublish(t, s, "flow/2", "two")
	if m.QoS != 2 || m.PacketID == 0 || m.Dup {
		t.Fatalf("outbound PUBLISH qos=%d id=%d dup=%v", m.QoS, m.PacketID, m.Dup)
	}
	s.Send(&packet.Ack{Kind: packet.PUBREC, PacketID: m.PacketID})
	v5ExpectAck(t, s, packet.PUBREL, m.PacketID)
	s.Send(&packet.Ack{Kind: packet.PUBCOMP, PacketID: m.PacketID})

	// QoS 1 both ways.
	if code := v5Publish1(t, p, v5Pub("flow/1", 1, 11, "one")); code != packet.Success {
		t.Fatalf("PUBACK 0x%02X", byte(code))
	}
	m = v5ExpectPublish(t, s, "flow/1", "one")
	if m.QoS != 1 || m.PacketID == 0 {
		t.Fatalf("outbound PUBLISH qos=%d id=%d", m.QoS, m.PacketID)
	}
	s.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: m.PacketID})
	v5ExpectNothing(t, s)

	// A PUBREL for an id the broker does not hold is still answered, with
	// 0x92 [MQTT-4.3.3-12].
	p.Send(&packet.Ack{Kind: packet.PUBREL, PacketID: 99})
	if comp := v5ExpectAck(t, p, packet.PUBCOMP, 99); comp.ReasonCode != packet.PacketIdentifierNotFound {
		t.Fatalf("PUBCOMP for unknown id: 0x%02X, want 0x92", byte(comp.ReasonCode))
	}
}

// A subscriber never has more unacknowledged QoS 1/2 PUBLISHes than the
// Receive Maximum it sent in CONNECT [MQTT-3.3.4-7], [MQTT-3.3.4-8]; the
// rest follow, in order, as it acknowledges.
func TestV5ReceiveMaximumWindow(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	s, _ := v5Conn(t, addr, "window-sub", true, func(c *packet.Connect) {
		c.Props.ReceiveMaximum = 3
		c.Props.Set(packet.PropReceiveMaximum)
	})
	v5Sub(t, s, "window/t", 1)
	p, _ := v5Conn(t, addr, "window-pub", true, nil)
	const total = 8
	for i := range total {
		v5Publish1(t, p, v5Pub("window/t", 1, uint16(i+1), fmt.Sprint(i)))
	}
	// Every message has been routed (the PUBACKs came back); only three
	// may have been sent.
	var ids []uint16
	collect := func(want int) {
		t.Helper()
		got := v5Ping(t, s)
		if len(got) != want {
			t.Fatalf("got %d PUBLISHes (%s), want %d: window is %d", len(got), v5Describe(got), want, 3)
		}
		for _, g := range got {
			m := g.(*packet.Publish)
			if string(m.Payload) != fmt.Sprint(len(ids)) {
				t.Fatalf("PUBLISH %q out of order, want %d", m.Payload, len(ids))
			}
			ids = append(ids, m.PacketID)
		}
	}
	collect(3)
	// One acknowledgement opens one slot.
	s.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: ids[0]})
	collect(1)
	// Acknowledge the rest as they come.
	for len(ids) < total {
		for _, id := range ids[len(ids)-min(len(ids), 3):] {
			s.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: id})
		}
		before := len(ids)
		collect(min(total-before, 3))
	}
	if len(ids) != total {
		t.Fatalf("got %d messages, want %d", len(ids), total)
	}
}

// Unacknowledged PUBLISHes are sent again after a reconnect with clean
// start 0, with DUP 1 and their original packet ids, in their original
// order [MQTT-4.4.0-1], [MQTT-3.3.1-1], [MQTT-4.6.0-1].
func TestV5RedeliveryAfterReconnect(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	s, _ := v5Conn(t, addr, "redeliver", true, v5Expiry(60))
	v5Sub(t, s, "redeliver/#", 2)
	p, _ := v5Conn(t, addr, "redeliver-pub", true, nil)
	v5Publish1(t, p, v5Pub("redeliver/a", 1, 1, "a"))
	p.Send(v5Pub("redeliver/b", 2, 2, "b"))
	v5ExpectAck(t, p, packet.PUBREC, 2)
	p.Send(&packet.Ack{Kind: packet.PUBREL, PacketID: 2})
	v5ExpectAck(t, p, packet.PUBCOMP, 2)
	v5Publish1(t, p, v5Pub("redeliver/c", 1, 3, "c"))

	var first []*packet.Publish
	for _, want := range []string{"a", "b", "c"} {
		m := v5ExpectPublish(t, s, "redeliver/"+want, want)
		if m.Dup {
			t.Fatalf("first delivery of %q has DUP 1 [MQTT-3.3.1-3]", want)
		}
		first = append(first, m)
	}
	v5Drop(t, s)

	s, ack := v5Conn(t, addr, "redeliver", false, v5Expiry(60))
	if !ack.SessionPresent {
		t.Fatal("session not present")
	}
	for _, f := range first {
		m := v5ExpectPublish(t, s, f.Topic, string(f.Payload))
		if !m.Dup || m.PacketID != f.PacketID || m.QoS != f.QoS {
			t.Fatalf("redelivered %q dup=%v id=%d qos=%d, want dup=true id=%d qos=%d [MQTT-4.4.0-1]",
				m.Payload, m.Dup, m.PacketID, m.QoS, f.PacketID, f.QoS)
		}
	}
	s.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: first[0].PacketID})
	s.Send(&packet.Ack{Kind: packet.PUBREC, PacketID: first[1].PacketID})
	v5ExpectAck(t, s, packet.PUBREL, first[1].PacketID)
	s.Send(&packet.Ack{Kind: packet.PUBCOMP, PacketID: first[1].PacketID})
	s.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: first[2].PacketID})
	v5ExpectNothing(t, s)

	// Acknowledged messages are not sent again.
	v5Drop(t, s)
	s, _ = v5Conn(t, addr, "redeliver", false, v5Expiry(60))
	v5ExpectNothing(t, s)
}

// A QoS 2 PUBLISH whose PUBREC was sent but whose PUBREL never came is
// delivered exactly once although the publisher sends it again, with DUP,
// after reconnecting [MQTT-4.3.3-10], [MQTT-4.4.0-1].
func TestV5InboundQoS2ResumedExactlyOnce(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	msgs := brokertest.SubscriberV5(t, addr, "once-sub", "once/#", 2)

	p, _ := v5Conn(t, addr, "once-pub", true, v5Expiry(60))
	p.Send(v5Pub("once/t", 2, 7, "exactly once"))
	v5ExpectAck(t, p, packet.PUBREC, 7)
	v5Drop(t, p)

	p, ack := v5Conn(t, addr, "once-pub", false, v5Expiry(60))
	if !ack.SessionPresent {
		t.Fatal("publisher session not present")
	}
	again := v5Pub("once/t", 2, 7, "exactly once")
	again.Dup = true
	p.Send(again)
	if rec := v5ExpectAck(t, p, packet.PUBREC, 7); rec.ReasonCode != packet.Success {
		t.Fatalf("PUBREC for the resent PUBLISH: 0x%02X", byte(rec.ReasonCode))
	}
	p.Send(&packet.Ack{Kind: packet.PUBREL, PacketID: 7})
	if comp := v5ExpectAck(t, p, packet.PUBCOMP, 7); comp.ReasonCode != packet.Success {
		t.Fatalf("PUBCOMP 0x%02X", byte(comp.ReasonCode))
	}
	// The id is free again: a new message with id 7 is a new message.
	p.Send(v5Pub("once/marker", 2, 7, "marker"))
	v5ExpectAck(t, p, packet.PUBREC, 7)
	p.Send(&packet.Ack{Kind: packet.PUBREL, PacketID: 7})
	v5ExpectAck(t, p, packet.PUBCOMP, 7)

	v5NextIs(t, msgs, "once/t", "exactly once")
	v5NextIs(t, msgs, "once/marker", "marker")
}

// An outbound QoS 2 delivery whose PUBREC the broker received goes on
// after a reconnect with PUBREL, not with the PUBLISH again
// [MQTT-4.4.0-1], [MQTT-4.3.3-4].
func TestV5OutboundQoS2ResumesWithPubrel(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	s, _ := v5Conn(t, addr, "rel-sub", true, v5Expiry(60))
	v5Sub(t, s, "rel/t", 2)
	p, _ := v5Conn(t, addr, "rel-pub", true, nil)
	p.Send(v5Pub("rel/t", 2, 1, "q2"))
	v5ExpectAck(t, p, packet.PUBREC, 1)
	p.Send(&packet.Ack{Kind: packet.PUBREL, PacketID: 1})
	v5ExpectAck(t, p, packet.PUBCOMP, 1)

	m := v5ExpectPublish(t, s, "rel/t", "q2")
	s.Send(&packet.Ack{Kind: packet.PUBREC, PacketID: m.PacketID})
	v5ExpectAck(t, s, packet.PUBREL, m.PacketID)
	v5Drop(t, s) // no PUBCOMP

	s, _ = v5Conn(t, addr, "rel-sub", false, v5Expiry(60))
	v5ExpectAck(t, s, packet.PUBREL, m.PacketID)
	s.Send(&packet.Ack{Kind: packet.PUBCOMP, PacketID: m.PacketID})
	v5ExpectNothing(t, s)
}

// A client may not have more unreleased QoS 2 PUBLISHes than the broker's
// Receive Maximum: one more is a protocol error, 0x93 [MQTT-3.3.4-9]
// (§3.3.4).
func TestV5InboundReceiveMaximum(t *testing.T) {
	addr := v5Start(t, broker.Options{MaxInflight: 2})
	by := v5NewBystander(t, addr)
	p, ack := v5Conn(t, addr, "rm-in", true, nil)
	if ack.Props.ReceiveMaximum != 2 {
		t.Fatalf("CONNACK receive maximum %d, want 2", ack.Props.ReceiveMaximum)
	}
	for id := uint16(1); id <= 2; id++ {
		p.Send(v5Pub("rm/t", 2, id, "x"))
		v5ExpectAck(t, p, packet.PUBREC, id)
	}
	// Releasing one frees its slot.
	p.Send(&packet.Ack{Kind: packet.PUBREL, PacketID: 1})
	v5ExpectAck(t, p, packet.PUBCOMP, 1)
	p.Send(v5Pub("rm/t", 2, 3, "x"))
	v5ExpectAck(t, p, packet.PUBREC, 3)
	// QoS 1 is acknowledged at once and does not count here.
	v5Publish1(t, p, v5Pub("rm/t", 1, 4, "x"))
	p.Send(v5Pub("rm/t", 2, 5, "one too many"))
	v5ExpectDisconnect(t, p, packet.ReceiveMaximumExceeded)
	by.check(t)
}
