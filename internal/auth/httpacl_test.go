package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// The authorizer allows what the service allows, caches answers, and
// refuses when the service fails.
func TestHTTPAuthorizer(t *testing.T) {
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		var q httpACLRequest
		if err := json.NewDecoder(r.Body).Decode(&q); err != nil {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		if q.Topic == "boom" {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		result := "deny"
		if q.Username == "alice" && q.Access == AccessPublish && q.Topic == "home/alice" {
			result = "allow"
		}
		json.NewEncoder(w).Encode(map[string]string{"result": result})
	}))
	defer srv.Close()
	a, err := NewHTTPAuthorizer(HTTPConfig{URL: srv.URL, CacheTTL: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		user, topic, access string
		want                bool
	}{
		{"alice", "home/alice", AccessPublish, true},
		{"alice", "home/alice", AccessSubscribe, false},
		{"bob", "home/alice", AccessPublish, false},
		{"alice", "home/alice", AccessPublish, true}, // cached
	} {
		if got, err := a.Allowed(ctx, "c", tc.user, tc.topic, tc.access); got != tc.want || err != nil {
			t.Errorf("%s %s %s = %v, %v; want %v", tc.user, tc.access, tc.topic, got, err, tc.want)
		}
	}
	if n := asked.Load(); n != 3 {
		t.Errorf("service asked %d times, want 3 (one answer cached)", n)
	}
	if got, err := a.Allowed(ctx, "c", "alice", "boom", AccessPublish); got || err == nil {
		t.Errorf("failing service: %v, %v; want a refusal with an error", got, err)
	}
	srv.Close()
	if got, err := a.Allowed(ctx, "c", "carol", "x", AccessPublish); got || err == nil {
		t.Errorf("service down: %v, %v; want a refusal with an error", got, err)
	}
}
