package admin

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/listener"
)

// DefaultAddress is where the admin listener listens unless told
// otherwise: loopback only.
const DefaultAddress = "127.0.0.1:8080"

// maxBody bounds request bodies; a larger one gets 413.
const maxBody = 1 << 20

// Role is what a credential may do.
type Role string

// The roles: RoleRead may use GET routes, RoleAdmin every route.
const (
	RoleRead  Role = "read"
	RoleAdmin Role = "admin"
)

// allows reports whether a credential with role r may use a route that
// needs need.
func (r Role) allows(need Role) bool {
	switch need {
	case "":
		return true
	case RoleRead:
		return r == RoleRead || r == RoleAdmin
	}
	return r == RoleAdmin
}

// User is a basic-auth user.
type User struct {
	Username string
	// PasswordHash is a hash as the auth package verifies: argon2id (from
	// 'baram passwd'), Mosquitto's $7$ and $6$, or bcrypt.
	PasswordHash string
	Role         Role
}

// Token is a bearer token: Value, or the first line of File.
type Token struct {
	Value string
	File  string
	Role  Role
}

// minTokenLen is the shortest token accepted: a token is a password that
// no hash slows down, so it must be hard to guess.
const minTokenLen = 16

// ClientURL is where MQTT clients reach the broker, as in
// {Protocol: "ws", URL: "ws://127.0.0.1:8083/mqtt"}. The dashboard's MQTT
// panel connects to the first ws or wss one.
type ClientURL struct {
	Protocol string `json:"protocol"`
	URL      string `json:"url"`
}

// Options configure a Server.
type Options struct {
	// Address is where the server listens; it decides whether the API may
	// be open without credentials (only on loopback). "" means
	// DefaultAddress. The caller opens the listener and passes it to Serve.
	Address string
	// Users and Tokens are the credentials; with neither, the API is open
	// (RoleAdmin for everyone) and Address must be a loopback address.
	Users  []User
	Tokens []Token
	// Metrics serves GET /metrics; nil answers 404.
	Metrics http.Handler
	// Version is reported by /api/v1/stats.
	Version string
	// ClientURLs are the broker's client listeners, for /api/v1/listeners
	// and the dashboard's MQTT panel.
	ClientURLs []ClientURL
	// TLS, when set, makes Serve speak HTTPS with its (reloading)
	// certificates.
	TLS *listener.TLS
	// Logger receives failed logins (at most one line per 10 s) and server
	// errors; nil discards them.
	Logger *slog.Logger
}

// Server is the admin HTTP server. Its handler is safe for concurrent use.
type Server struct {
	b       *broker.Broker
	o       Options
	log     *slog.Logger
	creds   *credentials // nil: open, loopback only
	routes  []route
	handler http.Handler
	srv     *http.Server
	authLog rateLog
}

// route is one registered pattern and the role it needs ("" for anyone).
type route struct {
	pattern string
	role    Role
	h       http.HandlerFunc
}

// New checks o and returns a Server for b. It starts no goroutine.
func New(b *broker.Broker, o Options) (*Server, error) {
	if b == nil {
		return nil, errors.New("admin: nil broker")
	}
	if o.Address == "" {
		o.Address = DefaultAddress
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	creds, err := newCredentials(o.Users, o.Tokens)
	if err != nil {
		return nil, err
	}
	if creds == nil {
		if err := CheckOpen(o.Address); err != nil {
			return nil, err
		}
	}
	s := &Server{b: b, o: o, log: o.Logger, creds: creds}
	s.routes = s.routeTable()
	mux := http.NewServeMux()
	for _, rt := range s.routes {
		mux.Handle(rt.pattern, s.guard(rt))
	}
	// Unknown API paths get a JSON 404 rather than the dashboard's.
	mux.HandleFunc("GET /api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API route: "+r.Method+" "+r.URL.Path)
	})
	s.handler = s.hostCheck(mux)
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// routeTable lists every route; the OpenAPI document describes exactly
// these (a test checks).
func (s *Server) routeTable() []route {
	return []route{
		{"GET /healthz", "", s.healthz},
		{"GET /readyz", "", s.readyz},
		{"GET /metrics", RoleRead, s.metrics},
		{"GET /api/v1/openapi.json", RoleRead, serveOpenAPI},
		{"GET /api/v1/stats", RoleRead, s.stats},
		{"GET /api/v1/listeners", RoleRead, s.listeners},
		{"GET /api/v1/clients", RoleRead, s.listClients},
		{"GET /api/v1/clients/{id}", RoleRead, s.getClient},
		{"POST /api/v1/clients/{id}/disconnect", RoleAdmin, s.disconnectClient},
		{"GET /api/v1/subscriptions", RoleRead, s.listSubscriptions},
		{"GET /api/v1/retained", RoleRead, s.listRetained},
		{"GET /api/v1/retained/{topic...}", RoleRead, s.getRetained},
		{"DELETE /api/v1/retained/{topic...}", RoleAdmin, s.deleteRetained},
		{"POST /api/v1/publish", RoleAdmin, s.publish},
		{"GET /debug/pprof/", RoleAdmin, pprofIndex},
		{"GET /debug/pprof/cmdline", RoleAdmin, pprofCmdline},
		{"GET /debug/pprof/profile", RoleAdmin, pprofProfile},
		{"GET /debug/pprof/symbol", RoleAdmin, pprofSymbol},
		{"POST /debug/pprof/symbol", RoleAdmin, pprofSymbol},
		{"GET /debug/pprof/trace", RoleAdmin, pprofTrace},
		{"GET /", "", dashboard()},
	}
}

// Handler returns the server's handler, for tests and for callers that
// run their own http.Server.
func (s *Server) Handler() http.Handler { return s.handler }

// Open reports whether the API is open: no credentials are configured.
func (s *Server) Open() bool { return s.creds == nil }

// Serve answers requests on ln until Shutdown; it returns nil after
// Shutdown. With Options.TLS it speaks HTTPS. An open server (no
// credentials) refuses a listener that is not on a loopback address.
func (s *Server) Serve(ln net.Listener) error {
	if s.creds == nil {
		if err := CheckOpen(ln.Addr().String()); err != nil {
			return err
		}
	}
	if s.o.TLS != nil {
		ln = tls.NewListener(ln, s.o.TLS.Config())
	}
	if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin: %w", err)
	}
	return nil
}

// Shutdown stops Serve and waits for requests in progress to end, or for
// ctx to expire, after which it closes their connections.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	return err
}
