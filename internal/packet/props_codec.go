package packet

import (
	"fmt"
	"math/bits"

	"github.com/baram-mqtt/baram/internal/topic"
)

// propKind is the data type of a property value [MQTT-2.2.2.2].
type propKind uint8

const (
	kindNone   propKind = iota // not a property identifier
	kindByte                   // Byte; every byte property is 0 or 1
	kindU16                    // Two Byte Integer
	kindU32                    // Four Byte Integer
	kindVarint                 // Variable Byte Integer
	kindString                 // UTF-8 Encoded String
	kindBinary                 // Binary Data
	kindPair                   // UTF-8 String Pair
)

// propInfo describes one property identifier.
type propInfo struct {
	kind propKind
	name string
}

var propTable = [64]propInfo{
	PropPayloadFormat:        {kindByte, "Payload Format Indicator"},
	PropMessageExpiry:        {kindU32, "Message Expiry Interval"},
	PropContentType:          {kindString, "Content Type"},
	PropResponseTopic:        {kindString, "Response Topic"},
	PropCorrelationData:      {kindBinary, "Correlation Data"},
	PropSubscriptionID:       {kindVarint, "Subscription Identifier"},
	PropSessionExpiry:        {kindU32, "Session Expiry Interval"},
	PropAssignedClientID:     {kindString, "Assigned Client Identifier"},
	PropServerKeepAlive:      {kindU16, "Server Keep Alive"},
	PropAuthMethod:           {kindString, "Authentication Method"},
	PropAuthData:             {kindBinary, "Authentication Data"},
	PropRequestProblemInfo:   {kindByte, "Request Problem Information"},
	PropWillDelay:            {kindU32, "Will Delay Interval"},
	PropRequestResponseInfo:  {kindByte, "Request Response Information"},
	PropResponseInfo:         {kindString, "Response Information"},
	PropServerReference:      {kindString, "Server Reference"},
	PropReasonString:         {kindString, "Reason String"},
	PropReceiveMaximum:       {kindU16, "Receive Maximum"},
	PropTopicAliasMaximum:    {kindU16, "Topic Alias Maximum"},
	PropTopicAlias:           {kindU16, "Topic Alias"},
	PropMaximumQoS:           {kindByte, "Maximum QoS"},
	PropRetainAvailable:      {kindByte, "Retain Available"},
	PropUserProperty:         {kindPair, "User Property"},
	PropMaximumPacketSize:    {kindU32, "Maximum Packet Size"},
	PropWildcardSubAvailable: {kindByte, "Wildcard Subscription Available"},
	PropSubIDAvailable:       {kindByte, "Subscription Identifier Available"},
	PropSharedSubAvailable:   {kindByte, "Shared Subscription Available"},
}

// String returns the specification's name of the property.
func (id PropID) String() string {
	if int(id) < len(propTable) && propTable[id].kind != kindNone {
		return propTable[id].name
	}
	return fmt.Sprintf("property 0x%02X", byte(id))
}

// propCtx is where a property list appears: the packet (or the will) and
// the identifiers allowed there, from the table in [MQTT-2.2.2.2].
type propCtx struct {
	name    string
	allowed uint64
}

func idSet(ids ...PropID) uint64 {
	var m uint64
	for _, id := range ids {
		m |= 1 << id
	}
	return m
}

