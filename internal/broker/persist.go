package broker

import (
	"fmt"
	"time"

	"github.com/baram-mqtt/baram/internal/session"
	"github.com/baram-mqtt/baram/internal/store"
	"github.com/baram-mqtt/baram/internal/topic"
)

// stageSubscription stages a durable session's subscription record.
func (b *Broker) stageSubscription(t *txn, s *session.Session, filter string, o *topic.Options) {
	sid := s.SID()
	if sid == 0 {
		return
	}
	t.Stage().Put(store.SubscriptionKey(sid, filter), store.MarshalSubscription(&store.SubscriptionRecord{
		QoS: o.QoS, NoLocal: o.NoLocal, RetainAsPublished: o.RetainAsPublished,
		RetainHandling: o.RetainHandling, ID: o.ID,
	}))
}

// stageUnsubscription stages the removal of a subscription record.
func (b *Broker) stageUnsubscription(t *txn, s *session.Session, filter string) {
	if sid := s.SID(); sid != 0 {
		t.Stage().Delete(store.SubscriptionKey(sid, filter))
	}
}

// stageRetain stages a retained message (or its deletion, for an empty
// payload) and applies it to the index once t commits.
func (b *Broker) stageRetain(msg *session.Message, t *txn) {
	if t.memoryOnly {
		t.retain = append(t.retain, msg)
		return
	}
	key := store.RetainedKey(msg.Topic)
	if len(msg.Payload) == 0 {
		t.Stage().Delete(key)
	} else {
		t.Stage().Put(key, msg.Encoded())
	}
	t.retain = append(t.retain, msg)
}

// sessionRecord is what the store keeps of a session.
// Called under Broker.mu or before the entry is shared.
func sessionRecord(e *entry, will *session.Message, willDelay time.Duration, offlineSince time.Time) *store.SessionRecord {
	d, never := e.sess.Expiry()
	r := &store.SessionRecord{ClientID: e.sess.ClientID, Version: e.version, Username: e.sess.Username(),
		Expiry: uint32(d / time.Second)}
	if never {
		r.Expiry = store.NeverExpire
	}
	if !offlineSince.IsZero() {
		r.DisconnectedAt = offlineSince.Unix()
	}
	if will != nil {
		r.Will = will.Encoded()
		r.WillDelay = uint32(willDelay / time.Second)
	}
	return r
}

// saveSession writes a durable session's record; synced when a client is
// about to be told its session exists.
func (b *Broker) saveSession(s *session.Session, rec *store.SessionRecord, sync bool) error {
	sid := s.SID()
	if sid == 0 {
		return nil
	}
	batch := b.store.NewBatch()
	defer batch.Close()
	batch.Put(store.SessionIDKey(s.ClientID), store.SessionKey(sid)[1:])
	batch.Put(store.SessionKey(sid), store.MarshalSession(rec))
	if err := b.commit(batch, sync); err != nil {
		return fmt.Errorf("store session %q: %w", s.ClientID, err)
	}
	return nil
}

// deleteSession removes every record of a durable session. A lost delete
// only brings an ended session back after a crash, so it is not synced.
func (b *Broker) deleteSession(s *session.Session) {
	sid := s.SID()
	if sid == 0 {
		return
	}
	batch := b.store.NewBatch()
	defer batch.Close()
	batch.Delete(store.SessionIDKey(s.ClientID))
	batch.Delete(store.SessionKey(sid))
	for _, prefix := range [][]byte{store.SubscriptionPrefix(sid), store.QueuePrefix(sid),
		store.InflightPrefix(sid), store.InboundPrefix(sid)} {
		batch.DeleteRange(prefix, store.PrefixEnd(prefix))
	}
	if err := batch.Commit(false); err != nil {
		b.log.Error("store: deleting an ended session failed", "client", s.ClientID, "err", err)
	}
}

// commit commits batch; durable asks for stable storage before it
// returns, which the sync mode grants only with SyncAlways (SyncBatch
// leaves it to the syncer, SyncNone to the operating system).
func (b *Broker) commit(batch store.Batch, durable bool) error {
	return batch.Commit(durable && b.opts.Sync == SyncAlways)
}

// journal implements session.Journal over the broker's store.
type journal struct{ b *Broker }

// Sent implements session.Journal.
func (j journal) Sent(sid uint64, d *session.Delivery, sync bool) error {
	err := j.putInflight(sid, d, session.AwaitAck, sync)
	if err != nil {
		j.b.log.Error("store: recording an inflight message failed; it stays queued", "err", err)
	}
	return err
}

