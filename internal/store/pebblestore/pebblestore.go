//go:build amd64 || arm64 || arm64be || ppc64 || ppc64le || mips64 || mips64le || s390x || sparc64 || riscv64 || loong64

// Package pebblestore is the default store.Store on 64-bit platforms:
// Pebble v2 (github.com/cockroachdb/pebble/v2) in the data directory.
//
// Commit(true) commits with pebble.Sync. Pebble's commit pipeline writes
// concurrent batches to the WAL in order and lets one fsync cover every
// batch queued behind it, so synced commits from many connections share
// fsyncs (group commit) without added latency for a lone writer.
//
// Pebble cannot undo a WAL write or fsync that failed: it stops the process
// (through Options.Logger, as log.Fatal would) rather than return an error
// that might hide a half-written log. A Commit that returns nil is durable
// (with sync) and visible; Commit errors are limited to misuse and a closed
// store.
//
// The build constraint is Pebble's own list of 64-bit architectures; 32-bit
// boards use boltstore (see package open).
package pebblestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/baram-mqtt/baram/internal/store"
	"github.com/baram-mqtt/baram/internal/store/internal/gate"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Footprint defaults, chosen for a Raspberry Pi: a broker's working set is
// small (sessions, subscriptions, retained messages and short queues), and
// the broker's connections need the file descriptors.
const (
	// DefaultCacheSize is the block cache size when Options.CacheSize is 0.
	DefaultCacheSize = 8 << 20
	// memTableSize is the size of one memtable; at most two exist (one
	// being filled, one flushing), so memtables cost at most 8 MiB.
	memTableSize = 4 << 20
	// memTableStopWrites is the number of queued memtables at which
	// writes stall until a flush completes.
	memTableStopWrites = 2
	// maxOpenFiles bounds the sstable handles Pebble keeps open (the file
	// cache is this minus about 10, but at least 64).
	maxOpenFiles = 64
	// maxManifestFileSize makes Pebble rewrite its MANIFEST once it grows
	// past 16 MiB (Pebble's default is 128 MiB).
	maxManifestFileSize = 16 << 20
	// bloomBitsPerKey sizes the sstable bloom filters that spare point
	// lookups (client id, session, retained topic) a disk read.
	bloomBitsPerKey = 10
)

// formatVersion is the on-disk format this build writes. It is pinned, not
// pebble.FormatNewest, so that upgrading Pebble does not silently move the
// data directory to a format an older baram cannot open.
const formatVersion = pebble.FormatValueSeparation

// Options configure Open. The zero value is usable.
type Options struct {
	// Logger receives Pebble's messages and background errors; nil means
	// slog.Default().
	Logger *slog.Logger
	// CacheSize is the block cache size in bytes; 0 means
	// DefaultCacheSize.
	CacheSize int64

	// fs replaces the file system in tests (counting fsyncs).
	fs vfs.FS
}

// Store is a store.Store kept by Pebble in a directory.
type Store struct {
	dir  string
	key  string // real path, in openDirs while open
	db   *pebble.DB
	lock *pebble.Lock
	gate gate.Gate
}

var _ store.Store = (*Store)(nil)

// Open opens or creates the Pebble store in dir, creating dir if needed.
// It fails with a message that names dir and says what to do when dir is
// locked by another process, corrupt, or written by a newer version; it
// never deletes or rewrites existing data to get past such a problem.
func Open(dir string, opts Options) (*Store, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	fs := opts.fs
	if fs == nil {
		fs = vfs.Default
	}
	if err := fs.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("store %s: create data directory: %w", dir, err)
	}
	// Pebble's LOCK is an fcntl lock, which a process never conflicts
	// with itself on; Pebble's own in-process check compares the path as
	// written. Compare the real path.
	key, err := filepath.Abs(dir)
	if err == nil {
		key, err = filepath.EvalSymlinks(key)
	}
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", dir, err)
	}
	if _, loaded := openDirs.LoadOrStore(key, true); loaded {
		return nil, fmt.Errorf("store %s: %w by another store open in this process (file %s): close it first",
			dir, ErrLocked, inDir(dir, lockFile))
	}
	s, err := openLocked(dir, fs, logger, opts.CacheSize)
	if err != nil {
		openDirs.Delete(key)
		return nil, err
	}
	s.key = key
	return s, nil
}

// openDirs holds the real paths of the directories open in this process.
var openDirs sync.Map

func openLocked(dir string, fs vfs.FS, logger *slog.Logger, cacheSize int64) (*Store, error) {
	lock, err := pebble.LockDirectory(dir, fs)
	if err != nil {
		return nil, lockError(dir, err)
	}
	if err := precheck(dir, fs); err != nil {
		_ = lock.Close()
		return nil, err
	}
	if cacheSize <= 0 {
		cacheSize = DefaultCacheSize
	}
	cache := pebble.NewCache(cacheSize)
	defer cache.Unref() // the DB holds its own reference

	po := &pebble.Options{
		FS:                          fs,
		Lock:                        lock,
		Cache:                       cache,
		MemTableSize:                memTableSize,
		MemTableStopWritesThreshold: memTableStopWrites,
		MaxOpenFiles:                maxOpenFiles,
		MaxManifestFileSize:         maxManifestFileSize,
		FormatMajorVersion:          formatVersion,
		Logger:                      logAdapter{logger.With("store", dir)},
		EventListener:               eventListener(logger.With("store", dir)),
	}
	po.Levels[0].FilterPolicy = bloom.FilterPolicy(bloomBitsPerKey)
	po.WithFSDefaults() // disk-health checks feed EventListener.DiskSlow
	db, err := pebble.Open(dir, po)
	if err != nil {
		_ = lock.Close()
		return nil, openError(dir, fs, err)
	}
	return &Store{dir: dir, db: db, lock: lock}, nil
}

