package broker

import (
	"errors"
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
	"github.com/baram-mqtt/baram/internal/session"
	"github.com/baram-mqtt/baram/internal/store"
	"github.com/baram-mqtt/baram/internal/topic"
)

// errDisconnect ends the read loop after a client's DISCONNECT.
var errDisconnect = errors.New("client sent DISCONNECT")

// errKicked ends the read loop after the server closed the connection.
var errKicked = errors.New("closed by the server")

// handle dispatches one whole packet.
func (c *conn) handle(h packet.FixedHeader, body []byte) error {
	if c.entry == nil {
		return c.handleFirst(h, body)
	}
	if h.Type == packet.PUBLISH { // the hot path decodes into a reused struct
		return c.handlePublish(h, body)
	}
	p, err := packet.Decode(h, body, c.version)
	if err != nil {
		return err
	}
	now := time.Now()
	switch p := p.(type) {
	case *packet.Ack:
		return c.handleAck(p, now)
	case *packet.Subscribe:
		return c.handleSubscribe(p)
	case *packet.Unsubscribe:
		return c.handleUnsubscribe(p)
	case *packet.Pingreq:
		// After what came before it in the read batch is delivered, so a
		// PINGRESP is a barrier clients (and tests) can rely on.
		c.tx.after = append(c.tx.after, c.pong)
		return nil
	case *packet.Disconnect:
		return c.handleDisconnect(p)
	case *packet.Auth:
		return c.handleAuth(p)
	case *packet.Connect:
		return packet.Errorf(packet.ProtocolError, "second CONNECT on one connection [MQTT-3.1.0-2]")
	default:
		return packet.Errorf(packet.ProtocolError, "%s is not sent by clients", h.Type)
	}
}

// pong answers a PINGREQ.
func (c *conn) pong(failed bool) {
	if !failed {
		c.writePacket(&packet.Pingresp{})
	}
}

// handleFirst requires the first packet to be CONNECT [MQTT-3.1.0-1], or
// AUTH while the CONNECT's enhanced authentication is in progress.
func (c *conn) handleFirst(h packet.FixedHeader, body []byte) error {
	if c.ea.pending != nil {
		return c.connectAuth(h, body)
	}
	if h.Type != packet.CONNECT {
		return packet.Errorf(packet.ProtocolError, "first packet is %s, not CONNECT", h.Type)
	}
	p, err := packet.Decode(h, body, 0)
	if err != nil {
		c.refuseConnect(body, err)
		return err
	}
	return c.handleConnect(h, p.(*packet.Connect), body)
}

// refuseConnect answers a CONNECT that failed to decode: a v5 client gets
// a CONNACK with the reason [MQTT-4.13.1-1]; any other level that is not
// supported gets the 3.x return code 1 [MQTT-3.1.2-2].
func (c *conn) refuseConnect(body []byte, err error) {
	var perr *packet.Error
	if !errors.As(err, &perr) {
		return
	}
	level, _ := packet.ConnectLevel(body)
	switch {
	case level == packet.V5:
		c.setVersion(packet.V5)
		ack := &packet.Connack{ReasonCode: perr.Code}
		c.setReason(&ack.Props, perr.Msg)
		c.writeNow(ack)
	case perr.Code == packet.UnsupportedProtocolVersion:
		c.setVersion(packet.V311)
		c.writeNow(&packet.Connack{ReasonCode: packet.UnsupportedProtocolVersion})
	}
}

// handleAck advances an outbound QoS 1/2 delivery, or completes an
// inbound QoS 2 one on PUBREL.
func (c *conn) handleAck(p *packet.Ack, now time.Time) error {
	s := c.entry.sess
	known := true
	switch p.Kind {
	case packet.PUBACK:
		known = s.Puback(p.PacketID, now)
	case packet.PUBREC:
		known = s.Pubrec(p.PacketID, p.ReasonCode.IsError(), now)
	case packet.PUBCOMP:
		known = s.Pubcomp(p.PacketID, now)
	case packet.PUBREL:
		code := packet.Success
		var batch store.Batch
		if s.SID() != 0 {
			batch = c.tx.Stage() // PUBCOMP only once the release is stored
		}
		if !s.ReleaseQoS2(p.PacketID, batch) {
			code = packet.PacketIdentifierNotFound // still answered [MQTT-4.3.3-12]
		}
		c.tx.acks = append(c.tx.acks, packet.Ack{Kind: packet.PUBCOMP, PacketID: p.PacketID, ReasonCode: code})
	}
	if !known {
		c.log.Debug("acknowledgement for an unknown packet id", "packet", p.Kind, "id", p.PacketID)
	}
	return nil
}

