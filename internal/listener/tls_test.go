package listener

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"testing"

	"github.com/baram-mqtt/baram/internal/testpki"
)

// TestClientCertificates handshakes with each kind of client certificate
// and checks that the server accepts it or refuses it saying why.
func TestClientCertificates(t *testing.T) {
	p := newPKI(t)
	inter := p.ca.Intermediate(t, "Test Issuing CA")
	badInter := p.ca.Intermediate(t, "Revoked Issuing CA")
	good := p.ca.Issue(t, testpki.Opts{CN: "alice"})
	revoked := p.ca.Issue(t, testpki.Opts{CN: "mallory"})
	viaInter := inter.Issue(t, testpki.Opts{CN: "bob"})
	viaBadInter := badInter.Issue(t, testpki.Opts{CN: "eve"})
	cfg := p.cfg
	cfg.RequireClientCert = true
	cfg.CRL = testpki.WriteFile(t, p.dir, "crl.pem", p.ca.CRL(t, revoked.Cert, badInter.Cert))
	s := serve(t, cfg, testLogger(t))

	tests := []struct {
		name string
		cert *testpki.Cert // nil: no certificate
		want string        // "" accepts; otherwise in the server's error
	}{
		{"good", good, ""},
		{"via intermediate", viaInter, ""},
		{"none", nil, "didn't provide a certificate"},
		{"expired", p.ca.Expired(t, "old"), "expired at"},
		{"not yet valid", p.ca.NotYetValid(t, "early"), "not valid before"},
		{"other CA", p.other.Issue(t, testpki.Opts{CN: "stranger"}), "unknown CA"},
		{"revoked", revoked, "revoked by the CRL of CN=Test Root CA"},
		{"revoked intermediate", viaBadInter, "its issuer CN=Revoked Issuing CA,O=baram test (serial"},
		{"server auth only", p.ca.Issue(t, testpki.Opts{CN: "srv", Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}),
			"not valid for client authentication"},
	}
	for _, tt := range tests {
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			t.Run(tt.name+"/"+tls.VersionName(v), func(t *testing.T) {
				cc := p.clientConfig()
				cc.MaxVersion = v
				if tt.cert != nil {
					cc.Certificates = []tls.Certificate{tt.cert.TLS(t)}
				}
				if tt.want == "" {
					s.mustAccept(t, cc)
					return
				}
				err := s.mustRefuse(t, cc, tt.want)
				if tt.cert != nil && !errors.Is(err, ErrClientCert) {
					t.Errorf("error %v does not wrap ErrClientCert", err)
				}
			})
		}
	}
}

// TestOptionalClientCert verifies a certificate if one is given, and
// accepts a client without one.
func TestOptionalClientCert(t *testing.T) {
	p := newPKI(t)
	s := serve(t, p.cfg, testLogger(t))
	_, state := s.mustAccept(t, p.clientConfig())
	if len(state.PeerCertificates) != 0 {
		t.Error("server saw a client certificate")
	}
	s.mustAccept(t, p.clientConfig(p.ca.Issue(t, testpki.Opts{CN: "alice"}).TLS(t)))
	s.mustRefuse(t, p.clientConfig(p.other.Issue(t, testpki.Opts{CN: "x"}).TLS(t)), "unknown CA")
}

// TestNoClientCA does not ask for a client certificate.
func TestNoClientCA(t *testing.T) {
	p := newPKI(t)
	cfg := p.cfg
	cfg.ClientCA = ""
	s := serve(t, cfg, testLogger(t))
	_, state := s.mustAccept(t, p.clientConfig(p.other.Issue(t, testpki.Opts{CN: "x"}).TLS(t)))
	if len(state.PeerCertificates) != 0 {
		t.Error("server asked for a client certificate")
	}
}

// TestDERCRL reads a CRL in DER form.
func TestDERCRL(t *testing.T) {
	p := newPKI(t)
	revoked := p.ca.Issue(t, testpki.Opts{CN: "mallory"})
	cfg := p.cfg
	cfg.CRL = testpki.WriteFile(t, p.dir, "crl.der", p.ca.CRLDER(t, revoked.Cert))
	s := serve(t, cfg, testLogger(t))
	s.mustRefuse(t, p.clientConfig(revoked.TLS(t)), "revoked")
}

// TestMinVersion13 refuses a client that speaks at most TLS 1.2.
func TestMinVersion13(t *testing.T) {
	p := newPKI(t)
	cfg := p.cfg
	cfg.MinVersion = "1.3"
	s := serve(t, cfg, testLogger(t))
	cc := p.clientConfig()
	cc.MaxVersion = tls.VersionTLS12
	s.mustRefuse(t, cc, "client offered only unsupported versions")
	if cs, _ := s.mustAccept(t, p.clientConfig()); cs.Version != tls.VersionTLS13 {
		t.Errorf("version %s, want TLS 1.3", tls.VersionName(cs.Version))
	}
}

// TestCipherSuites allows only the configured TLS 1.2 suites.
func TestCipherSuites(t *testing.T) {
	p := newPKI(t)
	cfg := p.cfg
	cfg.CipherSuites = []string{"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"}
	s := serve(t, cfg, testLogger(t))
	cc := p.clientConfig()
	cc.MaxVersion = tls.VersionTLS12
	cs, _ := s.mustAccept(t, cc)
	if cs.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 {
		t.Errorf("cipher suite %s", tls.CipherSuiteName(cs.CipherSuite))
	}
	cc.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
	s.mustRefuse(t, cc, "no cipher suite supported by both")
}

// TestSNI serves the certificate that matches the server name.
func TestSNI(t *testing.T) {
	p := newPKI(t)
	other := p.ca.Issue(t, testpki.Opts{CN: "mqtt.example", DNS: []string{"mqtt.example", "*.mqtt.example"}})
	cfg := p.cfg
	cfg.Certs = []CertKey{{
		Cert: testpki.WriteFile(t, p.dir, "other.pem", other.CertPEM),
		Key:  testpki.WriteFile(t, p.dir, "other.key", other.KeyPEM),
	}}
	s := serve(t, cfg, testLogger(t))
	for name, want := range map[string]*testpki.Cert{
		"localhost": p.server, "mqtt.example": other, "eu.mqtt.example": other,
	} {
		cc := p.clientConfig()
		cc.ServerName = name
		if got := s.servedSerial(t, cc); got != want.Cert.SerialNumber.String() {
			t.Errorf("%s: served serial %s, want %s", name, got, want.Cert.SerialNumber)
		}
	}
	// No SNI (a client dialling an IP address) gets the default pair.
	cc := p.clientConfig()
	cc.ServerName = "127.0.0.1"
	if got := s.servedSerial(t, cc); got != p.server.Cert.SerialNumber.String() {
		t.Errorf("no SNI: served serial %s, want the default", got)
	}
}

// TestListenPlain returns a TCP listener without TLS.
func TestListenPlain(t *testing.T) {
	ln, err := Listen(t.Context(), "tcp", "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if _, ok := sc.(*tls.Conn); ok {
		t.Error("plain listener yields TLS connections")
	}
}
