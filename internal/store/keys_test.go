package store

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestKeyLayout(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"session id", SessionIDKey("dev1"), []byte("cdev1")},
		{"session", SessionKey(0x0102), []byte("s\x00\x00\x00\x00\x00\x00\x01\x02")},
		{"subscription", SubscriptionKey(1, "a/+"), []byte("f\x00\x00\x00\x00\x00\x00\x00\x01a/+")},
		{"subscription prefix", SubscriptionPrefix(1), []byte("f\x00\x00\x00\x00\x00\x00\x00\x01")},
		{"queue", QueueKey(1, 256), []byte("q\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01\x00")},
		{"queue prefix", QueuePrefix(1), []byte("q\x00\x00\x00\x00\x00\x00\x00\x01")},
		{"inflight", InflightKey(1, 0xabcd), []byte("i\x00\x00\x00\x00\x00\x00\x00\x01\xab\xcd")},
		{"inflight prefix", InflightPrefix(2), []byte("i\x00\x00\x00\x00\x00\x00\x00\x02")},
		{"inbound", InboundKey(1, 7), []byte("r\x00\x00\x00\x00\x00\x00\x00\x01\x00\x07")},
		{"inbound prefix", InboundPrefix(3), []byte("r\x00\x00\x00\x00\x00\x00\x00\x03")},
		{"retained", RetainedKey("a/b"), []byte("Ra/b")},
		{"retained prefix", RetainedPrefix(), []byte("R")},
		{"session expiry", SessionExpiryKey(1, 2), []byte("x\x80\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02")},
		{"message expiry", MessageExpiryKey(1, "t"), []byte("X\x80\x00\x00\x00\x00\x00\x00\x01t")},
		{"schema", SchemaKey(), []byte("mschema")},
		{"append queue", AppendQueueKey([]byte("zz"), 1, 2), append([]byte("zz"), QueueKey(1, 2)...)},
		{"append inflight", AppendInflightKey(nil, 1, 2), InflightKey(1, 2)},
		{"append inbound", AppendInboundKey(nil, 1, 2), InboundKey(1, 2)},
	}
	for _, tt := range tests {
		if !bytes.Equal(tt.got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestKeyParsersRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		sid, seq, pid := r.Uint64(), r.Uint64(), uint16(r.Uint32())
		at := int64(r.Uint64())
		s := string(rune('a' + r.IntN(26)))
		if got, ok := ParseSessionIDKey(SessionIDKey(s)); !ok || got != s {
			t.Fatalf("ParseSessionIDKey = %q %v", got, ok)
		}
		if got, ok := ParseSessionKey(SessionKey(sid)); !ok || got != sid {
			t.Fatalf("ParseSessionKey = %d %v", got, ok)
		}
		if gs, gf, ok := ParseSubscriptionKey(SubscriptionKey(sid, s)); !ok || gs != sid || gf != s {
			t.Fatalf("ParseSubscriptionKey = %d %q %v", gs, gf, ok)
		}
		if gs, gq, ok := ParseQueueKey(QueueKey(sid, seq)); !ok || gs != sid || gq != seq {
			t.Fatalf("ParseQueueKey = %d %d %v", gs, gq, ok)
		}
		if gs, gp, ok := ParseInflightKey(InflightKey(sid, pid)); !ok || gs != sid || gp != pid {
			t.Fatalf("ParseInflightKey = %d %d %v", gs, gp, ok)
		}
		if gs, gp, ok := ParseInboundKey(InboundKey(sid, pid)); !ok || gs != sid || gp != pid {
			t.Fatalf("ParseInboundKey = %d %d %v", gs, gp, ok)
		}
		if got, ok := ParseRetainedKey(RetainedKey(s)); !ok || got != s {
			t.Fatalf("ParseRetainedKey = %q %v", got, ok)
		}
		if ga, gs, ok := ParseSessionExpiryKey(SessionExpiryKey(at, sid)); !ok || ga != at || gs != sid {
			t.Fatalf("ParseSessionExpiryKey = %d %d %v", ga, gs, ok)
		}
		if ga, gt, ok := ParseMessageExpiryKey(MessageExpiryKey(at, s)); !ok || ga != at || gt != s {
			t.Fatalf("ParseMessageExpiryKey = %d %q %v", ga, gt, ok)
		}
	}
}

