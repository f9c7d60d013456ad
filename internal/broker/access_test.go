package broker_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baram-mqtt/baram/internal/acl"
	"github.com/baram-mqtt/baram/internal/auth"
	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
)

// passwordFile writes users with Debian's mosquitto_passwd when it is
// installed (so Mosquitto's own format is what baram reads), else with
// baram's argon2id.
func passwordFile(t *testing.T, users map[string]string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "passwd")
	bin, err := exec.LookPath("mosquitto_passwd")
	if err != nil && os.Getenv("BARAM_REQUIRE_INTEROP") != "" {
		t.Fatal("mosquitto_passwd not installed (apt-get install mosquitto)")
	}
	for user, pass := range users {
		if bin == "" {
			if err := auth.SetPassword(path, user, []byte(pass)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		args := []string{"-b", path, user, pass}
		if _, err := os.Stat(path); err != nil {
			args = append([]string{"-c"}, args...)
		}
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd: %v: %s", err, out)
		}
	}
	return path
}

const testACL = `# anonymous clients may only read public topics
topic read public/#

user alice
topic readwrite home/alice/#
topic read public/#
topic write public/alice
topic write public/secret

user bob
topic read home/alice/status
topic read public/#
topic deny public/secret
topic deny home/alice/secret

pattern readwrite clients/%c/#
`

func accessBroker(t *testing.T, anonymous bool) string {
	t.Helper()
	pf, err := auth.LoadPasswordFile(passwordFile(t, map[string]string{"alice": "wonderland", "bob": "builder"}))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := acl.Parse(strings.NewReader(testACL), "acl")
	if err != nil {
		t.Fatal(err)
	}
	_, addr := brokertest.Start(t, broker.Options{
		Authenticator: auth.Chain{pf}, AllowAnonymous: anonymous, Users: map[string]string{},
		ACL: func() *acl.ACL { return rules },
	})
	return addr
}

func connectAs(t *testing.T, addr string, version byte, id, user, pass string) (*brokertest.Raw, packet.ReasonCode) {
	t.Helper()
	r := brokertest.Dial(t, addr, version)
	c := &packet.Connect{ProtocolName: "MQTT", Version: version, ClientID: id, CleanStart: true, KeepAlive: 30}
	if user != "" {
		c.HasUsername, c.Username = true, user
	}
	if pass != "" {
		c.HasPassword, c.Password = true, []byte(pass)
	}
	r.Send(c)
	ack := brokertest.Expect[*packet.Connack](r)
	return r, ack.ReasonCode
}

// A password file made by mosquitto_passwd authenticates; a wrong password,
// an unknown user and an anonymous client are refused with each version's
// code.
func TestPasswordFileReasonCodes(t *testing.T) {
	addr := accessBroker(t, false)
	cases := []struct {
		name, user, pass string
		v5, v311         packet.ReasonCode // v311: the 3.x return code, as the codec maps it back
	}{
		{"good", "alice", "wonderland", packet.Success, packet.Success},
		{"wrong password", "alice", "looking-glass", packet.BadUserNameOrPassword, packet.BadUserNameOrPassword},
		{"unknown user", "mallory", "x", packet.BadUserNameOrPassword, packet.BadUserNameOrPassword},
		{"anonymous", "", "", packet.NotAuthorized, packet.NotAuthorized},
	}
	for _, tc := range cases {
		for _, v := range []byte{packet.V311, packet.V5} {
			_, code := connectAs(t, addr, v, "c-"+tc.user, tc.user, tc.pass)
			want := tc.v5
			if v == packet.V311 {
				want = tc.v311
			}
			if code != want {
				t.Errorf("%s, version %d: CONNACK 0x%02X, want 0x%02X", tc.name, v, byte(code), byte(want))
			}
		}
	}
}

