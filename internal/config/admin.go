package config

import (
	"fmt"
	"time"

	"github.com/baram-mqtt/baram/internal/auth"
)

// DefaultAdminAddress is where the admin listener listens by default:
// loopback only, where it may run without credentials.
const DefaultAdminAddress = "127.0.0.1:8080"

// DefaultSysInterval is how often $SYS topics are published by default.
const DefaultSysInterval = 10 * time.Second

// minAdminTokenLen is the shortest admin token accepted (admin.Token).
const minAdminTokenLen = 16

// Admin is the admin: section, the HTTP listener with health probes,
// metrics, the REST API and the dashboard (package admin).
type Admin struct {
	// Address is host:port; "" turns the admin listener off. Without
	// Users or Tokens it must be a loopback address, and then the API is
	// open to whoever can reach it there.
	Address string `yaml:"address"`
	// Users may log in with HTTP basic authentication.
	Users []AdminUser `yaml:"users"`
	// Tokens are bearer tokens.
	Tokens []AdminToken `yaml:"tokens"`
	// TLS makes the listener speak HTTPS; nil for plain HTTP. The same
	// block as a listener's; its files are reloaded when they change.
	TLS *TLS `yaml:"tls"`
}

// AdminUser is one admin.users entry.
type AdminUser struct {
	Username string `yaml:"username"`
	// PasswordHash is a hash as 'baram passwd' writes it (argon2id), or
	// Mosquitto's $7$, $6$ or bcrypt.
	PasswordHash string `yaml:"password_hash"`
	// Role is AdminRoleRead or AdminRoleAdmin.
	Role string `yaml:"role"`
}

// AdminToken is one admin.tokens entry: Token, or the first line of
// TokenFile.
type AdminToken struct {
	Token     string `yaml:"token"`
	TokenFile string `yaml:"token_file"`
	Role      string `yaml:"role"`
}

// The roles of admin users and tokens: read may use GET routes, admin
// every route (writes and /debug/pprof too).
const (
	AdminRoleRead  = "read"
	AdminRoleAdmin = "admin"
)

// Enabled reports whether the admin listener runs.
func (a *Admin) Enabled() bool { return a.Address != "" }

// checkAdmin checks the admin section and sys_interval.
func (c *Config) checkAdmin() []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.SysInterval < 0 || c.SysInterval > 0 && time.Duration(c.SysInterval) < time.Second {
		add("sys_interval", "%s: use 1s or more, or 0 to turn $SYS off", c.SysInterval)
	}
	a := &c.Admin
	if !a.Enabled() {
		return errs
	}
	if norm, err := checkAddress(a.Address); err != nil {
		errs = append(errs, fmt.Errorf("admin.address: %w", err))
	} else {
		for i, l := range c.Listeners {
			if n, err := checkAddress(l.Address); err == nil && n == norm && !isPortZero(norm) {
				add("admin.address", "%q is also the address of listeners[%d]", a.Address, i)
			}
		}
		if len(a.Users) == 0 && len(a.Tokens) == 0 && !IsLoopback(a.Address) {
			add("admin.address", "%q is not a loopback address and no admin.users or admin.tokens are configured, "+
				"so anyone who reaches it could control the broker: configure admin.users or admin.tokens, "+
				"or listen on a loopback address such as %s", a.Address, DefaultAdminAddress)
		}
	}
	seen := make(map[string]int)
	for i, u := range a.Users {
		key := fmt.Sprintf("admin.users[%d]", i)
		if err := auth.ValidateUsername(u.Username); err != nil {
			add(key+".username", "%v", err)
		} else if j, dup := seen[u.Username]; dup {
			add(key+".username", "%q is already admin.users[%d]", u.Username, j)
		} else {
			seen[u.Username] = i
		}
		if u.PasswordHash == "" {
			add(key+".password_hash", "missing; make one with 'baram passwd FILE %s' and copy the part after the colon", u.Username)
		} else if err := auth.CheckHash(u.PasswordHash); err != nil {
			add(key+".password_hash", "%v", err)
		}
		if err := checkAdminRole(u.Role); err != nil {
			add(key+".role", "%v", err)
		}
	}
	for i, t := range a.Tokens {
		key := fmt.Sprintf("admin.tokens[%d]", i)
		switch {
		case t.Token != "" && t.TokenFile != "":
			add(key, "set token or token_file, not both")
		case t.Token == "" && t.TokenFile == "":
			add(key, "set token or token_file")
		case t.Token != "" && len(t.Token) < minAdminTokenLen:
			add(key+".token", "%d characters; use at least %d ('openssl rand -hex 32' makes a good one)", len(t.Token), minAdminTokenLen)
		}
		if err := checkAdminRole(t.Role); err != nil {
			add(key+".role", "%v", err)
		}
	}
	if a.TLS != nil {
		errs = append(errs, checkAdminTLS(a.TLS)...)
	}
	return errs
}

