package broker_test

import (
	"testing"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
)

// MQTT 5 protocol violations after CONNECT: the broker sends DISCONNECT
// with the reason code and closes the connection [MQTT-4.13.1-1]; other
// clients connected at the same time are not disturbed.

// v5Encode encodes p for MQTT 5, failing the test if it cannot.
func v5Encode(t *testing.T, p packet.Packet) []byte {
	t.Helper()
	b, err := packet.Append(nil, p, packet.V5)
	if err != nil {
		t.Fatalf("encode %s: %v", p.Type(), err)
	}
	return b
}

func TestV5BadInput(t *testing.T) {
	cases := []struct {
		name  string
		bytes func(t *testing.T) []byte
		code  packet.ReasonCode
	}{
		{"second CONNECT [MQTT-3.1.0-2]", func(t *testing.T) []byte {
			return v5Encode(t, &packet.Connect{Version: packet.V5, ProtocolName: "MQTT", ClientID: "again", CleanStart: true})
		}, packet.ProtocolError},
		{"PUBLISH to a wildcard topic [MQTT-3.3.2-2]", func(t *testing.T) []byte {
			return v5Encode(t, v5Pub("bad/+", 1, 1, "x"))
		}, packet.TopicNameInvalid},
		{"PUBLISH to a # topic [MQTT-3.3.2-2]", func(t *testing.T) []byte {
			return v5Encode(t, v5Pub("bad/#", 0, 0, "x"))
		}, packet.TopicNameInvalid},
		{"PUBLISH with an empty topic and no alias (§3.3.4)", func(t *testing.T) []byte {
			return v5Encode(t, v5Pub("", 0, 0, "x"))
		}, packet.ProtocolError},
		{"PUBLISH QoS 1 with packet id 0 [MQTT-2.2.1-3]", func(t *testing.T) []byte {
			return v5Encode(t, v5Pub("bad/t", 1, 0, "x"))
		}, packet.ProtocolError},
		{"PUBLISH QoS 3 [MQTT-3.3.1-4]", func(t *testing.T) []byte {
			return []byte{0x36, 0x07, 0x00, 0x01, 'a', 0x00, 0x01, 0x00, 'x'}
		}, packet.MalformedPacket},
		{"PUBLISH with DUP and QoS 0 [MQTT-3.3.1-2]", func(t *testing.T) []byte {
			return []byte{0x38, 0x05, 0x00, 0x01, 'a', 0x00, 'x'}
		}, packet.MalformedPacket},
		{"PUBLISH topic not UTF-8 [MQTT-1.5.4-1]", func(t *testing.T) []byte {
			return []byte{0x30, 0x05, 0x00, 0x02, 0xC3, 0x28, 0x00}
		}, packet.MalformedPacket},
		{"SUBSCRIBE with no filters [MQTT-3.8.3-2]", func(t *testing.T) []byte {
			return v5Encode(t, &packet.Subscribe{PacketID: 1})
		}, packet.ProtocolError},
		{"SUBSCRIBE with reserved flags 0 [MQTT-3.8.1-1]", func(t *testing.T) []byte {
			b := v5Encode(t, &packet.Subscribe{PacketID: 1, Subs: []packet.Subscription{{Filter: "a"}}})
			b[0] = 0x80
			return b
		}, packet.MalformedPacket},
		{"SUBSCRIBE with reserved option bits [MQTT-3.8.3-5]", func(t *testing.T) []byte {
			b := v5Encode(t, &packet.Subscribe{PacketID: 1, Subs: []packet.Subscription{{Filter: "a"}}})
			b[len(b)-1] |= 0xC0
			return b
		}, packet.MalformedPacket},
		{"SUBSCRIBE shared with no local [MQTT-3.8.3-4]", func(t *testing.T) []byte {
			return v5Encode(t, &packet.Subscribe{PacketID: 1, Subs: []packet.Subscription{{Filter: "$share/g/a", NoLocal: true}}})
		}, packet.ProtocolError},
		{"PINGREQ with reserved flags [MQTT-2.1.3-1]", func(t *testing.T) []byte {
			return []byte{0xC1, 0x00}
		}, packet.MalformedPacket},
		{"PUBREL with flags 0 [MQTT-3.6.1-1]", func(t *testing.T) []byte {
			return []byte{0x60, 0x02, 0x00, 0x01}
		}, packet.MalformedPacket},
		{"reserved packet type 0", func(t *testing.T) []byte {
			return []byte{0x00, 0x00}
		}, packet.MalformedPacket},
		{"remaining length over four bytes [MQTT-1.5.5-1]", func(t *testing.T) []byte {
			return []byte{0xC0, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}
		}, packet.MalformedPacket},
		{"CONNACK from a client", func(t *testing.T) []byte {
			return v5Encode(t, &packet.Connack{})
		}, packet.ProtocolError},
		{"AUTH without an authentication method (§4.12)", func(t *testing.T) []byte {
			return v5Encode(t, &packet.Auth{ReasonCode: packet.ReAuthenticate})
		}, packet.ProtocolError},
		{"DISCONNECT raising session expiry from 0 [MQTT-3.14.2-2]", func(t *testing.T) []byte {
			d := &packet.Disconnect{}
			d.Props.SessionExpiry = 60
			d.Props.Set(packet.PropSessionExpiry)
			return v5Encode(t, d)
		}, packet.ProtocolError},
	}
	addr := v5Start(t, broker.Options{})
	by := v5NewBystander(t, addr)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := v5Conn(t, addr, v5UniqueID("bad"), true, nil)
			r.SendBytes(tc.bytes(t))
			v5ExpectDisconnect(t, r, tc.code)
			by.check(t)
		})
	}
}

