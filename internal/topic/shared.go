package topic

import (
	"strings"
	"sync/atomic"
)

// group is one shared subscription: a share name plus the inner filter
// given by the node that holds it [MQTT-4.8.2-1]. "$share/g/a/b" and
// "$share/g/a/+" are different groups on different nodes.
type group struct {
	name    string        // share name, e.g. "g" of "$share/g/a/b"
	members subList       // guarded by Index.mu
	next    atomic.Uint64 // round-robin cursor; advanced under the read lock
}

// addGroup returns the shared group with the given name at n, creating it.
func (n *node) addGroup(name string) *group {
	e := n.extend()
	if g := e.groups[name]; g != nil {
		return g
	}
	if e.groups == nil {
		e.groups = make(map[string]*group, 1)
	}
	g := &group{name: strings.Clone(name)}
	e.groups[g.name] = g
	return g
}

// pick chooses the member that receives the next message, round-robin
// over the members for which eligible returns true; if none is eligible
// it picks the next member anyway. eligible may be nil (all eligible).
// Callers hold Index.mu for reading; concurrent picks are safe and, when
// all members are eligible, each member gets an equal share.
func (g *group) pick(eligible func(string) bool) *sub {
	n := uint64(len(g.members.s))
	if n == 0 {
		return nil
	}
	start := g.next.Add(1) - 1
	if eligible == nil || n == 1 {
		return &g.members.s[start%n]
	}
	for skip := range n {
		m := &g.members.s[(start+skip)%n]
		if !eligible(m.client) {
			continue
		}
		if skip > 0 {
			// Resume after m next time, so the member after a run of
			// ineligible ones is not favoured. Losing the race to a
			// concurrent pick only makes this approximate.
			g.next.CompareAndSwap(start+1, start+skip+1)
		}
		return m
	}
	return &g.members.s[start%n]
}
