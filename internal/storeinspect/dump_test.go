package storeinspect

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/baram-mqtt/baram/internal/store"
)

func dump(t *testing.T, st store.Store, o DumpOptions) (string, int) {
	t.Helper()
	var out bytes.Buffer
	bad, err := Dump(st, &out, o)
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), bad
}

const fixtureDump = `session client_id=sensor-1 sid=1 version=5 expiry=1h0m0s disconnected_at=2026-01-02T03:04:05Z will_topic=dev/sensor-1/status will_delay=30s
  subscription filter=$share/g/cmd/+ qos=2 no_local=true retain_handling=2
  subscription filter=sensors/# qos=1 id=3
  queued seq=1 topic=sensors/a qos=1 size=4 payload=21.5
  queued seq=2 topic=sensors/b qos=2 size=4 payload=hex:000102ff
  queued seq=3 topic=cmd/x qos=1 size=43 payload="the quick brown fox jumps over t..." expires=2026-01-02T04:04:05.000Z
  inflight packet_id=1 seq=1 phase=await_ack
  inflight packet_id=2 seq=2 phase=await_comp
  inbound_qos2 packet_id=7
session client_id=cam sid=2 version=4 expiry=never
  subscription filter=cam/+/cmd qos=0
retained topic=sensors/a qos=0 size=6 payload="19 °C"
retained topic=status/a qos=1 size=2 payload=on
`

func TestDump(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := newStore()
			fixture(t, st)
			if out, bad := dump(t, st, DumpOptions{}); out != fixtureDump || bad != 0 {
				t.Errorf("Dump = %d bad,\n%s\nwant:\n%s", bad, out, fixtureDump)
			}
		})
	}
}

