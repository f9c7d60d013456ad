//go:build unix

package cli

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeSIGHUPReloadsPasswordFile adds a user with 'baram passwd' to
// the password file of a running serve and sends it SIGHUP: the user can
// connect at once, without a restart.
func TestServeSIGHUPReloadsPasswordFile(t *testing.T) {
	cfgFile, passwdFile, _ := writeAuthConfig(t, "topic readwrite #\n")
	s := startServe(t, "--config", cfgFile)
	defer s.stop(t)
	if _, got := connect5(t, s.addr, "bob-1", "bob", "builder"); got != 0x86 {
		t.Fatalf("bob before he was added: reason 0x%02X, want 0x86", got)
	}

	passwd(t, passwdFile, "bob", "builder")
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	want := `level=INFO msg=reloaded what="password file ` + passwdFile + `"`
	deadline := time.Now().Add(tlsWait)
	for !strings.Contains(s.stderr.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after SIGHUP:\n%s", want, s.stderr)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, got := connect5(t, s.addr, "bob-2", "bob", "builder"); got != 0 {
		t.Errorf("bob after SIGHUP: reason 0x%02X, want success", got)
	}
	if _, got := connect311(t, s.addr, "bob-3", "bob", "builder"); got != 0 {
		t.Errorf("bob over 3.1.1 after SIGHUP: return code %d, want 0", got)
	}
	if !strings.Contains(s.stderr.String(), `what="acl file `) {
		t.Errorf("SIGHUP did not reload the ACL file:\n%s", s.stderr)
	}
}
