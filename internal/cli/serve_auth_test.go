package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eclipse/paho.golang/packets"
	paho "github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/baram-mqtt/baram/internal/acl"
	"github.com/baram-mqtt/baram/internal/config"
	"github.com/baram-mqtt/baram/internal/testlog"
)

// testACL lets every client use its own clients/<client id>/#, and
// alice use alice/# and read public/# but public/secret. (As in
// Mosquitto, topic lines before the first user line are for anonymous
// clients.)
const testACL = `topic read anonymous/#
pattern readwrite clients/%c/#

user alice
topic readwrite alice/#
topic read public/#
topic deny public/secret
`

// writeAuthConfig writes a password file with alice (password "wonderland")
// made by 'baram passwd -b', the ACL acl, and a config file with one
// listener on 127.0.0.1:0 that refuses anonymous clients and names both.
// It returns the paths of the config and password files.
func writeAuthConfig(t *testing.T, acl string) (cfgFile, passwdFile, aclFile string) {
	t.Helper()
	dir := t.TempDir()
	passwdFile = filepath.Join(dir, "passwd")
	passwd(t, passwdFile, "alice", "wonderland")
	aclFile = filepath.Join(dir, "acl")
	if err := os.WriteFile(aclFile, []byte(acl), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile = filepath.Join(dir, "baram.yaml")
	yaml := fmt.Sprintf(`listeners:
  - address: 127.0.0.1:0
auth:
  allow_anonymous: false
  password_file: %s
  acl_file: %s
store:
  type: memory
`, passwdFile, aclFile)
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgFile, passwdFile, aclFile
}

// connect5 connects to addr with paho.golang (MQTT 5) as id, sending user
// and password unless user is "". It returns the CONNACK reason code; on
// success the client disconnects when the test ends.
func connect5(t *testing.T, addr, id, user, password string) (*paho.Client, byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, tlsWait)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c := paho.NewClient(paho.ClientConfig{Conn: packets.NewThreadSafeConn(conn)})
	ctx, cancel := context.WithTimeout(context.Background(), tlsWait)
	defer cancel()
	cp := &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}
	if user != "" {
		cp.Username, cp.UsernameFlag = user, true
		cp.Password, cp.PasswordFlag = []byte(password), true
	}
	ack, err := c.Connect(ctx, cp)
	if ack == nil {
		t.Fatalf("connect %s as %q: %v", addr, user, err)
	}
	if ack.ReasonCode == 0 {
		t.Cleanup(func() {
			_ = c.Disconnect(&paho.Disconnect{})
			<-c.Done()
		})
	}
	return c, ack.ReasonCode
}

// connect311 connects to addr with paho.mqtt.golang (MQTT 3.1.1) as id and
// returns the CONNACK return code; on success the client disconnects when
// the test ends.
func connect311(t *testing.T, addr, id, user, password string) (mqtt.Client, byte) {
	t.Helper()
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(tlsWait)
	if user != "" {
		opts.SetUsername(user).SetPassword(password)
	}
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(tlsWait) {
		t.Fatalf("connect %s as %q: no CONNACK", addr, user)
	}
	code := tok.(*mqtt.ConnectToken).ReturnCode()
	if tok.Error() == nil {
		t.Cleanup(func() { c.Disconnect(250) })
	} else if code == 0 {
		t.Fatalf("connect %s as %q: %v", addr, user, tok.Error())
	}
	return c, code
}

