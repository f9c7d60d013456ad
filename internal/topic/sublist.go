package topic

// smallSubs is the most subscribers a list scans linearly; above it the
// list also keeps a client→position map.
const smallSubs = 16

// sub is one client's subscription at a trie node.
type sub struct {
	client string
	opts   Options
}

// subList stores the subscribers of one filter (or one shared group),
// at most one entry per client. It is a slice, which keeps small lists
// compact and cheap to iterate in Match; large lists add an index so
// Subscribe and Unsubscribe stay O(1). It does no locking: the owning
// Index's lock guards it.
type subList struct {
	s   []sub          // in no particular order
	idx map[string]int // client → position in s; nil while len(s) <= smallSubs
}

// find returns the position of client in l.s, or -1.
func (l *subList) find(client string) int {
	if l.idx != nil {
		if i, ok := l.idx[client]; ok {
			return i
		}
		return -1
	}
	for i := range l.s {
		if l.s[i].client == client {
			return i
		}
	}
	return -1
}

// set adds or replaces client's entry and reports whether it replaced one.
func (l *subList) set(client string, opts Options) (replaced bool) {
	if i := l.find(client); i >= 0 {
		l.s[i].opts = opts
		return true
	}
	l.s = append(l.s, sub{client, opts})
	if l.idx != nil {
		l.idx[client] = len(l.s) - 1
	} else if len(l.s) > smallSubs {
		l.reindex()
	}
	return false
}

// remove deletes client's entry and reports whether it existed.
func (l *subList) remove(client string) bool {
	i := l.find(client)
	if i < 0 {
		return false
	}
	last := len(l.s) - 1
	l.s[i] = l.s[last]
	l.s[last] = sub{}
	l.s = l.s[:last]
	if l.idx != nil {
		delete(l.idx, client)
		if i < last {
			l.idx[l.s[i].client] = i
		}
	}
	switch {
	case last == 0:
		l.s, l.idx = nil, nil
	case last < cap(l.s)/4: // give memory back after mass unsubscription
		l.s = append(make([]sub, 0, 2*last), l.s...)
		l.reindex()
	}
	return true
}

// reindex rebuilds l.idx from l.s, or drops it when the list is small.
func (l *subList) reindex() {
	if len(l.s) <= smallSubs {
		l.idx = nil
		return
	}
	l.idx = make(map[string]int, len(l.s))
	for i := range l.s {
		l.idx[l.s[i].client] = i
	}
}
