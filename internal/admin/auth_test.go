package admin

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
)

// samplePath returns a concrete path for a route pattern.
func samplePath(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	path = strings.NewReplacer("{id}", "nobody", "{topic...}", "no/such/topic").Replace(path)
	return method, path
}

// Every route but the probes and the dashboard's files answers 401, with
// a challenge for each kind of credential, to a request without
// credentials or with bad ones; the public ones answer anyone.
func TestAuthRequired(t *testing.T) {
	e := start(t, withCredentials(t))
	for _, rt := range e.srv.routes {
		method, path := samplePath(rt.pattern)
		if rt.role == "" {
			if r := e.do(t, method, path, ""); r.code == http.StatusUnauthorized {
				t.Errorf("%s: 401 for a public route", rt.pattern)
			}
			continue
		}
		for name, c := range map[string]cred{
			"none":           func(*http.Request) {},
			"bad token":      bearer("not-the-token-0123456789"),
			"bad password":   basic(adminUser, "wrong"),
			"unknown user":   basic("mallory", adminPass),
			"unknown scheme": header("Authorization", "Digest abc"),
		} {
			r := e.do(t, method, path, "", c)
			if r.code != http.StatusUnauthorized {
				t.Errorf("%s with %s credentials: status %d, want 401", rt.pattern, name, r.code)
				continue
			}
			r.errorMessage(t)
			ch := strings.Join(r.header.Values("WWW-Authenticate"), ", ")
			if !strings.Contains(ch, `Basic realm="baram admin"`) || !strings.Contains(ch, `Bearer realm="baram admin"`) {
				t.Errorf("%s: WWW-Authenticate %q, want Basic and Bearer challenges", rt.pattern, ch)
			}
		}
	}
	if !strings.Contains(e.logs.String(), "authentication failed") {
		t.Errorf("no failed authentication logged:\n%s", e.logs)
	}
}

// Good credentials of either kind get in.
func TestAuthAccepted(t *testing.T) {
	e := start(t, withCredentials(t))
	for _, c := range []cred{bearer(adminToken), bearer(readToken), basic(adminUser, adminPass), basic(readUser, readPass)} {
		e.expect(t, http.StatusOK, "GET", "/api/v1/stats", "", c)
		e.expect(t, http.StatusOK, "GET", "/api/v1/stats", "", c) // the cached login too
	}
	// A cached login does not let another password in.
	e.expect(t, http.StatusUnauthorized, "GET", "/api/v1/stats", "", basic(adminUser, adminPass+"x"))
}

// The read role may GET; writes and pprof need the admin role.
func TestRoles(t *testing.T) {
	e := start(t, withCredentials(t))
	for _, rt := range e.srv.routes {
		method, path := samplePath(rt.pattern)
		if rt.role == "" || strings.HasPrefix(path, "/debug/pprof/profile") || strings.HasPrefix(path, "/debug/pprof/trace") {
			continue // public, or slow (they run for seconds; checked below with 403 only)
		}
		for _, c := range []cred{bearer(readToken), basic(readUser, readPass)} {
			r := e.do(t, method, path, "", c)
			switch {
			case rt.role == RoleAdmin && r.code != http.StatusForbidden:
				t.Errorf("%s as read: status %d, want 403", rt.pattern, r.code)
			case rt.role == RoleAdmin:
				if msg := r.errorMessage(t); !strings.Contains(msg, "needs role admin") {
					t.Errorf("%s as read: error %q", rt.pattern, msg)
				}
			case r.code == http.StatusForbidden || r.code == http.StatusUnauthorized:
				t.Errorf("%s as read: status %d", rt.pattern, r.code)
			}
		}
		if r := e.do(t, method, path, "", bearer(adminToken)); r.code == http.StatusForbidden || r.code == http.StatusUnauthorized {
			t.Errorf("%s as admin: status %d", rt.pattern, r.code)
		}
	}
	for _, path := range []string{"/debug/pprof/profile?seconds=1", "/debug/pprof/trace?seconds=1"} {
		e.expect(t, http.StatusForbidden, "GET", path, "", bearer(readToken))
	}
}

// pprof answers the admin role: the index, a named profile, the command
// line.
func TestPprof(t *testing.T) {
	e := start(t, withCredentials(t))
	if r := e.expect(t, http.StatusOK, "GET", "/debug/pprof/", "", bearer(adminToken)); !strings.Contains(string(r.body), "goroutine") {
		t.Errorf("pprof index: %s", r.body)
	}
	e.expect(t, http.StatusOK, "GET", "/debug/pprof/goroutine?debug=1", "", bearer(adminToken))
	e.expect(t, http.StatusOK, "GET", "/debug/pprof/cmdline", "", basic(adminUser, adminPass))
}

// Without credentials the API is open only on a loopback address.
func TestCheckOpen(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:8080": true, "127.1.2.3:0": true, "[::1]:8080": true, "localhost:8080": true, "LOCALHOST:1": true,
		"0.0.0.0:8080": false, ":8080": false, "[::]:8080": false, "192.168.1.5:8080": false,
		"example.com:8080": false, "[::ffff:10.0.0.1]:80": false, "127.0.0.1": false, "": false,
	} {
		err := CheckOpen(addr)
		if (err == nil) != ok {
			t.Errorf("CheckOpen(%q) = %v, want ok=%v", addr, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "admin.users or admin.tokens") {
			t.Errorf("CheckOpen(%q): %v does not tell how to fix it", addr, err)
		}
	}
}

