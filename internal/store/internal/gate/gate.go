// Package gate lets a store's Close wait for the operations in flight and
// turn later ones away with store.ErrClosed. Unlike a sync.RWMutex it is
// reentrant: an operation may start another (a Scan callback may Get or
// Commit) while Close is waiting, without deadlock.
package gate

import (
	"sync"
	"sync/atomic"
)

// Gate counts operations in flight. The zero value is open.
type Gate struct {
	closed   atomic.Bool
	inflight atomic.Int64
	mu       sync.Mutex
	drained  chan struct{} // set by Close while it waits; guarded by mu
}

// Enter starts an operation; it reports false once Close has begun, and
// then the caller must not call Exit.
func (g *Gate) Enter() bool {
	g.inflight.Add(1)
	if g.closed.Load() {
		g.Exit()
		return false
	}
	return true
}

// Exit ends an operation started by a successful Enter.
func (g *Gate) Exit() {
	if g.inflight.Add(-1) == 0 && g.closed.Load() {
		g.mu.Lock()
		if g.drained != nil {
			close(g.drained)
			g.drained = nil
		}
		g.mu.Unlock()
	}
}

// Close turns new operations away and waits for those in flight to end. It
// reports false if the gate was already closed.
func (g *Gate) Close() bool {
	g.mu.Lock()
	if g.closed.Swap(true) {
		g.mu.Unlock()
		return false
	}
	if g.inflight.Load() == 0 {
		g.mu.Unlock()
		return true
	}
	ch := make(chan struct{})
	g.drained = ch
	g.mu.Unlock()
	<-ch
	return true
}
