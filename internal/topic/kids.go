package topic

import "iter"

// smallKids is the most children kept in a linear slice; above it a node
// switches to a map. Most trie nodes have one or two children, and a
// short scan beats hashing while using a fraction of a map's memory.
const smallKids = 16

// kid is one entry of a small child list.
type kid[N any] struct {
	key string // the level, e.g. "tennis" or ""
	n   N
}

// bigKids holds the children of a node with many of them.
type bigKids[N any] struct {
	m    map[string]N
	peak int // largest len(m) since the map was built; used to shrink it
}

// children maps a topic level to a child node. It is a short slice while
// small and a map once large; it shrinks back as entries are removed, so
// memory returns after mass unsubscription (Go maps never shrink by
// themselves). It does no locking: the owning trie's lock guards it.
type children[N comparable] struct {
	list []kid[N]    // used while big == nil
	big  *bigKids[N] // non-nil once more than smallKids children
}

// get returns the child for key, or the zero N.
func (c *children[N]) get(key string) N {
	if c.big != nil {
		return c.big.m[key]
	}
	for i := range c.list {
		if c.list[i].key == key {
			return c.list[i].n
		}
	}
	var zero N
	return zero
}

// put adds a child; key must not be present.
func (c *children[N]) put(key string, n N) {
	if c.big == nil && len(c.list) < smallKids {
		c.list = append(c.list, kid[N]{key, n})
		return
	}
	if c.big == nil {
		c.big = &bigKids[N]{m: make(map[string]N, 2*smallKids)}
		for _, e := range c.list {
			c.big.m[e.key] = e.n
		}
		c.list = nil
	}
	c.big.m[key] = n
	c.big.peak = max(c.big.peak, len(c.big.m))
}

// del removes the child for key, if any.
func (c *children[N]) del(key string) {
	if c.big == nil {
		for i := range c.list {
			if c.list[i].key == key {
				last := len(c.list) - 1
				c.list[i] = c.list[last]
				c.list[last] = kid[N]{}
				c.list = c.list[:last]
				break
			}
		}
		if len(c.list) == 0 {
			c.list = nil
		}
		return
	}
	delete(c.big.m, key)
	switch n := len(c.big.m); {
	case n <= smallKids/2:
		c.list = make([]kid[N], 0, n)
		for k, v := range c.big.m {
			c.list = append(c.list, kid[N]{k, v})
		}
		c.big = nil
	case 4*n < c.big.peak:
		c.big = &bigKids[N]{m: copyMap(c.big.m), peak: n}
	}
}

// copyMap copies m into a map sized for its current length; maps.Clone
// would keep the old, larger table.
func copyMap[N any](m map[string]N) map[string]N {
	out := make(map[string]N, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// len reports the number of children.
func (c *children[N]) len() int {
	if c.big != nil {
		return len(c.big.m)
	}
	return len(c.list)
}

// all yields every (level, child) pair in no particular order.
func (c *children[N]) all() iter.Seq2[string, N] {
	return func(yield func(string, N) bool) {
		if c.big != nil {
			for k, n := range c.big.m {
				if !yield(k, n) {
					return
				}
			}
			return
		}
		for _, e := range c.list {
			if !yield(e.key, e.n) {
				return
			}
		}
	}
}
