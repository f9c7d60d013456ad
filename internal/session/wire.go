package session

import (
	"encoding/binary"

	"github.com/baram-mqtt/baram/internal/packet"
)

// wireV3 is the MQTT 3.1/3.1.1 PUBLISH of a message, encoded once and
// shared by every 3.x recipient: their copies differ only in the flags
// byte and the packet identifier, which AppendV3 patches. A fan-out to a
// thousand subscribers then costs one encoding and a thousand copies.
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
	if qos == 0 {
		dup, id = false, 0
	}
	if m.v3uses.Add(1) == 1 {
		p := packet.Publish{Topic: m.Topic, Payload: m.Payload, QoS: qos, Dup: dup, Retain: retain, PacketID: id}
		return packet.AppendPublish(dst, &p, packet.V311)
	}
	w := m.wireV3(qos > 0)
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

// wireV3 returns the shared encoding, with room for a packet identifier
// or without, making it on first use. Two goroutines may both make it;
// they make the same bytes.
func (m *Message) wireV3(withID bool) *wireV3 {
	slot := &m.v3[0]
	if withID {
		slot = &m.v3[1]
	}
	if w := slot.Load(); w != nil {
		return w
	}
	p := packet.Publish{Topic: m.Topic, Payload: m.Payload}
	if withID {
		p.QoS, p.PacketID = 1, 1
	}
	b := packet.AppendPublish(nil, &p, packet.V311)
	w := &wireV3{b: b}
	if withID {
		h, _ := packet.ParseFixedHeader(b) // b is a whole packet we just made
		w.idOff = h.HeaderLen + 2 + len(m.Topic)
	}
	slot.Store(w)
	return w
}
