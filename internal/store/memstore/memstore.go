// Package memstore is an in-memory store.Store: an ordered B-tree behind a
// mutex. It backs tests and `store.type: memory`, where nothing survives a
// restart. Commit(sync) is the same as Commit(false): there is no disk.
package memstore

import (
	"bytes"
	"sync"

	"github.com/baram-mqtt/baram/internal/store"
	"github.com/google/btree"
)

// degree is the B-tree node degree; 32 keeps nodes about a cache page of
// pointers wide.
const degree = 32

type item struct {
	key, value []byte
}

func less(a, b item) bool { return bytes.Compare(a.key, b.key) < 0 }

// Store is an in-memory store.Store, safe for concurrent use. The zero
// value is not usable; call New.
type Store struct {
	mu     sync.RWMutex
	tree   *btree.BTreeG[item] // guarded by mu
	closed bool                // guarded by mu
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{tree: btree.NewG(degree, less)}
}

// Get returns a copy of the value under key, or store.ErrNotFound.
func (s *Store) Get(key []byte) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	it, ok := s.tree.Get(item{key: key})
	if !ok {
		return nil, store.ErrNotFound
	}
	return bytes.Clone(it.value), nil
}

// Scan calls fn for every key with prefix from start, in order. It walks a
// copy-on-write snapshot taken when the scan begins, so fn may write to the
// store; those writes are not seen by the scan.
func (s *Store) Scan(prefix, start []byte, fn func(key, value []byte) error) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return store.ErrClosed
	}
	snap := s.tree.Clone()
	s.mu.Unlock()

	from := prefix
	if bytes.Compare(start, prefix) > 0 {
		from = start
	}
	end := store.PrefixEnd(prefix)
	var err error
	visit := func(it item) bool {
		if err = fn(it.key, it.value); err != nil {
			return false
		}
		return true
	}
	if end == nil {
		snap.AscendGreaterOrEqual(item{key: from}, visit)
	} else {
		snap.AscendRange(item{key: from}, item{key: end}, visit)
	}
	if err == store.ErrStop {
		return nil
	}
	return err
}

// NewBatch starts an atomic batch.
func (s *Store) NewBatch() store.Batch { return &batch{s: s} }

// Compact is a no-op.
func (s *Store) Compact(start, end []byte) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	return nil
}

// Close drops the contents; later calls return store.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	s.closed = true
	s.tree = nil
	return nil
}

type opKind uint8

const (
	opPut opKind = iota
	opDelete
	opDeleteRange
)

type op struct {
	kind     opKind
	key, val []byte // val is the range end for opDeleteRange
}

type batch struct {
	s    *Store
	ops  []op
	done bool
}

func (b *batch) Put(key, value []byte) {
	b.ops = append(b.ops, op{opPut, bytes.Clone(key), cloneNonNil(value)})
}

func (b *batch) Delete(key []byte) {
	b.ops = append(b.ops, op{kind: opDelete, key: bytes.Clone(key)})
}

func (b *batch) DeleteRange(start, end []byte) {
	if end == nil {
		panic("store: DeleteRange with nil end")
	}
	b.ops = append(b.ops, op{opDeleteRange, bytes.Clone(start), bytes.Clone(end)})
}

func (b *batch) Len() int { return len(b.ops) }

// Commit applies every operation under the store's write lock, so readers
// see all of the batch or none of it.
func (b *batch) Commit(bool) error {
	if b.done {
		return store.ErrBatchDone
	}
	b.done = true
	s := b.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	for _, o := range b.ops {
		switch o.kind {
		case opPut:
			s.tree.ReplaceOrInsert(item{o.key, o.val})
		case opDelete:
			s.tree.Delete(item{key: o.key})
		case opDeleteRange:
			s.deleteRange(o.key, o.val)
		}
	}
	b.ops = nil
	return nil
}

// deleteRange removes [start, end); s.mu is held.
func (s *Store) deleteRange(start, end []byte) {
	if bytes.Compare(start, end) >= 0 {
		return
	}
	var doomed []item
	s.tree.AscendRange(item{key: start}, item{key: end}, func(it item) bool {
		doomed = append(doomed, it)
		return true
	})
	for _, it := range doomed {
		s.tree.Delete(it)
	}
}

func (b *batch) Close() {
	b.done = true
	b.ops = nil
}

// cloneNonNil copies v, returning an empty non-nil slice for an empty v so
// that Get of an empty value is distinguishable from a missing key.
func cloneNonNil(v []byte) []byte {
	if len(v) == 0 {
		return []byte{}
	}
	return bytes.Clone(v)
}
