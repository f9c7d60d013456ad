package packet

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// goldenPacket decodes the named golden record.
func goldenPacket(t *testing.T, name string) (Packet, *golden) {
	t.Helper()
	for _, g := range loadGolden(t) {
		if g.name == name {
			p, err := decodeAll(g.in, g.version)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return p, g
		}
	}
	t.Fatalf("no golden record %s", name)
	return nil, nil
}

func withMask(p Properties, ids ...PropID) Properties {
	for _, id := range ids {
		p.Set(id)
	}
	return p
}

// The golden round trip proves encoder and decoder agree; these tests pin
// the decoded values themselves.
func TestDecodeFields(t *testing.T) {
	tests := []struct {
		name string
		want Packet
	}{
		{"connect-v311-full", &Connect{ProtocolName: "MQTT", Version: V311, CleanStart: true,
			KeepAlive: 10, ClientID: "cid", HasUsername: true, Username: "user", HasPassword: true,
			Password: []byte("pw"), Will: &Will{QoS: 1, Retain: true, Topic: "w/t", Payload: []byte("bye")}}},
		{"connect-v31-minimal", &Connect{ProtocolName: "MQIsdp", Version: V31, CleanStart: true,
			KeepAlive: 60, ClientID: "c1"}},
		{"connect-v5-will", &Connect{ProtocolName: "MQTT", Version: V5, CleanStart: true,
			KeepAlive: 60, ClientID: "c1", HasUsername: true, Username: "u", HasPassword: true,
			Password: []byte("p"), Will: &Will{QoS: 2, Retain: true, Topic: "w", Payload: []byte("x"),
				Props: withMask(Properties{PayloadFormat: 1, MessageExpiry: 60, ContentType: "txt",
					ResponseTopic: "r", CorrelationData: []byte("ab"), WillDelay: 5,
					User: []UserProperty{{"a", "b"}}},
					PropPayloadFormat, PropMessageExpiry, PropContentType, PropResponseTopic,
					PropCorrelationData, PropWillDelay, PropUserProperty)}}},
		{"connect-v5-properties", &Connect{ProtocolName: "MQTT", Version: V5, CleanStart: true,
			KeepAlive: 60, ClientID: "c1", Props: withMask(Properties{SessionExpiry: 120,
				AuthMethod: "SCRAM", AuthData: []byte{1, 2}, RequestResponseInfo: 1,
				ReceiveMaximum: 10, TopicAliasMaximum: 5, User: []UserProperty{{"k", "v"}},
				MaximumPacketSize: 4096}, PropSessionExpiry, PropAuthMethod, PropAuthData,
				PropRequestProblemInfo, PropRequestResponseInfo, PropReceiveMaximum,
				PropTopicAliasMaximum, PropUserProperty, PropMaximumPacketSize)}},
		{"connack-v311-not-authorized", &Connack{ReasonCode: NotAuthorized}},
		{"connack-v311-session-present", &Connack{SessionPresent: true}},
		{"publish-v311-qos2-dup-retain", &Publish{Dup: true, QoS: 2, Retain: true, Topic: "a/b",
			PacketID: 2, Payload: []byte("hello")}},
		{"publish-v5-properties", &Publish{QoS: 1, Topic: "a/b", PacketID: 7, Payload: []byte("hi"),
			Props: withMask(Properties{PayloadFormat: 1, MessageExpiry: 10, ContentType: "text",
				ResponseTopic: "r/1", CorrelationData: []byte{1, 2}, SubscriptionIDs: []uint32{5, 128},
				TopicAlias: 2, User: []UserProperty{{"k", "v"}, {"k", "w"}}},
				PropPayloadFormat, PropMessageExpiry, PropContentType, PropResponseTopic,
				PropCorrelationData, PropSubscriptionID, PropTopicAlias, PropUserProperty)}},
		{"publish-v5-subscription-id-max", &Publish{Topic: "a", Payload: []byte("x"),
			Props: withMask(Properties{SubscriptionIDs: []uint32{MaxRemainingLength}}, PropSubscriptionID)}},
		{"puback-v5-reason-string", &Ack{Kind: PUBACK, PacketID: 1, ReasonCode: UnspecifiedError,
			Props: withMask(Properties{ReasonString: "nope"}, PropReasonString)}},
		{"pubrel-v311", &Ack{Kind: PUBREL, PacketID: 0x1234}},
		{"subscribe-v5-options", &Subscribe{PacketID: 11,
			Props: withMask(Properties{SubscriptionIDs: []uint32{10}, User: []UserProperty{{"k", "v"}}},
				PropSubscriptionID, PropUserProperty),
			Subs: []Subscription{
				{Filter: "a/b", QoS: 1, NoLocal: true, RetainAsPublished: true, RetainHandling: 2},
				{Filter: "$share/g/x", QoS: 2, RetainHandling: 1}}}},
		{"suback-v311", &Suback{PacketID: 10, ReasonCodes: []ReasonCode{0, 1, SubackFailure}}},
		{"unsubscribe-v311", &Unsubscribe{PacketID: 11, Filters: []string{"a/b", "c/"}}},
		{"unsuback-v5", &Unsuback{PacketID: 11, ReasonCodes: []ReasonCode{Success, NoSubscriptionExisted}}},
		{"disconnect-v5-reason-only", &Disconnect{ReasonCode: DisconnectWithWill}},
		{"auth-v5-continue", &Auth{ReasonCode: ContinueAuthentication,
			Props: withMask(Properties{AuthMethod: "PLAIN", AuthData: []byte{1, 2}}, PropAuthMethod, PropAuthData)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := goldenPacket(t, tt.name)
			if !reflect.DeepEqual(normalize(got), normalize(tt.want)) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestDecodeDoesNotAliasBody(t *testing.T) {
	_, g := goldenPacket(t, "connect-v5-will")
	buf := bytes.Clone(g.in)
	p, err := decodeAll(buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = 0xEE
	}
	c := p.(*Connect)
	if string(c.Password) != "p" || string(c.Will.Payload) != "x" || string(c.Will.Props.CorrelationData) != "ab" {
		t.Errorf("decoded CONNECT changed when the read buffer was overwritten: %#v", c)
	}
}

func TestDecodePublishReuse(t *testing.T) {
	_, g1 := goldenPacket(t, "publish-v5-properties")
	_, g2 := goldenPacket(t, "publish-v5-qos0")
	var p Publish
	for _, g := range []*golden{g1, g2} {
		h, err := ParseFixedHeader(g.in)
		if err != nil {
			t.Fatal(err)
		}
		if err := DecodePublish(h, g.in[h.HeaderLen:], V5, &p); err != nil {
			t.Fatal(err)
		}
	}
	want := Publish{Topic: "a/b", Payload: []byte("hello")}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("second decode kept state from the first:\n got %#v\nwant %#v", p, want)
	}
	// A failed decode leaves no stale fields either.
	h := FixedHeader{Type: PUBLISH, Remaining: 1, HeaderLen: 2}
	if err := DecodePublish(h, []byte{0}, V5, &p); err == nil {
		t.Fatal("truncated PUBLISH decoded")
	}
	if p.Topic != "" || p.Payload != nil {
		t.Errorf("stale fields after error: %#v", p)
	}
}

func TestDecodeArgumentErrors(t *testing.T) {
	tests := []struct {
		name    string
		h       FixedHeader
		body    string
		version byte
		code    ReasonCode
		msg     string
	}{
		{"body shorter than header", FixedHeader{Type: PINGREQ, Remaining: 1}, "", V311, MalformedPacket, "body is 0 bytes"},
		{"unknown version", FixedHeader{Type: PINGREQ}, "", 6, ProtocolError, "unknown connection protocol level 6"},
		{"bad flags in hand-made header", FixedHeader{Type: PUBACK, Flags: 1, Remaining: 2}, "0001", V311, MalformedPacket, "flags"},
		{"type out of range", FixedHeader{Type: 16}, "", V5, MalformedPacket, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, _ := hex.DecodeString(tt.body)
			_, err := Decode(tt.h, body, tt.version)
			var e *Error
			if !errors.As(err, &e) || e.Code != tt.code || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("got %v, want code 0x%02X and %q", err, byte(tt.code), tt.msg)
			}
		})
	}
	var p Publish
	if err := DecodePublish(FixedHeader{Type: PUBACK, Remaining: 2}, []byte{0, 1}, V311, &p); err == nil {
		t.Error("DecodePublish accepted a PUBACK header")
	}
	err := DecodePublish(FixedHeader{Type: PUBLISH, Remaining: 3}, []byte{0, 1, 'a'}, 0, &p)
	if e, ok := err.(*Error); !ok || e.Code != ProtocolError {
		t.Errorf("PUBLISH before CONNECT: got %v, want a Protocol Error", err)
	}
}

func TestConnectLevel(t *testing.T) {
	for name, want := range map[string]byte{"connect-level-6": 6, "connect-v31-minimal": 3, "connect-v5-minimal": 5} {
		for _, g := range loadGolden(t) {
			if g.name != name {
				continue
			}
			h, _ := ParseFixedHeader(g.in)
			if got, ok := ConnectLevel(g.in[h.HeaderLen:]); !ok || got != want {
				t.Errorf("%s: ConnectLevel = %d, %v; want %d", name, got, ok, want)
			}
		}
	}
	for _, body := range [][]byte{nil, {0}, {0, 4, 'M', 'Q', 'T', 'T'}, {0, 9, 'M'}} {
		if _, ok := ConnectLevel(body); ok {
			t.Errorf("ConnectLevel(% x) reported a level", body)
		}
	}
}

func TestParseFixedHeader(t *testing.T) {
	h, err := ParseFixedHeader([]byte{0x3B, 0xFF, 0xFF, 0xFF, 0x7F})
	want := FixedHeader{Type: PUBLISH, Flags: 0xB, Remaining: MaxRemainingLength, HeaderLen: 5}
	if err != nil || h != want {
		t.Errorf("got %+v, %v; want %+v", h, err, want)
	}
	if h.PacketLen() != MaxRemainingLength+5 {
		t.Errorf("PacketLen = %d", h.PacketLen())
	}
}

// A PUBLISH to the topic p held before reuses its string: no allocation
// for a client that keeps publishing to one topic.
func TestDecodePublishReusesTopic(t *testing.T) {
	frame, err := Append(nil, &Publish{Topic: "sensors/1/temp", QoS: 1, PacketID: 7, Payload: []byte("21.5")}, V311)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseFixedHeader(frame)
	if err != nil {
		t.Fatal(err)
	}
	body := frame[h.HeaderLen:]
	var p Publish
	if err := DecodePublish(h, body, V311, &p); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := DecodePublish(h, body, V311, &p); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 || p.Topic != "sensors/1/temp" || p.PacketID != 7 || string(p.Payload) != "21.5" {
		t.Fatalf("%v allocations, decoded %+v", allocs, p)
	}
}
