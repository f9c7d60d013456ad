package packet

import (
	"errors"
	"fmt"
)

// Append appends the encoding of p for the protocol level version (V31,
// V311 or V5) to dst and returns the extended slice. For a *Connect the
// level is the packet's own Version (version is used only when that is 0).
//
// Fields that the version lacks are left out: no properties and no reason
// codes in 3.x, except that a 3.x CONNACK carries ConnackReturnCode of the
// reason code and a 3.x SUBACK writes every failure code (>= 0x80) as
// 0x80. A 3.x UNSUBACK is only the packet identifier and a 3.x DISCONNECT
// is empty. In MQTT 5, PUBACK, PUBREC, PUBREL, PUBCOMP, DISCONNECT and
// AUTH use their short forms when the reason code is 0 and there are no
// properties.
//
// Properties are written in identifier order, and only those allowed in
// the packet (§2.2.2.2): others present in p.Props are silently left out.
// User properties and subscription identifiers are written when their
// slices are non-empty. The encoder keeps a few MUSTs itself: DUP is
// written only with QoS > 0 [MQTT-3.3.1-2] and Session Present only with
// reason Success [MQTT-3.2.2-6].
//
// Append fails, leaving dst unchanged, only for what cannot be encoded: a
// remaining length above MaxRemainingLength, a string or binary field
// longer than 65535 bytes, a QoS above 2 or retain handling above 2, an
// Ack with a Kind other than PUBACK..PUBCOMP, AUTH before MQTT 5, or an
// unknown version. It does not check the semantic rules Decode enforces.
func Append(dst []byte, p Packet, version byte) ([]byte, error) {
	l, err := measure(p, version)
	if err != nil {
		return dst, err
	}
	if c, ok := p.(*Connect); ok && c.Version != 0 {
		version = c.Version
	}
	dst = appendHeader(dst, p.Type(), headerFlags(p), l.body)
	return appendBody(dst, p, version, l), nil
}

// Size returns the exact number of bytes Append would produce for p and
// version, fixed header included, or -1 when Append would fail. A broker
// compares it with the client's Maximum Packet Size before sending
// (§3.1.2.11.4); a packet larger than MaxRemainingLength plus the header
// always gives -1.
func Size(p Packet, version byte) int {
	l, err := measure(p, version)
	if err != nil {
		return -1
	}
	return 1 + varintLen(l.body) + l.body
}

// PublishSize is Size for a PUBLISH, without boxing p in the Packet
// interface, so that it does not allocate.
func PublishSize(p *Publish, version byte) int {
	l, err := publishLen(p, version)
	if err != nil {
		return -1
	}
	return 1 + varintLen(l.body) + l.body
}

// AppendPublish appends the encoding of p like Append, without boxing p in
// the Packet interface: with enough capacity in dst it does not allocate.
// When p cannot be encoded (see Append) it returns dst unchanged; check
// Size first when that can happen, e.g. for a payload near
// MaxRemainingLength.
func AppendPublish(dst []byte, p *Publish, version byte) []byte {
	l, err := publishLen(p, version)
	if err != nil {
		return dst
	}
	dst = appendHeader(dst, PUBLISH, publishFlags(p), l.body)
	return appendPublish(dst, p, version, l)
}

// lens carries the lengths measured before writing, so appending does not
// recompute them.
type lens struct {
	body  int // remaining length
	props int // Property Length, or omitProps / omitReason
	will  int // will Property Length
}

// Values of lens.props for fields left out.
const (
	omitProps  = -1 // no Property Length (3.x, or a reason code alone)
	omitReason = -2 // neither reason code nor Property Length
)

