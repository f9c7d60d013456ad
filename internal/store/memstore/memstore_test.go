package memstore_test

import (
	"testing"

	"github.com/baram-mqtt/baram/internal/store"
	"github.com/baram-mqtt/baram/internal/store/memstore"
	"github.com/baram-mqtt/baram/internal/store/storetest"
)

func open(testing.TB, string) store.Store { return memstore.New() }

func TestConformance(t *testing.T) {
	storetest.Run(t, open, storetest.Options{})
}

func BenchmarkCommit(b *testing.B) { storetest.BenchmarkCommit(b, open, storetest.BenchOptions{}) }

func BenchmarkScan(b *testing.B) { storetest.BenchmarkScan(b, open) }
