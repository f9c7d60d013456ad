package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/baram-mqtt/baram/internal/acl"
	"github.com/baram-mqtt/baram/internal/auth"
	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/config"
)

// authFiles are the password file and the ACL file that serve watches:
// each is reloaded when it changes on disk and on SIGHUP.
type authFiles struct {
	cancel     context.CancelFunc // ends the watchers
	passwdPath string
	passwd     *auth.Watched // nil without auth.password_file
	aclPath    string
	acl        *acl.Watched         // nil without auth.acl_file
	http       *auth.HTTP           // nil without auth.http
	httpACL    *auth.HTTPAuthorizer // nil without auth.http_acl
	jwt        *auth.JWT            // nil without auth.jwt; its JWKS refresher stops with ctx
	order      []string             // of the authenticators, as auth.chain
}

// openAuthFiles loads the files that a names and starts watching them
// until ctx is done or close is called. Errors name the key; on error
// nothing is left running.
func openAuthFiles(ctx context.Context, a config.Auth, logger *slog.Logger) (_ *authFiles, err error) {
	ctx, cancel := context.WithCancel(ctx)
	f := &authFiles{cancel: cancel, passwdPath: a.PasswordFile, aclPath: a.ACLFile, order: a.ChainOrder()}
	defer func() {
		if err != nil {
			f.close()
		}
	}()
	if a.PasswordFile != "" {
		if f.passwd, err = auth.WatchPasswordFile(ctx, a.PasswordFile, logger); err != nil {
			return nil, fmt.Errorf("auth.password_file: %w", err)
		}
	}
	if h := a.HTTP; h != nil {
		f.http, err = auth.NewHTTP(httpConfig(h), nil)
		if err != nil {
			return nil, fmt.Errorf("auth.http: %w", err)
		}
	}
	if h := a.HTTPACL; h != nil {
		f.httpACL, err = auth.NewHTTPAuthorizer(httpConfig(h), nil)
		if err != nil {
			return nil, fmt.Errorf("auth.http_acl: %w", err)
		}
	}
	if j := a.JWT; j != nil {
		f.jwt, err = auth.NewJWT(ctx, auth.JWTConfig{
			Algorithms:     j.Algorithms,
			HMACSecretFile: j.HMACSecretFile,
			PublicKeyFile:  j.PublicKeyFile,
			JWKSURL:        j.JWKSURL,
			JWKSRefresh:    time.Duration(j.JWKSRefresh),
			Audience:       j.Audience,
			Issuer:         j.Issuer,
			UsernameClaim:  j.UsernameClaim,
			Leeway:         time.Duration(j.Leeway),
		}, nil)
		if err != nil {
			return nil, fmt.Errorf("auth.jwt: %w", err)
		}
	}
	if a.ACLFile != "" {
		if f.acl, err = acl.Watch(ctx, a.ACLFile, logger); err != nil {
			return nil, fmt.Errorf("auth.acl_file: %w", err)
		}
	}
	return f, nil
}

// apply makes the broker check clients against the authenticators, in
// the order of auth.chain: with the password file, a client that sends a
// username must match it, one without is left to AllowAnonymous; the ACL
// limits every client.
func (f *authFiles) apply(opts *broker.Options) {
	if c := f.chain(); len(c) > 0 {
		opts.Authenticator = c
	}
	if f.acl != nil {
		opts.ACL = f.acl.Current
	}
	if f.passwd != nil {
		opts.Scram = f.passwd.Scram
	}
	if f.httpACL != nil {
		opts.Authorizer = f.httpACL
	}
}

// chain returns the configured authenticators in the order of auth.chain.
func (f *authFiles) chain() auth.Chain {
	var c auth.Chain
	for _, name := range f.order {
		switch {
		case name == config.AuthJWT && f.jwt != nil:
			c = append(c, f.jwt)
		case name == config.AuthPasswordFile && f.passwd != nil:
			c = append(c, f.passwd)
		case name == config.AuthHTTP && f.http != nil:
			c = append(c, f.http)
		}
	}
	return c
}

// reloaders returns what SIGHUP reloads of f.
func (f *authFiles) reloaders() []reloader {
	var rs []reloader
	if f.passwd != nil {
		rs = append(rs, reloader{name: "password file " + f.passwdPath, reload: f.passwd.Reload})
	}
	if f.acl != nil {
		rs = append(rs, reloader{name: "acl file " + f.aclPath, reload: f.acl.Reload})
	}
	return rs
}

// users returns the number of users in the password file in use, or -1
// without one.
func (f *authFiles) users() int {
	if f.passwd == nil {
		return -1
	}
	return f.passwd.Current().Users()
}

// logAttrs returns what the startup line says about f.
func (f *authFiles) logAttrs() []any {
	var attrs []any
	if f.passwd != nil {
		attrs = append(attrs, "password_file", f.passwdPath, "users", f.users())
	}
	if len(f.order) > 1 || f.http != nil || f.jwt != nil {
		attrs = append(attrs, "auth_chain", strings.Join(f.order, ","))
	}
	if f.acl != nil {
		attrs = append(attrs, "acl", f.aclPath)
	}
	return attrs
}

// close stops the file watchers and waits for their goroutines to
// return. It may be called more than once.
func (f *authFiles) close() {
	f.cancel()
	if f.passwd != nil {
		<-f.passwd.Done()
	}
	if f.acl != nil {
		<-f.acl.Done()
	}
}

// httpConfig is an HTTP hook's settings, for auth.http and auth.http_acl.
func httpConfig(h *config.HTTPAuth) auth.HTTPConfig {
	return auth.HTTPConfig{URL: h.URL, Timeout: time.Duration(h.Timeout), CacheTTL: time.Duration(h.CacheTTL), Headers: h.Headers}
}
