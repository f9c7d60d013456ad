package storetest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/baram-mqtt/baram/internal/store"
)

func (h *harness) testBatchAtomicity(t *testing.T) {
	s, _ := h.openTemp(t)

	// Nothing is visible before Commit, everything after.
	b := s.NewBatch()
	b.Put([]byte("a/1"), []byte("1"))
	b.Put([]byte("a/2"), []byte("2"))
	b.Put([]byte("a/3"), []byte("3"))
	if b.Len() != 3 {
		t.Fatalf("Len = %d, want 3", b.Len())
	}
	wantMissing(t, s, "a/1")
	if got := scanKeys(t, s, []byte("a/"), nil); len(got) != 0 {
		t.Fatalf("Scan before Commit saw %q", got)
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if got := scanKeys(t, s, []byte("a/"), nil); len(got) != 3 {
		t.Fatalf("Scan after Commit saw %q, want 3 keys", got)
	}

	// A reader never sees part of a batch: every batch rewrites three keys
	// with one generation, and every scan of the three must agree.
	var stop atomic.Bool
	var wg sync.WaitGroup
	var torn atomic.Value
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				var gens [][]byte
				err := s.Scan([]byte("g/"), nil, func(_, v []byte) error {
					gens = append(gens, bytes.Clone(v))
					return nil
				})
				if err != nil {
					torn.Store(err.Error())
					return
				}
				for _, g := range gens {
					if len(gens) != 3 || !bytes.Equal(g, gens[0]) {
						torn.Store(fmt.Sprintf("torn batch: %q", gens))
						return
					}
				}
			}
		})
	}
	for gen := range 300 {
		b := s.NewBatch()
		v := []byte(fmt.Sprint(gen))
		b.Put([]byte("g/a"), v)
		b.Put([]byte("g/b"), v)
		b.Put([]byte("g/c"), v)
		if err := b.Commit(gen%50 == 0); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if msg := torn.Load(); msg != nil {
		t.Fatal(msg)
	}
}

func (h *harness) testBatchLifecycle(t *testing.T) {
	s, _ := h.openTemp(t)

	// Close discards an uncommitted batch; Commit after it fails.
	b := s.NewBatch()
	b.Put([]byte("discarded"), []byte("x"))
	b.Close()
	if err := b.Commit(true); err == nil {
		t.Fatal("Commit after Close succeeded")
	}
	wantMissing(t, s, "discarded")

	// Commit twice fails the second time; Close after Commit is safe.
	b = s.NewBatch()
	b.Put([]byte("once"), []byte("x"))
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(false); !errors.Is(err, store.ErrBatchDone) {
		t.Fatalf("second Commit: %v, want ErrBatchDone", err)
	}
	b.Close()
	b.Close()
	wantValue(t, s, "once", "x")

	// An empty batch commits.
	b = s.NewBatch()
	if b.Len() != 0 {
		t.Fatalf("Len of an empty batch = %d", b.Len())
	}
	if err := b.Commit(true); err != nil {
		t.Fatalf("empty Commit: %v", err)
	}
}

func (h *harness) testClosed(t *testing.T) {
	s := h.open(t, t.TempDir())
	commit(t, s, true, "k", "v")
	pending := s.NewBatch()
	pending.Put([]byte("late"), []byte("v"))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_ = s.Close() // a second Close must not panic; its error is free
	if _, err := s.Get([]byte("k")); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Get after Close: %v, want ErrClosed", err)
	}
	if err := s.Scan(nil, nil, func(_, _ []byte) error { return nil }); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Scan after Close: %v, want ErrClosed", err)
	}
	if err := pending.Commit(true); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Commit after Close: %v, want ErrClosed", err)
	}
	pending.Close()
	b := s.NewBatch()
	b.Put([]byte("k"), []byte("v"))
	if err := b.Commit(false); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Commit of a batch made after Close: %v, want ErrClosed", err)
	}
	b.Close()
	if err := s.Compact(nil, nil); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Compact after Close: %v, want ErrClosed", err)
	}
}

