package broker_test

import (
	"fmt"
	"testing"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
)

// QoS 2 in both directions with paho: every message arrives exactly once,
// in order, at QoS 2 [MQTT-4.3.3-1], [MQTT-4.3.3-2], and each publish completes (PUBCOMP).
// The delivered QoS is the smaller of the published and granted QoS
// [MQTT-3.8.4-6].
func TestV3QoS2Paho(t *testing.T) {
	_, addr, _ := v3Broker(t, broker.Options{})
	for _, v := range v3Versions {
		t.Run(v.name, func(t *testing.T) {
			topic := "q2/" + v.name
			sub := brokertest.ConnectV3(t, addr, "q2-sub-"+v.name, v.level)
			pub := brokertest.ConnectV3(t, addr, "q2-pub-"+v.name, v.level)
			sub.Sub(t, topic+"/two", 2)
			sub.Sub(t, topic+"/one", 1)
			const n = 50
			toks := make([]mqtt.Token, n)
			for i := range n {
				toks[i] = pub.Publish(topic+"/two", 2, false, fmt.Sprint(i))
			}
			for i, tok := range toks {
				brokertest.Token(t, fmt.Sprint("publish ", i), tok)
			}
			for i := range n {
				m := sub.Next(t)
				if string(m.Payload()) != fmt.Sprint(i) || m.Qos() != 2 || m.Duplicate() {
					t.Fatalf("message %d: got %q QoS %d dup %v", i, m.Payload(), m.Qos(), m.Duplicate())
				}
			}
			pub.Pub(t, topic+"/one", 2, false, "down") // granted 1: delivered at 1
			pub.Pub(t, topic+"/two", 1, false, "low")  // published at 1: delivered at 1
			for _, want := range []string{"down", "low"} {
				if m := sub.Next(t); string(m.Payload()) != want || m.Qos() != 1 {
					t.Fatalf("got %q QoS %d, want %q QoS 1", m.Payload(), m.Qos(), want)
				}
			}
			pub.Pub(t, topic+"/two", 0, false, "marker")
			if m := sub.Next(t); string(m.Payload()) != "marker" {
				t.Fatalf("got %q after the last message, want the marker (a duplicate?)", m.Payload())
			}
		})
	}
}

// Unacknowledged QoS 1 and 2 messages are sent again when a clean session
// 0 client reconnects, with DUP set and the same packet identifiers
// [MQTT-4.4.0-1], [MQTT-3.3.1-1]; a QoS 2 message whose PUBREC was seen
// is continued with PUBREL, not a new PUBLISH [MQTT-4.3.3-1].
func TestV3RedeliveryAfterReconnect(t *testing.T) {
	b, addr, _ := v3Broker(t, broker.Options{})
	for _, v := range v3Versions {
		t.Run(v.name, func(t *testing.T) {
			id, topic := "redeliver-"+v.name, "rd/"+v.name
			r, _ := v3Session(t, addr, v.level, id, false)
			v3SubscribeOK(t, r, topic+"/#", 2)
			if err := b.Publish(topic+"/1", []byte("one"), 1, false); err != nil {
				t.Fatal(err)
			}
			if err := b.Publish(topic+"/2", []byte("two"), 2, false); err != nil {
				t.Fatal(err)
			}
			first := []*packet.Publish{v3ExpectPublish(t, r, topic+"/1", "one"), v3ExpectPublish(t, r, topic+"/2", "two")}
			for _, p := range first {
				if p.Dup {
					t.Fatalf("first delivery of %q has DUP set", p.Payload)
				}
			}
			r.Conn.Close() // no acknowledgements, no DISCONNECT

			r, ack := v3Session(t, addr, v.level, id, false)
			if ack.SessionPresent != (v.level == packet.V311) {
				t.Fatalf("session present %v", ack.SessionPresent)
			}
			for _, want := range first {
				p := v3ExpectPublish(t, r, want.Topic, string(want.Payload))
				if !p.Dup || p.PacketID != want.PacketID || p.QoS != want.QoS {
					t.Fatalf("redelivered %q: dup %v id %d QoS %d, want dup, id %d QoS %d",
						p.Payload, p.Dup, p.PacketID, p.QoS, want.PacketID, want.QoS)
				}
			}
			qos2 := first[1].PacketID
			r.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: first[0].PacketID})
			r.Send(&packet.Ack{Kind: packet.PUBREC, PacketID: qos2})
			v3ExpectAck(t, r, packet.PUBREL, qos2)
			r.Conn.Close() // PUBREC sent, PUBCOMP not

			r, _ = v3Session(t, addr, v.level, id, false)
			v3ExpectAck(t, r, packet.PUBREL, qos2)
			r.Send(&packet.Ack{Kind: packet.PUBCOMP, PacketID: qos2})
			if err := b.Publish(topic+"/1", []byte("after"), 1, false); err != nil {
				t.Fatal(err)
			}
			// Nothing else is resent: the next packet is the new message.
			p := v3ExpectPublish(t, r, topic+"/1", "after")
			if p.Dup {
				t.Fatal("new message has DUP set")
			}
			r.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: p.PacketID})
			v3Disconnect(t, r)

			// Everything was acknowledged: a reconnect resends nothing.
			r, _ = v3Session(t, addr, v.level, id, false)
			if got := v3Ping(t, r); len(got) != 0 {
				t.Fatalf("resent after everything was acknowledged: %s %q", got[0].Topic, got[0].Payload)
			}
		})
	}
}

