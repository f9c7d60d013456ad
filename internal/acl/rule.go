package acl

import "strings"

// segKind says how one level of a rule matches.
type segKind uint8

const (
	segLit  segKind = iota // the level must equal lit
	segPlus                // '+': any one level
	segHash                // '#': this level and all below, or none
	segTmpl                // literal text with %u / %c substitutions
)

// vars is a set of substitution variables.
type vars uint8

const (
	varU vars = 1 << iota // %u, the username
	varC                  // %c, the client ID

	unknownVars vars = 1 << 7 // not yet worked out (see ACL.decide)
)

// part is a piece of a templated level: literal text, or a variable.
type part struct {
	lit string
	v   vars // 0 for literal text, else varU or varC
}

// seg is one precompiled level of a rule.
type seg struct {
	kind  segKind
	lit   string
	parts []part // for segTmpl
}

// rule is one precompiled topic or pattern line.
type rule struct {
	// first is the first level when it is literal (firstLit): a check
	// compares it with the first level of the topic before anything else.
	first    string
	firstLit bool
	dollar   bool // the rule text starts with '$'; only such rules match $-topics
	vars     vars // variables the rule substitutes
	access   Access
	segs     []seg
	text     string // as written in the file
}

// compile splits a validated filter into levels. With subst, %u and %c
// are variables.
func compile(text string, access Access, subst bool) rule {
	r := rule{dollar: text[0] == '$', access: access, text: text}
	for level := range strings.SplitSeq(text, "/") {
		switch {
		case level == "+":
			r.segs = append(r.segs, seg{kind: segPlus})
		case level == "#":
			r.segs = append(r.segs, seg{kind: segHash})
		default:
			s := seg{kind: segLit, lit: level}
			if subst {
				if parts, v := splitVars(level); v != 0 {
					s = seg{kind: segTmpl, parts: parts}
					r.vars |= v
				}
			}
			r.segs = append(r.segs, s)
		}
	}
	if r.segs[0].kind == segLit {
		r.first, r.firstLit = r.segs[0].lit, true
	}
	return r
}

// splitVars cuts a level at each %u and %c, left to right as Mosquitto
// does ("%%u" is '%' then the username).
func splitVars(level string) ([]part, vars) {
	var parts []part
	var seen vars
	start := 0
	for i := 0; i+1 < len(level); i++ {
		if level[i] != '%' || (level[i+1] != 'u' && level[i+1] != 'c') {
			continue
		}
		if i > start {
			parts = append(parts, part{lit: level[start:i]})
		}
		v := varU
		if level[i+1] == 'c' {
			v = varC
		}
		parts = append(parts, part{v: v})
		seen |= v
		i++
		start = i + 1
	}
	if seen != 0 && start < len(level) {
		parts = append(parts, part{lit: level[start:]})
	}
	return parts, seen
}

// matchLevel reports whether one level of a name (or a literal level of a
// filter) satisfies s. Substitution values must already be known safe.
func matchLevel(s *seg, level string, c *Client) bool {
	switch s.kind {
	case segPlus:
		return true
	case segLit:
		return level == s.lit
	}
	for _, p := range s.parts {
		text := p.lit
		switch p.v {
		case varU:
			text = c.Username
		case varC:
			text = c.ClientID
		}
		if !strings.HasPrefix(level, text) {
			return false
		}
		level = level[len(text):]
	}
	return level == ""
}

// cutLevel splits s at its first '/'. A byte loop: levels are short, and
// strings.Cut's vectorized search costs more to set up than it saves.
func cutLevel(s string) (level, rest string, more bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// test is matchName for a name, covers for a filter. head is the first
// level of s: most rules are told apart by it without looking further.
func (r *rule) test(s, head string, c *Client, filter bool) bool {
	if r.firstLit && head != r.first {
		return false // also right for a filter: a literal never covers + or #
	}
	if filter {
		return r.covers(s, c)
	}
	return r.matchName(s, c)
}

// matchName reports whether the rule matches topic name (valid, so
// non-empty and free of wildcards). It does not allocate.
func (r *rule) matchName(name string, c *Client) bool {
	if name[0] == '$' && !r.dollar {
		return false
	}
	segs := r.segs
	for i := range segs {
		s := &segs[i]
		if s.kind == segHash {
			return true
		}
		level, rest, more := cutLevel(name)
		if !matchLevel(s, level, c) {
			return false
		}
		if i == len(segs)-1 {
			return !more
		}
		if !more { // the name ends: only a trailing "#" matches the parent
			return i == len(segs)-2 && segs[i+1].kind == segHash
		}
		name = rest
	}
	return false // not reached: a rule has at least one level
}

// covers reports whether every topic name that filter matches is matched
// by the rule (filter valid and not shared). It does not allocate.
func (r *rule) covers(filter string, c *Client) bool {
	if filter[0] == '$' && !r.dollar {
		return false
	}
	segs := r.segs
	for i := range segs {
		s := &segs[i]
		if s.kind == segHash {
			return true
		}
		level, rest, more := cutLevel(filter)
		switch {
		case level == "#":
			// The filter spans any number of levels here, none included
			// except at the top, where a name has at least one: there
			// "+/#" is as wide as "#".
			return i == 0 && s.kind == segPlus && len(segs) == 2 && segs[1].kind == segHash
		case level == "+":
			if s.kind != segPlus {
				return false
			}
		case !matchLevel(s, level, c):
			return false
		}
		if i == len(segs)-1 {
			return !more
		}
		if !more {
			return i == len(segs)-2 && segs[i+1].kind == segHash
		}
		filter = rest
	}
	return false
}