// measure validates p for version and computes its lengths.
func measure(p Packet, version byte) (lens, error) {
	if c, ok := p.(*Connect); ok && c.Version != 0 {
		version = c.Version
	}
	if version != V31 && version != V311 && version != V5 {
		return lens{}, fmt.Errorf("packet: encode: unknown protocol level %d", version)
	}
	var l lens
	var err error
	switch p := p.(type) {
	case *Connect:
		l, err = connectLen(p, version)
	case *Connack:
		l, err = connackLen(p, version)
	case *Publish:
		l, err = publishLen(p, version)
	case *Ack:
		l, err = ackLen(p, version)
	case *Subscribe:
		l, err = subscribeLen(p, version)
	case *Suback:
		l, err = subackLen(p, version)
	case *Unsubscribe:
		l, err = unsubscribeLen(p, version)
	case *Unsuback:
		l, err = unsubackLen(p, version)
	case *Pingreq, *Pingresp:
	case *Disconnect:
		l, err = disconnectLen(p.ReasonCode, &p.Props, ctxDisconnect, version, true)
	case *Auth:
		if version != V5 {
			return lens{}, errors.New("packet: encode AUTH: no AUTH before MQTT 5")
		}
		l, err = disconnectLen(p.ReasonCode, &p.Props, ctxAuth, version, false)
	default:
		return lens{}, fmt.Errorf("packet: encode: unsupported packet %T", p)
	}
	if err != nil {
		return lens{}, fmt.Errorf("packet: encode %s: %w", p.Type(), err)
	}
	return l, nil
}

// appendBody writes everything after the fixed header.
func appendBody(dst []byte, p Packet, version byte, l lens) []byte {
	switch p := p.(type) {
	case *Connect:
		return appendConnect(dst, p, version, l)
	case *Connack:
		return appendConnack(dst, p, version, l)
	case *Publish:
		return appendPublish(dst, p, version, l)
	case *Ack:
		return appendReasonProps(appendU16(dst, p.PacketID), p.ReasonCode, &p.Props, ctxAck, l)
	case *Subscribe:
		return appendSubscribe(dst, p, version, l)
	case *Suback:
		return appendSuback(dst, p, version, l)
	case *Unsubscribe:
		return appendUnsubscribe(dst, p, l)
	case *Unsuback:
		return appendUnsuback(dst, p, version, l)
	case *Disconnect:
		return appendReasonProps(dst, p.ReasonCode, &p.Props, ctxDisconnect, l)
	case *Auth:
		return appendReasonProps(dst, p.ReasonCode, &p.Props, ctxAuth, l)
	}
	return dst // PINGREQ, PINGRESP
}

// sizer adds up field sizes, remembering the first field too long to
// encode.
type sizer struct {
	n   int
	err error
}

func (s *sizer) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

// str counts a UTF-8 string or binary field of length n.
func (s *sizer) str(what string, n int) {
	if n > 0xFFFF {
		s.fail(fmt.Errorf("%s is %d bytes, longer than 65535", what, n))
	}
	s.n += 2 + n
}

// props counts a Property Length and the properties; it returns the
// Property Length.
func (s *sizer) props(p *Properties, ctx *propCtx) int {
	n, err := propsLen(p, ctx)
	if err != nil {
		s.fail(err)
	}
	s.n += varintLen(n) + n
	return n
}

// qos checks a QoS field.
func (s *sizer) qos(what string, q byte) {
	if q > 2 {
		s.fail(fmt.Errorf("%s %d out of range", what, q))
	}
}

// done returns the remaining length, or the first error.
func (s *sizer) done() (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.n > MaxRemainingLength {
		return 0, fmt.Errorf("remaining length %d exceeds %d", s.n, MaxRemainingLength)
	}
	return s.n, nil
}

func appendU16(dst []byte, v uint16) []byte { return append(dst, byte(v>>8), byte(v)) }

// appendString appends a UTF-8 Encoded String (length checked by sizer).
func appendString(dst []byte, s string) []byte {
	return append(appendU16(dst, uint16(len(s))), s...)
}

// appendBinary appends Binary Data (length checked by sizer).
func appendBinary(dst []byte, b []byte) []byte {
	return append(appendU16(dst, uint16(len(b))), b...)
}
