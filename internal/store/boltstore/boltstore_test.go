package boltstore

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/store"
	"github.com/baram-mqtt/baram/internal/store/storetest"
)

func open(tb testing.TB, dir string) store.Store {
	s, err := Open(dir, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, open, storetest.Options{Persistent: true})
}

// TestGroupCommit checks that concurrent commits share transactions (and
// so fsyncs).
func TestGroupCommit(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const writers, each = 64, 10
	before := s.writeTxs.Load()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				b := s.NewBatch()
				b.Put(store.QueueKey(uint64(w), uint64(i)), []byte("message"))
				if err := b.Commit(true); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	txs := s.writeTxs.Load() - before
	t.Logf("%d commits from %d goroutines took %d bbolt transactions", writers*each, writers, txs)
	if txs == 0 || txs >= writers*each {
		t.Fatalf("%d transactions for %d concurrent commits: no grouping", txs, writers*each)
	}
	n := 0
	_ = s.Scan(store.QueuePrefix(0)[:1], nil, func(_, _ []byte) error { n++; return nil })
	if n != writers*each {
		t.Fatalf("%d keys stored, want %d", n, writers*each)
	}
}

// TestBadBatchFailsAlone stages an oversized key: that batch fails, its
// neighbours in the same group do not.
func TestBadBatchFailsAlone(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := s.NewBatch()
	b.Put([]byte("ok"), []byte("v"))
	b.Put(make([]byte, 40000), []byte("v"))
	if err := b.Commit(true); err == nil || !strings.Contains(err.Error(), "key too large") {
		t.Fatalf("Commit of a 40000-byte key: %v", err)
	}
	if _, err := s.Get([]byte("ok")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("failed batch applied: %v", err)
	}
	// A group whose transaction fails is retried batch by batch.
	r1 := &request{ops: []op{{kind: opPut, key: []byte("a"), val: []byte("1")}}}
	r2 := &request{ops: []op{{kind: opPut, key: []byte{}, val: []byte("bad")}}}
	r3 := &request{ops: []op{{kind: opPut, key: []byte("c"), val: []byte("3")}}}
	s.group.apply([]*request{r1, r2, r3})
	if r1.err != nil || r2.err == nil || r3.err != nil {
		t.Fatalf("group errors %v, %v, %v; want nil, error, nil", r1.err, r2.err, r3.err)
	}
}

const lockChildEnv = "BOLTSTORE_LOCK_CHILD"

func TestLockedByAnotherProcess(t *testing.T) {
	if dir := os.Getenv(lockChildEnv); dir != "" {
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		os.Stdout.WriteString("ready\n")
		time.Sleep(30 * time.Second)
		return
	}
	t.Chdir(t.TempDir())
	abs, _ := filepath.Abs("data")
	dir := "./data"
	cmd := storetest.ChildCommand("TestLockedByAnotherProcess")
	cmd.Env = append(cmd.Env, lockChildEnv+"="+abs)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		t.Fatalf("child said %q", line)
	}
	_, err = Open(dir, Options{})
	file := "./data/" + FileName
	want := "store " + dir + ": locked by another running baram (file " + file + "): stop it or use another --data-dir"
	if err == nil || err.Error() != want || !errors.Is(err, ErrLocked) {
		t.Fatalf("Open of a locked dir: %v\nwant: %s", err, want)
	}
}

func TestLockedInProcess(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, dir)
	_ = s2.Close()
}

func TestOpenRefusesDamage(t *testing.T) {
	for _, tt := range []struct {
		name   string
		damage func([]byte) []byte
		is     error
	}{
		{"garbage", func(b []byte) []byte {
			for i := range b {
				b[i] = byte(i * 31)
			}
			return b
		}, ErrCorrupt},
		{"newer version", func(b []byte) []byte {
			// Both meta pages (page 0 and 1) carry the format version after
			// the 16-byte page header and the 4-byte magic.
			for _, page := range []int{0, os.Getpagesize()} {
				b[page+16+4] = 9
			}
			return b
		}, ErrFormat},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir)
			_ = s.Close()
			file := filepath.Join(dir, FileName)
			b, _ := os.ReadFile(file)
			b = tt.damage(b)
			if err := os.WriteFile(file, b, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(dir, Options{})
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "nothing was changed") {
				t.Fatalf("Open: %v, want %v naming %s", err, tt.is, file)
			}
			after, _ := os.ReadFile(file)
			if string(after) != string(b) {
				t.Fatal("Open changed the damaged file")
			}
			t.Log(err)
		})
	}
}

func BenchmarkCommit(b *testing.B) {
	storetest.BenchmarkCommit(b, open, storetest.BenchOptions{Syncs: func(s store.Store) int64 {
		return 2 * s.(*Store).writeTxs.Load() // two fdatasyncs per transaction
	}})
}

func BenchmarkScan(b *testing.B) { storetest.BenchmarkScan(b, open) }
