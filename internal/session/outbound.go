package session

import (
	"fmt"
	"time"
)

// Outcome says what Deliver did with a message.
type Outcome byte

// Deliver outcomes.
const (
	Sent            Outcome = iota // written to the connection
	Held                           // queued or left to the offline queue
	Skipped                        // QoS 0 for an offline client: not kept, as QoS 0 allows
	Dropped                        // refused by the queue limits; counted in Dropped
	DroppedSlow                    // QoS 0 for a client that is not reading; counted in Dropped
	DroppedTooLarge                // over the client's maximum packet size; counted in Dropped
)

// IsDrop reports whether the message was dropped, for whatever reason.
func (o Outcome) IsDrop() bool { return o >= Dropped }

// dropOutcome maps a Sink error to the drop it causes.
func dropOutcome(err error) Outcome {
	if err == ErrTooLarge {
		return DroppedTooLarge
	}
	return DroppedSlow
}

// Attach connects sink to the session with the limits of the new
// connection, then, in the same critical section so that no new message
// overtakes them, redelivers what was inflight and fills the window from
// the queue. Call it once the CONNACK is queued.
func (s *Session) Attach(sink Sink, version byte, limits Limits, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sink, s.version, s.limits = sink, version, limits
	if s.dur != nil {
		if err := s.loadFromStore(); err != nil {
			s.sink = nil
			return fmt.Errorf("load session %q: %w", s.ClientID, err)
		}
	}
	s.resume()
	s.fill(now)
	s.flushOps(false)
	return nil
}

// resume redelivers the inflight messages with their packet ids and DUP
// set, and PUBREL where the PUBREC was seen [MQTT-4.4.0-1]. A client that
// came back with a smaller receive maximum gets only that many; the rest
// wait in the Resend phase for a free slot [MQTT-3.3.4-7].
func (s *Session) resume() {
	kept := s.inflight[:0]
	sent := 0
	for _, d := range s.inflight {
		switch {
		case d.Phase == AwaitComp:
			s.sink.WritePubrel(d.PacketID)
			sent++
		case sent < s.limits.Inflight:
			d.Dup, d.Phase = true, AwaitAck
			if s.sink.WritePublish(d) == ErrTooLarge {
				s.dropped++
				s.forget(d)
				continue
			}
			sent++
		default:
			d.Phase = Resend
		}
		kept = append(kept, d)
	}
	clear(s.inflight[len(kept):])
	s.inflight = kept
	s.countResends()
}

// countResends recounts the inflight messages in the Resend phase, after
// the inflight list was replaced wholesale.
func (s *Session) countResends() {
	s.resends = 0
	for _, d := range s.inflight {
		if d.Phase == Resend {
			s.resends++
		}
	}
}

// Deliver offers a new delivery to the session: sent at once when the
// client is online and the window is open, else queued under the limits.
// A full queue drops the new message and keeps the ones already queued, so
// what was accepted stays in order. d is only borrowed: the session keeps
// a copy when it queues the delivery or puts it in the window, so the
// router can reuse one Delivery per recipient and a QoS 0 message written
// at once allocates nothing.
func (s *Session) Deliver(d *Delivery, now time.Time) Outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dur != nil && d.Seq != 0 {
		defer s.flushOps(false) // no read batch of this client's to wait for
		return s.deliverAdmitted(d)
	}
	if s.sink == nil {
		if d.QoS == 0 && !s.limits.QueueQoS0 {
			return Skipped
		}
		return s.enqueue(d)
	}
	if d.QoS == 0 {
		if s.queue.len() > 0 { // keep order behind messages queued while offline
			return s.enqueue(d)
		}
		return s.write(d)
	}
	if s.queue.len() > 0 || s.holding() || s.window() >= s.limits.Inflight {
		return s.enqueue(d)
	}
	return s.send(d.clone())
}

// deliverAdmitted completes Admit once the queue record is committed: the
// limits were applied there and the message is on disk, so an offline
// client needs nothing more in memory. Nor does an online one while older
// waiting messages are still only on disk, or memory holds a page: the
// message is read in its turn by a page read. One a page read skipped
// while it was pending (seq up to cursor) will not be read again, so it
// joins the queue.
func (s *Session) deliverAdmitted(d *Delivery) Outcome {
	dur := s.dur
	dur.unpend(d.Seq)
	switch {
	case s.sink == nil:
		return Held
	case d.QoS == 0:
		out := s.write(d) // kept for an offline client, which is back
		s.forget(d)
		return out
	case d.Seq > dur.cursor && (dur.unloaded > 0 || s.queue.len() >= s.pageSize()):
		dur.unloaded++
		return Held
	}
	dur.cursor = max(dur.cursor, d.Seq)
	switch {
	case s.queue.len() > 0 || s.holding() || s.window() >= s.limits.Inflight:
		d = d.clone()
		d.Phase = Queued
		s.queue.push(d)
		return Held
	}
	return s.send(d.clone())
}

// enqueue appends a copy of d to the queue unless a limit refuses it.
func (s *Session) enqueue(d *Delivery) Outcome {
	l := s.limits
	if (l.MaxQueued > 0 && s.queue.len() >= l.MaxQueued) ||
		(l.MaxQueuedBytes > 0 && s.queue.bytes+int64(d.Msg.Size()) > l.MaxQueuedBytes) {
		s.dropped++
		return Dropped
	}
	d = d.clone()
	d.Phase = Queued
	s.queue.push(d)
	return Held
}

// write hands a QoS 0 delivery to the sink.
func (s *Session) write(d *Delivery) Outcome {
	if err := s.sink.WritePublish(d); err != nil {
		s.dropped++
		return dropOutcome(err)
	}
	return Sent
}

