package listener

import "crypto/tls"

// Identity modes for TLSConfig.IdentityAsUsername.
const (
	IdentityNone     = ""          // no identity
	IdentityCN       = "cn"        // the subject's common name
	IdentitySANDNS   = "san_dns"   // the first DNS subject alternative name
	IdentitySANEmail = "san_email" // the first email subject alternative name
	IdentitySubject  = "subject"   // the whole subject, RFC 2253 style: "CN=alice,O=Acme"
)

// validIdentityMode reports whether mode is one of the Identity modes.
func validIdentityMode(mode string) bool {
	switch mode {
	case IdentityNone, IdentityCN, IdentitySANDNS, IdentitySANEmail, IdentitySubject:
		return true
	}
	return false
}

// Identity returns the client identity for auth from a completed
// handshake (per IdentityAsUsername), "" when none: no mode, an unknown
// mode, no client certificate, or a certificate without that field.
//
// It trusts state.PeerCertificates[0], so state must come from a
// connection served with a [TLS.Config], whose handshake verifies the
// client certificate or fails.
func Identity(state tls.ConnectionState, mode string) string {
	if !state.HandshakeComplete || len(state.PeerCertificates) == 0 {
		return ""
	}
	leaf := state.PeerCertificates[0]
	switch mode {
	case IdentityCN:
		return leaf.Subject.CommonName
	case IdentitySANDNS:
		if len(leaf.DNSNames) > 0 {
			return leaf.DNSNames[0]
		}
	case IdentitySANEmail:
		if len(leaf.EmailAddresses) > 0 {
			return leaf.EmailAddresses[0]
		}
	case IdentitySubject:
		return leaf.Subject.String()
	}
	return ""
}
