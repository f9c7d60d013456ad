package packet

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Encodings the golden round trip cannot reach: packets built by the
// broker rather than decoded.
func TestAppend(t *testing.T) {
	user := withMask(Properties{ReasonString: "r", User: []UserProperty{{"a", "b"}}}, PropReasonString)
	tests := []struct {
		name    string
		p       Packet
		version byte
		want    string
	}{
		{"connack 3.x maps reason codes", &Connack{ReasonCode: ServerBusy}, V311, "20 02 00 03"},
		{"connack 3.x bad auth", &Connack{ReasonCode: BadUserNameOrPassword}, V311, "20 02 00 04"},
		{"connack 3.x banned", &Connack{ReasonCode: Banned}, V311, "20 02 00 05"},
		{"connack 3.x drops properties", &Connack{Props: user}, V311, "20 02 00 00"},
		{"connack 3.1 has no session present", &Connack{SessionPresent: true}, V31, "20 02 00 00"},
		{"connack session present only on success", &Connack{SessionPresent: true, ReasonCode: NotAuthorized}, V5, "20 03 00 87 00"},
		{"suback 3.x failure codes become 0x80", &Suback{PacketID: 1, ReasonCodes: []ReasonCode{GrantedQoS1, NotAuthorized, QuotaExceeded}}, V311, "90 05 00 01 01 80 80"},
		{"suback 3.x drops properties", &Suback{PacketID: 1, Props: user, ReasonCodes: []ReasonCode{0}}, V311, "90 03 00 01 00"},
		{"unsuback 3.x is the packet id", &Unsuback{PacketID: 9, Props: user, ReasonCodes: []ReasonCode{Success}}, V311, "b0 02 00 09"},
		{"disconnect 3.x is empty", &Disconnect{ReasonCode: ServerShuttingDown, Props: user}, V311, "e0 00"},
		{"puback 3.x drops the reason", &Ack{Kind: PUBACK, PacketID: 3, ReasonCode: QuotaExceeded, Props: user}, V31, "40 02 00 03"},
		{"pubrel flags", &Ack{Kind: PUBREL, PacketID: 3}, V5, "62 02 00 03"},
		{"puback v5 properties", &Ack{Kind: PUBACK, PacketID: 3, Props: user}, V5, "40 0f 00 03 00 0b 1f 00 01 72 26 00 01 61 00 01 62"},
		{"auth v5 reason without properties keeps the property length", &Auth{ReasonCode: ContinueAuthentication}, V5, "f0 02 18 00"},
		{"disconnect v5 reason alone", &Disconnect{ReasonCode: ServerShuttingDown}, V5, "e0 01 8b"},
		{"publish dup dropped on QoS 0", &Publish{Dup: true, Topic: "t"}, V311, "30 03 00 01 74"},
		{"publish drops properties not allowed", &Publish{Topic: "t", Props: withMask(Properties{SessionExpiry: 9, TopicAlias: 1}, PropSessionExpiry, PropTopicAlias)}, V5, "30 07 00 01 74 03 23 00 01"},
		{"publish 3.x drops properties", &Publish{Topic: "t", Props: withMask(Properties{TopicAlias: 1}, PropTopicAlias)}, V311, "30 03 00 01 74"},
		{"user properties without Set", &Publish{Topic: "t", Props: Properties{User: []UserProperty{{"a", "b"}}}}, V5, "30 0b 00 01 74 07 26 00 01 61 00 01 62"},
		{"subscribe 3.x drops v5 options", &Subscribe{PacketID: 1, Subs: []Subscription{{Filter: "a", QoS: 1, NoLocal: true, RetainHandling: 2}}}, V311, "82 06 00 01 00 01 61 01"},
		{"connect defaults the protocol name", &Connect{Version: V31, ClientID: "c"}, V5, "10 0f 00 06 4d 51 49 73 64 70 03 00 00 00 00 01 63"},
		{"connect takes the version argument when Version is 0", &Connect{ClientID: "c"}, V311, "10 0d 00 04 4d 51 54 54 04 00 00 00 00 01 63"},
		{"connect sets flags from non-empty credentials", &Connect{Version: V311, Username: "u", Password: []byte("p")}, 0, "10 12 00 04 4d 51 54 54 04 c0 00 00 00 00 00 01 75 00 01 70"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Append([]byte{0xAA}, tt.p, tt.version)
			if err != nil {
				t.Fatal(err)
			}
			want := append([]byte{0xAA}, mustHex(t, tt.want)...)
			if !bytes.Equal(got, want) {
				t.Errorf("got  % x\nwant % x", got, want)
			}
			if n := Size(tt.p, tt.version); n != len(got)-1 {
				t.Errorf("Size = %d, want %d", n, len(got)-1)
			}
			if pub, ok := tt.p.(*Publish); ok && PublishSize(pub, tt.version) != len(got)-1 {
				t.Errorf("PublishSize = %d, want %d", PublishSize(pub, tt.version), len(got)-1)
			}
		})
	}
}

