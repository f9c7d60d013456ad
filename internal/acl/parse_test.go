package acl

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/baram-mqtt/baram/internal/topic"
)

// parse parses src named "t.acl" and fails the test on error.
func parse(t *testing.T, src string) *ACL {
	t.Helper()
	a, err := Parse(strings.NewReader(src), "t.acl")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestParseErrors(t *testing.T) {
	long := "topic read " + strings.Repeat("a", maxLine)
	tests := []struct {
		src  string
		line int
		msg  string
	}{
		{"topic", 1, "topic: missing topic"},
		{"# ok\n\ntopic read a\ntopic bogus a/b", 4, `invalid access "bogus"`},
		{"topic a b", 1, `invalid access "a"`},
		{"topic read a/#/b", 1, `invalid topic "a/#/b"`},
		{"topic read a+", 1, "invalid topic"},
		{"topic read a # trailing comment", 1, "invalid topic"},
		{"pattern write %u/+x", 1, "pattern: invalid topic"},
		{"pattern\n", 1, "pattern: missing topic"},
		{"user alice\ntopic a\nuser", 3, "user: missing username"},
		{"user alice\nTopic a", 2, `unknown keyword "Topic"`},
		{"topic a\nacl read b", 2, `unknown keyword "acl"`},
		{"anonymous please", 1, "anonymous takes no argument"},
		{"topic read a\r\ntopic read \xff", 2, "invalid topic"},
		{"topic read a\n" + long, 2, "line too long"},
	}
	for _, tt := range tests {
		_, err := Parse(strings.NewReader(tt.src), "rules.acl")
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%.40q) = %v, want a *ParseError", tt.src, err)
			continue
		}
		if pe.File != "rules.acl" || pe.Line != tt.line || !strings.Contains(pe.Error(), tt.msg) {
			t.Errorf("Parse(%.40q) = %q (line %d), want line %d and %q", tt.src, err, pe.Line, tt.line, tt.msg)
		}
		if prefix := "rules.acl:" + strconv.Itoa(tt.line) + ": "; !strings.HasPrefix(err.Error(), prefix) {
			t.Errorf("error %q does not start with %q", err, prefix)
		}
	}
}

func TestParseErrorUnwrap(t *testing.T) {
	_, err := Parse(strings.NewReader("topic read a/#/b"), "x")
	if !errors.Is(err, topic.ErrBadWildcard) {
		t.Errorf("err = %v, want it to wrap topic.ErrBadWildcard", err)
	}
}

func TestLoad(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing.acl")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
	path := filepath.Join(t.TempDir(), "bad.acl")
	if err := os.WriteFile(path, []byte("user\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.HasPrefix(err.Error(), path+":1: ") {
		t.Errorf("Load(bad) = %v, want it to name %s:1", err, path)
	}
}

// TestParseQuirks pins down Mosquitto's reading of odd but valid lines.
func TestParseQuirks(t *testing.T) {
	anon := Client{ClientID: "c"}
	// One word after "topic" is the topic, even if it spells an access.
	a := parse(t, "topic read\ntopic deny")
	for _, name := range []string{"read", "deny"} {
		if !a.CanPublish(anon, name) || !a.CanReceive(anon, name) {
			t.Errorf("topic %q should be readwrite", name)
		}
	}
	// Everything after the access is the topic, inner spaces included.
	a = parse(t, "topic write   my topic/with  spaces   ")
	if !a.CanPublish(anon, "my topic/with  spaces") || a.CanPublish(anon, "my topic/with spaces") {
		t.Error("topic with spaces not kept verbatim")
	}
	// A username may contain spaces too.
	a = parse(t, "user  John Smith \ntopic a")
	if !a.CanPublish(Client{Username: "John Smith", HasUsername: true}, "a") {
		t.Error("username with a space")
	}
	// An empty file, or only comments, denies everything.
	a = parse(t, "# nothing\n\n   \n")
	if a.CanPublish(anon, "a") || a.CanSubscribe(anon, "#") {
		t.Error("empty ACL allows")
	}
	// A user line without rules gives nothing.
	a = parse(t, "user bob")
	if a.CanReceive(Client{Username: "bob", HasUsername: true}, "a") {
		t.Error("empty user section allows")
	}
}

// TestParseWhitespace checks CRLF line ends, a byte order mark, tabs and
// indented comments.
func TestParseWhitespace(t *testing.T) {
	src := "\uFEFF# comment\r\n\ttopic\tread\t a/b \r\n  # indented comment\r\nuser\tbob\r\n  topic  write  c\r\n"
	a := parse(t, src)
	if !a.CanReceive(Client{ClientID: "x"}, "a/b") {
		t.Error("anonymous rule lost")
	}
	if !a.CanPublish(Client{Username: "bob", HasUsername: true}, "c") {
		t.Error("user rule lost")
	}
}

func TestWarnings(t *testing.T) {
	a := parse(t, "pattern read everyone/#\ntopic read x/%u\npattern read ok/%c")
	w := a.Warnings()
	if len(w) != 2 || !strings.HasPrefix(w[0], "t.acl:1: ") || !strings.HasPrefix(w[1], "t.acl:2: ") {
		t.Errorf("warnings = %q", w)
	}
	// The topic line is literal: %u is not substituted.
	if a.CanReceive(Client{Username: "u", HasUsername: true}, "x/u") {
		t.Error("topic line substituted %u")
	}
	if !a.CanReceive(Client{ClientID: "c"}, "x/%u") {
		t.Error("topic line with literal %u")
	}
}
