package store

import (
	"encoding/binary"
	"math"
)

// Table prefixes: the first byte of every key names its table (design.md,
// "Key layout"). Integers after the prefix are big-endian so that byte order
// is numeric order.
const (
	TableSessionID     byte = 'c' // 'c' clientID → sid
	TableSession       byte = 's' // 's' sid → session record
	TableSubscription  byte = 'f' // 'f' sid filter → subscription options
	TableQueue         byte = 'q' // 'q' sid seq → queued message
	TableInflight      byte = 'i' // 'i' sid packetID → outbound inflight
	TableInbound       byte = 'r' // 'r' sid packetID → inbound QoS 2 received
	TableRetained      byte = 'R' // 'R' topic → retained message
	TableSessionExpiry byte = 'x' // 'x' at sid → (empty)
	TableMessageExpiry byte = 'X' // 'X' at topic → (empty)
	TableMeta          byte = 'm' // 'm' name → metadata, e.g. the schema version
)

const (
	schemaName             = "schema"
	sidLen                 = 8
	seqLen                 = 8
	packetIDLen            = 2
	expiryLen              = 8
	sidKeyLen              = 1 + sidLen
	packetIDKeyLen         = sidKeyLen + packetIDLen
	expiryPrefixLen        = 1 + expiryLen
	expirySignFlip  uint64 = 1 << 63
)

// SessionIDKey is the key mapping a client identifier to its session
// number: 'c' clientID.
func SessionIDKey(clientID string) []byte {
	return append(append(make([]byte, 0, 1+len(clientID)), TableSessionID), clientID...)
}

// ParseSessionIDKey returns the client identifier of a SessionIDKey.
func ParseSessionIDKey(k []byte) (clientID string, ok bool) {
	if len(k) < 1 || k[0] != TableSessionID {
		return "", false
	}
	return string(k[1:]), true
}

// SessionKey is the key of a session record: 's' sid.
func SessionKey(sid uint64) []byte { return sidKey(TableSession, sid) }

// ParseSessionKey returns the session number of a SessionKey.
func ParseSessionKey(k []byte) (sid uint64, ok bool) {
	if len(k) != sidKeyLen || k[0] != TableSession {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[1:]), true
}

// SubscriptionKey is the key of one subscription of a session:
// 'f' sid filter.
func SubscriptionKey(sid uint64, filter string) []byte {
	k := make([]byte, sidKeyLen, sidKeyLen+len(filter))
	putSID(k, TableSubscription, sid)
	return append(k, filter...)
}

// SubscriptionPrefix is the prefix of every subscription of a session.
func SubscriptionPrefix(sid uint64) []byte { return sidKey(TableSubscription, sid) }

// ParseSubscriptionKey returns the session number and filter of a
// SubscriptionKey.
func ParseSubscriptionKey(k []byte) (sid uint64, filter string, ok bool) {
	if len(k) < sidKeyLen || k[0] != TableSubscription {
		return 0, "", false
	}
	return binary.BigEndian.Uint64(k[1:]), string(k[sidKeyLen:]), true
}

// QueueKey is the key of a queued message of an offline session:
// 'q' sid seq. Keys of one session sort by seq numerically.
func QueueKey(sid, seq uint64) []byte { return AppendQueueKey(nil, sid, seq) }

// AppendQueueKey appends QueueKey(sid, seq) to dst, for callers that reuse
// a buffer (batches copy their keys).
func AppendQueueKey(dst []byte, sid, seq uint64) []byte {
	dst = append(dst, TableQueue)
	dst = binary.BigEndian.AppendUint64(dst, sid)
	return binary.BigEndian.AppendUint64(dst, seq)
}

// QueuePrefix is the prefix of every queued message of a session.
func QueuePrefix(sid uint64) []byte { return sidKey(TableQueue, sid) }

