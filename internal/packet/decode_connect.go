package packet

import (
	"github.com/baram-mqtt/baram/internal/topic"
)

// CONNECT flag bits [MQTT-3.1.2.3].
const (
	flagReserved   = 0x01
	flagCleanStart = 0x02
	flagWill       = 0x04
	flagWillQoS    = 0x18
	flagWillRetain = 0x20
	flagPassword   = 0x40
	flagUsername   = 0x80
)

// ConnectLevel returns the protocol level byte of a CONNECT body, or false
// if the body is too short to hold one. A broker uses it after Decode
// fails on a CONNECT to choose the CONNACK format: a v5-format CONNACK for
// level 5, a 3.x CONNACK otherwise. In particular, Decode reports an
// unknown protocol name or level as UnsupportedProtocolVersion; the broker
// then answers 3.x clients with return code 1 (ConnackReturnCode) and MQTT
// 5 clients with reason 0x84 [MQTT-3.1.2-2], and closes the connection.
func ConnectLevel(body []byte) (level byte, ok bool) {
	r := reader{b: body}
	if _, err := r.binary(); err != nil {
		return 0, false
	}
	c, err := r.u8()
	return c, err == nil
}

// decodeConnect decodes a CONNECT [MQTT-3.1].
func decodeConnect(body []byte) (*Connect, error) {
	c := &Connect{}
	r := reader{b: body}
	if err := decodeProtocol(&r, c); err != nil {
		return nil, err
	}
	flags, err := r.u8()
	if err != nil {
		return nil, wrap(err, "connect: flags")
	}
	if err := checkConnectFlags(flags, c.Version); err != nil {
		return nil, wrap(err, "connect: flags")
	}
	c.CleanStart = flags&flagCleanStart != 0
	c.HasUsername = flags&flagUsername != 0
	c.HasPassword = flags&flagPassword != 0
	if c.KeepAlive, err = r.u16(); err != nil {
		return nil, wrap(err, "connect: keep alive")
	}
	if c.Version == V5 {
		if err := decodeProps(&r, ctxConnect, &c.Props); err != nil {
			return nil, wrap(err, "connect: properties")
		}
		if c.Props.Has(PropAuthData) && !c.Props.Has(PropAuthMethod) {
			return nil, Errorf(ProtocolError, "connect: properties: Authentication Data without Authentication Method (§3.1.2.11.10)")
		}
	}
	// A zero-length client identifier is allowed [MQTT-3.1.3-6]; MQTT 3.1
	// limited it to 1..23 bytes, which is not enforced here.
	if c.ClientID, err = r.str(); err != nil {
		return nil, wrap(err, "connect: client identifier")
	}
	if flags&flagWill != 0 {
		if c.Will, err = decodeWill(&r, flags, c.Version); err != nil {
			return nil, err
		}
	}
	if c.HasUsername {
		if c.Username, err = r.str(); err != nil { // MQTT 5 [MQTT-3.1.3-12]
			return nil, wrap(err, "connect: user name")
		}
	}
	if c.HasPassword {
		if c.Password, err = r.binaryCopy(); err != nil {
			return nil, wrap(err, "connect: password")
		}
	}
	if err := checkEnd(&r, "connect"); err != nil {
		return nil, err
	}
	return c, nil
}

// decodeProtocol reads the protocol name and level. Accepted are "MQTT"
// with level 4 (3.1.1) or 5, and "MQIsdp" with level 3 (3.1); any other
// combination is UnsupportedProtocolVersion, so the broker can answer with
// CONNACK 0x84 / return code 1 ([MQTT-3.1.2-1], [MQTT-3.1.2-2]).
func decodeProtocol(r *reader, c *Connect) error {
	name, err := r.binary()
	if err != nil {
		return wrap(err, "connect: protocol name")
	}
	level, err := r.u8()
	if err != nil {
		return wrap(err, "connect: protocol level")
	}
	switch {
	case string(name) == "MQTT" && (level == V311 || level == V5):
		c.ProtocolName = "MQTT"
	case string(name) == "MQIsdp" && level == V31:
		c.ProtocolName = "MQIsdp"
	default:
		return Errorf(UnsupportedProtocolVersion, "connect: unsupported protocol %q level %d [MQTT-3.1.2-2]", name, level)
	}
	c.Version = level
	return nil
}

