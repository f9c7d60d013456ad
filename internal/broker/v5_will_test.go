package broker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/packet"
)

// MQTT 5 Last Will and Testament.

// v5Will sets a will on topic with payload; delay > 0 sets the Will Delay
// Interval and expiry > 0 the session expiry.
func v5Will(topic, payload string, delay, expiry uint32) func(*packet.Connect) {
	return func(c *packet.Connect) {
		c.Will = &packet.Will{Topic: topic, Payload: []byte(payload), QoS: 1}
		if delay > 0 {
			c.Will.Props.WillDelay = delay
			c.Will.Props.Set(packet.PropWillDelay)
		}
		if expiry > 0 {
			v5Expiry(expiry)(c)
		}
	}
}

// The will is published when the network connection closes without a
// DISCONNECT [MQTT-3.1.2-8], with its properties passed through: content
// type, user properties in order [MQTT-3.3.2-17], and the message expiry
// interval (§3.1.3.2.4).
func TestV5WillOnAbnormalClose(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	watch, _ := v5Conn(t, addr, "will-watch", true, nil)
	v5Sub(t, watch, "will/#", 1)

	users := []packet.UserProperty{{Key: "k", Value: "1"}, {Key: "a", Value: "x"}, {Key: "k", Value: "2"}}
	r, _ := v5Conn(t, addr, "will-abnormal", true, func(c *packet.Connect) {
		v5Will("will/abnormal", "gone", 0, 0)(c)
		w := &c.Will.Props
		w.ContentType, w.MessageExpiry, w.User = "text/plain", 30, users
		w.PayloadFormat, w.ResponseTopic, w.CorrelationData = 1, "will/response", []byte{0, 1, 2}
		for _, id := range []packet.PropID{packet.PropContentType, packet.PropMessageExpiry, packet.PropUserProperty,
			packet.PropPayloadFormat, packet.PropResponseTopic, packet.PropCorrelationData} {
			w.Set(id)
		}
	})
	v5Drop(t, r)

	m := v5ExpectPublish(t, watch, "will/abnormal", "gone")
	if m.QoS != 1 {
		t.Errorf("will QoS %d, want 1", m.QoS)
	}
	if m.Props.ContentType != "text/plain" || m.Props.PayloadFormat != 1 || m.Props.ResponseTopic != "will/response" ||
		fmt.Sprint(m.Props.CorrelationData) != "[0 1 2]" {
		t.Errorf("will properties not passed through: %+v", m.Props)
	}
	if fmt.Sprint(m.Props.User) != fmt.Sprint(users) {
		t.Errorf("will user properties %v, want %v in order", m.Props.User, users)
	}
	if !m.Props.Has(packet.PropMessageExpiry) || m.Props.MessageExpiry == 0 || m.Props.MessageExpiry > 30 {
		t.Errorf("will message expiry %v/%d, want 1..30", m.Props.Has(packet.PropMessageExpiry), m.Props.MessageExpiry)
	}
}

// The will is published when the broker closes the connection for a
// protocol error too (§3.1.2.5).
func TestV5WillOnProtocolError(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	watch, _ := v5Conn(t, addr, "pe-watch", true, nil)
	v5Sub(t, watch, "will/#", 1)
	r, _ := v5Conn(t, addr, "pe", true, v5Will("will/pe", "violated", 0, 0))
	r.Send(&packet.Connect{Version: packet.V5, ProtocolName: "MQTT", ClientID: "pe"})
	v5ExpectDisconnect(t, r, packet.ProtocolError)
	v5ExpectPublish(t, watch, "will/pe", "violated")
}

