package mqttclient

import (
	"fmt"

	"github.com/baram-mqtt/baram/internal/packet"
)

// reasonNames are the names MQTT 5 gives its reason codes (§2.4). The
// codes below 0x80 that several packets share get their most common name;
// ReasonName is only asked about codes a packet carried.
var reasonNames = map[packet.ReasonCode]string{
	0x00: "Success",
	0x01: "Granted QoS 1",
	0x02: "Granted QoS 2",
	0x04: "Disconnect with Will Message",
	0x10: "No matching subscribers",
	0x11: "No subscription existed",
	0x18: "Continue authentication",
	0x19: "Re-authenticate",
	0x80: "Unspecified error",
	0x81: "Malformed Packet",
	0x82: "Protocol Error",
	0x83: "Implementation specific error",
	0x84: "Unsupported Protocol Version",
	0x85: "Client Identifier not valid",
	0x86: "Bad User Name or Password",
	0x87: "Not authorized",
	0x88: "Server unavailable",
	0x89: "Server busy",
	0x8A: "Banned",
	0x8B: "Server shutting down",
	0x8C: "Bad authentication method",
	0x8D: "Keep Alive timeout",
	0x8E: "Session taken over",
	0x8F: "Topic Filter invalid",
	0x90: "Topic Name invalid",
	0x91: "Packet Identifier in use",
	0x92: "Packet Identifier not found",
	0x93: "Receive Maximum exceeded",
	0x94: "Topic Alias invalid",
	0x95: "Packet too large",
	0x96: "Message rate too high",
	0x97: "Quota exceeded",
	0x98: "Administrative action",
	0x99: "Payload format invalid",
	0x9A: "Retain not supported",
	0x9B: "QoS not supported",
	0x9C: "Use another server",
	0x9D: "Server moved",
	0x9E: "Shared Subscriptions not supported",
	0x9F: "Connection rate exceeded",
	0xA0: "Maximum connect time",
	0xA1: "Subscription Identifiers not supported",
	0xA2: "Wildcard Subscriptions not supported",
}

// connackNames3 are the MQTT 3.1 and 3.1.1 CONNACK return codes.
var connackNames3 = [...]string{
	packet.ConnAccepted:           "Connection Accepted",
	packet.ConnRefusedVersion:     "unacceptable protocol version",
	packet.ConnRefusedIdentifier:  "identifier rejected",
	packet.ConnRefusedUnavailable: "server unavailable",
	packet.ConnRefusedBadAuth:     "bad user name or password",
	packet.ConnRefusedNotAuth:     "not authorized",
}

// ReasonName is the MQTT 5 name of a reason code, such as "Not authorized"
// for 0x87, or "reason code 0xNN" for a code MQTT 5 does not define.
func ReasonName(code packet.ReasonCode) string {
	if n, ok := reasonNames[code]; ok {
		return n
	}
	return fmt.Sprintf("reason code 0x%02X", byte(code))
}

// describe is a reason code with its name and, when the packet had one,
// its Reason String: `Not authorized (0x87): "no $SYS"`.
func describe(code packet.ReasonCode, props *packet.Properties) string {
	s := fmt.Sprintf("%s (0x%02X)", ReasonName(code), byte(code))
	if props != nil && props.Has(packet.PropReasonString) {
		s += fmt.Sprintf(": %q", props.ReasonString)
	}
	return s
}

// ConnackError is a CONNECT the broker refused.
type ConnackError struct {
	Version byte              // the protocol level of the CONNECT
	Code    packet.ReasonCode // MQTT 5 reason code (3.x: mapped from the return code)
	Return  byte              // MQTT 3.x return code; 0 for MQTT 5
	Reason  string            // MQTT 5 Reason String, if any
}

func (e *ConnackError) Error() string {
	if e.Version != packet.V5 {
		name := "unknown return code"
		if int(e.Return) < len(connackNames3) {
			name = connackNames3[e.Return]
		}
		return fmt.Sprintf("connection refused: %s (return code %d)", name, e.Return)
	}
	s := fmt.Sprintf("connection refused: %s (0x%02X)", ReasonName(e.Code), byte(e.Code))
	if e.Reason != "" {
		s += fmt.Sprintf(": %q", e.Reason)
	}
	return s
}

// ReasonError is an acknowledgement, or a DISCONNECT from the broker,
// that carried a failure reason code (0x80 or above; in MQTT 3.1.1 a
// SUBACK return code 0x80).
type ReasonError struct {
	Packet   packet.Type       // PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK or DISCONNECT
	PacketID uint16            // 0 for DISCONNECT
	Code     packet.ReasonCode // the reason code
	Reason   string            // MQTT 5 Reason String, if any
}

func (e *ReasonError) Error() string {
	var props packet.Properties
	if e.Reason != "" {
		props.Set(packet.PropReasonString)
		props.ReasonString = e.Reason
	}
	if e.Packet == packet.DISCONNECT {
		return "the broker sent DISCONNECT: " + describe(e.Code, &props)
	}
	return fmt.Sprintf("%s for packet id %d: %s", e.Packet, e.PacketID, describe(e.Code, &props))
}

// reasonError makes the ReasonError of packet kind with props.
func reasonError(kind packet.Type, id uint16, code packet.ReasonCode, props *packet.Properties) *ReasonError {
	e := &ReasonError{Packet: kind, PacketID: id, Code: code}
	if props.Has(packet.PropReasonString) {
		e.Reason = props.ReasonString
	}
	return e
}
