package listener

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// ErrClientCert is wrapped by every error that refuses a client
// certificate; the handshake (the connection's first Read) returns it.
var ErrClientCert = errors.New("client certificate refused")

// verifyConnection verifies the client certificate of a handshake, full
// or resumed, against the current client CAs and CRL. Go itself has only
// checked that a certificate was sent (RequireAnyClientCert) or nothing
// (RequestClientCert).
func (t *TLS) verifyConnection(state tls.ConnectionState) error {
	if len(state.PeerCertificates) == 0 {
		// Go already refuses a missing certificate when it is required.
		return nil
	}
	err := t.cur.Load().verifyClient(state.PeerCertificates, time.Now())
	if err != nil {
		t.log.Debug("TLS client refused", "server_name", state.ServerName, "err", err)
	}
	return err
}

// verifyClient verifies a client chain (leaf first, then the
// intermediates it sent) at time now: a trusted CA, valid dates, client
// authentication usage, and no revocation.
func (m *material) verifyClient(certs []*x509.Certificate, now time.Time) error {
	leaf := certs[0]
	if m.roots == nil {
		return clientError(leaf, errors.New("no client CA is configured"))
	}
	opts := x509.VerifyOptions{
		Roots:         m.roots,
		Intermediates: x509.NewCertPool(),
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	chains, err := leaf.Verify(opts)
	if err != nil {
		return clientError(leaf, explain(err, leaf, now))
	}
	var firstErr error
	for _, chain := range chains {
		err := m.checkRevoked(chain)
		if err == nil {
			return nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return clientError(leaf, firstErr)
}

// checkRevoked returns an error if the CRL of an issuer in chain revokes
// the certificate it issued.
func (m *material) checkRevoked(chain []*x509.Certificate) error {
	for _, c := range chain {
		r, ok := m.revoked[string(c.RawIssuer)][c.SerialNumber.String()]
		if !ok {
			continue
		}
		what := "revoked"
		if c != chain[0] {
			what = fmt.Sprintf("its issuer %s (serial %s) is revoked", c.Subject, serialHex(c.SerialNumber))
		}
		return fmt.Errorf("%s by the CRL of %s at %s%s", what, c.Issuer,
			r.at.UTC().Format(time.RFC3339), reasonText(r.reason))
	}
	return nil
}

// explain rewords an x509 verification error to say why in words that
// an operator looks for; the x509 error stays in the chain for errors.As.
func explain(err error, leaf *x509.Certificate, now time.Time) error {
	var inv x509.CertificateInvalidError
	var unk x509.UnknownAuthorityError
	var msg string
	switch {
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		c, whose := inv.Cert, ""
		if c != leaf {
			whose = fmt.Sprintf(" (its issuer %s)", c.Subject)
		}
		if now.Before(c.NotBefore) {
			msg = fmt.Sprintf("not valid before %s%s", c.NotBefore.UTC().Format(time.RFC3339), whose)
		} else {
			msg = fmt.Sprintf("expired at %s%s", c.NotAfter.UTC().Format(time.RFC3339), whose)
		}
	case errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage:
		msg = "not valid for client authentication (extended key usage)"
	case errors.As(err, &unk):
		msg = fmt.Sprintf("unknown CA: its issuer %s is not in client_ca", leaf.Issuer)
	default:
		return err
	}
	return &reasonError{msg, err}
}

// reasonError is a short reason that wraps the detailed error.
type reasonError struct {
	msg string
	err error
}

// Error returns the short reason.
func (e *reasonError) Error() string { return e.msg }

// Unwrap returns the detailed error.
func (e *reasonError) Unwrap() error { return e.err }

// clientError wraps why a certificate was refused with ErrClientCert and
// the certificate's subject and serial number.
func clientError(leaf *x509.Certificate, why error) error {
	return fmt.Errorf("%w: %s (serial %s): %w", ErrClientCert, leaf.Subject, serialHex(leaf.SerialNumber), why)
}

// reasonText formats a CRL reason code (RFC 5280 5.3.1), "" for none.
func reasonText(code int) string {
	reasons := [...]string{"unspecified", "key compromise", "CA compromise", "affiliation changed",
		"superseded", "cessation of operation", "certificate hold", "", "remove from CRL",
		"privilege withdrawn", "AA compromise"}
	if code <= 0 || code >= len(reasons) || reasons[code] == "" {
		return ""
	}
	return " (" + reasons[code] + ")"
}
