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
	x.mu.RLock()
	defer x.mu.RUnlock()
	level, rest, more := strings.Cut(name, "/")
	if !isDollar(level) {
		return x.walk(&x.root, name, false, dst)
	}
	if c := x.root.kids.get(level); c != nil {
		dst = x.walk(c, rest, !more, dst)
	}
	return dst
}

// walk appends the matches under n for the remaining levels s of the
// name; end means all levels have been consumed and n is where a filter
// would end. It follows the literal child iteratively and recurses only
// into '+' children. Callers hold x.mu for reading.
func (x *Index) walk(n *node, s string, end bool, dst []Matched) []Matched {
	for {
		var plus *node
		if e := n.ext; e != nil {
			if e.hash != nil { // '#' matches the rest, or the parent when end
				dst = x.collect(e.hash, dst)
			}
			plus = e.plus
		}
		if end {
			return x.collect(n, dst)
		}
		level, rest, more := strings.Cut(s, "/")
		if plus != nil {
			dst = x.walk(plus, rest, !more, dst)
		}
		if n = n.kids.get(level); n == nil {
			return dst
		}
		s, end = rest, !more
	}
}

// collect appends the subscriptions whose filter ends at n: every normal
// subscriber and one member of each shared group.
func (x *Index) collect(n *node, dst []Matched) []Matched {
	if n.subs != nil {
		for i := range n.subs.s {
			s := &n.subs.s[i]
			dst = append(dst, Matched{Client: s.client, Opts: s.opts})
		}
	}
	if n.ext == nil {
		return dst
	}
	for _, g := range n.ext.groups {
		if m := g.pick(x.eligible); m != nil {
			dst = append(dst, Matched{Client: m.client, Opts: m.opts, Group: g.name})
		}
	}
	return dst
}
