package acl

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// logRecorder is a slog handler that keeps messages for inspection.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Level.String()+" "+rec.Message)
	return nil
}

// count returns how many messages contain s.
func (r *logRecorder) count(s string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if strings.Contains(m, s) {
			n++
		}
	}
	return n
}

// writeACL replaces the file at path, with a modification time that
// differs from the previous one even on coarse-grained file systems.
func writeACL(t *testing.T, path, src string, gen int) {
	t.Helper()
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	mt := time.Unix(1_700_000_000+int64(gen), 0)
	if err := os.Chtimes(path, mt, mt); err != nil {
		t.Fatal(err)
	}
}

// eventually waits up to 5s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

var anonClient = Client{ClientID: "c"}

func TestWatchPolls(t *testing.T) {
	defer goleak.VerifyNone(t)
	path := filepath.Join(t.TempDir(), "acl")
	writeACL(t, path, "topic read a", 1)
	logs := &logRecorder{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := watch(ctx, path, slog.New(logs), 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if !w.Current().CanReceive(anonClient, "a") {
		t.Fatal("initial rules not loaded")
	}

	writeACL(t, path, "topic read b", 2)
	eventually(t, "the new rules", func() bool { return w.Current().CanReceive(anonClient, "b") })
	if w.Current().CanReceive(anonClient, "a") {
		t.Error("old rules still in force")
	}

	// A broken file is logged once and the rules stay.
	good := w.Current()
	writeACL(t, path, "topic read b\nbogus line", 3)
	eventually(t, "the error log", func() bool { return logs.count("reload failed") == 1 })
	time.Sleep(30 * time.Millisecond) // several polls
	if n := logs.count("reload failed"); n != 1 {
		t.Errorf("broken file logged %d times, want once", n)
	}
	if w.Current() != good {
		t.Error("broken file replaced the rules")
	}

	// A removed file is reported once; the rules stay.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the stat error log", func() bool { return logs.count("cannot read") == 1 })
	if w.Current() != good {
		t.Error("removed file replaced the rules")
	}

	// Fixed: loaded again.
	writeACL(t, path, "topic read c", 4)
	eventually(t, "the fixed rules", func() bool { return w.Current().CanReceive(anonClient, "c") })

	cancel()
	// goleak.VerifyNone (deferred) retries until the poller has returned.
}

func TestWatchReload(t *testing.T) {
	defer goleak.VerifyNone(t)
	path := filepath.Join(t.TempDir(), "acl")
	writeACL(t, path, "topic read a", 1)
	logs := &logRecorder{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := watch(ctx, path, slog.New(logs), time.Hour) // polling never fires
	if err != nil {
		t.Fatal(err)
	}
	writeACL(t, path, "topic read b\npattern read all", 2)
	if err := w.Reload(); err != nil {
		t.Fatal(err)
	}
	if !w.Current().CanReceive(anonClient, "b") {
		t.Error("Reload did not install the new rules")
	}
	if logs.count("WARN") != 1 {
		t.Errorf("warnings not logged: %q", logs.msgs)
	}
	good := w.Current()
	writeACL(t, path, "user", 3)
	err = w.Reload()
	if err == nil || !strings.Contains(err.Error(), ":1: user: missing username") {
		t.Errorf("Reload(broken) = %v, want the line-1 error", err)
	}
	if w.Current() != good || logs.count("reload failed") != 1 {
		t.Error("a broken reload must keep the rules and be logged")
	}
}

func TestWatchInitialError(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	if _, err := Watch(context.Background(), filepath.Join(dir, "missing"), nil); err == nil {
		t.Error("Watch(missing file) succeeded")
	}
	path := filepath.Join(dir, "bad")
	writeACL(t, path, "topic read a\ntopic nonsense x", 1)
	if _, err := Watch(context.Background(), path, nil); err == nil || !strings.Contains(err.Error(), path+":2:") {
		t.Errorf("Watch(bad file) = %v, want the line-2 error", err)
	}
}

func TestWatchDefaultInterval(t *testing.T) {
	defer goleak.VerifyNone(t)
	path := filepath.Join(t.TempDir(), "acl")
	writeACL(t, path, "topic read a", 1)
	ctx, cancel := context.WithCancel(context.Background())
	w, err := Watch(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w.Current() == nil {
		t.Fatal("no rules")
	}
	cancel()
}
