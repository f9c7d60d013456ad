package broker_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
)

// MQTT 5 subscription options, retained messages, overlapping and
// invalid subscriptions.

// v5Publishes returns the PUBLISH packets of ps, failing on anything else.
func v5Publishes(t *testing.T, ps []packet.Packet) []*packet.Publish {
	t.Helper()
	out := make([]*packet.Publish, 0, len(ps))
	for _, p := range ps {
		m, ok := p.(*packet.Publish)
		if !ok {
			t.Fatalf("unexpected %s", v5Describe(ps))
		}
		out = append(out, m)
	}
	return out
}

// No Local: a client's own messages are not sent back on a subscription
// with the option [MQTT-3.8.3-3]; other subscribers, and the same
// client's subscriptions without it, get them.
func TestV5NoLocal(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	other := brokertest.SubscriberV5(t, addr, "nl-other", "nl/#", 0)
	r, _ := v5Conn(t, addr, "nl", true, nil)
	v5Subscribe(t, r, 1, 0, []packet.Subscription{{Filter: "nl/t", NoLocal: true}, {Filter: "nl/m"}}, 0, 0)

	r.Send(v5Pub("nl/t", 0, 0, "own"))
	r.Send(v5Pub("nl/m", 0, 0, "own marker"))
	raw := v5Ping(t, r)
	if got := v5Publishes(t, raw); len(got) != 1 || got[0].Topic != "nl/m" {
		t.Fatalf("got %s, want only nl/m [MQTT-3.8.3-3]", v5Describe(raw))
	}
	v5NextIs(t, other, "nl/t", "own")
	v5NextIs(t, other, "nl/m", "own marker")
}

// Retain As Published keeps the RETAIN flag of a forwarded message; without
// it the flag is 0 [MQTT-3.3.1-12], [MQTT-3.3.1-13].
func TestV5RetainAsPublished(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	s, _ := v5Conn(t, addr, "rap", true, nil)
	v5Subscribe(t, s, 1, 0, []packet.Subscription{{Filter: "rap/keep", RetainAsPublished: true}, {Filter: "rap/clear"}}, 0, 0)
	p, _ := v5Conn(t, addr, "rap-pub", true, nil)
	for _, topic := range []string{"rap/keep", "rap/clear"} {
		m := v5Pub(topic, 0, 0, topic)
		m.Retain = true
		p.Send(m)
	}
	p.Send(v5Pub("rap/keep", 0, 0, "not retained"))
	if m := v5ExpectPublish(t, s, "rap/keep", "rap/keep"); !m.Retain {
		t.Error("retain as published: RETAIN 0 [MQTT-3.3.1-12]")
	}
	if m := v5ExpectPublish(t, s, "rap/clear", "rap/clear"); m.Retain {
		t.Error("without retain as published: RETAIN 1 [MQTT-3.3.1-13]")
	}
	if m := v5ExpectPublish(t, s, "rap/keep", "not retained"); m.Retain {
		t.Error("a message published without RETAIN arrives with RETAIN 1")
	}
}

// Retain Handling: 0 sends the retained messages on every SUBSCRIBE
// [MQTT-3.3.1-9], 1 only when the subscription is new [MQTT-3.3.1-10],
// 2 never [MQTT-3.3.1-11].
func TestV5RetainHandling(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	p, _ := v5Conn(t, addr, "rh-pub", true, nil)
	m := v5Pub("rh/t", 1, 1, "kept")
	m.Retain = true
	v5Publish1(t, p, m)

	for _, tc := range []struct {
		handling    byte
		first, next int // retained messages on the first and second SUBSCRIBE
	}{{0, 1, 1}, {1, 1, 0}, {2, 0, 0}} {
		t.Run(fmt.Sprint(tc.handling), func(t *testing.T) {
			s, _ := v5Conn(t, addr, v5UniqueID("rh"), true, nil)
			for i, want := range []int{tc.first, tc.next} {
				v5Subscribe(t, s, uint16(i+1), 0, []packet.Subscription{{Filter: "rh/#", QoS: 1, RetainHandling: tc.handling}}, 1)
				got := v5Publishes(t, v5Ping(t, s))
				if len(got) != want {
					t.Fatalf("SUBSCRIBE %d with retain handling %d: %d retained messages, want %d",
						i+1, tc.handling, len(got), want)
				}
				for _, g := range got {
					if g.Topic != "rh/t" || string(g.Payload) != "kept" || !g.Retain {
						t.Fatalf("retained message %q %q retain=%v [MQTT-3.3.1-9]", g.Topic, g.Payload, g.Retain)
					}
					s.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: g.PacketID})
				}
			}
		})
	}
}

// A retained message is stored and sent, with RETAIN 1, to later
// subscribers [MQTT-3.3.1-5], [MQTT-3.3.1-9]; a new one replaces it; a
// retained PUBLISH with an empty payload removes it [MQTT-3.3.1-10],
// [MQTT-3.3.1-11] and is itself forwarded to current subscribers.
func TestV5RetainedLifecycle(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	p, _ := v5Conn(t, addr, "ret-pub", true, nil)
	retained := func(id uint16, payload string) *packet.Publish {
		m := v5Pub("ret/x", 1, id, payload)
		m.Retain = true
		return m
	}
	later := func(want ...string) *brokertest.Raw {
		t.Helper()
		s, _ := v5Conn(t, addr, v5UniqueID("ret-sub"), true, nil)
		v5Sub(t, s, "ret/x", 1)
		got := v5Publishes(t, v5Ping(t, s))
		var payloads []string
		for _, g := range got {
			if !g.Retain {
				t.Fatalf("retained message sent with RETAIN 0 to a new subscription [MQTT-3.3.1-9]")
			}
			payloads = append(payloads, string(g.Payload))
		}
		if !slices.Equal(payloads, want) {
			t.Fatalf("new subscriber got %q, want %q", payloads, want)
		}
		return s
	}

	v5Publish1(t, p, retained(1, "v1"))
	later("v1")
	v5Publish1(t, p, retained(2, "v2"))
	current := later("v2")
	v5Publish1(t, p, retained(3, ""))
	if m := v5ExpectPublish(t, current, "ret/x", ""); m.Retain {
		t.Error("live delivery of the clearing message has RETAIN 1 without retain as published")
	}
	later()
}