func TestServePasswordAndACLFiles(t *testing.T) {
	cfgFile, passwdFile, aclFile := writeAuthConfig(t, testACL)
	s := startServe(t, "--config", cfgFile)
	defer s.stop(t)

	out := s.stderr.String()
	for _, want := range []string{"anonymous=false password_file=" + passwdFile + " users=1 acl=" + aclFile + ` store="memory`,
		`msg="password file loaded" path=` + passwdFile + " users=1"} {
		if !strings.Contains(out, want) {
			t.Errorf("startup log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "no client can connect") {
		t.Errorf("warned that no client can connect, with a password file:\n%s", out)
	}

	// MQTT 5.
	for _, tt := range []struct {
		user, password string
		want           byte
	}{
		{"alice", "wonderland", 0},
		{"alice", "wrong", 0x86},
		{"mallory", "wonderland", 0x86},
		{"", "", 0x87},
	} {
		if _, got := connect5(t, s.addr, "v5-"+tt.user, tt.user, tt.password); got != tt.want {
			t.Errorf("v5 CONNECT as %q with %q: reason 0x%02X, want 0x%02X", tt.user, tt.password, got, tt.want)
		}
	}
	// MQTT 3.1.1.
	for _, tt := range []struct {
		user, password string
		want           byte
	}{
		{"alice", "wonderland", 0},
		{"alice", "wrong", 4},
		{"mallory", "wonderland", 4},
		{"", "", 5},
	} {
		if _, got := connect311(t, s.addr, "v3-"+tt.user, tt.user, tt.password); got != tt.want {
			t.Errorf("v3.1.1 CONNECT as %q with %q: return code %d, want %d", tt.user, tt.password, got, tt.want)
		}
	}

	// The ACL: alice may use alice/#, public/# but public/secret, and
	// clients/<her client id>/#; a SUBSCRIBE that no read rule covers, or
	// that a deny rule covers entirely, is refused.
	c5, _ := connect5(t, s.addr, "sub5", "alice", "wonderland")
	ctx, cancel := context.WithTimeout(context.Background(), tlsWait)
	defer cancel()
	for _, tt := range []struct {
		filter string
		want   byte
	}{
		{"alice/#", 1},
		{"public/news", 1},
		{"clients/sub5/#", 1},
		{"clients/other/#", 0x87},
		{"public/#", 1}, // public/secret messages are filtered at delivery
		{"public/secret", 0x87},
		{"secret/#", 0x87},
		{"anonymous/#", 0x87},
	} {
		sa, err := c5.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: tt.filter, QoS: 1}}})
		if sa == nil {
			t.Fatalf("v5 SUBSCRIBE %s: %v", tt.filter, err)
		}
		if len(sa.Reasons) != 1 || sa.Reasons[0] != tt.want {
			t.Errorf("v5 SUBSCRIBE %s: SUBACK %v, want [0x%02X]", tt.filter, sa.Reasons, tt.want)
		}
	}
	c3, _ := connect311(t, s.addr, "sub3", "alice", "wonderland")
	tok := c3.SubscribeMultiple(map[string]byte{"alice/x": 1, "secret/#": 1}, nil)
	if !tok.WaitTimeout(tlsWait) || tok.Error() != nil {
		t.Fatalf("v3.1.1 SUBSCRIBE: %v", tok.Error())
	}
	if got := tok.(*mqtt.SubscribeToken).Result(); got["alice/x"] != 1 || got["secret/#"] != 0x80 {
		t.Errorf("v3.1.1 SUBACK %v, want alice/x: 1, secret/#: 0x80", got)
	}
	if !strings.Contains(s.stderr.String(), `client=sub3 filter=secret/# username=alice`) {
		t.Errorf("log lacks the denied subscription:\n%s", s.stderr)
	}
}

