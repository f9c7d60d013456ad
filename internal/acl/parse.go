package acl

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/baram-mqtt/baram/internal/topic"
)

// maxLine bounds one line of an ACL file: a topic of up to 65535 bytes
// plus the keywords, with room to spare.
const maxLine = 1 << 20

// ParseError reports a line of an ACL file that cannot be loaded.
type ParseError struct {
	File string // the name given to Parse, or the path given to Load
	Line int    // 1-based
	Msg  string
	Err  error // the underlying cause, if any (e.g. a topic validation error)
}

// Error formats the error as "file:line: message".
func (e *ParseError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s:%d: %s: %v", e.File, e.Line, e.Msg, e.Err)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Unwrap returns the underlying cause.
func (e *ParseError) Unwrap() error { return e.Err }

// Load reads and compiles the ACL file at path.
func Load(path string) (*ACL, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("acl: %w", err)
	}
	defer f.Close()
	return Parse(f, path)
}

// Parse reads and compiles an ACL in Mosquitto's acl_file syntax (see the
// package documentation). name identifies the source in errors.
func Parse(r io.Reader, name string) (*ACL, error) {
	p := parser{name: name, acl: &ACL{users: make(map[string]*ruleSet)}}
	p.section = &p.acl.anon
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	for sc.Scan() {
		p.line++
		text := sc.Text()
		if p.line == 1 {
			text = strings.TrimPrefix(text, "\uFEFF")
		}
		if err := p.parseLine(text); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &ParseError{File: name, Line: p.line + 1, Msg: "line too long"}
		}
		return nil, fmt.Errorf("acl: %s: %w", name, err)
	}
	p.acl.anon.pack()
	p.acl.patterns.pack()
	for _, s := range p.acl.users {
		s.pack()
	}
	return p.acl, nil
}

// parser is the state of one Parse call.
type parser struct {
	name    string
	line    int
	acl     *ACL
	section *ruleSet // where topic lines go
}

// errorf returns a ParseError for the current line.
func (p *parser) errorf(cause error, format string, args ...any) error {
	return &ParseError{File: p.name, Line: p.line, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// warnf records a warning for the current line.
func (p *parser) warnf(format string, args ...any) {
	p.acl.warnings = append(p.acl.warnings, fmt.Sprintf("%s:%d: ", p.name, p.line)+fmt.Sprintf(format, args...))
}

// blanks are the characters that separate and surround fields.
const blanks = " \t\r\n\v\f"

// cutField splits s at its first run of spaces or tabs.
func cutField(s string) (field, rest string) {
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeft(s[i:], blanks)
}

// parseLine handles one line.
func (p *parser) parseLine(text string) error {
	text = strings.Trim(text, blanks)
	if text == "" || text[0] == '#' {
		return nil
	}
	keyword, rest := cutField(text)
	switch keyword {
	case "topic", "pattern":
		return p.parseRule(keyword, rest)
	case "user":
		if rest == "" {
			return p.errorf(nil, "user: missing username")
		}
		s := p.acl.users[rest]
		if s == nil {
			s = new(ruleSet)
			p.acl.users[rest] = s
		}
		p.section = s
		return nil
	case "anonymous":
		if rest != "" {
			return p.errorf(nil, "anonymous takes no argument, got %q", rest)
		}
		p.section = &p.acl.anon
		return nil
	}
	return p.errorf(nil, "unknown keyword %q: want topic, pattern, user or anonymous", keyword)
}

// parseRule handles "topic|pattern [access] <topic>".
func (p *parser) parseRule(keyword, rest string) error {
	if rest == "" {
		return p.errorf(nil, "%s: missing topic", keyword)
	}
	word, filter := cutField(rest)
	access := Read | Write
	if filter == "" { // one word: it is the topic (Mosquitto reads "topic read" so too)
		filter = word
	} else {
		switch word {
		case "read":
			access = Read
		case "write":
			access = Write
		case "readwrite":
			access = Read | Write
		case "deny":
			access = deny
		default:
			return p.errorf(nil, "%s: invalid access %q: want read, write, readwrite or deny (a topic with spaces needs an explicit access)", keyword, word)
		}
	}
	if err := topic.ValidFilter(filter); err != nil {
		return p.errorf(err, "%s: invalid topic %q", keyword, filter)
	}
	if keyword == "topic" {
		if strings.Contains(filter, "%u") || strings.Contains(filter, "%c") {
			p.warnf("topic %q: %%u and %%c are substituted only in pattern lines", filter)
		}
		p.section.add(compile(filter, access, false))
		return nil
	}
	r := compile(filter, access, true)
	if r.vars == 0 {
		p.warnf("pattern %q contains neither %%u nor %%c: it applies to every client", filter)
	}
	p.acl.patterns.add(r)
	return nil
}
