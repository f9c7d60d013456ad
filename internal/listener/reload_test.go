package listener

import (
	"crypto/tls"
	"log/slog"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/testlog"
	"github.com/baram-mqtt/baram/internal/testpki"
)

// noPoll is a PollInterval that leaves reloading to Reload.
const noPoll = -1

// TestReloadCert serves a certificate replaced on disk to the next
// connection after Reload.
func TestReloadCert(t *testing.T) {
	p := newPKI(t)
	cfg := p.cfg
	cfg.PollInterval = noPoll
	s := serve(t, cfg, testLogger(t))
	if got := s.servedSerial(t, p.clientConfig()); got != p.server.Cert.SerialNumber.String() {
		t.Fatalf("served serial %s, want %s", got, p.server.Cert.SerialNumber)
	}
	renewed := p.ca.Server(t)
	testpki.WriteFile(t, p.dir, "server.pem", renewed.CertPEM)
	testpki.WriteFile(t, p.dir, "server.key", renewed.KeyPEM)
	if err := s.tls.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := s.servedSerial(t, p.clientConfig()); got != renewed.Cert.SerialNumber.String() {
		t.Fatalf("after Reload, served serial %s, want %s", got, renewed.Cert.SerialNumber)
	}
}

// TestPollReloadsCert notices a certificate replaced on disk by itself.
func TestPollReloadsCert(t *testing.T) {
	p := newPKI(t)
	cfg := p.cfg
	cfg.PollInterval = 20 * time.Millisecond
	s := serve(t, cfg, testLogger(t))
	renewed := p.ca.Server(t)
	testpki.WriteFile(t, p.dir, "server.key", renewed.KeyPEM)
	testpki.WriteFile(t, p.dir, "server.pem", renewed.CertPEM)
	eventually(t, "the renewed certificate", func() bool {
		return s.servedSerial(t, p.clientConfig()) == renewed.Cert.SerialNumber.String()
	})
}

// TestReloadClientCA trusts a new client CA after Reload, and no longer
// the old one.
func TestReloadClientCA(t *testing.T) {
	p := newPKI(t)
	cfg := p.cfg
	cfg.RequireClientCert = true
	cfg.PollInterval = noPoll
	s := serve(t, cfg, testLogger(t))
	oldClient := p.clientConfig(p.ca.Issue(t, testpki.Opts{CN: "old"}).TLS(t))
	newClient := p.clientConfig(p.other.Issue(t, testpki.Opts{CN: "new"}).TLS(t))
	s.mustAccept(t, oldClient)
	s.mustRefuse(t, newClient, "unknown CA")

	testpki.WriteFile(t, p.dir, "ca.pem", p.other.PEM)
	if err := s.tls.Reload(); err != nil {
		t.Fatal(err)
	}
	s.mustAccept(t, newClient)
	s.mustRefuse(t, oldClient, "unknown CA")
}

// TestReloadCRL refuses a client once an updated CRL revokes it, also when
// the client resumes an earlier TLS session.
func TestReloadCRL(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			p := newPKI(t)
			alice := p.ca.Issue(t, testpki.Opts{CN: "alice"})
			cfg := p.cfg
			cfg.CRL = testpki.WriteFile(t, p.dir, "crl.pem", p.ca.CRL(t))
			cfg.PollInterval = noPoll
			s := serve(t, cfg, testLogger(t))
			cc := p.clientConfig(alice.TLS(t))
			cc.MaxVersion = v
			cc.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			s.mustAccept(t, cc)
			if cs, _ := s.mustAccept(t, cc); !cs.DidResume {
				t.Fatal("the second connection did not resume; the test proves nothing")
			}

			testpki.WriteFile(t, p.dir, "crl.pem", p.ca.CRL(t, alice.Cert))
			if err := s.tls.Reload(); err != nil {
				t.Fatal(err)
			}
			s.mustRefuse(t, cc, "revoked")
		})
	}
}

// TestReloadBrokenKeepsOld keeps serving the old certificate when the new
// file is broken: Reload returns the error, and the poller logs it.
func TestReloadBrokenKeepsOld(t *testing.T) {
	p := newPKI(t)
	var logs testlog.Buffer
	cfg := p.cfg
	cfg.PollInterval = 20 * time.Millisecond
	s := serve(t, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	want := p.server.Cert.SerialNumber.String()

	testpki.WriteFile(t, p.dir, "server.pem", []byte("-----BEGIN CERTIFICATE-----\ntruncated"))
	if err := s.tls.Reload(); err == nil {
		t.Fatal("Reload of a broken certificate succeeded")
	}
	if got := s.servedSerial(t, p.clientConfig()); got != want {
		t.Fatalf("served serial %s after a failed Reload, want the old %s", got, want)
	}

	// A change the poller sees: a key that does not match the certificate.
	testpki.WriteFile(t, p.dir, "server.key", p.ca.Issue(t, testpki.Opts{}).KeyPEM)
	testpki.WriteFile(t, p.dir, "server.pem", p.server.CertPEM)
	eventually(t, "the poller's error", func() bool { return logs.Contains("private key does not match") })
	if got := s.servedSerial(t, p.clientConfig()); got != want {
		t.Fatalf("served serial %s after a failed poll, want the old %s", got, want)
	}

	// Fixing the files recovers without a restart.
	testpki.WriteFile(t, p.dir, "server.key", p.server.KeyPEM)
	eventually(t, "the reload", func() bool { return logs.Contains("TLS certificates reloaded") })
}
