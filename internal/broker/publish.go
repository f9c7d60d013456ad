package broker

import (
	"bytes"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/baram-mqtt/baram/internal/acl"
	"github.com/baram-mqtt/baram/internal/packet"
	"github.com/baram-mqtt/baram/internal/session"
	"github.com/baram-mqtt/baram/internal/store"
	"github.com/baram-mqtt/baram/internal/topic"
)

// handlePublish takes an inbound PUBLISH: resolves its topic alias, routes
// it, and acknowledges it as its QoS requires.
func (c *conn) handlePublish(h packet.FixedHeader, body []byte) error {
	if err := c.limitPublish(h.PacketLen()); err != nil {
		return err
	}
	if c.pub == nil { // allocated once the client publishes: many never do
		c.pub = new(packet.Publish)
	}
	p := c.pub
	if err := packet.DecodePublish(h, body, c.version, p); err != nil {
		return err
	}
	if p.Props.Has(packet.PropSubscriptionID) {
		return packet.Errorf(packet.ProtocolError, "PUBLISH from a client carries a subscription identifier [MQTT-3.3.4-6]")
	}
	if err := c.resolveAlias(p); err != nil {
		return err
	}
	c.b.stats.countReceived(p.QoS, len(p.Payload))
	if !c.mayPublish(p.Topic) {
		// v5 says why in the PUBACK/PUBREC reason code; 3.x has no way to, so the message is
		// acknowledged and dropped, as Mosquitto does.
		code := packet.NotAuthorized
		if c.version != packet.V5 {
			code = packet.Success
		}
		return c.ackPublish(p, code)
	}
	if p.Props.PayloadFormat == 1 && !utf8.Valid(p.Payload) {
		c.log.Info("publish refused: payload is not the UTF-8 it claims", "topic", p.Topic)
		return c.ackPublish(p, packet.PayloadFormatInvalid)
	}
	msg := c.message(p)
	t := c.tx
	switch p.QoS {
	case 0:
		c.b.route(msg, t)
		if !msg.Retain { // the retained index keeps it
			t.reuse = append(t.reuse, msg)
		}
		return nil
	case 1:
		return c.ackPublish(p, c.b.route(msg, t))
	}
	var batch store.Batch
	if c.entry.sess.SID() != 0 {
		batch = t.Stage()
	}
	dup, err := c.entry.sess.ReceiveQoS2(p.PacketID, c.qos2Limit(), batch)
	if err != nil {
		return packet.Errorf(packet.ReceiveMaximumExceeded, "more than %d QoS 2 messages unreleased", c.b.opts.MaxInflight)
	}
	code := packet.Success
	if !dup { // a retransmission was routed the first time [MQTT-4.3.3-10]
		t.qos2 = append(t.qos2, p.PacketID)
		code = c.b.route(msg, t)
	}
	return c.ackPublish(p, code)
}

// qos2Limit is the receive maximum we enforce on v5 clients [MQTT-3.3.4-9];
// 3.x has no such limit, so only a safety cap applies.
func (c *conn) qos2Limit() int {
	if c.version == packet.V5 {
		return int(c.b.opts.MaxInflight)
	}
	return 65535
}

// ackPublish answers a QoS 1/2 PUBLISH once the read batch has committed;
// QoS 0 has no answer.
func (c *conn) ackPublish(p *packet.Publish, code packet.ReasonCode) error {
	kind := packet.PUBACK
	if p.QoS == 2 {
		kind = packet.PUBREC
	}
	if p.QoS > 0 {
		c.tx.acks = append(c.tx.acks, packet.Ack{Kind: kind, PacketID: p.PacketID, ReasonCode: code})
	}
	return nil
}

// resolveAlias maps a v5 topic alias to its topic, or records a new one
// [MQTT-3.3.2-10..12].
func (c *conn) resolveAlias(p *packet.Publish) error {
	if c.version != packet.V5 || !p.Props.Has(packet.PropTopicAlias) {
		return nil
	}
	alias := p.Props.TopicAlias
	if alias == 0 || alias > c.b.opts.MaxTopicAlias {
		return packet.Errorf(packet.TopicAliasInvalid, "topic alias %d outside 1..%d", alias, c.b.opts.MaxTopicAlias)
	}
	if p.Topic != "" {
		if c.aliasesIn == nil {
			c.aliasesIn = make(map[uint16]string)
		}
		c.aliasesIn[alias] = p.Topic
		return nil
	}
	t, ok := c.aliasesIn[alias]
	if !ok {
		return packet.Errorf(packet.ProtocolError, "topic alias %d was never set", alias)
	}
	p.Topic = t
	return nil
}

// message copies what routing keeps out of the reused decode buffers.
func (c *conn) message(p *packet.Publish) *session.Message {
	m := session.NewMessage(p.Payload)
	m.Topic, m.QoS, m.Retain, m.From = p.Topic, p.QoS, p.Retain, c.clientID
	if c.version == packet.V5 {
		m.Props = forwardProps(&p.Props)
		if p.Props.Has(packet.PropMessageExpiry) {
			m.Expiry = time.Now().Add(time.Duration(p.Props.MessageExpiry) * time.Second)
		}
	}
	return m
}

