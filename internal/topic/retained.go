package topic

import (
	"strings"
	"sync"
)

// Retained indexes retained messages by topic name in a trie with one
// node per level, so a wildcard lookup visits only the matching branches
// instead of scanning every topic. V is whatever the broker stores (for
// example a pointer to the PUBLISH packet).
//
// Retained is safe for concurrent use. Get, Match, Len and Range take a
// read lock; Set and Delete take the write lock.
type Retained[V any] struct {
	mu   sync.RWMutex
	root rnode[V] // guarded by mu
	n    int      // guarded by mu: messages stored
}

// rnode is one level of the retained trie; all fields are guarded by
// Retained.mu.
type rnode[V any] struct {
	kids children[*rnode[V]] // next levels
	name string              // full topic name, when has
	val  V                   // the retained value, when has
	has  bool                // a message is retained at exactly this name
}

// NewRetained returns an empty retained-message index.
func NewRetained[V any]() *Retained[V] { return new(Retained[V]) }

// Set stores v as the retained message for name, replacing any previous
// one [MQTT-3.3.1-5]. name must be a valid topic name (see ValidName);
// the index keeps it as given and reports it from Match and Range.
func (r *Retained[V]) Set(name string, v V) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := &r.root
	for level, rest, more := "", name, true; more; {
		level, rest, more = strings.Cut(rest, "/")
		c := n.kids.get(level)
		if c == nil {
			c = new(rnode[V])
			n.kids.put(level, c) // level is part of name, which is kept anyway
		}
		n = c
	}
	if !n.has {
		r.n++
	}
	n.name, n.val, n.has = name, v, true
}

// Delete removes the retained message for name, as a retained PUBLISH
// with an empty payload does [MQTT-3.3.1-6], and reports whether there
// was one. Nodes left empty are pruned so their memory returns.
func (r *Retained[V]) Delete(name string) bool {
	type rstep struct {
		parent *rnode[V]
		level  string
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var buf [8]rstep
	path := buf[:0]
	n := &r.root
	for level, rest, more := "", name, true; more; {
		level, rest, more = strings.Cut(rest, "/")
		path = append(path, rstep{n, level})
		if n = n.kids.get(level); n == nil {
			return false
		}
	}
	if !n.has {
		return false
	}
	var zero V
	n.name, n.val, n.has = "", zero, false
	r.n--
	for i := len(path) - 1; i >= 0 && !n.has && n.kids.len() == 0; i-- {
		n = path[i].parent
		n.kids.del(path[i].level)
	}
	return true
}

// Get returns the retained message for name, if any.
func (r *Retained[V]) Get(name string) (V, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := &r.root
	for level, rest, more := "", name, true; more; {
		level, rest, more = strings.Cut(rest, "/")
		if n = n.kids.get(level); n == nil {
			var zero V
			return zero, false
		}
	}
	return n.val, n.has
}

// Len reports the number of retained messages.
func (r *Retained[V]) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.n
}

// Range calls fn for every retained message, in no particular order,
// until fn returns false; for persistence and administration.
//
// fn runs under the read lock: it must not call Set or Delete on r
// (deadlock), and while it blocks, writers wait and so, behind them, do
// new readers; collect work and do slow things after Match returns.
func (r *Retained[V]) Range(fn func(name string, v V) bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	r.root.visit(false, fn)
}

// visit calls fn for n and everything below it, skipping children whose
// level starts with '$' when skipDollar is set; it returns false once fn
// does.
func (n *rnode[V]) visit(skipDollar bool, fn func(string, V) bool) bool {
	if n.has && !fn(n.name, n.val) {
		return false
	}
	for level, c := range n.kids.all() {
		if skipDollar && isDollar(level) {
			continue
		}
		if !c.visit(false, fn) {
			return false
		}
	}
	return true
}
