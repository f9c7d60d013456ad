package auth

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Watched is a password file that is reloaded when it changes on disk and on
// demand. It implements [Authenticator] using the latest file that loaded
// without errors; a broken new version is reported and the old one stays.
// Tools should replace the file atomically (a temporary file, then a rename),
// as [SetPassword] does; a file rewritten in place is read once it has not
// changed for one check.
type Watched struct {
	path string
	log  *slog.Logger
	cur  atomic.Pointer[PasswordFile]
	// scram is the SCRAM sidecar (path + [ScramSuffix]), loaded and
	// swapped with the password file; nil when there is none.
	scram atomic.Pointer[ScramFile]
	done  chan struct{} // closed when the watcher goroutine has returned

	mu      sync.Mutex // serializes loads; guards last and pending
	last    stamp      // the file as it was when last loaded or found broken
	pending *stamp     // a change seen by the last poll, loaded if the next sees it unchanged
}

// stamp identifies a version of a file without reading it.
type stamp struct {
	fi os.FileInfo // nil: the file could not be examined
}

func (s stamp) same(o stamp) bool {
	if s.fi == nil || o.fi == nil {
		return s.fi == nil && o.fi == nil
	}
	return s.fi.Size() == o.fi.Size() && s.fi.ModTime().Equal(o.fi.ModTime()) && os.SameFile(s.fi, o.fi)
}

func statStamp(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}, fmt.Errorf("auth: %w", err)
	}
	return stamp{fi: fi}, nil
}

// errChanging reports a file that changed while it was being read.
var errChanging = errors.New("changed while being read")

// WatchPasswordFile loads the password file at path and starts a goroutine
// that checks its size, modification time and identity every second and
// reloads it when a change has held for one check (so a change is in use
// within about two seconds); an editor's atomic rename is noticed too. The
// goroutine ends when ctx is done, after which [Watched.Done] is closed. A
// nil logger discards logs. It returns an error, and starts nothing, when the
// first load fails.
func WatchPasswordFile(ctx context.Context, path string, logger *slog.Logger) (*Watched, error) {
	return watchPasswordFile(ctx, path, logger, time.Second)
}

func watchPasswordFile(ctx context.Context, path string, logger *slog.Logger, every time.Duration) (*Watched, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &Watched{path: path, log: logger, done: make(chan struct{})}
	if err := w.Reload(); err != nil {
		return nil, err
	}
	go w.run(ctx, every)
	return w, nil
}

// Reload reads the file now, as on SIGHUP. On success it swaps the new
// version in and logs it at Info; on failure it returns the error, without
// logging it, and the previous version stays in use.
func (w *Watched) Reload() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for try := 1; ; try++ {
		err := w.loadLocked()
		if !errors.Is(err, errChanging) {
			return err
		}
		if try == 3 {
			return fmt.Errorf("auth: %s: %w", w.path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// loadLocked loads the file if it is not being written to, and swaps it in.
func (w *Watched) loadLocked() error {
	before, err := statStamp(w.path)
	if err != nil {
		w.last = stamp{}
		return err
	}
	f, err := LoadPasswordFile(w.path)
	var sf *ScramFile
	if err == nil {
		sf, err = LoadScramFile(w.path + ScramSuffix)
		if errors.Is(err, fs.ErrNotExist) {
			sf, err = nil, nil
		}
	}
	after, _ := statStamp(w.path)
	if !before.same(after) {
		return errChanging // w.last is left as it was, so the next poll retries.
	}
	w.last = before
	if err != nil {
		return err
	}
	w.cur.Store(f)
	w.scram.Store(sf)
	if sf != nil {
		w.log.Info("password file loaded", "path", w.path, "users", f.Users(), "scram_users", sf.Users())
	} else {
		w.log.Info("password file loaded", "path", w.path, "users", f.Users())
	}
	return nil
}

func (w *Watched) run(ctx context.Context, every time.Duration) {
	defer close(w.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.poll()
		}
	}
}

// poll reloads the file once a change has held still for one interval, so
// that a file being written in place is not read half-written, and logs each
// new problem once.
func (w *Watched) poll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	now, err := statStamp(w.path)
	if now.same(w.last) {
		w.pending = nil
		return
	}
	if w.pending == nil || !now.same(*w.pending) {
		w.pending = &now
		return
	}
	w.pending = nil
	if err != nil {
		w.last = now
		w.log.Error("password file unavailable; keeping the users loaded before", "path", w.path, "err", err)
		return
	}
	if err := w.loadLocked(); err != nil && !errors.Is(err, errChanging) {
		w.log.Error("password file not reloaded; keeping the users loaded before", "path", w.path, "err", err)
	}
}

// Current returns the password file in use.
func (w *Watched) Current() *PasswordFile { return w.cur.Load() }

// Scram returns user's SCRAM-SHA-256 credential from the sidecar file
// loaded with the password file; ok is false without one.
func (w *Watched) Scram(user string) (ScramCredential, bool) {
	return w.scram.Load().Lookup(user)
}

// Done is closed when the watcher goroutine has ended, after ctx is done.
func (w *Watched) Done() <-chan struct{} { return w.done }

// Authenticate implements [Authenticator] with the current password file.
func (w *Watched) Authenticate(ctx context.Context, r *Request) (Decision, error) {
	return w.cur.Load().Authenticate(ctx, r)
}
