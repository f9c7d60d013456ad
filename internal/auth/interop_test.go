package auth

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baram-mqtt/baram/internal/proctest"
)

func runTool(t *testing.T, bin string, args ...string) {
	t.Helper()
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
	}
}

// TestMosquittoPasswdFile loads files written by the real mosquitto_passwd,
// in its default PBKDF2-SHA512 format and in its older SHA-512 one.
func TestMosquittoPasswdFile(t *testing.T) {
	bin := proctest.Tool(t, "mosquitto_passwd", "mosquitto")
	path := filepath.Join(t.TempDir(), "passwd")
	runTool(t, bin, "-c", "-b", path, "alice", "alice-pw")
	runTool(t, bin, "-b", path, "bob", "bob pw with spaces")
	runTool(t, bin, "-H", "sha512", "-b", path, "carol", "carol-pw")
	runTool(t, bin, "-H", "sha512-pbkdf2", "-b", path, "dave", "dävé-pw")

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"alice:$7$", "bob:$7$", "carol:$6$", "dave:$7$"} {
		if !strings.Contains(string(data), prefix) {
			t.Fatalf("mosquitto_passwd wrote no %q line:\n%s", prefix, data)
		}
	}
	f := mustLoad(t, path)
	users := map[string]string{"alice": "alice-pw", "bob": "bob pw with spaces", "carol": "carol-pw", "dave": "dävé-pw"}
	if f.Users() != len(users) {
		t.Fatalf("Users() = %d, want %d", f.Users(), len(users))
	}
	for user, pw := range users {
		if d := login(t, f, user, pw); d != Allow {
			t.Errorf("%s, right password: %v, want allow", user, d)
		}
		if d := login(t, f, user, pw+"!"); d != Deny {
			t.Errorf("%s, wrong password: %v, want deny", user, d)
		}
	}
}

// TestEditMosquittoFile edits a mosquitto_passwd file with SetPassword and
// DeleteUser and hands it back to mosquitto_passwd, which must still be able
// to update it.
func TestEditMosquittoFile(t *testing.T) {
	bin := proctest.Tool(t, "mosquitto_passwd", "mosquitto")
	path := filepath.Join(t.TempDir(), "passwd")
	runTool(t, bin, "-c", "-b", path, "alice", "alice-pw")
	runTool(t, bin, "-b", path, "bob", "bob-pw")
	if err := SetPassword(path, "erin", []byte("erin-pw")); err != nil {
		t.Fatal(err)
	}
	if err := DeleteUser(path, "bob"); err != nil {
		t.Fatal(err)
	}
	runTool(t, bin, "-b", path, "alice", "alice-new")
	f := mustLoad(t, path)
	if f.Users() != 2 {
		t.Fatalf("Users() = %d, want 2 (alice, erin)", f.Users())
	}
	for user, pw := range map[string]string{"alice": "alice-new", "erin": "erin-pw"} {
		if d := login(t, f, user, pw); d != Allow {
			t.Errorf("%s: %v, want allow", user, d)
		}
	}
	if d := login(t, f, "bob", "bob-pw"); d != Deny {
		t.Errorf("deleted bob: %v, want deny", d)
	}
}
