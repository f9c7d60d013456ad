package packet

import "fmt"

// Per-packet measuring (…Len) and writing (append…) for Append. Each
// append function trusts the lens its …Len computed.

// protocolName is the name written in CONNECT: the packet's own, or the
// one the level implies.
func protocolName(c *Connect, version byte) string {
	switch {
	case c.ProtocolName != "":
		return c.ProtocolName
	case version == V31:
		return "MQIsdp"
	}
	return "MQTT"
}

func connectLen(c *Connect, version byte) (lens, error) {
	var s sizer
	l := lens{props: omitProps}
	s.str("protocol name", len(protocolName(c, version)))
	s.n += 4 // level, flags, keep alive
	if version == V5 {
		l.props = s.props(&c.Props, ctxConnect)
	}
	s.str("client identifier", len(c.ClientID))
	if w := c.Will; w != nil {
		s.qos("will QoS", w.QoS)
		if version == V5 {
			l.will = s.props(&w.Props, ctxWill)
		}
		s.str("will topic", len(w.Topic))
		s.str("will payload", len(w.Payload))
	}
	if c.HasUsername || c.Username != "" {
		s.str("user name", len(c.Username))
	}
	if c.HasPassword || len(c.Password) > 0 {
		s.str("password", len(c.Password))
	}
	var err error
	l.body, err = s.done()
	return l, err
}

func appendConnect(dst []byte, c *Connect, version byte, l lens) []byte {
	var flags byte
	if c.CleanStart {
		flags |= flagCleanStart
	}
	if w := c.Will; w != nil {
		flags |= flagWill | w.QoS<<3
		if w.Retain {
			flags |= flagWillRetain
		}
	}
	if c.HasPassword || len(c.Password) > 0 {
		flags |= flagPassword
	}
	if c.HasUsername || c.Username != "" {
		flags |= flagUsername
	}
	dst = appendString(dst, protocolName(c, version))
	dst = appendU16(append(dst, version, flags), c.KeepAlive)
	if version == V5 {
		dst = appendProps(dst, &c.Props, ctxConnect, l.props)
	}
	dst = appendString(dst, c.ClientID)
	if w := c.Will; w != nil {
		if version == V5 {
			dst = appendProps(dst, &w.Props, ctxWill, l.will)
		}
		dst = appendBinary(appendString(dst, w.Topic), w.Payload)
	}
	if flags&flagUsername != 0 {
		dst = appendString(dst, c.Username)
	}
	if flags&flagPassword != 0 {
		dst = appendBinary(dst, c.Password)
	}
	return dst
}

func connackLen(c *Connack, version byte) (lens, error) {
	s := sizer{n: 2}
	l := lens{props: omitProps}
	if version == V5 {
		l.props = s.props(&c.Props, ctxConnack)
	}
	var err error
	l.body, err = s.done()
	return l, err
}

func appendConnack(dst []byte, c *Connack, version byte, l lens) []byte {
	var flags byte
	if c.SessionPresent && c.ReasonCode == Success && version != V31 {
		flags = 1
	}
	if version != V5 {
		return append(dst, flags, ConnackReturnCode(c.ReasonCode))
	}
	return appendProps(append(dst, flags, byte(c.ReasonCode)), &c.Props, ctxConnack, l.props)
}

func publishLen(p *Publish, version byte) (lens, error) {
	var s sizer
	l := lens{props: omitProps}
	s.qos("QoS", p.QoS)
	s.str("topic", len(p.Topic))
	if p.QoS > 0 {
		s.n += 2
	}
	if version == V5 {
		l.props = s.props(&p.Props, ctxPublish)
	}
	s.n += len(p.Payload)
	var err error
	l.body, err = s.done()
	return l, err
}

func appendPublish(dst []byte, p *Publish, version byte, l lens) []byte {
	dst = appendString(dst, p.Topic)
	if p.QoS > 0 {
		dst = appendU16(dst, p.PacketID)
	}
	if version == V5 {
		dst = appendProps(dst, &p.Props, ctxPublish, l.props)
	}
	return append(dst, p.Payload...)
}

func ackLen(a *Ack, version byte) (lens, error) {
	if a.Kind < PUBACK || a.Kind > PUBCOMP {
		return lens{}, fmt.Errorf("Ack.Kind is %s, want PUBACK, PUBREC, PUBREL or PUBCOMP", a.Kind)
	}
	l, err := disconnectLen(a.ReasonCode, &a.Props, ctxAck, version, true)
	if err != nil {
		return l, err
	}
	l.body += 2
	if l.body > MaxRemainingLength {
		return l, fmt.Errorf("remaining length %d exceeds %d", l.body, MaxRemainingLength)
	}
	return l, nil
}

