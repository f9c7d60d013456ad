package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// authServer is an httptest server that answers with result (or, when
// result starts with "status:", the rest as a raw status line body) and
// records what it received.
type authServer struct {
	*httptest.Server
	hits   atomic.Int32
	mu     sync.Mutex
	last   httpAuthRequest
	header http.Header
}

func newAuthServer(t *testing.T, h func(w http.ResponseWriter, req httpAuthRequest)) *authServer {
	t.Helper()
	s := &authServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		var req httpAuthRequest
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.last, s.header = req, r.Header.Clone()
		s.mu.Unlock()
		h(w, req)
	}))
	t.Cleanup(s.Close)
	return s
}

func answer(result string) func(http.ResponseWriter, httpAuthRequest) {
	return func(w http.ResponseWriter, _ httpAuthRequest) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"result":"` + result + `"}`))
	}
}

func newHTTPAuth(t *testing.T, cfg HTTPConfig, s *authServer) *HTTP {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = s.URL
	}
	client := s.Client()
	t.Cleanup(client.CloseIdleConnections)
	h, err := NewHTTP(cfg, client)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func httpReq(user, password string) *Request {
	return &Request{
		ClientID: "c1", Username: user, HasUsername: true,
		Password: []byte(password), HasPassword: true,
		CertIdentity: "cn=dev", Remote: "192.0.2.1:1234", Listener: "tls",
	}
}

func TestHTTPResults(t *testing.T) {
	for _, tc := range []struct {
		result string
		want   Decision
	}{{"allow", Allow}, {"deny", Deny}, {"ignore", Ignore}} {
		t.Run(tc.result, func(t *testing.T) {
			s := newAuthServer(t, answer(tc.result))
			h := newHTTPAuth(t, HTTPConfig{Headers: map[string]string{"Authorization": "Bearer broker"}}, s)
			d, err := h.Authenticate(context.Background(), httpReq("alice", "s3cret"))
			if err != nil || d != tc.want {
				t.Fatalf("Authenticate = %v, %v; want %v", d, err, tc.want)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			want := httpAuthRequest{ClientID: "c1", Username: "alice", Password: "s3cret",
				CertIdentity: "cn=dev", Remote: "192.0.2.1:1234", Listener: "tls"}
			if s.last != want {
				t.Errorf("server got %+v, want %+v", s.last, want)
			}
			if got := s.header.Get("Authorization"); got != "Bearer broker" {
				t.Errorf("Authorization header = %q", got)
			}
		})
	}
}

// TestHTTPFailsClosed checks that every kind of failure is Deny with an
// error, and that no error quotes the password.
func TestHTTPFailsClosed(t *testing.T) {
	const password = "pa55-never-logged"
	for _, tc := range []struct {
		name string
		h    func(http.ResponseWriter, httpAuthRequest)
	}{
		{"status 500", func(w http.ResponseWriter, r httpAuthRequest) {
			http.Error(w, "boom "+r.Password, http.StatusInternalServerError)
		}},
		{"status 403 with allow body", func(w http.ResponseWriter, _ httpAuthRequest) {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"result":"allow"}`))
		}},
		{"redirect", func(w http.ResponseWriter, _ httpAuthRequest) {
			w.Header().Set("Location", "/elsewhere")
			w.WriteHeader(http.StatusTemporaryRedirect)
		}},
		{"not JSON", func(w http.ResponseWriter, r httpAuthRequest) {
			_, _ = w.Write([]byte("hello " + r.Password))
		}},
		{"empty body", func(http.ResponseWriter, httpAuthRequest) {}},
		{"unknown result", answer("maybe")},
		{"missing result", func(w http.ResponseWriter, r httpAuthRequest) {
			_, _ = w.Write([]byte(`{"password":"` + r.Password + `"}`))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newAuthServer(t, tc.h)
			h, err := NewHTTP(HTTPConfig{URL: s.URL, CacheTTL: time.Minute}, nil) // nil: no redirects
			if err != nil {
				t.Fatal(err)
			}
			d, err := h.Authenticate(context.Background(), httpReq("alice", password))
			if d != Deny || err == nil {
				t.Fatalf("Authenticate = %v, %v; want deny with an error", d, err)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error quotes the password: %v", err)
			}
			if h.cacheLen() != 0 {
				t.Error("a failure was cached")
			}
		})
	}
}

