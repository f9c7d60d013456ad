package bench

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
	"github.com/baram-mqtt/baram/internal/session"
	"github.com/baram-mqtt/baram/internal/store"
)

// SeedConfig describes offline persistent MQTT 3.1.1 sessions, each with
// one QoS 1 subscription and a queue of QoS 1 messages, for Seed to write
// straight into a store: what a broker would hold after Sessions clients
// subscribed with clean session 0, disconnected, and Messages messages
// matched each of them.
type SeedConfig struct {
	// Sessions is the number of sessions; their client ids are
	// ClientIDPrefix followed by the index (default "seed-").
	Sessions       int
	ClientIDPrefix string
	// Messages is the number of queued messages per session.
	Messages int
	// PayloadSize of each message; 64. Payloads carry a stamp (run RunID,
	// publisher 0, sequence 0..Messages-1) so a subscriber that drains a
	// session can check it got them all.
	PayloadSize int
	RunID       uint32
	// RandomPayload fills each payload after its stamp with random bytes
	// instead of 'x', so that the store cannot compress it away.
	RandomPayload bool
	// Filter each session subscribes to; "seed/#". Topic of the queued
	// messages; "seed/t".
	Filter, Topic string
	// BatchBytes is how much one (unsynced) commit carries; 4 MiB. The
	// last commit is synced.
	BatchBytes int
}

// SeedStats is what Seed wrote.
type SeedStats struct {
	Sessions int           `json:"sessions"`
	Messages int64         `json:"queued_messages"`
	Bytes    int64         `json:"bytes"` // keys and values
	Took     time.Duration `json:"took_ns"`
}

// Seed writes cfg's sessions into st through the store's key layout and
// record encodings, the same ones the broker writes (store.SessionIDKey,
// SessionKey, SubscriptionKey, QueueKey; session.MarshalMessage), with
// session numbers from 1. st should be empty. The sessions never expire
// and went offline now.
func Seed(st store.Store, cfg SeedConfig) (SeedStats, error) {
	if cfg.ClientIDPrefix == "" {
		cfg.ClientIDPrefix = "seed-"
	}
	if cfg.PayloadSize == 0 {
		cfg.PayloadSize = 64
	}
	if cfg.Filter == "" {
		cfg.Filter = "seed/#"
	}
	if cfg.Topic == "" {
		cfg.Topic = "seed/t"
	}
	if cfg.BatchBytes == 0 {
		cfg.BatchBytes = 4 << 20
	}
	if cfg.Sessions < 0 || cfg.Messages < 0 || cfg.PayloadSize < 0 {
		return SeedStats{}, fmt.Errorf("bench: seed: negative size in %+v", cfg)
	}
	start := time.Now()
	var stats SeedStats
	batch := st.NewBatch()
	defer func() { batch.Close() }()
	pending := 0
	commit := func(sync bool) error {
		if err := batch.Commit(sync); err != nil {
			return fmt.Errorf("bench: seed: %w", err)
		}
		batch = st.NewBatch()
		pending = 0
		return nil
	}
	put := func(k, v []byte) error {
		batch.Put(k, v)
		n := len(k) + len(v)
		stats.Bytes += int64(n)
		pending += n
		if pending >= cfg.BatchBytes {
			return commit(false)
		}
		return nil
	}
	payload := filler(cfg.PayloadSize)
	rng := rand.New(rand.NewPCG(uint64(cfg.RunID), 1))
	sub := store.MarshalSubscription(&store.SubscriptionRecord{QoS: 1})
	offline := time.Now().Unix()
	var key []byte
	for i := range cfg.Sessions {
		sid := uint64(i + 1)
		id := cfg.ClientIDPrefix + strconv.Itoa(i)
		rec := store.MarshalSession(&store.SessionRecord{ClientID: id, Version: packet.V311,
			Expiry: store.NeverExpire, DisconnectedAt: offline})
		if err := put(store.SessionIDKey(id), store.SessionKey(sid)[1:]); err != nil {
			return stats, err
		}
		if err := put(store.SessionKey(sid), rec); err != nil {
			return stats, err
		}
		if err := put(store.SubscriptionKey(sid, cfg.Filter), sub); err != nil {
			return stats, err
		}
		for seq := range cfg.Messages {
			if len(payload) >= PayloadHeader {
				putStamp(payload, stamp{run: cfg.RunID, seq: uint64(seq), sent: time.Now().UnixNano()})
			}
			if cfg.RandomPayload {
				fillRandom(rng, payload[min(PayloadHeader, len(payload)):])
			}
			m := &session.Message{Topic: cfg.Topic, Payload: payload, QoS: 1, From: "seed-publisher"}
			v := store.MarshalQueue(&store.QueueRecord{QoS: 1, Message: session.MarshalMessage(nil, m)})
			key = store.AppendQueueKey(key[:0], sid, uint64(seq+1))
			if err := put(key, v); err != nil {
				return stats, err
			}
			stats.Messages++
		}
		stats.Sessions++
	}
	if err := commit(true); err != nil {
		return stats, err
	}
	stats.Took = time.Since(start)
	return stats, nil
}

// fillRandom fills b with pseudo-random bytes.
func fillRandom(rng *rand.Rand, b []byte) {
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, rng.Uint64())
		b = b[8:]
	}
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}
