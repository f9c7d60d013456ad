package broker_test

import (
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
)

// MQTT 5 sessions: clean start, resumption, expiry and takeover.

// A session with an expiry interval survives a normal disconnect: clean
// start 0 resumes it with session present 1 and its subscriptions
// [MQTT-3.1.2-5], [MQTT-3.2.2-3]; clean start 1 discards it, with session
// present 0 [MQTT-3.1.2-4], [MQTT-3.2.2-2].
func TestV5CleanStartAndResume(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	p, _ := v5Conn(t, addr, "resume-pub", true, nil)

	s, ack := v5Conn(t, addr, "resume", true, v5Expiry(60))
	if ack.SessionPresent {
		t.Fatal("clean start 1: session present 1 [MQTT-3.2.2-2]")
	}
	v5Sub(t, s, "resume/t", 1)
	v5Sub(t, s, "resume/marker", 1)
	v5Disconnect(t, s, packet.NormalDisconnection)

	s, ack = v5Conn(t, addr, "resume", false, v5Expiry(60))
	if !ack.SessionPresent {
		t.Fatal("clean start 0 after a session with expiry 60: session present 0 [MQTT-3.2.2-3]")
	}
	// The subscription came back with the session: no new SUBSCRIBE.
	v5Publish1(t, p, v5Pub("resume/t", 1, 1, "after resume"))
	m := v5ExpectPublish(t, s, "resume/t", "after resume")
	s.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: m.PacketID})
	v5Disconnect(t, s, packet.NormalDisconnection)

	s, ack = v5Conn(t, addr, "resume", true, v5Expiry(60))
	if ack.SessionPresent {
		t.Fatal("clean start 1 on an existing session: session present 1 [MQTT-3.2.2-2]")
	}
	// Clean start discarded the subscriptions: a publish to resume/t is not
	// delivered; a marker on a fresh subscription is the first thing to come.
	v5Sub(t, s, "resume/marker", 1)
	if code := v5Publish1(t, p, v5Pub("resume/t", 1, 2, "after clean start")); code != packet.NoMatchingSubscribers {
		t.Errorf("PUBACK 0x%02X for a topic nobody subscribes to, want 0x10", byte(code))
	}
	v5Publish1(t, p, v5Pub("resume/marker", 1, 3, "marker"))
	v5ExpectPublish(t, s, "resume/marker", "marker")
}

// A session with expiry interval 0 (the default) ends when the network
// connection closes [MQTT-3.1.2-23]: a reconnect with clean start 0 finds
// no session and none of its subscriptions.
func TestV5SessionExpiryZeroEndsAtDisconnect(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	p, _ := v5Conn(t, addr, "zero-pub", true, nil)

	s, _ := v5Conn(t, addr, "zero", true, nil)
	v5Sub(t, s, "zero/t", 1)
	v5Disconnect(t, s, packet.NormalDisconnection)

	s, ack := v5Conn(t, addr, "zero", false, v5Expiry(60))
	if ack.SessionPresent {
		t.Fatal("session with expiry 0 still present after disconnect [MQTT-3.1.2-23]")
	}
	v5Sub(t, s, "zero/marker", 1)
	v5Publish1(t, p, v5Pub("zero/t", 1, 1, "lost"))
	v5Publish1(t, p, v5Pub("zero/marker", 1, 2, "marker"))
	v5ExpectPublish(t, s, "zero/marker", "marker")

	// The same holds for an abnormal close.
	s2, _ := v5Conn(t, addr, "zero2", true, nil)
	v5Sub(t, s2, "zero/t", 1)
	v5Drop(t, s2)
	if _, ack := v5Conn(t, addr, "zero2", false, nil); ack.SessionPresent {
		t.Fatal("session with expiry 0 still present after an abnormal close [MQTT-3.1.2-23]")
	}
}

