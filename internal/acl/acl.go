package acl

import "github.com/baram-mqtt/baram/internal/topic"

// Access is a kind of access to a topic. Subscribe checks use Read on the
// filter.
type Access int

const (
	// Read allows receiving messages on a topic and subscribing to it.
	Read Access = 1
	// Write allows publishing to a topic.
	Write Access = 2
)

// deny is the access of a deny rule: it grants nothing and wins.
const deny Access = 0

// Client identifies the connection whose access is checked.
type Client struct {
	// Username is the CONNECT username; it counts only if HasUsername.
	Username string
	// HasUsername is false for a client that sent no username (anonymous).
	// An empty username is still a username.
	HasUsername bool
	// ClientID is the client identifier, assigned by the broker if the
	// client sent none.
	ClientID string
}

// ACL is a compiled access control list. It is immutable once loaded and
// safe for concurrent use; its checks do not allocate.
type ACL struct {
	anon     ruleSet             // topic lines for clients without a username
	users    map[string]*ruleSet // topic lines per username
	patterns ruleSet             // pattern lines, for every client
	warnings []string
}

// ruleSet holds the rules of one section, split by what they grant so a
// check scans only the rules that can decide it.
type ruleSet struct {
	deny  []rule
	read  []rule
	write []rule
}

// add files r under the lists it takes part in.
func (s *ruleSet) add(r rule) {
	if r.access == deny {
		s.deny = append(s.deny, r)
		return
	}
	if r.access&Read != 0 {
		s.read = append(s.read, r)
	}
	if r.access&Write != 0 {
		s.write = append(s.write, r)
	}
}

// pack moves the levels of all rules of the set into one array, so that a
// check touches few cache lines however the rules were allocated.
func (s *ruleSet) pack() {
	n := 0
	for _, list := range [][]rule{s.deny, s.read, s.write} {
		for _, r := range list {
			n += len(r.segs)
		}
	}
	segs := make([]seg, 0, n)
	for _, list := range [][]rule{s.deny, s.read, s.write} {
		for i := range list {
			start := len(segs)
			segs = append(segs, list[i].segs...)
			list[i].segs = segs[start:len(segs):len(segs)]
		}
	}
}

// allow returns the rules that grant acc.
func (s *ruleSet) allow(acc Access) []rule {
	if acc == Write {
		return s.write
	}
	return s.read
}

// Warnings returns notes about rules that load but are probably not what
// the author meant, such as a pattern without %u or %c.
func (a *ACL) Warnings() []string { return a.warnings }

// CanPublish reports whether c may publish to topic name.
func (a *ACL) CanPublish(c Client, name string) bool {
	return a.Allows(c, name, Write)
}

// CanReceive reports whether a message on topic name may be delivered to
// c: the per-message read check Mosquitto makes at delivery, which the
// broker must make even for subscriptions CanSubscribe admitted.
func (a *ACL) CanReceive(c Client, name string) bool {
	return a.Allows(c, name, Read)
}

// Allows reports whether c has access acc (Read or Write) to topic name,
// which the broker has validated (topic.ValidName). As a safety net, an
// empty name or one with wildcards is refused.
func (a *ACL) Allows(c Client, name string, acc Access) bool {
	if name == "" || hasWildcard(name) || (acc != Read && acc != Write) {
		return false
	}
	return a.decide(&c, name, acc, false)
}

// CanSubscribe reports whether c may subscribe to filter (a shared
// $share/g/f filter is checked on f): a read rule must cover every topic
// the filter can match ("a/#" admits "a/b/+", "a/+" does not admit "a/#"),
// and no deny rule may cover the whole filter. A deny rule that covers only
// part of it does not refuse the subscription; CanReceive filters those
// messages at delivery.
func (a *ACL) CanSubscribe(c Client, filter string) bool {
	if topic.ValidFilter(filter) != nil {
		return false
	}
	if _, inner, ok := topic.ParseShared(filter); ok {
		filter = inner
	}
	return a.decide(&c, filter, Read, true)
}

// decide applies the rules that bear on c to s, a topic name or (with
// filter) a subscription filter: any deny wins, then any allow granting
// acc, else no.
func (a *ACL) decide(c *Client, s string, acc Access, filter bool) bool {
	own := &a.anon
	if c.HasUsername {
		own = a.users[c.Username] // nil: no section, only patterns apply
	}
	head, _, _ := cutLevel(s)
	unsafe := unknownVars // computed when a pattern first needs it
	if own != nil {
		for i := range own.deny {
			if own.deny[i].test(s, head, c, filter) {
				return false
			}
		}
	}
	for i := range a.patterns.deny {
		r := &a.patterns.deny[i]
		if r.vars != 0 && unsafe == unknownVars {
			unsafe = unsafeVars(c)
		}
		switch {
		case r.vars&varU != 0 && !c.HasUsername:
			continue // a %u pattern does not apply to anonymous clients
		case r.vars&unsafe != 0:
			return false // cannot tell what it denies: fail closed
		case r.test(s, head, c, filter):
			return false
		}
	}
	if own != nil {
		allow := own.allow(acc)
		for i := range allow {
			if allow[i].test(s, head, c, filter) {
				return true
			}
		}
	}
	allow := a.patterns.allow(acc)
	for i := range allow {
		if allow[i].vars != 0 && unsafe == unknownVars {
			unsafe = unsafeVars(c)
		}
		if allow[i].vars&unsafe == 0 && allow[i].test(s, head, c, filter) {
			return true
		}
	}
	return false
}

// unsafeVars returns the variables whose value c cannot substitute safely:
// missing, empty, or containing '+', '#' or '/'.
func unsafeVars(c *Client) vars {
	var v vars
	if !c.HasUsername || !safeValue(c.Username) {
		v |= varU
	}
	if !safeValue(c.ClientID) {
		v |= varC
	}
	return v
}

// safeValue reports whether s can stand for one topic level without
// widening a rule.
func safeValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '+' || c == '#' || c == '/' {
			return false
		}
	}
	return s != ""
}

// hasWildcard reports whether s contains '+' or '#'.
func hasWildcard(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '+' || s[i] == '#' {
			return true
		}
	}
	return false
}
