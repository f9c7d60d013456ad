package packet

import (
	"strconv"
	"strings"
)

// Subscription option bits (MQTT 5 §3.8.3.1).
const (
	optQoS            = 0x03
	optNoLocal        = 0x04
	optRetainAsPub    = 0x08
	optRetainHandling = 0x30
	optReserved5      = 0xC0 // reserved in MQTT 5
	optReserved3      = 0xFC // reserved in 3.x
)

// decodeSubscribe decodes a SUBSCRIBE [MQTT-3.8].
//
// A filter must be a valid UTF-8 Encoded String, but its wildcard and
// shared-subscription syntax is not checked here: the broker answers a bad
// filter with SUBACK 0x8F (0x80 in 3.x) for that filter alone, using
// topic.ValidFilter.
func decodeSubscribe(body []byte, version byte) (*Subscribe, error) {
	s := &Subscribe{}
	r := reader{b: body}
	var err error
	if s.PacketID, err = readPacketID(&r, version); err != nil {
		return nil, wrap(err, "subscribe")
	}
	if version == V5 {
		if err := decodeProps(&r, ctxSubscribe, &s.Props); err != nil {
			return nil, wrap(err, "subscribe: properties")
		}
	}
	for r.left() > 0 {
		sub, err := decodeSubscription(&r, version)
		if err != nil {
			return nil, wrap(err, "subscribe: filter "+strconv.Itoa(len(s.Subs)+1))
		}
		s.Subs = append(s.Subs, sub)
	}
	if len(s.Subs) == 0 {
		return nil, Errorf(ProtocolError, "subscribe: no topic filter (3.1.1 [MQTT-3.8.3-3], MQTT 5 [MQTT-3.8.3-2])")
	}
	return s, nil
}

// decodeSubscription reads one topic filter and its options byte.
func decodeSubscription(r *reader, version byte) (Subscription, error) {
	var s Subscription
	var err error
	if s.Filter, err = r.str(); err != nil {
		return s, err
	}
	o, err := r.u8()
	if err != nil {
		return s, wrap(err, "options")
	}
	s.QoS = o & optQoS
	if version != V5 {
		if o&optReserved3 != 0 || s.QoS == 3 {
			return s, Errorf(MalformedPacket, "reserved option bits set or QoS 3 [MQTT-3.8.3-4]")
		}
		return s, nil
	}
	if o&optReserved5 != 0 {
		return s, Errorf(MalformedPacket, "reserved option bits set [MQTT-3.8.3-5]")
	}
	if s.QoS == 3 {
		return s, Errorf(ProtocolError, "maximum QoS 3 (§3.8.3.1)")
	}
	s.NoLocal = o&optNoLocal != 0
	s.RetainAsPublished = o&optRetainAsPub != 0
	s.RetainHandling = o & optRetainHandling >> 4
	if s.RetainHandling == 3 {
		return s, Errorf(ProtocolError, "retain handling 3 (§3.8.3.1)")
	}
	if s.NoLocal && strings.HasPrefix(s.Filter, "$share/") {
		return s, Errorf(ProtocolError, "no local on a shared subscription [MQTT-3.8.3-4]")
	}
	return s, nil
}

// decodeSuback decodes a SUBACK [MQTT-3.9]: at least one code, each one
// of those allowed for the version.
func decodeSuback(body []byte, version byte) (*Suback, error) {
	s := &Suback{}
	r := reader{b: body}
	var err error
	if s.PacketID, err = readPacketID(&r, version); err != nil {
		return nil, wrap(err, "suback")
	}
	codes := &subackCodes3
	if version == V5 {
		codes = &subackCodes
		if err := decodeProps(&r, ctxSuback, &s.Props); err != nil {
			return nil, wrap(err, "suback: properties")
		}
	}
	if s.ReasonCodes, err = readCodes(&r, codes, version); err != nil {
		return nil, wrap(err, "suback")
	}
	return s, nil
}

// decodeUnsubscribe decodes an UNSUBSCRIBE [MQTT-3.10]. As for
// SUBSCRIBE, filters are checked as UTF-8 strings only.
func decodeUnsubscribe(body []byte, version byte) (*Unsubscribe, error) {
	u := &Unsubscribe{}
	r := reader{b: body}
	var err error
	if u.PacketID, err = readPacketID(&r, version); err != nil {
		return nil, wrap(err, "unsubscribe")
	}
	if version == V5 {
		if err := decodeProps(&r, ctxUnsubscribe, &u.Props); err != nil {
			return nil, wrap(err, "unsubscribe: properties")
		}
	}
	for r.left() > 0 {
		f, err := r.str()
		if err != nil {
			return nil, wrap(err, "unsubscribe: filter "+strconv.Itoa(len(u.Filters)+1))
		}
		u.Filters = append(u.Filters, f)
	}
	if len(u.Filters) == 0 {
		return nil, Errorf(ProtocolError, "unsubscribe: no topic filter [MQTT-3.10.3-2]")
	}
	return u, nil
}

// decodeUnsuback decodes an UNSUBACK [MQTT-3.11]: only a packet
// identifier in 3.x; properties and at least one reason code in MQTT 5.
func decodeUnsuback(body []byte, version byte) (*Unsuback, error) {
	u := &Unsuback{}
	r := reader{b: body}
	var err error
	if u.PacketID, err = readPacketID(&r, version); err != nil {
		return nil, wrap(err, "unsuback")
	}
	if version != V5 {
		if err := checkEnd(&r, "unsuback"); err != nil {
			return nil, err
		}
		return u, nil
	}
	if err := decodeProps(&r, ctxUnsuback, &u.Props); err != nil {
		return nil, wrap(err, "unsuback: properties")
	}
	if u.ReasonCodes, err = readCodes(&r, &unsubackCodes, version); err != nil {
		return nil, wrap(err, "unsuback")
	}
	return u, nil
}

// readCodes reads the rest of the packet as a non-empty list of reason
// codes from set. An unlisted code is a Protocol Error in MQTT 5 and a
// malformed packet in 3.x.
func readCodes(r *reader, set *reasonSet, version byte) ([]ReasonCode, error) {
	b := r.rest()
	if len(b) == 0 {
		return nil, Errorf(ProtocolError, "no reason codes")
	}
	codes := make([]ReasonCode, len(b))
	for i, c := range b {
		codes[i] = ReasonCode(c)
		if !set.has(codes[i]) {
			return nil, Errorf(pick(version, ProtocolError, MalformedPacket), "reason code %d: 0x%02X not allowed", i+1, c)
		}
	}
	return codes, nil
}
