package acl

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// pollEvery is how often Watch looks at the file.
const pollEvery = time.Second

// Watched holds the ACL loaded from a file and replaces it when the file
// changes. A file that fails to load is logged and the previous rules stay.
type Watched struct {
	path   string
	logger *slog.Logger
	cur    atomic.Pointer[ACL]

	done chan struct{} // closed when the polling goroutine has returned

	mu       sync.Mutex  // serializes loads; guards the fields below
	loaded   os.FileInfo // the file as last loaded or tried; nil before
	statErrs bool        // the last poll could not stat the file (logged once)
}

// Watch loads the ACL file at path and polls its modification time and
// size every second, reloading it when they change, until ctx is done.
// An error loading the file the first time is returned. logger may be nil.
func Watch(ctx context.Context, path string, logger *slog.Logger) (*Watched, error) {
	return watch(ctx, path, logger, pollEvery)
}

// watch is Watch with a chosen poll interval.
func watch(ctx context.Context, path string, logger *slog.Logger, every time.Duration) (*Watched, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &Watched{path: path, logger: logger, done: make(chan struct{})}
	w.mu.Lock()
	err := w.loadLocked()
	w.mu.Unlock()
	if err != nil {
		return nil, err
	}
	go w.poll(ctx, every)
	return w, nil
}

// Done is closed once the polling goroutine has returned, after ctx is
// done.
func (w *Watched) Done() <-chan struct{} { return w.done }

// Current returns the rules in force. It never returns nil.
func (w *Watched) Current() *ACL { return w.cur.Load() }

// Reload reads the file now, as on SIGHUP. If it fails to load, the error
// is logged and returned and the previous rules stay.
func (w *Watched) Reload() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.loadLocked()
	if err != nil {
		w.logger.Error("acl: reload failed, keeping the previous rules", "path", w.path, "err", err)
	}
	return err
}

// poll reloads the file when its stat changes, until ctx is done.
func (w *Watched) poll(ctx context.Context, every time.Duration) {
	defer close(w.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.reloadIfChanged()
		}
	}
}

// reloadIfChanged loads the file if it differs from the one last loaded
// or tried, logging the outcome. Each change is reported once.
func (w *Watched) reloadIfChanged() {
	w.mu.Lock()
	defer w.mu.Unlock()
	info, err := os.Stat(w.path)
	if err != nil {
		if !w.statErrs {
			w.logger.Error("acl: cannot read the file, keeping the previous rules", "path", w.path, "err", err)
		}
		w.statErrs = true
		return
	}
	w.statErrs = false
	if w.loaded != nil && sameFile(w.loaded, info) {
		return
	}
	if err := w.loadLocked(); err != nil {
		w.logger.Error("acl: reload failed, keeping the previous rules", "path", w.path, "err", err)
		return
	}
	w.logger.Info("acl: reloaded", "path", w.path)
}

// loadLocked stats and loads the file, installing it on success. The stat
// is recorded even on failure so that a broken file is reported once, and
// taken before reading so a write during the read is seen by the next poll.
func (w *Watched) loadLocked() error {
	info, err := os.Stat(w.path)
	if err != nil {
		return err
	}
	w.loaded = info
	a, err := Load(w.path)
	if err != nil {
		return err
	}
	for _, msg := range a.Warnings() {
		w.logger.Warn("acl: " + msg)
	}
	w.cur.Store(a)
	return nil
}

// sameFile reports whether two stats of the path show the same content:
// the same file (not replaced by a rename), modification time and size.
func sameFile(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}
