package testpki

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"
	"testing"
)

// TestChains checks that what the package issues verifies, or does not,
// as its documentation says.
func TestChains(t *testing.T) {
	root := NewCA(t, "Root")
	inter := root.Intermediate(t, "Issuing")
	verify := func(c *Cert, name string, usage x509.ExtKeyUsage) error {
		certs := parseChain(t, c.CertPEM)
		inters := x509.NewCertPool()
		for _, ic := range certs[1:] {
			inters.AddCert(ic)
		}
		_, err := certs[0].Verify(x509.VerifyOptions{DNSName: name, Roots: root.Pool(), Intermediates: inters,
			KeyUsages: []x509.ExtKeyUsage{usage}})
		return err
	}
	srv := root.Server(t)
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := verify(srv, name, x509.ExtKeyUsageServerAuth); err != nil {
			t.Errorf("server certificate for %s: %v", name, err)
		}
	}
	if err := verify(srv, "", x509.ExtKeyUsageClientAuth); err == nil {
		t.Error("server certificate valid for client authentication")
	}
	if err := verify(root.Client(t, "alice"), "", x509.ExtKeyUsageClientAuth); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	viaInter := inter.Client(t, "bob")
	if n := len(parseChain(t, viaInter.CertPEM)); n != 2 {
		t.Errorf("certificate of an intermediate has a chain of %d, want 2", n)
	}
	if err := verify(viaInter, "", x509.ExtKeyUsageClientAuth); err != nil {
		t.Errorf("certificate of an intermediate: %v", err)
	}
	for name, c := range map[string]*Cert{"expired": root.Expired(t, "old"), "not yet valid": root.NotYetValid(t, "early")} {
		if err := verify(c, "", x509.ExtKeyUsageClientAuth); err == nil || !strings.Contains(err.Error(), "expired or is not yet valid") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if got := root.Issue(t, Opts{CN: "x"}).Cert.Subject.String(); got != "CN=x" {
		t.Errorf("subject %q", got)
	}
	if got := inter.Cert.Subject.String(); got != "CN=Issuing,O=baram test" {
		t.Errorf("CA subject %q", got)
	}
	if _, err := srv.TLS(t).Leaf.Verify(x509.VerifyOptions{Roots: root.Pool()}); err != nil {
		t.Errorf("TLS: %v", err)
	}
}

func TestCRL(t *testing.T) {
	ca := NewCA(t, "CA")
	revoked := ca.Client(t, "mallory")
	b, _ := pem.Decode(ca.CRL(t, revoked.Cert))
	if b == nil || b.Type != "X509 CRL" {
		t.Fatalf("CRL PEM: %+v", b)
	}
	crl, err := x509.ParseRevocationList(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(ca.Cert); err != nil {
		t.Fatal(err)
	}
	if len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(revoked.Cert.SerialNumber) != 0 {
		t.Fatalf("revoked %+v", crl.RevokedCertificateEntries)
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	c := NewCA(t, "CA").Server(t)
	certFile, keyFile := c.WriteFiles(t, dir, "server")
	for path, want := range map[string][]byte{certFile: c.CertPEM, keyFile: c.KeyPEM} {
		got, err := os.ReadFile(path)
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: %q, %v", path, got, err)
		}
	}
	WriteFile(t, dir, "server.pem", []byte("new"))
	if got, _ := os.ReadFile(certFile); string(got) != "new" {
		t.Errorf("rewritten: %q", got)
	}
	if h := c.SPKIHash(); len(h) != 44 || h != c.SPKIHash() {
		t.Errorf("SPKI hash %q", h)
	}
}

func parseChain(t *testing.T, data []byte) []*x509.Certificate {
	t.Helper()
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return certs
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
}
