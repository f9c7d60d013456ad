// Package topic validates topic names and filters, matches topics against
// subscriptions (a trie with +, # and shared groups) and indexes retained
// messages for wildcard lookup.
package topic

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// MaxLength is the longest topic or filter the protocol can carry.
const MaxLength = 65535

// SharedPrefix starts a shared subscription filter: $share/{group}/{filter}.
const SharedPrefix = "$share/"

// Validation errors; callers map them to reason codes.
var (
	ErrEmpty         = errors.New("topic is empty")
	ErrTooLong       = errors.New("topic longer than 65535 bytes")
	ErrBadUTF8       = errors.New("topic is not valid UTF-8")
	ErrNullChar      = errors.New("topic contains U+0000")
	ErrWildcardName  = errors.New("topic name contains a wildcard")
	ErrBadWildcard   = errors.New("wildcard does not occupy a whole level, or # is not last")
	ErrBadSharedForm = errors.New("shared subscription must be $share/{group}/{filter} with a group free of +, # and /")
)

// checkString applies the UTF-8 rules shared by names and filters
// [MQTT-1.5.4-1], [MQTT-1.5.4-2], [MQTT-4.7.3-1].
func checkString(s string) error {
	switch {
	case s == "":
		return ErrEmpty
	case len(s) > MaxLength:
		return ErrTooLong
	case !utf8.ValidString(s): // also rejects encoded surrogates
		return ErrBadUTF8
	case strings.IndexByte(s, 0) >= 0:
		return ErrNullChar
	}
	return nil
}

// ValidName checks a PUBLISH topic name: non-empty, valid UTF-8, no
// wildcards [MQTT-3.3.2-2].
func ValidName(name string) error {
	if err := checkString(name); err != nil {
		return err
	}
	if strings.ContainsAny(name, "+#") {
		return ErrWildcardName
	}
	return nil
}

// ValidFilter checks a subscription filter, including the shared form.
func ValidFilter(filter string) error {
	if err := checkString(filter); err != nil {
		return err
	}
	if strings.HasPrefix(filter, SharedPrefix) {
		_, inner, ok := ParseShared(filter)
		if !ok {
			return ErrBadSharedForm
		}
		filter = inner
	}
	return checkWildcards(filter)
}

// checkWildcards enforces that + and # stand alone in their level and #
// is last [MQTT-4.7.1-1], [MQTT-4.7.1-2].
func checkWildcards(filter string) error {
	for i := 0; i < len(filter); i++ {
		c := filter[i]
		if c != '+' && c != '#' {
			continue
		}
		if i > 0 && filter[i-1] != '/' {
			return ErrBadWildcard
		}
		if c == '#' && i != len(filter)-1 {
			return ErrBadWildcard
		}
		if c == '+' && i+1 < len(filter) && filter[i+1] != '/' {
			return ErrBadWildcard
		}
	}
	return nil
}

// ParseShared splits "$share/group/filter" into group and filter. ok is
// false when filter is not a well-formed shared subscription [MQTT-4.8.2-1],
// [MQTT-4.8.2-2].
func ParseShared(filter string) (group, inner string, ok bool) {
	rest, found := strings.CutPrefix(filter, SharedPrefix)
	if !found {
		return "", "", false
	}
	group, inner, found = strings.Cut(rest, "/")
	if !found || group == "" || inner == "" || strings.ContainsAny(group, "+#") {
		return "", "", false
	}
	return group, inner, true
}

// IsWildcard reports whether filter contains + or #.
func IsWildcard(filter string) bool { return strings.ContainsAny(filter, "+#") }
