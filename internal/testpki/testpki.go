// Package testpki makes certificate authorities, certificates, CRLs and
// the PEM files that hold them, for tests only: every function takes the
// test's testing.TB and fails the test on an error, and the keys it makes
// are throwaway P-256 keys. No production code may import it.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Organization is the subject organization of every CA this package
// makes, so a CA's name reads "CN=<cn>,O=baram test".
const Organization = "baram test"

// CA is a certificate authority made for a test.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	PEM  []byte // Cert as one PEM block
	// sent is what a certificate it issues is sent with: nothing for a
	// root, the intermediate's own certificate otherwise.
	sent []byte
}

// NewCA makes a root CA with common name cn, valid from an hour ago for a
// day.
func NewCA(t testing.TB, cn string) *CA {
	t.Helper()
	return newCA(t, cn, nil)
}

// Intermediate makes a CA with common name cn that ca signs. The
// certificates it issues carry its certificate after their own.
func (ca *CA) Intermediate(t testing.TB, cn string) *CA {
	t.Helper()
	return newCA(t, cn, ca)
}

func newCA(t testing.TB, cn string, parent *CA) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(t),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{Organization}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	issuer, signer := tmpl, crypto.Signer(key)
	if parent != nil {
		issuer, signer = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &CA{Cert: cert, Key: key, PEM: PEMBlock("CERTIFICATE", der)}
	if parent != nil {
		ca.sent = ca.PEM
	}
	return ca
}

// Opts describes a certificate to issue; zero fields get defaults.
type Opts struct {
	CN        string
	Org       string
	DNS       []string
	Emails    []string
	IPs       []net.IP
	NotBefore time.Time          // default: an hour ago
	NotAfter  time.Time          // default: an hour from now
	Usage     []x509.ExtKeyUsage // default: client and server authentication
}

// Cert is a certificate issued for a test, with its key.
type Cert struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte // the certificate, then those of the issuing intermediates
	KeyPEM  []byte // the key, PKCS #8
}

// Issue makes a certificate signed by ca.
func (ca *CA) Issue(t testing.TB, o Opts) *Cert {
	t.Helper()
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Now().Add(time.Hour)
	}
	if o.Usage == nil {
		o.Usage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}
	}
	subject := pkix.Name{CommonName: o.CN}
	if o.Org != "" {
		subject.Organization = []string{o.Org}
	}
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:   newSerial(t),
		Subject:        subject,
		DNSNames:       o.DNS,
		EmailAddresses: o.Emails,
		IPAddresses:    o.IPs,
		NotBefore:      o.NotBefore,
		NotAfter:       o.NotAfter,
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    o.Usage,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
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
	chain := append(PEMBlock("CERTIFICATE", der), ca.sent...)
	return &Cert{Cert: cert, Key: key, CertPEM: chain, KeyPEM: PEMBlock("PRIVATE KEY", keyDER)}
}

