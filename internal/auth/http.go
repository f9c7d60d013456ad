package auth

import (
	"bytes"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
	"unicode/utf8"
)

// DefaultHTTPTimeout is the [HTTPConfig] Timeout used when none is set.
const DefaultHTTPTimeout = 5 * time.Second

// httpCacheMax bounds the number of cached HTTP decisions; the oldest entry
// is evicted first.
const httpCacheMax = 10000

// httpBodyMax bounds how much of the server's answer is read.
const httpBodyMax = 64 << 10

// HTTPConfig configures an [HTTP] authenticator.
type HTTPConfig struct {
	// URL is the http or https endpoint that receives a POST for every
	// decision that is not cached.
	URL string
	// Timeout bounds each request, in addition to the deadline of the
	// context passed to Authenticate. Zero means [DefaultHTTPTimeout].
	Timeout time.Duration
	// CacheTTL is how long a decision from the server is reused for the same
	// client id, user name, password and certificate identity. Zero disables
	// the cache. Errors are never cached.
	CacheTTL time.Duration
	// Headers are added to every request, for example an Authorization
	// header that identifies the broker to the server.
	Headers map[string]string
}

// HTTP is an [Authenticator] that asks a web service. It POSTs a JSON object
//
//	{"client_id": "...", "username": "...", "password": "...",
//	 "cert_identity": "...", "remote": "ip:port", "listener": "..."}
//
// and expects a 2xx answer whose body is {"result": "allow"}, "deny" or
// "ignore". Anything else (another status, a body it cannot read, a
// connection error or a timeout) is Deny with an error: it fails closed.
// A password that is not valid UTF-8 cannot be sent as a JSON string and is
// denied without asking the server.
//
// The password is sent to the server but is never part of an error; the
// cache is keyed by its SHA-256 hash, not the password itself.
//
// An HTTP is safe for concurrent use.
type HTTP struct {
	url     string
	timeout time.Duration
	ttl     time.Duration
	headers map[string]string
	client  *http.Client
	now     func() time.Time // replaced by tests

	mu    sync.Mutex
	cache map[httpCacheKey]*list.Element // of *httpCacheEntry
	order *list.List                     // oldest first
}

type httpCacheKey struct {
	clientID     string
	username     string
	hasUsername  bool
	password     [sha256.Size]byte
	hasPassword  bool
	certIdentity string
}

type httpCacheEntry struct {
	key      httpCacheKey
	decision Decision
	expires  time.Time
}

// NewHTTP returns an [HTTP] authenticator for cfg. A nil client means a
// client that does not follow redirects (a redirect is then a non-2xx
// answer, so Deny); a client that is given is used as it is.
func NewHTTP(cfg HTTPConfig, client *http.Client) (*HTTP, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("auth: http: invalid URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("auth: http: URL %q must be http:// or https:// with a host", u.Redacted())
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("auth: http: negative timeout %v", cfg.Timeout)
	}
	if cfg.CacheTTL < 0 {
		return nil, fmt.Errorf("auth: http: negative cache TTL %v", cfg.CacheTTL)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultHTTPTimeout
	}
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	headers := make(map[string]string, len(cfg.Headers))
	for k, v := range cfg.Headers {
		headers[k] = v
	}
	return &HTTP{
		url:     cfg.URL,
		timeout: cfg.Timeout,
		ttl:     cfg.CacheTTL,
		headers: headers,
		client:  client,
		now:     time.Now,
		cache:   make(map[httpCacheKey]*list.Element),
		order:   list.New(),
	}, nil
}

type httpAuthRequest struct {
	ClientID     string `json:"client_id"`
	Username     string `json:"username"`
	Password     string `json:"password"`
	CertIdentity string `json:"cert_identity"`
	Remote       string `json:"remote"`
	Listener     string `json:"listener"`
}

type httpAuthResponse struct {
	Result string `json:"result"`
}

