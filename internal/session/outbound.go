package session

import "time"

// Outcome says what Deliver did with a message.
type Outcome byte

// Deliver outcomes.
const (
	Sent    Outcome = iota // written to the connection
	Held                   // queued or left to the offline queue
	Skipped                // QoS 0 for an offline client: not kept, as QoS 0 allows
	Dropped                // refused by a limit; counted in Dropped
)

// Attach connects sink to the session with the limits of the new
// connection. Call Resume once the CONNACK is queued.
func (s *Session) Attach(sink Sink, version byte, limits Limits) {
	s.mu.Lock()
	s.sink, s.version, s.limits = sink, version, limits
	s.mu.Unlock()
}

// Resume redelivers the inflight messages with DUP set (and PUBREL where
// the PUBREC was seen) [MQTT-4.4.0-1], then fills the window from the queue.
func (s *Session) Resume(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sink == nil {
		return
	}
	kept := s.inflight[:0]
	for _, d := range s.inflight {
		if d.Phase == AwaitComp {
			s.sink.WritePubrel(d.PacketID)
			kept = append(kept, d)
			continue
		}
		d.Dup = true
		if s.sink.WritePublish(d) == ErrTooLarge {
			s.dropped++
			continue
		}
		kept = append(kept, d)
	}
	clear(s.inflight[len(kept):])
	s.inflight = kept
	s.fill(now)
}

// Deliver offers a new delivery to the session: sent at once when the
// client is online and the window is open, else queued under the limits.
// A full queue drops the new message and keeps the ones already queued, so
// what was accepted stays in order.
func (s *Session) Deliver(d *Delivery, now time.Time) Outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
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
	if s.queue.len() > 0 || len(s.inflight) >= s.limits.Inflight {
		return s.enqueue(d)
	}
	return s.send(d)
}

// enqueue appends d to the queue unless a limit refuses it.
func (s *Session) enqueue(d *Delivery) Outcome {
	l := s.limits
	if (l.MaxQueued > 0 && s.queue.len() >= l.MaxQueued) ||
		(l.MaxQueuedBytes > 0 && s.queue.bytes+int64(d.Msg.Size()) > l.MaxQueuedBytes) {
		s.dropped++
		return Dropped
	}
	d.Phase = Queued
	s.queue.push(d)
	return Held
}

// write hands a QoS 0 delivery to the sink.
func (s *Session) write(d *Delivery) Outcome {
	if err := s.sink.WritePublish(d); err != nil {
		s.dropped++
		return Dropped
	}
	return Sent
}

// send gives a QoS 1/2 delivery a packet id and an inflight slot, and
// writes it.
func (s *Session) send(d *Delivery) Outcome {
	d.PacketID = s.freeID()
	d.Phase = AwaitAck
	if err := s.sink.WritePublish(d); err != nil {
		s.dropped++
		return Dropped
	}
	s.inflight = append(s.inflight, d)
	return Sent
}

// fill moves queued messages into the window while it has room; expired
// messages are discarded on the way [MQTT-3.3.2-5].
func (s *Session) fill(now time.Time) {
	for s.sink != nil && s.queue.len() > 0 {
		d := s.queue.peek()
		if d.QoS > 0 && len(s.inflight) >= s.limits.Inflight {
			return
		}
		s.queue.pop()
		if d.Msg.Expired(now) {
			continue
		}
		if d.QoS == 0 {
			s.write(d)
		} else {
			s.send(d)
		}
	}
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
		s.removeInflight(i)
		s.fill(now)
		return true
	}
	d.Phase = AwaitComp
	if s.sink != nil {
		s.sink.WritePubrel(id)
	}
	return true
}