// A wildcard subscription gets every matching retained message
// [MQTT-3.3.1-9]; "$" topics are not matched by a leading wildcard
// [MQTT-4.7.2-1].
func TestV5RetainedWildcard(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	p, _ := v5Conn(t, addr, "rw-pub", true, nil)
	for i, topic := range []string{"w/a/1", "w/b/1", "w/b/2", "x/1", "$x/1"} {
		m := v5Pub(topic, 1, uint16(i+1), topic)
		m.Retain = true
		v5Publish1(t, p, m)
	}
	for filter, want := range map[string][]string{
		"w/+/1": {"w/a/1", "w/b/1"},
		"w/#":   {"w/a/1", "w/b/1", "w/b/2"},
		"#":     {"w/a/1", "w/b/1", "w/b/2", "x/1"},
		"+/1":   {"x/1"},
		"$x/#":  {"$x/1"},
	} {
		s, _ := v5Conn(t, addr, v5UniqueID("rw"), true, nil)
		v5Sub(t, s, filter, 0)
		var topics []string
		for _, g := range v5Publishes(t, v5Ping(t, s)) {
			if !g.Retain || g.Topic != string(g.Payload) {
				t.Fatalf("%s: got %q %q retain=%v", filter, g.Topic, g.Payload, g.Retain)
			}
			topics = append(topics, g.Topic)
		}
		slices.Sort(topics)
		if !slices.Equal(topics, want) {
			t.Errorf("%s: retained %q, want %q", filter, topics, want)
		}
	}
}

// A client whose subscriptions overlap gets one copy, at the highest
// granted QoS, carrying the identifiers of every matching subscription
// [MQTT-3.3.4-2], [MQTT-3.3.4-3], [MQTT-3.3.4-5].
func TestV5OverlappingSubscriptions(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	s, _ := v5Conn(t, addr, "ov", true, nil)
	v5Subscribe(t, s, 1, 1, []packet.Subscription{{Filter: "ov/+/c", QoS: 0}}, 0)
	v5Subscribe(t, s, 2, 2, []packet.Subscription{{Filter: "ov/#", QoS: 2}}, 2)
	v5Subscribe(t, s, 3, 0, []packet.Subscription{{Filter: "ov/b/c", QoS: 1}}, 1)
	p, _ := v5Conn(t, addr, "ov-pub", true, nil)
	p.Send(v5Pub("ov/b/c", 2, 1, "once"))
	v5ExpectAck(t, p, packet.PUBREC, 1)
	p.Send(&packet.Ack{Kind: packet.PUBREL, PacketID: 1})
	v5ExpectAck(t, p, packet.PUBCOMP, 1)

	raw := v5Ping(t, s)
	got := v5Publishes(t, raw)
	if len(got) != 1 {
		t.Fatalf("got %s, want one copy [MQTT-3.3.4-2]", v5Describe(raw))
	}
	m := got[0]
	if m.QoS != 2 {
		t.Errorf("QoS %d, want the highest granted, 2", m.QoS)
	}
	ids := slices.Clone(m.Props.SubscriptionIDs)
	slices.Sort(ids)
	if !slices.Equal(ids, []uint32{1, 2}) {
		t.Errorf("subscription identifiers %v, want [1 2] [MQTT-3.3.4-3]", m.Props.SubscriptionIDs)
	}
}

// One invalid filter in a SUBSCRIBE fails alone with 0x8F while the others
// are granted [MQTT-3.8.4-6]; UNSUBSCRIBE of a filter never subscribed
// answers 0x11 [MQTT-3.11.3-1].
func TestV5SubackAndUnsuback(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	s, _ := v5Conn(t, addr, "sa", true, nil)
	v5Subscribe(t, s, 5, 0, []packet.Subscription{
		{Filter: "sa/ok", QoS: 1}, {Filter: "a/#/b", QoS: 1}, {Filter: "sa/+", QoS: 2}, {Filter: "sa/x#", QoS: 0},
	}, 1, packet.TopicFilterInvalid, 2, packet.TopicFilterInvalid)
	p, _ := v5Conn(t, addr, "sa-pub", true, nil)
	v5Publish1(t, p, v5Pub("sa/ok", 1, 1, "works"))
	m := v5ExpectPublish(t, s, "sa/ok", "works")
	s.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: m.PacketID})

	s.Send(&packet.Unsubscribe{PacketID: 6, Filters: []string{"sa/ok", "never/subscribed", "sa/+"}})
	ack := brokertest.Expect[*packet.Unsuback](s)
	want := []packet.ReasonCode{packet.Success, packet.NoSubscriptionExisted, packet.Success}
	if ack.PacketID != 6 || !slices.Equal(ack.ReasonCodes, want) {
		t.Fatalf("UNSUBACK id %d %v, want id 6 %v", ack.PacketID, ack.ReasonCodes, want)
	}
	if code := v5Publish1(t, p, v5Pub("sa/ok", 1, 2, "gone")); code != packet.NoMatchingSubscribers {
		t.Fatalf("PUBACK 0x%02X after unsubscribing, want 0x10", byte(code))
	}
}
