package broker

import (
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
	"github.com/baram-mqtt/baram/internal/session"
)

// pendingWill is a Last Will waiting out its will delay.
type pendingWill struct {
	msg   *session.Message
	timer *time.Timer
}

// armWill publishes a will now, or after its delay [MQTT-3.1.3-9]. A
// will already pending for the client is replaced. Called under mu.
func (b *Broker) armWill(client string, msg *session.Message, delay time.Duration) {
	if old := b.wills[client]; old != nil {
		old.timer.Stop()
		delete(b.wills, client)
	}
	if delay <= 0 {
		b.publishWill(msg)
		return
	}
	w := &pendingWill{msg: msg}
	w.timer = time.AfterFunc(delay, func() { b.fireWill(client, w) })
	b.wills[client] = w
}

// fireWill publishes a delayed will unless it was disarmed meanwhile.
func (b *Broker) fireWill(client string, w *pendingWill) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closing || b.wills[client] != w {
		return
	}
	delete(b.wills, client)
	b.publishWill(w.msg)
	if e := b.lookup(client); e != nil && e.owner == nil {
		b.saveOffline(e, nil, 0, e.offline) // the will is spent
	}
}

// publishWill routes a will. Its message expiry interval starts now.
func (b *Broker) publishWill(msg *session.Message) {
	m := &session.Message{Topic: msg.Topic, Payload: msg.Payload, QoS: msg.QoS, Retain: msg.Retain,
		Props: msg.Props, From: msg.From}
	if m.Props.Has(packet.PropMessageExpiry) {
		m.Expiry = time.Now().Add(time.Duration(m.Props.MessageExpiry) * time.Second)
		m.Props.Clear(packet.PropMessageExpiry)
		m.Props.MessageExpiry = 0
	}
	b.log.Debug("publishing will", "client", m.From, "topic", m.Topic)
	b.publishNow(m)
}
