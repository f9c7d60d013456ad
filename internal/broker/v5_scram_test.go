package broker_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/pbkdf2"

	"github.com/baram-mqtt/baram/internal/acl"
	"github.com/baram-mqtt/baram/internal/auth"
	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
)

// scramClient is the client side of SCRAM-SHA-256 (RFC 5802), written
// from the RFC for the tests.
type scramClient struct {
	user, password, cnonce string
	bare                   string // client-first-message-bare
	serverSig              []byte
}

func newScramClient(user, password string) *scramClient {
	return &scramClient{user: user, password: password, cnonce: "fyko+d2lbbFgONRv9qkxdawL"}
}

func (s *scramClient) first() []byte {
	s.bare = "n=" + s.user + ",r=" + s.cnonce
	return []byte("n,," + s.bare)
}

func scramTestHMAC(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func (s *scramClient) final(t *testing.T, serverFirst []byte) []byte {
	t.Helper()
	attrs := strings.Split(string(serverFirst), ",")
	if len(attrs) != 3 || !strings.HasPrefix(attrs[0], "r="+s.cnonce) {
		t.Fatalf("bad server-first message %q", serverFirst)
	}
	salt, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(attrs[1], "s="))
	if err != nil {
		t.Fatal(err)
	}
	iter, err := strconv.Atoi(strings.TrimPrefix(attrs[2], "i="))
	if err != nil {
		t.Fatal(err)
	}
	salted := pbkdf2.Key([]byte(s.password), salt, iter, sha256.Size, sha256.New)
	clientKey := scramTestHMAC(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte("n,,")) + "," + attrs[0]
	authMessage := s.bare + "," + string(serverFirst) + "," + withoutProof
	clientSig := scramTestHMAC(stored[:], authMessage)
	proof := make([]byte, len(clientKey))
	for i := range proof {
		proof[i] = clientKey[i] ^ clientSig[i]
	}
	s.serverSig = scramTestHMAC(scramTestHMAC(salted, "Server Key"), authMessage)
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof))
}

func (s *scramClient) verify(t *testing.T, serverFinal []byte) {
	t.Helper()
	if want := "v=" + base64.StdEncoding.EncodeToString(s.serverSig); string(serverFinal) != want {
		t.Fatalf("server-final %q, want %q", serverFinal, want)
	}
}

func scramAuth(code packet.ReasonCode, method string, data []byte) *packet.Auth {
	a := &packet.Auth{ReasonCode: code}
	a.Props.AuthMethod, a.Props.AuthData = method, data
	a.Props.Set(packet.PropAuthMethod)
	a.Props.Set(packet.PropAuthData)
	return a
}

func scramBroker(t *testing.T) string {
	t.Helper()
	creds := map[string]auth.ScramCredential{
		"alice": auth.NewScramCredential([]byte("wonderland"), []byte("alice-salt"), 4096),
	}
	rules, err := acl.Parse(strings.NewReader(testACL), "acl")
	if err != nil {
		t.Fatal(err)
	}
	_, addr := brokertest.Start(t, broker.Options{
		Users: map[string]string{}, ACL: func() *acl.ACL { return rules },
		Scram: func(user string) (auth.ScramCredential, bool) { c, ok := creds[user]; return c, ok },
	})
	return addr
}

// scramConnect runs the exchange at CONNECT and returns the connection and
// the final CONNACK.
func scramConnect(t *testing.T, addr, id, user, password string) (*brokertest.Raw, *scramClient, *packet.Connack) {
	t.Helper()
	r := brokertest.Dial(t, addr, packet.V5)
	sc := newScramClient(user, password)
	c := &packet.Connect{ProtocolName: "MQTT", Version: packet.V5, ClientID: id, CleanStart: true, KeepAlive: 30}
	c.Props.AuthMethod, c.Props.AuthData = broker.ScramMethod, sc.first()
	c.Props.Set(packet.PropAuthMethod)
	c.Props.Set(packet.PropAuthData)
	r.Send(c)
	a := brokertest.Expect[*packet.Auth](r)
	if a.ReasonCode != packet.ContinueAuthentication || a.Props.AuthMethod != broker.ScramMethod {
		t.Fatalf("AUTH 0x%02X method %q, want 0x18 %s", byte(a.ReasonCode), a.Props.AuthMethod, broker.ScramMethod)
	}
	r.Send(scramAuth(packet.ContinueAuthentication, broker.ScramMethod, sc.final(t, a.Props.AuthData)))
	return r, sc, brokertest.Expect[*packet.Connack](r)
}

