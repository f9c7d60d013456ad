package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/baram-mqtt/baram/internal/session"
	"github.com/baram-mqtt/baram/internal/store"
	"github.com/baram-mqtt/baram/internal/topic"
)

// Open returns a broker whose sessions, subscriptions, queues and retained
// messages are recovered from opts.Store. Sessions come back offline; their
// expiry and delayed wills run from when they went offline (from now for
// those that were connected when the broker stopped).
func Open(opts Options) (*Broker, error) {
	b := New(opts)
	if err := b.recover(); err != nil {
		b.Shutdown(context.Background()) // ends the background loops and any timers armed so far
		return nil, err
	}
	return b, nil
}

// queueStats summarise one session's queue on disk.
type queueStats struct {
	next  uint64
	count int
	bytes int64
}

// recover loads the store into memory and logs what it found.
func (b *Broker) recover() error {
	start := time.Now()
	queues, queued, err := b.scanQueues()
	if err != nil {
		return err
	}
	bySID, records, err := b.loadSessions(queues)
	if err != nil {
		return err
	}
	subs, err := b.loadSubscriptions(bySID)
	if err != nil {
		return err
	}
	if err := b.loadInbound(bySID); err != nil {
		return err
	}
	retained, err := b.loadRetained()
	if err != nil {
		return err
	}
	// Only with every subscription back may a will that is due go out.
	now := time.Now()
	for sid, e := range bySID {
		if err := b.restartClocks(e, records[sid], now); err != nil {
			return err
		}
	}
	b.log.Info("store recovered", "sessions", len(bySID), "subscriptions", subs,
		"queued_messages", queued, "retained_messages", retained, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// scanQueues counts each session's queued messages and bytes.
func (b *Broker) scanQueues() (map[uint64]*queueStats, int, error) {
	queues := make(map[uint64]*queueStats)
	total := 0
	err := b.store.Scan([]byte{store.TableQueue}, nil, func(k, v []byte) error {
		sid, seq, ok := store.ParseQueueKey(k)
		if !ok {
			return fmt.Errorf("recover: bad queue key %x", k)
		}
		d, err := decodeQueued(seq, v)
		if err != nil {
			return fmt.Errorf("recover: queue record %x: %w", k, err)
		}
		q := queues[sid]
		if q == nil {
			q = &queueStats{}
			queues[sid] = q
		}
		q.next = max(q.next, seq+1)
		q.count++
		q.bytes += int64(d.Msg.Size())
		total++
		return nil
	})
	return queues, total, err
}

// loadSessions rebuilds the session entries from their records.
func (b *Broker) loadSessions(queues map[uint64]*queueStats) (map[uint64]*entry, map[uint64]*store.SessionRecord, error) {
	bySID := make(map[uint64]*entry)
	records := make(map[uint64]*store.SessionRecord)
	now := time.Now()
	var maxSID uint64
	err := b.store.Scan([]byte{store.TableSession}, nil, func(k, v []byte) error {
		sid, ok := store.ParseSessionKey(k)
		r, err := store.UnmarshalSession(v)
		if !ok || err != nil {
			return fmt.Errorf("recover: session record %x: %v", k, err)
		}
		maxSID = max(maxSID, sid)
		e := &entry{sess: session.New(r.ClientID), version: r.Version, offline: now}
		if r.DisconnectedAt != 0 {
			e.offline = time.Unix(r.DisconnectedAt, 0)
		}
		q := queues[sid]
		if q == nil {
			q = &queueStats{}
		}
		e.sess.MakeDurable(sid, journal{b}, q.next, q.count, q.bytes)
		e.sess.SetExpiry(time.Duration(r.Expiry)*time.Second, r.Expiry == store.NeverExpire)
		e.sess.SetLimits(b.sessionLimits(0))
		e.sess.SetUsername(r.Username)
		bySID[sid], records[sid] = e, r
		b.sessions.Store(r.ClientID, e)
		return nil
	})
	b.nextSID.Store(maxSID)
	return bySID, records, err
}

// restartClocks arms the expiry and the will of a recovered session.
func (b *Broker) restartClocks(e *entry, r *store.SessionRecord, now time.Time) error {
	var will *session.Message
	if r.Will != nil {
		m, err := session.UnmarshalMessage(r.Will)
		if err != nil {
			return fmt.Errorf("recover: will of %q: %w", r.ClientID, err)
		}
		will = m
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	left := func(d time.Duration) time.Duration { return max(e.offline.Add(d).Sub(now), 0) }
	if will != nil {
		b.armWill(r.ClientID, will, left(time.Duration(r.WillDelay)*time.Second))
	}
	if r.Expiry != store.NeverExpire {
		e.expiry = time.AfterFunc(left(time.Duration(r.Expiry)*time.Second), func() { b.expire(e) })
	}
	return nil
}

// loadSubscriptions puts stored subscriptions back in the index.
func (b *Broker) loadSubscriptions(bySID map[uint64]*entry) (int, error) {
	n := 0
	err := b.store.Scan([]byte{store.TableSubscription}, nil, func(k, v []byte) error {
		sid, filter, ok := store.ParseSubscriptionKey(k)
		r, err := store.UnmarshalSubscription(v)
		if !ok || err != nil {
			return fmt.Errorf("recover: subscription record %x: %v", k, err)
		}
		e := bySID[sid]
		if e == nil {
			return nil // left by a session whose delete was lost; check reports it
		}
		opts := topic.Options{QoS: r.QoS, NoLocal: r.NoLocal, RetainAsPublished: r.RetainAsPublished,
			RetainHandling: r.RetainHandling, ID: r.ID}
		b.subs.Subscribe(e.sess.ClientID, filter, opts)
		e.sess.Subscribe(filter, opts)
		n++
		return nil
	})
	return n, err
}

// loadInbound restores inbound QoS 2 ids received and not yet released.
func (b *Broker) loadInbound(bySID map[uint64]*entry) error {
	return b.store.Scan([]byte{store.TableInbound}, nil, func(k, _ []byte) error {
		sid, id, ok := store.ParseInboundKey(k)
		if !ok {
			return fmt.Errorf("recover: bad inbound key %x", k)
		}
		if e := bySID[sid]; e != nil {
			e.sess.RestoreQoS2(id)
		}
		return nil
	})
}

// loadRetained fills the retained index.
func (b *Broker) loadRetained() (int, error) {
	n := 0
	err := b.store.Scan(store.RetainedPrefix(), nil, func(k, v []byte) error {
		name, _ := store.ParseRetainedKey(k)
		m, err := session.UnmarshalMessage(v)
		if err != nil {
			return fmt.Errorf("recover: retained message %q: %w", name, err)
		}
		b.retained.Set(m.Topic, m)
		n++
		return nil
	})
	return n, err
}

// sessionLimits are a session's limits for a client whose receive
// maximum is recvMax (0: none given, or no client).
func (b *Broker) sessionLimits(recvMax uint16) session.Limits {
	o := &b.opts
	inflight := int(o.MaxInflight)
	if recvMax > 0 && int(recvMax) < inflight {
		inflight = int(recvMax)
	}
	return session.Limits{Inflight: inflight, MaxQueued: o.MaxQueuedMessages,
		MaxQueuedBytes: o.MaxQueuedBytes, QueueQoS0: o.QueueQoS0}
}
