package packet

import (
	"errors"

	"github.com/baram-mqtt/baram/internal/topic"
)

// Decode decodes the packet whose fixed header is h and whose remaining
// bytes are body (exactly h.Remaining of them). version is the protocol
// level agreed for the connection: V31, V311 or V5, or 0 before CONNECT.
//
// With version 0 only CONNECT decodes; anything else is a Protocol Error
// [MQTT-3.1.0-1]. With a non-zero version a CONNECT is a Protocol Error, as
// a second CONNECT is [MQTT-3.1.0-2]. CONNECT carries its own protocol
// level, available as Connect.Version after a successful decode.
//
// The result is one of *Connect, *Connack, *Publish, *Ack, *Subscribe,
// *Suback, *Unsubscribe, *Unsuback, *Pingreq, *Pingresp, *Disconnect and
// *Auth. Every error is an *Error whose Code is the reason code to close the
// connection with: MalformedPacket for bytes that do not parse,
// ProtocolError for values the protocol forbids, and a specific code where
// the specification names one (UnsupportedProtocolVersion, TopicNameInvalid,
// TopicAliasInvalid). On 3.x connections several rules that MQTT 5 calls
// Protocol Errors are reported as MalformedPacket; the code only matters
// for the choice of the MQTT 5 DISCONNECT or CONNACK reason.
//
// Only PUBLISH's Payload aliases body; see DecodePublish.
func Decode(h FixedHeader, body []byte, version byte) (Packet, error) {
	if err := checkDecode(h, body, version); err != nil {
		return nil, err
	}
	switch h.Type {
	case CONNECT:
		return decodeConnect(body)
	case CONNACK:
		return decodeConnack(body, version)
	case PUBLISH:
		p := new(Publish)
		if err := decodePublish(h, body, version, p, ""); err != nil {
			return nil, err
		}
		return p, nil
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		return decodeAck(h.Type, body, version)
	case SUBSCRIBE:
		return decodeSubscribe(body, version)
	case SUBACK:
		return decodeSuback(body, version)
	case UNSUBSCRIBE:
		return decodeUnsubscribe(body, version)
	case UNSUBACK:
		return decodeUnsuback(body, version)
	case PINGREQ:
		if err := checkEmpty(body, "pingreq"); err != nil {
			return nil, err
		}
		return &Pingreq{}, nil
	case PINGRESP:
		if err := checkEmpty(body, "pingresp"); err != nil {
			return nil, err
		}
		return &Pingresp{}, nil
	case DISCONNECT:
		return decodeDisconnect(body, version)
	default: // AUTH; checkDecode rejected it before MQTT 5
		return decodeAuth(body)
	}
}

// checkDecode validates what Decode and DecodePublish share: header
// consistency, the connection state implied by version, and the flags.
func checkDecode(h FixedHeader, body []byte, version byte) error {
	if len(body) != h.Remaining {
		return Errorf(MalformedPacket, "%s: body is %d bytes, remaining length says %d", h.Type, len(body), h.Remaining)
	}
	if err := checkFlags(h.Type, h.Flags); err != nil {
		return err
	}
	if h.Type > AUTH {
		return Errorf(MalformedPacket, "packet type %d out of range", h.Type)
	}
	switch {
	case version == 0 && h.Type != CONNECT:
		return Errorf(ProtocolError, "%s before CONNECT [MQTT-3.1.0-1]", h.Type)
	case version != 0 && h.Type == CONNECT:
		return Errorf(ProtocolError, "second CONNECT [MQTT-3.1.0-2]")
	case version != 0 && version != V31 && version != V311 && version != V5:
		return Errorf(ProtocolError, "%s: unknown connection protocol level %d", h.Type, version)
	case h.Type == AUTH && version != V5:
		return Errorf(MalformedPacket, "AUTH: reserved packet type before MQTT 5 [MQTT-2.1.2]")
	}
	return nil
}

// DecodePublish decodes a PUBLISH into the caller's p, overwriting every
// field. It is Decode's hot path and allocates only the topic string and
// what properties need: a QoS 1 PUBLISH without properties costs one
// allocation, and none when its topic is the one p held before (a client
// publishing to one topic, decoded into a reused p). p.Payload aliases body, so the payload is only valid until
// the read buffer is reused.
//
// Beyond the fixed-header rules it checks: a non-zero packet identifier
// with QoS 1 or 2 [MQTT-2.2.1-3]; a valid topic name [MQTT-3.3.2-1],
// [MQTT-3.3.2-2], which may be empty only in MQTT 5 with a Topic Alias
// [MQTT-3.3.2-1] (ProtocolError otherwise); wildcards give TopicNameInvalid
// in MQTT 5; a Topic Alias of 0 gives TopicAliasInvalid [MQTT-3.3.2-8].
//
// Not checked here, as they depend on the direction or the session: a
// Subscription Identifier sent by a client [MQTT-3.3.4-6], a Topic Alias
// above the negotiated maximum, and UTF-8 validity of a payload with
// Payload Format Indicator 1 (the receiver MAY check it).
func DecodePublish(h FixedHeader, body []byte, version byte, p *Publish) error {
	prev := p.Topic
	*p = Publish{}
	if h.Type != PUBLISH {
		return Errorf(ProtocolError, "DecodePublish called on %s", h.Type)
	}
	if err := checkDecode(h, body, version); err != nil {
		return err
	}
	return decodePublish(h, body, version, p, prev)
}