func TestNewOpenOnlyOnLoopback(t *testing.T) {
	b := broker.New(broker.Options{})
	t.Cleanup(func() { b.Shutdown(t.Context()) })
	if _, err := New(b, Options{Address: "0.0.0.0:8080"}); err == nil || !strings.Contains(err.Error(), "admin.users or admin.tokens") {
		t.Fatalf("New on 0.0.0.0 without credentials: %v", err)
	}
	for _, addr := range []string{"", "127.0.0.1:8080", "[::1]:0"} {
		if _, err := New(b, Options{Address: addr}); err != nil {
			t.Errorf("New(%q) without credentials: %v", addr, err)
		}
	}
	if _, err := New(b, Options{Address: "0.0.0.0:8080", Tokens: []Token{{Value: adminToken, Role: RoleAdmin}}}); err != nil {
		t.Errorf("New on 0.0.0.0 with a token: %v", err)
	}
	// Serve checks the listener it is given, too.
	s, err := New(b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := s.Serve(ln); err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Fatalf("open server on %s: %v", ln.Addr(), err)
	}
}

// An open server answers only loopback Host names, so a page on another
// site cannot reach it through DNS rebinding.
func TestOpenServerChecksHost(t *testing.T) {
	e := start(t)
	e.expect(t, http.StatusOK, "GET", "/api/v1/stats", "")
	for _, host := range []string{"localhost:8080", "127.0.0.1", "[::1]:80"} {
		e.expect(t, http.StatusOK, "GET", "/api/v1/stats", "", func(r *http.Request) { r.Host = host })
	}
	r := e.expect(t, http.StatusForbidden, "GET", "/api/v1/stats", "", func(r *http.Request) { r.Host = "rebound.example.com:8080" })
	r.errorMessage(t)
	e.expect(t, http.StatusForbidden, "GET", "/", "", func(r *http.Request) { r.Host = "rebound.example.com" })
	e.expect(t, http.StatusOK, "GET", "/healthz", "", func(r *http.Request) { r.Host = "pod.example" })
	// An open server has everything, pprof included.
	e.expect(t, http.StatusOK, "GET", "/debug/pprof/cmdline", "")
}

// A browser's write from another origin is refused, with or without the
// credentials the browser remembers; one from the dashboard's own origin,
// and a non-browser client's, go through.
func TestCrossOriginWriteRefused(t *testing.T) {
	e := start(t, withCredentials(t))
	body := `{"topic":"x","payload":"y"}`
	r := e.expect(t, http.StatusForbidden, "POST", "/api/v1/publish", body, basic(adminUser, adminPass),
		header("Origin", "https://evil.example"), header("Sec-Fetch-Site", "cross-site"))
	if msg := r.errorMessage(t); !strings.Contains(msg, "cross-origin") {
		t.Errorf("error %q", msg)
	}
	e.expect(t, http.StatusForbidden, "POST", "/api/v1/publish", body, basic(adminUser, adminPass), header("Origin", "https://evil.example"))
	e.expect(t, http.StatusOK, "POST", "/api/v1/publish", body, basic(adminUser, adminPass),
		header("Origin", e.url), header("Sec-Fetch-Site", "same-origin"))
	e.expect(t, http.StatusOK, "POST", "/api/v1/publish", body, bearer(adminToken))
}

func TestCredentialErrors(t *testing.T) {
	b := broker.New(broker.Options{})
	t.Cleanup(func() { b.Shutdown(t.Context()) })
	users := testUsers(t)
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("abc\n"), 0o600)
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"bad hash", Options{Users: []User{{Username: "u", PasswordHash: "plain", Role: RoleAdmin}}}, "users[0]: password_hash"},
		{"bad role", Options{Users: []User{{Username: "u", PasswordHash: users[0].PasswordHash, Role: "root"}}}, `role "root" is not read or admin`},
		{"no role", Options{Tokens: []Token{{Value: adminToken}}}, `tokens[0]: role "" is not read or admin`},
		{"bad name", Options{Users: []User{{Username: "a:b", PasswordHash: users[0].PasswordHash, Role: RoleAdmin}}}, "users[0]: invalid user name"},
		{"duplicate", Options{Users: []User{users[0], users[0]}}, "users[1]: user \"alice\" is listed twice"},
		{"short token", Options{Tokens: []Token{{Value: "short", Role: RoleRead}}}, "at least 16 characters"},
		{"short token file", Options{Tokens: []Token{{File: short, Role: RoleRead}}}, "at least 16 characters"},
		{"missing token file", Options{Tokens: []Token{{File: filepath.Join(dir, "nope"), Role: RoleRead}}}, "token file"},
		{"both", Options{Tokens: []Token{{Value: adminToken, File: short, Role: RoleRead}}}, "not both"},
	} {
		_, err := New(b, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

// A token file's first line is the token.
func TestTokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(adminToken+"\n# comment\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, addr := brokertest.Start(t, broker.Options{})
	e := startAdmin(t, b, addr, func(o *Options) { o.Tokens = []Token{{File: path, Role: RoleAdmin}} })
	e.expect(t, http.StatusOK, "GET", "/api/v1/stats", "", bearer(adminToken))
	e.expect(t, http.StatusUnauthorized, "GET", "/api/v1/stats", "", bearer(readToken))
}

// Failed logins are logged at most once per interval, with a count of
// the ones held back.
func TestRateLog(t *testing.T) {
	var l rateLog
	t0 := time.Unix(1000, 0)
	if ok, n := l.allow(t0); !ok || n != 0 {
		t.Fatalf("first: %v %d", ok, n)
	}
	for i := range 5 {
		if ok, _ := l.allow(t0.Add(time.Duration(i) * time.Second)); ok {
			t.Fatalf("line %d let through within the interval", i)
		}
	}
	if ok, n := l.allow(t0.Add(authLogEvery)); !ok || n != 5 {
		t.Fatalf("after the interval: %v, suppressed %d, want 5", ok, n)
	}
}
