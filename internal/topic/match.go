package topic

import "strings"

// Match reports whether the topic name matches the subscription filter.
// It is the simple reference matcher; use Index for many filters.
//
//   - '+' matches exactly one level, including an empty one (section
//     4.7.1.3 of MQTT 5);
//   - '#' matches any number of levels, including the parent level, so
//     "sport/#" matches "sport" (section 4.7.1.2 of MQTT 5);
//   - empty levels are levels: "a//b" has three, "/a" has two;
//   - a name starting with '$' is not matched by a filter starting with
//     '+' or '#' [MQTT-4.7.2-1].
//
// filter must be valid (see ValidFilter) and not shared; strip $share
// with ParseShared first. Match does not allocate.
func Match(filter, name string) bool {
	if dollarBlocked(filter, name) {
		return false
	}
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" {
			return true
		}
		nl, nrest, nmore := strings.Cut(name, "/")
		if fl != "+" && fl != nl {
			return false
		}
		switch {
		case !fmore:
			return !nmore
		case !nmore: // name ends: only a trailing "#" matches the parent
			return frest == "#"
		}
		filter, name = frest, nrest
	}
}

// dollarBlocked reports whether the $-rule keeps filter from matching
// name: wildcards in the first level do not match names that start with
// '$' [MQTT-4.7.2-1].
func dollarBlocked(filter, name string) bool {
	return name != "" && name[0] == '$' &&
		filter != "" && (filter[0] == '+' || filter[0] == '#')
}

// isDollar reports whether a first level is a $-level (e.g. "$SYS"),
// which first-level wildcards skip [MQTT-4.7.2-1].
func isDollar(level string) bool { return level != "" && level[0] == '$' }
