package topic

import (
	"strconv"
	"testing"
)

// TestMemoryReturns checks that unsubscribing and deleting give the
// memory back, including that of large child maps, which Go never
// shrinks by itself.
func TestMemoryReturns(t *testing.T) {
	const n, keep = 200_000, 100
	filters := make([]string, n)
	for i := range filters {
		filters[i] = "dev/" + strconv.Itoa(i) + "/temp"
	}
	base := heapInUse()
	x := NewIndex()
	r := NewRetained[int]()
	for i, f := range filters {
		x.Subscribe("c", f, Options{})
		x.Subscribe(strconv.Itoa(i%50), f, Options{}) // shares the string
		r.Set(f, i)
	}
	full := heapInUse() - base
	for _, f := range filters[keep:] {
		x.Unsubscribe("c", f)
		r.Delete(f)
	}
	for i, f := range filters[keep:] {
		x.Unsubscribe(strconv.Itoa((i+keep)%50), f)
	}
	left := int64(heapInUse()) - int64(base)
	t.Logf("heap: %d MB full, %d KB after removing all but %d", full>>20, left>>10, keep)
	if left > 1<<20 {
		t.Errorf("%d bytes still held for %d subscriptions and messages", left, keep)
	}
	if x.Count() != 2*keep || r.Len() != keep {
		t.Errorf("Count %d, Len %d", x.Count(), r.Len())
	}
}