// testConcurrentCommitters runs many committers (synced and not) against
// readers; run it with -race.
func (h *harness) testConcurrentCommitters(t *testing.T) {
	s, _ := h.openTemp(t)
	const writers, commits = 16, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers*2)
	var stop atomic.Bool
	for w := range writers {
		wg.Go(func() {
			for i := range commits {
				b := s.NewBatch()
				for j := range 3 {
					b.Put(committerKey(w, i, j), committerKey(w, i, j))
				}
				if i > 0 {
					b.Delete(committerKey(w, i-1, 2))
				}
				if err := b.Commit(i%2 == 0); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for !stop.Load() {
				err := s.Scan([]byte("w"), nil, func(k, v []byte) error {
					if !bytes.Equal(k, v) {
						return fmt.Errorf("key %q has value %q", k, v)
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
				_, _ = s.Get(committerKey(0, 0, 0))
			}
		})
	}
	wg.Wait()
	stop.Store(true)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := scanKeys(t, s, []byte("w"), nil)
	if want := writers * (commits*2 + 1); len(got) != want {
		t.Fatalf("%d keys after concurrent commits, want %d", len(got), want)
	}
}

func committerKey(w, i, j int) []byte {
	k := []byte{'w', byte(w)}
	k = binary.BigEndian.AppendUint32(k, uint32(i))
	return append(k, byte(j))
}

func (h *harness) testLargeValue(t *testing.T) {
	s, dir := h.openTemp(t)
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	b := s.NewBatch()
	b.Put([]byte("big"), big)
	b.Put([]byte("small"), []byte("s"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	check := func(s store.Store) {
		got, err := s.Get([]byte("big"))
		if err != nil || !bytes.Equal(got, big) {
			t.Fatalf("Get(big): %d bytes, %v; want the 1 MiB written", len(got), err)
		}
	}
	check(s)
	if h.opts.Persistent {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		check(h.openAt(t, dir))
	}
}

func (h *harness) testManyKeys(t *testing.T) {
	s, _ := h.openTemp(t)
	const n, per = 100_000, 5_000
	val := bytes.Repeat([]byte{'m'}, 32)
	for i := 0; i < n; i += per {
		b := s.NewBatch()
		for j := i; j < i+per; j++ {
			b.Put(store.QueueKey(5, uint64(j)), val)
		}
		if err := b.Commit(false); err != nil {
			t.Fatal(err)
		}
	}
	countFrom := func(start []byte) (count int, first uint64) {
		next := uint64(0)
		err := s.Scan(store.QueuePrefix(5), start, func(k, _ []byte) error {
			_, seq, ok := store.ParseQueueKey(k)
			if !ok || (count > 0 && seq != next) {
				return fmt.Errorf("key %x out of order after seq %d", k, next-1)
			}
			if count == 0 {
				first = seq
			}
			next = seq + 1
			count++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return count, first
	}
	if c, _ := countFrom(nil); c != n {
		t.Fatalf("scan saw %d keys, want %d", c, n)
	}
	if c, f := countFrom(store.QueueKey(5, 70_000)); c != 30_000 || f != 70_000 {
		t.Fatalf("scan from 70000 saw %d keys from %d", c, f)
	}
	b := s.NewBatch()
	b.DeleteRange(store.QueuePrefix(5), store.QueueKey(5, n/2))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(store.QueuePrefix(5), store.PrefixEnd(store.QueuePrefix(5))); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	if c, f := countFrom(nil); c != n/2 || f != n/2 {
		t.Fatalf("after trim and compaction: %d keys from %d, want %d from %d", c, f, n/2, n/2)
	}
	wantMissing(t, s, string(store.QueueKey(5, 0)))
	wantValue(t, s, string(store.QueueKey(5, n-1)), string(val))
}

func (h *harness) testCompact(t *testing.T) {
	s, dir := h.openTemp(t)
	if err := s.Compact(nil, nil); err != nil {
		t.Fatalf("Compact of an empty store: %v", err)
	}
	for round := range 3 {
		b := s.NewBatch()
		for i := range 2000 {
			b.Put(store.RetainedKey(fmt.Sprintf("t/%d", i)), []byte(fmt.Sprint(round)))
		}
		b.Delete(store.RetainedKey("t/7"))
		if err := b.Commit(round == 2); err != nil {
			t.Fatal(err)
		}
		if err := s.Compact(nil, nil); err != nil {
			t.Fatalf("Compact: %v", err)
		}
	}
	if err := s.Compact([]byte("R"), []byte("S")); err != nil {
		t.Fatalf("Compact(R, S): %v", err)
	}
	if err := s.Compact([]byte("z"), []byte("a")); err != nil {
		t.Fatalf("Compact of an inverted range: %v", err)
	}
	check := func(s store.Store) {
		t.Helper()
		if got := scanKeys(t, s, store.RetainedPrefix(), nil); len(got) != 1999 {
			t.Fatalf("%d retained keys after compactions, want 1999", len(got))
		}
		wantValue(t, s, string(store.RetainedKey("t/1999")), "2")
		wantMissing(t, s, string(store.RetainedKey("t/7")))
	}
	check(s)
	if h.opts.Persistent {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		check(h.openAt(t, dir))
	}
}

func (h *harness) testReopen(t *testing.T) {
	dir := t.TempDir()
	s := h.open(t, dir)
	commit(t, s, true, "synced", "1", "q/1", "a", "q/2", "b", "q/3", "c")
	commit(t, s, false, "unsynced", "2")
	b := s.NewBatch()
	b.Delete([]byte("q/2"))
	b.DeleteRange([]byte("q/3"), []byte("q/4"))
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for round := range 2 {
		s = h.open(t, dir)
		wantValue(t, s, "synced", "1")
		wantValue(t, s, "unsynced", "2") // Close flushes
		if got := scanKeys(t, s, []byte("q/"), nil); len(got) != 1 || got[0] != "q/1" {
			t.Fatalf("round %d: queue after reopen = %q, want [q/1]", round, got)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}
