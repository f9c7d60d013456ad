package listener

import (
	"crypto/tls"
	"testing"

	"github.com/baram-mqtt/baram/internal/testpki"
)

// TestIdentity extracts each identity mode from a real handshake.
func TestIdentity(t *testing.T) {
	p := newPKI(t)
	s := serve(t, p.cfg, testLogger(t))
	full := p.ca.Issue(t, testpki.Opts{CN: "alice", Org: "Acme", DNS: []string{"sensor-1.acme.example", "b.example"},
		Emails: []string{"alice@acme.example", "x@y.example"}})
	bare := p.ca.Issue(t, testpki.Opts{})
	_, fullState := s.mustAccept(t, p.clientConfig(full.TLS(t)))
	_, bareState := s.mustAccept(t, p.clientConfig(bare.TLS(t)))
	_, noCertState := s.mustAccept(t, p.clientConfig())

	tests := []struct {
		state      tls.ConnectionState
		mode, want string
	}{
		{fullState, "", ""},
		{fullState, "cn", "alice"},
		{fullState, "san_dns", "sensor-1.acme.example"},
		{fullState, "san_email", "alice@acme.example"},
		{fullState, "subject", "CN=alice,O=Acme"},
		{fullState, "bogus", ""},
		{bareState, "cn", ""},
		{bareState, "san_dns", ""},
		{bareState, "san_email", ""},
		{bareState, "subject", ""},
		{noCertState, "cn", ""},
		{tls.ConnectionState{PeerCertificates: fullState.PeerCertificates}, "cn", ""}, // handshake not complete
	}
	for i, tt := range tests {
		if got := Identity(tt.state, tt.mode); got != tt.want {
			t.Errorf("%d: Identity(%q) = %q, want %q", i, tt.mode, got, tt.want)
		}
	}
}
