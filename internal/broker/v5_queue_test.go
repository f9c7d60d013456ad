package broker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/packet"
)

// MQTT 5 offline queues and message expiry.

// v5OfflineSub creates a persistent session subscribed to filter at
// QoS 1 and leaves it offline.
func v5OfflineSub(t *testing.T, addr, id, filter string) {
	t.Helper()
	s, _ := v5Conn(t, addr, id, true, v5Expiry(60))
	v5Sub(t, s, filter, 1)
	v5Disconnect(t, s, packet.NormalDisconnection)
}

// Messages published while a persistent session is offline are kept and
// delivered, in order, when it reconnects [MQTT-3.1.2-5], [MQTT-4.6.0-6].
func TestV5OfflineQueueInOrder(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	v5OfflineSub(t, addr, "oq", "oq/t")
	p, _ := v5Conn(t, addr, "oq-pub", true, nil)
	const n = 10
	for i := range n {
		if code := v5Publish1(t, p, v5Pub("oq/t", 1, uint16(i+1), fmt.Sprint(i))); code != packet.Success {
			t.Fatalf("PUBACK 0x%02X for a message to an offline persistent subscriber", byte(code))
		}
	}
	s, _ := v5Conn(t, addr, "oq", false, v5Expiry(60))
	for i := range n {
		m := v5ExpectPublish(t, s, "oq/t", fmt.Sprint(i))
		if m.Dup {
			t.Errorf("queued message %d has DUP 1: it was never sent before [MQTT-3.3.1-3]", i)
		}
		s.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: m.PacketID})
	}
	v5ExpectNothing(t, s)
}

// A full queue drops the newest messages and keeps the first ones, so
// what was accepted stays in order (Options.MaxQueuedMessages).
func TestV5OfflineQueueCapKeepsFirst(t *testing.T) {
	addr := v5Start(t, broker.Options{MaxQueuedMessages: 3})
	v5OfflineSub(t, addr, "cap", "cap/t")
	p, _ := v5Conn(t, addr, "cap-pub", true, nil)
	for i := range 6 {
		v5Publish1(t, p, v5Pub("cap/t", 1, uint16(i+1), fmt.Sprint(i)))
	}
	s, _ := v5Conn(t, addr, "cap", false, v5Expiry(60))
	got := v5Ping(t, s)
	if len(got) != 3 {
		t.Fatalf("got %s, want the first 3 messages", v5Describe(got))
	}
	for i, g := range got {
		m := g.(*packet.Publish)
		if string(m.Payload) != fmt.Sprint(i) {
			t.Fatalf("message %d is %q, want %q: the oldest must be kept", i, m.Payload, fmt.Sprint(i))
		}
		s.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: m.PacketID})
	}
	// Online again, new messages flow.
	v5Publish1(t, p, v5Pub("cap/t", 1, 9, "live"))
	v5ExpectPublish(t, s, "cap/t", "live")
}

// QoS 0 messages are not kept for an offline client by default
// [MQTT-3.1.2-5] (MAY), but are with Options.QueueQoS0.
func TestV5OfflineQoS0(t *testing.T) {
	for _, queue := range []bool{false, true} {
		t.Run(fmt.Sprintf("QueueQoS0=%v", queue), func(t *testing.T) {
			addr := v5Start(t, broker.Options{QueueQoS0: queue})
			v5OfflineSub(t, addr, "q0", "q0/#")
			p, _ := v5Conn(t, addr, "q0-pub", true, nil)
			p.Send(v5Pub("q0/zero", 0, 0, "qos 0"))
			v5Publish1(t, p, v5Pub("q0/marker", 1, 1, "marker")) // same connection: routed after
			s, _ := v5Conn(t, addr, "q0", false, v5Expiry(60))
			if queue {
				if m := v5ExpectPublish(t, s, "q0/zero", "qos 0"); m.QoS != 0 {
					t.Fatalf("queued QoS 0 message arrives at QoS %d", m.QoS)
				}
			}
			v5ExpectPublish(t, s, "q0/marker", "marker")
		})
	}
}

