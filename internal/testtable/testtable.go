// Package testtable reads the line tables of testdata/ files, for tests
// only. A table has one row a line; blank lines and lines that start with
// ';' are passed over; fields are separated by blanks, and a field that
// starts with '"' is a Go quoted string (so it may hold blanks, or be
// empty).
package testtable

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Row is one row of a table.
type Row struct {
	At     string // "file:line", for messages
	Fields []string
}

// Read returns the rows of the table at path. It fails the test when the
// file cannot be read or a row does not split into n fields.
func Read(t testing.TB, path string, n int) []Row {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []Row
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == ';' {
			continue
		}
		at := filepath.Base(path) + ":" + strconv.Itoa(line)
		fields, err := Fields(text)
		if err != nil || len(fields) != n {
			t.Fatalf("%s: want %d fields: %q (%v)", at, n, text, err)
		}
		rows = append(rows, Row{At: at, Fields: fields})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// Fields splits a row into its fields.
func Fields(s string) ([]string, error) {
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
