package boltstore

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/baram-mqtt/baram/internal/store"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

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
	err  error // first invalid operation, returned by Commit
	done bool
}

// NewBatch starts an atomic batch.
func (s *Store) NewBatch() store.Batch { return &batch{s: s} }

func (b *batch) check(key []byte, value []byte) {
	switch {
	case b.err != nil:
	case len(key) == 0:
		b.err = berrors.ErrKeyRequired
	case len(key) > bolt.MaxKeySize:
		b.err = fmt.Errorf("%w: %d bytes, at most %d", berrors.ErrKeyTooLarge, len(key), bolt.MaxKeySize)
	case int64(len(value)) > bolt.MaxValueSize:
		b.err = fmt.Errorf("%w: %d bytes", berrors.ErrValueTooLarge, len(value))
	}
}

func (b *batch) Put(key, value []byte) {
	b.check(key, value)
	v := make([]byte, len(value)) // non-nil even when empty
	copy(v, value)
	b.ops = append(b.ops, op{opPut, bytes.Clone(key), v})
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

// Commit applies the batch in a synced bbolt transaction, possibly shared
// with concurrent commits; sync is ignored (every commit is synced).
func (b *batch) Commit(bool) error {
	if b.done {
		return store.ErrBatchDone
	}
	b.done = true
	ops, err := b.ops, b.err
	b.ops = nil
	s := b.s
	if !s.gate.Enter() {
		return store.ErrClosed
	}
	defer s.gate.Exit()
	if err != nil {
		return fmt.Errorf("store %s: commit: %w", s.dir, err)
	}
	if len(ops) == 0 {
		return nil
	}
	if err := s.group.commit(ops); err != nil {
		return fmt.Errorf("store %s: commit: %w", s.dir, err)
	}
	return nil
}

func (b *batch) Close() {
	b.done = true
	b.ops = nil
}

func apply(bk *bolt.Bucket, ops []op) error {
	for _, o := range ops {
		var err error
		switch o.kind {
		case opPut:
			err = bk.Put(o.key, o.val)
		case opDelete:
			err = bk.Delete(o.key)
		case opDeleteRange:
			err = deleteRange(bk, o.key, o.val)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// request is one batch waiting in the group-commit queue.
type request struct {
	ops  []op
	err  error
	lead bool          // set before wake when this request must lead the next group
	wake chan struct{} // buffered; signalled once
}

// committer queues commits that arrive while a transaction is being
// written; the next transaction applies the whole queue (group commit).
type committer struct {
	s     *Store
	mu    sync.Mutex
	queue []*request // guarded by mu
	busy  bool       // a leader is writing a group; guarded by mu
}

var requestPool = sync.Pool{New: func() any { return &request{wake: make(chan struct{}, 1)} }}

// commit applies ops in a synced transaction, shared with the commits
// queued behind the one in progress, and returns once it is durable.
func (c *committer) commit(ops []op) error {
	r := requestPool.Get().(*request)
	r.ops, r.err, r.lead = ops, nil, false
	defer func() { r.ops = nil; requestPool.Put(r) }()

	c.mu.Lock()
	c.queue = append(c.queue, r)
	if c.busy {
		c.mu.Unlock()
		<-r.wake
		if !r.lead {
			return r.err
		}
		c.mu.Lock()
	}
	c.busy = true
	group := c.queue
	c.queue = nil
	c.mu.Unlock()

	c.apply(group)
	for _, q := range group {
		if q != r {
			q.wake <- struct{}{}
		}
	}

	c.mu.Lock()
	if len(c.queue) > 0 {
		next := c.queue[0]
		next.lead = true
		next.wake <- struct{}{}
	} else {
		c.busy = false
	}
	c.mu.Unlock()
	return r.err
}

// apply writes a group in one transaction. If that fails and the group has
// more than one batch, each is retried alone so that a batch bbolt rejects
// fails only itself.
func (c *committer) apply(group []*request) {
	err := c.s.update(func(bk *bolt.Bucket) error {
		for _, r := range group {
			if err := apply(bk, r.ops); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil || len(group) == 1 {
		for _, r := range group {
			r.err = err
		}
		return
	}
	for _, r := range group {
		r.err = c.s.update(func(bk *bolt.Bucket) error { return apply(bk, r.ops) })
	}
}
