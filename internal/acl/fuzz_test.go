package acl

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/baram-mqtt/baram/internal/topic"
)

// FuzzParse parses arbitrary files and runs every check on what loads:
// nothing may panic, errors must name the file and a line, and a deny
// that matches must win.
func FuzzParse(f *testing.F) {
	f.Add([]byte("topic read a/#\nuser u\ntopic deny a/b\npattern readwrite %u/%c/#"), "u", "c", "a/b")
	f.Add([]byte("user u\ntopic #\npattern deny %u/x"), "u", "+", "u/x")
	f.Fuzz(func(t *testing.T, data []byte, username, clientID, s string) {
		a, err := Parse(bytes.NewReader(data), "f")
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.File != "f" || pe.Line < 1 || !strings.HasPrefix(err.Error(), "f:") {
				t.Fatalf("error without file and line: %v", err)
			}
			return
		}
		for _, c := range []Client{
			{Username: username, HasUsername: true, ClientID: clientID},
			{ClientID: clientID},
		} {
			pub, recv := a.CanPublish(c, s), a.CanReceive(c, s)
			sub := a.CanSubscribe(c, s)
			if (s == "" || topic.IsWildcard(s)) && (pub || recv) {
				t.Fatalf("wildcard name %q allowed", s)
			}
			if topic.ValidFilter(s) != nil && sub {
				t.Fatalf("invalid filter %q allowed", s)
			}
			if topic.ValidName(s) == nil && recv != naiveAllows(a, c, s, Read) {
				t.Fatalf("CanReceive(%+v, %q) = %v, the naive model disagrees", c, s, recv)
			}
			// A subscription to a name admits exactly what receiving it does.
			if topic.ValidName(s) == nil && !strings.HasPrefix(s, topic.SharedPrefix) && sub != recv {
				t.Fatalf("CanSubscribe(%q) = %v but CanReceive = %v", s, sub, recv)
			}
		}
	})
}

// naiveAllows is a slow model of Allows: it substitutes the pattern
// variables into the rule text and uses topic.Match.
func naiveAllows(a *ACL, c Client, name string, acc Access) bool {
	own := &a.anon
	if c.HasUsername {
		own = a.users[c.Username]
	}
	if own == nil {
		own = &ruleSet{}
	}
	repl := strings.NewReplacer("%u", c.Username, "%c", c.ClientID)
	matches := func(r rule, subst bool) bool {
		text := r.text
		if subst {
			text = repl.Replace(text)
		}
		return (name[0] != '$' || r.text[0] == '$') && topic.Match(text, name)
	}
	usable := func(r rule) bool {
		return (r.vars&varU == 0 || (c.HasUsername && safeValue(c.Username))) &&
			(r.vars&varC == 0 || safeValue(c.ClientID))
	}
	for _, r := range own.deny {
		if matches(r, false) {
			return false
		}
	}
	for _, r := range a.patterns.deny {
		if r.vars&varU != 0 && !c.HasUsername {
			continue
		}
		if !usable(r) || matches(r, true) {
			return false
		}
	}
	for _, r := range own.allow(acc) {
		if matches(r, false) {
			return true
		}
	}
	for _, r := range a.patterns.allow(acc) {
		if usable(r) && matches(r, true) {
			return true
		}
	}
	return false
}
