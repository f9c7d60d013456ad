package auth

import (
	"context"
	"crypto/sha512"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
)

// writeFile writes content to a new file in t's temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// sha512Entry returns a cheap Mosquitto "$6$" password line, for tests that
// need many hashes quickly. The format itself is checked against
// mosquitto_passwd output in testdata/passwd.
func sha512Entry(user, password string) string {
	salt := []byte("0123456789ab")
	d := sha512.Sum512(append([]byte(password), salt...))
	return user + ":$6$" + base64.StdEncoding.EncodeToString(salt) + "$" + base64.StdEncoding.EncodeToString(d[:]) + "\n"
}

// login asks a for a decision on user and password.
func login(t *testing.T, a Authenticator, user, password string) Decision {
	t.Helper()
	d, err := a.Authenticate(context.Background(), &Request{
		Username: user, HasUsername: true, Password: []byte(password), HasPassword: true,
	})
	if err != nil {
		t.Fatalf("Authenticate(%q): %v", user, err)
	}
	return d
}

// mustLoad loads the password file at path.
func mustLoad(t *testing.T, path string) *PasswordFile {
	t.Helper()
	f, err := LoadPasswordFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
