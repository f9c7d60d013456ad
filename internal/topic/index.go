package topic

import (
	"strings"
	"sync"
)

// Options are the per-subscription options the broker needs at delivery.
type Options struct {
	QoS               byte   // maximum QoS granted
	NoLocal           bool   // MQTT 5: do not deliver the client's own messages
	RetainAsPublished bool   // MQTT 5: keep the RETAIN flag when forwarding
	RetainHandling    byte   // MQTT 5: 0, 1 or 2 (see Subscribe's result)
	ID                uint32 // MQTT 5 subscription identifier; 0 = none
}

// Matched is one subscriber a topic matched.
type Matched struct {
	Client string  // client id
	Opts   Options // the options of the subscription that matched
	Group  string  // shared group name; "" for a normal subscription
}

// Index is the subscription index: a trie with one node per filter level.
// A topic name is matched by walking its levels, following at each node
// the literal child, the '+' child and the '#' child, so the cost depends
// on the number of matching filters, not on the number stored.
//
// Index is safe for concurrent use. Match takes a read lock, so any
// number of publishers match in parallel; Subscribe and Unsubscribe take
// the write lock.
type Index struct {
	mu       sync.RWMutex
	root     node                     // guarded by mu
	count    int                      // guarded by mu: subscriptions stored
	eligible func(client string) bool // guarded by mu; nil = all eligible
}

// NewIndex returns an empty subscription index.
func NewIndex() *Index { return new(Index) }

// SetEligible sets fn to tell Match which shared-group members can receive
// now (e.g. are online); round-robin skips the others, and if none is
// eligible picks the next member anyway. nil makes every member eligible.
//
// fn is called by Match under the index's read lock: it must be fast,
// must not call back into the Index, and must not wait for a lock whose
// holder may be calling Subscribe or Unsubscribe (that would deadlock:
// the writer waits for Match, Match waits for fn).
func (x *Index) SetEligible(fn func(client string) bool) {
	x.mu.Lock()
	x.eligible = fn
	x.mu.Unlock()
}

// Subscribe adds or replaces client's subscription to filter, which may
// be shared ("$share/group/inner" [MQTT-4.8.2-1]). It reports whether it
// replaced an existing subscription, as MQTT 5 retain handling 1 needs
// [MQTT-3.3.1-10]; a replacement keeps one entry with the new options
// [MQTT-3.8.4-3].
//
// filter must have passed ValidFilter. The index keeps client as given.
func (x *Index) Subscribe(client, filter string, opts Options) (replaced bool) {
	group, inner, shared := ParseShared(filter)
	if !shared {
		inner = filter
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	n := &x.root
	for level, rest, more := "", inner, true; more; {
		level, rest, more = strings.Cut(rest, "/")
		n = n.addChild(level)
	}
	if shared {
		replaced = n.addGroup(group).members.set(client, opts)
	} else {
		replaced = n.addSub(client, opts)
	}
	if !replaced {
		x.count++
	}
	return replaced
}

// step is one edge on the path from the root to a filter's node.
type step struct {
	parent *node
	level  string
}

// Unsubscribe removes client's subscription to filter (normal or
// shared) and reports whether it existed. Nodes left empty are pruned so
// their memory returns.
func (x *Index) Unsubscribe(client, filter string) bool {
	group, inner, shared := ParseShared(filter)
	if !shared {
		inner = filter
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	var buf [8]step
	path := buf[:0]
	n := &x.root
	for level, rest, more := "", inner, true; more; {
		level, rest, more = strings.Cut(rest, "/")
		path = append(path, step{n, level})
		if n = n.child(level); n == nil {
			return false
		}
	}
	if !n.removeSub(client, group, shared) {
		return false
	}
	x.count--
	for i := len(path) - 1; i >= 0 && n.empty(); i-- {
		n = path[i].parent
		n.delChild(path[i].level)
	}
	return true
}

// Count reports the number of subscriptions stored, counting each
// shared-group membership as one.
func (x *Index) Count() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.count
}
