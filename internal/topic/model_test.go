package topic

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// Small alphabets make collisions, shared prefixes and the $-rule common.
var (
	nameLevels   = []string{"a", "b", "", "$SYS"}
	filterLevels = []string{"a", "b", "", "$SYS", "+"}
	modelClients = []string{"c1", "c2", "c3"}
	modelGroups  = []string{"g1", "g2"}
)

// genLevels joins 1–4 levels drawn from alphabet, rejecting "".
func genLevels(alphabet []string) *rapid.Generator[string] {
	return rapid.Custom(func(t *rapid.T) string {
		lv := rapid.SliceOfN(rapid.SampledFrom(alphabet), 1, 4).Draw(t, "levels")
		return strings.Join(lv, "/")
	}).Filter(func(s string) bool { return s != "" })
}

var (
	genName   = genLevels(nameLevels)
	genFilter = rapid.Custom(func(t *rapid.T) string {
		if rapid.IntRange(0, 9).Draw(t, "hashOnly") == 0 {
			return "#"
		}
		f := genLevels(filterLevels).Draw(t, "filter")
		if rapid.Bool().Draw(t, "hash") {
			f += "/#"
		}
		return f
	})
)

// subKey identifies a subscription in the model.
type subKey struct{ client, group, filter string }

// model is the plain reference: lists checked with the naive Match.
type model struct {
	x        *Index
	r        *Retained[int]
	subs     map[subKey]Options
	retained map[string]int
}

func (m *model) subscribe(t *rapid.T) {
	k := subKey{
		client: rapid.SampledFrom(modelClients).Draw(t, "client"),
		filter: genFilter.Draw(t, "filter"),
	}
	full := k.filter
	if rapid.IntRange(0, 3).Draw(t, "shared") == 0 {
		k.group = rapid.SampledFrom(modelGroups).Draw(t, "group")
		full = SharedPrefix + k.group + "/" + k.filter
	}
	if err := ValidFilter(full); err != nil {
		t.Fatalf("generated invalid filter %q: %v", full, err)
	}
	opts := Options{QoS: byte(rapid.IntRange(0, 2).Draw(t, "qos")), ID: rapid.Uint32().Draw(t, "id")}
	_, existed := m.subs[k]
	if got := m.x.Subscribe(k.client, full, opts); got != existed {
		t.Fatalf("Subscribe(%q, %q) replaced = %v, want %v", k.client, full, got, existed)
	}
	m.subs[k] = opts
}

func (m *model) unsubscribe(t *rapid.T) {
	var k subKey
	if len(m.subs) > 0 && rapid.Bool().Draw(t, "existing") {
		keys := make([]subKey, 0, len(m.subs))
		for k := range m.subs {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b subKey) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
		k = rapid.SampledFrom(keys).Draw(t, "key")
	} else {
		k = subKey{client: rapid.SampledFrom(modelClients).Draw(t, "client"), filter: genFilter.Draw(t, "filter")}
	}
	full := k.filter
	if k.group != "" {
		full = SharedPrefix + k.group + "/" + k.filter
	}
	_, existed := m.subs[k]
	if got := m.x.Unsubscribe(k.client, full); got != existed {
		t.Fatalf("Unsubscribe(%q, %q) = %v, want %v", k.client, full, got, existed)
	}
	delete(m.subs, k)
}

// checkIndex compares Index.Match for a random name with the model.
func (m *model) checkIndex(t *rapid.T) {
	name := genName.Draw(t, "name")
	var want, got []string
	sharedWant := map[string]int{} // group → matching shared subscriptions
	allowed := map[string]bool{}   // possible shared picks
	for k, o := range m.subs {
		if !Match(k.filter, name) {
			continue
		}
		if k.group == "" {
			want = append(want, fmt.Sprint(k.client, o))
			continue
		}
		if !allowed[k.group+"|"+k.filter] {
			sharedWant[k.group]++
		}
		allowed[k.group+"|"+k.filter] = true
		allowed[fmt.Sprint(k.group, k.client, o)] = true
	}
	sharedGot := map[string]int{}
	for _, mt := range m.x.Match(name, nil) {
		if mt.Group == "" {
			got = append(got, fmt.Sprint(mt.Client, mt.Opts))
			continue
		}
		sharedGot[mt.Group]++
		if !allowed[fmt.Sprint(mt.Group, mt.Client, mt.Opts)] {
			t.Fatalf("name %q: unexpected shared pick %+v", name, mt)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("Index.Match(%q) normal = %q, want %q", name, got, want)
	}
	if fmt.Sprint(sharedGot) != fmt.Sprint(sharedWant) {
		t.Fatalf("Index.Match(%q) shared per group = %v, want %v", name, sharedGot, sharedWant)
	}
}

func (m *model) setRetained(t *rapid.T) {
	name := genName.Draw(t, "name")
	v := rapid.Int().Draw(t, "v")
	m.r.Set(name, v)
	m.retained[name] = v
}

func (m *model) deleteRetained(t *rapid.T) {
	name := genName.Draw(t, "name")
	_, existed := m.retained[name]
	if got := m.r.Delete(name); got != existed {
		t.Fatalf("Delete(%q) = %v, want %v", name, got, existed)
	}
	delete(m.retained, name)
}

// checkRetained compares Retained.Match for a random filter with the model.
func (m *model) checkRetained(t *rapid.T) {
	filter := genFilter.Draw(t, "filter")
	var want, got []string
	for n, v := range m.retained {
		if Match(filter, n) {
			want = append(want, fmt.Sprint(n, "=", v))
		}
	}
	m.r.Match(filter, func(n string, v int) bool {
		got = append(got, fmt.Sprint(n, "=", v))
		return true
	})
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("Retained.Match(%q) = %q, want %q", filter, got, want)
	}
}

// invariants runs after every action.
func (m *model) invariants(t *rapid.T) {
	if m.x.Count() != len(m.subs) {
		t.Fatalf("Count = %d, model has %d", m.x.Count(), len(m.subs))
	}
	if m.r.Len() != len(m.retained) {
		t.Fatalf("Len = %d, model has %d", m.r.Len(), len(m.retained))
	}
	if len(m.subs) == 0 && !m.x.root.empty() {
		t.Fatalf("index not pruned when empty")
	}
	if len(m.retained) == 0 && m.r.root.kids.len() != 0 {
		t.Fatalf("retained trie not pruned when empty")
	}
}

func TestModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := &model{
			x: NewIndex(), r: NewRetained[int](),
			subs: map[subKey]Options{}, retained: map[string]int{},
		}
		t.Repeat(map[string]func(*rapid.T){
			"subscribe":      m.subscribe,
			"unsubscribe":    m.unsubscribe,
			"checkIndex":     m.checkIndex,
			"setRetained":    m.setRetained,
			"deleteRetained": m.deleteRetained,
			"checkRetained":  m.checkRetained,
			"":               m.invariants,
		})
	})
}
