package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Size is a number of bytes. In YAML it is a plain integer (65536) or a
// string with a unit: B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB
// (powers of 1024), as in "64KiB" or "1MiB". Units are case-insensitive
// and may be separated from the number by a space.
type Size int64

// Size units.
const (
	KiB Size = 1 << 10
	MiB Size = 1 << 20
	GiB Size = 1 << 30
)

// sizeUnits maps lower-case unit names to their multipliers.
var sizeUnits = map[string]int64{
	"b":  1,
	"kb": 1000, "mb": 1000 * 1000, "gb": 1000 * 1000 * 1000,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
}

// errSizeSyntax is the message shown for a value that is not a size.
var errSizeSyntax = errors.New(`expected a size such as 65536, "64KiB" or "1MiB" (units B, KB, KiB, MB, MiB, GB, GiB)`)

// ParseSize parses s as a Size: digits, optionally followed by a unit.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("%q: a size cannot be negative", s)
	}
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("%q: %w", s, errSizeSyntax)
	}
	if strings.HasPrefix(t[i:], ".") {
		return 0, fmt.Errorf("%q: a size must be a whole number of bytes or units", s)
	}
	mult := int64(1)
	if unit := strings.TrimSpace(t[i:]); unit != "" {
		m, ok := sizeUnits[strings.ToLower(unit)]
		if !ok {
			return 0, fmt.Errorf("%q: unknown unit %q: %w", s, unit, errSizeSyntax)
		}
		mult = m
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q: too large", s)
	}
	return Size(n * mult), nil
}

// String formats s with the largest binary unit that divides it exactly,
// such as "1MiB" or "1500B", so that ParseSize(s.String()) == s.
func (s Size) String() string {
	for _, u := range []struct {
		name string
		n    Size
	}{{"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB}} {
		if s != 0 && s%u.n == 0 {
			return strconv.FormatInt(int64(s/u.n), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!str") {
		return errSizeSyntax
	}
	v, err := ParseSize(n.Value)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalYAML implements yaml.Marshaler, writing s as String does.
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }
