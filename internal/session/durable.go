package session

import (
	"errors"
	"time"

	"github.com/baram-mqtt/baram/internal/store"
)

// Journal is how a durable session records its outbound state in the
// store. The broker implements it; the session calls it under its lock.
type Journal interface {
	// Sent records that the queued message seq went out as packet id; for
	// a first QoS 2 send it must be on stable storage before returning,
	// or a restart could deliver it twice under another id.
	Sent(sid uint64, d *Delivery, sync bool) error
	// Released records that the PUBREC for d arrived, on stable storage
	// before the PUBREL goes out.
	Released(sid uint64, d *Delivery) error
	// Done deletes a message that was acknowledged, expired or dropped.
	Done(sid uint64, d *Delivery)
	// Expire deletes the session's queued messages that expired by now,
	// returning how many and their bytes.
	Expire(sid uint64, now time.Time) (n int, bytes int64)
	// Load reads what a session holds on disk: inflight messages (with
	// packet id and phase) and waiting ones, each in sequence order.
	Load(sid uint64) (inflight, waiting []*Delivery, err error)
}

// Stager hands out the batch of the write in progress, started on first
// use so that deliveries to memory-only sessions start none.
type Stager interface {
	Stage() store.Batch
}

// durable is the part of a session kept in the store. Guarded by
// Session.mu.
type durable struct {
	sid         uint64
	j           Journal
	nextSeq     uint64              // sequence number of the next queued message
	stored      int                 // queue records on disk, inflight included
	storedBytes int64               // their topic and payload bytes
	pending     map[uint64]struct{} // admitted, their batch not yet committed; nil when empty (maps never shrink)
}

// ErrNotDurable is returned by Admit for a session kept in memory only.
var ErrNotDurable = errors.New("session is not durable")

// MakeDurable backs the session by the store under session number sid.
// Call it before the session is shared with other goroutines.
// next, stored and storedBytes describe its queue on disk (from recovery;
// zero for a new session).
func (s *Session) MakeDurable(sid uint64, j Journal, next uint64, stored int, storedBytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dur = &durable{sid: sid, j: j, nextSeq: max(next, 1), stored: stored, storedBytes: storedBytes}
}

// SID returns the session number, 0 for a session kept in memory only.
func (s *Session) SID() uint64 {
	if s.dur == nil {
		return 0
	}
	return s.dur.sid // immutable once set
}

// Admit is the first half of a durable delivery, done before the
// publisher's batch commits: it applies the queue limits, gives d a
// sequence number and stages its queue record in batch. Deliver completes
// it after the commit, Abort undoes it if the commit fails.
func (s *Session) Admit(d *Delivery, st Stager) Outcome {
	if s.dur == nil {
		return Held // nothing to stage (and no lock taken): Deliver applies the memory limits
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.QoS == 0 && (s.sink != nil || !s.limits.QueueQoS0) {
		return Held // QoS 0 is only kept on disk for an offline client
	}
	l, dur := s.limits, s.dur
	size := int64(d.Msg.Size())
	waiting := dur.stored - len(s.inflight) // the cap is on what waits, as for memory sessions
	if (l.MaxQueued > 0 && waiting >= l.MaxQueued) ||
		(l.MaxQueuedBytes > 0 && dur.storedBytes+size > l.MaxQueuedBytes) {
		s.dropped++
		return Dropped
	}
	d.Seq = dur.nextSeq
	dur.nextSeq++
	dur.stored++
	dur.storedBytes += size
	if dur.pending == nil {
		dur.pending = make(map[uint64]struct{})
	}
	dur.pending[d.Seq] = struct{}{}
	st.Stage().Put(store.QueueKey(dur.sid, d.Seq), store.MarshalQueue(&store.QueueRecord{
		QoS: d.QoS, Retain: d.Retain, SubIDs: d.SubIDs, Message: d.Msg.Encoded(),
	}))
	return Held
}

// Abort undoes Admit after the batch failed to commit.
func (s *Session) Abort(d *Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dur == nil || d.Seq == 0 {
		return
	}
	s.dur.unpend(d.Seq)
	s.dur.stored--
	s.dur.storedBytes -= int64(d.Msg.Size())
}

// unpend ends d's pending state, dropping the map once it is empty so a
// busy session that goes quiet gives its memory back.
func (dur *durable) unpend(seq uint64) {
	delete(dur.pending, seq)
	if len(dur.pending) == 0 {
		dur.pending = nil
	}
}

// forget deletes a durable delivery's records and its accounting.
func (s *Session) forget(d *Delivery) {
	if s.dur == nil || d.Seq == 0 {
		return
	}
	s.dur.j.Done(s.dur.sid, d)
	s.dur.stored--
	s.dur.storedBytes -= int64(d.Msg.Size())
}

// loadFromStore replaces the in-memory window and queue with what the
// store holds, leaving out deliveries still on their way through Admit.
func (s *Session) loadFromStore() error {
	inflight, waiting, err := s.dur.j.Load(s.dur.sid)
	if err != nil {
		return err
	}
	s.inflight = inflight
	s.countResends()
	s.queue = queue{}
	for _, d := range waiting {
		if _, ok := s.dur.pending[d.Seq]; !ok {
			s.queue.push(d)
		}
	}
	return nil
}

// SweepExpired deletes the expired messages an offline durable session
// holds on disk and returns how many. An online session is left alone:
// its window skips expired messages as it fills.
func (s *Session) SweepExpired(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dur == nil || s.sink != nil {
		return 0
	}
	n, bytes := s.dur.j.Expire(s.dur.sid, now)
	s.dur.stored -= n
	s.dur.storedBytes -= bytes
	return n
}
