package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestValidateAuthChain(t *testing.T) {
	hs := func() *JWTAuth { return &JWTAuth{Algorithms: []string{"HS256"}, HMACSecretFile: "secret"} }
	hook := func() *HTTPAuth { return &HTTPAuth{URL: "https://auth.example.com/mqtt"} }
	tests := []struct {
		name string
		auth Auth
		want string // "" for valid
	}{
		{"none", Auth{}, ""},
		{"http", Auth{HTTP: hook()}, ""},
		{"jwt hs256", Auth{JWT: hs()}, ""},
		{"jwt jwks", Auth{JWT: &JWTAuth{Algorithms: []string{"RS256"}, JWKSURL: "http://idp/jwks.json"}}, ""},
		{"explicit chain", Auth{HTTP: hook(), JWT: hs(), PasswordFile: "p", Chain: []string{"http", "password_file", "jwt"}}, ""},
		{"http no url", Auth{HTTP: &HTTPAuth{}}, `auth.http.url: "" must be an http:// or https:// URL with a host`},
		{"http ftp url", Auth{HTTP: &HTTPAuth{URL: "ftp://x/y"}}, `auth.http.url: "ftp://x/y" must be an http:// or https:// URL with a host`},
		{"http negative timeout", Auth{HTTP: &HTTPAuth{URL: "http://x", Timeout: Duration(-time.Second)}}, "auth.http.timeout: -1s is negative"},
		{"http negative cache", Auth{HTTP: &HTTPAuth{URL: "http://x", CacheTTL: Duration(-time.Second)}}, "auth.http.cache_ttl: -1s is negative"},
		{"http_acl", Auth{HTTPACL: hook()}, ""},
		{"http_acl ftp url", Auth{HTTPACL: &HTTPAuth{URL: "ftp://x/y"}}, `auth.http_acl.url: "ftp://x/y" must be an http:// or https:// URL with a host`},
		{"jwt no algorithms", Auth{JWT: &JWTAuth{}}, "auth.jwt.algorithms: required"},
		{"jwt bad algorithm", Auth{JWT: &JWTAuth{Algorithms: []string{"none"}}}, `auth.jwt.algorithms[0]: "none" is not one of`},
		{"jwt hs256 no secret", Auth{JWT: &JWTAuth{Algorithms: []string{"HS256"}}}, "auth.jwt.hmac_secret_file: required when HS256"},
		{"jwt secret without hs256", Auth{JWT: &JWTAuth{Algorithms: []string{"ES256"}, PublicKeyFile: "k", HMACSecretFile: "s"}}, "auth.jwt.hmac_secret_file: set but HS256"},
		{"jwt rs256 no key", Auth{JWT: &JWTAuth{Algorithms: []string{"RS256"}}}, "auth.jwt.public_key_file: RS256, ES256 or EdDSA is allowed"},
		{"jwt bad jwks url", Auth{JWT: &JWTAuth{Algorithms: []string{"RS256"}, JWKSURL: "file:///jwks"}}, "auth.jwt.jwks_url: "},
		{"jwt negative leeway", Auth{JWT: &JWTAuth{Algorithms: []string{"HS256"}, HMACSecretFile: "s", Leeway: Duration(-time.Second)}}, "auth.jwt.leeway: -1s is negative"},
		{"chain unknown", Auth{HTTP: hook(), Chain: []string{"http", "ldap"}}, `auth.chain[1]: "ldap" is not an authenticator`},
		{"chain not configured", Auth{HTTP: hook(), Chain: []string{"http", "jwt"}}, `auth.chain[1]: "jwt" is not configured`},
		{"chain duplicate", Auth{HTTP: hook(), Chain: []string{"http", "http"}}, `auth.chain[1]: "http" is already auth.chain[0]`},
		{"chain missing one", Auth{HTTP: hook(), PasswordFile: "p", Chain: []string{"http"}}, `auth.chain: auth.password_file is configured but not in auth.chain`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Auth = tt.auth
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestAuthChainOrder(t *testing.T) {
	for _, tt := range []struct {
		auth Auth
		want []string
	}{
		{Auth{}, nil},
		{Auth{PasswordFile: "p"}, []string{"password_file"}},
		{Auth{PasswordFile: "p", HTTP: &HTTPAuth{}, JWT: &JWTAuth{}}, []string{"jwt", "password_file", "http"}},
		{Auth{HTTP: &HTTPAuth{}, JWT: &JWTAuth{}}, []string{"jwt", "http"}},
		{Auth{HTTP: &HTTPAuth{}, JWT: &JWTAuth{}, Chain: []string{"http", "jwt"}}, []string{"http", "jwt"}},
	} {
		if got := tt.auth.ChainOrder(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ChainOrder(%+v) = %v, want %v", tt.auth, got, tt.want)
		}
	}
}

func TestParseAuthHTTPAndJWT(t *testing.T) {
	c, err := parse([]byte(`auth:
  chain: [http, jwt]
  http:
    url: https://auth.example.com/mqtt
    timeout: 2s
    cache_ttl: 1m
    headers: {Authorization: Bearer xyz}
  jwt:
    algorithms: [HS256]
    hmac_secret_file: /etc/baram/jwt.key
    audience: mqtt
    leeway: 30s
`))
	if err != nil {
		t.Fatal(err)
	}
	h, j := c.Auth.HTTP, c.Auth.JWT
	if h == nil || h.URL != "https://auth.example.com/mqtt" || h.Timeout != Duration(2*time.Second) ||
		h.CacheTTL != Duration(time.Minute) || h.Headers["Authorization"] != "Bearer xyz" {
		t.Errorf("http = %+v", h)
	}
	if j == nil || !reflect.DeepEqual(j.Algorithms, []string{"HS256"}) || j.HMACSecretFile != "/etc/baram/jwt.key" ||
		j.Audience != "mqtt" || j.Leeway != Duration(30*time.Second) {
		t.Errorf("jwt = %+v", j)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	if _, err := parse([]byte("auth:\n  http:\n    headers: [a]\n")); err == nil || !strings.Contains(err.Error(), "auth.http.headers: expected keys") {
		t.Errorf("headers list: %v", err)
	}
}

func TestCheckFilesJWT(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	c := Default()
	c.Auth.JWT = &JWTAuth{Algorithms: []string{"HS256", "ES256"}, HMACSecretFile: missing, PublicKeyFile: empty}
	err := c.CheckFiles()
	for _, want := range []string{"auth.jwt.hmac_secret_file: cannot read " + missing, "auth.jwt.public_key_file: cannot read " + empty + ": it is empty"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckFiles = %v, want %q", err, want)
		}
	}
}
