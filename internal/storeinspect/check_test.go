package storeinspect

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/baram-mqtt/baram/internal/session"
	"github.com/baram-mqtt/baram/internal/store"
)

func check(t *testing.T, st store.Store) (*Report, string) {
	t.Helper()
	r, err := Check(st)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := r.Write(&out); err != nil {
		t.Fatal(err)
	}
	return r, out.String()
}

func TestCheckClean(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := newStore()
			fixture(t, st)
			r, out := check(t, st)
			want := `sessions         2
subscriptions    3
queued messages  3 (74 bytes of topic and payload)
inflight         2
inbound QoS 2    1
retained         2
expiry entries   1
problems         0
`
			if out != want || r.NumProblems() != 0 {
				t.Errorf("Check of a clean store:\n%s\nwant:\n%s", out, want)
			}
		})
	}
}

func TestCheckEmpty(t *testing.T) {
	st := stores(t)["memory"]()
	r, _ := check(t, st)
	if !reflect.DeepEqual(*r, Report{}) {
		t.Errorf("Check of an empty store = %+v", r)
	}
}

func TestCheckFindsProblems(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := newStore()
			fixture(t, st)
			w := newWriter(t, st)
			// Corrupt records.
			w.put(store.QueueKey(1, 4), store.MarshalQueue(&store.QueueRecord{QoS: 1, Message: []byte("not a message")}))
			w.put(store.RetainedKey("bad"), []byte{9, 9})
			w.put(store.RetainedKey("moved"), session.MarshalMessage(nil, &session.Message{Topic: "elsewhere"}))
			w.put(store.SubscriptionKey(2, "a/#/b"), store.MarshalSubscription(&store.SubscriptionRecord{}))
			w.put(store.InflightKey(2, 1), []byte{1, 2})
			w.put(store.SessionIDKey("short"), []byte{1})
			// Dangling references.
			w.sub(9, "x/#", store.SubscriptionRecord{}).sub(9, "y", store.SubscriptionRecord{})
			w.queue(9, 1, 0, &session.Message{Topic: "x/1"})
			w.inflight(1, 3, 99, session.AwaitAck)
			w.put(store.InboundKey(10, 1), nil)
			w.put(store.SessionIDKey("ghost"), sidValue(42))
			w.put(store.SessionIDKey("cam"), sidValue(1)) // cam's session is 2
			w.sess("orphan", 3, store.SessionRecord{Version: 5}).put(store.SessionIDKey("orphan"), sidValue(4))
			w.sess("x", 4, store.SessionRecord{Version: 5}).put(store.SessionIDKey("x"), sidValue(4))
			// Unknown table and malformed keys.
			w.put([]byte("zebra"), nil)
			w.put([]byte{store.TableSession, 1, 2}, nil)
			w.put([]byte{store.TableSessionExpiry, 1}, nil)
			w.commit()

			r, out := check(t, st)
			want := []string{
				`problem: R topic="bad": retained message: unknown format`,
				`problem: R topic="moved": retained message has topic "elsewhere"`,
				`problem: c client_id="cam": maps to session 1, whose record is of client "sensor-1"`,
				`problem: c client_id="ghost": maps to session 42, which has no record (s sid=42)`,
				`problem: c client_id="orphan": maps to session 4, whose record is of client "x"`,
				`problem: c client_id="short": session id record: store: malformed record: session number is 1 bytes, want 8`,
				`problem: f sid=2 filter="a/#/b": invalid filter: `,
				`problem: f sid=9 filter="x/#": 2 subscriptions of session 9, which has no record (s sid=9)`,
				`problem: i sid=1 packet_id=3: its queued message is missing (q sid=1 seq=99)`,
				`problem: i sid=2 packet_id=1: inflight record: store: malformed record: short uint64`,
				`problem: q sid=1 seq=4: queued message: unknown format`,
				`problem: q sid=9 seq=1: 1 queued message of session 9, which has no record (s sid=9)`,
				`problem: r sid=10 packet_id=1: 1 inbound QoS 2 record of session 10, which has no record (s sid=10)`,
				`problem: s sid=2: session of client "cam" is unreachable: c client_id="cam" maps to session 1`,
				`problem: s sid=3: session of client "orphan" is unreachable: c client_id="orphan" maps to session 4`,
				`problem: hex 730102: malformed session key`,
				`problem: hex 7801: malformed expiry index key`,
				`problem: hex 7a65627261: unknown table 'z'`,
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			var got []string
			for _, l := range lines {
				if strings.HasPrefix(l, "problem:") {
					got = append(got, l)
				}
			}
			if len(got) != len(want) || r.NumProblems() != len(want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(want), out)
			}
			for i := range want {
				if !strings.HasPrefix(got[i], want[i]) {
					t.Errorf("problem %d:\n got %s\nwant %s", i, got[i], want[i])
				}
			}
			if !strings.Contains(out, "problems         18\n") {
				t.Errorf("summary lacks the problem count:\n%s", out)
			}
		})
	}
}

func TestCheckCapsProblems(t *testing.T) {
	st := stores(t)["memory"]()
	w := newWriter(t, st)
	for i := range MaxProblems + 5 {
		w.put([]byte{'z', byte(i >> 8), byte(i)}, nil)
	}
	w.commit()
	r, out := check(t, st)
	if len(r.Problems) != MaxProblems || r.MoreProblems != 5 || r.NumProblems() != MaxProblems+5 ||
		!strings.HasSuffix(out, "\n... and 5 more problems\n") {
		t.Errorf("Check listed %d and counted %d more problems; output ends %q",
			len(r.Problems), r.MoreProblems, out[max(0, len(out)-60):])
	}
}
