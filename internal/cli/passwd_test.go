package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baram-mqtt/baram/internal/auth"
)

// runIn runs the command line with stdin as standard input and returns
// its exit status, stdout and stderr.
func runIn(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := execute(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// passwd runs "baram passwd -b file user password" and fails the test
// if it does not succeed.
func passwd(t *testing.T, file, user, password string) {
	t.Helper()
	if code, out, errOut := run(t, "passwd", "-b", file, user, password); code != ExitOK || out != "" || errOut != "" {
		t.Fatalf("baram passwd -b %s %s ... = %d, %q, %q; want 0 and no output", file, user, code, out, errOut)
	}
}

// login reports what the password file at path decides for user and
// password.
func login(t *testing.T, path, user, password string) auth.Decision {
	t.Helper()
	f, err := auth.LoadPasswordFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.Authenticate(context.Background(), &auth.Request{Username: user, HasUsername: true,
		Password: []byte(password), HasPassword: true})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestPasswdAddChangeDelete(t *testing.T) {
	file := filepath.Join(t.TempDir(), "passwd")
	passwd(t, file, "alice", "first")
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("new password file has mode %v, want 0600", fi.Mode().Perm())
	}
	if d := login(t, file, "alice", "first"); d != auth.Allow {
		t.Errorf("alice with her password: %v, want allow", d)
	}

	// A comment and another user stay when alice's password changes.
	data, _ := os.ReadFile(file)
	if err := os.WriteFile(file, append([]byte("# the broker's users\n"), data...), 0o600); err != nil {
		t.Fatal(err)
	}
	passwd(t, file, "bob", "bobs")
	passwd(t, file, "alice", "second")
	if d := login(t, file, "alice", "first"); d != auth.Deny {
		t.Errorf("alice with her old password: %v, want deny", d)
	}
	if d := login(t, file, "alice", "second"); d != auth.Allow {
		t.Errorf("alice with her new password: %v, want allow", d)
	}
	data, _ = os.ReadFile(file)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 3 || lines[0] != "# the broker's users" || !strings.HasPrefix(lines[1], "alice:$argon2id$") || !strings.HasPrefix(lines[2], "bob:") {
		t.Errorf("password file after changes:\n%s", data)
	}

	if code, out, errOut := run(t, "passwd", "-D", file, "alice"); code != ExitOK || out != "" || errOut != "" {
		t.Fatalf("baram passwd -D = %d, %q, %q", code, out, errOut)
	}
	if d := login(t, file, "alice", "second"); d != auth.Deny {
		t.Errorf("deleted alice: %v, want deny", d)
	}
	if d := login(t, file, "bob", "bobs"); d != auth.Allow {
		t.Errorf("bob after alice was deleted: %v, want allow", d)
	}

	code, _, errOut := run(t, "passwd", "-D", file, "alice")
	if want := `baram: user "alice" is not in ` + file + "\n"; code != ExitError || errOut != want {
		t.Errorf("baram passwd -D of an unknown user = %d, %q; want %d, %q", code, errOut, ExitError, want)
	}
	missing := filepath.Join(t.TempDir(), "none")
	if code, _, errOut := run(t, "passwd", "-D", missing, "alice"); code != ExitError || !strings.Contains(errOut, "no such file or directory") {
		t.Errorf("baram passwd -D on a missing file = %d, %q", code, errOut)
	}
}

func TestPasswdCreate(t *testing.T) {
	file := filepath.Join(t.TempDir(), "passwd")
	passwd(t, file, "alice", "a")
	passwd(t, file, "bob", "b")
	if err := os.Chmod(file, 0o640); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run(t, "passwd", "-c", "-b", file, "carol", "c"); code != ExitOK {
		t.Fatalf("baram passwd -c -b = %d, %q", code, errOut)
	}
	f, err := auth.LoadPasswordFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if f.Users() != 1 || login(t, file, "carol", "c") != auth.Allow || login(t, file, "alice", "a") != auth.Deny {
		t.Errorf("after -c the file has %d users; want only carol", f.Users())
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("file made by -c has mode %v, want 0600", fi.Mode().Perm())
	}
	// -c also creates a missing file, from piped standard input.
	other := filepath.Join(t.TempDir(), "other")
	if code, _, errOut := runIn(t, "dave's\n", "passwd", "-c", other, "dave"); code != ExitOK || login(t, other, "dave", "dave's") != auth.Allow {
		t.Errorf("baram passwd -c on a new file = %d, %q", code, errOut)
	}
	entries, _ := os.ReadDir(filepath.Dir(file))
	if len(entries) != 2 { // the password file and its SCRAM sidecar
		t.Errorf("temporary files left next to the password file: %v", entries)
	}
}

func TestPasswdStdin(t *testing.T) {
	file := filepath.Join(t.TempDir(), "passwd")
	for _, tt := range []struct{ stdin, password string }{
		{"piped secret\n", "piped secret"},
		{"crlf\r\nsecond line\n", "crlf"},
		{"no newline", "no newline"},
	} {
		code, out, errOut := runIn(t, tt.stdin, "passwd", file, "alice")
		if code != ExitOK || out != "" || errOut != "" {
			t.Fatalf("baram passwd with stdin %q = %d, %q, %q", tt.stdin, code, out, errOut)
		}
		if d := login(t, file, "alice", tt.password); d != auth.Allow {
			t.Errorf("stdin %q: password %q: %v, want allow", tt.stdin, tt.password, d)
		}
	}
	for _, stdin := range []string{"", "\n"} {
		code, _, errOut := runIn(t, stdin, "passwd", file, "bob")
		if code != ExitError || !strings.Contains(errOut, "baram: ") || !strings.Contains(errOut, "password") {
			t.Errorf("baram passwd with stdin %q = %d, %q; want %d and an error", stdin, code, errOut, ExitError)
		}
	}
	if code, _, errOut := run(t, "passwd", "-b", file, "bob", ""); code != ExitError || errOut != "baram: the password is empty\n" {
		t.Errorf("baram passwd -b with an empty password = %d, %q", code, errOut)
	}
	if d := login(t, file, "bob", ""); d != auth.Deny {
		t.Errorf("bob was added without a password")
	}
}

func TestPasswdUsageErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "passwd")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"passwd", file}, "baram: want FILE USER, got 1 arguments"},
		{[]string{"passwd", "-b", file, "alice"}, "baram: -b takes FILE USER PASSWORD, got 2 arguments"},
		{[]string{"passwd", file, "alice", "extra"}, "baram: want FILE USER, got 3 arguments"},
		{[]string{"passwd", "-D", "-b", file, "alice", "x"}, "baram: -D and -b do not go together"},
		{[]string{"passwd", "-D", "-c", file, "alice"}, "baram: -D and -c do not go together"},
		{[]string{"passwd", "-b", file, "a:b", "x"}, `baram: invalid user name "a:b": contains ':'`},
		{[]string{"passwd", "-b", file, " alice", "x"}, `baram: invalid user name " alice": starts or ends with white space`},
		{[]string{"passwd", "-D", file, "#alice"}, `baram: invalid user name "#alice": starts with '#'`},
		{[]string{"passwd", "--bogus", file, "alice"}, "baram: unknown flag: --bogus"},
	}
	for _, tt := range tests {
		code, _, errOut := run(t, tt.args...)
		if code != ExitUsage || !strings.HasPrefix(errOut, tt.want) || !strings.Contains(errOut, "Run 'baram passwd --help' for usage.") {
			t.Errorf("baram %v = %d, %q; want %d and %q", tt.args, code, errOut, ExitUsage, tt.want)
		}
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("a usage error wrote the file: %v", err)
	}
}
