package topic

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrent runs Match in parallel with Subscribe, Unsubscribe and
// SetEligible, and the retained index likewise; run it with -race. A
// subscription made before the start and never removed must always match.
func TestConcurrent(t *testing.T) {
	x := NewIndex()
	r := NewRetained[int]()
	x.Subscribe("stable", "dev/+/temp", Options{})
	x.Subscribe("m1", "$share/g/dev/#", Options{})
	r.Set("dev/stable/temp", 1)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 4 { // writers
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				c := fmt.Sprint("w", w)
				f := fmt.Sprintf("dev/%d/%s", i%50, []string{"temp", "+", "#"}[i%3])
				x.Subscribe(c, f, Options{QoS: 1})
				x.Subscribe(c, "$share/g/dev/#", Options{})
				r.Set(fmt.Sprintf("dev/%d/temp", i%50), i)
				if i%2 == 0 {
					x.Unsubscribe(c, f)
					x.Unsubscribe(c, "$share/g/dev/#")
					r.Delete(fmt.Sprintf("dev/%d/temp", i%50))
				}
				if i%100 == 0 {
					x.SetEligible(func(c string) bool { return c != "m1" })
				}
			}
		})
	}
	for range 4 { // readers
		wg.Go(func() {
			dst := make([]Matched, 0, 64)
			for i := 0; !stop.Load(); i++ {
				dst = x.Match(fmt.Sprintf("dev/%d/temp", i%60), dst[:0])
				if !hasClient(dst, "stable") {
					t.Error("stable subscription not matched")
					return
				}
				found := false
				r.Match("dev/+/temp", func(n string, _ int) bool {
					found = found || n == "dev/stable/temp"
					return true
				})
				if !found {
					t.Error("stable retained message not matched")
					return
				}
			}
		})
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		_ = x.Count() + r.Len()
		r.Range(func(string, int) bool { return true })
	}
	stop.Store(true)
	wg.Wait()
}

func hasClient(ms []Matched, client string) bool {
	for _, m := range ms {
		if m.Client == client {
			return true
		}
	}
	return false
}

// TestConcurrentRoundRobin checks that parallel matches share a group's
// messages exactly evenly when every member is eligible.
func TestConcurrentRoundRobin(t *testing.T) {
	x := NewIndex()
	for _, c := range []string{"a", "b", "c"} {
		x.Subscribe(c, "$share/g/t", Options{})
	}
	x.SetEligible(func(string) bool { return true })
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			local := map[string]int{}
			for range 300 {
				local[x.Match("t", nil)[0].Client]++
			}
			mu.Lock()
			for c, n := range local {
				counts[c] += n
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if counts["a"] != 800 || counts["b"] != 800 || counts["c"] != 800 {
		t.Errorf("deliveries %v, want 800 each", counts)
	}
}
