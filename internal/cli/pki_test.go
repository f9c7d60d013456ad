package cli

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
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

// testPKI is a CA with a server and a client certificate, written as PEM
// files to a test's temporary directory.
type testPKI struct {
	dir    string
	ca     *x509.Certificate
	caKey  crypto.Signer
	server *x509.Certificate // for IP 127.0.0.1
	client *x509.Certificate // CN "alice"

	// Files: the CA; the server's certificate and key; the client's.
	caFile, certFile, keyFile, clientCert, clientKey string
}

// newTestPKI makes the CA and certificates and writes ca.pem,
// server.pem, server.key, client.pem and client.key.
func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir()}
	key := newTestKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          newTestSerial(t),
		Subject:               pkix.Name{CommonName: "baram test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	if p.ca, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	p.caKey = key
	p.caFile = p.write(t, "ca.pem", pemBlock("CERTIFICATE", der))

	var certPEM, keyPEM []byte
	p.server, certPEM, keyPEM = p.issue(t, "127.0.0.1", x509.ExtKeyUsageServerAuth)
	p.certFile = p.write(t, "server.pem", certPEM)
	p.keyFile = p.write(t, "server.key", keyPEM)
	p.client, certPEM, keyPEM = p.issue(t, "alice", x509.ExtKeyUsageClientAuth)
	p.clientCert = p.write(t, "client.pem", certPEM)
	p.clientKey = p.write(t, "client.key", keyPEM)
	return p
}

// issue makes a certificate signed by the CA, for IP 127.0.0.1 with
// server usage, and returns it with its PEM and its key's PEM.
func (p *testPKI) issue(t *testing.T, cn string, usage x509.ExtKeyUsage) (*x509.Certificate, []byte, []byte) {
	t.Helper()
	key := newTestKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: newTestSerial(t),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, key.Public(), p.caKey)
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
	return cert, pemBlock("CERTIFICATE", der), pemBlock("PRIVATE KEY", keyDER)
}

// renewServer issues a new server certificate and replaces server.pem
// and server.key with it, each by an atomic rename.
func (p *testPKI) renewServer(t *testing.T) *x509.Certificate {
	t.Helper()
	cert, certPEM, keyPEM := p.issue(t, "127.0.0.1", x509.ExtKeyUsageServerAuth)
	p.replace(t, p.keyFile, keyPEM)
	p.replace(t, p.certFile, certPEM)
	return cert
}

// replace writes data to path by an atomic rename.
func (p *testPKI) replace(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := p.write(t, filepath.Base(path)+".new", data)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// write writes a file of p's directory and returns its path.
func (p *testPKI) write(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// clientTLS returns a client config that trusts the CA and, with
// withCert, presents the client certificate.
func (p *testPKI) clientTLS(t *testing.T, withCert bool) *tls.Config {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(p.ca)
	cfg := &tls.Config{RootCAs: roots}
	if withCert {
		kp, err := tls.LoadX509KeyPair(p.clientCert, p.clientKey)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{kp}
	}
	return cfg
}

// newTestKey makes a P-256 key.
func newTestKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newTestSerial returns a random positive serial number.
func newTestSerial(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n.Add(n, big.NewInt(1))
}

// pemBlock encodes der as one PEM block of type typ.
func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
