package listener

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testCA is a certificate authority made for a test.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pem  []byte
	// sent is what a certificate it issues is sent with: nothing for a
	// root, the intermediate's own certificate otherwise.
	sent []byte
}

// testCert is a certificate issued for a test, with its key.
type testCert struct {
	cert    *x509.Certificate
	certPEM []byte // the leaf, then the issuing intermediates
	keyPEM  []byte
}

// certOpts describes a certificate to issue; zero fields get defaults.
type certOpts struct {
	cn        string
	org       string
	dns       []string
	emails    []string
	ips       []net.IP
	notBefore time.Time
	notAfter  time.Time
	usage     []x509.ExtKeyUsage // default: client and server auth
}

// newKey makes a P-256 key, fast enough to make many per test.
func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newSerial returns a random positive serial number.
func newSerial(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n.Add(n, big.NewInt(1))
}

// newCA makes a root CA, or an intermediate CA when parent is not nil.
func newCA(t *testing.T, cn string, parent *testCA) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(t),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"baram test"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	issuer, signer := tmpl, crypto.Signer(key)
	if parent != nil {
		issuer, signer = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{cert: cert, key: key, pem: pemBlock("CERTIFICATE", der)}
	if parent != nil {
		ca.sent = ca.pem
	}
	return ca
}

// issue makes a certificate signed by ca.
func (ca *testCA) issue(t *testing.T, o certOpts) *testCert {
	t.Helper()
	if o.notBefore.IsZero() {
		o.notBefore = time.Now().Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = time.Now().Add(time.Hour)
	}
	if o.usage == nil {
		o.usage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}
	}
	subject := pkix.Name{CommonName: o.cn}
	if o.org != "" {
		subject.Organization = []string{o.org}
	}
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:   newSerial(t),
		Subject:        subject,
		DNSNames:       o.dns,
		EmailAddresses: o.emails,
		IPAddresses:    o.ips,
		NotBefore:      o.notBefore,
		NotAfter:       o.notAfter,
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    o.usage,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	chain := concat(pemBlock("CERTIFICATE", der), ca.sent)
	return &testCert{cert: cert, certPEM: chain, keyPEM: pemBlock("PRIVATE KEY", keyDER)}
}

// crl returns a PEM CRL of ca that revokes certs.
func (ca *testCA) crl(t *testing.T, certs ...*x509.Certificate) []byte {
	t.Helper()
	return pemBlock("X509 CRL", ca.crlDER(t, certs...))
}

// crlDER returns a DER CRL of ca that revokes certs.
func (ca *testCA) crlDER(t *testing.T, certs ...*x509.Certificate) []byte {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, c := range certs {
		entries = append(entries, x509.RevocationListEntry{
			SerialNumber:   c.SerialNumber,
			RevocationTime: time.Now().Add(-time.Minute),
			ReasonCode:     1, // key compromise
		})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    newSerial(t),
		ThisUpdate:                time.Now().Add(-time.Minute),
		NextUpdate:                time.Now().Add(time.Hour),
		RevokedCertificateEntries: entries,
	}, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// pemBlock encodes one PEM block.
func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// writeFile replaces dir/name with data, atomically (write and rename),
// as a careful operator or certificate manager does, and returns its path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// concat joins PEM files.
func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
