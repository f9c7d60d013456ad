package broker

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
	"github.com/baram-mqtt/baram/internal/session"
)

// errRefused ends a connection whose CONNECT was answered with a failure.
var errRefused = errors.New("connection refused")

// handleConnect admits or refuses a client. A refusal writes a CONNACK
// with the reason and ends the connection [MQTT-3.2.2-6]. A CONNECT with
// the SCRAM-SHA-256 Authentication Method starts an exchange of AUTH
// packets instead, which ends in the CONNACK; h and body are the CONNECT's.
func (c *conn) handleConnect(h packet.FixedHeader, p *packet.Connect, body []byte) error {
	c.readPeerLimits(p)
	c.setVersion(p.Version)
	if p.Props.Has(packet.PropAuthMethod) && c.scramAvailable(p) {
		return c.startConnectAuth(h, body)
	}
	return c.connect(p, &packet.Connack{}, false)
}

// connect admits the client, enhanced-authenticated already if authed,
// and attaches its session.
func (c *conn) connect(p *packet.Connect, ack *packet.Connack, authed bool) error {
	if code, reason := c.admit(p, ack, authed); code != packet.Success {
		return c.refuse(code, reason, ack)
	}
	expiry, never := c.sessionExpiry(p, ack)
	c.will, c.willDelay = willMessage(p, c.clientID)
	c.connectedAt = time.Now() // before attach publishes c to other goroutines
	present := c.b.attach(c, p.CleanStart, expiry, never)
	// A durable session, and the will that must fire if we crash, are
	// stored before the client hears its session exists.
	rec := sessionRecord(c.entry, c.will, c.willDelay, time.Time{})
	if err := c.b.saveSession(c.entry.sess, rec, true); err != nil {
		c.log.Error("connection refused: session could not be stored", "err", err)
		c.writeNow(&packet.Connack{ReasonCode: packet.ServerUnavailable})
		return errRefused
	}
	ack.SessionPresent = present
	c.b.stats.connects.Add(1)
	c.announce(ack)
	c.writeNow(ack)
	// Only now may publishes reach the connection: nothing overtakes the
	// CONNACK [MQTT-3.2.0-1]. Until here the session is offline to them.
	if err := c.entry.sess.Attach(c, c.version, c.sessionLimits(), time.Now()); err != nil {
		c.log.Error("closing connection: stored session unreadable", "err", err)
		return storeError{err}
	}
	c.resetKeepAlive()
	c.log.Debug("client connected", "version", p.Version, "clean_start", p.CleanStart,
		"session_present", present, "keepalive", c.keepAlive)
	return nil
}

// readPeerLimits keeps what a v5 client says it accepts.
func (c *conn) readPeerLimits(p *packet.Connect) {
	if p.Version != packet.V5 {
		return
	}
	if p.Props.Has(packet.PropMaximumPacketSize) {
		c.peer.maxPacket = p.Props.MaximumPacketSize
	}
	c.peer.aliasMax = p.Props.TopicAliasMaximum
	c.peer.recvMax = p.Props.ReceiveMaximum // 0 when absent: no limit beyond ours
	if p.Props.Has(packet.PropRequestProblemInfo) {
		c.peer.problemInfo = p.Props.RequestProblemInfo == 1
	}
}

// admit decides whether the client may connect, filling the client id and
// keep alive; authed skips authentication, done by an AUTH exchange. It returns the refusal code and a reason for the log.
func (c *conn) admit(p *packet.Connect, ack *packet.Connack, authed bool) (packet.ReasonCode, string) {
	o := &c.b.opts
	if code, reason := c.screenConnect(); code != packet.Success {
		return code, reason
	}
	if !authed {
		if p.Props.Has(packet.PropAuthMethod) {
			return packet.BadAuthenticationMethod, "unsupported authentication method " + p.Props.AuthMethod
		}
		if code, reason := c.authenticate(p); code != packet.Success {
			c.authFailed()
			return code, reason
		}
	}
	if code, reason := c.assignClientID(p, ack); code != packet.Success {
		return code, reason
	}
	if code, reason := c.grantKeepAlive(p, ack); code != packet.Success {
		return code, reason
	}
	if o.MaxConnections > 0 && c.b.connected.Load() > int64(o.MaxConnections) {
		c.b.stats.refusedMaxConns.Add(1)
		return packet.QuotaExceeded, "connection limit reached"
	}
	// Last, so that only CONNECTs that would be admitted count.
	return c.checkFlapping(p)
}

