package storeinspect

import (
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
	"github.com/baram-mqtt/baram/internal/session"
	"github.com/baram-mqtt/baram/internal/store"
	"github.com/baram-mqtt/baram/internal/store/memstore"
	"github.com/baram-mqtt/baram/internal/store/open"
)

// stores returns an empty store of each kind to run a test on: memory,
// and the platform's default engine in a temporary directory.
func stores(t *testing.T) map[string]func() store.Store {
	return map[string]func() store.Store{
		"memory": func() store.Store {
			s := memstore.New()
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
		open.Default: func() store.Store {
			s, err := open.Open(open.Default, filepath.Join(t.TempDir(), "data"), open.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
	}
}

// writer stages records in one batch, as the broker writes them.
type writer struct {
	t *testing.T
	b store.Batch
}

func newWriter(t *testing.T, st store.Store) *writer { return &writer{t, st.NewBatch()} }

func (w *writer) put(k, v []byte) *writer { w.b.Put(k, v); return w }

func (w *writer) commit() {
	w.t.Helper()
	if err := w.b.Commit(true); err != nil {
		w.t.Fatal(err)
	}
}

// sidValue is the value of a 'c' key.
func sidValue(sid uint64) []byte { return binary.BigEndian.AppendUint64(nil, sid) }

// sess adds a session and its 'c' entry.
func (w *writer) sess(clientID string, sid uint64, r store.SessionRecord) *writer {
	r.ClientID = clientID
	return w.put(store.SessionIDKey(clientID), sidValue(sid)).put(store.SessionKey(sid), store.MarshalSession(&r))
}

func (w *writer) sub(sid uint64, filter string, r store.SubscriptionRecord) *writer {
	return w.put(store.SubscriptionKey(sid, filter), store.MarshalSubscription(&r))
}

func (w *writer) queue(sid, seq uint64, qos byte, m *session.Message) *writer {
	return w.put(store.QueueKey(sid, seq), store.MarshalQueue(&store.QueueRecord{QoS: qos, Message: session.MarshalMessage(nil, m)}))
}

func (w *writer) inflight(sid uint64, id uint16, seq uint64, p session.Phase) *writer {
	return w.put(store.InflightKey(sid, id), store.MarshalInflight(&store.InflightRecord{Seq: seq, Phase: byte(p)}))
}

func (w *writer) retain(m *session.Message) *writer {
	return w.put(store.RetainedKey(m.Topic), session.MarshalMessage(nil, m))
}

// disconnected is when sensor-1 went offline in the fixture.
var disconnected = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fixture writes a consistent store: two sessions with subscriptions, a
// queue, inflight and inbound QoS 2 state, and two retained messages.
func fixture(t *testing.T, st store.Store) {
	t.Helper()
	will := session.MarshalMessage(nil, &session.Message{Topic: "dev/sensor-1/status", Payload: []byte("gone"), QoS: 1})
	w := newWriter(t, st)
	w.sess("sensor-1", 1, store.SessionRecord{Version: 5, Expiry: 3600, DisconnectedAt: disconnected.Unix(), WillDelay: 30, Will: will})
	w.sub(1, "sensors/#", store.SubscriptionRecord{QoS: 1, ID: 3})
	w.sub(1, "$share/g/cmd/+", store.SubscriptionRecord{QoS: 2, NoLocal: true, RetainHandling: 2})
	w.queue(1, 1, 1, &session.Message{Topic: "sensors/a", Payload: []byte("21.5"), QoS: 1, From: "pub"})
	w.queue(1, 2, 2, &session.Message{Topic: "sensors/b", Payload: []byte{0, 1, 2, 0xff}, QoS: 2,
		Props: packet.Properties{ContentType: "application/octet-stream"}})
	w.queue(1, 3, 1, &session.Message{Topic: "cmd/x", Payload: []byte("the quick brown fox jumps over the lazy dog"), QoS: 1,
		Expiry: disconnected.Add(time.Hour)})
	w.inflight(1, 1, 1, session.AwaitAck).inflight(1, 2, 2, session.AwaitComp)
	w.put(store.InboundKey(1, 7), nil)
	w.put(store.SessionExpiryKey(disconnected.Unix()+3600, 1), nil)
	w.sess("cam", 2, store.SessionRecord{Version: 4, Expiry: store.NeverExpire})
	w.sub(2, "cam/+/cmd", store.SubscriptionRecord{})
	w.retain(&session.Message{Topic: "status/a", Payload: []byte("on"), QoS: 1, Retain: true})
	w.retain(&session.Message{Topic: "sensors/a", Payload: []byte("19 °C"), Retain: true})
	w.put(store.SchemaKey(), []byte{1})
	w.commit()
}
