package topic

import "strings"

// node is one level of the subscription trie. It is kept small (48
// bytes) because a large index has about two nodes per subscription:
// what most nodes lack lives behind pointers that are then nil. All
// fields are guarded by Index.mu.
type node struct {
	kids children[*node] // literal next levels
	subs *subList        // normal subscriptions ending here; nil if none
	ext  *nodeExt        // wildcard children and shared groups; nil if none
}

// nodeExt holds the parts of a node that few nodes have. All fields are
// guarded by Index.mu.
type nodeExt struct {
	plus   *node             // the "+" next level, or nil
	hash   *node             // the "#" next level, or nil
	groups map[string]*group // shared subscriptions ending here, by share name
}

// empty reports whether n holds nothing and can be pruned.
func (n *node) empty() bool {
	return n.kids.len() == 0 && n.subs == nil && n.ext == nil
}

// child returns the next node for a filter level, or nil.
func (n *node) child(level string) *node {
	switch {
	case level == "+" && n.ext != nil:
		return n.ext.plus
	case level == "#" && n.ext != nil:
		return n.ext.hash
	case level == "+" || level == "#":
		return nil
	}
	return n.kids.get(level)
}

// addChild returns the next node for a filter level, creating it.
func (n *node) addChild(level string) *node {
	if c := n.child(level); c != nil {
		return c
	}
	c := new(node)
	switch level {
	case "+":
		n.extend().plus = c
	case "#":
		n.extend().hash = c
	default:
		// Clone: the level may alias a large packet buffer.
		n.kids.put(strings.Clone(level), c)
	}
	return c
}

// delChild removes the child for a filter level.
func (n *node) delChild(level string) {
	switch {
	case level == "+" && n.ext != nil:
		n.ext.plus = nil
	case level == "#" && n.ext != nil:
		n.ext.hash = nil
	default:
		n.kids.del(level)
	}
	n.shrink()
}

// extend returns n.ext, creating it.
func (n *node) extend() *nodeExt {
	if n.ext == nil {
		n.ext = new(nodeExt)
	}
	return n.ext
}

// shrink drops n.ext once it holds nothing.
func (n *node) shrink() {
	if e := n.ext; e != nil && e.plus == nil && e.hash == nil && len(e.groups) == 0 {
		n.ext = nil
	}
}

// addSub adds or replaces client's normal subscription at n.
func (n *node) addSub(client string, opts Options) (replaced bool) {
	if n.subs == nil {
		n.subs = new(subList)
	}
	return n.subs.set(client, opts)
}

// removeSub removes client's normal subscription at n, or its membership
// of the shared group at n when shared is set, and reports whether it
// existed.
func (n *node) removeSub(client, group string, shared bool) bool {
	if !shared {
		if n.subs == nil || !n.subs.remove(client) {
			return false
		}
		if len(n.subs.s) == 0 {
			n.subs = nil
		}
		return true
	}
	if n.ext == nil {
		return false
	}
	g := n.ext.groups[group]
	if g == nil || !g.members.remove(client) {
		return false
	}
	if len(g.members.s) == 0 {
		delete(n.ext.groups, group)
		if len(n.ext.groups) == 0 {
			n.ext.groups = nil
		}
		n.shrink()
	}
	return true
}