func TestKeyParsersReject(t *testing.T) {
	// A key of another table, or of the wrong length, never parses.
	q := QueueKey(1, 2)
	if _, _, ok := ParseInflightKey(q); ok {
		t.Error("ParseInflightKey accepted a queue key")
	}
	if _, _, ok := ParseQueueKey(q[:len(q)-1]); ok {
		t.Error("ParseQueueKey accepted a short key")
	}
	if _, ok := ParseSessionKey(QueuePrefix(1)); ok {
		t.Error("ParseSessionKey accepted a queue prefix")
	}
	if _, _, ok := ParseSubscriptionKey([]byte("f\x00")); ok {
		t.Error("ParseSubscriptionKey accepted a short key")
	}
	if _, _, ok := ParseSessionExpiryKey(MessageExpiryKey(1, "")); ok {
		t.Error("ParseSessionExpiryKey accepted a message expiry key")
	}
	if _, ok := ParseRetainedKey(nil); ok {
		t.Error("ParseRetainedKey accepted nil")
	}
	if _, ok := ParseSessionIDKey(RetainedKey("x")); ok {
		t.Error("ParseSessionIDKey accepted a retained key")
	}
	if _, _, ok := ParseInboundKey(InflightKey(1, 1)); ok {
		t.Error("ParseInboundKey accepted an inflight key")
	}
	if _, _, ok := ParseMessageExpiryKey([]byte("X")); ok {
		t.Error("ParseMessageExpiryKey accepted a short key")
	}
}

// sortedBy checks that keys, built from ascending values, sort ascending
// as bytes.
func sortedBy(t *testing.T, name string, keys [][]byte) {
	t.Helper()
	if !slices.IsSortedFunc(keys, bytes.Compare) {
		t.Errorf("%s keys do not sort in numeric order", name)
	}
}

func TestKeyOrdering(t *testing.T) {
	seqs := []uint64{0, 1, 2, 9, 10, 255, 256, 1 << 16, 1<<32 - 1, 1 << 32, 1<<63 + 5, math.MaxUint64}
	var q [][]byte
	for _, s := range seqs {
		q = append(q, QueueKey(7, s))
	}
	sortedBy(t, "queue", q)
	// Every queue key of sid 7 lies in [QueuePrefix(7), PrefixEnd(QueuePrefix(7))),
	// and sid 8 sorts after the whole of sid 7.
	lo, hi := QueuePrefix(7), PrefixEnd(QueuePrefix(7))
	for _, k := range q {
		if bytes.Compare(k, lo) < 0 || bytes.Compare(k, hi) >= 0 {
			t.Errorf("queue key %x outside its prefix range", k)
		}
	}
	if bytes.Compare(QueueKey(8, 0), hi) < 0 {
		t.Error("sid 8 sorts inside sid 7")
	}

	var pids [][]byte
	for _, p := range []uint16{0, 1, 255, 256, 65535} {
		pids = append(pids, InflightKey(3, p))
	}
	sortedBy(t, "inflight", pids)

	times := []int64{math.MinInt64, -1, 0, 1, 1700000000, math.MaxInt64}
	var xs, xm [][]byte
	for _, at := range times {
		xs = append(xs, SessionExpiryKey(at, 99))
		xm = append(xm, MessageExpiryKey(at, "a"))
	}
	sortedBy(t, "session expiry", xs)
	sortedBy(t, "message expiry", xm)
	for _, at := range times {
		b := ExpiryBound(TableSessionExpiry, at)
		if bytes.Compare(SessionExpiryKey(at, math.MaxUint64), b) >= 0 {
			t.Errorf("ExpiryBound(%d) not after every key at %d", at, at)
		}
		if at < math.MaxInt64 && bytes.Compare(SessionExpiryKey(at+1, 0), b) < 0 {
			t.Errorf("ExpiryBound(%d) after a key at %d", at, at+1)
		}
	}
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct{ in, want []byte }{
		{nil, nil},
		{[]byte{}, nil},
		{[]byte{0xff, 0xff}, nil},
		{[]byte("a"), []byte("b")},
		{[]byte{'q', 1, 0xff}, []byte{'q', 2}},
		{[]byte{'q', 0xff, 0xff}, []byte{'r'}},
	}
	for _, tt := range tests {
		in := slices.Clone(tt.in)
		if got := PrefixEnd(tt.in); !bytes.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("PrefixEnd(%x) = %x, want %x", tt.in, got, tt.want)
		}
		if !bytes.Equal(in, tt.in) {
			t.Errorf("PrefixEnd modified its argument")
		}
	}
	// The end sorts after every extension of the prefix.
	p := QueuePrefix(math.MaxUint64)
	if e := PrefixEnd(p); bytes.Compare(QueueKey(math.MaxUint64, math.MaxUint64), e) >= 0 {
		t.Errorf("PrefixEnd(%x) = %x is not after the last queue key", p, e)
	}
}