// The ACL decides subscriptions (SUBACK 0x87 in v5, 0x80 in 3.1.1),
// publishes (PUBACK 0x87 in v5; dropped in 3.1.1) and each delivery.
func TestACLOverTheWire(t *testing.T) {
	addr := accessBroker(t, true)
	bob, _ := connectAs(t, addr, packet.V5, "bob-1", "bob", "builder")
	bob.Send(&packet.Subscribe{PacketID: 1, Subs: []packet.Subscription{
		{Filter: "home/alice/status", QoS: 1}, {Filter: "home/alice/#", QoS: 1}, {Filter: "home/alice/secret", QoS: 1}}})
	if got := brokertest.Expect[*packet.Suback](bob).ReasonCodes; got[0] != 1 || got[1] != packet.NotAuthorized || got[2] != packet.NotAuthorized {
		t.Fatalf("bob's SUBACK %v, want [1 0x87 0x87]", got)
	}
	bob3, _ := connectAs(t, addr, packet.V311, "bob-3", "bob", "builder")
	bob3.Send(&packet.Subscribe{PacketID: 1, Subs: []packet.Subscription{{Filter: "home/#", QoS: 1}}})
	if got := brokertest.Expect[*packet.Suback](bob3).ReasonCodes; got[0] != packet.SubackFailure {
		t.Fatalf("3.1.1 SUBACK %v, want [0x80]", got)
	}

	alice, _ := connectAs(t, addr, packet.V5, "alice-1", "alice", "wonderland")
	alice.Send(&packet.Publish{Topic: "home/alice/status", QoS: 1, PacketID: 1, Payload: []byte("home")})
	if a := brokertest.Expect[*packet.Ack](alice); a.ReasonCode.IsError() {
		t.Fatalf("alice's own topic refused: 0x%02X", byte(a.ReasonCode))
	}
	if p := brokertest.Expect[*packet.Publish](bob); p.Topic != "home/alice/status" {
		t.Fatalf("bob got %s", p.Topic)
	}
	alice.Send(&packet.Publish{Topic: "public/news", QoS: 1, PacketID: 2, Payload: []byte("x")})
	if a := brokertest.Expect[*packet.Ack](alice); a.ReasonCode != packet.NotAuthorized {
		t.Fatalf("publish to a read-only topic: PUBACK 0x%02X, want 0x87", byte(a.ReasonCode))
	}

	anon3, _ := connectAs(t, addr, packet.V311, "anon", "", "")
	anon3.Send(&packet.Publish{Topic: "home/alice/status", QoS: 1, PacketID: 3, Payload: []byte("forged")})
	if a := brokertest.Expect[*packet.Ack](anon3); a.Kind != packet.PUBACK {
		t.Fatalf("got %s, want PUBACK", a.Kind)
	}
	// The pattern rule lets any client use its own clients/<id>/ tree.
	anon3.Send(&packet.Subscribe{PacketID: 4, Subs: []packet.Subscription{{Filter: "clients/anon/#", QoS: 0}}})
	if got := brokertest.Expect[*packet.Suback](anon3).ReasonCodes; got[0] != 0 {
		t.Fatalf("pattern subscription refused: %v", got)
	}
	// bob must not have received the forged message: the next one he
	// gets is the marker.
	alice.Send(&packet.Publish{Topic: "home/alice/status", QoS: 1, PacketID: 5, Payload: []byte("marker")})
	brokertest.Expect[*packet.Ack](alice)
	if p := brokertest.Expect[*packet.Publish](bob); string(p.Payload) != "marker" {
		t.Fatalf("bob got %q, want the marker (the anonymous publish was denied)", p.Payload)
	}
}

// Retained messages go through the same read check as live ones.
func TestACLFiltersRetained(t *testing.T) {
	addr := accessBroker(t, true)
	alice, _ := connectAs(t, addr, packet.V5, "alice-r", "alice", "wonderland")
	for i, topic := range []string{"public/alice", "public/secret"} {
		alice.Send(&packet.Publish{Topic: topic, QoS: 1, PacketID: uint16(i + 1), Retain: true, Payload: []byte(topic)})
		if a := brokertest.Expect[*packet.Ack](alice); a.ReasonCode.IsError() {
			t.Fatalf("retained publish to %s refused: 0x%02X", topic, byte(a.ReasonCode))
		}
	}
	bob, _ := connectAs(t, addr, packet.V5, "bob-r", "bob", "builder")
	bob.Send(&packet.Subscribe{PacketID: 1, Subs: []packet.Subscription{{Filter: "public/#", QoS: 1}}})
	brokertest.Expect[*packet.Suback](bob)
	if p := brokertest.Expect[*packet.Publish](bob); p.Topic != "public/alice" {
		t.Fatalf("bob got retained %s", p.Topic)
	}
	bob.Send(&packet.Pingreq{}) // anything retained would come before the PINGRESP
	brokertest.Expect[*packet.Pingresp](bob)
}

