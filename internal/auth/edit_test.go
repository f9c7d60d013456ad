package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// noTempFiles fails the test if an editing temporary file was left in dir.
func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestSetPasswordCreatesFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "passwd")
	if err := SetPassword(path, "alice", []byte("pw")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("new file mode %v, want 0600", fi.Mode().Perm())
	}
	if content := readFile(t, path); !strings.HasPrefix(content, "alice:$argon2id$v=19$") || strings.Count(content, "\n") != 1 {
		t.Errorf("new file %q: want one argon2id line", content)
	}
	if d := login(t, mustLoad(t, path), "alice", "pw"); d != Allow {
		t.Errorf("alice: %v, want allow", d)
	}
	noTempFiles(t, dir)
}

func TestSetPasswordKeepsOtherLines(t *testing.T) {
	bob, carol := sha512Entry("bob", "b"), sha512Entry("carol", "c")
	head := "# baram users\n\n" + bob + "  # carol is next\r\n"
	path := writeFile(t, "passwd", head+"alice:$6$old$old\n"+strings.TrimSuffix(carol, "\n"))
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}

	if err := SetPassword(path, "alice", []byte("new")); err != nil { // replace in place
		t.Fatal(err)
	}
	if err := SetPassword(path, "dave", []byte("d")); err != nil { // append
		t.Fatal(err)
	}
	lines := strings.Split(readFile(t, path), "\n")
	if got := strings.Join(lines[:4], "\n") + "\n"; got != head {
		t.Errorf("lines before alice changed:\n%q\nwant\n%q", got, head)
	}
	if !strings.HasPrefix(lines[4], "alice:$argon2id$") || lines[5]+"\n" != carol ||
		!strings.HasPrefix(lines[6], "dave:$argon2id$") || len(lines) != 8 || lines[7] != "" {
		t.Errorf("want alice replaced in place, carol kept, dave appended, final newline; got\n%q", lines)
	}
	f := mustLoad(t, path)
	for user, pw := range map[string]string{"alice": "new", "bob": "b", "carol": "c", "dave": "d"} {
		if d := login(t, f, user, pw); d != Allow {
			t.Errorf("%s: %v, want allow", user, d)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode after editing: %v, %v; want 0640 kept", fi.Mode().Perm(), err)
	}
	noTempFiles(t, filepath.Dir(path))
}

func TestSetPasswordRemovesDuplicates(t *testing.T) {
	path := writeFile(t, "passwd", sha512Entry("alice", "1")+sha512Entry("bob", "b")+sha512Entry("alice", "2"))
	if err := SetPassword(path, "alice", []byte("3")); err != nil {
		t.Fatal(err)
	}
	f := mustLoad(t, path) // would fail on a duplicate
	if f.Users() != 2 || login(t, f, "alice", "3") != Allow {
		t.Errorf("want alice once with the new password, and bob; got %q", readFile(t, path))
	}
}

func TestSetPasswordThroughSymlink(t *testing.T) {
	target := writeFile(t, "passwd", sha512Entry("bob", "b"))
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(target, link); err != nil {
		t.Skip("no symlinks:", err)
	}
	if err := SetPassword(link, "alice", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced by a file (%v)", err)
	}
	if mustLoad(t, target).Users() != 2 {
		t.Errorf("the target was not edited: %q", readFile(t, target))
	}
}

func TestSetPasswordRejects(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "passwd")
	for _, user := range []string{"", "a:b", "a\nb", "a\rb", "#root", " alice", "alice\t", "nul\x00", "bad\xff"} {
		if err := SetPassword(path, user, []byte("pw")); err == nil || !strings.Contains(err.Error(), "invalid user name") {
			t.Errorf("user %q: error %v, want an invalid user name", user, err)
		}
	}
	if err := SetPassword(path, "alice", nil); err == nil || !strings.Contains(err.Error(), "empty password") {
		t.Errorf("empty password: error %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a rejected edit created the file (%v)", err)
	}
	if err := SetPassword(filepath.Join(dir, "no", "such", "dir"), "alice", []byte("pw")); err == nil {
		t.Error("SetPassword in a missing directory succeeded")
	}
	noTempFiles(t, dir)
}

func TestDeleteUser(t *testing.T) {
	bob, carol := sha512Entry("bob", "b"), sha512Entry("carol", "c")
	content := "# users\n" + sha512Entry("alice", "a") + "\n" + bob + carol
	path := writeFile(t, "passwd", content)

	if err := DeleteUser(path, "alice"); err != nil {
		t.Fatal(err)
	}
	if got, want := readFile(t, path), "# users\n\n"+bob+carol; got != want {
		t.Errorf("after delete:\n%q\nwant\n%q", got, want)
	}
	err := DeleteUser(path, "alice")
	if !errors.Is(err, ErrNoSuchUser) || !strings.Contains(err.Error(), path) {
		t.Errorf("deleting a missing user: %v, want ErrNoSuchUser naming the file", err)
	}
	if got := readFile(t, path); got != "# users\n\n"+bob+carol {
		t.Errorf("a failed delete changed the file: %q", got)
	}
	if err := DeleteUser(filepath.Join(t.TempDir(), "missing"), "bob"); err == nil || errors.Is(err, ErrNoSuchUser) {
		t.Errorf("missing file: %v, want a file error", err)
	}
	f := mustLoad(t, path)
	if f.Users() != 2 || login(t, f, "alice", "a") != Deny || login(t, f, "bob", "b") != Allow {
		t.Error("want alice gone and bob and carol kept")
	}
	noTempFiles(t, filepath.Dir(path))
}
