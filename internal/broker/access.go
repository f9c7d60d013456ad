package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/baram-mqtt/baram/internal/acl"
	"github.com/baram-mqtt/baram/internal/auth"
	"github.com/baram-mqtt/baram/internal/listener"
	"github.com/baram-mqtt/baram/internal/packet"
	"github.com/baram-mqtt/baram/internal/topic"
)

// ListenerOptions are what a listener adds to the connections it accepts.
type ListenerOptions struct {
	// Name identifies the listener in logs and to authenticators.
	Name string
	// IdentityAsUsername takes the username from the verified client
	// certificate (cn, san_dns, san_email or subject), as Mosquitto's
	// use_identity_as_username: such a client needs no password.
	IdentityAsUsername string
	// MaxConnections caps the listener's concurrent connections; 0 is
	// unlimited. Past it: CONNACK 0x97 (3.x: 3).
	MaxConnections int
	// ConnectRate caps the new connections per second the listener
	// accepts, and ConnectBurst how many may come at once (0: a second's
	// worth); 0 is unlimited. Past it: CONNACK 0x9F (3.x: 3).
	ConnectRate  float64
	ConnectBurst int
}

// authenticate decides whether the client may connect and who it is: a
// certificate identity first, then the Authenticator, then the anonymous
// and Users rules.
func (c *conn) authenticate(p *packet.Connect) (packet.ReasonCode, string) {
	if id := c.certIdentity(); id != "" {
		c.username, c.hasUsername = id, true
		return packet.Success, ""
	}
	if a := c.b.opts.Authenticator; a != nil {
		ctx, cancel := context.WithTimeout(context.Background(), c.b.opts.AuthTimeout)
		defer cancel()
		req := &auth.Request{ClientID: p.ClientID, Username: p.Username, HasUsername: p.HasUsername,
			Password: p.Password, HasPassword: p.HasPassword, Remote: c.remote, Listener: c.ls.lo.Name,
			CertIdentity: c.certSubject()}
		d, err := a.Authenticate(ctx, req)
		switch d {
		case auth.Allow:
			c.username, c.hasUsername = p.Username, p.HasUsername
			if req.Grant != nil {
				g, err := grantRules(req.Grant)
				if err != nil {
					return packet.NotAuthorized, "unusable topic permissions: " + err.Error()
				}
				c.grant = g
			}
			return packet.Success, ""
		case auth.Deny:
			reason := "bad username or password"
			if err != nil {
				reason = "authentication failed: " + err.Error()
			}
			if !p.HasUsername {
				return packet.NotAuthorized, reason
			}
			return packet.BadUserNameOrPassword, reason
		}
	}
	return c.authenticateLocal(p)
}

// authenticateLocal applies AllowAnonymous and the Users map.
func (c *conn) authenticateLocal(p *packet.Connect) (packet.ReasonCode, string) {
	o := &c.b.opts
	if !p.HasUsername {
		if o.AllowAnonymous {
			return packet.Success, ""
		}
		return packet.NotAuthorized, "anonymous clients are not allowed"
	}
	if o.Users == nil {
		if o.AllowAnonymous {
			c.username, c.hasUsername = p.Username, true
			return packet.Success, ""
		}
		return packet.BadUserNameOrPassword, "unknown user"
	}
	want, ok := o.Users[p.Username]
	if !ok || !p.HasPassword || !equalConstantTime(want, string(p.Password)) {
		return packet.BadUserNameOrPassword, "bad username or password"
	}
	c.username, c.hasUsername = p.Username, true
	return packet.Success, ""
}

// certIdentity is the username a verified client certificate gives, or "".
func (c *conn) certIdentity() string {
	if c.ls.lo.IdentityAsUsername == "" {
		return ""
	}
	return c.certField(c.ls.lo.IdentityAsUsername)
}

