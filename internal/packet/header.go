package packet

// ParseFixedHeader reads the fixed header at the start of b [MQTT-2.1.1].
// It needs only the header itself, not the rest of the packet: it returns
// ErrIncomplete while b holds less than the whole header, so a reader can
// call it on whatever it has buffered. Compare len(b) with the result's
// PacketLen to know whether the whole packet is there.
//
// It returns an *Error with Code MalformedPacket when the packet type is 0
// (reserved), when the flags are not those the type requires
// [MQTT-2.1.3-1], when a PUBLISH has QoS 3 [MQTT-3.3.1-4] or DUP set with
// QoS 0 [MQTT-3.3.1-2], and when the remaining length needs more than four
// bytes or is not minimally encoded [MQTT-1.5.5-1] (see varint.go: padded
// lengths are rejected for every protocol version).
//
// AUTH (type 15) is accepted here; Decode rejects it on 3.x connections,
// where the type is reserved.
func ParseFixedHeader(b []byte) (FixedHeader, error) {
	if len(b) == 0 {
		return FixedHeader{}, ErrIncomplete
	}
	t, flags := Type(b[0]>>4), b[0]&0x0F
	if err := checkFlags(t, flags); err != nil {
		return FixedHeader{}, err
	}
	v, n := readVarint(b[1:])
	if n == varintIncomplete {
		return FixedHeader{}, ErrIncomplete
	}
	if n < 0 {
		return FixedHeader{}, wrap(varintError(n), t.String()+": remaining length")
	}
	return FixedHeader{Type: t, Flags: flags, Remaining: v, HeaderLen: 1 + n}, nil
}

// checkFlags validates the low nibble of the first byte for packet type t
// [MQTT-2.1.3-1].
func checkFlags(t Type, flags byte) error {
	switch t {
	case 0:
		return Errorf(MalformedPacket, "reserved packet type 0 [MQTT-2.1.2]")
	case PUBLISH:
		qos := flags >> 1 & 3
		if qos == 3 {
			return Errorf(MalformedPacket, "PUBLISH: QoS 3 [MQTT-3.3.1-4]")
		}
		if qos == 0 && flags&0x08 != 0 {
			return Errorf(MalformedPacket, "PUBLISH: DUP set on QoS 0 [MQTT-3.3.1-2]")
		}
		return nil
	case PUBREL, SUBSCRIBE, UNSUBSCRIBE:
		if flags != 0x02 {
			return Errorf(MalformedPacket, "%s: fixed header flags 0x%X, want 0x2 [MQTT-2.1.3-1]", t, flags)
		}
		return nil
	}
	if flags != 0 {
		return Errorf(MalformedPacket, "%s: fixed header flags 0x%X, want 0x0 [MQTT-2.1.3-1]", t, flags)
	}
	return nil
}

// headerFlags is the low nibble to write for p.
func headerFlags(p Packet) byte {
	switch p := p.(type) {
	case *Publish:
		return publishFlags(p)
	case *Ack:
		if p.Kind == PUBREL {
			return 0x02
		}
	case *Subscribe, *Unsubscribe:
		return 0x02
	}
	return 0
}

// publishFlags encodes DUP, QoS and RETAIN. DUP is written only with QoS 1
// or 2, since it must be 0 for QoS 0 [MQTT-3.3.1-2]: a broker that
// downgrades a redelivered message to QoS 0 gets a valid packet.
func publishFlags(p *Publish) byte {
	f := p.QoS << 1
	if p.Dup && p.QoS > 0 {
		f |= 0x08
	}
	if p.Retain {
		f |= 0x01
	}
	return f
}

// appendHeader appends a fixed header; remaining must not exceed
// MaxRemainingLength.
func appendHeader(dst []byte, t Type, flags byte, remaining int) []byte {
	return appendVarint(append(dst, byte(t)<<4|flags), remaining)
}
