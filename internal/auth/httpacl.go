package auth

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// Access names for an authorization question.
const (
	AccessPublish   = "publish"
	AccessSubscribe = "subscribe"
)

// HTTPAuthorizer asks a web service whether a client may publish to a topic
// or subscribe to a filter: it POSTs {"client_id", "username", "topic",
// "access"} and reads {"result": "allow"|"deny"}. Anything else, a
// non-2xx answer, a timeout or a connection error is a refusal (fail
// closed). Answers are cached for the configured TTL.
type HTTPAuthorizer struct {
	h *HTTP // transport, timeout and headers

	mu    sync.Mutex
	cache map[aclQuestion]aclAnswer // bounded by httpCacheMax; guarded by mu
}

type aclQuestion struct{ clientID, username, topic, access string }

type aclAnswer struct {
	allow   bool
	expires time.Time
}

type httpACLRequest struct {
	ClientID string `json:"client_id"`
	Username string `json:"username"`
	Topic    string `json:"topic"`
	Access   string `json:"access"`
}

// NewHTTPAuthorizer returns an authorizer for cfg (as NewHTTP: URL,
// Timeout, CacheTTL, Headers; a nil client follows no redirects).
func NewHTTPAuthorizer(cfg HTTPConfig, client *http.Client) (*HTTPAuthorizer, error) {
	h, err := NewHTTP(cfg, client)
	if err != nil {
		return nil, err
	}
	return &HTTPAuthorizer{h: h, cache: make(map[aclQuestion]aclAnswer)}, nil
}

// Allowed reports whether the client may have access ("publish" or
// "subscribe") to topic; the error says why a refusal was not the
// service's own answer.
func (a *HTTPAuthorizer) Allowed(ctx context.Context, clientID, username, topic, access string) (bool, error) {
	q := aclQuestion{clientID, username, topic, access}
	if allow, ok := a.cached(q); ok {
		return allow, nil
	}
	result, err := a.h.post(ctx, httpACLRequest{ClientID: clientID, Username: username, Topic: topic, Access: access})
	if err != nil {
		return false, err
	}
	allow := result == "allow"
	a.store(q, allow)
	return allow, nil
}

func (a *HTTPAuthorizer) cached(q aclQuestion) (allow, ok bool) {
	if a.h.ttl <= 0 {
		return false, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	ans, ok := a.cache[q]
	if !ok || !a.h.now().Before(ans.expires) {
		return false, false
	}
	return ans.allow, true
}

// store caches an answer; a full cache is emptied (every entry has the
// same short TTL, so little is lost).
func (a *HTTPAuthorizer) store(q aclQuestion, allow bool) {
	if a.h.ttl <= 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cache) >= httpCacheMax {
		clear(a.cache)
	}
	a.cache[q] = aclAnswer{allow: allow, expires: a.h.now().Add(a.h.ttl)}
}
