package auth

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoadPasswordFileLayout(t *testing.T) {
	path := writeFile(t, "passwd", "# comment\n\n   \n  # indented comment\r\n"+
		sha512Entry("alice", "a")+
		strings.TrimSuffix(sha512Entry("bob", "b"), "\n")+"\r\n"+ // CRLF
		"  "+strings.TrimSuffix(sha512Entry("carol", "c"), "\n")) // indented, no final newline
	f := mustLoad(t, path)
	if f.Users() != 3 || f.Path() != path {
		t.Fatalf("Users() = %d, Path() = %q; want 3, %q", f.Users(), f.Path(), path)
	}
	for user, pw := range map[string]string{"alice": "a", "bob": "b", "carol": "c"} {
		if d := login(t, f, user, pw); d != Allow {
			t.Errorf("%s: %v, want allow", user, d)
		}
	}
}

func TestLoadPasswordFileErrors(t *testing.T) {
	good := sha512Entry("alice", "a")
	tests := []struct{ content, want string }{
		{"# users\n" + good + "bob:$9$salt$hash\n", `passwd:3: user "bob": unknown hash format "$9$..."`},
		{"alice\n", `passwd:1: missing ":" between user name and hash`},
		{":$6$x$y\n", "passwd:1: invalid user name: empty"},
		{"#x\n\n #y\n bob :" + good[6:], `passwd:4: invalid user name "bob ": starts or ends with white space`},
		{"bob:\n", `passwd:1: user "bob": empty hash`},
		{"bob:plain\n", `passwd:1: user "bob": unknown hash format (plaintext`},
		{good + "\n" + good, `passwd:3: duplicate user "alice" (first on line 1)`},
		{"bad\xffname:" + good[6:], "passwd:1: invalid user name: not valid UTF-8"},
	}
	for _, tt := range tests {
		path := writeFile(t, "passwd", tt.content)
		_, err := LoadPasswordFile(path)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("content %q: error %v, want %q", tt.content, err, tt.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), path+":") {
			t.Errorf("error %q does not start with the file name", err)
		}
	}
	_, err := LoadPasswordFile(filepath.Join(t.TempDir(), "missing"))
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: error %v, want one naming the file", err)
	}
}

