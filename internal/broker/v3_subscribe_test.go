package broker_test

import (
	"fmt"
	"testing"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
)

// A SUBSCRIBE with a bad filter among good ones gets return code 0x80 for
// the bad one and its granted QoS for each other [MQTT-3.9.3-2]
// ([MQTT-3.8.4-5]: one return code per filter, in order); the connection
// stays up and the good filters work.
func TestV3SubackFailure(t *testing.T) {
	b, addr, logs := v3Broker(t, broker.Options{})
	r, _ := v3Session(t, addr, packet.V311, "suback", true)
	codes := v3Subscribe(t, r, 9,
		packet.Subscription{Filter: "ok/1", QoS: 1},
		packet.Subscription{Filter: "bad/#/x", QoS: 0},     // # not last [MQTT-4.7.1-2]
		packet.Subscription{Filter: "bad+", QoS: 2},        // + not a whole level [MQTT-4.7.1-3]
		packet.Subscription{Filter: "$share/g+/x", QoS: 1}, // bad share name
		packet.Subscription{Filter: "ok/+/2", QoS: 2})
	want := []packet.ReasonCode{1, packet.SubackFailure, packet.SubackFailure, packet.SubackFailure, 2}
	for i := range want {
		if codes[i] != want[i] {
			t.Fatalf("SUBACK codes % X, want % X", codes, want)
		}
	}
	logs.wait(t, "subscription refused", "bad/#/x")
	if n := b.Stats().Subscriptions; n != 2 {
		t.Fatalf("%d subscriptions, want 2", n)
	}
	for _, topic := range []string{"ok/1", "ok/x/2"} {
		if err := b.Publish(topic, []byte("m"), 0, false); err != nil {
			t.Fatal(err)
		}
		v3ExpectPublish(t, r, topic, "m")
	}
}

// Topics starting with "$" are not matched by filters starting with a
// wildcard [MQTT-4.7.2-1]: "#" and "+/x" do not get "$SYS/x", "$SYS/#"
// and "$SYS/+" do.
func TestV3DollarTopics(t *testing.T) {
	b, addr, _ := v3Broker(t, broker.Options{})
	for _, v := range v3Versions {
		t.Run(v.name, func(t *testing.T) {
			all, _ := v3Session(t, addr, v.level, "all-"+v.name, true)
			codes := v3Subscribe(t, all, 1, packet.Subscription{Filter: "#"}, packet.Subscription{Filter: "+/x"})
			if codes[0] != 0 || codes[1] != 0 {
				t.Fatalf("SUBACK %v", codes)
			}
			sys, _ := v3Session(t, addr, v.level, "sys-"+v.name, true)
			codes = v3Subscribe(t, sys, 1, packet.Subscription{Filter: "$SYS/#"}, packet.Subscription{Filter: "$SYS/+"})
			if codes[0] != 0 || codes[1] != 0 {
				t.Fatalf("SUBACK %v", codes)
			}
			for _, topic := range []string{"$SYS/x", "$other/x", "m/x"} {
				if err := b.Publish(topic, []byte(topic), 0, false); err != nil {
					t.Fatal(err)
				}
			}
			v3ExpectPublish(t, sys, "$SYS/x", "$SYS/x") // one copy for two filters
			v3ExpectPublish(t, all, "m/x", "m/x")       // the $ topics were skipped
			if got := v3Ping(t, sys); len(got) != 0 {
				t.Fatalf("$SYS/# got %s", got[0].Topic)
			}
			if got := v3Ping(t, all); len(got) != 0 {
				t.Fatalf("# got a second message %s", got[0].Topic)
			}
		})
	}
}

// Shared subscriptions ($share/{group}/{filter}, MQTT 5 section 4.8.2)
// work for 3.1.1 clients too, as in Mosquitto: each message goes to one
// member of the group, a plain subscriber still gets every message, and
// subscribing to a shared filter sends no retained messages (MQTT 5
// section 4.8.2).
func TestV3SharedSubscription(t *testing.T) {
	b, addr, _ := v3Broker(t, broker.Options{})
	if err := b.Publish("sh/t", []byte("retained"), 1, true); err != nil {
		t.Fatal(err)
	}
	members := make([]*brokertest.Raw, 2)
	for i := range members {
		members[i], _ = v3Session(t, addr, packet.V311, fmt.Sprint("member-", i), true)
		v3SubscribeOK(t, members[i], "$share/g/sh/+", 1)
		if got := v3Ping(t, members[i]); len(got) != 0 {
			t.Fatalf("shared subscription got retained %q", got[0].Payload)
		}
	}
	plain := brokertest.ConnectV3(t, addr, "plain", packet.V311)
	plain.Sub(t, "sh/t", 1)
	if m := plain.Next(t); !m.Retained() {
		t.Fatal("plain subscriber did not get the retained message")
	}
	pub := brokertest.ConnectV3(t, addr, "sh-pub", packet.V311)
	const n = 20
	for i := range n {
		pub.Pub(t, "sh/t", 1, false, fmt.Sprint(i)) // PUBACK: routed to every queue
	}
	seen := map[string]int{}
	for i, m := range members {
		got := v3Ping(t, m)
		if len(got) == 0 {
			t.Errorf("member %d got no messages", i)
		}
		for _, p := range got {
			seen[string(p.Payload)]++
			if p.QoS != 1 {
				t.Errorf("member %d got QoS %d", i, p.QoS)
			}
			m.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: p.PacketID})
		}
	}
	for i := range n {
		if c := seen[fmt.Sprint(i)]; c != 1 {
			t.Errorf("message %d delivered %d times to the group, want once", i, c)
		}
	}
	for i := range n {
		if m := plain.Next(t); string(m.Payload()) != fmt.Sprint(i) {
			t.Fatalf("plain subscriber got %q, want %d", m.Payload(), i)
		}
	}
}

// UNSUBSCRIBE is answered with an UNSUBACK of the same packet id, also
// for a filter that was not subscribed [MQTT-3.10.4-4], [MQTT-3.10.4-5],
// and the broker stops sending on that filter [MQTT-3.10.4-2].
func TestV3Unsubscribe(t *testing.T) {
	b, addr, _ := v3Broker(t, broker.Options{})
	for _, v := range v3Versions {
		t.Run(v.name, func(t *testing.T) {
			top := "unsub-" + v.name
			r, _ := v3Session(t, addr, v.level, top, true)
			v3Subscribe(t, r, 1, packet.Subscription{Filter: top + "/a"}, packet.Subscription{Filter: top + "/b"})
			r.Send(&packet.Unsubscribe{PacketID: 5, Filters: []string{top + "/a", top + "/never"}})
			if ack := brokertest.Expect[*packet.Unsuback](r); ack.PacketID != 5 {
				t.Fatalf("UNSUBACK for id %d, want 5", ack.PacketID)
			}
			for _, topic := range []string{top + "/a", top + "/b"} {
				if err := b.Publish(topic, []byte(topic), 0, false); err != nil {
					t.Fatal(err)
				}
			}
			v3ExpectPublish(t, r, top+"/b", top+"/b") // nothing on /a
		})
	}
}
