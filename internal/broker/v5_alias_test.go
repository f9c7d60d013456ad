package broker_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
)

// MQTT 5 topic aliases, both directions.

func v5Alias(p *packet.Publish, alias uint16) *packet.Publish {
	p.Props.TopicAlias = alias
	p.Props.Set(packet.PropTopicAlias)
	return p
}

// A client sets an alias with a topic, then publishes with the alias and
// an empty topic; subscribers get the full topic [MQTT-3.3.2-12].
func TestV5TopicAliasFromClient(t *testing.T) {
	addr := v5Start(t, broker.Options{MaxTopicAlias: 4})
	msgs := brokertest.SubscriberV5(t, addr, "ain-sub", "ain/#", 1)
	p, ack := v5Conn(t, addr, "ain-pub", true, nil)
	if ack.Props.TopicAliasMaximum != 4 {
		t.Fatalf("CONNACK topic alias maximum %d, want 4", ack.Props.TopicAliasMaximum)
	}
	v5Publish1(t, p, v5Alias(v5Pub("ain/a", 1, 1, "set"), 1))
	v5Publish1(t, p, v5Alias(v5Pub("", 1, 2, "use"), 1))
	v5Publish1(t, p, v5Alias(v5Pub("ain/b", 1, 3, "remap"), 1)) // a new topic replaces the mapping
	v5Publish1(t, p, v5Alias(v5Pub("", 1, 4, "use again"), 1))

	v5NextIs(t, msgs, "ain/a", "set")
	m := v5NextIs(t, msgs, "ain/a", "use")
	if m.Properties != nil && m.Properties.TopicAlias != nil {
		t.Errorf("alias forwarded to a subscriber that did not allow aliases [MQTT-3.3.2-9]")
	}
	v5NextIs(t, msgs, "ain/b", "remap")
	v5NextIs(t, msgs, "ain/b", "use again")
}

// Bad topic aliases from a client close its connection: alias 0 or above
// the broker's Topic Alias Maximum with 0x94 [MQTT-3.2.2-17],
// [MQTT-3.3.2-8], an alias never set with an empty topic with 0x82
// (§3.3.4). Other clients are not disturbed.
func TestV5TopicAliasInvalid(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*packet.Publish) *packet.Publish
		code   packet.ReasonCode
	}{
		{"zero", func(p *packet.Publish) *packet.Publish { return v5Alias(p, 0) }, packet.TopicAliasInvalid},
		{"above maximum", func(p *packet.Publish) *packet.Publish { return v5Alias(p, 5) }, packet.TopicAliasInvalid},
		{"unknown", func(p *packet.Publish) *packet.Publish { p.Topic = ""; return v5Alias(p, 2) }, packet.ProtocolError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := v5Start(t, broker.Options{MaxTopicAlias: 4})
			by := v5NewBystander(t, addr)
			r, _ := v5Conn(t, addr, "bad-alias", true, nil)
			v5Publish1(t, r, v5Alias(v5Pub("alias/known", 1, 1, "ok"), 1))
			r.Send(tc.mutate(v5Pub("alias/t", 1, 2, "bad")))
			v5ExpectDisconnect(t, r, tc.code)
			by.check(t)
		})
	}
}