func TestPasswordFileAuthenticate(t *testing.T) {
	f := mustLoad(t, writeFile(t, "passwd", sha512Entry("alice", "right")))
	ctx := context.Background()
	tests := []struct {
		name string
		r    Request
		want Decision
	}{
		{"no user name", Request{Password: []byte("right"), HasPassword: true}, Ignore},
		{"no user name, ignored even if set", Request{Username: "alice", Password: []byte("right"), HasPassword: true}, Ignore},
		{"no password", Request{Username: "alice", HasUsername: true}, Deny},
		{"password not flagged", Request{Username: "alice", HasUsername: true, Password: []byte("right")}, Deny},
		{"wrong password", Request{Username: "alice", HasUsername: true, Password: []byte("wrong"), HasPassword: true}, Deny},
		{"unknown user", Request{Username: "mallory", HasUsername: true, Password: []byte("right"), HasPassword: true}, Deny},
		{"empty user name", Request{HasUsername: true, Password: []byte("right"), HasPassword: true}, Deny},
		{"right", Request{Username: "alice", HasUsername: true, Password: []byte("right"), HasPassword: true}, Allow},
	}
	for _, tt := range tests {
		d, err := f.Authenticate(ctx, &tt.r)
		if d != tt.want || err != nil {
			t.Errorf("%s: %v, %v; want %v", tt.name, d, err, tt.want)
		}
	}
	if d, err := f.Authenticate(ctx, nil); d != Deny || err == nil {
		t.Errorf("nil request: %v, %v; want deny and an error", d, err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	r := &Request{Username: "alice", HasUsername: true, Password: []byte("right"), HasPassword: true}
	if d, err := f.Authenticate(canceled, r); d != Deny || !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: %v, %v; want deny and context.Canceled", d, err)
	}
}

// TestDummyFollowsMostCommonHash checks which hash unknown users are checked
// against.
func TestDummyFollowsMostCommonHash(t *testing.T) {
	const bc = "$2y$04$F2bRpROT2vw4IYBhoqI3JOmZ/4azFSjdfPTzf3mGHG2neTgXpMzmW"
	f := mustLoad(t, writeFile(t, "passwd", "b1:"+bc+"\n"+sha512Entry("s1", "x")+sha512Entry("s2", "x")))
	if got := f.dummy.cost(); got != "sha512" {
		t.Errorf("dummy cost %q, want the most common, sha512", got)
	}
	f = mustLoad(t, writeFile(t, "passwd", "b1:"+bc+"\n"+sha512Entry("s1", "x")))
	if got := f.dummy.cost(); got != "bcrypt cost=4" {
		t.Errorf("dummy cost %q, want the first of a tie, bcrypt", got)
	}
	f = mustLoad(t, writeFile(t, "passwd", "# nobody\n"))
	if f.Users() != 0 || f.dummy != fixedDummy {
		t.Errorf("empty file: %d users, dummy %q; want the fixed argon2id dummy", f.Users(), f.dummy.cost())
	}
	if d := login(t, f, "anyone", "x"); d != Deny {
		t.Errorf("empty file: %v, want deny", d)
	}
}

// TestUnknownUserTiming checks that an unknown user costs about as much as a
// wrong password, so response times do not tell which user names exist.
func TestUnknownUserTiming(t *testing.T) {
	// Cheaper parameters than HashArgon2id's keep the test fast; the dummy
	// copies whatever parameters the file uses.
	h := &argon2idHash{time: 1, memory: 4096, threads: 1, salt: []byte("0123456789abcdef")}
	h.key = h.derive([]byte("right"), 32)
	f := mustLoad(t, writeFile(t, "passwd", "alice:"+h.String()+"\n"))
	if f.dummy.cost() != h.cost() {
		t.Fatalf("dummy cost %q, want %q", f.dummy.cost(), h.cost())
	}
	// Timing is noisy on a shared machine: a leak shows in every attempt,
	// noise rarely in three.
	for attempt := 1; ; attempt++ {
		w, u := timeLogins(t, f, 9)
		t.Logf("attempt %d: median wrong password %v, unknown user %v", attempt, w, u)
		if u <= 3*w && w <= 3*u {
			return
		}
		if attempt == 3 {
			t.Fatalf("unknown user takes %v, wrong password %v: not within 3x", u, w)
		}
	}
}

// timeLogins returns the median times of a wrong password for alice and of
// an unknown user.
func timeLogins(t *testing.T, f *PasswordFile, rounds int) (wrongPassword, unknownUser time.Duration) {
	var wrong, unknown []time.Duration
	for i := range rounds {
		// Alternate which goes first, so that neither always follows the
		// other's garbage.
		for j := range 2 {
			user, times := "alice", &wrong
			if (i+j)%2 == 1 {
				user, times = "mallory", &unknown
			}
			start := time.Now()
			if login(t, f, user, "wrong") != Deny {
				t.Fatalf("%s with a wrong password allowed", user)
			}
			*times = append(*times, time.Since(start))
		}
	}
	return median(wrong), median(unknown)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func TestLoadPasswordFileByteOrderMark(t *testing.T) {
	f := mustLoad(t, writeFile(t, "passwd", "\ufeff"+sha512Entry("alice", "a")))
	if d := login(t, f, "alice", "a"); d != Allow {
		t.Errorf("alice after a byte order mark: %v, want allow", d)
	}
}

func TestZeroPasswordFileDenies(t *testing.T) {
	if d := login(t, &PasswordFile{}, "alice", "a"); d != Deny {
		t.Errorf("zero PasswordFile: %v, want deny", d)
	}
}