// Server issues a server certificate (server authentication only) with
// common name localhost, for localhost, 127.0.0.1 and ::1.
func (ca *CA) Server(t testing.TB) *Cert {
	t.Helper()
	return ca.Issue(t, Opts{
		CN:    "localhost",
		DNS:   []string{"localhost"},
		IPs:   []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
}

// Client issues a client certificate (client authentication only) with
// common name cn and no subject alternative names.
func (ca *CA) Client(t testing.TB, cn string) *Cert {
	t.Helper()
	return ca.Issue(t, Opts{CN: cn, Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
}

// Expired issues a client certificate with common name cn that was valid
// from two hours ago until an hour ago.
func (ca *CA) Expired(t testing.TB, cn string) *Cert {
	t.Helper()
	return ca.Issue(t, Opts{CN: cn, Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
}

// NotYetValid issues a client certificate with common name cn that is
// valid from an hour from now.
func (ca *CA) NotYetValid(t testing.TB, cn string) *Cert {
	t.Helper()
	return ca.Issue(t, Opts{CN: cn, Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		NotBefore: time.Now().Add(time.Hour), NotAfter: time.Now().Add(2 * time.Hour)})
}

// CRL returns a PEM CRL of ca, valid from a minute ago for an hour, that
// revokes certs (reason: key compromise).
func (ca *CA) CRL(t testing.TB, certs ...*x509.Certificate) []byte {
	t.Helper()
	return PEMBlock("X509 CRL", ca.CRLDER(t, certs...))
}

// CRLDER is CRL in DER.
func (ca *CA) CRLDER(t testing.TB, certs ...*x509.Certificate) []byte {
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
	}, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// Pool returns a certificate pool that holds ca alone.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// ClientConfig returns a client configuration that trusts ca alone and
// presents certs (none: no client certificate).
func (ca *CA) ClientConfig(certs ...tls.Certificate) *tls.Config {
	return &tls.Config{RootCAs: ca.Pool(), Certificates: certs}
}

// TLS returns c as a certificate for a crypto/tls configuration.
func (c *Cert) TLS(t testing.TB) tls.Certificate {
	t.Helper()
	kp, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// WriteFiles writes c's certificate chain to dir/name.pem and its key to
// dir/name.key and returns their paths.
func (c *Cert) WriteFiles(t testing.TB, dir, name string) (certFile, keyFile string) {
	t.Helper()
	return WriteFile(t, dir, name+".pem", c.CertPEM), WriteFile(t, dir, name+".key", c.KeyPEM)
}

// SPKIHash returns the base64 SHA-256 of c's public key (its
// SubjectPublicKeyInfo): the pin that Chromium's
// --ignore-certificate-errors-spki-list and HPKP-style checks take.
func (c *Cert) SPKIHash() string {
	sum := sha256.Sum256(c.Cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// WriteFile replaces dir/name with data (mode 0600), atomically: it
// writes a temporary file and renames it over the old one, as a careful
// operator or certificate manager does. It returns the path.
func WriteFile(t testing.TB, dir, name string, data []byte) string {
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

// PEMBlock encodes der as one PEM block of type typ.
func PEMBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// newKey makes a P-256 key, fast enough to make many per test.
func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newSerial returns a random positive serial number.
func newSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n.Add(n, big.NewInt(1))
}

// Files is a root CA with a server certificate (see Server) and a client
// certificate with common name "alice" (see Client), written as PEM files
// into a test's temporary directory.
type Files struct {
	Dir    string // the temporary directory; tests may write more into it
	CA     *CA
	Server *Cert
	Client *Cert

	CAFile         string // ca.pem
	CertFile       string // server.pem
	KeyFile        string // server.key
	ClientCertFile string // client.pem
	ClientKeyFile  string // client.key
}

// NewFiles makes a CA named "baram test CA" and the certificates of
// Files, and writes them into a new t.TempDir().
func NewFiles(t testing.TB) *Files {
	t.Helper()
	f := &Files{Dir: t.TempDir(), CA: NewCA(t, "baram test CA")}
	f.CAFile = WriteFile(t, f.Dir, "ca.pem", f.CA.PEM)
	f.Server = f.CA.Server(t)
	f.CertFile, f.KeyFile = f.Server.WriteFiles(t, f.Dir, "server")
	f.Client = f.CA.Client(t, "alice")
	f.ClientCertFile, f.ClientKeyFile = f.Client.WriteFiles(t, f.Dir, "client")
	return f
}

// RenewServer issues a new server certificate and replaces server.key,
// then server.pem, with it, each by an atomic rename. It returns the new
// certificate; f.Server stays the one that NewFiles made.
func (f *Files) RenewServer(t testing.TB) *Cert {
	t.Helper()
	c := f.CA.Server(t)
	WriteFile(t, f.Dir, "server.key", c.KeyPEM)
	WriteFile(t, f.Dir, "server.pem", c.CertPEM)
	return c
}