// decodePublish decodes into the zeroed p; prev is a topic string to
// reuse if the topic is the same.
func decodePublish(h FixedHeader, body []byte, version byte, p *Publish, prev string) error {
	p.Dup, p.QoS, p.Retain = h.Flags&0x08 != 0, h.Flags>>1&3, h.Flags&0x01 != 0
	r := reader{b: body}
	name, err := r.binary() // UTF-8 checked by topic.ValidName below
	if err != nil {
		return wrap(err, "publish: topic")
	}
	if p.QoS > 0 {
		if p.PacketID, err = readPacketID(&r, version); err != nil {
			return wrap(err, "publish")
		}
	}
	if version == V5 {
		if err := decodeProps(&r, ctxPublish, &p.Props); err != nil {
			return wrap(err, "publish: properties")
		}
	}
	if string(name) == prev { // compared without a copy
		p.Topic = prev
	} else {
		p.Topic = string(name)
	}
	if p.Topic != "" || version != V5 || !p.Props.Has(PropTopicAlias) {
		if err := topic.ValidName(p.Topic); err != nil {
			return wrap(topicNameError(err, version), "publish: topic")
		}
	}
	p.Payload = r.rest()
	return nil
}

// topicNameError maps a topic.ValidName failure to a reason code.
func topicNameError(err error, version byte) error {
	switch {
	case errors.Is(err, topic.ErrEmpty):
		// [MQTT-4.7.3-1]; in MQTT 5 an empty name without a Topic Alias
		// is a Protocol Error (§3.3.4).
		return Errorf(pick(version, ProtocolError, MalformedPacket), "empty [MQTT-4.7.3-1]")
	case errors.Is(err, topic.ErrWildcardName):
		return Errorf(pick(version, TopicNameInvalid, MalformedPacket), "wildcard in topic name [MQTT-3.3.2-2]")
	case errors.Is(err, topic.ErrNullChar):
		return Errorf(MalformedPacket, "contains U+0000 [MQTT-1.5.4-2]")
	}
	return Errorf(MalformedPacket, "%v [MQTT-1.5.4-1]", err)
}

// readPacketID reads a Packet Identifier, which must be non-zero
// [MQTT-2.2.1-3].
func readPacketID(r *reader, version byte) (uint16, error) {
	id, err := r.u16()
	if err != nil {
		return 0, wrap(err, "packet identifier")
	}
	if id == 0 {
		return 0, Errorf(pick(version, ProtocolError, MalformedPacket), "packet identifier 0 [MQTT-2.2.1-3]")
	}
	return id, nil
}

// decodeAck decodes PUBACK, PUBREC, PUBREL and PUBCOMP. In MQTT 5 a
// remaining length of 2 means reason 0 and no properties, and of 3 a
// reason code without properties (§3.4.2.1).
func decodeAck(kind Type, body []byte, version byte) (*Ack, error) {
	a := &Ack{Kind: kind}
	r := reader{b: body}
	var err error
	if a.PacketID, err = readPacketID(&r, version); err != nil {
		return nil, wrap(err, kind.String())
	}
	if version == V5 && r.left() > 0 {
		c, _ := r.u8()
		a.ReasonCode = ReasonCode(c)
		if !ackCodes(kind).has(a.ReasonCode) {
			return nil, Errorf(ProtocolError, "%s: reason code 0x%02X not allowed", kind, c)
		}
		if r.left() > 0 {
			if err := decodeProps(&r, ctxAck, &a.Props); err != nil {
				return nil, wrap(err, kind.String()+": properties")
			}
		}
	}
	if err := checkEnd(&r, kind.String()); err != nil {
		return nil, err
	}
	return a, nil
}

// checkEmpty is for packets without a variable header or payload.
func checkEmpty(body []byte, name string) error {
	if len(body) != 0 {
		return Errorf(MalformedPacket, "%s: remaining length %d, want 0", name, len(body))
	}
	return nil
}

// decodeDisconnect: 3.x DISCONNECT is empty; in MQTT 5 a remaining length
// of 0 means reason 0, and of 1 a reason code without properties
// [MQTT-3.14.2-1], §3.14.2.2.1.
func decodeDisconnect(body []byte, version byte) (*Disconnect, error) {
	d := &Disconnect{}
	if version != V5 {
		if err := checkEmpty(body, "disconnect"); err != nil {
			return nil, err
		}
		return d, nil
	}
	r := reader{b: body}
	if r.left() > 0 {
		c, _ := r.u8()
		d.ReasonCode = ReasonCode(c)
		if !disconnectCodes.has(d.ReasonCode) {
			return nil, Errorf(ProtocolError, "disconnect: reason code 0x%02X not allowed [MQTT-3.14.2-1]", c)
		}
		if r.left() > 0 {
			if err := decodeProps(&r, ctxDisconnect, &d.Props); err != nil {
				return nil, wrap(err, "disconnect: properties")
			}
		}
	}
	if err := checkEnd(&r, "disconnect"); err != nil {
		return nil, err
	}
	return d, nil
}

// decodeAuth: a remaining length of 0 means reason 0 and no properties;
// otherwise the reason code and the property length must both be there
// (§3.15.2.1 allows omitting only both).
func decodeAuth(body []byte) (*Auth, error) {
	a := &Auth{}
	if len(body) == 0 {
		return a, nil
	}
	r := reader{b: body}
	c, _ := r.u8()
	a.ReasonCode = ReasonCode(c)
	if !authCodes.has(a.ReasonCode) {
		return nil, Errorf(ProtocolError, "auth: reason code 0x%02X not allowed [MQTT-3.15.2-1]", c)
	}
	if err := decodeProps(&r, ctxAuth, &a.Props); err != nil {
		return nil, wrap(err, "auth: properties")
	}
	if err := checkEnd(&r, "auth"); err != nil {
		return nil, err
	}
	return a, nil
}
