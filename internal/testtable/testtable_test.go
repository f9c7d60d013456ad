package testtable

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestFields(t *testing.T) {
	for in, want := range map[string][]string{
		"a b\tc":              {"a", "b", "c"},
		`  "x y" "" z  `:      {"x y", "", "z"},
		`"tab\there" "q\"uo"`: {"tab\there", `q"uo`},
		"":                    nil,
	} {
		if got, err := Fields(in); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Fields(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
	if _, err := Fields(`"open`); err == nil {
		t.Error("unterminated quote accepted")
	}
}

func TestRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "table.txt")
	if err := os.WriteFile(path, []byte("; comment\n\na \"b c\"\n  ;also a comment\nd e\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := Read(t, path, 2)
	want := []Row{{"table.txt:3", []string{"a", "b c"}}, {"table.txt:5", []string{"d", "e"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Read = %q, want %q", got, want)
	}
}