// ParseQueueKey returns the session number and sequence of a QueueKey.
func ParseQueueKey(k []byte) (sid, seq uint64, ok bool) {
	if len(k) != sidKeyLen+seqLen || k[0] != TableQueue {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(k[1:]), binary.BigEndian.Uint64(k[sidKeyLen:]), true
}

// InflightKey is the key of an outbound in-flight message: 'i' sid
// packetID.
func InflightKey(sid uint64, packetID uint16) []byte {
	return AppendInflightKey(nil, sid, packetID)
}

// AppendInflightKey appends InflightKey(sid, packetID) to dst.
func AppendInflightKey(dst []byte, sid uint64, packetID uint16) []byte {
	return appendPacketIDKey(dst, TableInflight, sid, packetID)
}

// InflightPrefix is the prefix of every outbound in-flight message of a
// session.
func InflightPrefix(sid uint64) []byte { return sidKey(TableInflight, sid) }

// ParseInflightKey returns the session number and packet identifier of an
// InflightKey.
func ParseInflightKey(k []byte) (sid uint64, packetID uint16, ok bool) {
	return parsePacketIDKey(k, TableInflight)
}

// InboundKey is the key of an inbound QoS 2 message received but not yet
// released: 'r' sid packetID.
func InboundKey(sid uint64, packetID uint16) []byte {
	return AppendInboundKey(nil, sid, packetID)
}

// AppendInboundKey appends InboundKey(sid, packetID) to dst.
func AppendInboundKey(dst []byte, sid uint64, packetID uint16) []byte {
	return appendPacketIDKey(dst, TableInbound, sid, packetID)
}

// InboundPrefix is the prefix of every inbound QoS 2 record of a session.
func InboundPrefix(sid uint64) []byte { return sidKey(TableInbound, sid) }

// ParseInboundKey returns the session number and packet identifier of an
// InboundKey.
func ParseInboundKey(k []byte) (sid uint64, packetID uint16, ok bool) {
	return parsePacketIDKey(k, TableInbound)
}

// RetainedKey is the key of the retained message of a topic: 'R' topic.
func RetainedKey(topic string) []byte {
	return append(append(make([]byte, 0, 1+len(topic)), TableRetained), topic...)
}

// RetainedPrefix is the prefix of every retained message.
func RetainedPrefix() []byte { return []byte{TableRetained} }

// ParseRetainedKey returns the topic of a RetainedKey.
func ParseRetainedKey(k []byte) (topic string, ok bool) {
	if len(k) < 1 || k[0] != TableRetained {
		return "", false
	}
	return string(k[1:]), true
}

// SessionExpiryKey is the expiry index entry of a session that expires at
// the given Unix time in seconds: 'x' at sid. Entries sort by time, then
// session; negative times sort before positive ones (the sign bit is
// flipped).
func SessionExpiryKey(at int64, sid uint64) []byte {
	k := make([]byte, 0, expiryPrefixLen+sidLen)
	k = appendExpiry(k, TableSessionExpiry, at)
	return binary.BigEndian.AppendUint64(k, sid)
}

// SessionExpiryPrefix is the prefix of the session expiry index.
func SessionExpiryPrefix() []byte { return []byte{TableSessionExpiry} }

// ParseSessionExpiryKey returns the time and session number of a
// SessionExpiryKey.
func ParseSessionExpiryKey(k []byte) (at int64, sid uint64, ok bool) {
	if len(k) != expiryPrefixLen+sidLen || k[0] != TableSessionExpiry {
		return 0, 0, false
	}
	return parseExpiry(k), binary.BigEndian.Uint64(k[expiryPrefixLen:]), true
}

// MessageExpiryKey is the expiry index entry of the retained message of a
// topic that expires at the given Unix time in seconds: 'X' at topic.
func MessageExpiryKey(at int64, topic string) []byte {
	k := make([]byte, 0, expiryPrefixLen+len(topic))
	k = appendExpiry(k, TableMessageExpiry, at)
	return append(k, topic...)
}

// MessageExpiryPrefix is the prefix of the retained message expiry index.
func MessageExpiryPrefix() []byte { return []byte{TableMessageExpiry} }

// ParseMessageExpiryKey returns the time and topic of a MessageExpiryKey.
func ParseMessageExpiryKey(k []byte) (at int64, topic string, ok bool) {
	if len(k) < expiryPrefixLen || k[0] != TableMessageExpiry {
		return 0, "", false
	}
	return parseExpiry(k), string(k[expiryPrefixLen:]), true
}

// ExpiryBound returns the smallest expiry-index key of table (TableSessionExpiry
// or TableMessageExpiry) with a time after at: Scan with the table's prefix
// stops being due once a key is >= ExpiryBound(table, now).
func ExpiryBound(table byte, at int64) []byte {
	if at == math.MaxInt64 {
		return []byte{table + 1}
	}
	return appendExpiry(make([]byte, 0, expiryPrefixLen), table, at+1)
}

// SchemaKey is the key of the store's format version: 'm' "schema".
func SchemaKey() []byte { return append([]byte{TableMeta}, schemaName...) }

// PrefixEnd returns the smallest key greater than every key that starts
// with prefix, for use as the end of DeleteRange or Compact. It returns nil
// when no such key exists (prefix is empty or all 0xff bytes).
func PrefixEnd(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xff {
			end := make([]byte, i+1)
			copy(end, prefix)
			end[i]++
			return end
		}
	}
	return nil
}

func sidKey(table byte, sid uint64) []byte {
	k := make([]byte, sidKeyLen)
	putSID(k, table, sid)
	return k
}

func putSID(k []byte, table byte, sid uint64) {
	k[0] = table
	binary.BigEndian.PutUint64(k[1:], sid)
}

func appendPacketIDKey(dst []byte, table byte, sid uint64, packetID uint16) []byte {
	dst = append(dst, table)
	dst = binary.BigEndian.AppendUint64(dst, sid)
	return binary.BigEndian.AppendUint16(dst, packetID)
}

func parsePacketIDKey(k []byte, table byte) (sid uint64, packetID uint16, ok bool) {
	if len(k) != packetIDKeyLen || k[0] != table {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(k[1:]), binary.BigEndian.Uint16(k[sidKeyLen:]), true
}

func appendExpiry(dst []byte, table byte, at int64) []byte {
	dst = append(dst, table)
	return binary.BigEndian.AppendUint64(dst, uint64(at)^expirySignFlip)
}

func parseExpiry(k []byte) int64 {
	return int64(binary.BigEndian.Uint64(k[1:]) ^ expirySignFlip)
}
