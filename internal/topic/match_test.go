package topic

import (
	"strconv"
	"testing"

	"github.com/baram-mqtt/baram/internal/testtable"
)

// matchCase is one line of testdata/match.txt.
type matchCase struct {
	at            string // match.txt:line
	filter, topic string
	want          bool
}

// loadMatchCases parses testdata/match.txt.
func loadMatchCases(t *testing.T) []matchCase {
	t.Helper()
	var cases []matchCase
	for _, row := range testtable.Read(t, "testdata/match.txt", 3) {
		want, err := strconv.ParseBool(row.Fields[2])
		if err != nil {
			t.Fatalf("%s: %v", row.At, err)
		}
		cases = append(cases, matchCase{row.At, row.Fields[0], row.Fields[1], want})
	}
	if len(cases) < 50 {
		t.Fatalf("only %d cases parsed", len(cases))
	}
	return cases
}

func TestMatchTable(t *testing.T) {
	for _, c := range loadMatchCases(t) {
		if err := ValidFilter(c.filter); err != nil {
			t.Errorf("%s: bad filter %q: %v", c.at, c.filter, err)
		}
		if err := ValidName(c.topic); err != nil {
			t.Errorf("%s: bad topic %q: %v", c.at, c.topic, err)
		}
		if got := Match(c.filter, c.topic); got != c.want {
			t.Errorf("%s: Match(%q, %q) = %v, want %v", c.at, c.filter, c.topic, got, c.want)
		}
	}
}

// TestIndexTable checks each case through the Index, as a normal and as a
// shared subscription.
func TestIndexTable(t *testing.T) {
	for _, c := range loadMatchCases(t) {
		for _, filter := range []string{c.filter, "$share/g/" + c.filter} {
			x := NewIndex()
			x.Subscribe("c", filter, Options{QoS: 1})
			got := len(x.Match(c.topic, nil)) == 1
			if got != c.want {
				t.Errorf("%s: Index %q vs %q = %v, want %v", c.at, filter, c.topic, got, c.want)
			}
		}
	}
}

// TestRetainedTable checks each case through Retained.Match.
func TestRetainedTable(t *testing.T) {
	for _, c := range loadMatchCases(t) {
		r := NewRetained[int]()
		r.Set(c.topic, 7)
		var got []string
		r.Match(c.filter, func(name string, v int) bool {
			if v != 7 {
				t.Errorf("value %d", v)
			}
			got = append(got, name)
			return true
		})
		if (len(got) == 1 && got[0] == c.topic) != c.want || len(got) > 1 {
			t.Errorf("%s: Retained %q vs %q = %q, want %v", c.at, c.filter, c.topic, got, c.want)
		}
	}
}

func TestMatchNoAlloc(t *testing.T) {
	n := testing.AllocsPerRun(100, func() {
		Match("sport/+/player1/#", "sport/tennis/player1/score/wimbledon")
	})
	if n != 0 {
		t.Errorf("Match allocates %v times", n)
	}
}
