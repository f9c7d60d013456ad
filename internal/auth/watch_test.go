package auth

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/testlog"
)

// startWatch watches path, polling every 5 ms, until the test ends.
func startWatch(t *testing.T, path string) (*Watched, *testlog.Buffer) {
	t.Helper()
	logs := &testlog.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := watchPasswordFile(ctx, path, slog.New(slog.NewTextHandler(logs, nil)), 5*time.Millisecond)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-w.Done()
	})
	return w, logs
}

// replaceFile replaces the file at path atomically, as editors and
// SetPassword do.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// eventually fails the test if cond does not hold within five seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestWatchPicksUpChanges(t *testing.T) {
	path := writeFile(t, "passwd", sha512Entry("alice", "a"))
	w, _ := startWatch(t, path)
	if d := login(t, w, "alice", "a"); d != Allow {
		t.Fatalf("alice: %v, want allow", d)
	}
	// Written in place.
	if err := os.WriteFile(path, []byte(sha512Entry("alice", "a")+sha512Entry("bob", "b")), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, "bob to be added", func() bool { return w.Current().Users() == 2 })
	// Replaced by rename, as editors and SetPassword do.
	replaceFile(t, path, sha512Entry("carol", "c"))
	eventually(t, "carol to replace alice and bob", func() bool { return w.Current().Users() == 1 })
	if login(t, w, "carol", "c") != Allow || login(t, w, "alice", "a") != Deny {
		t.Error("after the rename: want carol allowed and alice denied")
	}
}

func TestWatchBrokenFileKeepsOld(t *testing.T) {
	path := writeFile(t, "passwd", sha512Entry("alice", "a"))
	w, logs := startWatch(t, path)
	old := w.Current()

	replaceFile(t, path, sha512Entry("alice", "a")+"bob:$9$x$y\n")
	eventually(t, "the broken file to be reported", func() bool { return strings.Contains(logs.String(), "not reloaded") })
	if !strings.Contains(logs.String(), path+":2: ") {
		t.Errorf("log does not name the file and line:\n%s", logs)
	}
	if w.Current() != old || login(t, w, "alice", "a") != Allow {
		t.Error("a broken file replaced the working one")
	}
	if err := w.Reload(); err == nil || !strings.Contains(err.Error(), path+":2: ") {
		t.Errorf("Reload() = %v, want an error naming the file and line", err)
	}
	time.Sleep(50 * time.Millisecond) // several polls
	if n := strings.Count(logs.String(), "not reloaded"); n != 1 {
		t.Errorf("the broken file was reported %d times, want once", n)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the missing file to be reported", func() bool { return strings.Contains(logs.String(), "unavailable") })
	if w.Current() != old {
		t.Error("a missing file replaced the working one")
	}

	replaceFile(t, path, sha512Entry("bob", "b"))
	eventually(t, "the fixed file to load", func() bool { return w.Current() != old })
	if login(t, w, "bob", "b") != Allow {
		t.Error("bob not allowed after the fix")
	}
}

func TestWatchReloadOnDemand(t *testing.T) {
	path := writeFile(t, "passwd", sha512Entry("alice", "a"))
	logs := &testlog.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := WatchPasswordFile(ctx, path, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(sha512Entry("bob", "b")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := w.Reload(); err != nil {
		t.Fatal(err)
	}
	if login(t, w, "bob", "b") != Allow {
		t.Error("bob not allowed after Reload")
	}
	if !strings.Contains(logs.String(), "users=1") {
		t.Errorf("reload not logged:\n%s", logs)
	}
	cancel()
	select {
	case <-w.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("watcher did not stop when its context ended")
	}
}

func TestWatchFirstLoadFails(t *testing.T) {
	path := writeFile(t, "passwd", "broken\n")
	w, err := WatchPasswordFile(context.Background(), path, nil)
	if err == nil || w != nil || !strings.Contains(err.Error(), path+":1: ") {
		t.Fatalf("got %v, %v; want no watcher and an error naming the line", w, err)
	}
	// goleak in TestMain checks that no goroutine was started.
}

// TestWatchConcurrent authenticates while the file is being reloaded, for
// the race detector.
func TestWatchConcurrent(t *testing.T) {
	path := writeFile(t, "passwd", sha512Entry("alice", "a"))
	w, _ := startWatch(t, path)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				if login(t, w, "alice", "a") != Allow {
					t.Error("alice denied during reloads")
					return
				}
			}
		})
	}
	for i := range 20 {
		// Replaced by rename: a file written in place may be read empty if the
		// writer stalls between truncating and writing.
		replaceFile(t, path, sha512Entry("alice", "a")+strings.Repeat("# padding\n", i))
		if err := w.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}
