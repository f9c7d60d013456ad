package session

import "errors"

// ErrReceiveMaximum reports a client sending more unreleased QoS 2
// messages than the broker's receive maximum [MQTT-3.3.4-9].
var ErrReceiveMaximum = errors.New("client exceeded the receive maximum")

// ReceiveQoS2 records an inbound QoS 2 PUBLISH whose PUBREC is about to be
// sent. dup reports a packet id already held: the message was routed
// before and must not be routed again [MQTT-4.3.3-10]. limit caps the
// unreleased ids; 0 is no cap.
func (s *Session) ReceiveQoS2(id uint16, limit int) (dup bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.inboundQoS2[id]; ok {
		return true, nil
	}
	if limit > 0 && len(s.inboundQoS2) >= limit {
		return false, ErrReceiveMaximum
	}
	s.inboundQoS2[id] = struct{}{}
	return false, nil
}

// ReleaseQoS2 forgets an inbound QoS 2 id on PUBREL; it reports whether
// the id was held.
func (s *Session) ReleaseQoS2(id uint16) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.inboundQoS2[id]
	delete(s.inboundQoS2, id)
	return ok
}
