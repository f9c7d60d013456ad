package store

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// recordFormat is the first byte of every record value; a newer format
// is refused rather than misread.
const recordFormat byte = 1

// ErrRecord reports a record value that cannot be decoded.
var ErrRecord = errors.New("store: malformed record")

// SessionRecord is the durable part of a session ('s' sid).
type SessionRecord struct {
	ClientID string
	Version  byte   // protocol level of the last connection
	Expiry   uint32 // session expiry interval in seconds; NeverExpire for never
	// DisconnectedAt is when the client went offline (Unix seconds); 0
	// while it is connected, so after a crash its expiry runs from restart.
	DisconnectedAt int64
	WillDelay      uint32 // seconds
	Will           []byte // encoded will message; nil when there is none
	// Username is who the client authenticated as, for access checks on
	// messages queued while it is offline; "" for anonymous.
	Username string
}

// NeverExpire is SessionRecord.Expiry for a session that never expires.
const NeverExpire = 0xFFFFFFFF

// SubscriptionRecord holds a subscription's options ('f' sid filter).
type SubscriptionRecord struct {
	QoS               byte
	NoLocal           bool
	RetainAsPublished bool
	RetainHandling    byte
	ID                uint32
}

// QueueRecord is one message queued for a session ('q' sid seq): the
// delivery's own QoS, retain flag and subscription ids, and the encoded
// message.
type QueueRecord struct {
	QoS     byte
	Retain  bool
	SubIDs  []uint32
	Message []byte
}

// InflightRecord ties an outbound packet id to the queued message it
// carries ('i' sid packetID).
type InflightRecord struct {
	Seq   uint64
	Phase byte // session.Phase: awaiting PUBACK/PUBREC, or PUBCOMP
}

// MarshalSession encodes r.
func MarshalSession(r *SessionRecord) []byte {
	b := []byte{recordFormat, r.Version}
	b = appendString(b, r.ClientID)
	b = binary.BigEndian.AppendUint32(b, r.Expiry)
	b = binary.BigEndian.AppendUint64(b, uint64(r.DisconnectedAt))
	b = binary.BigEndian.AppendUint32(b, r.WillDelay)
	b = appendBytes(b, r.Will)
	return appendString(b, r.Username)
}

// UnmarshalSession decodes a session record.
func UnmarshalSession(b []byte) (*SessionRecord, error) {
	d := decoder{b: b}
	d.format()
	r := &SessionRecord{Version: d.byte1()}
	r.ClientID = d.string()
	r.Expiry = d.uint32()
	r.DisconnectedAt = int64(d.uint64())
	r.WillDelay = d.uint32()
	r.Will = d.bytes()
	r.Username = d.string()
	return r, d.done("session")
}

// MarshalSubscription encodes r.
func MarshalSubscription(r *SubscriptionRecord) []byte {
	flags := r.RetainHandling & 3
	if r.NoLocal {
		flags |= 4
	}
	if r.RetainAsPublished {
		flags |= 8
	}
	b := []byte{recordFormat, r.QoS, flags}
	return binary.BigEndian.AppendUint32(b, r.ID)
}

// UnmarshalSubscription decodes a subscription record.
func UnmarshalSubscription(b []byte) (*SubscriptionRecord, error) {
	d := decoder{b: b}
	d.format()
	r := &SubscriptionRecord{QoS: d.byte1()}
	flags := d.byte1()
	r.RetainHandling, r.NoLocal, r.RetainAsPublished = flags&3, flags&4 != 0, flags&8 != 0
	r.ID = d.uint32()
	return r, d.done("subscription")
}

// MarshalQueue encodes r.
func MarshalQueue(r *QueueRecord) []byte {
	b := make([]byte, 0, 8+4*len(r.SubIDs)+len(r.Message))
	b = append(b, recordFormat, r.QoS, boolByte(r.Retain), byte(len(r.SubIDs)))
	for _, id := range r.SubIDs {
		b = binary.BigEndian.AppendUint32(b, id)
	}
	return append(b, r.Message...)
}

// UnmarshalQueue decodes a queue record; Message aliases b.
func UnmarshalQueue(b []byte) (*QueueRecord, error) {
	d := decoder{b: b}
	d.format()
	r := &QueueRecord{QoS: d.byte1(), Retain: d.byte1() != 0}
	for n := int(d.byte1()); n > 0 && d.err == nil; n-- {
		r.SubIDs = append(r.SubIDs, d.uint32())
	}
	r.Message = d.rest()
	return r, d.done("queue")
}

// MarshalInflight encodes r.
func MarshalInflight(r *InflightRecord) []byte {
	b := []byte{recordFormat, r.Phase}
	return binary.BigEndian.AppendUint64(b, r.Seq)
}

// UnmarshalInflight decodes an inflight record.
func UnmarshalInflight(b []byte) (*InflightRecord, error) {
	d := decoder{b: b}
	d.format()
	r := &InflightRecord{Phase: d.byte1()}
	r.Seq = d.uint64()
	return r, d.done("inflight")
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, v []byte) []byte {
	if v == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// decoder reads a record, keeping the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: short %s", ErrRecord, what)
	}
	d.b = nil
}

func (d *decoder) format() {
	if v := d.byte1(); d.err == nil && v != recordFormat {
		d.err = fmt.Errorf("%w: record format %d is newer than this baram (%d): upgrade baram", ErrRecord, v, recordFormat)
	}
}

func (d *decoder) byte1() byte {
	if len(d.b) < 1 {
		d.fail("byte")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uint32() uint32 {
	if len(d.b) < 4 {
		d.fail("uint32")
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) uint64() uint64 {
	if len(d.b) < 8 {
		d.fail("uint64")
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) string() string { return string(d.raw()) }

func (d *decoder) raw() []byte {
	n, k := binary.Uvarint(d.b)
	if k <= 0 || uint64(len(d.b)-k) < n {
		d.fail("string")
		return nil
	}
	v := d.b[k : k+int(n)]
	d.b = d.b[k+int(n):]
	return v
}

func (d *decoder) bytes() []byte {
	if d.byte1() == 0 || d.err != nil {
		return nil
	}
	return append([]byte{}, d.raw()...)
}

func (d *decoder) rest() []byte {
	v := d.b
	d.b = nil
	return v
}

func (d *decoder) done(what string) error {
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", ErrRecord, len(d.b))
	}
	if d.err != nil {
		return fmt.Errorf("%s record: %w", what, d.err)
	}
	return nil
}
