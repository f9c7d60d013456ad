package broker_test

import (
	"fmt"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
)

// A clean session 0 session keeps its subscriptions and the QoS 1 and 2
// messages published while it was offline; QoS 0 ones are not kept
// (QueueQoS0 is off) [MQTT-3.1.2-4], [MQTT-3.1.2-5]. Clean session 1 then
// discards it all [MQTT-3.1.2-6].
func TestV3PersistentSession(t *testing.T) {
	b, addr, _ := v3Broker(t, broker.Options{})
	for _, v := range v3Versions {
		t.Run(v.name, func(t *testing.T) {
			id, topic := "persist-"+v.name, "ps/"+v.name
			r, ack := v3Session(t, addr, v.level, id, false)
			if ack.SessionPresent {
				t.Fatal("session present for a new session")
			}
			codes := v3Subscribe(t, r, 1,
				packet.Subscription{Filter: topic + "/0", QoS: 0},
				packet.Subscription{Filter: topic + "/1", QoS: 1},
				packet.Subscription{Filter: topic + "/2", QoS: 2})
			if codes[0] != 0 || codes[1] != 1 || codes[2] != 2 {
				t.Fatalf("SUBACK %v", codes)
			}
			v3Disconnect(t, r)

			// Offline: QoS 1 and 2 are queued, QoS 0 is not.
			for _, m := range []struct {
				sub     string
				qos     byte
				payload string
			}{{"/1", 1, "one"}, {"/0", 0, "zero"}, {"/2", 2, "two"}, {"/1", 1, "three"}} {
				if err := b.Publish(topic+m.sub, []byte(m.payload), m.qos, false); err != nil {
					t.Fatal(err)
				}
			}

			r, ack = v3Session(t, addr, v.level, id, false)
			if ack.SessionPresent != (v.level == packet.V311) {
				t.Fatalf("session present %v on resume", ack.SessionPresent)
			}
			var got []*packet.Publish
			for _, want := range []struct {
				sub, payload string
				qos          byte
			}{{"/1", "one", 1}, {"/2", "two", 2}, {"/1", "three", 1}} {
				p := v3ExpectPublish(t, r, topic+want.sub, want.payload)
				if p.QoS != want.qos || p.Dup || p.Retain {
					t.Fatalf("%s: QoS %d dup %v retain %v", want.payload, p.QoS, p.Dup, p.Retain)
				}
				got = append(got, p)
			}
			for _, p := range got {
				if p.QoS == 1 {
					r.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: p.PacketID})
					continue
				}
				r.Send(&packet.Ack{Kind: packet.PUBREC, PacketID: p.PacketID})
				v3ExpectAck(t, r, packet.PUBREL, p.PacketID)
				r.Send(&packet.Ack{Kind: packet.PUBCOMP, PacketID: p.PacketID})
			}
			// The subscriptions survived: a live QoS 0 message arrives, and
			// it is the next packet, so "zero" was not queued.
			if err := b.Publish(topic+"/0", []byte("live"), 0, false); err != nil {
				t.Fatal(err)
			}
			v3ExpectPublish(t, r, topic+"/0", "live")
			v3Disconnect(t, r)

			// Queued while offline, then discarded by clean session 1.
			if err := b.Publish(topic+"/1", []byte("stale"), 1, false); err != nil {
				t.Fatal(err)
			}
			r, ack = v3Session(t, addr, v.level, id, true)
			if ack.SessionPresent {
				t.Fatal("session present with clean session 1 [MQTT-3.2.2-1]")
			}
			v3SubscribeOK(t, r, topic+"/marker", 0)
			if err := b.Publish(topic+"/1", []byte("unsubscribed"), 1, false); err != nil {
				t.Fatal(err)
			}
			if err := b.Publish(topic+"/marker", []byte("marker"), 0, false); err != nil {
				t.Fatal(err)
			}
			// Neither "stale" nor the message on the old subscription.
			v3ExpectPublish(t, r, topic+"/marker", "marker")
			v3Disconnect(t, r)
		})
	}
}

// More QoS 1 messages queued for an offline session than fit the inflight
// window all arrive, in order, when the client comes back [MQTT-4.6.0-6]:
// the window refills as paho acknowledges.
func TestV3OfflineQueueOrder(t *testing.T) {
	for _, v := range v3Versions {
		t.Run(v.name, func(t *testing.T) {
			b, addr, _ := v3Broker(t, broker.Options{MaxInflight: 8})
			id, topic := "queue-"+v.name, "oq/"+v.name
			persistent := func(o *mqtt.ClientOptions) { o.SetCleanSession(false) }
			c := brokertest.ConnectV3(t, addr, id, v.level, persistent)
			c.Sub(t, topic, 1)
			c.Disconnect(250)
			v3Eventually(t, "the client to go offline", func() bool { return b.Stats().Connections == 0 })
			const n = 100
			for i := range n {
				if err := b.Publish(topic, []byte(fmt.Sprint(i)), 1, false); err != nil {
					t.Fatal(err)
				}
			}
			c = brokertest.ConnectV3(t, addr, id, v.level, persistent)
			for i := range n {
				if m := c.Next(t); string(m.Payload()) != fmt.Sprint(i) || m.Qos() != 1 {
					t.Fatalf("message %d: got %q QoS %d", i, m.Payload(), m.Qos())
				}
			}
		})
	}
}

