package session

import (
	"encoding/binary"
	"sync/atomic"

	"github.com/baram-mqtt/baram/internal/packet"
)

// wireV3 is a PUBLISH of a message, encoded once and shared by every
// recipient of one protocol variant: their copies differ only in the flags
// byte and the packet identifier, which appendShared patches. A fan-out to
// a thousand subscribers then costs one encoding and a thousand copies.
type wireV3 struct {
	b     []byte
	idOff int // where the packet identifier is; 0 at QoS 0, which has none
}

// AppendV3 appends to dst the MQTT 3.1/3.1.1 PUBLISH of m with the given
// QoS, flags and packet identifier (both ignored at QoS 0, where DUP is 0
// [MQTT-3.3.1-2]). The first copy is encoded straight into dst, so a
// message with one recipient makes no shared encoding; the second makes
// it.
func (m *Message) AppendV3(dst []byte, qos byte, dup, retain bool, id uint16) []byte {
	return m.appendShared(dst, packet.V311, &m.v3uses, &m.v3, qos, dup, retain, id)
}

// AppendV5 is AppendV3 for MQTT 5 recipients that need no property of
// their own: no subscription identifier, no message expiry to count down,
// no topic alias. The forwarded properties (m.Props) are in the shared
// encoding.
func (m *Message) AppendV5(dst []byte, qos byte, dup, retain bool, id uint16) []byte {
	return m.appendShared(dst, packet.V5, &m.v5uses, &m.v5, qos, dup, retain, id)
}

// SizeV5 is the length of the PUBLISH AppendV5 makes at qos, for the
// client's maximum packet size; -1 when it cannot be encoded.
func (m *Message) SizeV5(qos byte) int {
	p := m.publish(packet.V5, qos, false, false, 1)
	return packet.PublishSize(&p, packet.V5)
}

func (m *Message) appendShared(dst []byte, version byte, uses *atomic.Int32, slots *[2]atomic.Pointer[wireV3],
	qos byte, dup, retain bool, id uint16) []byte {
	if qos == 0 {
		dup, id = false, 0
	}
	if uses.Add(1) == 1 {
		p := m.publish(version, qos, dup, retain, id)
		return packet.AppendPublish(dst, &p, version)
	}
	w := m.wire(version, slots, qos > 0)
	start := len(dst)
	dst = append(dst, w.b...)
	flags := qos << 1
	if dup {
		flags |= 0x08
	}
	if retain {
		flags |= 0x01
	}
	dst[start] = byte(packet.PUBLISH)<<4 | flags
	if qos > 0 {
		binary.BigEndian.PutUint16(dst[start+w.idOff:], id)
	}
	return dst
}

// publish is the PUBLISH packet of m for one protocol variant.
func (m *Message) publish(version, qos byte, dup, retain bool, id uint16) packet.Publish {
	p := packet.Publish{Topic: m.Topic, Payload: m.Payload, QoS: qos, Dup: dup, Retain: retain, PacketID: id}
	if version == packet.V5 {
		p.Props = m.Props
	}
	return p
}

// wire returns the shared encoding of a variant, with room for a packet
// identifier or without, making it on first use. Two goroutines may both
// make it; they make the same bytes.
func (m *Message) wire(version byte, slots *[2]atomic.Pointer[wireV3], withID bool) *wireV3 {
	slot := &slots[0]
	if withID {
		slot = &slots[1]
	}
	if w := slot.Load(); w != nil {
		return w
	}
	var qos byte
	var id uint16
	if withID {
		qos, id = 1, 1
	}
	p := m.publish(version, qos, false, false, id)
	b := packet.AppendPublish(nil, &p, version)
	w := &wireV3{b: b}
	if withID {
		h, _ := packet.ParseFixedHeader(b) // b is a whole packet we just made
		w.idOff = h.HeaderLen + 2 + len(m.Topic)
	}
	slot.Store(w)
	return w
}
