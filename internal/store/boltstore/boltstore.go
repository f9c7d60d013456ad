// Package boltstore is the store.Store for 32-bit boards, where Pebble does
// not run: bbolt (go.etcd.io/bbolt), one B+tree file, baram.bolt, in the
// data directory, with every key in one bucket. It builds everywhere, so
// its tests run on 64-bit machines too.
//
// Durability: every Commit is synced, Commit(false) included. bbolt's
// NoSync mode skips both fsyncs of a transaction, so after a power loss the
// meta page can reach the disk before the pages it points to and the file
// is corrupt, not merely missing its last commits. The broker's unsynced
// commits (deletes after PUBACK) therefore cost an fsync here.
//
// Group commit: bbolt runs one write transaction at a time, and each costs
// two fdatasyncs (pages, then the meta page). Commits that arrive while a
// transaction is being written queue up, and the next transaction applies
// the whole queue at once, so N concurrent committers share one pair of
// fsyncs instead of paying N. A lone committer pays no added latency (no
// batching timer, unlike bbolt's DB.Batch). The trade-off: a queued
// commit waits for the transaction ahead of it, and a group fails as a
// whole on an I/O error. Batches are validated when staged, so one bad batch
// cannot fail its group; should the group fail anyway, each batch is
// retried alone.
//
// Capacity: on 32-bit platforms bbolt maps at most 2 GiB, and the address
// space makes about 1 GiB a practical limit for the data file. Keys are at
// most 32768 bytes (bolt.MaxKeySize): a topic or filter longer than about
// 32 KB cannot be stored.
package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baram-mqtt/baram/internal/store"
	"github.com/baram-mqtt/baram/internal/store/internal/gate"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FileName is the name of the data file inside the data directory.
const FileName = "baram.bolt"

// bucketName is the one bucket holding every key.
var bucketName = []byte("baram")

// lockTimeout bounds the wait for the file lock held by another process.
const lockTimeout = 200 * time.Millisecond

// ErrLocked, ErrCorrupt and ErrFormat are wrapped by Open's errors; see the
// messages for what to do.
var (
	ErrLocked  = errors.New("locked")
	ErrCorrupt = errors.New("data file is corrupt")
	ErrFormat  = errors.New("unsupported on-disk format")
)

// Options configure Open. The zero value is usable.
type Options struct {
	// Logger receives corruption reports; nil means slog.Default().
	Logger *slog.Logger
}

// Store is a store.Store kept by bbolt in dir/baram.bolt.
type Store struct {
	dir, path string
	db        *bolt.DB
	log       *slog.Logger
	gate      gate.Gate
	group     committer
	writeTxs  atomic.Int64 // write transactions committed, for tests
}

var _ store.Store = (*Store)(nil)

// openPaths holds the data files open in this process: bbolt's flock would
// make a second Open wait for the lock timeout and then blame another
// process.
var openPaths sync.Map

// Open opens or creates the store in dir, creating dir if needed. Errors
// name the directory and the file and say what to do; nothing is deleted
// or rewritten to get past a damaged file.
func Open(dir string, opts Options) (*Store, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("store %s: create data directory: %w", dir, err)
	}
	path := dir + string(filepath.Separator) + FileName // as the user wrote dir, for messages
	if strings.HasSuffix(dir, string(filepath.Separator)) {
		path = dir + FileName
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", dir, err)
	}
	if _, loaded := openPaths.LoadOrStore(abs, true); loaded {
		return nil, fmt.Errorf("store %s: %w by another store open in this process (file %s): close it first",
			dir, ErrLocked, path)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        lockTimeout,
		FreelistType:   bolt.FreelistMapType,
		NoFreelistSync: true, // one page less per commit; rebuilt by a scan on open
	})
	if err != nil {
		openPaths.Delete(abs)
		return nil, openError(dir, path, err)
	}
	s := &Store{dir: dir, path: path, db: db, log: logger.With("store", dir)}
	err = s.db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketName)
		return err
	})
	if err != nil {
		_ = db.Close()
		openPaths.Delete(abs)
		return nil, fmt.Errorf("store %s: create bucket in %s: %w", dir, path, err)
	}
	s.group.s = s
	return s, nil
}