// send gives a QoS 1/2 delivery a packet id and an inflight slot, and
// writes it. d is the session's own (a clone or from its queue): it stays
// in the window.
func (s *Session) send(d *Delivery) Outcome {
	d.PacketID = s.freeID()
	d.Phase = AwaitAck
	// A first QoS 2 send is synced before it leaves, or a restart could
	// deliver it twice under another id. A QoS 1 record waits until the
	// client goes (recordInflight).
	if s.dur != nil && d.Seq != 0 && d.QoS == 2 {
		if err := s.record(d, AwaitAck, true); err != nil {
			d.PacketID, d.Phase = 0, Queued
			s.queue.pushFront(d) // stays on disk; tried again on the next fill
			return Held
		}
	}
	if err := s.sink.WritePublish(d); err != nil {
		s.dropped++
		s.forget(d)
		return dropOutcome(err)
	}
	s.inflight = append(s.inflight, d)
	return Sent
}

// fill moves queued messages into the window while it has room; expired
// messages are discarded on the way [MQTT-3.3.2-5].
func (s *Session) fill(now time.Time) {
	if s.sink == nil {
		return
	}
	s.resendHeld()
	for {
		// A durable session reads its next page only when the queue is
		// empty and the window has room for what it reads.
		if s.queue.len() == 0 && (s.holding() || s.window() >= s.limits.Inflight || !s.pageIn()) {
			return
		}
		d := s.queue.peek()
		if d.QoS > 0 && (s.holding() || s.window() >= s.limits.Inflight) {
			return
		}
		s.queue.pop()
		if d.Msg.Expired(now) {
			s.forget(d)
			continue
		}
		if d.QoS == 0 {
			s.write(d)
			s.forget(d)
		} else if s.send(d) == Held {
			return // the store refused the inflight record: try later
		}
	}
}

// resendHeld sends inflight messages held back by a smaller receive
// maximum, oldest first, while the window has room.
func (s *Session) resendHeld() {
	for i := 0; s.resends > 0 && i < len(s.inflight); i++ {
		d := s.inflight[i]
		if d.Phase != Resend {
			continue
		}
		if s.window() >= s.limits.Inflight {
			return
		}
		s.resends--
		d.Dup, d.Phase = true, AwaitAck // it went out on an earlier connection
		if s.sink.WritePublish(d) == ErrTooLarge {
			s.dropped++
			s.forget(d)
			s.removeInflight(i)
			i--
		}
	}
}

// window counts the inflight messages the client holds now: all but those
// in the Resend phase. (It runs for every delivery and acknowledgement,
// and the window may be thousands long: counted in s.resends, not by a
// walk.)
func (s *Session) window() int {
	return len(s.inflight) - s.resends
}

// holding reports whether inflight messages wait to be resent; new ones
// queue behind them to keep the order.
func (s *Session) holding() bool {
	return s.resends > 0
}

// freeID returns the next packet id not used by an inflight message.
func (s *Session) freeID() uint16 {
	for {
		s.nextID++
		if s.nextID == 0 {
			s.nextID = 1
		}
		if s.inflightIndex(s.nextID) < 0 {
			return s.nextID
		}
	}
}

func (s *Session) inflightIndex(id uint16) int {
	for i, d := range s.inflight {
		if d.PacketID == id {
			return i
		}
	}
	return -1
}

func (s *Session) removeInflight(i int) {
	if s.inflight[i].Phase == Resend {
		s.resends--
	}
	if i == 0 { // acknowledgements mostly come oldest first
		s.inflight[0] = nil
		s.inflight = s.inflight[1:]
		return
	}
	copy(s.inflight[i:], s.inflight[i+1:])
	s.inflight[len(s.inflight)-1] = nil
	s.inflight = s.inflight[:len(s.inflight)-1]
}

// Puback completes a QoS 1 delivery. It reports false for an unknown id.
func (s *Session) Puback(id uint16, now time.Time) bool {
	return s.complete(id, 1, AwaitAck, now)
}

// Pubcomp completes a QoS 2 delivery. It reports false for an unknown id.
func (s *Session) Pubcomp(id uint16, now time.Time) bool {
	return s.complete(id, 2, AwaitComp, now)
}

func (s *Session) complete(id uint16, qos byte, phase Phase, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.inflightIndex(id)
	if i < 0 || s.inflight[i].QoS != qos || s.inflight[i].Phase != phase {
		return false
	}
	s.forget(s.inflight[i])
	s.removeInflight(i)
	s.fill(now)
	return true
}

// Pubrec moves a QoS 2 delivery to its release phase and writes PUBREL; a
// failure reason code (v5) ends the delivery instead [MQTT-4.3.3-4]. It
// reports false for an unknown id.
func (s *Session) Pubrec(id uint16, failed bool, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.inflightIndex(id)
	if i < 0 || s.inflight[i].QoS != 2 {
		return false
	}
	d := s.inflight[i]
	if failed {
		s.forget(d)
		s.removeInflight(i)
		s.fill(now)
		return true
	}
	// Synced before the PUBREL goes out: a client that answered PUBCOMP
	// has freed the packet id, so a PUBLISH resent after a crash under
	// that id would be a second delivery.
	if s.dur != nil && d.Seq != 0 {
		if err := s.record(d, AwaitComp, true); err != nil {
			return true // still awaiting PUBREC: a repeated one retries
		}
	}
	if d.Phase == Resend {
		s.resends--
	}
	d.Phase = AwaitComp
	if s.sink != nil {
		s.sink.WritePubrel(id)
	}
	return true
}