// disconnectLen measures the reason code and properties that end
// PUBACK..PUBCOMP, DISCONNECT and AUTH: nothing in 3.x; in MQTT 5 nothing
// when the reason is 0 and there are no properties, and otherwise the
// reason code followed, if there are properties or the packet requires it
// (AUTH: reasonAlone false), by the properties.
func disconnectLen(rc ReasonCode, p *Properties, ctx *propCtx, version byte, reasonAlone bool) (lens, error) {
	if version != V5 {
		return lens{props: omitReason}, nil
	}
	n, err := propsLen(p, ctx)
	switch {
	case err != nil:
		return lens{}, err
	case n == 0 && rc == Success:
		return lens{props: omitReason}, nil
	case n == 0 && reasonAlone:
		return lens{body: 1, props: omitProps}, nil
	case 1+varintLen(n)+n > MaxRemainingLength:
		return lens{}, fmt.Errorf("properties of %d bytes too long", n)
	}
	return lens{body: 1 + varintLen(n) + n, props: n}, nil
}

// appendReasonProps writes what disconnectLen measured.
func appendReasonProps(dst []byte, rc ReasonCode, p *Properties, ctx *propCtx, l lens) []byte {
	switch l.props {
	case omitReason:
		return dst
	case omitProps:
		return append(dst, byte(rc))
	}
	return appendProps(append(dst, byte(rc)), p, ctx, l.props)
}

func subscribeLen(p *Subscribe, version byte) (lens, error) {
	s := sizer{n: 2}
	l := lens{props: omitProps}
	if version == V5 {
		l.props = s.props(&p.Props, ctxSubscribe)
	}
	for i := range p.Subs {
		sub := &p.Subs[i]
		s.str("topic filter", len(sub.Filter))
		s.qos("QoS", sub.QoS)
		s.qos("retain handling", sub.RetainHandling)
		s.n++
	}
	var err error
	l.body, err = s.done()
	return l, err
}

func appendSubscribe(dst []byte, p *Subscribe, version byte, l lens) []byte {
	dst = appendU16(dst, p.PacketID)
	if version == V5 {
		dst = appendProps(dst, &p.Props, ctxSubscribe, l.props)
	}
	for i := range p.Subs {
		sub := &p.Subs[i]
		o := sub.QoS
		if version == V5 {
			o |= sub.RetainHandling << 4
			if sub.NoLocal {
				o |= optNoLocal
			}
			if sub.RetainAsPublished {
				o |= optRetainAsPub
			}
		}
		dst = append(appendString(dst, sub.Filter), o)
	}
	return dst
}

func subackLen(p *Suback, version byte) (lens, error) {
	s := sizer{n: 2 + len(p.ReasonCodes)}
	l := lens{props: omitProps}
	if version == V5 {
		l.props = s.props(&p.Props, ctxSuback)
	}
	var err error
	l.body, err = s.done()
	return l, err
}

func appendSuback(dst []byte, p *Suback, version byte, l lens) []byte {
	dst = appendU16(dst, p.PacketID)
	if version == V5 {
		dst = appendProps(dst, &p.Props, ctxSuback, l.props)
		for _, c := range p.ReasonCodes {
			dst = append(dst, byte(c))
		}
		return dst
	}
	for _, c := range p.ReasonCodes {
		if c.IsError() {
			c = SubackFailure
		}
		dst = append(dst, byte(c))
	}
	return dst
}

func unsubscribeLen(p *Unsubscribe, version byte) (lens, error) {
	s := sizer{n: 2}
	l := lens{props: omitProps}
	if version == V5 {
		l.props = s.props(&p.Props, ctxUnsubscribe)
	}
	for _, f := range p.Filters {
		s.str("topic filter", len(f))
	}
	var err error
	l.body, err = s.done()
	return l, err
}

func appendUnsubscribe(dst []byte, p *Unsubscribe, l lens) []byte {
	dst = appendU16(dst, p.PacketID)
	if l.props != omitProps {
		dst = appendProps(dst, &p.Props, ctxUnsubscribe, l.props)
	}
	for _, f := range p.Filters {
		dst = appendString(dst, f)
	}
	return dst
}

func unsubackLen(p *Unsuback, version byte) (lens, error) {
	s := sizer{n: 2}
	l := lens{props: omitProps}
	if version == V5 {
		l.props = s.props(&p.Props, ctxUnsuback)
		s.n += len(p.ReasonCodes)
	}
	var err error
	l.body, err = s.done()
	return l, err
}

func appendUnsuback(dst []byte, p *Unsuback, version byte, l lens) []byte {
	dst = appendU16(dst, p.PacketID)
	if version != V5 {
		return dst
	}
	dst = appendProps(dst, &p.Props, ctxUnsuback, l.props)
	for _, c := range p.ReasonCodes {
		dst = append(dst, byte(c))
	}
	return dst
}
