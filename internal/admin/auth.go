package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/baram-mqtt/baram/internal/auth"
)

// credentials are the configured users and tokens.
type credentials struct {
	users  *auth.PasswordFile // nil without users
	roles  map[string]Role    // by username
	tokens []tokenCred

	// challenges are the WWW-Authenticate values of a 401.
	challenges []string

	// A successful basic-auth check is remembered for loginCacheTTL, so a
	// dashboard polling every second does not run argon2id every second.
	mu    sync.Mutex
	cache map[[32]byte]cachedLogin // by sha256(username NUL password); guarded by mu
}

type tokenCred struct {
	sum  [32]byte // sha256 of the token
	role Role
}

type cachedLogin struct {
	role    Role
	expires time.Time
}

const (
	loginCacheTTL  = 5 * time.Minute
	loginCacheSize = 256
	realm          = `realm="baram admin"`
)

// newCredentials checks users and tokens and reads the token files. It
// returns nil when there are none.
func newCredentials(users []User, tokens []Token) (*credentials, error) {
	if len(users) == 0 && len(tokens) == 0 {
		return nil, nil
	}
	c := &credentials{roles: make(map[string]Role), cache: make(map[[32]byte]cachedLogin)}
	var errs []error
	var lines strings.Builder
	for i, u := range users {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("admin: users[%d]: %s", i, fmt.Sprintf(format, args...)))
		}
		if err := auth.ValidateUsername(u.Username); err != nil {
			bad("%v", err)
			continue
		}
		if _, dup := c.roles[u.Username]; dup {
			bad("user %q is listed twice", u.Username)
			continue
		}
		if err := auth.CheckHash(u.PasswordHash); err != nil {
			bad("password_hash: %v", err)
			continue
		}
		if err := checkRole(u.Role); err != nil {
			bad("%v", err)
			continue
		}
		c.roles[u.Username] = u.Role
		fmt.Fprintf(&lines, "%s:%s\n", u.Username, u.PasswordHash)
	}
	for i, t := range tokens {
		value, err := tokenValue(t)
		if err == nil {
			err = checkRole(t.Role)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("admin: tokens[%d]: %w", i, err))
			continue
		}
		c.tokens = append(c.tokens, tokenCred{sum: sha256.Sum256([]byte(value)), role: t.Role})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(c.roles) > 0 {
		pf, err := auth.ParsePasswords("admin users", []byte(lines.String()))
		if err != nil { // checked line by line above
			return nil, fmt.Errorf("admin: %w", err)
		}
		c.users = pf
		c.challenges = append(c.challenges, "Basic "+realm+`, charset="UTF-8"`)
	}
	if len(c.tokens) > 0 {
		c.challenges = append(c.challenges, "Bearer "+realm)
	}
	return c, nil
}

func checkRole(r Role) error {
	if r != RoleRead && r != RoleAdmin {
		return fmt.Errorf("role %q is not read or admin", r)
	}
	return nil
}

// tokenValue returns t's token: its Value, or the first line of its File.
func tokenValue(t Token) (string, error) {
	v := t.Value
	switch {
	case t.Value != "" && t.File != "":
		return "", errors.New("set a token or a token file, not both")
	case t.File != "":
		data, err := os.ReadFile(t.File)
		if err != nil {
			return "", fmt.Errorf("token file: %w", err)
		}
		v, _, _ = strings.Cut(string(data), "\n")
		v = strings.TrimSpace(v)
	}
	if len(v) < minTokenLen {
		return "", fmt.Errorf("a token must be at least %d characters (%d given); 'openssl rand -hex 32' makes a good one", minTokenLen, len(v))
	}
	return v, nil
}

// errNoCredentials is a request that presented none.
var errNoCredentials = errors.New("no credentials")

// authenticate returns the role of the credential r presents, and the
// username for logs.
func (c *credentials) authenticate(r *http.Request) (Role, string, error) {
	h := r.Header.Get("Authorization")
	scheme, value, _ := strings.Cut(h, " ")
	switch {
	case h == "":
		return "", "", errNoCredentials
	case strings.EqualFold(scheme, "Bearer"):
		return c.token(strings.TrimSpace(value))
	case strings.EqualFold(scheme, "Basic"):
		user, pass, ok := r.BasicAuth()
		if !ok {
			return "", "", errors.New("malformed basic credentials")
		}
		return c.basic(r, user, pass)
	}
	return "", "", fmt.Errorf("unsupported authorization scheme %q", scheme)
}

// token compares value with every token in constant time.
func (c *credentials) token(value string) (Role, string, error) {
	sum := sha256.Sum256([]byte(value))
	var role Role
	for _, t := range c.tokens { // no early exit: every token is compared
		if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 {
			role = t.role
		}
	}
	if role == "" {
		return "", "", errors.New("unknown bearer token")
	}
	return role, "", nil
}

