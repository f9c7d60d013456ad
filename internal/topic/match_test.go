package topic

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// matchCase is one line of testdata/match.txt.
type matchCase struct {
	line          int
	filter, topic string
	want          bool
}

// loadMatchCases parses testdata/match.txt.
func loadMatchCases(t *testing.T) []matchCase {
	t.Helper()
	f, err := os.Open("testdata/match.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []matchCase
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, ";") {
			continue
		}
		fields, err := splitFields(text)
		if err != nil || len(fields) != 3 {
			t.Fatalf("match.txt:%d: want 3 fields: %q (%v)", line, text, err)
		}
		want, err := strconv.ParseBool(fields[2])
		if err != nil {
			t.Fatalf("match.txt:%d: %v", line, err)
		}
		cases = append(cases, matchCase{line, fields[0], fields[1], want})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 50 {
		t.Fatalf("only %d cases parsed", len(cases))
	}
	return cases
}

// splitFields splits on whitespace; a field starting with '"' is a Go
// quoted string.
func splitFields(s string) ([]string, error) {
	var out []string
	for s = strings.TrimLeft(s, " \t"); s != ""; s = strings.TrimLeft(s, " \t") {
		if s[0] == '"' {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return nil, err
			}
			v, _ := strconv.Unquote(q)
			out = append(out, v)
			s = s[len(q):]
			continue
		}
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			end = len(s)
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	return out, nil
}

func TestMatchTable(t *testing.T) {
	for _, c := range loadMatchCases(t) {
		if err := ValidFilter(c.filter); err != nil {
			t.Errorf("match.txt:%d: bad filter %q: %v", c.line, c.filter, err)
		}
		if err := ValidName(c.topic); err != nil {
			t.Errorf("match.txt:%d: bad topic %q: %v", c.line, c.topic, err)
		}
		if got := Match(c.filter, c.topic); got != c.want {
			t.Errorf("match.txt:%d: Match(%q, %q) = %v, want %v", c.line, c.filter, c.topic, got, c.want)
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
				t.Errorf("match.txt:%d: Index %q vs %q = %v, want %v", c.line, filter, c.topic, got, c.want)
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
			t.Errorf("match.txt:%d: Retained %q vs %q = %q, want %v", c.line, c.filter, c.topic, got, c.want)
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
