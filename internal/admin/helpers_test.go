package admin

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/baram-mqtt/baram/internal/auth"
	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/testlog"
)

// wait bounds every wait for something to happen.
const wait = 10 * time.Second

// Credentials used by the tests.
const (
	adminToken = "admin-token-0123456789abcdef"
	readToken  = "read-token-0123456789abcdef"
	adminUser  = "alice"
	adminPass  = "alice-secret"
	readUser   = "bob"
	readPass   = "bob-secret"
)

// env is a broker on 127.0.0.1 with an admin server in front of it.
type env struct {
	b          *broker.Broker
	brokerAddr string
	srv        *Server
	url        string // http://127.0.0.1:port
	client     *http.Client
	logs       *testlog.Buffer
}

var (
	hashOnce         sync.Once
	adminHash, rHash string
)

// testUsers returns an admin and a read user with argon2id hashes (made
// once: each takes tens of milliseconds).
func testUsers(t *testing.T) []User {
	t.Helper()
	hashOnce.Do(func() {
		var err error
		if adminHash, err = auth.HashArgon2id([]byte(adminPass)); err != nil {
			panic(err)
		}
		if rHash, err = auth.HashArgon2id([]byte(readPass)); err != nil {
			panic(err)
		}
	})
	return []User{
		{Username: adminUser, PasswordHash: adminHash, Role: RoleAdmin},
		{Username: readUser, PasswordHash: rHash, Role: RoleRead},
	}
}

// withCredentials configures both users and both tokens.
func withCredentials(t *testing.T) func(*Options) {
	return func(o *Options) {
		o.Users = testUsers(t)
		o.Tokens = []Token{{Value: adminToken, Role: RoleAdmin}, {Value: readToken, Role: RoleRead}}
	}
}

// start runs a broker and an admin server on real loopback listeners; both
// stop when the test ends.
func start(t *testing.T, edits ...func(*Options)) *env {
	t.Helper()
	b, addr := brokertest.Start(t, broker.Options{})
	return startAdmin(t, b, addr, edits...)
}

func startAdmin(t *testing.T, b *broker.Broker, brokerAddr string, edits ...func(*Options)) *env {
	t.Helper()
	logs := new(testlog.Buffer)
	o := Options{Version: "test", Logger: slog.New(slog.NewTextHandler(logs, nil))}
	for _, e := range edits {
		e(&o)
	}
	s, err := New(b, o)
	if err != nil {
		t.Fatalf("admin.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &env{b: b, brokerAddr: brokerAddr, srv: s, url: "http://" + ln.Addr().String(),
		client: &http.Client{Transport: tr, Timeout: wait}, logs: logs}
}

// response is what a request got back.
type response struct {
	code   int
	header http.Header
	body   []byte
}

// json decodes the body into v, failing the test if it is not JSON.
func (r response) json(t *testing.T, v any) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want application/json; body %s", ct, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// errorMessage returns the "error" of a JSON error body.
func (r response) errorMessage(t *testing.T) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	r.json(t, &e)
	if e.Error == "" {
		t.Fatalf("error body without a message: %s", r.body)
	}
	return e.Error
}

// cred sets a request's credentials.
type cred func(*http.Request)

func bearer(token string) cred {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

func basic(user, pass string) cred {
	return func(r *http.Request) { r.SetBasicAuth(user, pass) }
}

func header(k, v string) cred {
	return func(r *http.Request) { r.Header.Set(k, v) }
}

// do sends a request; body, when a string, is sent as JSON.
func (e *env) do(t *testing.T, method, path, body string, creds ...cred) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, c := range creds {
		c(req)
	}
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{code: res.StatusCode, header: res.Header, body: data}
}

// expect sends a request and fails the test unless it gets status code.
func (e *env) expect(t *testing.T, code int, method, path, body string, creds ...cred) response {
	t.Helper()
	r := e.do(t, method, path, body, creds...)
	if r.code != code {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.code, code, r.body)
	}
	return r
}

// v3Client connects a 3.1.1 client that logs in as username (none when
// empty) with a clean or a persistent session.
func v3Client(t *testing.T, addr, id, username string, clean bool) *brokertest.V3 {
	t.Helper()
	return brokertest.ConnectV3(t, addr, id, 4, func(o *mqtt.ClientOptions) {
		o.SetUsername(username).SetCleanSession(clean)
	})
}