// basic checks a username and password against the users' hashes.
func (c *credentials) basic(r *http.Request, user, pass string) (Role, string, error) {
	if c.users == nil {
		return "", user, errors.New("no users are configured; use a bearer token")
	}
	key := sha256.Sum256([]byte(user + "\x00" + pass))
	now := time.Now()
	c.mu.Lock()
	hit, ok := c.cache[key]
	c.mu.Unlock()
	if ok && now.Before(hit.expires) {
		return hit.role, user, nil
	}
	d, err := c.users.Authenticate(r.Context(), &auth.Request{
		Username: user, HasUsername: true, Password: []byte(pass), HasPassword: true, Remote: r.RemoteAddr,
	})
	if err != nil {
		return "", user, err
	}
	if d != auth.Allow {
		return "", user, errors.New("wrong username or password")
	}
	role := c.roles[user]
	c.mu.Lock()
	if len(c.cache) >= loginCacheSize {
		for k, v := range c.cache {
			if !now.Before(v.expires) {
				delete(c.cache, k)
			}
		}
		if len(c.cache) >= loginCacheSize {
			clear(c.cache)
		}
	}
	c.cache[key] = cachedLogin{role: role, expires: now.Add(loginCacheTTL)}
	c.mu.Unlock()
	return role, user, nil
}

// crossOrigin refuses writes that a browser sends from another site.
var crossOrigin = http.NewCrossOriginProtection()

// guard checks credentials, role and origin, and limits the body, before
// rt's handler runs.
func (s *Server) guard(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.role != "" {
			role := RoleAdmin // open: loopback only (New, Serve and hostCheck)
			if s.creds != nil {
				var user string
				var err error
				role, user, err = s.creds.authenticate(r)
				if err != nil {
					s.logAuthFailure(r, user, err)
					for _, ch := range s.creds.challenges {
						w.Header().Add("WWW-Authenticate", ch)
					}
					writeError(w, http.StatusUnauthorized, "authentication required: send a bearer token or basic credentials")
					return
				}
			}
			if !role.allows(rt.role) {
				writeError(w, http.StatusForbidden, fmt.Sprintf("role %s may not %s %s; it needs role %s", role, r.Method, r.URL.Path, rt.role))
				return
			}
		}
		if err := crossOrigin.Check(r); err != nil {
			writeError(w, http.StatusForbidden, "cross-origin request refused: "+err.Error())
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		rt.h(w, r)
	})
}

// logAuthFailure logs a request with bad credentials, at most once per
// authLogEvery; a request without any is not logged (a browser asks
// without credentials first).
func (s *Server) logAuthFailure(r *http.Request, user string, err error) {
	if errors.Is(err, errNoCredentials) {
		return
	}
	ok, suppressed := s.authLog.allow(time.Now())
	if !ok {
		return
	}
	s.log.Warn("admin API: authentication failed", "remote", r.RemoteAddr, "user", user,
		"method", r.Method, "path", r.URL.Path, "err", err, "suppressed_since_last", suppressed)
}

// authLogEvery is the least time between two failed-login log lines.
const authLogEvery = 10 * time.Second

// rateLog lets one log line through per authLogEvery and counts the rest.
type rateLog struct {
	mu         sync.Mutex
	next       time.Time // guarded by mu
	suppressed int       // lines held back since the last one; guarded by mu
}

func (l *rateLog) allow(now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.next) {
		l.suppressed++
		return false, 0
	}
	l.next = now.Add(authLogEvery)
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}

// hostCheck, on an open server, answers only requests whose Host is a
// loopback name or address, so that a page on another site cannot reach
// the API through a DNS name rebound to 127.0.0.1. The probes are exempt.
func (s *Server) hostCheck(next http.Handler) http.Handler {
	if s.creds != nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" && r.URL.Path != "/readyz" && !loopbackHost(r.Host) {
			writeError(w, http.StatusForbidden, "this admin API has no credentials configured and answers only to loopback host names (localhost, 127.0.0.1, [::1])")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// CheckOpen returns an error unless addr (host:port) is on a loopback
// address (127.0.0.0/8, ::1 or localhost), the only place where the admin
// API may run without credentials.
func CheckOpen(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || !loopbackHost(host) {
		return fmt.Errorf("admin: %q is not a loopback address and no credentials are configured, so anyone who reaches it could control the broker: "+
			"configure admin.users or admin.tokens, or listen on 127.0.0.1", addr)
	}
	return nil
}

// loopbackHost reports whether host (a name or address, with or without
// a port) is localhost or a loopback address.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
