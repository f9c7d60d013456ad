package session

import (
	"errors"

	"github.com/baram-mqtt/baram/internal/store"
)

// ErrReceiveMaximum reports a client sending more unreleased QoS 2
// messages than the broker's receive maximum [MQTT-3.3.4-9].
var ErrReceiveMaximum = errors.New("client exceeded the receive maximum")

// ReceiveQoS2 records an inbound QoS 2 PUBLISH whose PUBREC is about to be
// sent; a durable session stages the record in batch (which may be nil
// otherwise). dup reports a packet id already held: the message was routed
// before and must not be routed again [MQTT-4.3.3-10]. limit caps the
// unreleased ids; 0 is no cap.
func (s *Session) ReceiveQoS2(id uint16, limit int, batch store.Batch) (dup bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.inboundQoS2[id]; ok {
		return true, nil
	}
	if limit > 0 && len(s.inboundQoS2) >= limit {
		return false, ErrReceiveMaximum
	}
	s.holdQoS2(id)
	if s.dur != nil && batch != nil {
		batch.Put(store.InboundKey(s.dur.sid, id), nil)
	}
	return false, nil
}

// ReleaseQoS2 forgets an inbound QoS 2 id on PUBREL, staging the delete in
// batch for a durable session; it reports whether the id was held.
func (s *Session) ReleaseQoS2(id uint16, batch store.Batch) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.inboundQoS2[id]
	delete(s.inboundQoS2, id)
	if ok && s.dur != nil && batch != nil {
		batch.Delete(store.InboundKey(s.dur.sid, id))
	}
	return ok
}

// ForgetQoS2 drops an id recorded by ReceiveQoS2 whose batch failed to
// commit, so the client's retransmission is routed.
func (s *Session) ForgetQoS2(id uint16) {
	s.mu.Lock()
	delete(s.inboundQoS2, id)
	s.mu.Unlock()
}

// RestoreQoS2 marks ids as received and unreleased (recovery).
func (s *Session) RestoreQoS2(ids ...uint16) {
	s.mu.Lock()
	for _, id := range ids {
		s.holdQoS2(id)
	}
	s.mu.Unlock()
}

// holdQoS2 records an unreleased inbound id, making the map on first use:
// most clients never publish at QoS 2. Called with mu held.
func (s *Session) holdQoS2(id uint16) {
	if s.inboundQoS2 == nil {
		s.inboundQoS2 = make(map[uint16]struct{})
	}
	s.inboundQoS2[id] = struct{}{}
}