// Released implements session.Journal. Synced before the PUBREL goes
// out: a client that answered PUBCOMP has freed the packet id, so a
// PUBLISH resent after a crash under that id would be a second delivery.
func (j journal) Released(sid uint64, d *session.Delivery) error {
	err := j.putInflight(sid, d, session.AwaitComp, true)
	if err != nil {
		j.b.log.Error("store: recording a PUBREC failed; no PUBREL until the client repeats it", "err", err)
	}
	return err
}

// putInflight records d's packet id and phase.
func (j journal) putInflight(sid uint64, d *session.Delivery, phase session.Phase, durable bool) error {
	return j.commit(durable, func(batch store.Batch) {
		batch.Put(store.InflightKey(sid, d.PacketID), store.MarshalInflight(&store.InflightRecord{Seq: d.Seq, Phase: byte(phase)}))
	})
}

// Done implements session.Journal. Not synced: a lost delete is a
// redelivery, which QoS 1 allows and QoS 2's packet id state absorbs.
func (j journal) Done(sid uint64, d *session.Delivery) {
	err := j.commit(false, func(batch store.Batch) {
		if d.PacketID != 0 {
			batch.Delete(store.InflightKey(sid, d.PacketID))
		}
		batch.Delete(store.QueueKey(sid, d.Seq))
	})
	if err != nil {
		j.b.log.Error("store: deleting a delivered message failed", "err", err)
	}
}

// commit stages and commits one small batch.
func (j journal) commit(durable bool, stage func(store.Batch)) error {
	batch := j.b.store.NewBatch()
	defer batch.Close()
	stage(batch)
	return j.b.commit(batch, durable)
}

// Load implements session.Journal.
func (j journal) Load(sid uint64) (inflight, waiting []*session.Delivery, err error) {
	sent := make(map[uint64]store.InflightRecord)
	ids := make(map[uint64]uint16)
	err = j.b.store.Scan(store.InflightPrefix(sid), nil, func(k, v []byte) error {
		_, id, ok := store.ParseInflightKey(k)
		r, err := store.UnmarshalInflight(v)
		if !ok || err != nil {
			return fmt.Errorf("inflight record %x: %v", k, err)
		}
		sent[r.Seq], ids[r.Seq] = *r, id
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	err = j.b.store.Scan(store.QueuePrefix(sid), nil, func(k, v []byte) error {
		_, seq, _ := store.ParseQueueKey(k)
		d, err := decodeQueued(seq, v)
		if err != nil {
			return fmt.Errorf("queue record %x: %w", k, err)
		}
		if r, ok := sent[seq]; ok {
			d.PacketID, d.Phase = ids[seq], session.Phase(r.Phase)
			inflight = append(inflight, d)
		} else {
			waiting = append(waiting, d)
		}
		return nil
	})
	return inflight, waiting, err
}

// decodeQueued turns a queue record into a delivery.
func decodeQueued(seq uint64, v []byte) (*session.Delivery, error) {
	r, err := store.UnmarshalQueue(v)
	if err != nil {
		return nil, err
	}
	m, err := session.UnmarshalMessage(r.Message)
	if err != nil {
		return nil, err
	}
	return &session.Delivery{Msg: m, QoS: r.QoS, Retain: r.Retain, SubIDs: r.SubIDs, Seq: seq, Phase: session.Queued}, nil
}

// Expire implements session.Journal. Messages already sent (inflight)
// are kept: their delivery has begun and must be completed.
func (j journal) Expire(sid uint64, now time.Time) (n int, bytes int64) {
	sent := make(map[uint64]bool)
	j.b.store.Scan(store.InflightPrefix(sid), nil, func(_, v []byte) error {
		if r, err := store.UnmarshalInflight(v); err == nil {
			sent[r.Seq] = true
		}
		return nil
	})
	batch := j.b.store.NewBatch()
	defer batch.Close()
	err := j.b.store.Scan(store.QueuePrefix(sid), nil, func(k, v []byte) error {
		_, seq, _ := store.ParseQueueKey(k)
		d, err := decodeQueued(seq, v)
		if err != nil || sent[seq] || !d.Msg.Expired(now) {
			return nil // unreadable records are for check to report
		}
		batch.Delete(k)
		n++
		bytes += int64(d.Msg.Size())
		return nil
	})
	if err == nil {
		err = batch.Commit(false)
	}
	if err != nil {
		j.b.log.Error("store: sweeping expired messages failed", "err", err)
		return 0, 0
	}
	return n, bytes
}
