package topic

import (
	"fmt"
	"maps"
	"slices"
	"testing"
)

// matchNames returns the names Retained.Match yields for filter, sorted.
func matchNames[V any](r *Retained[V], filter string) []string {
	var out []string
	r.Match(filter, func(name string, _ V) bool {
		out = append(out, name)
		return true
	})
	slices.Sort(out)
	return out
}

func TestRetainedSetGetDelete(t *testing.T) {
	r := NewRetained[string]()
	r.Set("a/b", "1")
	r.Set("a/b", "2")
	r.Set("a", "3")
	r.Set("a/b/c", "4")
	if r.Len() != 3 {
		t.Errorf("Len = %d, want 3", r.Len())
	}
	if v, ok := r.Get("a/b"); !ok || v != "2" {
		t.Errorf("Get(a/b) = %q, %v", v, ok)
	}
	if _, ok := r.Get("a/b/c/d"); ok {
		t.Error("Get of a missing deeper name succeeded")
	}
	if !r.Delete("a/b") || r.Delete("a/b") || r.Delete("x") || r.Delete("a/b/c/d") {
		t.Error("Delete results wrong")
	}
	if _, ok := r.Get("a/b"); ok {
		t.Error("Get after Delete succeeded")
	}
	if v, ok := r.Get("a/b/c"); !ok || v != "4" {
		t.Errorf("deleting a/b lost a/b/c: %q, %v", v, ok)
	}
	r.Delete("a/b/c")
	r.Delete("a")
	if r.Len() != 0 || r.root.kids.len() != 0 {
		t.Errorf("not pruned: Len %d, root children %d", r.Len(), r.root.kids.len())
	}
}

func TestRetainedMatch(t *testing.T) {
	r := NewRetained[int]()
	names := []string{"sport", "sport/tennis", "sport/tennis/player1", "sport/golf",
		"/", "/finance", "a//b", "$SYS/broker/load", "$SYS", "x/$y"}
	for i, n := range names {
		r.Set(n, i)
	}
	tests := map[string][]string{
		"#":              {"/", "/finance", "a//b", "sport", "sport/golf", "sport/tennis", "sport/tennis/player1", "x/$y"},
		"sport/#":        {"sport", "sport/golf", "sport/tennis", "sport/tennis/player1"},
		"sport/+":        {"sport/golf", "sport/tennis"},
		"+":              {"sport"},
		"+/+":            {"/", "/finance", "sport/golf", "sport/tennis", "x/$y"},
		"/+":             {"/", "/finance"},
		"+/#":            {"/", "/finance", "a//b", "sport", "sport/golf", "sport/tennis", "sport/tennis/player1", "x/$y"},
		"a/+/b":          {"a//b"},
		"$SYS/#":         {"$SYS", "$SYS/broker/load"},
		"$SYS/+/load":    {"$SYS/broker/load"},
		"+/broker/load":  nil,
		"sport/tennis/+": {"sport/tennis/player1"},
		"nothing/#":      nil,
	}
	for f, want := range tests {
		if got := matchNames(r, f); !slices.Equal(got, want) {
			t.Errorf("Match(%q) = %q, want %q", f, got, want)
		}
	}
	calls := 0
	r.Match("#", func(string, int) bool { calls++; return false })
	r.Match("+/+", func(string, int) bool { calls++; return false })
	if calls != 2 {
		t.Errorf("Match did not stop when fn returned false: %d calls", calls)
	}
}

func TestRetainedRange(t *testing.T) {
	r := NewRetained[int]()
	want := map[string]int{}
	for i := range 100 { // past smallKids: the root level becomes a map
		n := fmt.Sprintf("t/%d", i)
		r.Set(n, i)
		want[n] = i
	}
	r.Set("$SYS/x", -1)
	want["$SYS/x"] = -1
	got := map[string]int{}
	r.Range(func(n string, v int) bool { got[n] = v; return true })
	if !maps.Equal(got, want) {
		t.Errorf("Range got %d entries, want %d", len(got), len(want))
	}
	calls := 0
	r.Range(func(string, int) bool { calls++; return calls < 5 })
	if calls != 5 {
		t.Errorf("Range did not stop: %d calls", calls)
	}
	for n := range want {
		r.Delete(n)
	}
	if r.Len() != 0 || r.root.kids.len() != 0 {
		t.Errorf("not pruned: Len %d, root children %d", r.Len(), r.root.kids.len())
	}
}

func TestRetainedMatchNoAlloc(t *testing.T) {
	r := NewRetained[int]()
	for i := range 100 {
		r.Set(fmt.Sprintf("dev/%d/temp", i), i)
	}
	sum := 0
	fn := func(_ string, v int) bool { sum += v; return true }
	for _, f := range []string{"dev/+/temp", "dev/#", "+/+/+", "dev/7/temp"} {
		if n := testing.AllocsPerRun(20, func() { r.Match(f, fn) }); n != 0 {
			t.Errorf("Match(%q) allocates %v times", f, n)
		}
	}
}
