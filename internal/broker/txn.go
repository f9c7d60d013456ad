package broker

import (
	"fmt"
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
	"github.com/baram-mqtt/baram/internal/session"
	"github.com/baram-mqtt/baram/internal/store"
)

// txn is what one read batch of a connection does, in two halves. First
// every packet is handled and its durable writes are staged in one store
// batch; then the batch is committed once (group commit) and only then do
// the deliveries, retained-index updates and acknowledgements happen. So
// nothing is acknowledged, or sent onward, before it is stored.
type txn struct {
	b      *Broker
	batch  store.Batch         // nil until something is staged
	routes []routed            // admitted deliveries
	retain []*session.Message  // retained-index updates; empty payload deletes
	reuse  []*session.Message  // QoS 0 messages to recycle once delivered
	acks   []packet.Ack        // PUBACK, PUBREC, PUBCOMP to send
	qos2   []uint16            // inbound QoS 2 ids recorded by this txn
	after  []func(failed bool) // the rest, in order (SUBACK, UNSUBACK, retained sends)

	memoryOnly bool // retained updates skip the store ($SYS figures)
}

// routed is one delivery waiting for the commit. The Delivery is held by
// value, in a slice the txn reuses, so a recipient costs no allocation
// unless its session keeps the delivery (session.Deliver copies it then).
type routed struct {
	sess *session.Session
	d    session.Delivery
}

func (b *Broker) newTxn() *txn { return &txn{b: b} }

// Stage returns the batch, starting it on first use (session.Stager).
func (t *txn) Stage() store.Batch {
	if t.batch == nil {
		t.batch = t.b.store.NewBatch()
	}
	return t.batch
}

func (t *txn) empty() bool {
	return t.batch == nil && len(t.routes) == 0 && len(t.retain) == 0 && len(t.acks) == 0 && len(t.after) == 0
}

// commit stores what was staged, synced as the sync mode says.
func (t *txn) commit() error {
	if t.batch == nil || t.batch.Len() == 0 {
		return nil
	}
	start := time.Now()
	err := t.b.commit(t.batch, true)
	t.b.stats.commits.observe(time.Since(start))
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// finish runs the second half after commit: on success the deliveries,
// retained updates and the acknowledgements; on failure it undoes what
// phase one reserved, sends nothing onward and acknowledges nothing.
func (t *txn) finish(c *conn, err error) {
	if t.batch != nil {
		t.batch.Close()
		t.batch = nil
	}
	if err != nil {
		for i := range t.routes {
			t.routes[i].sess.Abort(&t.routes[i].d)
		}
		if c != nil {
			for _, id := range t.qos2 {
				c.entry.sess.ForgetQoS2(id)
			}
		}
		for _, fn := range t.after {
			fn(true)
		}
		t.reset()
		return
	}
	now := time.Now()
	for _, m := range t.retain {
		t.b.retainInMemory(m)
	}
	for i := range t.routes {
		r := &t.routes[i]
		t.b.account(r.sess, r.sess.Deliver(&r.d, now))
	}
	if c != nil {
		for i := range t.acks {
			c.writePacket(&t.acks[i])
		}
	}
	for _, fn := range t.after {
		fn(false)
	}
	t.reset()
}

// reset empties t for the next read batch, recycling the QoS 0 messages
// it delivered that no session kept.
func (t *txn) reset() {
	clear(t.routes) // first: the deliveries point at the messages
	for _, m := range t.reuse {
		session.Recycle(m)
	}
	clear(t.reuse)
	t.reuse = t.reuse[:0]
	t.routes = t.routes[:0]
	clear(t.retain)
	t.retain = t.retain[:0]
	t.acks = t.acks[:0]
	t.qos2 = t.qos2[:0]
	clear(t.after)
	t.after = t.after[:0]
}

// run commits and finishes a txn that has no connection behind it (wills,
// in-process publishes), logging a failure.
func (t *txn) run() error {
	err := t.commit()
	if err != nil {
		t.b.log.Error("store failure: message not routed", "err", err)
	}
	t.finish(nil, err)
	return err
}