// assignClientID gives a client with an empty client id one of its own
// where the protocol allows it [MQTT-3.1.3-6], [MQTT-3.1.3-8].
func (c *conn) assignClientID(p *packet.Connect, ack *packet.Connack) (packet.ReasonCode, string) {
	if p.ClientID != "" {
		c.clientID = p.ClientID // connLog adds it to the log lines from here on
		return packet.Success, ""
	}
	switch {
	case p.Version == packet.V31:
		return packet.ClientIdentifierNotValid, "MQTT 3.1 requires a client id"
	case p.Version == packet.V311 && !p.CleanStart:
		return packet.ClientIdentifierNotValid, "an empty client id needs clean session [MQTT-3.1.3-8]"
	}
	var raw [12]byte
	rand.Read(raw[:])
	c.clientID = "baram-" + hex.EncodeToString(raw[:])
	if p.Version == packet.V5 {
		ack.Props.AssignedClientID = c.clientID
		ack.Props.Set(packet.PropAssignedClientID)
	}
	return packet.Success, ""
}

// grantKeepAlive applies keepalive_max: v5 clients are told the server
// keep alive [MQTT-3.2.2-21]; 3.x clients cannot be told, so one asking
// for more is refused, as Mosquitto does.
func (c *conn) grantKeepAlive(p *packet.Connect, ack *packet.Connack) (packet.ReasonCode, string) {
	max := c.b.opts.KeepAliveMax
	ka := p.KeepAlive
	if ka > max || (ka == 0 && max < 65535) {
		if p.Version != packet.V5 {
			return packet.ClientIdentifierNotValid, "keep alive above keepalive_max"
		}
		ka = max
		ack.Props.ServerKeepAlive = ka
		ack.Props.Set(packet.PropServerKeepAlive)
	}
	c.keepAlive = time.Duration(ka) * time.Second
	return packet.Success, ""
}

// sessionExpiry works out how long the session outlives the connection.
func (c *conn) sessionExpiry(p *packet.Connect, ack *packet.Connack) (time.Duration, bool) {
	limit := c.b.opts.SessionExpiry
	if p.Version != packet.V5 {
		if p.CleanStart {
			return 0, false
		}
		return limit, limit == 0
	}
	secs := p.Props.SessionExpiry
	never := secs == 0xFFFFFFFF
	d := time.Duration(secs) * time.Second
	if limit > 0 && (never || d > limit) {
		d, never = limit, false
		ack.Props.SessionExpiry = uint32(limit / time.Second)
		ack.Props.Set(packet.PropSessionExpiry)
	}
	return d, never
}

// announce adds the server's limits to a v5 CONNACK.
func (c *conn) announce(ack *packet.Connack) {
	if c.version != packet.V5 {
		return
	}
	o := &c.b.opts
	ack.Props.ReceiveMaximum = o.MaxInflight
	ack.Props.Set(packet.PropReceiveMaximum)
	ack.Props.MaximumPacketSize = o.MaxPacketSize
	ack.Props.Set(packet.PropMaximumPacketSize)
	ack.Props.TopicAliasMaximum = o.MaxTopicAlias
	ack.Props.Set(packet.PropTopicAliasMaximum)
}

// willMessage builds the Last Will from CONNECT.
func willMessage(p *packet.Connect, clientID string) (*session.Message, time.Duration) {
	w := p.Will
	if w == nil {
		return nil, 0
	}
	m := &session.Message{Topic: w.Topic, Payload: w.Payload, QoS: w.QoS, Retain: w.Retain, From: clientID}
	if p.Version == packet.V5 {
		m.Props = forwardProps(&w.Props)
		if w.Props.Has(packet.PropMessageExpiry) {
			// The expiry runs from when the will is published; store it relative.
			m.Props.MessageExpiry = w.Props.MessageExpiry
			m.Props.Set(packet.PropMessageExpiry)
		}
	}
	return m, time.Duration(w.Props.WillDelay) * time.Second
}

// sessionLimits are the session limits for this connection.
func (c *conn) sessionLimits() session.Limits { return c.b.sessionLimits(c.peer.recvMax) }

// equalConstantTime compares secrets without leaking where they differ.
func equalConstantTime(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
