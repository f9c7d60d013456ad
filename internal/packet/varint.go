package packet

// Variable Byte Integer [MQTT-1.5.5]: seven bits a byte, least significant
// group first, the high bit set on every byte but the last; at most four
// bytes.
//
// Decoding is strict for every protocol version: an encoding longer than
// the value needs (a multi-byte encoding whose last byte is 0x00, such as
// 0x80 0x00 for 0) is rejected as malformed. MQTT 5 makes this normative
// [MQTT-1.5.5-1]; 3.1.1 only shows the minimal algorithm, and no known
// client sends padded lengths, so one rule keeps every accepted packet
// byte-for-byte re-encodable.

// varint results other than a byte count.
const (
	varintIncomplete = 0  // input ended before the last byte
	varintTooLong    = -1 // a fifth byte would be needed
	varintNonMinimal = -2 // more bytes than the value needs
)

// readVarint decodes a Variable Byte Integer from the start of b. n is the
// number of bytes it took, or one of varintIncomplete, varintTooLong,
// varintNonMinimal.
func readVarint(b []byte) (v, n int) {
	mult := 1
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, varintIncomplete
		}
		c := b[i]
		v += int(c&0x7F) * mult
		if c&0x80 == 0 {
			if i > 0 && c == 0 {
				return 0, varintNonMinimal
			}
			return v, i + 1
		}
		mult <<= 7
	}
	return 0, varintTooLong
}

// varintLen is the encoded size of v, which must be in 0..MaxRemainingLength.
func varintLen(v int) int {
	switch {
	case v < 1<<7:
		return 1
	case v < 1<<14:
		return 2
	case v < 1<<21:
		return 3
	default:
		return 4
	}
}

// appendVarint appends the minimal encoding of v (0..MaxRemainingLength).
func appendVarint(dst []byte, v int) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// varintError turns a failed readVarint count into a malformed-packet error.
func varintError(n int) error {
	switch n {
	case varintIncomplete:
		return truncated()
	case varintTooLong:
		return Errorf(MalformedPacket, "variable byte integer longer than 4 bytes [MQTT-1.5.5]")
	default:
		return Errorf(MalformedPacket, "variable byte integer not minimally encoded [MQTT-1.5.5-1]")
	}
}