// handleSubscribe stages each valid filter; once they are stored it adds
// them, answers with SUBACK, then sends the retained messages the retain
// handling asks for.
func (c *conn) handleSubscribe(p *packet.Subscribe) error {
	var subID uint32
	if len(p.Props.SubscriptionIDs) > 0 {
		subID = p.Props.SubscriptionIDs[0]
	}
	ack := &packet.Suback{PacketID: p.PacketID, ReasonCodes: make([]packet.ReasonCode, len(p.Subs))}
	var accepted []acceptedSub
	for i, sub := range p.Subs {
		code, err := c.checkFilter(sub)
		if err != nil {
			return err
		}
		ack.ReasonCodes[i] = code
		if code.IsError() {
			continue
		}
		opts := topic.Options{QoS: sub.QoS, NoLocal: sub.NoLocal, RetainAsPublished: sub.RetainAsPublished,
			RetainHandling: sub.RetainHandling, ID: subID}
		if c.version != packet.V5 {
			opts.RetainAsPublished = false // 3.x forwards with retain 0 [MQTT-3.3.1-9]
		}
		ack.ReasonCodes[i] = packet.ReasonCode(sub.QoS)
		c.b.stageSubscription(c.tx, c.entry.sess, sub.Filter, &opts)
		accepted = append(accepted, acceptedSub{sub.Filter, opts})
	}
	c.tx.after = append(c.tx.after, func(failed bool) {
		if !failed {
			c.subscribe(ack, accepted)
		}
	})
	return nil
}

// acceptedSub is a filter of a SUBSCRIBE that passed validation.
type acceptedSub struct {
	filter string
	opts   topic.Options
}

// subscribe applies stored subscriptions, writes the SUBACK and sends
// retained messages (not for shared subscriptions, MQTT 5 section 4.8.2).
func (c *conn) subscribe(ack *packet.Suback, subs []acceptedSub) {
	s := c.entry.sess
	var retained []retainedSend
	for _, sub := range subs {
		existed := c.b.subs.Subscribe(c.clientID, sub.filter, sub.opts)
		s.Subscribe(sub.filter, sub.opts)
		_, _, shared := topic.ParseShared(sub.filter)
		if !shared && (sub.opts.RetainHandling == 0 || (sub.opts.RetainHandling == 1 && !existed)) {
			// Taken before the SUBACK leaves: a message the client
			// publishes once it has the SUBACK reaches it live, and must
			// not come again as a retained one.
			retained = append(retained, retainedSend{sub.opts, c.b.retainedFor(s, sub.filter)})
		}
	}
	c.writePacket(ack)
	for _, r := range retained {
		c.b.sendRetained(s, r.msgs, r.opts)
	}
}

// retainedSend is the retained messages one new subscription gets.
type retainedSend struct {
	opts topic.Options
	msgs []*session.Message
}

// checkFilter validates one requested subscription. A bad filter fails
// that filter only (0x8F in v5, 0x80 in 3.x); no-local on a shared
// subscription is a protocol error [MQTT-3.8.3-4].
func (c *conn) checkFilter(sub packet.Subscription) (packet.ReasonCode, error) {
	if err := topic.ValidFilter(sub.Filter); err != nil {
		c.log.Info("subscription refused", "filter", sub.Filter, "err", err)
		if c.version == packet.V5 {
			return packet.TopicFilterInvalid, nil
		}
		return packet.SubackFailure, nil
	}
	if _, _, shared := topic.ParseShared(sub.Filter); shared && sub.NoLocal {
		return 0, packet.Errorf(packet.ProtocolError, "no-local on shared subscription %q", sub.Filter)
	}
	if !c.maySubscribe(sub.Filter) {
		if c.version == packet.V5 {
			return packet.NotAuthorized, nil
		}
		return packet.SubackFailure, nil
	}
	return packet.Success, nil
}

// handleUnsubscribe stages the removals; once stored it removes each
// filter and answers with UNSUBACK.
func (c *conn) handleUnsubscribe(p *packet.Unsubscribe) error {
	s := c.entry.sess
	ack := &packet.Unsuback{PacketID: p.PacketID, ReasonCodes: make([]packet.ReasonCode, len(p.Filters))}
	for i, f := range p.Filters {
		if !s.Subscribed(f) {
			ack.ReasonCodes[i] = packet.NoSubscriptionExisted
			continue
		}
		c.b.stageUnsubscription(c.tx, s, f)
	}
	c.tx.after = append(c.tx.after, func(failed bool) {
		if failed {
			return
		}
		for _, f := range p.Filters {
			s.Unsubscribe(f)
			c.b.subs.Unsubscribe(c.clientID, f)
		}
		c.writePacket(ack)
	})
	return nil
}

// handleDisconnect ends the connection at the client's request. The will
// is discarded unless v5 reason 0x04 asks for it [MQTT-3.14.4-3]; v5 may
// change the session expiry, but not from zero [MQTT-3.14.2-2].
func (c *conn) handleDisconnect(p *packet.Disconnect) error {
	if p.Props.Has(packet.PropSessionExpiry) {
		d, never := c.entry.sess.Expiry()
		if d == 0 && !never && p.Props.SessionExpiry != 0 {
			return packet.Errorf(packet.ProtocolError, "DISCONNECT sets a session expiry after CONNECT set 0")
		}
		secs := p.Props.SessionExpiry
		d, never = time.Duration(secs)*time.Second, secs == 0xFFFFFFFF
		if limit := c.b.opts.SessionExpiry; limit > 0 && (never || d > limit) {
			d, never = limit, false
		}
		c.entry.sess.SetExpiry(d, never)
	}
	if p.ReasonCode != packet.DisconnectWithWill {
		c.will = nil
	}
	return errDisconnect
}
