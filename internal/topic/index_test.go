package topic

import (
	"fmt"
	"slices"
	"testing"
)

// clients returns the client ids in ms, sorted.
func clients(ms []Matched) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Client)
	}
	slices.Sort(out)
	return out
}

func TestIndexSubscribeReplace(t *testing.T) {
	x := NewIndex()
	if x.Subscribe("c1", "a/+", Options{QoS: 0}) {
		t.Error("first Subscribe reported replaced")
	}
	if !x.Subscribe("c1", "a/+", Options{QoS: 2, ID: 9}) {
		t.Error("second Subscribe did not report replaced")
	}
	if x.Subscribe("c2", "a/+", Options{}) {
		t.Error("other client reported replaced")
	}
	if x.Subscribe("c1", "$share/g/a/+", Options{}) {
		t.Error("shared subscription replaced the normal one")
	}
	if !x.Subscribe("c1", "$share/g/a/+", Options{QoS: 1}) {
		t.Error("shared re-subscribe not reported as replaced")
	}
	if got := x.Count(); got != 3 {
		t.Errorf("Count = %d, want 3", got)
	}
	got := x.Match("a/b", nil)
	want := []Matched{
		{Client: "c1", Opts: Options{QoS: 2, ID: 9}},
		{Client: "c2"},
		{Client: "c1", Opts: Options{QoS: 1}, Group: "g"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Match = %+v, want %+v", got, want)
	}
}

func TestIndexOverlapping(t *testing.T) {
	x := NewIndex()
	for _, f := range []string{"a/b", "a/+", "a/#", "#", "+/b", "a/b/#"} {
		x.Subscribe("c", f, Options{})
	}
	x.Subscribe("d", "b/#", Options{})
	if got := len(x.Match("a/b", nil)); got != 6 {
		t.Errorf("client appears %d times, want 6 (once per subscription)", got)
	}
}

func TestIndexUnsubscribePrunes(t *testing.T) {
	x := NewIndex()
	filters := []string{"a", "a/b", "a/+/c", "+/#", "#", "/", "a//b", "$SYS/#", "$share/g/a/b", "$share/h/#"}
	for i := range 40 { // enough children to switch to the map and back
		filters = append(filters, fmt.Sprintf("dev/%d/temp", i))
	}
	for _, f := range filters {
		for _, c := range []string{"c1", "c2"} {
			x.Subscribe(c, f, Options{})
		}
	}
	if x.Unsubscribe("c3", "a/b") || x.Unsubscribe("c1", "a/b/c") || x.Unsubscribe("c1", "$share/x/a/b") {
		t.Error("Unsubscribe of a missing subscription reported true")
	}
	for _, f := range filters {
		for _, c := range []string{"c1", "c2"} {
			if !x.Unsubscribe(c, f) {
				t.Errorf("Unsubscribe(%q, %q) = false", c, f)
			}
			if x.Unsubscribe(c, f) {
				t.Errorf("second Unsubscribe(%q, %q) = true", c, f)
			}
		}
		if got := x.Match("dev/3/temp", nil); f == "dev/3/temp" && len(got) != 0 {
			t.Errorf("still matched after unsubscribe: %+v", got)
		}
	}
	if x.Count() != 0 || !x.root.empty() {
		t.Errorf("Count = %d, root empty = %v after removing all", x.Count(), x.root.empty())
	}
}

func TestIndexManySubscribers(t *testing.T) {
	x := NewIndex()
	const n = 100 // past smallSubs, so the client index is used
	for i := range n {
		x.Subscribe(fmt.Sprint("c", i), "t", Options{ID: uint32(i)})
		x.Subscribe(fmt.Sprint("c", i), "$share/g/t", Options{})
	}
	for i := 0; i < n; i += 2 {
		if !x.Unsubscribe(fmt.Sprint("c", i), "t") {
			t.Fatalf("Unsubscribe c%d failed", i)
		}
	}
	got := x.Match("t", nil)
	if len(got) != n/2+1 {
		t.Fatalf("got %d matches, want %d", len(got), n/2+1)
	}
	for _, m := range got[:n/2] {
		var i uint32
		fmt.Sscanf(m.Client, "c%d", &i)
		if i%2 == 0 || m.Opts.ID != i {
			t.Errorf("unexpected match %+v", m)
		}
	}
	for i := 1; i < n; i += 2 {
		if !x.Subscribe(fmt.Sprint("c", i), "t", Options{}) {
			t.Errorf("re-subscribe of c%d not reported as replace", i)
		}
	}
}

func TestIndexSharedRoundRobin(t *testing.T) {
	x := NewIndex()
	for _, c := range []string{"a", "b", "c"} {
		x.Subscribe(c, "$share/g1/s/+", Options{})
	}
	x.Subscribe("d", "$share/g2/s/+", Options{})
	x.Subscribe("e", "$share/g2/s/+", Options{})
	x.Subscribe("a", "$share/g1/s/x", Options{}) // a different shared subscription
	counts := map[string]int{}
	for range 300 {
		perGroup := map[string]int{}
		for _, m := range x.Match("s/y", nil) {
			perGroup[m.Group]++
			counts[m.Group+"/"+m.Client]++
		}
		if perGroup["g1"] != 1 || perGroup["g2"] != 1 || len(perGroup) != 2 {
			t.Fatalf("per group deliveries %v, want one each", perGroup)
		}
	}
	want := map[string]int{"g1/a": 100, "g1/b": 100, "g1/c": 100, "g2/d": 150, "g2/e": 150}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("deliveries %v, want %v", counts, want)
	}
	if got := len(x.Match("s/x", nil)); got != 3 {
		t.Errorf("s/x matched %d, want 3 (g1 twice: two shared subscriptions, g2 once)", got)
	}
	if got := x.Match("$SYS/x", nil); len(got) != 0 {
		t.Errorf("$SYS/x matched %+v", got)
	}
}

