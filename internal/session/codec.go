package session

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
)

// messageFormat is the first byte of an encoded message.
const messageFormat byte = 1

// MarshalMessage appends m's durable encoding to dst: a small header
// (format, expiry, publisher) and then m as an MQTT 5 PUBLISH, so the
// packet codec does the work and properties survive unchanged.
func MarshalMessage(dst []byte, m *Message) []byte {
	dst = append(dst, messageFormat)
	var expiry int64
	if !m.Expiry.IsZero() {
		expiry = m.Expiry.UnixMilli()
	}
	dst = binary.BigEndian.AppendUint64(dst, uint64(expiry))
	dst = binary.AppendUvarint(dst, uint64(len(m.From)))
	dst = append(dst, m.From...)
	p := &packet.Publish{QoS: m.QoS, Retain: m.Retain, Topic: m.Topic, Props: m.Props, Payload: m.Payload}
	if p.QoS > 0 {
		p.PacketID = 1 // required by the codec; meaningless here
	}
	return packet.AppendPublish(dst, p, packet.V5)
}

// UnmarshalMessage decodes what MarshalMessage wrote. The message does not
// alias b.
func UnmarshalMessage(b []byte) (*Message, error) {
	if len(b) < 10 || b[0] != messageFormat {
		return nil, errors.New("message: unknown format")
	}
	expiry := int64(binary.BigEndian.Uint64(b[1:9]))
	n, k := binary.Uvarint(b[9:])
	rest := b[9:]
	if k <= 0 || uint64(len(rest)-k) < n {
		return nil, errors.New("message: short publisher id")
	}
	from := string(rest[k : k+int(n)])
	rest = rest[k+int(n):]
	h, err := packet.ParseFixedHeader(rest)
	if err != nil || h.PacketLen() != len(rest) {
		return nil, fmt.Errorf("message: bad packet: %v", err)
	}
	var p packet.Publish
	if err := packet.DecodePublish(h, rest[h.HeaderLen:], packet.V5, &p); err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	m := &Message{Topic: p.Topic, Payload: bytes.Clone(p.Payload), QoS: p.QoS,
		Retain: p.Retain, Props: p.Props, From: from}
	m.Props.CorrelationData = bytes.Clone(p.Props.CorrelationData)
	m.Props.User = slices.Clone(p.Props.User)
	if m.Payload == nil {
		m.Payload = []byte{}
	}
	if expiry != 0 {
		m.Expiry = time.UnixMilli(expiry)
	}
	return m, nil
}
