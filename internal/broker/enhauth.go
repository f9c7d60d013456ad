package broker

import (
	"bytes"
	"errors"

	"github.com/baram-mqtt/baram/internal/auth"
	"github.com/baram-mqtt/baram/internal/packet"
)

// ScramMethod is the MQTT 5 Authentication Method of SCRAM-SHA-256.
const ScramMethod = "SCRAM-SHA-256"

// enhancedAuth is the state of an MQTT 5 enhanced authentication exchange,
// at CONNECT or a re-authentication. It is owned by the reader goroutine.
type enhancedAuth struct {
	method  string            // the method the connection authenticated with; "" for none
	scram   *auth.ScramServer // the exchange in progress, nil between exchanges
	pending *packet.Connect   // the CONNECT waiting for the exchange to end
}

// scramAvailable reports whether a CONNECT's Authentication Method is one
// the broker can run.
func (c *conn) scramAvailable(p *packet.Connect) bool {
	return p.Props.AuthMethod == ScramMethod && c.b.opts.Scram != nil
}

// startConnectAuth begins the SCRAM exchange of a CONNECT: the client's
// first message is in the Authentication Data; the server-first message
// goes back in AUTH 0x18. body is the CONNECT's body, which is cloned: the
// CONNECT outlives the read buffer.
func (c *conn) startConnectAuth(h packet.FixedHeader, body []byte) error {
	p, err := packet.Decode(h, bytes.Clone(body), 0)
	if err != nil {
		return err
	}
	cp := p.(*packet.Connect)
	if code, reason := c.screenConnect(); code != packet.Success {
		return c.refuse(code, reason, nil)
	}
	c.ea.scram = auth.NewScramServer(c.b.opts.Scram, nil)
	c.ea.pending = cp
	reply, _, err := c.ea.scram.Step(cp.Props.AuthData)
	if err != nil {
		c.authFailed()
		return c.refuse(packet.BadUserNameOrPassword, "SCRAM authentication failed: "+err.Error(), nil)
	}
	c.writePacket(authPacket(packet.ContinueAuthentication, reply))
	return nil
}

// connectAuth handles a packet that arrives while the CONNECT's exchange
// is in progress: only AUTH 0x18 with the same method may.
func (c *conn) connectAuth(h packet.FixedHeader, body []byte) error {
	if h.Type != packet.AUTH {
		return packet.Errorf(packet.ProtocolError, "%s during enhanced authentication", h.Type)
	}
	pk, err := packet.Decode(h, body, packet.V5)
	if err != nil {
		return err
	}
	a := pk.(*packet.Auth)
	if a.ReasonCode != packet.ContinueAuthentication || a.Props.AuthMethod != ScramMethod {
		return c.refuse(packet.ProtocolError, "AUTH must continue the authentication with the same method", nil)
	}
	reply, done, err := c.ea.scram.Step(a.Props.AuthData)
	p := c.ea.pending
	if err != nil || !done {
		c.authFailed()
		reason := "SCRAM authentication failed"
		if err != nil {
			reason += ": " + err.Error()
		}
		return c.refuse(packet.BadUserNameOrPassword, reason, nil)
	}
	c.username, c.hasUsername = c.ea.scram.Username(), true
	c.ea.scram, c.ea.pending, c.ea.method = nil, nil, ScramMethod
	ack := &packet.Connack{}
	ack.Props.AuthMethod = ScramMethod
	ack.Props.Set(packet.PropAuthMethod)
	ack.Props.AuthData = reply
	ack.Props.Set(packet.PropAuthData)
	return c.connect(p, ack, true)
}

// refuse answers CONNECT with a failed CONNACK and ends the connection.
func (c *conn) refuse(code packet.ReasonCode, reason string, ack *packet.Connack) error {
	if ack == nil {
		ack = &packet.Connack{}
	}
	if !c.lim.logged { // limits log and count their refusals themselves
		c.log.Info("connection refused", "reason", reason, "code", byte(code), "version", c.version)
		c.b.stats.countRefusal(code)
	}
	ack.ReasonCode = code
	c.setReason(&ack.Props, reason)
	c.writeNow(ack)
	return errRefused
}

// handleAuth handles AUTH after CONNECT: re-authentication [MQTT-4.12.1].
func (c *conn) handleAuth(a *packet.Auth) error {
	if c.ea.method == "" {
		return packet.Errorf(packet.ProtocolError, "AUTH without an authentication method in CONNECT")
	}
	if a.Props.AuthMethod != c.ea.method {
		return packet.Errorf(packet.ProtocolError, "re-authentication with method %q, not %q [MQTT-4.12.1-1]",
			a.Props.AuthMethod, c.ea.method)
	}
	switch a.ReasonCode {
	case packet.ReAuthenticate:
		if c.ea.scram != nil {
			return packet.Errorf(packet.ProtocolError, "re-authentication while one is in progress")
		}
		c.ea.scram = auth.NewScramServer(c.b.opts.Scram, nil)
		reply, _, err := c.ea.scram.Step(a.Props.AuthData)
		if err != nil {
			return c.reauthFailed(err)
		}
		c.sendAuth(authPacket(packet.ContinueAuthentication, reply))
		return nil
	case packet.ContinueAuthentication:
		if c.ea.scram == nil {
			return packet.Errorf(packet.ProtocolError, "AUTH 0x18 without an authentication in progress")
		}
		reply, done, err := c.ea.scram.Step(a.Props.AuthData)
		if err == nil && !done {
			err = auth.ErrScramAuthFailed
		}
		if err == nil && c.ea.scram.Username() != c.username {
			err = errReauthUser
		}
		if err != nil {
			return c.reauthFailed(err)
		}
		c.ea.scram = nil
		c.log.Debug("client re-authenticated", "username", c.username)
		c.sendAuth(authPacket(packet.Success, reply))
		return nil
	default:
		return packet.Errorf(packet.ProtocolError, "AUTH reason 0x%02X from a client", byte(a.ReasonCode))
	}
}

var errReauthUser = errors.New("re-authentication as a different user")

// reauthFailed ends a connection whose re-authentication failed.
func (c *conn) reauthFailed(err error) error {
	c.ea.scram = nil
	c.authFailed()
	return packet.Errorf(packet.NotAuthorized, "re-authentication failed: %v", err)
}

// sendAuth writes an AUTH after what came before it in the read batch.
func (c *conn) sendAuth(a *packet.Auth) {
	c.tx.after = append(c.tx.after, func(failed bool) {
		if !failed {
			c.writePacket(a)
		}
	})
}

// authPacket is an AUTH of the SCRAM method carrying data.
func authPacket(code packet.ReasonCode, data []byte) *packet.Auth {
	a := &packet.Auth{ReasonCode: code}
	a.Props.AuthMethod = ScramMethod
	a.Props.Set(packet.PropAuthMethod)
	a.Props.AuthData = data
	a.Props.Set(packet.PropAuthData)
	return a
}
