package topic

import "strings"

// Match appends to dst every normal subscription matching the topic
// name, plus, for every shared subscription (group, inner filter) that
// matches, exactly one member chosen round-robin (section 4.8.2 of
// MQTT 5), and returns dst. A client with several matching subscriptions
// appears once per subscription; the broker merges them, delivering at
// the highest QoS [MQTT-3.3.4-2] with every subscription identifier
// [MQTT-3.3.4-3], or sends one copy per subscription.
//
// Names starting with '$' are not matched by filters whose first level
// is a wildcard, shared or not [MQTT-4.7.2-1]. name must be a valid topic
// name (see ValidName). Match does not allocate when dst has capacity.
func (x *Index) Match(name string, dst []Matched) []Matched {
	dst, _ = x.MatchNodes(name, dst)
	return dst
}

// MatchNodes is Match, also reporting how many filters contributed
// normal subscriptions. A client has at most one subscription per filter,
// so with one such filter no client appears twice among the normal
// matches and the caller need not group them.
func (x *Index) MatchNodes(name string, dst []Matched) ([]Matched, int) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	m := matcher{x: x, dst: dst}
	level, rest, more := strings.Cut(name, "/")
	if !isDollar(level) {
		m.walk(&x.root, name, false)
	} else if c := x.root.kids.get(level); c != nil {
		m.walk(c, rest, !more)
	}
	return m.dst, m.nodes
}

// matcher collects the matches of one name; callers hold x.mu for
// reading.
type matcher struct {
	x     *Index
	dst   []Matched
	nodes int // filters that contributed normal subscriptions
}

// walk appends the matches under n for the remaining levels s of the
// name; end means all levels have been consumed and n is where a filter
// would end. It follows the literal child iteratively and recurses only
// into '+' children.
func (m *matcher) walk(n *node, s string, end bool) {
	for {
		var plus *node
		if e := n.ext; e != nil {
			if e.hash != nil { // '#' matches the rest, or the parent when end
				m.collect(e.hash)
			}
			plus = e.plus
		}
		if end {
			m.collect(n)
			return
		}
		level, rest, more := strings.Cut(s, "/")
		if plus != nil {
			m.walk(plus, rest, !more)
		}
		if n = n.kids.get(level); n == nil {
			return
		}
		s, end = rest, !more
	}
}

// collect appends the subscriptions whose filter ends at n: every normal
// subscriber and one member of each shared group.
func (m *matcher) collect(n *node) {
	if n.subs != nil && len(n.subs.s) > 0 {
		m.nodes++
		for i := range n.subs.s {
			s := &n.subs.s[i]
			m.dst = append(m.dst, Matched{Client: s.client, Opts: s.opts})
		}
	}
	if n.ext == nil {
		return
	}
	for _, g := range n.ext.groups {
		if p := g.pick(m.x.eligible); p != nil {
			m.dst = append(m.dst, Matched{Client: p.client, Opts: p.opts, Group: g.name})
		}
	}
}