// A client that announces a Topic Alias Maximum gets aliases from the
// broker: the first message on a topic carries topic and alias, the next
// ones the alias and an empty topic; the broker uses no more aliases than
// the client allows [MQTT-3.3.2-9], [MQTT-3.3.2-10].
func TestV5TopicAliasToClient(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	s, _ := v5Conn(t, addr, "aout", true, func(c *packet.Connect) {
		c.Props.TopicAliasMaximum = 2
		c.Props.Set(packet.PropTopicAliasMaximum)
	})
	v5Sub(t, s, "aout/#", 0)
	p, _ := v5Conn(t, addr, "aout-pub", true, nil)
	for _, topic := range []string{"aout/x", "aout/x", "aout/y", "aout/z", "aout/y", "aout/z"} {
		v5Publish1(t, p, v5Pub(topic, 1, 1, topic))
	}
	type want struct {
		topic string
		alias uint16 // 0: no alias
	}
	aliases := map[uint16]string{}
	for i, w := range []want{{"aout/x", 1}, {"", 1}, {"aout/y", 2}, {"aout/z", 0}, {"", 2}, {"aout/z", 0}} {
		m := v5ReadPublish(t, s)
		var alias uint16
		if m.Props.Has(packet.PropTopicAlias) {
			alias = m.Props.TopicAlias
		}
		if alias > 2 {
			t.Fatalf("message %d: alias %d above the client's maximum 2 [MQTT-3.3.2-9]", i, alias)
		}
		if m.Topic != w.topic || (w.alias != 0) != (alias != 0) {
			t.Fatalf("message %d: topic %q alias %d, want topic %q alias %d", i, m.Topic, alias, w.topic, w.alias)
		}
		topic := m.Topic
		if topic != "" && alias != 0 {
			aliases[alias] = topic
		} else if topic == "" {
			topic = aliases[alias]
		}
		if string(m.Payload) != topic {
			t.Fatalf("message %d: alias resolves to %q, payload says %q", i, topic, m.Payload)
		}
	}

	// Without a Topic Alias Maximum, no aliases [MQTT-3.3.2-9].
	s2, _ := v5Conn(t, addr, "aout-none", true, nil)
	v5Sub(t, s2, "aout/#", 0)
	v5Publish1(t, p, v5Pub("aout/x", 1, 1, "1"))
	v5Publish1(t, p, v5Pub("aout/x", 1, 1, "2"))
	for range 2 {
		if m := v5ReadPublish(t, s2); m.Topic != "aout/x" || m.Props.Has(packet.PropTopicAlias) {
			t.Fatalf("client without alias maximum got topic %q alias %d", m.Topic, m.Props.TopicAlias)
		}
	}
}

// A message the broker drops for a slow subscriber must not leave a
// topic alias behind that the client never saw: a later message on that
// topic has to carry the topic again [MQTT-3.3.2-12].
func TestV5TopicAliasNotAssignedToDroppedMessage(t *testing.T) {
	b, addr := brokertest.Start(t, broker.Options{MaxOutboundBytes: 100_000})
	s, _ := v5Conn(t, addr, "slow", true, func(c *packet.Connect) {
		c.Props.TopicAliasMaximum = 10
		c.Props.Set(packet.PropTopicAliasMaximum)
	})
	v5Sub(t, s, "slow/#", 0)
	v5Sub(t, s, "sentinel", 1)
	p, _ := v5Conn(t, addr, "slow-pub", true, nil)

	// The subscriber reads nothing: once the socket buffers are full, its
	// outbound queue grows past the limit and QoS 0 messages are dropped.
	// Find a message on a new topic that was dropped (the counter says so
	// once the publisher has its PUBACK).
	big := strings.Repeat("x", 64<<10)
	var id uint16
	dropped := ""
	for k := 0; dropped == ""; k++ {
		if id++; id > 5000 {
			t.Fatal("no message dropped for a subscriber that does not read")
		}
		v5Publish1(t, p, v5Pub("slow/fill", 1, id, big))
		before := b.Stats().MessagesDropped
		if before == 0 {
			continue
		}
		topic := fmt.Sprintf("slow/new-%d", k)
		v5Publish1(t, p, v5Pub(topic, 1, 1, "dropped"))
		if b.Stats().MessagesDropped > before {
			dropped = topic
		}
	}

	// A QoS 1 message is never dropped for slowness: once it has been read,
	// the queue is empty and the next message on the dropped topic goes out.
	v5Publish1(t, p, v5Pub("sentinel", 1, 2, "sentinel"))
	aliases := map[uint16]string{}
	read := func() (*packet.Publish, string) {
		t.Helper()
		m := v5ReadPublish(t, s)
		topic := m.Topic
		if m.Props.Has(packet.PropTopicAlias) {
			if topic != "" {
				aliases[m.Props.TopicAlias] = topic
			} else if topic = aliases[m.Props.TopicAlias]; topic == "" {
				t.Fatalf("PUBLISH %q with alias %d that was never sent with a topic [MQTT-3.3.2-12]",
					m.Payload, m.Props.TopicAlias)
			}
		}
		if topic == dropped && string(m.Payload) == "dropped" {
			t.Fatal("the message counted as dropped arrived")
		}
		return m, topic
	}
	for {
		if m, topic := read(); topic == "sentinel" {
			s.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: m.PacketID})
			break
		}
	}
	v5Publish1(t, p, v5Pub(dropped, 1, 3, "after"))
	if m, topic := read(); topic != dropped || string(m.Payload) != "after" {
		t.Fatalf("got %q on %q, want \"after\" on %s", m.Payload, topic, dropped)
	}
}
