package broker

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
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

// Write implements session.Journal. Deletes of a run of consecutive
// queue records, as acknowledgements mostly come, could be one
// DeleteRange; they stay point deletes because that measured no faster
// in the durable drain benchmark (within its noise), and range tombstones
// add work for every later iterator until compacted.
func (j journal) Write(sid uint64, ops []session.Op, sync bool) error {
	batch := j.b.store.NewBatch()
	defer batch.Close()
	var key []byte // batches copy keys
	for _, op := range ops {
		if op.Done {
			if op.PacketID != 0 {
				key = store.AppendInflightKey(key[:0], sid, op.PacketID)
				batch.Delete(key)
			}
			key = store.AppendQueueKey(key[:0], sid, op.Seq)
			batch.Delete(key)
			continue
		}
		key = store.AppendInflightKey(key[:0], sid, op.PacketID)
		batch.Put(key, store.MarshalInflight(&store.InflightRecord{Seq: op.Seq, Phase: byte(op.Phase)}))
	}
	if err := j.b.commit(batch, sync); err != nil {
		if sync {
			j.b.log.Error("store: recording an outbound delivery failed; it is tried again", "session", sid, "err", err)
		} else {
			j.b.log.Error("store: recording acknowledged and sent messages failed; they may be delivered again", "session", sid, "err", err)
		}
		return fmt.Errorf("session %d: write %d outbound records: %w", sid, len(ops), err)
	}
	return nil
}

// Inflight implements session.Journal. An inflight record whose message
// is gone (a delete that half reached the disk cannot happen, but a stale
// record costs nothing to skip) is left out.
func (j journal) Inflight(sid uint64) ([]*session.Delivery, error) {
	type sent struct {
		id uint16
		r  store.InflightRecord
	}
	var recs []sent
	err := j.b.store.Scan(store.InflightPrefix(sid), nil, func(k, v []byte) error {
		_, id, ok := store.ParseInflightKey(k)
		r, err := store.UnmarshalInflight(v)
		if !ok || err != nil {
			return fmt.Errorf("inflight record %x: %v", k, err)
		}
		recs = append(recs, sent{id, *r})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("session %d: read inflight records: %w", sid, err)
	}
	var inflight []*session.Delivery
	seen := make(map[uint64]bool, len(recs))
	for _, s := range recs {
		if seen[s.r.Seq] {
			continue
		}
		seen[s.r.Seq] = true
		v, err := j.b.store.Get(store.QueueKey(sid, s.r.Seq))
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("session %d: read inflight message %d: %w", sid, s.r.Seq, err)
		}
		d, err := decodeQueued(s.r.Seq, v)
		if err != nil {
			return nil, fmt.Errorf("session %d: queue record %d: %w", sid, s.r.Seq, err)
		}
		d.PacketID, d.Phase = s.id, session.Phase(s.r.Phase)
		inflight = append(inflight, d)
	}
	slices.SortFunc(inflight, func(a, b *session.Delivery) int { return cmp.Compare(a.Seq, b.Seq) })
	return inflight, nil
}

// Waiting implements session.Journal.
func (j journal) Waiting(sid, after uint64, limit int, skip func(seq uint64) bool) (page []*session.Delivery, last uint64, more bool, err error) {
	last = after
	err = j.b.store.Scan(store.QueuePrefix(sid), store.QueueKey(sid, after+1), func(k, v []byte) error {
		_, seq, ok := store.ParseQueueKey(k)
		if !ok {
			return fmt.Errorf("queue key %x: malformed", k)
		}
		if len(page) >= limit {
			more = true
			return store.ErrStop
		}
		last = seq
		if skip(seq) {
			return nil
		}
		d, err := decodeQueued(seq, v)
		if err != nil {
			return fmt.Errorf("queue record %x: %w", k, err)
		}
		page = append(page, d)
		return nil
	})
	if err != nil {
		j.b.log.Error("store: reading queued messages failed", "session", sid, "after", after, "err", err)
		return nil, after, false, fmt.Errorf("session %d: read queued messages after %d: %w", sid, after, err)
	}
	return page, last, more, nil
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
