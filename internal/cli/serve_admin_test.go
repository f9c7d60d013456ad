package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.golang/paho"
)

const adminWait = 10 * time.Second

var adminRE = regexp.MustCompile(`admin listening"?[ ,]"?url"?[=:]"?(https?://[^ ,"]+/)`)

// adminURL returns the admin listener's URL from serve's log, which has it
// before the "baram listening" line that startServe waits for.
func adminURL(t *testing.T, s *server) string {
	t.Helper()
	m := adminRE.FindStringSubmatch(s.stderr.String())
	if m == nil {
		t.Fatalf("no admin listener in the log:\n%s", s.stderr)
	}
	return m[1]
}

// get fetches url with an optional bearer token and returns the status
// and body.
func get(t *testing.T, client *http.Client, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(body)
}

func newHTTPClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: adminWait}
}

// serve starts the admin listener, the metrics and the $SYS publisher, and
// stops them with the broker.
func TestServeAdmin(t *testing.T) {
	s := startServe(t, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0")
	base := adminURL(t, s)
	if !strings.Contains(s.stderr.String(), `access="open (loopback only, no credentials configured)"`) ||
		!strings.Contains(s.stderr.String(), "sys_interval=10s") {
		t.Errorf("admin startup line:\n%s", s.stderr)
	}
	hc := newHTTPClient(t)

	if code, body := get(t, hc, base+"healthz", ""); code != http.StatusOK || !strings.Contains(body, `"ok"`) {
		t.Errorf("healthz: %d %s", code, body)
	}
	if code, body := get(t, hc, base+"readyz", ""); code != http.StatusOK {
		t.Errorf("readyz: %d %s", code, body)
	}
	code, body := get(t, hc, base+"api/v1/stats", "")
	var stats struct {
		Version       string  `json:"version"`
		UptimeSeconds float64 `json:"uptime_seconds"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &stats) != nil || stats.Version != Version || stats.UptimeSeconds <= 0 {
		t.Errorf("stats: %d %s", code, body)
	}
	if code, body := get(t, hc, base+"api/v1/listeners", ""); code != http.StatusOK || !strings.Contains(body, `"url": "mqtt://`+s.addr+`"`) {
		t.Errorf("listeners: %d %s", code, body)
	}
	if code, body := get(t, hc, base+"metrics", ""); code != http.StatusOK || !strings.Contains(body, "baram_") {
		t.Errorf("metrics: %d %.300s", code, body)
	}
	if code, body := get(t, hc, base, ""); code != http.StatusOK || !strings.Contains(body, `data-testid="connected-clients"`) {
		t.Errorf("dashboard: %d %.200s", code, body)
	}

	// $SYS is published: a client gets the version, retained or live.
	nc, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	msgs := make(chan *paho.Publish, 10)
	c := paho.NewClient(paho.ClientConfig{Conn: nc, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(pr paho.PublishReceived) (bool, error) { msgs <- pr.Packet; return true, nil },
	}})
	ctx, cancel := context.WithTimeout(context.Background(), adminWait)
	defer cancel()
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: "sys-reader", CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "$SYS/broker/version"}}}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-msgs:
		if string(m.Payload) != "baram "+Version {
			t.Errorf("$SYS/broker/version = %q", m.Payload)
		}
	case <-time.After(adminWait):
		t.Error("no $SYS/broker/version")
	}
	c.Disconnect(&paho.Disconnect{})
	<-c.Done()

	s.cancel()
	if code := s.wait(t); code != ExitOK {
		t.Fatalf("exit status %d:\n%s", code, s.stderr)
	}
	hc.Transport.(*http.Transport).CloseIdleConnections()
	if _, err := hc.Get(base + "healthz"); err == nil {
		t.Error("the admin listener still answers after serve returned")
	}
}

// With users and tokens from the config file, the API asks for them.
func TestServeAdminCredentials(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	const token = "serve-test-token-0123456789"
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "baram.yaml")
	yaml := fmt.Sprintf(`listeners: [{address: "127.0.0.1:0"}]
store: {type: memory}
sys_interval: 0s
admin:
  address: 127.0.0.1:0
  tokens:
    - {token_file: %q, role: read}
`, tokenFile)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "--config", cfg)
	defer func() { s.cancel(); s.wait(t) }()
	base := adminURL(t, s)
	if out := s.stderr.String(); !strings.Contains(out, `access="0 users, 1 tokens"`) || !strings.Contains(out, "sys_interval=off") {
		t.Errorf("admin startup line:\n%s", out)
	}
	hc := newHTTPClient(t)
	if code, _ := get(t, hc, base+"api/v1/stats", ""); code != http.StatusUnauthorized {
		t.Errorf("stats without a token: %d", code)
	}
	if code, _ := get(t, hc, base+"api/v1/stats", token); code != http.StatusOK {
		t.Errorf("stats with the token: %d", code)
	}
	if code, _ := get(t, hc, base+"healthz", ""); code != http.StatusOK {
		t.Errorf("healthz: %d", code)
	}
}

func TestServeAdminOff(t *testing.T) {
	s := startServe(t, "--listen", "127.0.0.1:0", "--admin=")
	s.cancel()
	s.wait(t)
	if strings.Contains(s.stderr.String(), "admin listening") {
		t.Errorf("admin listener with --admin=:\n%s", s.stderr)
	}
}

func TestServeAdminRefused(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		addr, want string
	}{
		{"0.0.0.0:0", `admin.address: "0.0.0.0:0" is not a loopback address and no admin.users or admin.tokens are configured`},
		{busy.Addr().String(), "baram: admin.address: listen " + busy.Addr().String() + ": address already in use"},
	} {
		code, _, errOut := run(t, "serve", "--store", "memory", "--listen", "127.0.0.1:0", "--admin", tc.addr)
		if code != ExitError || !strings.Contains(errOut, tc.want) {
			t.Errorf("--admin %s: %d %q, want %q", tc.addr, code, errOut, tc.want)
		}
	}
}

// The default address being taken is not fatal: baram runs without the
// admin listener and says so.
func TestServeAdminDefaultBusy(t *testing.T) {
	// Held by this test: when someone else holds it, they may let go of it
	// at any moment (other test packages run in parallel), so the outcome
	// would be luck.
	ln, err := net.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		t.Skipf("cannot hold 127.0.0.1:8080: %v", err)
	}
	defer ln.Close()
	s := startServe(t, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:8080")
	s.cancel()
	if code := s.wait(t); code != ExitOK {
		t.Fatalf("exit status %d:\n%s", code, s.stderr)
	}
	if out := s.stderr.String(); !strings.Contains(out, "admin listener not started: its default address is in use") ||
		strings.Contains(out, "admin listening") {
		t.Errorf("log:\n%s", out)
	}
}