// Authenticate implements [Authenticator].
func (h *HTTP) Authenticate(ctx context.Context, r *Request) (Decision, error) {
	if r == nil {
		return Deny, errors.New("auth: nil request")
	}
	if !utf8.Valid(r.Password) {
		return Deny, errors.New("auth: http: password is not valid UTF-8")
	}
	key := httpCacheKey{
		clientID:     r.ClientID,
		username:     r.Username,
		hasUsername:  r.HasUsername,
		password:     sha256.Sum256(r.Password),
		hasPassword:  r.HasPassword,
		certIdentity: r.CertIdentity,
	}
	if d, ok := h.cached(key); ok {
		return d, nil
	}
	d, err := h.ask(ctx, r)
	if err != nil {
		return Deny, err
	}
	h.store(key, d)
	return d, nil
}

// ask sends r to the server.
func (h *HTTP) ask(ctx context.Context, r *Request) (Decision, error) {
	result, err := h.post(ctx, httpAuthRequest{
		ClientID:     r.ClientID,
		Username:     r.Username,
		Password:     string(r.Password),
		CertIdentity: r.CertIdentity,
		Remote:       r.Remote,
		Listener:     r.Listener,
	})
	if err != nil {
		return Deny, err
	}
	switch result {
	case "allow":
		return Allow, nil
	case "deny":
		return Deny, nil
	case "ignore":
		return Ignore, nil
	}
	return Deny, errors.New(`auth: http: answer's "result" is not "allow", "deny" or "ignore"`)
}

// post sends body as JSON and returns the "result" of the answer; any
// failure is an error (the callers fail closed).
func (h *HTTP) post(ctx context.Context, body any) (string, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return "", fmt.Errorf("auth: http: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("auth: http: %w", err)
	}
	for k, v := range h.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		// A *url.Error names the method and URL, never the body.
		return "", fmt.Errorf("auth: http: %w", err)
	}
	defer resp.Body.Close()
	// The body is never quoted in errors: a server may echo the password.
	answer, err := io.ReadAll(io.LimitReader(resp.Body, httpBodyMax+1))
	if err != nil {
		return "", fmt.Errorf("auth: http: reading answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", fmt.Errorf("auth: http: server answered %s", resp.Status)
	}
	if len(answer) > httpBodyMax {
		return "", fmt.Errorf("auth: http: answer longer than %d bytes", httpBodyMax)
	}
	var ans httpAuthResponse
	if err := json.Unmarshal(answer, &ans); err != nil {
		return "", errors.New("auth: http: answer is not a JSON object with a \"result\"")
	}
	return ans.Result, nil
}

// cached returns the unexpired cached decision for key.
func (h *HTTP) cached(key httpCacheKey) (Decision, bool) {
	if h.ttl <= 0 {
		return Ignore, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	el, ok := h.cache[key]
	if !ok {
		return Ignore, false
	}
	e := el.Value.(*httpCacheEntry)
	if !h.now().Before(e.expires) {
		h.order.Remove(el)
		delete(h.cache, key)
		return Ignore, false
	}
	return e.decision, true
}

// store caches d for key, evicting expired entries and, past httpCacheMax,
// the oldest ones.
func (h *HTTP) store(key httpCacheKey, d Decision) {
	if h.ttl <= 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	if el, ok := h.cache[key]; ok {
		h.order.Remove(el)
		delete(h.cache, key)
	}
	// Every entry has the same TTL, so the oldest expire first.
	for el := h.order.Front(); el != nil; el = h.order.Front() {
		e := el.Value.(*httpCacheEntry)
		if now.Before(e.expires) && h.order.Len() < httpCacheMax {
			break
		}
		h.order.Remove(el)
		delete(h.cache, e.key)
	}
	h.cache[key] = h.order.PushBack(&httpCacheEntry{key: key, decision: d, expires: now.Add(h.ttl)})
}

// cacheLen returns the number of cached decisions, for tests.
func (h *HTTP) cacheLen() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.cache)
}
