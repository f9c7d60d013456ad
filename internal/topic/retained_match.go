package topic

import "strings"

// Match calls fn, in no particular order, for every retained message
// whose topic name matches filter, until fn returns false. It is what a
// new subscription needs to receive retained messages [MQTT-3.3.1-9].
// Names starting with '$' are not matched by a filter starting with a
// wildcard [MQTT-4.7.2-1].
//
// filter must be valid (see ValidFilter) and not shared: the broker
// strips "$share/group/" first.
//
// fn runs under the read lock: it must not call Set or Delete on r
// (deadlock), and while it blocks, writers wait and so, behind them, do
// new readers; collect work and do slow things after Match returns.
func (r *Retained[V]) Match(filter string, fn func(name string, v V) bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	r.root.match(filter, true, fn)
}

// match calls fn for the messages under n matching the remaining filter
// levels f; atRoot applies the $-rule to n's children. It follows literal
// levels iteratively and recurses for '+'. It returns false once fn does.
func (n *rnode[V]) match(f string, atRoot bool, fn func(string, V) bool) bool {
	for {
		level, rest, more := strings.Cut(f, "/")
		switch level {
		case "#": // n itself (the parent level) and everything below
			return n.visit(atRoot, fn)
		case "+":
			for l, c := range n.kids.all() {
				if atRoot && isDollar(l) {
					continue
				}
				if !c.matchRest(rest, more, fn) {
					return false
				}
			}
			return true
		}
		if n = n.kids.get(level); n == nil {
			return true
		}
		if !more {
			return !n.has || fn(n.name, n.val)
		}
		f, atRoot = rest, false
	}
}

// matchRest continues a match at n, the node reached by one filter level:
// with more levels it recurses, otherwise n itself is the match.
func (n *rnode[V]) matchRest(rest string, more bool, fn func(string, V) bool) bool {
	if more {
		return n.match(rest, false, fn)
	}
	return !n.has || fn(n.name, n.val)
}