// certSubject is the subject of a verified client certificate, or "",
// for authenticators (the HTTP hook sends it as cert_identity).
func (c *conn) certSubject() string { return c.certField(listener.IdentitySubject) }

func (c *conn) certField(mode string) string {
	tc, ok := c.nc.(interface{ ConnectionState() tls.ConnectionState })
	if !ok {
		return ""
	}
	return listener.Identity(tc.ConnectionState(), mode)
}

// rules returns the ACL in force, or nil when everything is allowed.
func (b *Broker) rules() *acl.ACL {
	if b.opts.ACL == nil {
		return nil
	}
	return b.opts.ACL()
}

// aclClient describes the connection's client to the ACL.
func (c *conn) aclClient() acl.Client {
	return acl.Client{Username: c.username, HasUsername: c.hasUsername, ClientID: c.clientID}
}

// grantRules turns an authenticator's topic grant into rules: one
// pattern line per filter; a direction the grant leaves open allows "#".
func grantRules(g *auth.Grant) (*acl.ACL, error) {
	var b strings.Builder
	for _, d := range []struct {
		access  string
		filters []string
	}{{"write", g.Publish}, {"read", g.Subscribe}} {
		if d.filters == nil {
			fmt.Fprintf(&b, "pattern %s #\n", d.access)
			continue
		}
		for _, f := range d.filters {
			if err := topic.ValidFilter(f); err != nil || strings.ContainsAny(f, "%\n") {
				return nil, fmt.Errorf("filter %q: not a plain topic filter", f)
			}
			fmt.Fprintf(&b, "pattern %s %s\n", d.access, f)
		}
	}
	return acl.Parse(strings.NewReader(b.String()), "grant")
}

// mayPublish checks the ACL, and the client's grant, for an inbound
// PUBLISH.
func (c *conn) mayPublish(topic string) bool {
	if strings.HasPrefix(topic, "$SYS/") || topic == "$SYS" {
		// Only the broker speaks under $SYS; a client's message there
		// would pass for the broker's own figures.
		c.log.Info("publish to $SYS refused: the topic tree is the broker's", "topic", topic)
		return false
	}
	if c.grant != nil && !c.grant.CanPublish(c.aclClient(), topic) {
		c.log.Info("publish outside the token's publish claim", "topic", topic)
		return false
	}
	if !c.authorized(topic, auth.AccessPublish) {
		return false
	}
	r := c.b.rules()
	if r == nil || r.CanPublish(c.aclClient(), topic) {
		return true
	}
	c.log.Info("publish denied by ACL", "topic", topic, "username", c.username)
	return false
}

// maySubscribe checks the ACL, and the client's grant, for one SUBSCRIBE
// filter.
func (c *conn) maySubscribe(filter string) bool {
	if c.grant != nil && !c.grant.CanSubscribe(c.aclClient(), filter) {
		c.log.Info("subscription outside the token's subscribe claim", "filter", filter)
		return false
	}
	if !c.authorized(filter, auth.AccessSubscribe) {
		return false
	}
	r := c.b.rules()
	if r == nil || r.CanSubscribe(c.aclClient(), filter) {
		return true
	}
	c.log.Info("subscription denied by ACL", "filter", filter, "username", c.username)
	return false
}

// authorized asks Options.Authorizer, if any; it fails closed.
func (c *conn) authorized(topic, access string) bool {
	a := c.b.opts.Authorizer
	if a == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.b.opts.AuthTimeout)
	defer cancel()
	ok, err := a.Allowed(ctx, c.clientID, c.username, topic, access)
	if !ok {
		c.log.Info("refused by the authorization hook", "topic", topic, "access", access, "err", err)
	}
	return ok
}

// isClientCertError reports a TLS handshake that refused the client's
// certificate.
func isClientCertError(err error) bool {
	var opErr *net.OpError
	return errors.Is(err, listener.ErrClientCert) || (errors.As(err, &opErr) && errors.Is(opErr.Err, listener.ErrClientCert))
}
