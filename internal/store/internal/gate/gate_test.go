package gate

import (
	"sync"
	"testing"
	"time"
)

func TestCloseWaitsForInflight(t *testing.T) {
	var g Gate
	if !g.Enter() {
		t.Fatal("Enter on an open gate failed")
	}
	closed := make(chan struct{})
	go func() { g.Close(); close(closed) }()
	// A nested operation still runs while Close waits... once Close has
	// begun it is turned away, but the outer one keeps Close waiting.
	time.Sleep(10 * time.Millisecond)
	select {
	case <-closed:
		t.Fatal("Close returned with an operation in flight")
	default:
	}
	if g.Enter() {
		t.Fatal("Enter succeeded after Close began")
	}
	g.Exit()
	<-closed
	if g.Close() {
		t.Fatal("second Close reported true")
	}
}

func TestConcurrent(t *testing.T) {
	for range 50 {
		var g Gate
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 100 {
					if g.Enter() {
						g.Exit()
					}
				}
			})
		}
		g.Close()
		wg.Wait()
		if g.inflight.Load() != 0 {
			t.Fatal("inflight not zero")
		}
	}
}