// A message whose expiry interval passes while it waits for an offline
// client is not delivered [MQTT-3.3.2-5]; one still alive is delivered
// with the remaining interval, less than the original [MQTT-3.3.2-6].
func TestV5MessageExpiryOffline(t *testing.T) {
	t.Parallel()
	addr := v5Start(t, broker.Options{})
	v5OfflineSub(t, addr, "exp", "exp/t")
	p, _ := v5Conn(t, addr, "exp-pub", true, nil)
	withExp := func(payload string, secs uint32) *packet.Publish {
		m := v5Pub("exp/t", 1, 0, payload)
		m.Props.MessageExpiry = secs
		m.Props.Set(packet.PropMessageExpiry)
		return m
	}
	short, mid := withExp("short", 1), withExp("mid", 4)
	short.PacketID, mid.PacketID = 1, 2
	v5Publish1(t, p, short)
	v5Publish1(t, p, mid)
	v5Publish1(t, p, v5Pub("exp/t", 1, 3, "forever"))
	// Retained messages expire too (§3.3.2.3.3).
	for i, secs := range []uint32{1, 60} {
		r := v5Pub(fmt.Sprintf("exp/retained/%d", secs), 1, uint16(4+i), "retained")
		r.Retain = true
		r.Props.MessageExpiry = secs
		r.Props.Set(packet.PropMessageExpiry)
		v5Publish1(t, p, r)
	}
	published := time.Now()

	// The expiry is the behaviour under test: let 2 s pass.
	<-time.After(2 * time.Second)

	s, _ := v5Conn(t, addr, "exp", false, v5Expiry(60))
	m := v5ExpectPublish(t, s, "exp/t", "mid") // "short" expired
	if !m.Props.Has(packet.PropMessageExpiry) {
		t.Fatal("delivered message lost its expiry interval [MQTT-3.3.2-6]")
	}
	left := 4*time.Second - time.Since(published)
	if m.Props.MessageExpiry >= 4 || time.Duration(m.Props.MessageExpiry)*time.Second > left+time.Second {
		t.Fatalf("remaining expiry %d s, want the time left (%v), below the original 4 s [MQTT-3.3.2-6]",
			m.Props.MessageExpiry, left)
	}
	m = v5ExpectPublish(t, s, "exp/t", "forever")
	if m.Props.Has(packet.PropMessageExpiry) {
		t.Fatalf("message published without expiry arrives with expiry %d", m.Props.MessageExpiry)
	}

	// A new subscriber gets only the retained message still alive, with
	// its remaining expiry.
	r, _ := v5Conn(t, addr, "exp-retained", true, nil)
	v5Sub(t, r, "exp/retained/+", 1)
	raw := v5Ping(t, r)
	if len(raw) != 1 {
		t.Fatalf("retained: got %s, want only exp/retained/60", v5Describe(raw))
	}
	if m := raw[0].(*packet.Publish); m.Topic != "exp/retained/60" || !m.Retain || m.Props.MessageExpiry >= 60 || m.Props.MessageExpiry < 55 {
		t.Fatalf("retained %q retain=%v expiry %d, want exp/retained/60 with 55..59 s left", m.Topic, m.Retain, m.Props.MessageExpiry)
	}
}

// A message delivered at once carries its expiry interval, never more
// than the publisher set [MQTT-3.3.2-6].
func TestV5MessageExpiryForwarded(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	s, _ := v5Conn(t, addr, "expf", true, nil)
	v5Sub(t, s, "expf/t", 1)
	p, _ := v5Conn(t, addr, "expf-pub", true, nil)
	m := v5Pub("expf/t", 1, 1, "x")
	m.Props.MessageExpiry = 60
	m.Props.Set(packet.PropMessageExpiry)
	v5Publish1(t, p, m)
	got := v5ExpectPublish(t, s, "expf/t", "x")
	if !got.Props.Has(packet.PropMessageExpiry) || got.Props.MessageExpiry == 0 || got.Props.MessageExpiry > 60 {
		t.Fatalf("expiry %v/%d, want 1..60 [MQTT-3.3.2-6]", got.Props.Has(packet.PropMessageExpiry), got.Props.MessageExpiry)
	}
}