// grantAuth allows everyone, limited to fixed topics, as a JWT with
// publish/subscribe claims does.
type grantAuth struct{}

func (grantAuth) Authenticate(_ context.Context, r *auth.Request) (auth.Decision, error) {
	r.Grant = &auth.Grant{Publish: []string{"dev/a/#"}, Subscribe: []string{"cmd/a/#"}}
	return auth.Allow, nil
}

// An authenticator's grant (a token's publish/subscribe claims) limits
// the client on top of the ACL.
func TestAuthenticatorGrantLimitsTopics(t *testing.T) {
	_, addr := brokertest.Start(t, broker.Options{Authenticator: grantAuth{}})
	c, code := connectAs(t, addr, packet.V5, "dev-a", "dev-a", "token")
	if code != packet.Success {
		t.Fatalf("CONNACK 0x%02X", byte(code))
	}
	c.Send(&packet.Subscribe{PacketID: 1, Subs: []packet.Subscription{{Filter: "cmd/a/+", QoS: 1}, {Filter: "cmd/#", QoS: 1}}})
	if got := brokertest.Expect[*packet.Suback](c).ReasonCodes; got[0] != 1 || got[1] != packet.NotAuthorized {
		t.Fatalf("SUBACK %v, want [1 0x87]", got)
	}
	for i, tc := range []struct {
		topic string
		want  packet.ReasonCode
	}{{"dev/a/temp", packet.NoMatchingSubscribers}, {"dev/b/temp", packet.NotAuthorized}} {
		c.Send(&packet.Publish{Topic: tc.topic, QoS: 1, PacketID: uint16(i + 2), Payload: []byte("x")})
		if a := brokertest.Expect[*packet.Ack](c); a.ReasonCode != tc.want {
			t.Fatalf("publish to %s: PUBACK 0x%02X, want 0x%02X", tc.topic, byte(a.ReasonCode), byte(tc.want))
		}
	}
}

// onlyAlicePublishes is an authorization hook allowing alice to publish.
type onlyAlicePublishes struct{}

func (onlyAlicePublishes) Allowed(_ context.Context, _, user, _, access string) (bool, error) {
	return user == "alice" && access == auth.AccessPublish, nil
}

// An authorization hook is asked before a publish or subscribe is taken.
func TestAuthorizerHook(t *testing.T) {
	_, addr := brokertest.Start(t, broker.Options{Authorizer: onlyAlicePublishes{}})
	alice, _ := connectAs(t, addr, packet.V5, "a", "alice", "")
	bob, _ := connectAs(t, addr, packet.V5, "b", "bob", "")
	for _, tc := range []struct {
		r    *brokertest.Raw
		want packet.ReasonCode
	}{{alice, packet.NoMatchingSubscribers}, {bob, packet.NotAuthorized}} {
		tc.r.Send(&packet.Publish{Topic: "t", QoS: 1, PacketID: 1, Payload: []byte("x")})
		if a := brokertest.Expect[*packet.Ack](tc.r); a.ReasonCode != tc.want {
			t.Fatalf("PUBACK 0x%02X, want 0x%02X", byte(a.ReasonCode), byte(tc.want))
		}
	}
	alice.Send(&packet.Subscribe{PacketID: 2, Subs: []packet.Subscription{{Filter: "t"}}})
	if got := brokertest.Expect[*packet.Suback](alice).ReasonCodes; got[0] != packet.NotAuthorized {
		t.Fatalf("SUBACK %v, want [0x87]", got)
	}
}
