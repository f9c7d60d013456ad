package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testHash is an argon2id hash (of "correct horse") as 'baram passwd' writes it.
const testHash = "$argon2id$v=19$m=19456,t=2,p=1$f3wsMM9es6mr+4E1QCg+wQ$Z2DOzLy+jefUWyqzBLsgI2aar1y9e+UTktJa9ysGA5s"

func TestAdminDefaults(t *testing.T) {
	c := Default()
	if c.Admin.Address != "127.0.0.1:8080" || !c.Admin.Enabled() || c.SysInterval != Duration(10*time.Second) {
		t.Errorf("defaults: admin %+v, sys_interval %s", c.Admin, c.SysInterval)
	}
	c, err := parse([]byte("admin:\n  address: \"\"\nsys_interval: 0s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Admin.Enabled() || c.SysInterval != 0 {
		t.Errorf("disabled: admin %+v, sys_interval %s", c.Admin, c.SysInterval)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	// An empty admin section keeps the default address.
	if c, err := parse([]byte("admin:\n")); err != nil || c.Admin.Address != DefaultAdminAddress {
		t.Errorf("empty admin section: %+v, %v", c.Admin, err)
	}
}

func TestValidateAdmin(t *testing.T) {
	user := func(name, hash, role string) AdminUser {
		return AdminUser{Username: name, PasswordHash: hash, Role: role}
	}
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" for valid
	}{
		{"loopback open", func(c *Config) { c.Admin.Address = "[::1]:9000" }, ""},
		{"localhost open", func(c *Config) { c.Admin.Address = "localhost:9000" }, ""},
		{"disabled", func(c *Config) { c.Admin.Address = "" }, ""},
		{"public with a user", func(c *Config) {
			c.Admin.Address = "0.0.0.0:8080"
			c.Admin.Users = []AdminUser{user("ops", testHash, "admin")}
		}, ""},
		{"public with a token", func(c *Config) {
			c.Admin.Address = ":8080"
			c.Admin.Tokens = []AdminToken{{Token: "0123456789abcdef", Role: "read"}}
		}, ""},
		{"public open", func(c *Config) { c.Admin.Address = "0.0.0.0:8080" },
			`admin.address: "0.0.0.0:8080" is not a loopback address and no admin.users or admin.tokens are configured, ` +
				`so anyone who reaches it could control the broker: configure admin.users or admin.tokens, or listen on a loopback address such as 127.0.0.1:8080`},
		{"bad address", func(c *Config) { c.Admin.Address = "8080" },
			`admin.address: "8080" is not host:port (as in "0.0.0.0:1883", "[::1]:1883" or ":1883")`},
		{"address of a listener", func(c *Config) {
			c.Listeners = []Listener{{Protocol: "mqtt", Address: "127.0.0.1:8080"}}
		}, `admin.address: "127.0.0.1:8080" is also the address of listeners[0]`},
		{"user problems", func(c *Config) {
			c.Admin.Users = []AdminUser{user("ops", "", "admin"), user("ops", "secret", "root"), user("", testHash, "")}
		}, "admin.users[0].password_hash: missing; make one with 'baram passwd FILE ops' and copy the part after the colon\n" +
			`admin.users[1].username: "ops" is already admin.users[0]` + "\n" +
			"admin.users[1].password_hash: unknown hash format (plaintext passwords are not supported; set them with baram passwd)\n" +
			`admin.users[1].role: "root" is not read or admin` + "\n" +
			"admin.users[2].username: invalid user name: empty\n" +
			"admin.users[2].role: missing; use read or admin"},
		{"token problems", func(c *Config) {
			c.Admin.Tokens = []AdminToken{{Token: "short", Role: "read"}, {Token: "0123456789abcdef", TokenFile: "/t", Role: "admin"}, {Role: "admin"}}
		}, "admin.tokens[0].token: 5 characters; use at least 16 ('openssl rand -hex 32' makes a good one)\n" +
			"admin.tokens[1]: set token or token_file, not both\n" +
			"admin.tokens[2]: set token or token_file"},
		{"tls problems", func(c *Config) {
			c.Admin.TLS = &TLS{Cert: "c.pem", RequireClientCert: true, IdentityAsUsername: "cn", MinVersion: "1.1"}
		}, "admin.tls.key: missing; HTTPS needs admin.tls.cert and admin.tls.key, the certificate chain and private key (PEM files)\n" +
			"admin.tls.require_client_cert: needs admin.tls.client_ca, the CAs that sign client certificates\n" +
			"admin.tls.identity_as_username: not used by the admin listener; its users log in with admin.users or admin.tokens\n" +
			`admin.tls.min_version: "1.1" is not one of 1.2, 1.3`},
		{"tls ok", func(c *Config) {
			c.Admin.TLS = &TLS{Cert: "c.pem", Key: "k.pem", ClientCA: "ca.pem", RequireClientCert: true}
		}, ""},
		{"sys_interval off", func(c *Config) { c.SysInterval = 0 }, ""},
		{"sys_interval negative", func(c *Config) { c.SysInterval = Duration(-time.Second) }, "sys_interval: -1s: use 1s or more, or 0 to turn $SYS off"},
		{"sys_interval too short", func(c *Config) { c.SysInterval = Duration(100 * time.Millisecond) }, "sys_interval: 100ms: use 1s or more, or 0 to turn $SYS off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.edit(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("Validate:\n got %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestParseAdmin(t *testing.T) {
	c, err := parse([]byte(`admin:
  address: 0.0.0.0:8080
  users:
    - {username: ops, password_hash: "` + testHash + `", role: admin}
  tokens:
    - {token: 0123456789abcdef0123, role: read}
    - {token_file: /etc/baram/token, role: admin}
sys_interval: 1m
`))
	if err != nil {
		t.Fatal(err)
	}
	a := c.Admin
	if a.Address != "0.0.0.0:8080" || len(a.Users) != 1 || a.Users[0] != (AdminUser{"ops", testHash, "admin"}) ||
		len(a.Tokens) != 2 || a.Tokens[0] != (AdminToken{Token: "0123456789abcdef0123", Role: "read"}) ||
		a.Tokens[1] != (AdminToken{TokenFile: "/etc/baram/token", Role: "admin"}) || c.SysInterval != Duration(time.Minute) {
		t.Errorf("parsed %+v, sys_interval %s", a, c.SysInterval)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	for yaml, want := range map[string]string{
		"admin:\n  users:\n    - username: a\n      pasword_hash: x\n": `line 4: unknown key "pasword_hash" in admin.users[0] (known keys: username, password_hash, role)`,
		"admin:\n  tokens: abc\n":                                      `line 2: admin.tokens: expected a list, got "abc"`,
		"admin:\n  adress: x\n":                                        `line 2: unknown key "adress" in admin (known keys: address, users, tokens, tls)`,
		"sys_interval: 10\n":                                           `line 1: sys_interval: bare number 10 has no unit; write "10s" for seconds: expected a duration such as "10s", "1m30s" or "24h" (units ns, us, ms, s, m, h)`,
	} {
		if _, err := parse([]byte(yaml)); err == nil || err.Error() != want {
			t.Errorf("parse %q:\n got %v\nwant %s", yaml, err, want)
		}
	}
}

func TestCheckFilesAdmin(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Default()
	c.Admin.Tokens = []AdminToken{{TokenFile: token, Role: "read"}, {TokenFile: filepath.Join(dir, "none"), Role: "read"}}
	c.Admin.TLS = &TLS{Cert: filepath.Join(dir, "cert.pem"), Key: token}
	err := c.CheckFiles()
	if err == nil {
		t.Fatal("no error for missing files")
	}
	for _, want := range []string{
		"admin.tokens[1].token_file: cannot read " + filepath.Join(dir, "none") + ": no such file or directory",
		"admin.tls.cert: cannot read " + filepath.Join(dir, "cert.pem"),
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("CheckFiles: %v\nwant %q in it", err, want)
		}
	}
	if strings.Contains(err.Error(), "tokens[0]") || strings.Contains(err.Error(), "admin.tls.key") {
		t.Errorf("CheckFiles complains about a readable file: %v", err)
	}
	c.Admin.Address = "" // disabled: its files are not needed
	if err := c.CheckFiles(); err != nil {
		t.Errorf("disabled admin: %v", err)
	}
}
