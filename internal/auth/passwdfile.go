package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"unicode"
	"unicode/utf8"
)

// PasswordFile is a password file loaded by [LoadPasswordFile]. It is
// immutable and safe for concurrent use; [WatchPasswordFile] replaces it as a
// whole on reload.
type PasswordFile struct {
	path  string
	users map[string]verifier
	// dummy has the cost of most users' hashes; unknown users are checked
	// against it so that they take as long as a wrong password.
	dummy verifier
}

// LoadPasswordFile reads a Mosquitto-format password file: lines of
// "user:hash", "#" comments and blank lines. Errors name the file and line,
// as in `passwd:3: unknown hash format "$9$..."`; they never quote a salt or
// hash. A user name may appear once.
func LoadPasswordFile(path string) (*PasswordFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return parsePasswordFile(path, data)
}

func parsePasswordFile(path string, data []byte) (*PasswordFile, error) {
	f := &PasswordFile{path: path, users: make(map[string]verifier)}
	firstLine := make(map[string]int)
	costs := make(map[string]int)
	data = bytes.TrimPrefix(data, []byte("\ufeff")) // a byte order mark some editors add
	for i, raw := range bytes.Split(data, []byte("\n")) {
		n := i + 1
		user, hash, ok, err := parseLine(string(raw))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if !ok {
			continue
		}
		if first, dup := firstLine[user]; dup {
			return nil, fmt.Errorf("%s:%d: duplicate user %q (first on line %d)", path, n, user, first)
		}
		v, err := parseHash(hash)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: user %q: %w", path, n, user, err)
		}
		firstLine[user] = n
		f.users[user] = v
		// The most common cost wins; on a tie, the one seen first.
		costs[v.cost()]++
		if f.dummy == nil || costs[v.cost()] > costs[f.dummy.cost()] {
			f.dummy = v.dummy()
		}
	}
	if f.dummy == nil {
		f.dummy = fixedDummy
	}
	return f, nil
}

// parseLine splits one line into user and hash. ok is false for blank lines
// and comments.
func parseLine(line string) (user, hash string, ok bool, err error) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", "", false, nil
	}
	user, hash, found := strings.Cut(line, ":")
	if !found {
		return "", "", false, errors.New(`missing ":" between user name and hash`)
	}
	if err := ValidateUsername(user); err != nil {
		return "", "", false, err
	}
	hash = strings.TrimSpace(hash)
	if hash == "" {
		return "", "", false, fmt.Errorf("user %q: empty hash", user)
	}
	return user, hash, true, nil
}

// ValidateUsername reports whether user can be stored in a password file: it
// must be valid UTF-8 without NUL, ':', line breaks or a leading '#', and not
// be empty or start or end with white space.
func ValidateUsername(user string) error {
	switch {
	case user == "":
		return errors.New("invalid user name: empty")
	case !utf8.ValidString(user):
		return errors.New("invalid user name: not valid UTF-8")
	case strings.ContainsAny(user, ":\n\r\x00"):
		return fmt.Errorf("invalid user name %q: contains ':', a line break or NUL", user)
	case user[0] == '#':
		return fmt.Errorf("invalid user name %q: starts with '#'", user)
	case strings.TrimFunc(user, unicode.IsSpace) != user:
		return fmt.Errorf("invalid user name %q: starts or ends with white space", user)
	}
	return nil
}

// Path returns the file the PasswordFile was loaded from.
func (f *PasswordFile) Path() string { return f.path }

// Users returns the number of users in the file.
func (f *PasswordFile) Users() int { return len(f.users) }

// Authenticate implements [Authenticator]. A request without a user name is
// ignored; without a password, or with an unknown user or a wrong password,
// it is denied; otherwise allowed. An unknown user is checked against a dummy
// hash with the cost of the file's most common hash (the default argon2id
// parameters for an empty file), so it takes as long as a wrong password.
//
// Password checks run at most GOMAXPROCS at a time across the process, which
// bounds the memory argon2id uses under a flood of connections; while waiting
// for a turn, Authenticate returns Deny and an error if ctx ends.
func (f *PasswordFile) Authenticate(ctx context.Context, r *Request) (Decision, error) {
	if r == nil {
		return Deny, errors.New("auth: nil request")
	}
	if !r.HasUsername {
		return Ignore, nil
	}
	if !r.HasPassword {
		return Deny, nil
	}
	v, known := f.users[r.Username]
	if !known {
		v = f.dummy
		if v == nil { // a PasswordFile not made by LoadPasswordFile
			v = fixedDummy
		}
	}
	ok, err := verifyLimited(ctx, v, r.Password)
	if err != nil {
		return Deny, err
	}
	if ok && known {
		return Allow, nil
	}
	return Deny, nil
}

// verifySlots bounds concurrent password checks process-wide: each argon2id
// check with the default parameters allocates 19 MiB.
var verifySlots = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))

func verifyLimited(ctx context.Context, v verifier, password []byte) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("auth: password check: %w", context.Cause(ctx))
	}
	select {
	case verifySlots <- struct{}{}:
	case <-ctx.Done():
		return false, fmt.Errorf("auth: waiting to check password: %w", context.Cause(ctx))
	}
	defer func() { <-verifySlots }()
	return v.verify(password), nil
}