// A normal DISCONNECT (reason 0x00) discards the will [MQTT-3.1.2-10],
// [MQTT-3.14.4-3]; reason 0x04 asks for it to be published.
func TestV5WillOnDisconnect(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	watch, _ := v5Conn(t, addr, "dw-watch", true, nil)
	v5Sub(t, watch, "will/#", 1)
	p, _ := v5Conn(t, addr, "dw-pub", true, nil)

	r, _ := v5Conn(t, addr, "normal", true, v5Will("will/normal", "must not appear", 0, 0))
	v5Disconnect(t, r, packet.NormalDisconnection)
	// The broker closed the socket after handling the will; a marker
	// published now is the next message.
	v5Publish1(t, p, v5Pub("will/marker", 1, 1, "marker"))
	v5ExpectPublish(t, watch, "will/marker", "marker")

	r, _ = v5Conn(t, addr, "with-will", true, func(c *packet.Connect) {
		v5Will("will/0x04", "asked for", 0, 0)(c)
		c.Will.Retain = true
	})
	v5Disconnect(t, r, packet.DisconnectWithWill)
	v5ExpectPublish(t, watch, "will/0x04", "asked for")

	// A will with RETAIN 1 is kept as the retained message [MQTT-3.1.2-17].
	late, _ := v5Conn(t, addr, "dw-late", true, nil)
	v5Sub(t, late, "will/0x04", 1)
	if m := v5ExpectPublish(t, late, "will/0x04", "asked for"); !m.Retain {
		t.Fatal("retained will sent without RETAIN to a new subscription")
	}
}

// A will with a delay is not published if the client reconnects to its
// session within the delay [MQTT-3.1.3-9]. A second client with the same
// delay that stays away proves the delay has passed: its will arrives,
// and the first one's never does.
func TestV5WillDelayReconnectInTime(t *testing.T) {
	t.Parallel()
	addr := v5Start(t, broker.Options{})
	watch, _ := v5Conn(t, addr, "wd-watch", true, nil)
	v5Sub(t, watch, "will/#", 1)

	back, _ := v5Conn(t, addr, "comes-back", true, v5Will("will/back", "must not appear", 2, 60))
	v5Drop(t, back)
	back, ack := v5Conn(t, addr, "comes-back", false, v5Expiry(60))
	if !ack.SessionPresent {
		t.Fatal("session not present")
	}

	away, _ := v5Conn(t, addr, "stays-away", true, v5Will("will/away", "away", 2, 60))
	v5Drop(t, away)
	v5ExpectPublish(t, watch, "will/away", "away")
	v5ExpectNothing(t, watch)
	v5ExpectNothing(t, back)
}

// A will with a delay is published once the delay has passed
// [MQTT-3.1.3-9], not at once.
func TestV5WillDelayElapses(t *testing.T) {
	t.Parallel()
	addr := v5Start(t, broker.Options{})
	watch, _ := v5Conn(t, addr, "wde-watch", true, nil)
	v5Sub(t, watch, "will/#", 1)
	r, _ := v5Conn(t, addr, "delayed", true, v5Will("will/delayed", "late", 2, 60))
	v5Drop(t, r)
	start := time.Now()
	v5ExpectNothing(t, watch) // not at once
	v5ExpectPublish(t, watch, "will/delayed", "late")
	if el := time.Since(start); el < 1800*time.Millisecond {
		t.Fatalf("will published after %v, before its 2 s delay", el)
	}
}

// When the session expires before the will delay, the will is published
// at the end of the session (§3.1.3.2.2, [MQTT-3.1.2-8]).
func TestV5WillAtSessionExpiry(t *testing.T) {
	t.Parallel()
	addr := v5Start(t, broker.Options{})
	watch, _ := v5Conn(t, addr, "wse-watch", true, nil)
	v5Sub(t, watch, "will/#", 1)

	// Session expiry 1 s, will delay 30 s.
	r, _ := v5Conn(t, addr, "short-session", true, v5Will("will/session", "session over", 30, 1))
	v5Drop(t, r)
	start := time.Now()
	v5ExpectPublish(t, watch, "will/session", "session over")
	if el := time.Since(start); el < 900*time.Millisecond || el > 10*time.Second {
		t.Fatalf("will published after %v, want at the 1 s session expiry", el)
	}

	// Session expiry 0 ends the session at once, and the will with it.
	r, _ = v5Conn(t, addr, "no-session", true, v5Will("will/nosession", "at once", 30, 0))
	v5Drop(t, r)
	v5ExpectPublish(t, watch, "will/nosession", "at once")
}
