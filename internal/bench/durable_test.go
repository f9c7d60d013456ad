package bench_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/bench"
	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/store"
	"github.com/baram-mqtt/baram/internal/store/open"
)

// startStored runs a broker in-process over a store of the given kind
// ("pebble" in a temporary directory, or "memory") with the given sync
// mode until the benchmark ends, with no queue cap. Its commits are
// counted in the returned countingStore.
func startStored(tb testing.TB, kind string, sync broker.SyncMode) (string, *countingStore) {
	tb.Helper()
	log := slog.New(slog.DiscardHandler)
	st, err := open.Open(kind, tb.TempDir(), open.Options{Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	cs := &countingStore{Store: st}
	b, err := broker.Open(broker.Options{Logger: log, AllowAnonymous: true, Store: cs, Sync: sync})
	if err != nil {
		st.Close()
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- b.Serve(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			tb.Error(err)
		}
		<-served
		if err := st.Close(); err != nil {
			tb.Error(err)
		}
	})
	return ln.Addr().String(), cs
}

// countingStore counts the commits that reach the store, the operations
// they carry and how long the synced ones take.
type countingStore struct {
	store.Store
	mu      sync.Mutex
	commits int64
	ops     int64
	synced  bench.Histogram
}

func (c *countingStore) NewBatch() store.Batch {
	return &countingBatch{Batch: c.Store.NewBatch(), s: c}
}

func (c *countingStore) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.commits, c.ops, c.synced = 0, 0, bench.Histogram{}
}

type countingBatch struct {
	store.Batch
	s *countingStore
}

func (b *countingBatch) Commit(sync bool) error {
	n := b.Len()
	start := time.Now()
	err := b.Batch.Commit(sync)
	took := time.Since(start)
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	b.s.commits++
	b.s.ops += int64(n)
	if sync {
		b.s.synced.Record(took)
	}
	return err
}

// BenchmarkDurable publishes 64-byte QoS 1 messages with a window of 10
// to an in-process broker on Pebble (sync always) or in memory, with and
// without a persistent subscriber that stays offline (every message is
// queued in the store). One op is one acknowledged message.
//
//	go test -run '^$' -bench 'Durable/pebble/offline/pubs=100' -benchtime 200000x \
//	    -cpuprofile /tmp/cpu.out ./internal/bench/
func BenchmarkDurable(b *testing.B) {
	stores := []struct {
		name string
		kind string
		sync broker.SyncMode
	}{
		{"pebble", open.Pebble, broker.SyncAlways},
		{"pebble-nosync", open.Pebble, broker.SyncNone},
		{"memory", open.Memory, broker.SyncAlways},
	}
	for _, st := range stores {
		for _, offline := range []bool{false, true} {
			for _, pubs := range []int{1, 10, 100} {
				name := fmt.Sprintf("%s/%s/pubs=%d", st.name, map[bool]string{false: "nosub", true: "offline"}[offline], pubs)
				b.Run(name, func(b *testing.B) { benchDurable(b, st.kind, st.sync, offline, pubs) })
			}
		}
	}
}

func benchDurable(b *testing.B, kind string, sync broker.SyncMode, offline bool, pubs int) {
	addr, cs := startStored(b, kind, sync)
	ctx := context.Background()
	target := bench.Target{Addr: addr}
	if offline {
		sr, err := bench.StartSub(ctx, bench.SubConfig{Target: target, QoS: 1, Persistent: true, ClientIDPrefix: "offline-"})
		if err != nil {
			b.Fatal(err)
		}
		sr.Close()
	}
	cs.reset()
	per := max(b.N/pubs, 1)
	b.ResetTimer()
	pr, err := bench.Pub(ctx, bench.PubConfig{Target: target, Publishers: pubs, QoS: 1, Count: per, Window: 10,
		Duration: bench.MaxRunTime})
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if len(pr.Errors) > 0 || pr.Acked != int64(per*pubs) {
		b.Fatalf("acked %d of %d: %v", pr.Acked, per*pubs, pr.Errors)
	}
	b.ReportMetric(pr.Rate, "msgs/s")
	b.ReportMetric(pr.Latency.P50Ms, "p50-ms")
	b.ReportMetric(pr.Latency.P99Ms, "p99-ms")
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.commits > 0 {
		b.ReportMetric(float64(cs.ops)/float64(cs.commits), "puts/commit")
		b.ReportMetric(float64(pr.Acked)/float64(cs.commits), "msgs/commit")
	}
	if cs.synced.Count() > 0 {
		s := cs.synced.Summary()
		b.ReportMetric(s.P50Ms, "commit-p50-ms")
		b.ReportMetric(s.P99Ms, "commit-p99-ms")
	}
}