var (
	ctxConnect = &propCtx{"CONNECT", idSet(PropSessionExpiry, PropReceiveMaximum,
		PropMaximumPacketSize, PropTopicAliasMaximum, PropRequestResponseInfo,
		PropRequestProblemInfo, PropUserProperty, PropAuthMethod, PropAuthData)}
	ctxWill = &propCtx{"will properties", idSet(PropWillDelay, PropPayloadFormat,
		PropMessageExpiry, PropContentType, PropResponseTopic, PropCorrelationData,
		PropUserProperty)}
	ctxConnack = &propCtx{"CONNACK", idSet(PropSessionExpiry, PropReceiveMaximum,
		PropMaximumQoS, PropRetainAvailable, PropMaximumPacketSize, PropAssignedClientID,
		PropTopicAliasMaximum, PropReasonString, PropUserProperty, PropWildcardSubAvailable,
		PropSubIDAvailable, PropSharedSubAvailable, PropServerKeepAlive, PropResponseInfo,
		PropServerReference, PropAuthMethod, PropAuthData)}
	ctxPublish = &propCtx{"PUBLISH", idSet(PropPayloadFormat, PropMessageExpiry,
		PropTopicAlias, PropResponseTopic, PropCorrelationData, PropUserProperty,
		PropSubscriptionID, PropContentType)}
	ctxAck         = &propCtx{"PUBACK/PUBREC/PUBREL/PUBCOMP", idSet(PropReasonString, PropUserProperty)}
	ctxSuback      = &propCtx{"SUBACK", ctxAck.allowed}
	ctxUnsuback    = &propCtx{"UNSUBACK", ctxAck.allowed}
	ctxSubscribe   = &propCtx{"SUBSCRIBE", idSet(PropSubscriptionID, PropUserProperty)}
	ctxUnsubscribe = &propCtx{"UNSUBSCRIBE", idSet(PropUserProperty)}
	ctxDisconnect  = &propCtx{"DISCONNECT", idSet(PropSessionExpiry, PropReasonString,
		PropUserProperty, PropServerReference)}
	ctxAuth = &propCtx{"AUTH", idSet(PropAuthMethod, PropAuthData, PropReasonString,
		PropUserProperty)}
)