// An offline session ends when its expiry interval has passed
// [MQTT-3.1.2-23]. The test waits on a signal, not a clock: a Last Will
// whose delay is longer than the session expiry is published when the
// session ends (§3.1.3.2.2), so its arrival marks the end.
func TestV5SessionExpiryElapses(t *testing.T) {
	t.Parallel()
	addr := v5Start(t, broker.Options{})
	watch := brokertest.SubscriberV5(t, addr, "elapse-watch", "elapse/will", 1)
	p, _ := v5Conn(t, addr, "elapse-pub", true, nil)

	s, _ := v5Conn(t, addr, "elapse", true, func(c *packet.Connect) {
		v5Expiry(1)(c)
		c.Will = &packet.Will{Topic: "elapse/will", Payload: []byte("session ended"), QoS: 1}
		c.Will.Props.WillDelay = 30
		c.Will.Props.Set(packet.PropWillDelay)
	})
	v5Sub(t, s, "elapse/t", 1)
	start := time.Now()
	v5Drop(t, s)

	v5NextIs(t, watch, "elapse/will", "session ended")
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Fatalf("session ended after %v, before its 1 s expiry", el)
	}
	s, ack := v5Conn(t, addr, "elapse", false, v5Expiry(60))
	if ack.SessionPresent {
		t.Fatal("session present after its expiry interval passed [MQTT-3.1.2-23]")
	}
	v5Sub(t, s, "elapse/marker", 1)
	v5Publish1(t, p, v5Pub("elapse/t", 1, 1, "lost"))
	v5Publish1(t, p, v5Pub("elapse/marker", 1, 2, "marker"))
	v5ExpectPublish(t, s, "elapse/marker", "marker")
}

// A CONNECT with the client id of a connected client takes the session
// over: the old connection gets DISCONNECT 0x8E and is closed
// [MQTT-3.1.4-3] (§4.13.2); the new one has the session and its
// subscriptions.
func TestV5SessionTakeover(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	by := v5NewBystander(t, addr)
	p, _ := v5Conn(t, addr, "takeover-pub", true, nil)

	old, _ := v5Conn(t, addr, "takeover", true, v5Expiry(60))
	v5Sub(t, old, "takeover/t", 1)

	nw, ack := v5Conn(t, addr, "takeover", false, v5Expiry(60))
	if !ack.SessionPresent {
		t.Fatal("takeover with clean start 0: session present 0")
	}
	v5ExpectDisconnect(t, old, packet.SessionTakenOver)

	v5Publish1(t, p, v5Pub("takeover/t", 1, 1, "to the new connection"))
	m := v5ExpectPublish(t, nw, "takeover/t", "to the new connection")
	nw.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: m.PacketID})
	v5ExpectNothing(t, nw)
	by.check(t)

	// A takeover with clean start 1 also closes the old connection, and
	// starts a new session.
	nw2, ack := v5Conn(t, addr, "takeover", true, nil)
	if ack.SessionPresent {
		t.Fatal("takeover with clean start 1: session present 1")
	}
	v5ExpectDisconnect(t, nw, packet.SessionTakenOver)
	v5ExpectNothing(t, nw2)
}

// DISCONNECT may change the session expiry interval [MQTT-3.14.2-2]
// (§3.14.2.2.2): setting it to 0 ends a session that CONNECT made
// persistent.
func TestV5DisconnectSetsSessionExpiry(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	s, _ := v5Conn(t, addr, "dse", true, v5Expiry(60))
	v5Sub(t, s, "dse/t", 1)
	d := &packet.Disconnect{}
	d.Props.SessionExpiry = 0
	d.Props.Set(packet.PropSessionExpiry)
	s.Send(d)
	s.ExpectClosed(v5Wait)
	if _, ack := v5Conn(t, addr, "dse", false, v5Expiry(60)); ack.SessionPresent {
		t.Fatal("session present after DISCONNECT set its expiry to 0")
	}
}

// A session taken over by a new connection publishes the old
// connection's will (§3.1.4, [MQTT-3.1.4-3] and §3.1.2.5) unless a will
// delay lets the new connection to the same session cancel it
// [MQTT-3.1.3-9].
func TestV5TakeoverAndWill(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	watch, _ := v5Conn(t, addr, "tw-watch", true, nil)
	v5Sub(t, watch, "tw/#", 1)

	old, _ := v5Conn(t, addr, "tw", true, v5Will("tw/now", "taken over", 0, 60))
	v5Conn(t, addr, "tw", false, v5Expiry(60))
	v5ExpectDisconnect(t, old, packet.SessionTakenOver)
	v5ExpectPublish(t, watch, "tw/now", "taken over")

	old, _ = v5Conn(t, addr, "tw-delay", true, v5Will("tw/delayed", "must not appear", 30, 60))
	nw, _ := v5Conn(t, addr, "tw-delay", false, v5Expiry(60))
	v5ExpectDisconnect(t, old, packet.SessionTakenOver)
	// Were the will still pending, ending the session would publish it
	// now (§3.1.3.2.2): a takeover with clean start 1 ends it.
	v5Conn(t, addr, "tw-delay", true, nil)
	v5ExpectDisconnect(t, nw, packet.SessionTakenOver)
	v5ExpectNothing(t, watch)
}