func openError(dir, path string, err error) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("store %s: %w by another running baram (file %s): stop it or use another --data-dir",
			dir, ErrLocked, path)
	case errors.Is(err, berrors.ErrVersionMismatch):
		return fmt.Errorf("store %s: %w (file %s): written by another bbolt format version; "+
			"run the baram that wrote it, or move the directory aside to start empty; nothing was changed: %w",
			dir, ErrFormat, path, err)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum):
		return fmt.Errorf("store %s: %w (file %s): restore the directory from a backup, "+
			"or move it aside to start empty; nothing was changed: %w", dir, ErrCorrupt, path, err)
	}
	return fmt.Errorf("store %s: open %s: %w", dir, path, err)
}

// Dir is the data directory.
func (s *Store) Dir() string { return s.dir }

// Stats returns bbolt's statistics, for the metrics package.
func (s *Store) Stats() bolt.Stats { return s.db.Stats() }

// recoverCorrupt turns a bbolt panic, which is how bbolt reports a damaged
// page, into an error naming the file. bbolt rolls the transaction back
// before the panic reaches here.
func (s *Store) recoverCorrupt(err *error) {
	if r := recover(); r != nil {
		s.log.Error("bbolt panicked: the data file is probably damaged", "file", s.path, "panic", r)
		*err = fmt.Errorf("store %s: %w (file %s): %v", s.dir, ErrCorrupt, s.path, r)
	}
}

func (s *Store) view(fn func(b *bolt.Bucket) error) (err error) {
	defer s.recoverCorrupt(&err)
	return s.db.View(func(tx *bolt.Tx) error { return fn(tx.Bucket(bucketName)) })
}

func (s *Store) update(fn func(b *bolt.Bucket) error) (err error) {
	defer s.recoverCorrupt(&err)
	err = s.db.Update(func(tx *bolt.Tx) error { return fn(tx.Bucket(bucketName)) })
	if err == nil {
		s.writeTxs.Add(1)
	}
	return err
}

// Get returns a copy of the value under key, or store.ErrNotFound.
func (s *Store) Get(key []byte) ([]byte, error) {
	if !s.gate.Enter() {
		return nil, store.ErrClosed
	}
	defer s.gate.Exit()
	var out []byte
	err := s.view(func(b *bolt.Bucket) error {
		v := b.Get(key)
		if v == nil {
			return store.ErrNotFound
		}
		out = make([]byte, len(v))
		copy(out, v)
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("store %s: get: %w", s.dir, err)
	}
	return out, err
}

// Compact is a no-op: bbolt reuses freed pages but never shrinks its file.
func (s *Store) Compact(start, end []byte) error {
	if !s.gate.Enter() {
		return store.ErrClosed
	}
	s.gate.Exit()
	return nil
}

// Close waits for operations in flight and closes the file, releasing its
// lock. A second Close returns store.ErrClosed.
func (s *Store) Close() error {
	if !s.gate.Close() {
		return store.ErrClosed
	}
	err := s.db.Close()
	if abs, aerr := filepath.Abs(s.path); aerr == nil {
		openPaths.Delete(abs)
	}
	if err != nil {
		return fmt.Errorf("store %s: close %s: %w", s.dir, s.path, err)
	}
	return nil
}

// deleteRange deletes [start, end) with a cursor. After each delete it seeks
// to the key just deleted rather than trusting Next (which can skip a key
// after Delete) or seeking from start (which walks every leaf emptied so
// far, quadratic for a long range).
func deleteRange(b *bolt.Bucket, start, end []byte) error {
	if bytes.Compare(start, end) >= 0 {
		return nil
	}
	c := b.Cursor()
	var last []byte
	for k, _ := c.Seek(start); k != nil && bytes.Compare(k, end) < 0; k, _ = c.Seek(last) {
		last = append(last[:0], k...)
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}