// decodeProps reads a Property Length and the properties it covers into p,
// which must be the zero value [MQTT-2.2.2].
func decodeProps(r *reader, ctx *propCtx, p *Properties) error {
	n, err := r.varint()
	if err != nil {
		return wrap(err, "property length")
	}
	if n > r.left() {
		return Errorf(MalformedPacket, "property length %d exceeds the %d bytes left", n, r.left())
	}
	pr := reader{b: r.b[:r.off+n], off: r.off}
	r.off += n
	for pr.left() > 0 {
		if err := decodeProp(&pr, ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// decodeProp reads one identifier and value.
func decodeProp(r *reader, ctx *propCtx, p *Properties) error {
	c, _ := r.u8()
	// The identifier is a Variable Byte Integer, but every defined one fits
	// in a single byte, so a byte >= 0x80 starts an unknown identifier.
	if int(c) >= len(propTable) || propTable[c].kind == kindNone {
		return Errorf(MalformedPacket, "unknown property identifier 0x%02X [MQTT-2.2.2.2]", c)
	}
	id := PropID(c)
	if ctx.allowed&(1<<c) == 0 {
		// "A Control Packet which contains an Identifier which is not valid
		// for its packet type ... is a Malformed Packet" [MQTT-2.2.2.2].
		return Errorf(MalformedPacket, "%s not allowed in %s [MQTT-2.2.2.2]", id, ctx.name)
	}
	repeatable := id == PropUserProperty || (id == PropSubscriptionID && ctx == ctxPublish)
	if p.Has(id) && !repeatable {
		return Errorf(ProtocolError, "%s included more than once", id)
	}
	p.Set(id)
	if err := decodeValue(r, id, p); err != nil {
		return wrap(err, id.String())
	}
	return nil
}

// decodeValue reads the value of property id and checks its range.
func decodeValue(r *reader, id PropID, p *Properties) error {
	switch propTable[id].kind {
	case kindByte:
		v, err := r.u8()
		if err == nil && v > 1 {
			err = Errorf(ProtocolError, "value %d, want 0 or 1", v)
		}
		*p.bytePtr(id) = v
		return err
	case kindU16:
		v, err := r.u16()
		if err == nil && v == 0 {
			err = zeroU16Error(id)
		}
		*p.u16Ptr(id) = v
		return err
	case kindU32:
		v, err := r.u32()
		if err == nil && v == 0 && id == PropMaximumPacketSize {
			err = Errorf(ProtocolError, "value 0 (MQTT 5 §3.1.2.11.4)")
		}
		*p.u32Ptr(id) = v
		return err
	case kindVarint:
		v, err := r.varint()
		if err == nil && v == 0 {
			err = Errorf(ProtocolError, "value 0 (MQTT 5 §3.8.2.1.2)")
		}
		p.SubscriptionIDs = append(p.SubscriptionIDs, uint32(v))
		return err
	case kindString:
		b, err := r.utf8()
		if err != nil {
			return err
		}
		*p.strPtr(id) = string(b)
		if id == PropResponseTopic {
			if err := topic.ValidName(p.ResponseTopic); err != nil {
				// [MQTT-3.3.2-14], [MQTT-4.7.3-1]
				return Errorf(ProtocolError, "%v", err)
			}
		}
		return nil
	case kindBinary:
		b, err := r.binaryCopy()
		*p.binPtr(id) = b
		return err
	default: // kindPair
		return decodePair(r, p)
	}
}

// zeroU16Error is the error for a zero Two Byte Integer property, or nil
// where zero is allowed.
func zeroU16Error(id PropID) error {
	switch id {
	case PropReceiveMaximum:
		return Errorf(ProtocolError, "value 0 (MQTT 5 §3.1.2.11.3)")
	case PropTopicAlias:
		return Errorf(TopicAliasInvalid, "value 0 [MQTT-3.3.2-8]")
	}
	return nil
}

// decodePair reads a User Property [MQTT-1.5.7].
func decodePair(r *reader, p *Properties) error {
	k, err := r.str()
	if err != nil {
		return wrap(err, "name")
	}
	v, err := r.str()
	if err != nil {
		return wrap(err, "value")
	}
	p.User = append(p.User, UserProperty{Key: k, Value: v})
	return nil
}

// present is the set of properties of p to encode in ctx. The slice
// properties count when non-empty even if their bit was never Set.
func present(p *Properties, ctx *propCtx) uint64 {
	m := p.mask
	m &^= 1<<PropUserProperty | 1<<PropSubscriptionID
	if len(p.User) > 0 {
		m |= 1 << PropUserProperty
	}
	if len(p.SubscriptionIDs) > 0 {
		m |= 1 << PropSubscriptionID
	}
	return m & ctx.allowed
}

// propsLen is the encoded size of the properties of p allowed in ctx,
// without the Property Length in front. Properties not allowed in ctx are
// not counted (and not written by appendProps). It fails on values no
// encoding can carry.
func propsLen(p *Properties, ctx *propCtx) (int, error) {
	n := 0
	for m := present(p, ctx); m != 0; m &= m - 1 {
		id := PropID(bits.TrailingZeros64(m))
		l := 0
		switch propTable[id].kind {
		case kindByte:
			n += 2
		case kindU16:
			n += 3
		case kindU32:
			n += 5
		case kindVarint:
			for _, v := range p.SubscriptionIDs {
				if v > MaxRemainingLength {
					return 0, fmt.Errorf("%s %d does not fit a variable byte integer", id, v)
				}
				n += 1 + varintLen(int(v))
			}
		case kindString:
			l = len(*p.strPtr(id))
			n += 3 + l
		case kindBinary:
			l = len(*p.binPtr(id))
			n += 3 + l
		case kindPair:
			for _, u := range p.User {
				l = max(l, len(u.Key), len(u.Value))
				n += 5 + len(u.Key) + len(u.Value)
			}
		}
		if l > 0xFFFF {
			return 0, fmt.Errorf("%s longer than 65535 bytes", id)
		}
	}
	return n, nil
}

// appendProps appends the Property Length n (from propsLen) and the
// properties, in identifier order.
func appendProps(dst []byte, p *Properties, ctx *propCtx, n int) []byte {
	dst = appendVarint(dst, n)
	for m := present(p, ctx); m != 0; m &= m - 1 {
		id := PropID(bits.TrailingZeros64(m))
		switch propTable[id].kind {
		case kindByte:
			dst = append(dst, byte(id), *p.bytePtr(id))
		case kindU16:
			v := *p.u16Ptr(id)
			dst = append(dst, byte(id), byte(v>>8), byte(v))
		case kindU32:
			v := *p.u32Ptr(id)
			dst = append(dst, byte(id), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
		case kindVarint:
			for _, v := range p.SubscriptionIDs {
				dst = appendVarint(append(dst, byte(id)), int(v))
			}
		case kindString:
			dst = appendString(append(dst, byte(id)), *p.strPtr(id))
		case kindBinary:
			dst = appendBinary(append(dst, byte(id)), *p.binPtr(id))
		case kindPair:
			for _, u := range p.User {
				dst = appendString(appendString(append(dst, byte(id)), u.Key), u.Value)
			}
		}
	}
	return dst
}