func TestAppendErrors(t *testing.T) {
	long := strings.Repeat("x", 0x10000)
	tests := []struct {
		name    string
		p       Packet
		version byte
		msg     string
	}{
		{"topic too long", &Publish{Topic: long}, V311, "topic is 65536 bytes"},
		{"client id too long", &Connect{Version: V311, ClientID: long}, 0, "client identifier"},
		{"will payload too long", &Connect{Version: V5, Will: &Will{Topic: "t", Payload: make([]byte, 0x10000)}}, 0, "will payload"},
		{"property too long", &Publish{Topic: "t", Props: withMask(Properties{ContentType: long}, PropContentType)}, V5, "Content Type longer than 65535"},
		{"user property too long", &Disconnect{Props: Properties{User: []UserProperty{{"k", long}}}}, V5, "User Property longer"},
		{"subscription id too big", &Publish{Topic: "t", Props: Properties{SubscriptionIDs: []uint32{MaxRemainingLength + 1}}}, V5, "does not fit"},
		{"remaining length too big", &Publish{Topic: "t", Payload: make([]byte, MaxRemainingLength-2)}, V311, "exceeds"},
		{"publish QoS 3", &Publish{Topic: "t", QoS: 3, PacketID: 1}, V311, "QoS 3 out of range"},
		{"will QoS 3", &Connect{Version: V311, Will: &Will{QoS: 3, Topic: "t"}}, 0, "will QoS 3"},
		{"retain handling 3", &Subscribe{PacketID: 1, Subs: []Subscription{{Filter: "a", RetainHandling: 3}}}, V5, "retain handling"},
		{"ack kind", &Ack{Kind: PUBLISH}, V5, "Ack.Kind"},
		{"auth before v5", &Auth{}, V311, "no AUTH before MQTT 5"},
		{"unknown version", &Pingreq{}, 2, "unknown protocol level 2"},
		{"connect version", &Connect{Version: 9}, V5, "unknown protocol level 9"},
		{"nil packet", nil, V5, "unsupported packet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte{1, 2}
			got, err := Append(dst, tt.p, tt.version)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v, want %q", err, tt.msg)
			}
			if !bytes.Equal(got, dst) {
				t.Errorf("dst changed to % x", got)
			}
			if n := Size(tt.p, tt.version); n != -1 {
				t.Errorf("Size = %d, want -1", n)
			}
		})
	}
	if got := AppendPublish([]byte{1}, &Publish{Topic: long}, V5); !bytes.Equal(got, []byte{1}) {
		t.Errorf("AppendPublish of an unencodable packet wrote % x", got)
	}
}

func TestSizeLimit(t *testing.T) {
	// The largest QoS 0 PUBLISH has remaining length MaxRemainingLength.
	// The payload pages are never touched, so this costs no real memory.
	p := &Publish{Topic: "t", Payload: make([]byte, MaxRemainingLength-3)}
	if n := Size(p, V311); n != MaxRemainingLength+5 {
		t.Fatalf("Size = %d, want %d", n, MaxRemainingLength+5)
	}
	p.PacketID, p.QoS = 1, 1
	if n := Size(p, V311); n != -1 {
		t.Fatalf("Size one byte over the limit = %d, want -1", n)
	}
	if n := PublishSize(p, V311); n != -1 {
		t.Fatalf("PublishSize one byte over the limit = %d, want -1", n)
	}
	// Many user properties sharing one long string exceed the limit too.
	long := strings.Repeat("x", 0xFFFF)
	d := &Disconnect{Props: Properties{User: make([]UserProperty, 2100)}}
	for i := range d.Props.User {
		d.Props.User[i] = UserProperty{long, long}
	}
	if n := Size(d, V5); n != -1 {
		t.Fatalf("Size of oversized properties = %d, want -1", n)
	}
}

func TestConnackReturnCode(t *testing.T) {
	want := map[ReasonCode]byte{
		Success: 0, UnsupportedProtocolVersion: 1, ClientIdentifierNotValid: 2,
		ServerUnavailable: 3, ServerBusy: 3, ServerShuttingDown: 3, UnspecifiedError: 3,
		MalformedPacket: 3, UseAnotherServer: 3, BadUserNameOrPassword: 4,
		NotAuthorized: 5, Banned: 5, BadAuthenticationMethod: 5,
	}
	for rc, code := range want {
		if got := ConnackReturnCode(rc); got != code {
			t.Errorf("ConnackReturnCode(0x%02X) = %d, want %d", byte(rc), got, code)
		}
	}
	for code := byte(0); code <= ConnRefusedNotAuth; code++ {
		if got := ConnackReturnCode(ConnackReasonCode(code)); got != code {
			t.Errorf("return code %d does not survive ConnackReasonCode: got %d", code, got)
		}
	}
	if ConnackReasonCode(6) != UnspecifiedError {
		t.Error("ConnackReasonCode(6) should be UnspecifiedError")
	}
}

func TestPropIDString(t *testing.T) {
	if s := PropTopicAlias.String(); s != "Topic Alias" {
		t.Errorf("got %q", s)
	}
	if s := PropID(0x04).String(); s != "property 0x04" {
		t.Errorf("got %q", s)
	}
}
