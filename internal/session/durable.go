package session

import (
	"errors"
	"time"

	"github.com/baram-mqtt/baram/internal/store"
)

// Journal is how a durable session records its outbound state in the
// store. The broker implements it; the session calls it under its lock.
type Journal interface {
	// Write applies ops in order in one batch, on stable storage before
	// returning when sync is set. The session gathers what may wait
	// (deletes after an acknowledgement, QoS 1 inflight records) and
	// writes it once per read batch of the client's connection, with the
	// next write that must be synced, or when it goes offline: one commit
	// for many acknowledgements instead of one each.
	Write(sid uint64, ops []Op, sync bool) error
	// Expire deletes the session's queued messages that expired by now,
	// returning how many and their bytes.
	Expire(sid uint64, now time.Time) (n int, bytes int64)
	// Inflight reads the session's inflight messages, with packet id and
	// phase, in sequence order.
	Inflight(sid uint64) ([]*Delivery, error)
	// Waiting reads up to limit queued messages with a sequence number
	// above after, in sequence order, leaving out those skip reports.
	// last is the highest sequence number it looked at (after when none);
	// more reports that it stopped at limit with records left beyond.
	Waiting(sid, after uint64, limit int, skip func(seq uint64) bool) (page []*Delivery, last uint64, more bool, err error)
}

// Op is one change to a durable session's outbound records.
type Op struct {
	Seq      uint64
	PacketID uint16 // the inflight record's key; 0 for a message never sent
	// Done deletes the message's queue record and its inflight record;
	// otherwise the inflight record is written with Phase (AwaitAck,
	// AwaitComp).
	Done  bool
	Phase Phase
}

// Stager hands out the batch of the write in progress, started on first
// use so that deliveries to memory-only sessions start none.
type Stager interface {
	Stage() store.Batch
}

// durable is the part of a session kept in the store. Guarded by
// Session.mu.
//
// An online session holds its inflight messages and at most about a page
// of the waiting ones in memory (pageSize); the rest stay on disk and are
// read a page at a time as the window drains, so a client coming back to
// millions of queued messages costs a page of memory, not all of them.
// cursor and unloaded say where memory ends: every waiting record with a
// sequence number up to cursor is in memory, pending or gone, and
// unloaded counts those above it still only on disk.
type durable struct {
	sid         uint64
	j           Journal
	nextSeq     uint64              // sequence number of the next queued message
	stored      int                 // queue records on disk, inflight included
	storedBytes int64               // their topic and payload bytes
	pending     map[uint64]struct{} // admitted, their batch not yet committed; nil when empty (maps never shrink)

	cursor   uint64              // highest sequence number read into memory (or skipped as pending)
	unloaded int                 // waiting records above cursor only on disk; 0 when none (see takePage)
	ahead    map[uint64]struct{} // inflight messages loaded by Attach with seq above cursor, skipped by page reads; nil when none
	ops      []Op                // writes waiting for Flush or the next synced write
}

// Page sizes bound the waiting messages read into memory at once: twice
// the inflight window, so one read refills the window twice over as
// acknowledgements free it; at least minPage so a small window still reads
// many records per store iterator; at most maxPage to bound memory when a
// client asks for a huge receive maximum (its inflight messages are in
// memory anyway).
const (
	minPage = 256
	maxPage = 4096
)

