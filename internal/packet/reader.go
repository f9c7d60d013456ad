package packet

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"
)

// reader walks a packet body. Its methods return *Error values with a short
// message; callers prefix the field they were reading with wrap.
type reader struct {
	b   []byte
	off int
}

// left is the number of unread bytes.
func (r *reader) left() int { return len(r.b) - r.off }

// rest returns the unread bytes (aliasing the body) and consumes them.
func (r *reader) rest() []byte {
	b := r.b[r.off:]
	r.off = len(r.b)
	return b
}

func (r *reader) u8() (byte, error) {
	if r.left() < 1 {
		return 0, truncated()
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

// Two Byte Integer [MQTT-1.5.2].
func (r *reader) u16() (uint16, error) {
	if r.left() < 2 {
		return 0, truncated()
	}
	v := binary.BigEndian.Uint16(r.b[r.off:])
	r.off += 2
	return v, nil
}

// Four Byte Integer [MQTT-1.5.3].
func (r *reader) u32() (uint32, error) {
	if r.left() < 4 {
		return 0, truncated()
	}
	v := binary.BigEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v, nil
}

// Variable Byte Integer [MQTT-1.5.5].
func (r *reader) varint() (int, error) {
	v, n := readVarint(r.b[r.off:])
	if n <= 0 {
		return 0, varintError(n)
	}
	r.off += n
	return v, nil
}

// binary reads Binary Data [MQTT-1.5.6]: a two-byte length and that many
// bytes. The result aliases the body.
func (r *reader) binary() ([]byte, error) {
	n, err := r.u16()
	if err != nil {
		return nil, err
	}
	if r.left() < int(n) {
		r.off -= 2
		return nil, Errorf(MalformedPacket, "length %d exceeds the %d bytes left", n, r.left()-2)
	}
	b := r.b[r.off : r.off+int(n) : r.off+int(n)]
	r.off += int(n)
	return b, nil
}

// binaryCopy reads Binary Data into a fresh slice (nil when empty) so the
// result does not keep the body alive.
func (r *reader) binaryCopy() ([]byte, error) {
	b, err := r.binary()
	if err != nil || len(b) == 0 {
		return nil, err
	}
	return bytes.Clone(b), nil
}

// utf8 reads a UTF-8 Encoded String [MQTT-1.5.4] as bytes aliasing the body,
// checking the encoding rules.
func (r *reader) utf8() ([]byte, error) {
	b, err := r.binary()
	if err != nil {
		return nil, err
	}
	return b, checkUTF8(b)
}

// str reads a UTF-8 Encoded String into a new string.
func (r *reader) str() (string, error) {
	b, err := r.utf8()
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// checkUTF8 applies the UTF-8 Encoded String rules: well-formed UTF-8
// without surrogate code points [MQTT-1.5.4-1] and no U+0000
// [MQTT-1.5.4-2]. Both make the packet malformed.
func checkUTF8(b []byte) error {
	if !utf8.Valid(b) { // utf8.Valid also rejects encoded surrogates
		return Errorf(MalformedPacket, "invalid UTF-8 [MQTT-1.5.4-1]")
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return Errorf(MalformedPacket, "contains U+0000 [MQTT-1.5.4-2]")
	}
	return nil
}

// truncated reports a field that runs past the end of the packet.
func truncated() error { return &Error{Code: MalformedPacket, Msg: "truncated"} }

// wrap prefixes an *Error's message with the field or packet it concerns,
// giving messages such as "connect: will topic: truncated".
func wrap(err error, context string) error {
	if e, ok := err.(*Error); ok {
		return &Error{Code: e.Code, Msg: context + ": " + e.Msg}
	}
	return err
}

// checkEnd reports bytes left after the last field as malformed.
func checkEnd(r *reader, packet string) error {
	if n := r.left(); n > 0 {
		return Errorf(MalformedPacket, "%s: %d unexpected trailing bytes", packet, n)
	}
	return nil
}

// pick returns a if the connection speaks MQTT 5 and b otherwise: several
// rules are a Protocol Error (or a specific reason code) in MQTT 5 but
// have only "malformed, close the connection" in 3.x.
func pick(version byte, a, b ReasonCode) ReasonCode {
	if version == V5 {
		return a
	}
	return b
}