// A SCRAM exchange at CONNECT authenticates the user, whom the ACL sees.
func TestScramConnect(t *testing.T) {
	addr := scramBroker(t)
	r, sc, ack := scramConnect(t, addr, "scram-ok", "alice", "wonderland")
	if ack.ReasonCode != packet.Success {
		t.Fatalf("CONNACK 0x%02X (%s), want success", byte(ack.ReasonCode), ack.Props.ReasonString)
	}
	if ack.Props.AuthMethod != broker.ScramMethod {
		t.Errorf("CONNACK method %q", ack.Props.AuthMethod)
	}
	sc.verify(t, ack.Props.AuthData)
	// Only alice may subscribe to home/alice/#; anonymous clients may not.
	v5Subscribe(t, r, 1, 0, []packet.Subscription{{Filter: "home/alice/#", QoS: 1}}, 1)
	v5Subscribe(t, r, 2, 0, []packet.Subscription{{Filter: "home/bob/#", QoS: 1}}, packet.NotAuthorized)
}

func TestScramConnectRefused(t *testing.T) {
	addr := scramBroker(t)
	for _, tc := range []struct{ name, user, pass string }{
		{"wrong password", "alice", "looking-glass"},
		{"unknown user", "mallory", "x"},
	} {
		r, _, ack := scramConnect(t, addr, "scram-bad", tc.user, tc.pass)
		if ack.ReasonCode != packet.BadUserNameOrPassword {
			t.Errorf("%s: CONNACK 0x%02X, want 0x86", tc.name, byte(ack.ReasonCode))
		}
		r.ExpectClosed(v5Wait)
	}
}

func TestScramUnknownMethod(t *testing.T) {
	addr := scramBroker(t)
	c := &packet.Connect{ClientID: "m", CleanStart: true}
	c.Props.AuthMethod = "SCRAM-SHA-1"
	c.Props.Set(packet.PropAuthMethod)
	if ack := v5Refused(t, addr, c); ack.ReasonCode != packet.BadAuthenticationMethod {
		t.Errorf("CONNACK 0x%02X, want 0x8C", byte(ack.ReasonCode))
	}
	// Without Options.Scram, SCRAM itself is unknown.
	_, addr = brokertest.Start(t, broker.Options{AllowAnonymous: true})
	c = &packet.Connect{ClientID: "m", CleanStart: true}
	c.Props.AuthMethod = broker.ScramMethod
	c.Props.Set(packet.PropAuthMethod)
	if ack := v5Refused(t, addr, c); ack.ReasonCode != packet.BadAuthenticationMethod {
		t.Errorf("without Scram: CONNACK 0x%02X, want 0x8C", byte(ack.ReasonCode))
	}
}

// reauth runs a re-authentication and returns the client.
func reauth(t *testing.T, r *brokertest.Raw, user, password string) (*scramClient, *packet.Auth) {
	t.Helper()
	sc := newScramClient(user, password)
	r.Send(scramAuth(packet.ReAuthenticate, broker.ScramMethod, sc.first()))
	a := brokertest.Expect[*packet.Auth](r)
	if a.ReasonCode != packet.ContinueAuthentication {
		t.Fatalf("AUTH 0x%02X, want 0x18", byte(a.ReasonCode))
	}
	r.Send(scramAuth(packet.ContinueAuthentication, broker.ScramMethod, sc.final(t, a.Props.AuthData)))
	return sc, a
}

func TestScramReauthenticate(t *testing.T) {
	addr := scramBroker(t)
	r, _, ack := scramConnect(t, addr, "scram-re", "alice", "wonderland")
	if ack.ReasonCode != packet.Success {
		t.Fatalf("CONNACK 0x%02X", byte(ack.ReasonCode))
	}
	sc, _ := reauth(t, r, "alice", "wonderland")
	a := brokertest.Expect[*packet.Auth](r)
	if a.ReasonCode != packet.Success || a.Props.AuthMethod != broker.ScramMethod {
		t.Fatalf("AUTH 0x%02X method %q, want 0x00", byte(a.ReasonCode), a.Props.AuthMethod)
	}
	sc.verify(t, a.Props.AuthData)
	v5Subscribe(t, r, 1, 0, []packet.Subscription{{Filter: "home/alice/#", QoS: 0}}, 0)

	// A wrong password ends the connection.
	reauth(t, r, "alice", "looking-glass")
	v5ExpectDisconnect(t, r, packet.NotAuthorized)
}

func TestScramReauthenticateOtherMethod(t *testing.T) {
	addr := scramBroker(t)
	r, _, ack := scramConnect(t, addr, "scram-m", "alice", "wonderland")
	if ack.ReasonCode != packet.Success {
		t.Fatalf("CONNACK 0x%02X", byte(ack.ReasonCode))
	}
	r.Send(scramAuth(packet.ReAuthenticate, "PLAIN", []byte("x")))
	v5ExpectDisconnect(t, r, packet.ProtocolError)

	// AUTH on a connection that did not use enhanced authentication.
	_, addr = brokertest.Start(t, broker.Options{AllowAnonymous: true})
	r, _ = v5Conn(t, addr, "plain", true, nil)
	r.Send(scramAuth(packet.ReAuthenticate, broker.ScramMethod, []byte("n,,n=a,r=x")))
	v5ExpectDisconnect(t, r, packet.ProtocolError)
}
