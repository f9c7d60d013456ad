package cli

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/pbkdf2"

	"github.com/baram-mqtt/baram/internal/auth"
	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/config"
)

func testHMAC(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// scramLogin runs a SCRAM-SHA-256 exchange (client side per RFC 5802)
// against lookup and reports whether it succeeded.
func scramLogin(t *testing.T, lookup func(string) (auth.ScramCredential, bool), user, password string) bool {
	t.Helper()
	srv := auth.NewScramServer(lookup, nil)
	bare := "n=" + user + ",r=clientnonce"
	sf, _, err := srv.Step([]byte("n,," + bare))
	if err != nil {
		t.Fatal(err)
	}
	attrs := strings.Split(string(sf), ",")
	salt, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(attrs[1], "s="))
	iter, _ := strconv.Atoi(strings.TrimPrefix(attrs[2], "i="))
	salted := pbkdf2.Key([]byte(password), salt, iter, sha256.Size, sha256.New)
	clientKey := testHMAC(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	noProof := "c=biws," + attrs[0]
	sig := testHMAC(stored[:], bare+","+string(sf)+","+noProof)
	for i := range sig {
		sig[i] ^= clientKey[i]
	}
	_, done, err := srv.Step([]byte(noProof + ",p=" + base64.StdEncoding.EncodeToString(sig)))
	return err == nil && done && srv.Username() == user
}

// baram passwd keeps a SCRAM credential in FILE.scram, which serve's
// password file watcher offers the broker for enhanced authentication.
func TestPasswdScramSidecar(t *testing.T) {
	file := filepath.Join(t.TempDir(), "passwd")
	passwd(t, file, "alice", "wonderland")
	passwd(t, file, "bob", "builder")
	fi, err := os.Stat(file + ".scram")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("FILE.scram has mode %v, want 0600", fi.Mode().Perm())
	}
	sf, err := auth.LoadScramFile(file + ".scram")
	if err != nil {
		t.Fatal(err)
	}
	if sf.Users() != 2 {
		t.Errorf("FILE.scram has %d users, want 2", sf.Users())
	}

	af, err := openAuthFiles(context.Background(), config.Auth{PasswordFile: file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer af.close()
	var opts broker.Options
	af.apply(&opts)
	if opts.Scram == nil {
		t.Fatal("apply left Options.Scram nil")
	}
	if !scramLogin(t, opts.Scram, "alice", "wonderland") {
		t.Error("SCRAM login of alice failed")
	}
	if scramLogin(t, opts.Scram, "alice", "builder") {
		t.Error("SCRAM login of alice with a wrong password succeeded")
	}

	if code, _, errOut := run(t, "passwd", "-D", file, "alice"); code != ExitOK {
		t.Fatalf("passwd -D: %d %s", code, errOut)
	}
	if err := af.passwd.Reload(); err != nil {
		t.Fatal(err)
	}
	if scramLogin(t, opts.Scram, "alice", "wonderland") {
		t.Error("SCRAM login of a deleted user succeeded")
	}
	if !scramLogin(t, opts.Scram, "bob", "builder") {
		t.Error("SCRAM login of bob failed")
	}

	// -c starts both files anew.
	if code, _, errOut := run(t, "passwd", "-c", "-b", file, "carol", "x"); code != ExitOK {
		t.Fatalf("passwd -c: %d %s", code, errOut)
	}
	if sf, err = auth.LoadScramFile(file + ".scram"); err != nil || sf.Users() != 1 {
		t.Fatalf("after -c: %v, %d users", err, sf.Users())
	}
}