// The first packet must be CONNECT [MQTT-3.1.0-1]; anything else closes
// the connection without an answer, since there is no CONNACK to carry
// a reason and DISCONNECT may not come before it [MQTT-3.2.0-1].
func TestV5FirstPacketNotConnect(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	by := v5NewBystander(t, addr)
	r := brokertest.Dial(t, addr, packet.V5)
	r.SendBytes(v5Encode(t, v5Pub("early/t", 0, 0, "x")))
	if got := r.ExpectClosed(v5Wait); len(got) > 0 {
		t.Fatalf("got %s before the close, want nothing", v5Describe(got))
	}
	by.check(t)
}

// CONNECT with an Authentication Method the broker does not support is
// refused with CONNACK 0x8C (§4.12, [MQTT-4.12.0-1]).
func TestV5AuthMethodRefused(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	by := v5NewBystander(t, addr)
	c := &packet.Connect{ClientID: "auth", CleanStart: true}
	c.Props.AuthMethod = "SCRAM-SHA-256"
	c.Props.AuthData = []byte("client-first")
	c.Props.Set(packet.PropAuthMethod)
	c.Props.Set(packet.PropAuthData)
	if ack := v5Refused(t, addr, c); ack.ReasonCode != packet.BadAuthenticationMethod {
		t.Fatalf("CONNACK 0x%02X, want 0x8C", byte(ack.ReasonCode))
	}
	by.check(t)
}

// Username and password against Options.Users with anonymous access off:
// good credentials connect; bad ones get CONNACK 0x86; no username gets
// 0x87 [MQTT-3.1.4-2] (§3.2.2.2).
func TestV5UsernamePassword(t *testing.T) {
	addr := v5Start(t, broker.Options{Users: map[string]string{"alice": "secret"}})
	creds := func(user string, pass *string) *packet.Connect {
		c := &packet.Connect{ClientID: v5UniqueID("user"), CleanStart: true}
		if user != "" {
			c.HasUsername, c.Username = true, user
		}
		if pass != nil {
			c.HasPassword, c.Password = true, []byte(*pass)
		}
		return c
	}
	str := func(s string) *string { return &s }

	good := brokertest.Dial(t, addr, packet.V5)
	good.Connect(creds("alice", str("secret")))
	v5Sub(t, good, "users/t", 0)

	for _, tc := range []struct {
		name string
		c    *packet.Connect
		code packet.ReasonCode
	}{
		{"wrong password", creds("alice", str("wrong")), packet.BadUserNameOrPassword},
		{"unknown user", creds("mallory", str("secret")), packet.BadUserNameOrPassword},
		{"no password", creds("alice", nil), packet.BadUserNameOrPassword},
		{"empty password", creds("alice", str("")), packet.BadUserNameOrPassword},
		{"no username", creds("", nil), packet.NotAuthorized},
	} {
		if ack := v5Refused(t, addr, tc.c); ack.ReasonCode != tc.code {
			t.Errorf("%s: CONNACK 0x%02X, want 0x%02X", tc.name, byte(ack.ReasonCode), byte(tc.code))
		}
	}
	v5ExpectNothing(t, good)
}

// A v5 CONNECT the broker cannot accept is answered with a CONNACK that
// carries the reason, then closed [MQTT-3.2.2-7] (§4.13.1): a property
// value the protocol forbids is a protocol error (§3.1.2.11).
func TestV5ConnectPropertyErrors(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	by := v5NewBystander(t, addr)
	for _, tc := range []struct {
		name string
		set  func(*packet.Properties)
	}{
		{"receive maximum 0", func(p *packet.Properties) { p.ReceiveMaximum = 0; p.Set(packet.PropReceiveMaximum) }},
		{"maximum packet size 0", func(p *packet.Properties) { p.MaximumPacketSize = 0; p.Set(packet.PropMaximumPacketSize) }},
		{"request problem information 2", func(p *packet.Properties) { p.RequestProblemInfo = 2; p.Set(packet.PropRequestProblemInfo) }},
	} {
		c := &packet.Connect{ClientID: v5UniqueID("cpe"), CleanStart: true}
		tc.set(&c.Props)
		if ack := v5Refused(t, addr, c); ack.ReasonCode != packet.ProtocolError && ack.ReasonCode != packet.MalformedPacket {
			t.Errorf("%s: CONNACK 0x%02X, want 0x82 or 0x81", tc.name, byte(ack.ReasonCode))
		}
	}
	by.check(t)
}