func checkAdminRole(r string) error {
	switch r {
	case AdminRoleRead, AdminRoleAdmin:
		return nil
	case "":
		return fmt.Errorf("missing; use %s or %s", AdminRoleRead, AdminRoleAdmin)
	}
	return fmt.Errorf("%q is not %s or %s", r, AdminRoleRead, AdminRoleAdmin)
}

func isPortZero(hostPort string) bool {
	return len(hostPort) >= 2 && hostPort[len(hostPort)-2:] == ":0"
}

// checkAdminTLS checks admin.tls: a certificate and key, and the client
// certificate settings that make sense for HTTPS.
func checkAdminTLS(t *TLS) []error {
	var errs []error
	add := func(k, format string, args ...any) {
		errs = append(errs, fmt.Errorf("admin.tls.%s: %s", k, fmt.Sprintf(format, args...)))
	}
	const needPair = "missing; HTTPS needs admin.tls.cert and admin.tls.key, the certificate chain and private key (PEM files)"
	if t.Cert == "" {
		add("cert", needPair)
	}
	if t.Key == "" {
		add("key", needPair)
	}
	for j, ck := range t.Certs {
		if ck.Cert == "" || ck.Key == "" {
			add(fmt.Sprintf("certs[%d]", j), "each entry needs cert and key")
		}
	}
	if t.ClientCA == "" {
		if t.RequireClientCert {
			add("require_client_cert", "needs admin.tls.client_ca, the CAs that sign client certificates")
		}
		if t.CRL != "" {
			add("crl", "needs admin.tls.client_ca, the CAs that sign client certificates")
		}
	}
	if t.IdentityAsUsername != "" {
		add("identity_as_username", "not used by the admin listener; its users log in with admin.users or admin.tokens")
	}
	switch t.MinVersion {
	case "", "1.2", "1.3":
	default:
		add("min_version", "%q is not one of 1.2, 1.3", t.MinVersion)
	}
	for j, name := range t.CipherSuites {
		if err := checkCipherSuite(name); err != nil {
			add(fmt.Sprintf("cipher_suites[%d]", j), "%v", err)
		}
	}
	return errs
}

// checkAdminFiles reports the files of the admin section that cannot be
// read: token files and TLS files.
func (c *Config) checkAdminFiles() []error {
	a := &c.Admin
	if !a.Enabled() {
		return nil
	}
	var errs []error
	check := func(key, path string) {
		if path == "" {
			return
		}
		if err := CheckReadable(path); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	for i, t := range a.Tokens {
		check(fmt.Sprintf("admin.tokens[%d].token_file", i), t.TokenFile)
	}
	if t := a.TLS; t != nil {
		check("admin.tls.cert", t.Cert)
		check("admin.tls.key", t.Key)
		for j, ck := range t.Certs {
			check(fmt.Sprintf("admin.tls.certs[%d].cert", j), ck.Cert)
			check(fmt.Sprintf("admin.tls.certs[%d].key", j), ck.Key)
		}
		check("admin.tls.client_ca", t.ClientCA)
		check("admin.tls.crl", t.CRL)
	}
	return errs
}
