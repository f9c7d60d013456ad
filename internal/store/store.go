// Package store is the broker's durable state behind one small interface:
// an ordered key-value store with atomic, optionally synced batches. The
// key layout (keys.go) and record encodings (records.go) are shared by
// every implementation, so pebblestore, boltstore and memstore differ only
// in how they keep bytes.
//
// The broker's promise rests on one rule: an acknowledgement is sent only
// after Commit(true) of the batch that stored the message has returned nil.
package store

import (
	"errors"
	"io"
)

// ErrNotFound is returned by Get for a missing key.
var ErrNotFound = errors.New("store: key not found")

// ErrClosed is returned by operations on a closed store.
var ErrClosed = errors.New("store: closed")

// Store is an ordered key-value store. Implementations are safe for
// concurrent use; concurrent synced commits should share an fsync (group
// commit) where the engine allows.
type Store interface {
	// Get returns a copy of the value stored under key, or ErrNotFound.
	Get(key []byte) ([]byte, error)
	// Scan calls fn for every key with the given prefix, in key order, from
	// start (inclusive; nil means the first key of the prefix). fn's key and
	// value are only valid during the call. Returning ErrStop ends the scan
	// without error; any other error ends it and is returned. fn may call
	// the store, including committing batches; whether a write made during
	// the scan is seen by the rest of the scan is not specified.
	Scan(prefix, start []byte, fn func(key, value []byte) error) error
	// NewBatch starts an atomic batch of writes.
	NewBatch() Batch
	// Compact asks the engine to reclaim space in [start, end); nil start
	// or end leaves that side unbounded. A no-op where not needed.
	Compact(start, end []byte) error
	// Close flushes and releases the store; the data directory lock is
	// released.
	io.Closer
}

// Batch is an atomic group of writes. Nothing is visible to readers before
// Commit; after a failed Commit nothing of the batch is applied (but see
// Commit). A batch is used by one goroutine. Operations apply in the order
// they were staged; Put, Delete and DeleteRange copy their arguments, so
// the caller may reuse its buffers at once.
type Batch interface {
	// Put stores value under key. Keys are non-empty.
	Put(key, value []byte)
	// Delete removes key; deleting a missing key is not an error.
	Delete(key []byte)
	// DeleteRange deletes every key in [start, end). end must not be nil
	// (use PrefixEnd); a range with start >= end deletes nothing.
	DeleteRange(start, end []byte)
	// Len is the number of operations staged.
	Len() int
	// Commit applies the batch; with sync it returns only once the batch
	// is on stable storage. The batch cannot be reused after Commit.
	//
	// An error means the batch must be treated as not stored: acknowledge
	// nothing that depends on it. Readers never see a failed batch, but
	// an I/O error in the final fsync can leave it on disk, found after a
	// restart (no engine can take back a write the disk may hold); that
	// costs a redelivery, never a lost acknowledged message.
	Commit(sync bool) error
	// Close discards an uncommitted batch; it is safe after Commit.
	Close()
}

// ErrBatchDone is returned by Commit of a batch already committed or
// closed.
var ErrBatchDone = errors.New("store: batch already committed or closed")

// ErrStop ends a Scan early without error.
var ErrStop = errors.New("store: stop scan")