// A QoS 2 PUBLISH that the client sends again after reconnecting, because
// it had not seen the PUBREC, is acknowledged again but not routed again
// [MQTT-4.3.3-2] (MQTT 5 [MQTT-4.3.3-10]).
func TestV3InboundQoS2Retransmit(t *testing.T) {
	_, addr, _ := v3Broker(t, broker.Options{})
	for _, v := range v3Versions {
		t.Run(v.name, func(t *testing.T) {
			topic := "in2/" + v.name
			sub, _ := v3Session(t, addr, v.level, "in2-sub-"+v.name, true)
			v3SubscribeOK(t, sub, topic, 2)
			id := "in2-pub-" + v.name
			pub, _ := v3Session(t, addr, v.level, id, false)
			pub.Send(&packet.Publish{Topic: topic, QoS: 2, PacketID: 7, Payload: []byte("once")})
			v3ExpectAck(t, pub, packet.PUBREC, 7)
			pub.Conn.Close()

			pub, _ = v3Session(t, addr, v.level, id, false)
			pub.Send(&packet.Publish{Topic: topic, QoS: 2, PacketID: 7, Dup: true, Payload: []byte("once")})
			v3ExpectAck(t, pub, packet.PUBREC, 7)
			pub.Send(&packet.Ack{Kind: packet.PUBREL, PacketID: 7})
			v3ExpectAck(t, pub, packet.PUBCOMP, 7)
			// After PUBCOMP the id is free: the same id is a new message.
			v3Publish(t, pub, &packet.Publish{Topic: topic, QoS: 2, PacketID: 7, Payload: []byte("again")})
			v3Publish(t, pub, &packet.Publish{Topic: topic, Payload: []byte("marker")})

			v3ExpectPublish(t, sub, topic, "once")
			v3ExpectPublish(t, sub, topic, "again")
			v3ExpectPublish(t, sub, topic, "marker")
		})
	}
}

// A PUBREL for an id the broker does not hold is still answered with
// PUBCOMP [MQTT-3.6.4-1] (3.1.1 has no reason code to say it was unknown).
func TestV3PubrelUnknownID(t *testing.T) {
	_, addr, _ := v3Broker(t, broker.Options{})
	r, _ := v3Session(t, addr, packet.V311, "pubrel", true)
	r.Send(&packet.Ack{Kind: packet.PUBREL, PacketID: 99})
	a := brokertest.Expect[*packet.Ack](r)
	if a.Kind != packet.PUBCOMP || a.PacketID != 99 {
		t.Fatalf("got %s %d", a.Kind, a.PacketID)
	}
}
