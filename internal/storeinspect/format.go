// Package storeinspect reads a broker's store for operators: Check
// verifies that every record decodes and that records refer to each
// other consistently, Dump prints sessions, their subscriptions, queues
// and inflight state, and retained messages. Neither writes to the store.
//
// Both work on a store.Store opened by the caller, which must make sure
// no broker is using it (the data directory lock does).
package storeinspect

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/baram-mqtt/baram/internal/session"
	"github.com/baram-mqtt/baram/internal/store"
)

// FormatKey names a store key for people: its table letter and its
// decoded parts, as in `q sid=3 seq=17` or `R topic="a/b"`. A key that
// does not parse is shown in hex.
func FormatKey(k []byte) string {
	if len(k) == 0 {
		return "(empty key)"
	}
	t := string(k[:1])
	switch k[0] {
	case store.TableSessionID:
		id, _ := store.ParseSessionIDKey(k)
		return fmt.Sprintf("c client_id=%s", strconv.Quote(id))
	case store.TableSession:
		if sid, ok := store.ParseSessionKey(k); ok {
			return fmt.Sprintf("s sid=%d", sid)
		}
	case store.TableSubscription:
		if sid, filter, ok := store.ParseSubscriptionKey(k); ok {
			return fmt.Sprintf("f sid=%d filter=%s", sid, strconv.Quote(filter))
		}
	case store.TableQueue:
		if sid, seq, ok := store.ParseQueueKey(k); ok {
			return fmt.Sprintf("q sid=%d seq=%d", sid, seq)
		}
	case store.TableInflight, store.TableInbound:
		sid, id, ok := store.ParseInflightKey(k)
		if k[0] == store.TableInbound {
			sid, id, ok = store.ParseInboundKey(k)
		}
		if ok {
			return fmt.Sprintf("%s sid=%d packet_id=%d", t, sid, id)
		}
	case store.TableRetained:
		topic, _ := store.ParseRetainedKey(k)
		return fmt.Sprintf("R topic=%s", strconv.Quote(topic))
	case store.TableSessionExpiry:
		if at, sid, ok := store.ParseSessionExpiryKey(k); ok {
			return fmt.Sprintf("x at=%s sid=%d", formatUnix(at), sid)
		}
	case store.TableMessageExpiry:
		if at, topic, ok := store.ParseMessageExpiryKey(k); ok {
			return fmt.Sprintf("X at=%s topic=%s", formatUnix(at), strconv.Quote(topic))
		}
	case store.TableMeta:
		return fmt.Sprintf("m %s", strconv.Quote(string(k[1:])))
	}
	return "hex " + hex.EncodeToString(k)
}

// formatUnix formats Unix seconds as UTC RFC 3339.
func formatUnix(sec int64) string {
	return time.Unix(sec, 0).UTC().Format(time.RFC3339)
}

// decodeSID decodes the value of a 'c' key: the session number, 8 bytes
// big-endian.
func decodeSID(v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: session number is %d bytes, want 8", store.ErrRecord, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// formatExpiry formats a session expiry interval in seconds.
func formatExpiry(sec uint32) string {
	if sec == store.NeverExpire {
		return "never"
	}
	return (time.Duration(sec) * time.Second).String()
}

// phaseName names an inflight record's phase.
func phaseName(p byte) string {
	switch session.Phase(p) {
	case session.AwaitAck:
		return "await_ack"
	case session.AwaitComp:
		return "await_comp"
	}
	return fmt.Sprintf("unknown(%d)", p)
}

// validPhase reports whether p is a phase an inflight record can hold:
// the PUBLISH went out (awaiting PUBACK or PUBREC) or the PUBREL did
// (awaiting PUBCOMP).
func validPhase(p byte) bool {
	return session.Phase(p) == session.AwaitAck || session.Phase(p) == session.AwaitComp
}

// previewLen is how many payload bytes a preview shows.
const previewLen = 32

// preview returns the start of a payload for people: the text itself
// when it is printable UTF-8, else "hex:" and its first bytes in hex;
// "..." marks a cut.
func preview(p []byte) string {
	cut := len(p) > previewLen
	head := p
	if cut {
		head = p[:previewLen]
		for n := 1; n < utf8.UTFMax && !utf8.Valid(head); n++ {
			if utf8.Valid(p[:previewLen-n]) { // the cut split a rune
				head = p[:previewLen-n]
			}
		}
	}
	s := string(head)
	if !printable(s) {
		head = p[:min(len(p), previewLen/2)]
		cut = len(p) > len(head)
		s = "hex:" + hex.EncodeToString(head)
	}
	if cut {
		s += "..."
	}
	return s
}

// printable reports whether s is valid UTF-8 of printable characters and
// spaces.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			return false
		}
	}
	return true
}
