package config

import (
	"errors"
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration that YAML writes as a Go duration string
// such as "10s", "1m30s" or "24h". A bare number is refused, except 0,
// because it would be ambiguous: seconds or nanoseconds?
type Duration time.Duration

// errDurationSyntax is the message shown for a value that is not a duration.
var errDurationSyntax = errors.New(`expected a duration such as "10s", "1m30s" or "24h" (units ns, us, ms, s, m, h)`)

// ParseDuration parses s as a Duration: "0" or a string that
// time.ParseDuration accepts.
func ParseDuration(s string) (Duration, error) {
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		if isDigits(s) {
			return 0, fmt.Errorf("bare number %s has no unit; write %q for seconds: %w", s, s+"s", errDurationSyntax)
		}
		return 0, fmt.Errorf("%q: %w", s, errDurationSyntax)
	}
	return Duration(d), nil
}

// isDigits reports whether s is a non-empty string of ASCII digits.
func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// String formats d as time.Duration does ("1m30s").
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!str") {
		return errDurationSyntax
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML implements yaml.Marshaler, writing d as String does.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