// Dir is the data directory.
func (s *Store) Dir() string { return s.dir }

// Metrics returns Pebble's metrics (disk usage, compactions, cache hits),
// for the metrics package.
func (s *Store) Metrics() (*pebble.Metrics, error) {
	if !s.gate.Enter() {
		return nil, store.ErrClosed
	}
	defer s.gate.Exit()
	return s.db.Metrics(), nil
}

// Get returns a copy of the value under key, or store.ErrNotFound.
func (s *Store) Get(key []byte) ([]byte, error) {
	if !s.gate.Enter() {
		return nil, store.ErrClosed
	}
	defer s.gate.Exit()
	v, closer, err := s.db.Get(key)
	if err != nil {
		if errors.Is(err, pebble.ErrNotFound) {
			return nil, store.ErrNotFound
		}
		return nil, fmt.Errorf("store %s: get: %w", s.dir, err)
	}
	out := make([]byte, len(v))
	copy(out, v)
	_ = closer.Close()
	return out, nil
}

// Scan calls fn for every key with prefix from start, in order, reading a
// consistent view of the store as of the start of the scan.
func (s *Store) Scan(prefix, start []byte, fn func(key, value []byte) error) error {
	if !s.gate.Enter() {
		return store.ErrClosed
	}
	defer s.gate.Exit()
	lower := prefix
	if bytes.Compare(start, prefix) > 0 {
		lower = start
	}
	upper := store.PrefixEnd(prefix)
	if upper != nil && bytes.Compare(lower, upper) >= 0 {
		return nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("store %s: scan: %w", s.dir, err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("store %s: scan: %w", s.dir, err)
		}
		if err := fn(it.Key(), v); err != nil {
			_ = it.Close()
			if errors.Is(err, store.ErrStop) {
				return nil
			}
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("store %s: scan: %w", s.dir, err)
	}
	return nil
}

// NewBatch starts an atomic batch.
func (s *Store) NewBatch() store.Batch {
	return &batch{s: s, b: s.db.NewBatch()}
}

// Compact compacts [start, end) of the LSM; nil bounds mean the first and
// past the last key.
func (s *Store) Compact(start, end []byte) error {
	if !s.gate.Enter() {
		return store.ErrClosed
	}
	defer s.gate.Exit()
	if start == nil {
		start = []byte{}
	}
	if end == nil {
		last, err := s.lastKey()
		if err != nil || last == nil {
			return err
		}
		end = append(last, 0)
	}
	if bytes.Compare(start, end) >= 0 {
		return nil
	}
	if err := s.db.Compact(context.Background(), start, end, false); err != nil {
		return fmt.Errorf("store %s: compact: %w", s.dir, err)
	}
	return nil
}

// lastKey returns a copy of the greatest key, or nil for an empty store.
func (s *Store) lastKey() ([]byte, error) {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return nil, fmt.Errorf("store %s: compact: %w", s.dir, err)
	}
	var last []byte
	if it.Last() {
		last = bytes.Clone(it.Key())
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("store %s: compact: %w", s.dir, err)
	}
	return last, nil
}

// Close waits for operations in flight, flushes the memtable, closes Pebble
// and releases the directory lock. A second Close returns store.ErrClosed.
func (s *Store) Close() error {
	if !s.gate.Close() {
		return store.ErrClosed
	}
	err := s.db.Close()
	if lerr := s.lock.Close(); err == nil {
		err = lerr
	}
	openDirs.Delete(s.key)
	if err != nil {
		return fmt.Errorf("store %s: close: %w", s.dir, err)
	}
	return nil
}

type batch struct {
	s    *Store
	b    *pebble.Batch // nil once committed or closed
	n    int
	err  error // first staging error, returned by Commit
	done bool
}

func (b *batch) Put(key, value []byte) {
	b.n++
	if b.b != nil && b.err == nil {
		b.err = b.b.Set(key, value, nil)
	}
}

func (b *batch) Delete(key []byte) {
	b.n++
	if b.b != nil && b.err == nil {
		b.err = b.b.Delete(key, nil)
	}
}

func (b *batch) DeleteRange(start, end []byte) {
	if end == nil {
		panic("store: DeleteRange with nil end")
	}
	b.n++
	if b.b != nil && b.err == nil && bytes.Compare(start, end) < 0 {
		b.err = b.b.DeleteRange(start, end, nil)
	}
}

func (b *batch) Len() int { return b.n }

// Commit applies the batch with pebble.Sync or pebble.NoSync.
func (b *batch) Commit(sync bool) error {
	if b.done {
		return store.ErrBatchDone
	}
	defer b.Close()
	s := b.s
	if !s.gate.Enter() {
		return store.ErrClosed
	}
	defer s.gate.Exit()
	if b.err != nil {
		return fmt.Errorf("store %s: commit: %w", s.dir, b.err)
	}
	opt := pebble.NoSync
	if sync {
		opt = pebble.Sync
	}
	if err := b.b.Commit(opt); err != nil {
		return fmt.Errorf("store %s: commit: %w", s.dir, err)
	}
	return nil
}

func (b *batch) Close() {
	b.done = true
	if b.b != nil {
		_ = b.b.Close()
		b.b = nil
	}
}
