package auth

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ScramSuffix is appended to a password file's path to name its SCRAM
// sidecar file, which holds "user:$scram-sha-256$..." lines.
const ScramSuffix = ".scram"

// ScramFile is a SCRAM credential file loaded by [LoadScramFile]. It is
// immutable and safe for concurrent use.
type ScramFile struct {
	path  string
	creds map[string]ScramCredential
}

// LoadScramFile reads a SCRAM credential file: lines of
// "user:$scram-sha-256$i=...$salt$StoredKey$ServerKey", "#" comments and
// blank lines. Errors name the file and line and never quote a credential.
func LoadScramFile(path string) (*ScramFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	f := &ScramFile{path: path, creds: make(map[string]ScramCredential)}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	for i, raw := range bytes.Split(data, []byte("\n")) {
		n := i + 1
		user, cred, ok, err := parseLine(string(raw))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if !ok {
			continue
		}
		if _, dup := f.creds[user]; dup {
			return nil, fmt.Errorf("%s:%d: duplicate user %q", path, n, user)
		}
		c, err := ParseScramCredential(cred)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: user %q: %w", path, n, user, err)
		}
		f.creds[user] = c
	}
	return f, nil
}

// Path returns the file the ScramFile was loaded from.
func (f *ScramFile) Path() string { return f.path }

// Users returns the number of users in the file.
func (f *ScramFile) Users() int { return len(f.creds) }

// Lookup returns user's credential. A nil ScramFile has no users.
func (f *ScramFile) Lookup(user string) (ScramCredential, bool) {
	if f == nil {
		return ScramCredential{}, false
	}
	c, ok := f.creds[user]
	return c, ok
}

// newScramEntry derives the credential line of user with a random salt.
func newScramEntry(user string, password []byte) (string, error) {
	if err := ValidateUsername(user); err != nil {
		return "", fmt.Errorf("auth: set SCRAM credential: %w", err)
	}
	if len(password) == 0 {
		return "", fmt.Errorf("auth: set SCRAM credential for %q: empty password", user)
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: %w", err)
	}
	return user + ":" + NewScramCredential(password, salt, scramDefaultIterations).String(), nil
}

// SetScramCredential sets user's SCRAM-SHA-256 credential (4096 iterations,
// random salt) in the file at path, editing it as [SetPassword] edits a
// password file. With create, the file is replaced by one holding only user.
func SetScramCredential(path, user string, password []byte, create bool) error {
	entry, err := newScramEntry(user, password)
	if err != nil {
		return err
	}
	if create {
		return editFile(path, true, func([]string) ([]string, error) { return []string{entry}, nil })
	}
	return editFile(path, true, func(lines []string) ([]string, error) {
		out := lines[:0]
		set := false
		for _, l := range lines {
			if lineUser(l) == user {
				if !set {
					out = append(out, entry)
					set = true
				}
				continue
			}
			out = append(out, l)
		}
		if !set {
			out = append(out, entry)
		}
		return out, nil
	})
}

// DeleteScramCredential removes user from the SCRAM file at path. A missing
// file or user is not an error.
func DeleteScramCredential(path, user string) error {
	err := DeleteUser(path, user)
	if errors.Is(err, ErrNoSuchUser) || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
