package broker

import (
	"encoding/binary"
	"time"

	"github.com/baram-mqtt/baram/internal/session"
	"github.com/baram-mqtt/baram/internal/store"
)

// syncKey is rewritten by the batch syncer: a synced commit of it makes
// every earlier unsynced commit durable too.
var syncKey = append([]byte{store.TableMeta}, "last-sync"...)

// startSyncer runs the SyncBatch fsync loop until Shutdown; b.bg owns it.
func (b *Broker) startSyncer() {
	interval := b.opts.SyncInterval
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-b.stop:
				b.syncNow()
				return
			case <-tick.C:
				b.syncNow()
			}
		}
	}()
}

// syncNow forces what was committed so far onto stable storage.
func (b *Broker) syncNow() {
	batch := b.store.NewBatch()
	defer batch.Close()
	batch.Put(syncKey, binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano())))
	if err := batch.Commit(true); err != nil {
		b.log.Error("store: periodic sync failed", "err", err)
	}
}

// sweepInterval is how often expired messages are removed from the store.
const sweepInterval = 5 * time.Minute

// compactEvery is how many sweeps pass between manual compactions of the
// queue table, which give back the disk space of trimmed queues sooner
// than Pebble's own compactions would.
const compactEvery = 12

// startSweeper runs the expiry sweep until Shutdown; b.bg owns it.
func (b *Broker) startSweeper() {
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		tick := time.NewTicker(sweepInterval)
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-b.stop:
				return
			case <-tick.C:
				b.sweep(time.Now(), n%compactEvery == 0)
			}
		}
	}()
}

// sweep deletes expired retained messages and expired messages queued for
// offline sessions, and compacts when asked.
func (b *Broker) sweep(now time.Time, compact bool) {
	start := time.Now()
	retained := b.sweepRetained(now)
	queued := 0
	b.sessions.Range(func(_, v any) bool {
		queued += v.(*entry).sess.SweepExpired(now)
		return true
	})
	if compact {
		q := []byte{store.TableQueue}
		if err := b.store.Compact(q, store.PrefixEnd(q)); err != nil {
			b.log.Warn("store: compaction failed", "err", err)
		}
	}
	b.stats.dropExpired.Add(uint64(retained + queued))
	if retained+queued > 0 || compact {
		b.log.Info("expired messages removed", "retained", retained, "queued", queued,
			"compacted", compact, "took", time.Since(start).Round(time.Millisecond))
	}
}

// sweepRetained removes expired retained messages from index and store.
func (b *Broker) sweepRetained(now time.Time) int {
	var expired []string
	b.retained.Range(func(name string, m *session.Message) bool {
		if m.Expired(now) {
			expired = append(expired, name)
		}
		return true
	})
	if len(expired) == 0 {
		return 0
	}
	batch := b.store.NewBatch()
	defer batch.Close()
	for _, name := range expired {
		batch.Delete(store.RetainedKey(name))
	}
	if err := batch.Commit(false); err != nil {
		b.log.Error("store: deleting expired retained messages failed", "err", err)
		return 0
	}
	for _, name := range expired {
		if m, ok := b.retained.Get(name); ok && m.Expired(now) {
			b.retained.Delete(name)
		}
	}
	return len(expired)
}