// forwardProps keeps the properties a server forwards unchanged
// [MQTT-3.3.2-4], [MQTT-3.3.2-15..20], [MQTT-3.3.2-17]; it copies slices so the
// decoder can reuse its own.
func forwardProps(in *packet.Properties) packet.Properties {
	var out packet.Properties
	for _, id := range []packet.PropID{packet.PropPayloadFormat, packet.PropContentType,
		packet.PropResponseTopic, packet.PropCorrelationData, packet.PropUserProperty} {
		if in.Has(id) {
			out.Set(id)
		}
	}
	out.PayloadFormat = in.PayloadFormat
	out.ContentType = in.ContentType
	out.ResponseTopic = in.ResponseTopic
	out.CorrelationData = bytes.Clone(in.CorrelationData)
	out.User = slices.Clone(in.User)
	return out
}

// matchPool recycles the per-publish match lists.
var matchPool = sync.Pool{New: func() any { s := make([]topic.Matched, 0, 16); return &s }}

// route sends msg to every matching subscription and updates the retained
// store, as the first half of t: durable recipients get the message staged
// in t's batch now, everyone gets it once t commits. It returns the reason
// code for the publisher's ack: Success, or NoMatchingSubscribers (used by
// v5 only) [MQTT-3.4.2.1].
func (b *Broker) route(msg *session.Message, t *txn) packet.ReasonCode {
	if msg.Retain {
		b.stageRetain(msg, t)
	}
	ms := matchPool.Get().(*[]topic.Matched)
	matches, filters := b.subs.MatchNodes(msg.Topic, (*ms)[:0])
	if filters > 1 {
		groupByClient(matches)
	}
	delivered := 0
	for i := 0; i < len(matches); {
		j := i + 1
		if matches[i].Group == "" {
			for j < len(matches) && matches[j].Group == "" && matches[j].Client == matches[i].Client {
				j++
			}
		}
		if b.deliver(matches[i:j], msg, t) {
			delivered++
		}
		i = j
	}
	clear(matches)
	*ms = matches[:0]
	matchPool.Put(ms)
	if delivered == 0 {
		return packet.NoMatchingSubscribers
	}
	return packet.Success
}

// groupByClient puts a client's overlapping normal subscriptions next to
// each other, and shared ones last. Only needed when several filters
// matched: within one filter every client is there once.
func groupByClient(matches []topic.Matched) {
	slices.SortFunc(matches, func(x, y topic.Matched) int {
		if (x.Group == "") != (y.Group == "") {
			if x.Group == "" {
				return -1
			}
			return 1
		}
		return strings.Compare(x.Client, y.Client)
	})
}

// publishNow routes a message that no connection waits on (wills,
// in-process publishes) and commits at once.
func (b *Broker) publishNow(msg *session.Message) error {
	t := b.newTxn()
	b.route(msg, t)
	return t.run()
}

// deliver sends one copy of msg to the client of subs, all of which are
// that client's matching subscriptions: the highest granted QoS, every
// subscription identifier [MQTT-3.3.4-3..5].
func (b *Broker) deliver(subs []topic.Matched, msg *session.Message, t *txn) bool {
	client := subs[0].Client
	t.routes = append(t.routes, routed{d: session.Delivery{Msg: msg}})
	r := &t.routes[len(t.routes)-1]
	d := &r.d
	wanted := false
	for _, s := range subs {
		if s.Opts.NoLocal && client == msg.From { // [MQTT-3.8.3-3]
			continue
		}
		wanted = true
		d.QoS = max(d.QoS, min(msg.QoS, s.Opts.QoS))
		d.Retain = d.Retain || (msg.Retain && s.Opts.RetainAsPublished) // [MQTT-3.3.1-12]
		if s.Opts.ID != 0 {
			d.SubIDs = append(d.SubIDs, s.Opts.ID)
		}
	}
	e := b.lookup(client)
	if !wanted || e == nil || !b.mayReceive(e, msg.Topic) {
		t.routes = t.routes[:len(t.routes)-1]
		return false
	}
	r.sess = e.sess
	if out := e.sess.Admit(d, t); out.IsDrop() {
		t.routes = t.routes[:len(t.routes)-1]
		b.account(e.sess, out)
	}
	return true
}

// mayReceive applies the ACL's read rules to one recipient.
func (b *Broker) mayReceive(e *entry, name string) bool {
	r := b.rules()
	if r == nil {
		return true
	}
	user := e.sess.Username()
	return r.CanReceive(acl.Client{Username: user, HasUsername: user != "", ClientID: e.sess.ClientID}, name)
}

// account counts a dropped delivery and logs the first drop of a burst.
// Sent messages are counted where they are written (conn.WritePublish).
func (b *Broker) account(s *session.Session, out session.Outcome) {
	if !out.IsDrop() {
		return
	}
	if total := b.stats.countDrop(out); total%1000 == 1 {
		q, inflight := s.Queued()
		b.log.Warn("message dropped: session queue full or client too slow (newest message dropped)",
			"client", s.ClientID, "queued", q, "inflight", inflight, "dropped_total", total)
	}
}
