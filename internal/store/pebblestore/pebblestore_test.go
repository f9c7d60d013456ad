//go:build amd64 || arm64 || arm64be || ppc64 || ppc64le || mips64 || mips64le || s390x || sparc64 || riscv64 || loong64

package pebblestore

import (
	"bufio"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/store"
	"github.com/baram-mqtt/baram/internal/store/storetest"
	"github.com/cockroachdb/pebble/v2/vfs"
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

// countingFS counts the fsyncs of WAL files.
type countingFS struct {
	vfs.FS
	walSyncs atomic.Int64
}

type countingFile struct {
	vfs.File
	n *atomic.Int64
}

func (f countingFile) Sync() error     { f.n.Add(1); return f.File.Sync() }
func (f countingFile) SyncData() error { f.n.Add(1); return f.File.SyncData() }

func (c *countingFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return countingFile{f, &c.walSyncs}, nil
}

func (c *countingFS) Create(name string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := c.FS.Create(name, cat)
	return c.wrap(name, f, err)
}

func (c *countingFS) ReuseForWrite(old, name string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := c.FS.ReuseForWrite(old, name, cat)
	return c.wrap(name, f, err)
}

// openCounting opens a store whose WAL fsyncs are counted.
func openCounting(tb testing.TB, dir string) (*Store, *countingFS) {
	fs := &countingFS{FS: vfs.Default}
	s, err := Open(dir, Options{fs: fs})
	if err != nil {
		tb.Fatal(err)
	}
	return s, fs
}

// TestGroupCommit checks that concurrent synced commits share WAL fsyncs.
func TestGroupCommit(t *testing.T) {
	s, fs := openCounting(t, t.TempDir())
	defer s.Close()
	const writers, each = 64, 20
	start := fs.walSyncs.Load()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				b := s.NewBatch()
				b.Put(store.QueueKey(uint64(w), uint64(i)), []byte("message"))
				b.Put(store.InflightKey(uint64(w), uint16(i)), []byte("x"))
				if err := b.Commit(true); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	syncs := fs.walSyncs.Load() - start
	t.Logf("%d synced commits from %d goroutines took %d WAL fsyncs", writers*each, writers, syncs)
	if syncs == 0 || syncs > writers*each {
		t.Fatalf("%d WAL fsyncs for %d synced commits", syncs, writers*each)
	}

	// A lone synced commit fsyncs; an unsynced one does not.
	before := fs.walSyncs.Load()
	b := s.NewBatch()
	b.Put([]byte("k"), []byte("v"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if fs.walSyncs.Load() == before {
		t.Fatal("Commit(true) returned without a WAL fsync")
	}
}

const lockChildEnv = "PEBBLESTORE_LOCK_CHILD"

// TestLockedByAnotherProcess holds the store in a child process and checks
// the message the second opener gets.
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
	dir := "./data" // as a user types --data-dir; the message keeps it
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
	want := "store " + dir + ": locked by another running baram (file " + dir + "/LOCK): stop it or use another --data-dir"
	if err == nil || err.Error() != want || !errors.Is(err, ErrLocked) {
		t.Fatalf("Open of a locked dir: %v\nwant: %s", err, want)
	}
	// Once the holder is gone the directory opens.
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open after the holder died: %v", err)
	}
	_ = s.Close()
}

func TestLockedInProcess(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer s.Close()
	_, err := Open(dir, Options{})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), dir+"/LOCK") {
		t.Fatalf("second Open in one process: %v", err)
	}
	// The same directory spelled differently is the same directory.
	if _, err := Open(dir+"/.", Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open as %s/.: %v", dir, err)
	}
	// Close releases the lock.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, dir)
	_ = s2.Close()
}

func TestFatalExits(t *testing.T) {
	code := -1
	exit = func(c int) { code = c }
	defer func() { exit = os.Exit }()
	logAdapter{l: slog.New(slog.DiscardHandler)}.Fatalf("pebble: fatal commit error: %v", errors.New("fsync: EIO"))
	if code != 70 {
		t.Fatalf("Fatalf exited with %d, want 70", code)
	}
}

func BenchmarkCommit(b *testing.B) {
	var counters sync.Map // *Store → *countingFS
	storetest.BenchmarkCommit(b, func(tb testing.TB, dir string) store.Store {
		s, fs := openCounting(tb, dir)
		counters.Store(s, fs)
		return s
	}, storetest.BenchOptions{Syncs: func(s store.Store) int64 {
		fs, _ := counters.Load(s)
		return fs.(*countingFS).walSyncs.Load()
	}})
}

func BenchmarkScan(b *testing.B) { storetest.BenchmarkScan(b, open) }
