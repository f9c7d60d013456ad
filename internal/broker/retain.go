package broker

import (
	"time"

	"github.com/baram-mqtt/baram/internal/acl"

	"github.com/baram-mqtt/baram/internal/session"
	"github.com/baram-mqtt/baram/internal/topic"
)

// retainInMemory applies a stored retained message to the index; an empty
// payload deletes it [MQTT-3.3.1-6], [MQTT-3.3.1-10].
func (b *Broker) retainInMemory(msg *session.Message) {
	if len(msg.Payload) == 0 {
		b.retained.Delete(msg.Topic)
		return
	}
	msg.Keep()
	b.retained.Set(msg.Topic, msg)
}

// retainedFor returns the retained messages matching a new subscription
// of s that s may read. Expired ones are removed instead.
func (b *Broker) retainedFor(s *session.Session, filter string) []*session.Message {
	now := time.Now()
	var expired []string
	var out []*session.Message
	rules := b.rules()
	user := s.Username()
	client := acl.Client{Username: user, HasUsername: user != "", ClientID: s.ClientID}
	b.retained.Match(filter, func(name string, m *session.Message) bool {
		if m.Expired(now) {
			expired = append(expired, name)
			return true
		}
		if rules != nil && !rules.CanReceive(client, name) {
			return true // the same read check as a live delivery
		}
		out = append(out, m)
		return true
	})
	for _, name := range expired {
		if m, ok := b.retained.Get(name); ok && m.Expired(now) {
			b.retained.Delete(name)
		}
	}
	return out
}

// sendRetained delivers retained messages to a new subscription, with
// the retain flag set [MQTT-3.3.1-9].
func (b *Broker) sendRetained(s *session.Session, msgs []*session.Message, opts topic.Options) {
	if len(msgs) == 0 {
		return
	}
	t := b.newTxn()
	for _, m := range msgs {
		t.routes = append(t.routes, routed{s, session.Delivery{Msg: m, QoS: min(m.QoS, opts.QoS), Retain: true}})
		d := &t.routes[len(t.routes)-1].d
		if opts.ID != 0 {
			d.SubIDs = []uint32{opts.ID}
		}
		if out := s.Admit(d, t); out.IsDrop() {
			t.routes = t.routes[:len(t.routes)-1]
			b.account(s, out)
		}
	}
	t.run()
}