func TestDumpFilters(t *testing.T) {
	st := stores(t)["memory"]()
	fixture(t, st)
	tests := []struct {
		name string
		o    DumpOptions
		want string
	}{
		{"client", DumpOptions{Client: "cam"},
			"session client_id=cam sid=2 version=4 expiry=never\n  subscription filter=cam/+/cmd qos=0\n"},
		{"unknown client", DumpOptions{Client: "nobody"}, ""},
		{"topic", DumpOptions{Topic: "sensors/+"}, `session client_id=sensor-1 sid=1 version=5 expiry=1h0m0s disconnected_at=2026-01-02T03:04:05Z will_topic=dev/sensor-1/status will_delay=30s
  subscription filter=$share/g/cmd/+ qos=2 no_local=true retain_handling=2
  subscription filter=sensors/# qos=1 id=3
  queued seq=1 topic=sensors/a qos=1 size=4 payload=21.5
  queued seq=2 topic=sensors/b qos=2 size=4 payload=hex:000102ff
  inflight packet_id=1 seq=1 phase=await_ack
  inflight packet_id=2 seq=2 phase=await_comp
  inbound_qos2 packet_id=7
session client_id=cam sid=2 version=4 expiry=never
  subscription filter=cam/+/cmd qos=0
retained topic=sensors/a qos=0 size=6 payload="19 °C"
`},
		{"client and topic", DumpOptions{Client: "sensor-1", Topic: "cmd/#"}, `session client_id=sensor-1 sid=1 version=5 expiry=1h0m0s disconnected_at=2026-01-02T03:04:05Z will_topic=dev/sensor-1/status will_delay=30s
  subscription filter=$share/g/cmd/+ qos=2 no_local=true retain_handling=2
  subscription filter=sensors/# qos=1 id=3
  queued seq=3 topic=cmd/x qos=1 size=43 payload="the quick brown fox jumps over t..." expires=2026-01-02T04:04:05.000Z
  inflight packet_id=1 seq=1 phase=await_ack
  inflight packet_id=2 seq=2 phase=await_comp
  inbound_qos2 packet_id=7
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if out, _ := dump(t, st, tt.o); out != tt.want {
				t.Errorf("Dump(%+v) =\n%s\nwant:\n%s", tt.o, out, tt.want)
			}
		})
	}
}

func TestDumpJSON(t *testing.T) {
	st := stores(t)["memory"]()
	fixture(t, st)
	out, _ := dump(t, st, DumpOptions{JSON: true})
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != strings.Count(fixtureDump, "\n") {
		t.Fatalf("JSON dump has %d lines, text %d:\n%s", len(lines), strings.Count(fixtureDump, "\n"), out)
	}
	var objs []map[string]any
	for _, l := range lines {
		var o map[string]any
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		objs = append(objs, o)
	}
	if want := `{"kind":"session","client_id":"sensor-1","sid":1,"version":5,"expiry":"1h0m0s","disconnected_at":"2026-01-02T03:04:05Z","will_topic":"dev/sensor-1/status","will_delay":"30s"}`; lines[0] != want {
		t.Errorf("first line:\n got %s\nwant %s", lines[0], want)
	}
	q := objs[3]
	if q["kind"] != "queued" || q["client_id"] != "sensor-1" || q["sid"] != 1.0 || q["seq"] != 1.0 ||
		q["topic"] != "sensors/a" || q["payload"] != "21.5" || q["size"] != 4.0 {
		t.Errorf("queued object = %v", q)
	}
	if r := objs[len(objs)-1]; r["kind"] != "retained" || r["topic"] != "status/a" || r["client_id"] != nil {
		t.Errorf("retained object = %v", r)
	}
}

func TestDumpCorrupt(t *testing.T) {
	st := stores(t)["memory"]()
	w := newWriter(t, st)
	w.put(store.SessionKey(5), []byte{1})
	w.put(store.QueueKey(5, 1), []byte("junk"))
	w.put(store.SubscriptionKey(5, "a"), nil)
	w.put(store.InflightKey(5, 1), nil)
	w.put(store.RetainedKey("r"), []byte("junk"))
	w.put(store.SessionKey(6), store.MarshalSession(&store.SessionRecord{ClientID: "w", Version: 5, Will: []byte("junk")}))
	w.commit()
	out, bad := dump(t, st, DumpOptions{})
	want := `session sid=5 error="session record: store: malformed record: short byte"
  subscription filter=a error="subscription record: store: malformed record: short byte"
  queued seq=1 error="queue record: store: malformed record: record format 106 is newer than this baram (1): upgrade baram"
  inflight packet_id=1 error="inflight record: store: malformed record: short byte"
session client_id=w sid=6 version=5 expiry=0s error="will message: unknown format"
retained topic=r error="message: unknown format"
`
	if out != want || bad != 6 {
		t.Errorf("Dump of corrupt records = %d bad,\n%s\nwant 6:\n%s", bad, out, want)
	}
	if out, _ := dump(t, st, DumpOptions{Client: "w"}); !strings.HasPrefix(out, "session client_id=w ") {
		t.Errorf("Dump --client w =\n%s", out)
	}
}

func TestPreview(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"21.5", "21.5"},
		{"hello world", "hello world"},
		{strings.Repeat("a", 32), strings.Repeat("a", 32)},
		{strings.Repeat("a", 33), strings.Repeat("a", 32) + "..."},
		{strings.Repeat("a", 31) + "é", strings.Repeat("a", 31) + "..."}, // é is 2 bytes: not split
		{"\x00\x01", "hex:0001"},
		{"line\nbreak", "hex:6c696e650a627265616b"},
		{strings.Repeat("\xff", 20), "hex:" + strings.Repeat("ff", 16) + "..."},
	}
	for _, tt := range tests {
		if got := preview([]byte(tt.in)); got != tt.want {
			t.Errorf("preview(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFormatKey(t *testing.T) {
	tests := []struct {
		key  []byte
		want string
	}{
		{store.SessionIDKey("a b"), `c client_id="a b"`},
		{store.SessionKey(7), "s sid=7"},
		{store.SubscriptionKey(7, "a/+"), `f sid=7 filter="a/+"`},
		{store.QueueKey(7, 9), "q sid=7 seq=9"},
		{store.InflightKey(7, 3), "i sid=7 packet_id=3"},
		{store.InboundKey(7, 3), "r sid=7 packet_id=3"},
		{store.RetainedKey("t"), `R topic="t"`},
		{store.SessionExpiryKey(0, 7), "x at=1970-01-01T00:00:00Z sid=7"},
		{store.MessageExpiryKey(-1, "t"), `X at=1969-12-31T23:59:59Z topic="t"`},
		{store.SchemaKey(), `m "schema"`},
		{[]byte("q1"), "hex 7131"},
		{nil, "(empty key)"},
	}
	for _, tt := range tests {
		if got := FormatKey(tt.key); got != tt.want {
			t.Errorf("FormatKey(%x) = %q, want %q", tt.key, got, tt.want)
		}
	}
}
