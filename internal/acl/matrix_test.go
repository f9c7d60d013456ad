package acl

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/baram-mqtt/baram/internal/testtable"
)

// TestMatrix checks every testdata/matrix/NAME.acl against the expected
// results in NAME.txt.
func TestMatrix(t *testing.T) {
	files, err := filepath.Glob("testdata/matrix/*.acl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no matrix files: %v", err)
	}
	for _, aclPath := range files {
		t.Run(filepath.Base(aclPath), func(t *testing.T) {
			a, err := Load(aclPath)
			if err != nil {
				t.Fatal(err)
			}
			runMatrix(t, a, strings.TrimSuffix(aclPath, ".acl")+".txt")
		})
	}
}

// runMatrix runs the checks of one expected-results file.
func runMatrix(t *testing.T, a *ACL, path string) {
	clients := map[string]Client{}
	checks := 0
	for _, row := range testtable.Read(t, path, 4) {
		at, fields := row.At, row.Fields
		if fields[0] == "client" {
			c := Client{Username: fields[2], HasUsername: fields[2] != "-", ClientID: fields[3]}
			if !c.HasUsername {
				c.Username = ""
			}
			clients[fields[1]] = c
			continue
		}
		c, ok := clients[fields[1]]
		if !ok {
			t.Fatalf("%s: unknown client %q", at, fields[1])
		}
		want := fields[3] == "yes"
		if !want && fields[3] != "no" {
			t.Fatalf("%s: want yes or no, got %q", at, fields[3])
		}
		var got bool
		switch fields[0] {
		case "pub":
			got = a.CanPublish(c, fields[2])
		case "recv":
			got = a.CanReceive(c, fields[2])
		case "sub":
			got = a.CanSubscribe(c, fields[2])
		default:
			t.Fatalf("%s: unknown op %q", at, fields[0])
		}
		if got != want {
			t.Errorf("%s: %s %s %q = %v, want %v", at, fields[0], fields[1], fields[2], got, want)
		}
		checks++
	}
	if checks < 10 {
		t.Fatalf("only %d checks in %s", checks, path)
	}
}
