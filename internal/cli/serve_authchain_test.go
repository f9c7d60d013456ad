package cli

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeServeConfig writes a config file with one listener on 127.0.0.1:0
// that refuses anonymous clients, a memory store and the auth lines
// authYAML (indented by two spaces under auth:).
func writeServeConfig(t *testing.T, authYAML string) string {
	t.Helper()
	cfgFile := filepath.Join(t.TempDir(), "baram.yaml")
	yaml := "listeners:\n  - address: 127.0.0.1:0\nauth:\n  allow_anonymous: false\n" + authYAML + "store:\n  type: memory\n"
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgFile
}

func TestServeHTTPAuth(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Username string `json:"username"`
		}
		if r.Header.Get("X-Broker") != "baram" || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		result := "deny"
		if req.Username == "hook" {
			result = "allow"
		}
		fmt.Fprintf(w, `{"result":%q}`, result)
	}))
	defer hook.Close()
	cfgFile := writeServeConfig(t, fmt.Sprintf("  http:\n    url: %s\n    headers: {X-Broker: baram}\n", hook.URL))
	s := startServe(t, "--config", cfgFile)
	defer s.stop(t)
	if out := s.stderr.String(); strings.Contains(out, "no client can connect") {
		t.Errorf("warned that no client can connect, with an HTTP authenticator:\n%s", out)
	}
	if _, rc := connect5(t, s.addr, "c1", "hook", "anything"); rc != 0 {
		t.Errorf("hook: CONNACK 0x%02x, want success", rc)
	}
	if _, rc := connect5(t, s.addr, "c2", "mallory", "anything"); rc != 0x86 {
		t.Errorf("mallory: CONNACK 0x%02x, want 0x86", rc)
	}
}

// hs256 returns a JWT signed with secret whose claims are claims.
func hs256(t *testing.T, secret []byte, claims map[string]any) string {
	t.Helper()
	enc := base64.RawURLEncoding
	body, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signed := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(body)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(signed))
	return signed + "." + enc.EncodeToString(mac.Sum(nil))
}

func TestServeJWTAuth(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef") // 32 bytes
	secretFile := filepath.Join(t.TempDir(), "jwt.key")
	if err := os.WriteFile(secretFile, append(secret, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := writeServeConfig(t, fmt.Sprintf("  jwt:\n    algorithms: [HS256]\n    hmac_secret_file: %s\n", secretFile))
	s := startServe(t, "--config", cfgFile)
	defer s.stop(t)

	now := time.Now()
	good := hs256(t, secret, map[string]any{"sub": "dev1", "exp": now.Add(time.Hour).Unix()})
	expired := hs256(t, secret, map[string]any{"sub": "dev1", "exp": now.Add(-time.Hour).Unix()})
	forged := hs256(t, []byte("another secret of thirty-two by"), map[string]any{"sub": "dev1", "exp": now.Add(time.Hour).Unix()})
	for _, tt := range []struct {
		name, password string
		want           byte
	}{
		{"valid", good, 0},
		{"expired", expired, 0x86},
		{"forged", forged, 0x86},
		{"not a token", "password", 0x86},
	} {
		if _, rc := connect5(t, s.addr, "c-"+tt.name, "dev1", tt.password); rc != tt.want {
			t.Errorf("%s token: CONNACK 0x%02x, want 0x%02x", tt.name, rc, tt.want)
		}
	}
}

func TestServeBadAuthChain(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short.key")
	if err := os.WriteFile(short, []byte("too short"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	for _, tt := range []struct{ auth, want string }{
		{"  chain: [http]\n", `auth.chain[0]: "http" is not configured`},
		{"  http: {url: ftp://x}\n", `auth.http.url: "ftp://x" must be`},
		{"  jwt: {algorithms: [HS256], hmac_secret_file: " + missing + "}\n", "auth.jwt.hmac_secret_file: cannot read " + missing},
		{"  jwt: {algorithms: [HS256], hmac_secret_file: " + short + "}\n", "auth.jwt: auth: jwt: " + short + ": HMAC secret shorter than 32 bytes"},
	} {
		cfgFile := writeServeConfig(t, tt.auth)
		code, _, errOut := run(t, "serve", "--config", cfgFile)
		if code != ExitError || !strings.Contains(errOut, tt.want) {
			t.Errorf("auth %q: %d, %q; want %d and %q...", tt.auth, code, errOut, ExitError, tt.want)
		}
	}
}
