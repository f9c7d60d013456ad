package packet

import "errors"

// ErrIncomplete reports that the buffer does not yet hold a whole fixed
// header or packet; read more bytes and try again.
var ErrIncomplete = errors.New("packet: incomplete")

// MaxRemainingLength is the largest remaining length four bytes of variable
// byte integer can carry (268,435,455).
const MaxRemainingLength = 268435455

// FixedHeader is the first 2 to 5 bytes of every packet.
type FixedHeader struct {
	Type      Type
	Flags     byte // low nibble of the first byte
	Remaining int  // remaining length: bytes after the fixed header
	HeaderLen int  // bytes the fixed header itself took (2..5)
}

// PacketLen is the whole packet's length: fixed header plus remaining.
func (h FixedHeader) PacketLen() int { return h.HeaderLen + h.Remaining }