func TestServePasswordFileWarnings(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "passwd")
	if err := os.WriteFile(empty, []byte("# nobody yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "--listen", "127.0.0.1:0", "--allow-anonymous=false", "--password-file", empty, "--store", "memory")
	s.stop(t)
	if out := s.stderr.String(); !strings.Contains(out, "users=0") ||
		!strings.Contains(out, `level=WARN msg="anonymous clients are refused and the password file has no users`) ||
		!strings.Contains(out, `hint="add one with 'baram passwd `+empty+` USER'"`) {
		t.Errorf("no warning about an empty password file:\n%s", out)
	}

	passwd(t, empty, "alice", "x")
	s = startServe(t, "--listen", "127.0.0.1:0", "--allow-anonymous=false", "--password-file", empty, "--store", "memory")
	s.stop(t)
	if out := s.stderr.String(); strings.Contains(out, "level=WARN") {
		t.Errorf("warned with a password file that has users:\n%s", out)
	}
}

func TestServeBadAuthFiles(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("alice:$9$nonsense\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badACL := filepath.Join(dir, "bad.acl")
	if err := os.WriteFile(badACL, []byte("topic sometimes x/#\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--password-file", missing}, "baram: invalid settings: auth.password_file: cannot read " + missing + ": no such file or directory"},
		{[]string{"--acl-file", dir}, "baram: invalid settings: auth.acl_file: cannot read " + dir + ": it is a directory"},
		{[]string{"--password-file", bad}, "baram: auth.password_file: " + bad + ":1: "},
		{[]string{"--acl-file", badACL}, "baram: auth.acl_file: " + badACL},
	} {
		args := append([]string{"serve", "--listen", "127.0.0.1:0", "--store", "memory"}, tt.args...)
		code, _, errOut := run(t, args...)
		if code != ExitError || !strings.HasPrefix(errOut, tt.want) {
			t.Errorf("baram %v = %d, %q; want %d and %q...", args, code, errOut, ExitError, tt.want)
		}
	}
}

// TestReloadAuthFiles edits the password and ACL files and calls
// reloadAll, which the SIGHUP goroutine calls, on the reloaders that
// serve makes: the change is in use at once, before the watchers (which
// wait for a change to hold for a second) would see it.
func TestReloadAuthFiles(t *testing.T) {
	_, passwdFile, aclFile := writeAuthConfig(t, testACL)
	var logs testlog.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	af, err := openAuthFiles(context.Background(), config.Auth{PasswordFile: passwdFile, ACLFile: aclFile}, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer af.close()
	rs := af.reloaders()
	if len(rs) != 2 || rs[0].name != "password file "+passwdFile || rs[1].name != "acl file "+aclFile {
		t.Fatalf("reloaders = %+v", rs)
	}

	passwd(t, passwdFile, "bob", "builder")
	if err := os.WriteFile(aclFile, []byte("user bob\ntopic bob/#\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := reloadAll(logger, rs); err != nil {
		t.Fatalf("reloadAll: %v", err)
	}
	if n := af.users(); n != 2 {
		t.Errorf("users after reload: %d, want 2", n)
	}
	rules := af.acl.Current()
	if !rules.CanPublish(aclClient("bob"), "bob/x") || rules.CanPublish(aclClient("alice"), "alice/x") {
		t.Error("the new ACL is not in use after reload")
	}

	// A broken file is reported and the previous one stays.
	if err := os.WriteFile(passwdFile, []byte("carol:$9$broken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = reloadAll(logger, rs)
	if want := "password file " + passwdFile + ": " + passwdFile + ":1: "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("reloadAll with a broken password file = %v, want %s...", err, want)
	}
	if n := af.users(); n != 2 {
		t.Errorf("users after a failed reload: %d, want the previous 2", n)
	}
	if want := `level=INFO msg=reloaded what="acl file ` + aclFile; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %s:\n%s", want, logs.String())
	}
}

func TestOpenAuthFilesNone(t *testing.T) {
	af, err := openAuthFiles(context.Background(), config.Auth{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer af.close()
	if len(af.reloaders()) != 0 || af.users() != -1 || len(af.logAttrs()) != 0 {
		t.Errorf("authFiles without files: reloaders %v, users %d, attrs %v", af.reloaders(), af.users(), af.logAttrs())
	}
	af.close() // twice is fine
}

// aclClient is a client with a username and a client id of its own.
func aclClient(user string) acl.Client {
	return acl.Client{Username: user, HasUsername: true, ClientID: user + "-1"}
}