func TestIndexEligible(t *testing.T) {
	x := NewIndex()
	for _, c := range []string{"a", "b", "c", "d"} {
		x.Subscribe(c, "$share/g/t", Options{})
	}
	online := map[string]bool{"a": true, "c": true, "d": true}
	x.SetEligible(func(c string) bool { return online[c] })
	counts := map[string]int{}
	for range 300 {
		counts[x.Match("t", nil)[0].Client]++
	}
	if want := map[string]int{"a": 100, "c": 100, "d": 100}; fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("deliveries %v, want %v", counts, want)
	}
	clear(online)
	clear(counts)
	for range 8 {
		got := x.Match("t", nil)
		if len(got) != 1 {
			t.Fatalf("no eligible member: got %d matches, want 1", len(got))
		}
		counts[got[0].Client]++
	}
	if len(counts) != 4 {
		t.Errorf("with none eligible, deliveries %v should still rotate", counts)
	}
	x.SetEligible(nil)
	if got := x.Match("t", nil); len(got) != 1 {
		t.Errorf("nil Eligible: %d matches", len(got))
	}
}

func TestIndexMatchNoAlloc(t *testing.T) {
	x := NewIndex()
	for i := range 100 {
		x.Subscribe("c", fmt.Sprintf("dev/%d/temp", i), Options{})
		x.Subscribe("d", fmt.Sprintf("+/%d/temp", i), Options{})
	}
	x.Subscribe("e", "dev/#", Options{})
	x.Subscribe("f", "$share/g/dev/+/temp", Options{})
	x.Subscribe("h", "$share/g/dev/+/temp", Options{})
	x.SetEligible(func(string) bool { return true })
	dst := make([]Matched, 0, 16)
	n := testing.AllocsPerRun(100, func() { dst = x.Match("dev/42/temp", dst[:0]) })
	if n != 0 || len(dst) != 4 {
		t.Errorf("Match: %v allocs, %d matches (%v)", n, len(dst), clients(dst))
	}
}

// MatchNodes counts the filters that contributed normal subscriptions:
// with one, no client appears twice.
func TestMatchNodes(t *testing.T) {
	x := NewIndex()
	x.Subscribe("c1", "a/b", Options{})
	x.Subscribe("c2", "a/b", Options{})
	x.Subscribe("c1", "a/+", Options{})
	x.Subscribe("c3", "$share/g/a/c", Options{})
	for _, tc := range []struct {
		name           string
		matches, nodes int
	}{
		{"a/b", 3, 2},
		{"a/c", 2, 1}, // a/+ and the shared group, which does not count
		{"a/d", 1, 1},
		{"b", 0, 0},
	} {
		got, nodes := x.MatchNodes(tc.name, nil)
		if len(got) != tc.matches || nodes != tc.nodes {
			t.Errorf("%s: %d matches from %d filters, want %d from %d", tc.name, len(got), nodes, tc.matches, tc.nodes)
		}
	}
}