// pageSize is how many waiting messages a page read fetches.
func (s *Session) pageSize() int {
	return min(max(2*s.limits.Inflight, minPage), maxPage)
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

// forget deletes a durable delivery's records and its accounting. The
// delete waits in ops: losing it in a crash costs a redelivery, which
// QoS 1 allows and QoS 2's packet id state absorbs.
func (s *Session) forget(d *Delivery) {
	if s.dur == nil || d.Seq == 0 {
		return
	}
	var id uint16 // no inflight record to delete unless one was written
	if d.recorded {
		id = d.PacketID
	}
	s.dur.ops = append(s.dur.ops, Op{Seq: d.Seq, PacketID: id, Done: true})
	s.dur.stored--
	s.dur.storedBytes -= int64(d.Msg.Size())
}

// record queues d's inflight record in phase; with sync it is written
// now, with whatever waits before it, and on stable storage when this
// returns nil.
func (s *Session) record(d *Delivery, phase Phase, sync bool) error {
	s.dur.ops = append(s.dur.ops, Op{Seq: d.Seq, PacketID: d.PacketID, Phase: phase})
	d.recorded = true
	if !sync {
		return nil
	}
	return s.flushOps(true)
}

// recordInflight queues the inflight records of the QoS 1 messages in the
// window that have none, before the window leaves memory (the client
// goes, or another connection takes the session over), so that they are
// resent under their packet ids with DUP set [MQTT-4.4.0-1]. While the
// client stays, a QoS 1 message costs no record of its own: on a drain
// that is one store write per message (the queue record's delete)
// instead of three. A crash loses only these records: the messages are
// then sent again as new ones, which QoS 1 allows.
func (s *Session) recordInflight() {
	if s.dur == nil {
		return
	}
	for _, d := range s.inflight {
		if !d.recorded && d.Seq != 0 && d.PacketID != 0 {
			s.record(d, AwaitAck, false)
		}
	}
}

// Flush writes what acknowledgements left waiting; the connection calls
// it once per read batch, after handling every packet in it.
func (s *Session) Flush() {
	if s.dur == nil {
		return
	}
	s.mu.Lock()
	s.flushOps(false)
	s.mu.Unlock()
}

// flushOps writes the waiting ops in one batch. On failure they are
// dropped (the journal logs it): deletes and QoS 1 inflight records may be
// lost, at the cost of a redelivery; a caller that needed a record
// synced sees the error.
func (s *Session) flushOps(sync bool) error {
	dur := s.dur
	if dur == nil || len(dur.ops) == 0 {
		return nil
	}
	err := dur.j.Write(dur.sid, dur.ops, sync)
	if cap(dur.ops) > 4*maxPage { // a huge read batch: give the memory back
		dur.ops = nil
	} else {
		dur.ops = dur.ops[:0]
	}
	return err
}

// loadFromStore replaces the in-memory window and queue with what the
// store holds: every inflight message and the first page of waiting ones,
// leaving out deliveries still on their way through Admit.
func (s *Session) loadFromStore() error {
	dur := s.dur
	s.recordInflight() // a connection taken over may have left some; they must be on disk before it is read
	s.flushOps(false)
	inflight, err := dur.j.Inflight(dur.sid)
	if err != nil {
		return err
	}
	for _, d := range inflight {
		d.recorded = true
	}
	s.inflight = inflight
	s.countResends()
	s.queue = queue{}
	dur.cursor, dur.ahead = 0, nil
	for _, d := range inflight {
		if dur.ahead == nil {
			dur.ahead = make(map[uint64]struct{}, len(inflight))
		}
		dur.ahead[d.Seq] = struct{}{}
	}
	page, last, more, err := dur.j.Waiting(dur.sid, 0, s.pageSize(), dur.skip)
	if err != nil {
		return err
	}
	// An estimate (the accounting may drift from the disk); a page read
	// that reaches the end of the queue sets it right.
	dur.unloaded = dur.stored - len(inflight) - len(dur.pending)
	s.takePage(page, last, more)
	return nil
}

// pageIn reads the next page of waiting messages into the empty queue and
// reports whether it got any. A store error leaves them on disk for the
// next fill (the journal logs it).
func (s *Session) pageIn() bool {
	dur := s.dur
	if dur == nil || dur.unloaded == 0 {
		return false
	}
	page, last, more, err := dur.j.Waiting(dur.sid, dur.cursor, s.pageSize()-s.queue.len(), dur.skip)
	if err != nil {
		return false
	}
	s.takePage(page, last, more)
	return len(page) > 0
}

// takePage appends a page read after cursor to the queue and moves the
// cursor past it.
func (s *Session) takePage(page []*Delivery, last uint64, more bool) {
	dur := s.dur
	for _, d := range page {
		s.queue.push(d)
	}
	dur.cursor = max(dur.cursor, last)
	if more {
		dur.unloaded = max(dur.unloaded-len(page), 1)
	} else {
		dur.unloaded = 0
	}
	for seq := range dur.ahead {
		if seq <= dur.cursor {
			delete(dur.ahead, seq)
		}
	}
	if len(dur.ahead) == 0 {
		dur.ahead = nil
	}
}

// skip reports whether a page read must leave out the record seq: it is
// pending (Deliver brings it in once its batch commits) or already in
// memory as an inflight message loaded by Attach.
func (dur *durable) skip(seq uint64) bool {
	if _, ok := dur.pending[seq]; ok {
		return true
	}
	_, ok := dur.ahead[seq]
	return ok
}

// Resident reports how many waiting and inflight messages the session
// holds in memory, for tests and diagnostics of the paging.
func (s *Session) Resident() (queued, inflight int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queue.len(), len(s.inflight)
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
