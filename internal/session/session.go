package session

import (
	"errors"
	"sync"
	"time"

	"github.com/baram-mqtt/baram/internal/topic"
)

// Errors a Sink returns for a delivery it refused.
var (
	ErrTooLarge = errors.New("message larger than the client's maximum packet size")
	ErrSlow     = errors.New("client is not reading: QoS 0 message dropped")
)

// Limits bound one session's memory.
type Limits struct {
	// Inflight caps unacknowledged outbound QoS 1/2 messages: the smaller of
	// the client's receive maximum and the broker's.
	Inflight int
	// MaxQueued caps messages waiting in the queue; 0 is unlimited.
	MaxQueued int
	// MaxQueuedBytes caps their topic and payload bytes; 0 is unlimited.
	MaxQueuedBytes int64
	// QueueQoS0 keeps QoS 0 messages for an offline client.
	QueueQoS0 bool
}

// Session is the state of one client id that outlives its connections.
// Every field after mu is guarded by mu.
type Session struct {
	ClientID string // immutable

	mu sync.Mutex

	sink    Sink                     // the connected client's writer; nil while offline
	version byte                     // protocol level of the last connection
	limits  Limits                   // set on each connection
	subs    map[string]topic.Options // nil until the first subscription

	// ExpiryInterval is how long the session outlives its connection.
	expiry  time.Duration
	noLimit bool // expiry is "never" (3.1.1 persistent sessions by default)

	nextID   uint16
	inflight []*Delivery // outbound QoS 1/2 in send order; len <= limits.Inflight while online
	resends  int         // inflight entries in the Resend phase (outbound.go)
	queue    queue       // waiting for a slot or for the client

	inboundQoS2 map[uint16]struct{} // PUBREC sent, waiting for PUBREL; nil until the first (inbound.go)

	dropped uint64 // messages dropped by the queue policy, for logs and metrics

	// dur is nil for a session kept in memory only. The pointer is set by
	// MakeDurable before the session is shared and never changes, so it
	// may be read without mu; the fields it points to are guarded by mu.
	dur *durable

	username string // who the client authenticated as, for access checks
}

// SetUsername records who the client authenticated as.
func (s *Session) SetUsername(u string) {
	s.mu.Lock()
	s.username = u
	s.mu.Unlock()
}

// Username reports who the client authenticated as; "" for anonymous.
func (s *Session) Username() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.username
}

// New returns an empty session.
func New(clientID string) *Session {
	return &Session{ClientID: clientID}
}

// SetExpiry sets how long the session outlives its connection; never makes
// it last until the client cleans it.
func (s *Session) SetExpiry(d time.Duration, never bool) {
	s.mu.Lock()
	s.expiry, s.noLimit = d, never
	s.mu.Unlock()
}

// SetLimits sets the queue limits of a session with no connection (after
// recovery); a connection brings its own with Attach.
func (s *Session) SetLimits(l Limits) {
	s.mu.Lock()
	s.limits = l
	s.mu.Unlock()
}

// Expiry reports how long the session outlives its connection.
func (s *Session) Expiry() (d time.Duration, never bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.expiry, s.noLimit
}

// Online reports whether a connection is attached.
func (s *Session) Online() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sink != nil
}

// Sink returns the attached connection, or nil.
func (s *Session) Sink() Sink {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sink
}

// Detach marks the session offline if sink is still the attached one, and
// reports whether it was.
func (s *Session) Detach(sink Sink) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sink == sink {
		s.recordInflight()
	}
	s.flushOps(false) // whichever connection left them, they belong on disk now
	if s.sink != sink {
		return false
	}
	s.sink = nil
	if s.dur != nil { // it is all on disk: an offline session holds no messages in memory
		s.inflight, s.queue, s.resends = nil, queue{}, 0
		s.dur.cursor, s.dur.unloaded, s.dur.ahead = 0, 0, nil
	}
	return true
}

// Subscribe records a subscription; it reports whether one existed.
func (s *Session) Subscribe(filter string, opts topic.Options) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, existed := s.subs[filter]
	if s.subs == nil { // made on the first subscription: many clients only publish
		s.subs = make(map[string]topic.Options)
	}
	s.subs[filter] = opts
	return existed
}

// Subscribed reports whether the session holds a subscription to filter.
func (s *Session) Subscribed(filter string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.subs[filter]
	return ok
}

// Unsubscribe forgets a subscription; it reports whether it existed.
func (s *Session) Unsubscribe(filter string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, existed := s.subs[filter]
	delete(s.subs, filter)
	return existed
}

// Subscriptions returns a copy of the subscriptions, by filter.
func (s *Session) Subscriptions() map[string]topic.Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]topic.Options, len(s.subs))
	for f, o := range s.subs {
		out[f] = o
	}
	return out
}

// Dropped reports how many messages the queue policy has dropped.
func (s *Session) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Queued reports the number of messages waiting and inflight. For a
// durable session the waiting ones are counted on disk too, where an
// offline session keeps them.
func (s *Session) Queued() (queued, inflight int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dur != nil {
		return max(s.dur.stored-len(s.inflight), s.queue.len()), len(s.inflight)
	}
	return s.queue.len(), len(s.inflight)
}
