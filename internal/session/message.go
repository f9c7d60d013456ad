// Package session is the per-client state machine of the broker, with no
// I/O of its own: subscriptions, packet identifiers, the outbound inflight
// window and its queue, inbound QoS 2 state, and the drop policy. The broker
// drives it and gives it a Sink, the connection that encodes and writes.
package session

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
)

// Message is an application message as the broker routes it. It is
// immutable once routed: every recipient shares one *Message.
type Message struct {
	Topic   string
	Payload []byte
	QoS     byte // QoS it was published with
	Retain  bool
	// Props are the v5 properties forwarded unchanged to subscribers:
	// payload format, content type, response topic, correlation data, user
	// properties. Topic alias, subscription ids and message expiry are set
	// per delivery, never here.
	Props packet.Properties
	// Expiry is when the message stops being deliverable; zero is never.
	Expiry time.Time
	// From is the publishing client id, for no-local; "" for the broker.
	From string

	enc    atomic.Pointer[[]byte]    // MarshalMessage of the above, made once on demand
	v3     [2]atomic.Pointer[wireV3] // 3.x PUBLISH without and with a packet id (wire.go)
	v3uses atomic.Int32              // AppendV3 calls so far
	v5     [2]atomic.Pointer[wireV3] // the same for v5 recipients that need no property of their own
	v5uses atomic.Int32              // AppendV5 calls so far

	boxed bool        // the payload lives in the message's own 64-byte box: Recycle may reuse it
	kept  atomic.Bool // something outlives the publish: a queue, the retained index, a handler
}

// Keep records that m outlives the publish that made it (a session
// queued it, or an in-process handler holds it), so Recycle leaves it to
// the garbage collector.
func (m *Message) Keep() {
	if m.boxed && !m.kept.Load() { // a load first: most messages are kept many times or never
		m.kept.Store(true)
	}
}

// box64 holds the messages with payloads of at most 64 bytes that
// Recycle gave back; see NewMessage.
var box64 = sync.Pool{New: func() any {
	x := new(message64)
	x.m.Payload, x.m.boxed = x.b[:0], true
	return &x.m
}}

// Recycle gives m back for reuse by NewMessage once every delivery of it
// is done, unless something kept it. The publish path calls it for QoS 0
// messages, which are written and forgotten: with it, routing a small
// QoS 0 message allocates nothing.
func Recycle(m *Message) {
	if !m.boxed || m.kept.Load() {
		return
	}
	box := m.Payload[:0]
	*m = Message{} // also forgets the shared encodings, which the next use makes anew
	m.Payload, m.boxed = box, true
	box64.Put(m)
}

// Encoded returns the message's durable encoding, made once and shared by
// every session that stores it.
func (m *Message) Encoded() []byte {
	if b := m.enc.Load(); b != nil {
		return *b
	}
	b := MarshalMessage(nil, m)
	m.enc.Store(&b)
	return b
}

// Size is what the message costs in a queue's byte budget.
func (m *Message) Size() int { return len(m.Topic) + len(m.Payload) }

// Expired reports whether the message may no longer be delivered.
func (m *Message) Expired(now time.Time) bool {
	return !m.Expiry.IsZero() && !now.Before(m.Expiry)
}

// Phase is where an outbound QoS 1/2 delivery stands.
type Phase byte

// Outbound phases.
const (
	// Queued: waiting for an inflight slot or for the client to connect.
	Queued Phase = iota
	// AwaitAck: PUBLISH sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
	AwaitAck
	// AwaitComp: PUBREL sent, waiting for PUBCOMP (QoS 2).
	AwaitComp
	// Resend: has a packet id from an earlier connection, waiting for a
	// slot under the client's new, smaller receive maximum.
	Resend
)

// Delivery is one message on its way to one client.
type Delivery struct {
	Msg      *Message
	QoS      byte     // min(published QoS, granted QoS)
	Retain   bool     // retain flag to send
	SubIDs   []uint32 // v5 subscription identifiers of the matching subscriptions
	PacketID uint16   // assigned when it enters the inflight window
	Dup      bool     // set on redelivery
	Phase    Phase
	Seq      uint64 // queue record number in a durable session; 0 when not stored

	recorded bool // its inflight record is on disk or in the session's ops (durable.go)
}

// clone returns a copy of d for the session to keep.
func (d *Delivery) clone() *Delivery {
	c := *d
	return &c
}

// Sink writes deliveries and control packets to the client's connection.
// The session calls it with its lock held, so the wire order is the
// session's order; implementations must only encode and queue, never block.
type Sink interface {
	// WritePublish encodes d and queues it; it must not keep d, which
	// the caller may reuse once it returns. It returns ErrTooLarge when
	// the client's maximum packet size forbids it (the message is then
	// dropped as if delivered [MQTT-3.1.2-25]) and ErrSlow when a QoS 0
	// message is dropped because the client is not reading.
	WritePublish(d *Delivery) error
	// WritePubrel queues a PUBREL for packet id.
	WritePubrel(id uint16)
}

// Messages with small payloads are allocated with the payload in the same
// object: one allocation per inbound PUBLISH instead of two. Most IoT
// payloads fit the first shape.
type (
	message64 struct {
		m Message
		b [64]byte
	}
	message256 struct {
		m Message
		b [256]byte
	}
)

// NewMessage returns a Message holding a copy of payload (never nil, also
// when empty); the caller fills in the other fields.
func NewMessage(payload []byte) *Message {
	n := len(payload)
	var m *Message
	var buf []byte
	switch {
	case n <= 64: // the box's capacity stays 64 so that Recycle can reuse it
		m = box64.Get().(*Message)
		buf = m.Payload[:n]
	case n <= 256:
		x := new(message256)
		m, buf = &x.m, x.b[:n:n]
	default:
		m, buf = new(Message), make([]byte, n)
	}
	copy(buf, payload)
	m.Payload = buf
	return m
}
