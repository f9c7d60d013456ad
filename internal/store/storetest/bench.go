package storetest

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/store"
)

// BenchOptions add engine-specific figures to the shared benchmarks.
type BenchOptions struct {
	// Syncs, if set, returns how many fsyncs (or synced transactions) the
	// store has issued so far; the commit benchmark reports them per
	// commit.
	Syncs func(s store.Store) int64
}

// BenchmarkCommit measures Commit(true) of a 3-key batch (the stored
// message, its queue entry and an index entry: about 300 bytes) from 1, 10
// and 100 goroutines sharing one store, and reports commits/s.
func BenchmarkCommit(b *testing.B, open Opener, opts BenchOptions) {
	for _, workers := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("goroutines=%d", workers), func(b *testing.B) {
			s := open(b, b.TempDir())
			defer s.Close()
			val := bytes.Repeat([]byte{'p'}, 256)
			var ctr atomic.Int64
			var failed atomic.Value
			var syncs0 int64
			if opts.Syncs != nil {
				syncs0 = opts.Syncs(s)
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for {
						i := ctr.Add(1)
						if i > int64(b.N) {
							return
						}
						bt := s.NewBatch()
						bt.Put(store.QueueKey(uint64(w), uint64(i)), val)
						bt.Put(store.InflightKey(uint64(w), uint16(i)), val[:16])
						bt.Put(store.SessionKey(uint64(w)), val[:32])
						if err := bt.Commit(true); err != nil {
							failed.Store(err)
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			if err := failed.Load(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "commits/s")
			if opts.Syncs != nil {
				b.ReportMetric(float64(opts.Syncs(s)-syncs0)/float64(b.N), "syncs/commit")
			}
		})
	}
}

// BenchmarkScan measures a Scan of a session queue of 10,000 messages of
// 128 bytes, and reports keys/s.
func BenchmarkScan(b *testing.B, open Opener) {
	const n = 10_000
	s := open(b, b.TempDir())
	defer s.Close()
	val := bytes.Repeat([]byte{'m'}, 128)
	bt := s.NewBatch()
	for i := range n {
		bt.Put(store.QueueKey(1, uint64(i)), val)
		bt.Put(store.QueueKey(2, uint64(i)), val) // a neighbour the scan skips
	}
	if err := bt.Commit(true); err != nil {
		b.Fatal(err)
	}
	if err := s.Compact(nil, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	start := time.Now()
	iters := 0
	for b.Loop() {
		iters++
		count := 0
		err := s.Scan(store.QueuePrefix(1), nil, func(_, v []byte) error {
			count += len(v) / len(val)
			return nil
		})
		if err != nil || count != n {
			b.Fatalf("scan: %d keys, %v", count, err)
		}
	}
	b.ReportMetric(float64(iters)*n/time.Since(start).Seconds(), "keys/s")
}
