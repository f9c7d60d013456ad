package listener

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"time"
)

// material is one load of a TLS config's files. It is never changed after
// loading; a reload builds a new one.
type material struct {
	// certs are the server certificates, the default first.
	certs []tls.Certificate
	// roots are the client CAs; nil when clients are not asked for a
	// certificate.
	roots *x509.CertPool
	// revoked maps an issuer's raw subject to the serial numbers (as
	// big.Int.String) that its CRLs revoke.
	revoked map[string]map[string]revocation
	// warnings are problems that do not stop the load, logged once.
	warnings []string
}

// revocation is one revoked certificate's CRL entry.
type revocation struct {
	at     time.Time
	reason int
}

// loadMaterial reads and checks every file of cfg, as of now.
func loadMaterial(cfg TLSConfig, now time.Time) (*material, error) {
	m := &material{}
	for _, p := range certPairs(cfg) {
		c, err := loadPair(p, now, m)
		if err != nil {
			return nil, err
		}
		m.certs = append(m.certs, c)
	}
	if cfg.ClientCA == "" {
		return m, nil
	}
	cas, err := readCerts(cfg.ClientCA)
	if err != nil {
		return nil, fmt.Errorf("tls: client_ca %s: %w", cfg.ClientCA, err)
	}
	m.roots = x509.NewCertPool()
	for _, ca := range cas {
		m.roots.AddCert(ca)
	}
	if cfg.CRL != "" {
		if m.revoked, err = loadCRLs(cfg.CRL, cas, now, m); err != nil {
			return nil, fmt.Errorf("tls: crl %s: %w", cfg.CRL, err)
		}
	}
	return m, nil
}

// certPairs lists the server certificate/key files of cfg, the default
// first.
func certPairs(cfg TLSConfig) []CertKey {
	var pairs []CertKey
	if cfg.Cert != "" || cfg.Key != "" {
		pairs = append(pairs, CertKey{cfg.Cert, cfg.Key})
	}
	return append(pairs, cfg.Certs...)
}

// loadPair loads one server certificate and key.
func loadPair(p CertKey, now time.Time, m *material) (tls.Certificate, error) {
	if p.Cert == "" || p.Key == "" {
		return tls.Certificate{}, fmt.Errorf("tls: cert %q and key %q: both are required", p.Cert, p.Key)
	}
	c, err := tls.LoadX509KeyPair(p.Cert, p.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls: cert %s, key %s: %w", p.Cert, p.Key, err)
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("tls: cert %s: %w", p.Cert, err)
		}
	}
	if now.After(c.Leaf.NotAfter) {
		m.warnings = append(m.warnings, fmt.Sprintf("server certificate %s expired at %s",
			p.Cert, c.Leaf.NotAfter.UTC().Format(time.RFC3339)))
	}
	return c, nil
}

// readCerts parses every PEM CERTIFICATE block of a file; it is an error
// if there is none or one does not parse.
func readCerts(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM CERTIFICATE found")
	}
	return certs, nil
}

// loadCRLs parses a CRL file (DER, or PEM with one or more CRLs), checks
// each CRL's signature against the CA that issued it, and indexes the
// revoked serial numbers by issuer.
func loadCRLs(path string, cas []*x509.Certificate, now time.Time, m *material) (map[string]map[string]revocation, error) {
	ders, err := readCRLBlocks(path)
	if err != nil {
		return nil, err
	}
	revoked := make(map[string]map[string]revocation)
	for i, der := range ders {
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, fmt.Errorf("CRL %d: %w", i+1, err)
		}
		if err := checkCRLSignature(crl, cas); err != nil {
			return nil, err
		}
		if !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate) {
			m.warnings = append(m.warnings, fmt.Sprintf("CRL of %s in %s is out of date since %s (still used)",
				crl.Issuer, path, crl.NextUpdate.UTC().Format(time.RFC3339)))
		}
		serials := revoked[string(crl.RawIssuer)]
		if serials == nil {
			serials = make(map[string]revocation)
			revoked[string(crl.RawIssuer)] = serials
		}
		for _, e := range crl.RevokedCertificateEntries {
			serials[e.SerialNumber.String()] = revocation{at: e.RevocationTime, reason: e.ReasonCode}
		}
	}
	return revoked, nil
}

// readCRLBlocks returns the DER CRLs of a file: its PEM "X509 CRL" blocks
// or, if it is not PEM, the whole file.
func readCRLBlocks(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		return [][]byte{data}, nil
	}
	var ders [][]byte
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type == "X509 CRL" {
			ders = append(ders, block.Bytes)
		}
	}
	if len(ders) == 0 {
		return nil, errors.New(`no PEM "X509 CRL" found`)
	}
	return ders, nil
}

// checkCRLSignature checks that crl is signed by a CA of cas with its
// issuer name.
func checkCRLSignature(crl *x509.RevocationList, cas []*x509.Certificate) error {
	var lastErr error
	for _, ca := range cas {
		if !bytes.Equal(ca.RawSubject, crl.RawIssuer) {
			continue
		}
		if lastErr = crl.CheckSignatureFrom(ca); lastErr == nil {
			return nil
		}
	}
	if lastErr != nil {
		return fmt.Errorf("CRL of %s: bad signature: %w", crl.Issuer, lastErr)
	}
	return fmt.Errorf("CRL of %s: its issuer is not in client_ca", crl.Issuer)
}

// certificate picks the server certificate for hello: the first one
// valid for its server name that the client supports, else the default.
func (m *material) certificate(hello *tls.ClientHelloInfo) *tls.Certificate {
	if len(m.certs) > 1 && hello.ServerName != "" {
		for i := range m.certs {
			if hello.SupportsCertificate(&m.certs[i]) == nil {
				return &m.certs[i]
			}
		}
	}
	return &m.certs[0]
}

// logAttrs describes m for the reload log line.
func (m *material) logAttrs() []any {
	serials := make([]string, len(m.certs))
	for i, c := range m.certs {
		serials[i] = serialHex(c.Leaf.SerialNumber)
	}
	attrs := []any{slog.Any("serials", serials)}
	if m.revoked != nil {
		n := 0
		for _, s := range m.revoked {
			n += len(s)
		}
		attrs = append(attrs, slog.Int("revoked", n))
	}
	return attrs
}

// serialHex formats a certificate serial number as OpenSSL shows it.
func serialHex(n *big.Int) string {
	return fmt.Sprintf("%X", n)
}
