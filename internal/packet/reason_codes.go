package packet

// reasonSet is a set of reason codes, one bit per byte value.
type reasonSet [4]uint64

func newReasonSet(codes ...ReasonCode) reasonSet {
	var s reasonSet
	for _, c := range codes {
		s[c>>6] |= 1 << (c & 63)
	}
	return s
}

func (s *reasonSet) has(c ReasonCode) bool { return s[c>>6]&(1<<(c&63)) != 0 }

// The reason codes each MQTT 5 packet may carry (MQTT 5 §2.4 and the
// packet sections). Receiving any other is a Protocol Error.
var (
	// [MQTT-3.2.2-8]
	connackCodes = newReasonSet(Success, UnspecifiedError, MalformedPacket, ProtocolError,
		ImplementationSpecificError, UnsupportedProtocolVersion, ClientIdentifierNotValid,
		BadUserNameOrPassword, NotAuthorized, ServerUnavailable, ServerBusy, Banned,
		BadAuthenticationMethod, TopicNameInvalid, PacketTooLarge, QuotaExceeded,
		PayloadFormatInvalid, RetainNotSupported, QoSNotSupported, UseAnotherServer,
		ServerMoved, ConnectionRateExceeded)
	// PUBACK [MQTT-3.4.2-1] and PUBREC [MQTT-3.5.2-1] share a list.
	pubackCodes = newReasonSet(Success, NoMatchingSubscribers, UnspecifiedError,
		ImplementationSpecificError, NotAuthorized, TopicNameInvalid, PacketIdentifierInUse,
		QuotaExceeded, PayloadFormatInvalid)
	// PUBREL [MQTT-3.6.2-1] and PUBCOMP [MQTT-3.7.2-1] share a list.
	pubrelCodes = newReasonSet(Success, PacketIdentifierNotFound)
	// [MQTT-3.9.3-2]
	subackCodes = newReasonSet(GrantedQoS0, GrantedQoS1, GrantedQoS2, UnspecifiedError,
		ImplementationSpecificError, NotAuthorized, TopicFilterInvalid, PacketIdentifierInUse,
		QuotaExceeded, SharedSubscriptionsNotSupported, SubscriptionIdentifiersNotSupported,
		WildcardSubscriptionsNotSupported)
	// MQTT 3.1.1 SUBACK return codes [MQTT-3.9.3-2].
	subackCodes3 = newReasonSet(GrantedQoS0, GrantedQoS1, GrantedQoS2, SubackFailure)
	// [MQTT-3.11.3-2]
	unsubackCodes = newReasonSet(Success, NoSubscriptionExisted, UnspecifiedError,
		ImplementationSpecificError, NotAuthorized, TopicFilterInvalid, PacketIdentifierInUse)
	// [MQTT-3.14.2-1]
	disconnectCodes = newReasonSet(NormalDisconnection, DisconnectWithWill, UnspecifiedError,
		MalformedPacket, ProtocolError, ImplementationSpecificError, NotAuthorized, ServerBusy,
		ServerShuttingDown, KeepAliveTimeout, SessionTakenOver, TopicFilterInvalid,
		TopicNameInvalid, ReceiveMaximumExceeded, TopicAliasInvalid, PacketTooLarge,
		MessageRateTooHigh, QuotaExceeded, AdministrativeAction, PayloadFormatInvalid,
		RetainNotSupported, QoSNotSupported, UseAnotherServer, ServerMoved,
		SharedSubscriptionsNotSupported, ConnectionRateExceeded, MaximumConnectTime,
		SubscriptionIdentifiersNotSupported, WildcardSubscriptionsNotSupported)
	// [MQTT-3.15.2-1]
	authCodes = newReasonSet(Success, ContinueAuthentication, ReAuthenticate)
)

// ackCodes is the reason code list of PUBACK, PUBREC, PUBREL or PUBCOMP.
func ackCodes(kind Type) *reasonSet {
	if kind == PUBACK || kind == PUBREC {
		return &pubackCodes
	}
	return &pubrelCodes
}

// ConnackReturnCode maps an MQTT 5 CONNACK reason code to the MQTT 3.x
// CONNACK return code (ConnAccepted ... ConnRefusedNotAuth) that Append
// writes on 3.x connections:
//
//	0x00                    -> 0 accepted
//	0x84                    -> 1 unacceptable protocol version
//	0x85                    -> 2 identifier rejected
//	0x86                    -> 4 bad user name or password
//	0x87, 0x8A, 0x8C        -> 5 not authorized
//	anything else           -> 3 server unavailable
func ConnackReturnCode(rc ReasonCode) byte {
	switch rc {
	case Success:
		return ConnAccepted
	case UnsupportedProtocolVersion:
		return ConnRefusedVersion
	case ClientIdentifierNotValid:
		return ConnRefusedIdentifier
	case BadUserNameOrPassword:
		return ConnRefusedBadAuth
	case NotAuthorized, Banned, BadAuthenticationMethod:
		return ConnRefusedNotAuth
	}
	return ConnRefusedUnavailable
}

// ConnackReasonCode is the inverse of ConnackReturnCode for the six 3.x
// return codes: Decode uses it so a 3.x CONNACK reads back as the reason
// code it was written from. Other values give UnspecifiedError.
func ConnackReasonCode(code byte) ReasonCode {
	switch code {
	case ConnAccepted:
		return Success
	case ConnRefusedVersion:
		return UnsupportedProtocolVersion
	case ConnRefusedIdentifier:
		return ClientIdentifierNotValid
	case ConnRefusedUnavailable:
		return ServerUnavailable
	case ConnRefusedBadAuth:
		return BadUserNameOrPassword
	case ConnRefusedNotAuth:
		return NotAuthorized
	}
	return UnspecifiedError
}
