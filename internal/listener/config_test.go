package listener

import (
	"context"
	"strings"
	"testing"

	"github.com/baram-mqtt/baram/internal/testpki"
)

// TestConfigErrors refuses bad settings with a message that names the
// problem.
func TestConfigErrors(t *testing.T) {
	p := newPKI(t)
	missing := p.dir + "/missing.pem"
	garbage := testpki.WriteFile(t, p.dir, "garbage.pem", []byte("not a certificate\n"))
	otherCRL := testpki.WriteFile(t, p.dir, "other-crl.pem", p.other.CRL(t))
	tests := []struct {
		name string
		edit func(*TLSConfig)
		want string
	}{
		{"no cert", func(c *TLSConfig) { c.Cert, c.Key = "", "" }, "cert and key are required"},
		{"no key", func(c *TLSConfig) { c.Key = "" }, "both are required"},
		{"missing cert", func(c *TLSConfig) { c.Cert = missing }, "missing.pem"},
		{"garbage cert", func(c *TLSConfig) { c.Cert = garbage }, "garbage.pem"},
		{"key mismatch", func(c *TLSConfig) {
			other := p.ca.Issue(t, testpki.Opts{CN: "x"})
			c.Key = testpki.WriteFile(t, p.dir, "other.key", other.KeyPEM)
		}, "private key does not match public key"},
		{"garbage CA", func(c *TLSConfig) { c.ClientCA = garbage }, "client_ca " + garbage + ": no PEM CERTIFICATE"},
		{"garbage CRL", func(c *TLSConfig) { c.CRL = garbage }, "crl " + garbage},
		{"CRL of other CA", func(c *TLSConfig) { c.CRL = otherCRL }, "CRL of CN=Other CA,O=baram test: its issuer is not in client_ca"},
		{"require without CA", func(c *TLSConfig) { c.ClientCA, c.RequireClientCert = "", true }, "require_client_cert needs client_ca"},
		{"CRL without CA", func(c *TLSConfig) { c.ClientCA, c.CRL = "", otherCRL }, "crl needs client_ca"},
		{"identity without CA", func(c *TLSConfig) { c.ClientCA, c.IdentityAsUsername = "", "cn" }, "identity_as_username needs client_ca"},
		{"bad identity", func(c *TLSConfig) { c.IdentityAsUsername = "uid" }, `unknown identity_as_username "uid"`},
		{"bad version", func(c *TLSConfig) { c.MinVersion = "1.1" }, `unknown min_version "1.1"`},
		{"unknown suites", func(c *TLSConfig) {
			c.CipherSuites = []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_FOO", "TLS_BAR"}
		}, "unknown cipher suites: TLS_FOO, TLS_BAR"},
		{"insecure suite", func(c *TLSConfig) { c.CipherSuites = []string{"TLS_RSA_WITH_RC4_128_SHA"} }, "insecure cipher suites: TLS_RSA_WITH_RC4_128_SHA"},
		{"TLS 1.3 suite", func(c *TLSConfig) { c.CipherSuites = []string{"TLS_AES_128_GCM_SHA256"} }, "TLS 1.3 cipher suites are not configurable: TLS_AES_128_GCM_SHA256"},
		{"suites with 1.3", func(c *TLSConfig) {
			c.MinVersion, c.CipherSuites = "1.3", []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}
		}, "min_version is 1.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := p.cfg
			tt.edit(&cfg)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			tl, err := NewTLS(ctx, cfg, nil)
			if err == nil {
				cancel()
				<-tl.pollDone
				t.Fatalf("NewTLS succeeded, want error with %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}
