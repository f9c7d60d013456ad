// Package storetest is the one conformance suite every store.Store
// implementation passes, plus the fault-injecting wrapper (Faulty) and the
// shared benchmarks. An implementation's test calls Run as the first
// statement of its test function:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(tb testing.TB, dir string) store.Store {
//			s, err := pebblestore.Open(dir, pebblestore.Options{})
//			if err != nil {
//				tb.Fatal(err)
//			}
//			return s
//		}, storetest.Options{Persistent: true})
//	}
//
// Run must come first because the crash tests re-execute the test binary
// with only that test function selected, and Run then plays the child that
// is killed.
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/baram-mqtt/baram/internal/store"
)

// Opener opens (or creates) the store kept in dir, failing tb on error.
// Memory stores ignore dir.
type Opener func(tb testing.TB, dir string) store.Store

// Options tell Run what the implementation promises.
type Options struct {
	// Persistent engines keep committed data across Close and reopen, and
	// across a crash; Run then tests both.
	Persistent bool
	// CrashRounds is the number of kill-and-recover rounds for a
	// persistent engine; 0 means 10, negative skips the crash test.
	CrashRounds int
}

// Run runs the conformance suite against the stores that open returns.
func Run(t *testing.T, open Opener, opts Options) {
	if dir := os.Getenv(childEnv); dir != "" {
		runCrashChild(t, open, dir)
		return
	}
	h := &harness{open: open, opts: opts}
	t.Run("GetPutDelete", h.testGetPutDelete)
	t.Run("Scan", h.testScan)
	t.Run("ScanWhileWriting", h.testScanWhileWriting)
	t.Run("DeleteRange", h.testDeleteRange)
	t.Run("BatchAtomicity", h.testBatchAtomicity)
	t.Run("BatchLifecycle", h.testBatchLifecycle)
	t.Run("Closed", h.testClosed)
	t.Run("ConcurrentCommitters", h.testConcurrentCommitters)
	t.Run("LargeValue", h.testLargeValue)
	t.Run("ManyKeys", h.testManyKeys)
	t.Run("Compact", h.testCompact)
	t.Run("FailedCommit", h.testFailedCommit)
	if opts.Persistent {
		t.Run("Reopen", h.testReopen)
		if opts.CrashRounds >= 0 {
			t.Run("Crash", h.testCrash)
		}
	}
}

type harness struct {
	open Opener
	opts Options
}