// checkConnectFlags applies the connect flag rules. All are malformed
// packets: the flags could not be parsed as a valid CONNECT.
func checkConnectFlags(flags, version byte) error {
	if flags&flagReserved != 0 {
		return Errorf(MalformedPacket, "reserved bit set [MQTT-3.1.2-3]")
	}
	willQoS := flags & flagWillQoS >> 3
	if flags&flagWill == 0 {
		if willQoS != 0 {
			// 3.1.1 [MQTT-3.1.2-13], MQTT 5 [MQTT-3.1.2-11]
			return Errorf(MalformedPacket, "will QoS %d without will flag [MQTT-3.1.2-13]", willQoS)
		}
		if flags&flagWillRetain != 0 {
			// 3.1.1 [MQTT-3.1.2-15], MQTT 5 [MQTT-3.1.2-13]
			return Errorf(MalformedPacket, "will retain without will flag [MQTT-3.1.2-15]")
		}
	} else if willQoS == 3 {
		// 3.1.1 [MQTT-3.1.2-14], MQTT 5 [MQTT-3.1.2-12]
		return Errorf(MalformedPacket, "will QoS 3 [MQTT-3.1.2-14]")
	}
	if version != V5 && flags&flagPassword != 0 && flags&flagUsername == 0 {
		// MQTT 5 allows a password without a user name.
		return Errorf(MalformedPacket, "password flag without user name flag [MQTT-3.1.2-22]")
	}
	return nil
}

// decodeWill reads the will properties (MQTT 5), topic and payload.
func decodeWill(r *reader, flags, version byte) (*Will, error) {
	w := &Will{QoS: flags & flagWillQoS >> 3, Retain: flags&flagWillRetain != 0}
	if version == V5 {
		if err := decodeProps(r, ctxWill, &w.Props); err != nil {
			return nil, wrap(err, "connect: will properties")
		}
	}
	name, err := r.binary() // UTF-8 checked by topic.ValidName
	if err != nil {
		return nil, wrap(err, "connect: will topic")
	}
	w.Topic = string(name)
	if err := topic.ValidName(w.Topic); err != nil { // MQTT 5 [MQTT-3.1.3-11]
		return nil, wrap(topicNameError(err, version), "connect: will topic")
	}
	if w.Payload, err = r.binaryCopy(); err != nil {
		return nil, wrap(err, "connect: will payload")
	}
	return w, nil
}

// decodeConnack decodes a CONNACK [MQTT-3.2]. On 3.x connections the
// return code is mapped to a reason code with ConnackReasonCode. MQTT 3.1
// has no Session Present flag: the first byte is ignored.
func decodeConnack(body []byte, version byte) (*Connack, error) {
	c := &Connack{}
	r := reader{b: body}
	flags, err := r.u8()
	if err != nil {
		return nil, wrap(err, "connack: flags")
	}
	code, err := r.u8()
	if err != nil {
		return nil, wrap(err, "connack: reason code")
	}
	if version != V31 {
		if flags&^1 != 0 {
			return nil, Errorf(MalformedPacket, "connack: reserved flag bits set [MQTT-3.2.2-1]")
		}
		c.SessionPresent = flags&1 != 0
	}
	if version == V5 {
		c.ReasonCode = ReasonCode(code)
		if !connackCodes.has(c.ReasonCode) {
			return nil, Errorf(ProtocolError, "connack: reason code 0x%02X not allowed [MQTT-3.2.2-8]", code)
		}
		if err := decodeProps(&r, ctxConnack, &c.Props); err != nil {
			return nil, wrap(err, "connack: properties")
		}
	} else {
		if code > ConnRefusedNotAuth {
			return nil, Errorf(MalformedPacket, "connack: reserved return code %d", code)
		}
		c.ReasonCode = ConnackReasonCode(code)
	}
	if c.SessionPresent && c.ReasonCode != Success {
		// 3.1.1 [MQTT-3.2.2-4], MQTT 5 [MQTT-3.2.2-6]
		return nil, Errorf(pick(version, ProtocolError, MalformedPacket), "connack: session present with a failure code [MQTT-3.2.2-6]")
	}
	if err := checkEnd(&r, "connack"); err != nil {
		return nil, err
	}
	return c, nil
}