// Options.SessionExpiry limits how long a 3.1.1 persistent session lives
// offline (3.1.1 itself has no expiry; this mirrors Mosquitto's
// persistent_client_expiration).
func TestV3SessionExpiry(t *testing.T) {
	t.Run("short expiry ends the session", func(t *testing.T) {
		b, addr, logs := v3Broker(t, broker.Options{SessionExpiry: 200 * time.Millisecond})
		r, _ := v3Session(t, addr, packet.V311, "short", false)
		v3SubscribeOK(t, r, "exp/t", 1)
		v3Disconnect(t, r)
		v3Eventually(t, "session expiry", func() bool { return b.Stats().Subscriptions == 0 })
		logs.wait(t, "session expired", "client=short")
		if err := b.Publish("exp/t", []byte("lost"), 1, false); err != nil {
			t.Fatal(err)
		}
		r, ack := v3Session(t, addr, packet.V311, "short", false)
		if ack.SessionPresent {
			t.Fatal("session present after the session expired")
		}
		if got := v3Ping(t, r); len(got) != 0 {
			t.Fatalf("expired session delivered %s %q", got[0].Topic, got[0].Payload)
		}
	})
	t.Run("long expiry keeps the session", func(t *testing.T) {
		b, addr, _ := v3Broker(t, broker.Options{SessionExpiry: time.Minute})
		r, _ := v3Session(t, addr, packet.V311, "long", false)
		v3SubscribeOK(t, r, "exp/t", 1)
		v3Disconnect(t, r)
		if err := b.Publish("exp/t", []byte("kept"), 1, false); err != nil {
			t.Fatal(err)
		}
		r, ack := v3Session(t, addr, packet.V311, "long", false)
		if !ack.SessionPresent {
			t.Fatal("session not present")
		}
		v3ExpectPublish(t, r, "exp/t", "kept")
	})
	t.Run("clean session 1 is not kept", func(t *testing.T) {
		b, addr, _ := v3Broker(t, broker.Options{SessionExpiry: time.Minute})
		r, _ := v3Session(t, addr, packet.V311, "clean", true)
		v3SubscribeOK(t, r, "exp/t", 1)
		v3Disconnect(t, r)
		if n := b.Stats().Subscriptions; n != 0 {
			t.Fatalf("%d subscriptions left by a clean session", n)
		}
	})
}

// A client subscribed to "a/#" at QoS 0 and "a/b" at QoS 2 gets one copy of
// a message on a/b, at the higher QoS [MQTT-3.3.5-1] (3.1.1 allows one
// copy per subscription too; baram, like Mosquitto, sends one).
func TestV3OverlappingSubscriptions(t *testing.T) {
	_, addr, _ := v3Broker(t, broker.Options{})
	for _, v := range v3Versions {
		t.Run(v.name, func(t *testing.T) {
			// sub has the higher QoS on the narrower filter, sub2 on the wider.
			sub, _ := v3Session(t, addr, v.level, "overlap-sub-"+v.name, true)
			codes := v3Subscribe(t, sub, 1,
				packet.Subscription{Filter: "a/#", QoS: 0},
				packet.Subscription{Filter: "a/b", QoS: 2})
			if codes[0] != 0 || codes[1] != 2 {
				t.Fatalf("SUBACK %v", codes)
			}
			sub2, _ := v3Session(t, addr, v.level, "overlap-sub2-"+v.name, true)
			codes = v3Subscribe(t, sub2, 1,
				packet.Subscription{Filter: "a/+", QoS: 2},
				packet.Subscription{Filter: "a/b", QoS: 0})
			if codes[0] != 2 || codes[1] != 0 {
				t.Fatalf("SUBACK %v", codes)
			}
			pub, _ := v3Session(t, addr, v.level, "overlap-pub-"+v.name, true)
			for i, qos := range []byte{2, 1, 0} {
				v3Publish(t, pub, &packet.Publish{Topic: "a/b", QoS: qos, PacketID: uint16(i + 1), Payload: []byte{'0' + qos}})
			}
			v3Publish(t, pub, &packet.Publish{Topic: "a/marker", Payload: []byte("marker")})
			for _, r := range []*brokertest.Raw{sub, sub2} {
				for _, qos := range []byte{2, 1, 0} {
					p := v3ExpectPublish(t, r, "a/b", string([]byte{'0' + qos}))
					if p.QoS != qos {
						t.Fatalf("published at QoS %d, delivered at %d", qos, p.QoS)
					}
				}
				// One copy each: the next packet is the marker.
				v3ExpectPublish(t, r, "a/marker", "marker")
			}
		})
	}
}

// The CONNACK is the first packet the broker sends on a connection
// [MQTT-3.2.0-1], even when messages for the resumed session's
// subscriptions are being published while the client connects.
func TestV3ConnackFirstUnderLoad(t *testing.T) {
	b, addr, _ := v3Broker(t, broker.Options{})
	r, _ := v3Session(t, addr, packet.V311, "busy", false)
	v3SubscribeOK(t, r, "busy/t", 0)
	v3Disconnect(t, r)

	stop, done := make(chan struct{}), make(chan struct{})
	defer func() { close(stop); <-done }()
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			b.Publish("busy/t", []byte("now"), 0, false)
		}
	}()
	for i := range 300 {
		r := brokertest.Dial(t, addr, packet.V311)
		r.SendBytes(v3ConnectBytes("MQTT", 4, 0, 30, v3Str("busy")))
		p, err := r.Read(v3Timeout)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		if _, ok := p.(*packet.Connack); !ok {
			t.Fatalf("connection %d: first packet is %s, not CONNACK [MQTT-3.2.0-1]", i, p.Type())
		}
		r.Conn.Close()
	}
}
