package acl

import (
	"strings"
	"testing"

	"github.com/baram-mqtt/baram/internal/testtable"
	"github.com/baram-mqtt/baram/internal/topic"
)

// TestMatchNameModel checks a literal rule against topic.Match on the
// topic package's matching table.
func TestMatchNameModel(t *testing.T) {
	n := 0
	for _, row := range testtable.Read(t, "../topic/testdata/match.txt", 3) {
		filter, name := row.Fields[0], row.Fields[1]
		r := compile(filter, Read, false)
		if got, want := r.matchName(name, &Client{}), topic.Match(filter, name); got != want {
			t.Errorf("rule %q vs %q = %v, topic.Match says %v", filter, name, got, want)
		}
		n++
	}
	if n < 50 {
		t.Fatalf("only %d cases", n)
	}
}

// levels enumerates the strings of 1 to depth levels drawn from words.
func levels(words []string, depth int) []string {
	out := append([]string(nil), words...)
	last := out
	for d := 2; d <= depth; d++ {
		var next []string
		for _, p := range last {
			for _, w := range words {
				next = append(next, p+"/"+w)
			}
		}
		out = append(out, next...)
		last = next
	}
	return out
}

// TestCoversModel checks covers against its definition on a small
// universe: rule R covers filter F iff every name F matches, R matches.
func TestCoversModel(t *testing.T) {
	var filters []string
	for _, f := range levels([]string{"a", "$s", "+", "#"}, 3) {
		if topic.ValidFilter(f) == nil {
			filters = append(filters, f)
		}
	}
	var names []string
	for _, n := range levels([]string{"a", "$s", "", "c"}, 4) {
		if topic.ValidName(n) == nil {
			names = append(names, n)
		}
	}
	for _, rf := range filters {
		r := compile(rf, Read, false)
		for _, f := range filters {
			want := true
			for _, n := range names {
				if topic.Match(f, n) && !topic.Match(rf, n) {
					want = false
					break
				}
			}
			if got := r.covers(f, &Client{}); got != want {
				t.Errorf("rule %q covers %q = %v, want %v", rf, f, got, want)
			}
		}
	}
}

// TestSubstitutionModel checks that a pattern matches as the rule with its
// variables replaced by safe values would.
func TestSubstitutionModel(t *testing.T) {
	c := &Client{Username: "al", HasUsername: true, ClientID: "c1"}
	patterns := []string{"%u", "%u/#", "x/%c/+", "p%uq/%c", "%u%c/%%u", "%u/%u", "+/%u-%c/#", "%", "a%"}
	var names []string
	for _, n := range levels([]string{"al", "c1", "x", "pal", "palq", "alc1", "%al", "al-c1", "%"}, 3) {
		if topic.ValidName(n) == nil {
			names = append(names, n)
		}
	}
	for _, p := range patterns {
		r := compile(p, Read, true)
		sub := strings.NewReplacer("%u", c.Username, "%c", c.ClientID).Replace(p)
		lit := compile(sub, Read, false)
		for _, n := range names {
			if got, want := r.matchName(n, c), lit.matchName(n, c); got != want {
				t.Errorf("pattern %q vs %q = %v, literal %q says %v", p, n, got, sub, want)
			}
		}
		for _, f := range filters(names) {
			if got, want := r.covers(f, c), lit.covers(f, c); got != want {
				t.Errorf("pattern %q covers %q = %v, literal %q says %v", p, f, got, sub, want)
			}
		}
	}
}

// filters returns names and some wildcard filters made from them.
func filters(names []string) []string {
	out := append([]string{"#", "+", "+/#"}, names...)
	for _, n := range names {
		out = append(out, n+"/#", n+"/+")
	}
	return out
}

func TestChecksDoNotAllocate(t *testing.T) {
	a := parse(t, "topic read public/#\nuser alice\ntopic readwrite home/alice/#\ntopic deny home/alice/secret\n"+
		"pattern readwrite users/%u/#\npattern deny users/%u/frozen\npattern read devices/%c/in/+\n")
	alice := Client{Username: "alice", HasUsername: true, ClientID: "alice-1"}
	anon := Client{ClientID: "anon-1"}
	n := testing.AllocsPerRun(100, func() {
		a.CanReceive(alice, "home/alice/x/y")
		a.CanReceive(alice, "users/alice/deep/topic")
		a.CanPublish(anon, "devices/anon-1/in/x")
		a.CanSubscribe(alice, "$share/g/users/alice/+")
		a.CanSubscribe(anon, "devices/anon-1/in/+")
	})
	if n != 0 {
		t.Errorf("checks allocate %v times", n)
	}
}
