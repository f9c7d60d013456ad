package storetest

import (
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/baram-mqtt/baram/internal/store"
)

// ErrInjected is the error a Faulty store's failing Commit returns when
// Faulty.Err is nil. It wraps syscall.ENOSPC, as a full disk would.
var ErrInjected = fmt.Errorf("storetest: injected commit failure: %w", syscall.ENOSPC)

// Faulty wraps a store and fails commits on demand, to prove that callers
// acknowledge nothing whose batch failed. Reads and the rest pass through.
// Set the fields before or during use; they are safe for concurrent use.
type Faulty struct {
	store.Store
	// FailNext is the number of upcoming Commits to fail; each failure
	// decrements it.
	FailNext atomic.Int64
	// FailAll fails every Commit while set.
	FailAll atomic.Bool
	// AfterApply makes a failing Commit apply the batch first and then
	// report the error, as an fsync error after the write reached the disk
	// would: the outcome is unknown to the caller. When unset, a failing
	// Commit applies nothing.
	AfterApply atomic.Bool
	// Failed counts the Commits that were failed.
	Failed atomic.Int64

	err atomic.Pointer[error]
}

// NewFaulty wraps s; it fails nothing until told to.
func NewFaulty(s store.Store) *Faulty { return &Faulty{Store: s} }

// SetErr sets the error failing Commits return; nil means ErrInjected.
func (f *Faulty) SetErr(err error) {
	if err == nil {
		f.err.Store(nil)
		return
	}
	f.err.Store(&err)
}

// NewBatch returns a batch whose Commit may fail on purpose.
func (f *Faulty) NewBatch() store.Batch {
	return &faultyBatch{Batch: f.Store.NewBatch(), f: f}
}

// shouldFail reports whether this Commit fails, consuming one FailNext.
func (f *Faulty) shouldFail() bool {
	if f.FailAll.Load() {
		return true
	}
	for {
		n := f.FailNext.Load()
		if n <= 0 {
			return false
		}
		if f.FailNext.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

func (f *Faulty) injected() error {
	if p := f.err.Load(); p != nil {
		return *p
	}
	return ErrInjected
}

type faultyBatch struct {
	store.Batch
	f *Faulty
}

func (b *faultyBatch) Commit(sync bool) error {
	if !b.f.shouldFail() {
		return b.Batch.Commit(sync)
	}
	b.f.Failed.Add(1)
	if b.f.AfterApply.Load() {
		if err := b.Batch.Commit(sync); err != nil {
			return err
		}
	} else {
		b.Batch.Close()
	}
	return b.f.injected()
}

// testFailedCommit wraps the engine in Faulty: a failed Commit applies
// nothing of its batch, and the store goes on working.
func (h *harness) testFailedCommit(t *testing.T) {
	inner, _ := h.openTemp(t)
	f := NewFaulty(inner)
	commit(t, f, true, "before", "1")
	f.FailNext.Store(1)
	b := f.NewBatch()
	b.Put([]byte("lost/a"), []byte("x"))
	b.Put([]byte("lost/b"), []byte("x"))
	b.Delete([]byte("before"))
	if err := b.Commit(true); !errors.Is(err, ErrInjected) {
		t.Fatalf("Commit with an injected fault: %v", err)
	}
	b.Close()
	wantMissing(t, f, "lost/a")
	wantMissing(t, f, "lost/b")
	wantValue(t, f, "before", "1")
	commit(t, f, true, "after", "2")
	wantValue(t, inner, "after", "2")
}