func TestHTTPTimeout(t *testing.T) {
	const password = "pa55-never-logged"
	release := make(chan struct{})
	s := newAuthServer(t, func(w http.ResponseWriter, _ httpAuthRequest) {
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
		answer("allow")(w, httpAuthRequest{})
	})
	defer close(release) // runs before s.Close, so the handler returns
	h := newHTTPAuth(t, HTTPConfig{Timeout: 50 * time.Millisecond}, s)
	start := time.Now()
	d, err := h.Authenticate(context.Background(), httpReq("alice", password))
	if d != Deny || err == nil {
		t.Fatalf("Authenticate = %v, %v; want deny with an error", d, err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %v despite a 50ms timeout", el)
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("error quotes the password: %v", err)
	}
}

func TestHTTPContextDeadline(t *testing.T) {
	release := make(chan struct{})
	s := newAuthServer(t, func(w http.ResponseWriter, _ httpAuthRequest) {
		<-release
	})
	defer close(release)
	h := newHTTPAuth(t, HTTPConfig{}, s) // 5s default, but the caller's deadline is shorter
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if d, err := h.Authenticate(ctx, httpReq("alice", "x")); d != Deny || err == nil {
		t.Fatalf("Authenticate = %v, %v; want deny with an error", d, err)
	}
}

func TestHTTPServerDown(t *testing.T) {
	s := newAuthServer(t, answer("allow"))
	h := newHTTPAuth(t, HTTPConfig{Timeout: time.Second}, s)
	s.Close()
	const password = "pa55-never-logged"
	d, err := h.Authenticate(context.Background(), httpReq("alice", password))
	if d != Deny || err == nil {
		t.Fatalf("Authenticate = %v, %v; want deny with an error", d, err)
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("error quotes the password: %v", err)
	}
}

func TestHTTPCache(t *testing.T) {
	s := newAuthServer(t, func(w http.ResponseWriter, r httpAuthRequest) {
		if r.Password == "good" {
			answer("allow")(w, r)
		} else {
			answer("deny")(w, r)
		}
	})
	h := newHTTPAuth(t, HTTPConfig{CacheTTL: time.Minute}, s)
	now := time.Unix(1_000_000, 0)
	h.now = func() time.Time { return now }
	ctx := context.Background()

	check := func(r *Request, want Decision, wantHits int32) {
		t.Helper()
		d, err := h.Authenticate(ctx, r)
		if err != nil || d != want {
			t.Fatalf("Authenticate = %v, %v; want %v", d, err, want)
		}
		if got := s.hits.Load(); got != wantHits {
			t.Fatalf("server hits = %d, want %d", got, wantHits)
		}
	}
	check(httpReq("alice", "good"), Allow, 1)
	check(httpReq("alice", "good"), Allow, 1) // cached
	check(httpReq("alice", "bad"), Deny, 2)   // another password is another key
	check(httpReq("alice", "bad"), Deny, 2)
	other := httpReq("alice", "good")
	other.ClientID = "c2"
	check(other, Allow, 3)
	other = httpReq("alice", "good")
	other.CertIdentity = ""
	check(other, Allow, 4)
	other.Remote = "198.51.100.7:1" // not part of the key
	check(other, Allow, 4)

	now = now.Add(59 * time.Second)
	check(httpReq("alice", "good"), Allow, 4)
	now = now.Add(time.Second) // TTL over
	check(httpReq("alice", "good"), Allow, 5)
	check(httpReq("alice", "good"), Allow, 5)

	// The cache holds hashes, never the password.
	h.mu.Lock()
	for k := range h.cache {
		if strings.Contains(k.clientID+k.username+k.certIdentity+string(k.password[:]), "good") {
			t.Errorf("cache key holds the password: %+v", k)
		}
	}
	h.mu.Unlock()
}

func TestHTTPCacheBounded(t *testing.T) {
	h, err := NewHTTP(HTTPConfig{URL: "http://127.0.0.1:1/", CacheTTL: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range httpCacheMax + 10 {
		h.store(httpCacheKey{clientID: string(rune(i))}, Allow)
	}
	if n := h.cacheLen(); n != httpCacheMax {
		t.Fatalf("cache holds %d entries, want %d", n, httpCacheMax)
	}
	if _, ok := h.cached(httpCacheKey{clientID: string(rune(0))}); ok {
		t.Error("oldest entry was not evicted")
	}
	if _, ok := h.cached(httpCacheKey{clientID: string(rune(httpCacheMax + 9))}); !ok {
		t.Error("newest entry is missing")
	}
}

func TestHTTPNoCache(t *testing.T) {
	s := newAuthServer(t, answer("allow"))
	h := newHTTPAuth(t, HTTPConfig{}, s)
	for range 2 {
		if d, err := h.Authenticate(context.Background(), httpReq("a", "b")); d != Allow || err != nil {
			t.Fatalf("Authenticate = %v, %v", d, err)
		}
	}
	if s.hits.Load() != 2 {
		t.Fatalf("server hits = %d, want 2 without a cache", s.hits.Load())
	}
}

func TestHTTPRejectsNonUTF8Password(t *testing.T) {
	s := newAuthServer(t, answer("allow"))
	h := newHTTPAuth(t, HTTPConfig{}, s)
	if d, err := h.Authenticate(context.Background(), httpReq("a", "\xff\xfe")); d != Deny || err == nil {
		t.Fatalf("Authenticate = %v, %v; want deny with an error", d, err)
	}
	if s.hits.Load() != 0 {
		t.Fatal("server was asked")
	}
}

func TestNewHTTPErrors(t *testing.T) {
	for _, cfg := range []HTTPConfig{
		{URL: ""},
		{URL: "ftp://example.com/"},
		{URL: "http://"},
		{URL: "http://example.com/", Timeout: -1},
		{URL: "http://example.com/", CacheTTL: -1},
	} {
		if _, err := NewHTTP(cfg, nil); err == nil {
			t.Errorf("NewHTTP(%+v) succeeded", cfg)
		}
	}
}
