// Package acl implements topic access control read from a Mosquitto
// acl_file, so that users coming from Mosquitto can bring their file
// unchanged.
//
// # File format
//
// The format is acl_file from mosquitto.conf(5), which the Mosquitto 2.1
// acl-file plugin parses the same way:
//
//	# a comment: '#' is the first character of the line
//	topic [read|write|readwrite|deny] <topic>
//	user <username>
//	pattern [read|write|readwrite|deny] <topic>
//
// A line is a keyword, an optional access and the topic. The topic is the
// rest of the line with blanks trimmed from both ends, so it may contain
// spaces when the access is given. Without an access the rule is
// readwrite. As in Mosquitto, a single word after the keyword is the
// topic, so "topic read" grants readwrite on the topic "read". The topic is
// a filter and may use '+' and '#'. It must be a valid filter (UTF-8,
// wildcards filling whole levels), or the file does not load. Keywords are
// case sensitive. An empty file denies everything.
//
// topic lines before the first user line apply to clients that connected
// without a username, and to no one else: a client with a username but no
// user section gets only the patterns. topic lines after "user NAME"
// apply to the client whose CONNECT username is NAME, and sections with
// the same name merge. pattern lines apply to every client wherever they
// appear, with %u replaced by the username and %c by the client ID. A
// pattern that uses %u never applies to a client without a username.
// topic lines substitute nothing.
//
// # Semantics where Mosquitto's documentation is vague
//
// Access is denied unless a rule grants it. A deny rule that matches wins
// over every allow rule, whether the allow comes from the client's section
// or from a pattern. Mosquitto 2 checks the client's section before the
// patterns, so there an allow in the section beats a deny in a pattern;
// baram is stricter.
//
// A rule matches a topic starting with '$' (such as $SYS/...) only if the
// rule's text starts with '$' too, as in Mosquitto. So "#" does not cover
// $SYS, and neither does the pattern "%u/#" for a user named "$SYS".
//
// A value substituted for %u or %c is unsafe when it is empty or contains
// '+', '#' or '/': such a value must not widen a client's access
// (CVE-2017-7650). An allow pattern that needs an unsafe value does not
// match. A deny pattern that needs one denies everything, because it
// cannot be evaluated (fail closed). Mosquitto 2 handles this differently:
// it refuses every pattern to a client whose username or client ID
// contains '+' or '#', and lets '/' through, which would let user
// "alice/x" into the tree of the pattern "%u/#" for alice. baram checks
// only the values a rule uses, and treats '/' as unsafe too.
//
// %u and %c are replaced anywhere in a level, as Mosquitto 2.0 does:
// "dev-%c" matches "dev-" followed by the client ID. Mosquitto 2.1
// substitutes only a variable that is a whole level. Both agree on the
// documented form, where a variable is the whole level.
//
// # Extensions
//
// The line "anonymous" starts a section for clients without a username,
// so anonymous rules need not come first. Comments may be indented,
// fields may be separated by tabs as well as spaces, and a UTF-8 byte
// order mark is ignored. Mosquitto rejects all of these, so they change
// the meaning of no Mosquitto file.
//
// # Subscriptions and delivery
//
// Mosquitto 2's acl_file accepts every SUBSCRIBE. It checks read access
// for each message when it delivers it, retained messages included. baram
// does both checks. CanSubscribe admits a filter only if a read rule
// covers every topic the filter can match and no deny rule covers all of
// them. CanReceive is the check for each message, and the broker must
// still make it, because a subscription such as "home/#" may overlap a
// deny rule such as "home/alice/secret".
package acl
