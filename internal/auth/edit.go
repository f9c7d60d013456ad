package auth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrNoSuchUser is returned (wrapped) by [DeleteUser] for a user that is not
// in the file.
var ErrNoSuchUser = errors.New("no such user")

// SetPassword sets user's password in the password file at path, hashing it
// with [HashArgon2id]. It replaces the user's line, or appends one, and keeps
// every other line, comments included, as it was. A missing file is created
// with mode 0600. The file is replaced atomically (a temporary file in the
// same directory, then a rename) and keeps its mode and, where possible, its
// owner. Editing the same file from two processes at once is not guarded.
func SetPassword(path, user string, password []byte) error {
	if err := ValidateUsername(user); err != nil {
		return fmt.Errorf("auth: set password: %w", err)
	}
	if len(password) == 0 {
		return fmt.Errorf("auth: set password for %q: empty password", user)
	}
	hash, err := HashArgon2id(password)
	if err != nil {
		return err
	}
	return editFile(path, true, func(lines []string) ([]string, error) {
		entry := user + ":" + hash
		out := lines[:0]
		set := false
		for _, l := range lines {
			if lineUser(l) == user {
				if !set {
					out = append(out, entry)
					set = true
				}
				continue // a duplicate line for the same user goes
			}
			out = append(out, l)
		}
		if !set {
			out = append(out, entry)
		}
		return out, nil
	})
}

// DeleteUser removes user's line from the password file at path, keeping
// every other line. It returns an error wrapping [ErrNoSuchUser] if the user
// is not in the file. The file is replaced atomically, as by [SetPassword].
func DeleteUser(path, user string) error {
	if err := ValidateUsername(user); err != nil {
		return fmt.Errorf("auth: delete user: %w", err)
	}
	return editFile(path, false, func(lines []string) ([]string, error) {
		out := lines[:0]
		for _, l := range lines {
			if lineUser(l) != user {
				out = append(out, l)
			}
		}
		if len(out) == len(lines) {
			return nil, fmt.Errorf("auth: delete user %q from %s: %w", user, path, ErrNoSuchUser)
		}
		return out, nil
	})
}

// lineUser returns the user name of a password file line, or "" for a
// comment, a blank line or a line without ':'.
func lineUser(line string) string {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return ""
	}
	user, _, _ := strings.Cut(line, ":")
	return user
}

// editFile applies edit to the lines of the file at path and replaces the
// file atomically. With create, a missing file is edited as empty.
func editFile(path string, create bool, edit func([]string) ([]string, error)) error {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real // replace the target, not the link
	}
	data, err := os.ReadFile(path)
	exists := err == nil
	if err != nil && !(create && errors.Is(err, fs.ErrNotExist)) {
		return fmt.Errorf("auth: %w", err)
	}
	var lines []string
	if len(data) > 0 {
		lines = strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	}
	lines, err = edit(lines)
	if err != nil {
		return err
	}
	var out strings.Builder
	for _, l := range lines {
		out.WriteString(l)
		out.WriteByte('\n')
	}
	var old os.FileInfo
	if exists {
		if old, err = os.Stat(path); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	return writeAtomic(path, []byte(out.String()), old)
}

// writeAtomic writes data to a temporary file next to path and renames it
// over path. The new file gets old's mode and owner, or mode 0600 if old is
// nil.
func writeAtomic(path string, data []byte, old os.FileInfo) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	mode := fs.FileMode(0o600)
	if old != nil {
		mode = old.Mode().Perm()
		if err := keepOwner(tmp, old); err != nil {
			return fmt.Errorf("auth: keep the owner of %s: %w", path, err)
		}
	}
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	return syncDir(dir)
}
