package storetest_test

import (
	"errors"
	"syscall"
	"testing"

	"github.com/baram-mqtt/baram/internal/store"
	"github.com/baram-mqtt/baram/internal/store/memstore"
	"github.com/baram-mqtt/baram/internal/store/storetest"
)

// TestFaultyConforms runs the suite through a Faulty wrapper that fails
// nothing: the wrapper is transparent.
func TestFaultyConforms(t *testing.T) {
	storetest.Run(t, func(testing.TB, string) store.Store {
		return storetest.NewFaulty(memstore.New())
	}, storetest.Options{})
}

func put(s store.Store, k, v string) error {
	b := s.NewBatch()
	defer b.Close()
	b.Put([]byte(k), []byte(v))
	b.Put([]byte(k+"/2"), []byte(v))
	return b.Commit(true)
}

func TestFaultyFailedCommitAppliesNothing(t *testing.T) {
	f := storetest.NewFaulty(memstore.New())
	defer f.Close()
	f.FailNext.Store(2)
	for _, k := range []string{"a", "b"} {
		err := put(f, k, "v")
		if !errors.Is(err, storetest.ErrInjected) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("Commit %s: %v, want the injected ENOSPC", k, err)
		}
		for _, key := range []string{k, k + "/2"} {
			if _, err := f.Get([]byte(key)); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("failed Commit applied %q (%v)", key, err)
			}
		}
	}
	if err := put(f, "c", "v"); err != nil {
		t.Fatalf("third Commit: %v, want success after two failures", err)
	}
	if got := f.Failed.Load(); got != 2 {
		t.Fatalf("Failed = %d, want 2", got)
	}

	fsyncErr := errors.New("fsync: input/output error")
	f.SetErr(fsyncErr)
	f.FailAll.Store(true)
	for range 3 {
		if err := put(f, "d", "v"); !errors.Is(err, fsyncErr) {
			t.Fatalf("Commit with FailAll: %v", err)
		}
	}
	if _, err := f.Get([]byte("d")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("failed Commit applied d (%v)", err)
	}

	// AfterApply: the error is reported but the batch landed.
	f.AfterApply.Store(true)
	if err := put(f, "e", "v"); !errors.Is(err, fsyncErr) {
		t.Fatalf("Commit with AfterApply: %v", err)
	}
	if v, err := f.Get([]byte("e/2")); err != nil || string(v) != "v" {
		t.Fatalf("AfterApply batch not applied: %q, %v", v, err)
	}
	f.FailAll.Store(false)
	f.SetErr(nil)
	if err := put(f, "g", "v"); err != nil {
		t.Fatal(err)
	}
}
