// Package packet is the MQTT 3.1, 3.1.1 and 5.0 codec: fixed header,
// variable byte integers, properties, reason codes and the 15 control
// packets. It validates the normative rules of the specifications and reports
// violations as *Error values that carry the reason code to answer with.
//
// Decoding never keeps a reference to the input buffer except where a field's
// doc comment says so (Publish.Payload), so a connection can reuse its read
// buffer.
package packet

// Type is the MQTT control packet type, the high nibble of the first byte.
type Type byte

// The control packet types [MQTT-2.1.2].
const (
	CONNECT     Type = 1
	CONNACK     Type = 2
	PUBLISH     Type = 3
	PUBACK      Type = 4
	PUBREC      Type = 5
	PUBREL      Type = 6
	PUBCOMP     Type = 7
	SUBSCRIBE   Type = 8
	SUBACK      Type = 9
	UNSUBSCRIBE Type = 10
	UNSUBACK    Type = 11
	PINGREQ     Type = 12
	PINGRESP    Type = 13
	DISCONNECT  Type = 14
	AUTH        Type = 15
)

var typeNames = [...]string{"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC",
	"PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ",
	"PINGRESP", "DISCONNECT", "AUTH"}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "UNKNOWN"
}

// Protocol levels as carried in CONNECT.
const (
	V31  byte = 3 // MQTT 3.1, protocol name "MQIsdp"
	V311 byte = 4 // MQTT 3.1.1
	V5   byte = 5 // MQTT 5.0
)

// Packet is any decoded control packet.
type Packet interface {
	// Type reports the control packet type.
	Type() Type
}

// Will is the Last Will and Testament carried in CONNECT.
type Will struct {
	QoS     byte
	Retain  bool
	Topic   string
	Payload []byte
	Props   Properties // will properties (v5)
}

// Connect is the CONNECT packet.
type Connect struct {
	ProtocolName string // "MQTT" or "MQIsdp"
	Version      byte   // V31, V311 or V5
	CleanStart   bool   // Clean Session in 3.1.1
	KeepAlive    uint16 // seconds
	ClientID     string
	HasUsername  bool
	Username     string
	HasPassword  bool
	Password     []byte
	Will         *Will // nil when the will flag is clear
	Props        Properties
}

// Connack is the CONNACK packet. ReasonCode is the v5 reason code; when
// encoding for 3.x it is mapped with ConnackReturnCode.
type Connack struct {
	SessionPresent bool
	ReasonCode     ReasonCode
	Props          Properties
}

// Publish is the PUBLISH packet.
type Publish struct {
	Dup      bool
	QoS      byte
	Retain   bool
	Topic    string // may be empty in v5 when Props carries a topic alias
	PacketID uint16 // only when QoS > 0
	Props    Properties
	// Payload aliases the decoded buffer: copy it to keep it past the next
	// read on the same buffer.
	Payload []byte
}

// Ack is PUBACK, PUBREC, PUBREL or PUBCOMP: they share one layout.
type Ack struct {
	Kind       Type // PUBACK, PUBREC, PUBREL or PUBCOMP
	PacketID   uint16
	ReasonCode ReasonCode
	Props      Properties
}

// Subscription is one topic filter of a SUBSCRIBE with its options.
type Subscription struct {
	Filter            string
	QoS               byte
	NoLocal           bool // v5
	RetainAsPublished bool // v5
	RetainHandling    byte // v5: 0 send, 1 send if new, 2 never
}

// Subscribe is the SUBSCRIBE packet.
type Subscribe struct {
	PacketID uint16
	Props    Properties // subscription identifier, user properties
	Subs     []Subscription
}

// Suback is the SUBACK packet: one reason code (return code in 3.x) per
// filter.
type Suback struct {
	PacketID    uint16
	Props       Properties
	ReasonCodes []ReasonCode
}

// Unsubscribe is the UNSUBSCRIBE packet.
type Unsubscribe struct {
	PacketID uint16
	Props    Properties
	Filters  []string
}

// Unsuback is the UNSUBACK packet. ReasonCodes are written only for v5.
type Unsuback struct {
	PacketID    uint16
	Props       Properties
	ReasonCodes []ReasonCode
}

// Pingreq is the PINGREQ packet.
type Pingreq struct{}

// Pingresp is the PINGRESP packet.
type Pingresp struct{}

// Disconnect is the DISCONNECT packet; reason and properties are v5 only.
type Disconnect struct {
	ReasonCode ReasonCode
	Props      Properties
}

// Auth is the v5 AUTH packet.
type Auth struct {
	ReasonCode ReasonCode
	Props      Properties
}

// Type implements Packet.
func (*Connect) Type() Type { return CONNECT }

// Type implements Packet.
func (*Connack) Type() Type { return CONNACK }

// Type implements Packet.
func (*Publish) Type() Type { return PUBLISH }

// Type implements Packet.
func (a *Ack) Type() Type { return a.Kind }

// Type implements Packet.
func (*Subscribe) Type() Type { return SUBSCRIBE }

// Type implements Packet.
func (*Suback) Type() Type { return SUBACK }

// Type implements Packet.
func (*Unsubscribe) Type() Type { return UNSUBSCRIBE }

// Type implements Packet.
func (*Unsuback) Type() Type { return UNSUBACK }

// Type implements Packet.
func (*Pingreq) Type() Type { return PINGREQ }

// Type implements Packet.
func (*Pingresp) Type() Type { return PINGRESP }

// Type implements Packet.
func (*Disconnect) Type() Type { return DISCONNECT }

// Type implements Packet.
func (*Auth) Type() Type { return AUTH }
