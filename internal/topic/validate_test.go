package topic

import (
	"errors"
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		want error
	}{
		{"a", nil},
		{"a/b/c", nil},
		{"/", nil},
		{"a//b", nil},
		{"$SYS/x", nil},
		{"Accounts payable", nil},
		{"\u00e9t\u00e9/\U0001F600", nil},
		{"", ErrEmpty},
		{strings.Repeat("a", MaxLength), nil},
		{strings.Repeat("a", MaxLength+1), ErrTooLong},
		{"a\x00b", ErrNullChar},
		{"\x00", ErrNullChar},
		{"a\xffb", ErrBadUTF8},
		{"a/\xc3", ErrBadUTF8},         // truncated sequence
		{"\xed\xa0\x80", ErrBadUTF8},   // U+D800 encoded as bytes
		{"a/\xed\xbf\xbf", ErrBadUTF8}, // U+DFFF encoded as bytes
		{"\xc0\xaf", ErrBadUTF8},       // overlong '/'
		{"a/+", ErrWildcardName},
		{"#", ErrWildcardName},
		{"a+", ErrWildcardName},
		{"sport/tennis#", ErrWildcardName},
	}
	for _, tt := range tests {
		if got := ValidName(tt.name); !errors.Is(got, tt.want) {
			t.Errorf("ValidName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestValidFilter(t *testing.T) {
	tests := []struct {
		filter string
		want   error
	}{
		{"a", nil},
		{"#", nil},
		{"+", nil},
		{"+/+", nil},
		{"/+", nil},
		{"+/", nil},
		{"//", nil},
		{"sport/tennis/#", nil},
		{"+/tennis/#", nil},
		{"sport/+/player1", nil},
		{"$SYS/#", nil},
		{"$share", nil}, // not the shared prefix: an ordinary filter
		{"$share/g/#", nil},
		{"$share/g/a/+/b", nil},
		{"$share/g//", nil},
		{"", ErrEmpty},
		{strings.Repeat("a", MaxLength+1), ErrTooLong},
		{"a/\x00", ErrNullChar},
		{"a/\xff", ErrBadUTF8},
		{"\xed\xa0\x80/#", ErrBadUTF8},
		{"a/#/b", ErrBadWildcard},
		{"a+", ErrBadWildcard},
		{"+a", ErrBadWildcard},
		{"a/b+/c", ErrBadWildcard},
		{"sport/tennis#", ErrBadWildcard},
		{"#/", ErrBadWildcard},
		{"##", ErrBadWildcard},
		{"++", ErrBadWildcard},
		{"$share//a", ErrBadSharedForm},
		{"$share/g", ErrBadSharedForm},
		{"$share/g/", ErrBadSharedForm},
		{"$share/g+/a", ErrBadSharedForm},
		{"$share/#/a", ErrBadSharedForm},
		{"$share/g/a#", ErrBadWildcard},
		{"$share/g/a/#/b", ErrBadWildcard},
	}
	for _, tt := range tests {
		if got := ValidFilter(tt.filter); !errors.Is(got, tt.want) {
			t.Errorf("ValidFilter(%q) = %v, want %v", tt.filter, got, tt.want)
		}
	}
}

func TestParseShared(t *testing.T) {
	tests := []struct {
		filter, group, inner string
		ok                   bool
	}{
		{"$share/g/#", "g", "#", true},
		{"$share/g/a/b", "g", "a/b", true},
		{"$share/g//", "g", "/", true},
		{"$share/g/$SYS/+", "g", "$SYS/+", true},
		{"$share//a", "", "", false},
		{"$share/g", "", "", false},
		{"$share/g/", "", "", false},
		{"$share/g+/a", "", "", false},
		{"$share/g#/a", "", "", false},
		{"$share", "", "", false},
		{"a/b", "", "", false},
		{"$SHARE/g/a", "", "", false},
	}
	for _, tt := range tests {
		g, in, ok := ParseShared(tt.filter)
		if g != tt.group || in != tt.inner || ok != tt.ok {
			t.Errorf("ParseShared(%q) = %q, %q, %v; want %q, %q, %v",
				tt.filter, g, in, ok, tt.group, tt.inner, tt.ok)
		}
	}
}

func TestIsWildcard(t *testing.T) {
	for f, want := range map[string]bool{
		"a/b": false, "/": false, "$SYS/x": false,
		"#": true, "+": true, "a/+/b": true, "a/#": true, "$share/g/+": true,
	} {
		if got := IsWildcard(f); got != want {
			t.Errorf("IsWildcard(%q) = %v, want %v", f, got, want)
		}
	}
}
