package auth

import (
	"context"
	"fmt"
	"log/slog"
)

// Request is what a client presents when it connects, together with what the
// transport knows about the connection.
type Request struct {
	ClientID     string
	Username     string
	HasUsername  bool
	Password     []byte
	HasPassword  bool
	CertIdentity string // identity taken from a verified client certificate ("" if none)
	Remote       string // peer address "ip:port"
	Listener     string // listener name/address

	// Grant is set by an authenticator that allows the client only some
	// topics (a JWT's "publish"/"subscribe" claims); nil: no such limit.
	Grant *Grant
}

// Grant limits an authenticated client to topic filters, on top of the
// ACL. A nil list leaves that direction to the ACL alone; an empty one
// allows nothing.
type Grant struct {
	Publish   []string // filters the client may publish to
	Subscribe []string // filters the client may subscribe to (and so receive)
}

// LogValue implements [slog.LogValuer]. It leaves out the password, so a
// *Request can be logged as it is.
func (r *Request) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("client_id", r.ClientID),
		slog.String("username", r.Username),
		slog.Bool("has_username", r.HasUsername),
		slog.Bool("has_password", r.HasPassword),
		slog.String("cert_identity", r.CertIdentity),
		slog.String("remote", r.Remote),
		slog.String("listener", r.Listener),
	)
}

// Decision is an authenticator's answer to a Request.
type Decision int

const (
	// Ignore means the authenticator has no opinion about the request, for
	// example a password file asked about a client that sent no user name.
	Ignore Decision = iota
	// Allow lets the client connect.
	Allow
	// Deny refuses the connection.
	Deny
)

// String returns "ignore", "allow" or "deny".
func (d Decision) String() string {
	switch d {
	case Ignore:
		return "ignore"
	case Allow:
		return "allow"
	case Deny:
		return "deny"
	}
	return fmt.Sprintf("Decision(%d)", int(d))
}

// Authenticator decides whether a client may connect. Implementations must be
// safe for concurrent use. An implementation that returns an error must also
// return Deny.
type Authenticator interface {
	Authenticate(ctx context.Context, r *Request) (Decision, error)
}

// Chain asks each authenticator in order; the first Allow or Deny wins. An
// error from an authenticator ends the chain with Deny (it fails closed), and
// the error is returned for logging. When every authenticator answers Ignore,
// so does the chain, and the caller's policy for anonymous clients applies.
type Chain []Authenticator

// Authenticate implements [Authenticator].
func (c Chain) Authenticate(ctx context.Context, r *Request) (Decision, error) {
	for i, a := range c {
		if a == nil {
			return Deny, fmt.Errorf("auth: chain entry %d is nil", i)
		}
		d, err := a.Authenticate(ctx, r)
		if err != nil {
			return Deny, fmt.Errorf("auth: chain entry %d (%T): %w", i, a, err)
		}
		switch d {
		case Ignore:
			continue
		case Allow, Deny:
			return d, nil
		default:
			return Deny, fmt.Errorf("auth: chain entry %d (%T) returned invalid %v", i, a, d)
		}
	}
	return Ignore, nil
}