// openAt opens the store in dir and closes it when the test ends, unless
// the test closed it already.
func (h *harness) openAt(tb testing.TB, dir string) store.Store {
	tb.Helper()
	s := h.open(tb, dir)
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func (h *harness) openTemp(tb testing.TB) (store.Store, string) {
	tb.Helper()
	dir := tb.TempDir()
	return h.openAt(tb, dir), dir
}

// commit stages puts of alternating key, value pairs and commits them.
func commit(tb testing.TB, s store.Store, sync bool, kv ...string) {
	tb.Helper()
	b := s.NewBatch()
	defer b.Close()
	for i := 0; i+1 < len(kv); i += 2 {
		b.Put([]byte(kv[i]), []byte(kv[i+1]))
	}
	if err := b.Commit(sync); err != nil {
		tb.Fatalf("Commit: %v", err)
	}
}

func wantValue(tb testing.TB, s store.Store, key, want string) {
	tb.Helper()
	got, err := s.Get([]byte(key))
	if err != nil {
		tb.Fatalf("Get(%q): %v, want %q", key, err, want)
	}
	if string(got) != want {
		tb.Fatalf("Get(%q) = %q, want %q", key, got, want)
	}
}

func wantMissing(tb testing.TB, s store.Store, key string) {
	tb.Helper()
	if got, err := s.Get([]byte(key)); !errors.Is(err, store.ErrNotFound) {
		tb.Fatalf("Get(%q) = %q, %v; want ErrNotFound", key, got, err)
	}
}

// scanKeys returns the keys Scan visits, as strings.
func scanKeys(tb testing.TB, s store.Store, prefix, start []byte) []string {
	tb.Helper()
	var keys []string
	err := s.Scan(prefix, start, func(k, _ []byte) error {
		keys = append(keys, string(k))
		return nil
	})
	if err != nil {
		tb.Fatalf("Scan(%q, %q): %v", prefix, start, err)
	}
	return keys
}

func (h *harness) testGetPutDelete(t *testing.T) {
	s, _ := h.openTemp(t)
	wantMissing(t, s, "k")
	commit(t, s, true, "k", "v1")
	wantValue(t, s, "k", "v1")

	// Get returns a copy.
	v, _ := s.Get([]byte("k"))
	v[0] = 'X'
	wantValue(t, s, "k", "v1")

	// Put copies its arguments: reusing the buffers before Commit changes
	// nothing.
	key, val := []byte("k2"), []byte("v2")
	b := s.NewBatch()
	b.Put(key, val)
	key[0], val[0] = 'z', 'z'
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	wantValue(t, s, "k2", "v2")
	wantMissing(t, s, "z2")

	commit(t, s, false, "k", "v3")
	wantValue(t, s, "k", "v3")

	// An empty value is a value, not a missing key.
	commit(t, s, true, "empty", "")
	if got, err := s.Get([]byte("empty")); err != nil || len(got) != 0 {
		t.Fatalf("Get(empty) = %q, %v", got, err)
	}

	b = s.NewBatch()
	b.Delete([]byte("k"))
	b.Delete([]byte("never-written"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	wantMissing(t, s, "k")
	wantValue(t, s, "k2", "v2")
}

func (h *harness) testScan(t *testing.T) {
	s, _ := h.openTemp(t)
	all := []string{
		"a", "b", "q\x00\xff", "q\x01", "q\x01\x00", "q\x01\x01", "q\x01\xff\xff", "q\x02",
		"qq", "\xff", "\xff\xff", "\xff\xff\x01",
	}
	b := s.NewBatch()
	for _, k := range slices.Backward(all) {
		b.Put([]byte(k), []byte("v"+k))
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name          string
		prefix, start string
		startNil      bool
		want          []string
	}{
		{"everything", "", "", true, all},
		{"prefix", "q\x01", "", true, []string{"q\x01", "q\x01\x00", "q\x01\x01", "q\x01\xff\xff"}},
		{"start inside", "q\x01", "q\x01\x01", false, []string{"q\x01\x01", "q\x01\xff\xff"}},
		{"start between keys", "q\x01", "q\x01\x00\x00", false, []string{"q\x01\x01", "q\x01\xff\xff"}},
		{"start before prefix", "q\x01", "a", false, []string{"q\x01", "q\x01\x00", "q\x01\x01", "q\x01\xff\xff"}},
		{"start after prefix", "q\x01", "q\x02", false, nil},
		{"no match", "p", "", true, nil},
		{"prefix 0xff", "\xff", "", true, []string{"\xff", "\xff\xff", "\xff\xff\x01"}},
		{"prefix 0xffff", "\xff\xff", "", true, []string{"\xff\xff", "\xff\xff\x01"}},
		{"one letter", "q", "", true, all[2:9]},
	}
	for _, tt := range tests {
		var start []byte
		if !tt.startNil {
			start = []byte(tt.start)
		}
		var prefix []byte
		if tt.prefix != "" {
			prefix = []byte(tt.prefix)
		}
		got := scanKeys(t, s, prefix, start)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: Scan(%q, %q) = %q, want %q", tt.name, tt.prefix, tt.start, got, tt.want)
		}
	}

	// Values match their keys.
	err := s.Scan(nil, nil, func(k, v []byte) error {
		if string(v) != "v"+string(k) {
			return fmt.Errorf("value of %q is %q", k, v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// ErrStop ends the scan without error; another error is returned.
	n := 0
	if err := s.Scan(nil, nil, func(_, _ []byte) error {
		n++
		if n == 3 {
			return store.ErrStop
		}
		return nil
	}); err != nil || n != 3 {
		t.Fatalf("Scan with ErrStop: err %v after %d keys, want nil after 3", err, n)
	}
	boom := errors.New("boom")
	n = 0
	if err := s.Scan(nil, nil, func(_, _ []byte) error {
		n++
		return boom
	}); !errors.Is(err, boom) || n != 1 {
		t.Fatalf("Scan with error: %v after %d keys, want boom after 1", err, n)
	}
}

// testScanWhileWriting commits from inside the Scan callback, as an expiry
// sweep does; it must not deadlock.
func (h *harness) testScanWhileWriting(t *testing.T) {
	s, _ := h.openTemp(t)
	b := s.NewBatch()
	for i := range 1000 {
		b.Put(store.QueueKey(1, uint64(i)), bytes.Repeat([]byte{'v'}, 100))
	}
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	seen := 0
	err := s.Scan(store.QueuePrefix(1), nil, func(k, _ []byte) error {
		seen++
		wb := s.NewBatch()
		defer wb.Close()
		wb.Delete(k)
		wb.Put(store.QueueKey(2, uint64(seen)), bytes.Repeat([]byte{'w'}, 4096))
		if _, err := s.Get(k); err != nil {
			return err
		}
		return wb.Commit(seen%100 == 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != 1000 {
		t.Fatalf("scan saw %d keys, want 1000", seen)
	}
	if got := scanKeys(t, s, store.QueuePrefix(1), nil); len(got) != 0 {
		t.Fatalf("%d keys left after deleting each during the scan", len(got))
	}
	if got := scanKeys(t, s, store.QueuePrefix(2), nil); len(got) != 1000 {
		t.Fatalf("%d keys written during the scan, want 1000", len(got))
	}
}

func (h *harness) testDeleteRange(t *testing.T) {
	s, _ := h.openTemp(t)
	b := s.NewBatch()
	for sid := uint64(1); sid <= 3; sid++ {
		for seq := range uint64(100) {
			b.Put(store.QueueKey(sid, seq), []byte{byte(seq)})
		}
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	count := func(sid uint64) int { return len(scanKeys(t, s, store.QueuePrefix(sid), nil)) }

	// Trim the acknowledged prefix of sid 2's queue.
	b = s.NewBatch()
	b.DeleteRange(store.QueueKey(2, 0), store.QueueKey(2, 60))
	b.DeleteRange(store.QueueKey(2, 80), store.QueueKey(2, 70)) // empty: start > end
	b.DeleteRange(store.QueueKey(2, 90), store.QueueKey(2, 90)) // empty: start == end
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if c1, c2, c3 := count(1), count(2), count(3); c1 != 100 || c2 != 40 || c3 != 100 {
		t.Fatalf("after trim: %d %d %d keys, want 100 40 100", c1, c2, c3)
	}
	first := scanKeys(t, s, store.QueuePrefix(2), nil)[0]
	if _, seq, _ := store.ParseQueueKey([]byte(first)); seq != 60 {
		t.Fatalf("first key after trim has seq %d, want 60", seq)
	}

	// Drop sid 3 entirely, then write into the dropped range in the same
	// batch: operations apply in order.
	b = s.NewBatch()
	b.Put(store.QueueKey(1, 500), []byte("gone"))
	b.DeleteRange(store.QueuePrefix(1), store.PrefixEnd(store.QueuePrefix(1)))
	b.DeleteRange(store.QueuePrefix(3), store.PrefixEnd(store.QueuePrefix(3)))
	b.Put(store.QueueKey(3, 7), []byte("back"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if c1, c3 := count(1), count(3); c1 != 0 || c3 != 1 {
		t.Fatalf("after drop: sid 1 has %d keys, sid 3 %d; want 0 and 1", c1, c3)
	}
	wantValue(t, s, string(store.QueueKey(3, 7)), "back")
	if c2 := count(2); c2 != 40 {
		t.Fatalf("drop of neighbours changed sid 2: %d keys", c2)
	}
}
