package listener

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// TLSConfig is a listener's tls: block.
type TLSConfig struct {
	// Cert and Key are PEM files of the server certificate chain (leaf
	// first) and its private key. This pair is the default certificate.
	Cert, Key string
	// Certs are more certificate/key pairs, served by SNI: a client that
	// names a server (ServerName) gets the first pair, Cert/Key first,
	// whose certificate is valid for that name and that the client can
	// use; a client that names none, or a name that no pair covers, gets
	// Cert/Key (or Certs[0] when Cert is empty).
	Certs []CertKey
	// ClientCA is a PEM file of the CAs that sign client certificates;
	// "" asks clients for no certificate. Every certificate in the file
	// is trusted as a root, intermediates included.
	ClientCA string
	// RequireClientCert refuses clients without a valid certificate; when
	// false (and ClientCA is set), a certificate is verified if given.
	RequireClientCert bool
	// CRL is a file of certificate revocation lists for client
	// certificates: one DER CRL, or one or more PEM "X509 CRL" blocks
	// (one per issuing CA). Each CRL must be signed by a certificate in
	// ClientCA. "" checks no revocation.
	CRL string
	// MinVersion is the lowest TLS version accepted: "1.2" (the default
	// when "") or "1.3".
	MinVersion string
	// CipherSuites are the TLS 1.2 cipher suites allowed, named as in
	// crypto/tls (e.g. "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"); empty
	// keeps Go's defaults. TLS 1.3 suites are not configurable.
	CipherSuites []string
	// IdentityAsUsername selects the client identity that [Identity]
	// returns: "" (none), "cn", "san_dns", "san_email" or "subject".
	IdentityAsUsername string
	// PollInterval is how often the files are checked for changes: 0
	// means every second, a negative value never (only [TLS.Reload]).
	PollInterval time.Duration
}

// CertKey is one server certificate chain and key, as PEM files.
type CertKey struct {
	Cert, Key string
}

// defaultPollInterval is how often files are checked when
// TLSConfig.PollInterval is 0.
const defaultPollInterval = time.Second

// TLS is a listener's TLS setup whose certificates, client CAs and CRL
// are reloaded without a restart. Its methods are safe for concurrent use.
type TLS struct {
	cfg    TLSConfig
	log    *slog.Logger
	config *tls.Config

	// cur is the material in use; a handshake reads it once at its start
	// for the server certificate and again to verify the client.
	cur atomic.Pointer[material]

	// reloadMu serializes reloads; it guards tried.
	reloadMu sync.Mutex
	// tried is the state of the files at the last load attempt, good or
	// bad: the poller reloads only when it changes again.
	tried []fileState

	// pollDone is closed when the poller ends (at once without one).
	pollDone chan struct{}
}

// NewTLS loads the files named by cfg and returns a TLS whose Config
// serves them. Until ctx is cancelled, a goroutine checks the files every
// cfg.PollInterval and reloads them when their modification time or size
// changes; [TLS.Reload] (called on SIGHUP) reloads them at once. A new
// file that cannot be loaded is logged and the old material stays in use.
func NewTLS(ctx context.Context, cfg TLSConfig, logger *slog.Logger) (*TLS, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	base, err := baseConfig(cfg)
	if err != nil {
		return nil, err
	}
	t := &TLS{cfg: cfg, log: logger, config: base, pollDone: make(chan struct{})}
	base.GetCertificate = t.getCertificate
	base.VerifyConnection = t.verifyConnection
	if err := t.Reload(); err != nil {
		return nil, err
	}
	interval := cfg.PollInterval
	if interval == 0 {
		interval = defaultPollInterval
	}
	if interval > 0 {
		go t.poll(ctx, interval)
	} else {
		close(t.pollDone)
	}
	return t, nil
}

// baseConfig checks the settings of cfg that are not files and returns
// the tls.Config they make, without certificates.
func baseConfig(cfg TLSConfig) (*tls.Config, error) {
	var errs []error
	if cfg.Cert == "" && cfg.Key == "" && len(cfg.Certs) == 0 {
		errs = append(errs, errors.New("tls: cert and key are required"))
	}
	if cfg.ClientCA == "" && cfg.RequireClientCert {
		errs = append(errs, errors.New("tls: require_client_cert needs client_ca"))
	}
	if cfg.ClientCA == "" && cfg.CRL != "" {
		errs = append(errs, errors.New("tls: crl needs client_ca"))
	}
	if cfg.ClientCA == "" && cfg.IdentityAsUsername != "" {
		errs = append(errs, errors.New("tls: identity_as_username needs client_ca"))
	}
	if !validIdentityMode(cfg.IdentityAsUsername) {
		errs = append(errs, fmt.Errorf("tls: unknown identity_as_username %q (want cn, san_dns, san_email or subject)", cfg.IdentityAsUsername))
	}
	minVersion, err := parseMinVersion(cfg.MinVersion)
	if err != nil {
		errs = append(errs, err)
	}
	suites, err := parseCipherSuites(cfg.CipherSuites, minVersion)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	auth := tls.NoClientCert
	switch {
	case cfg.RequireClientCert:
		// Go only checks that a certificate is sent; verifyConnection
		// verifies it against the current CA pool and CRL.
		auth = tls.RequireAnyClientCert
	case cfg.ClientCA != "":
		auth = tls.RequestClientCert
	}
	return &tls.Config{
		MinVersion:   minVersion,
		CipherSuites: suites,
		ClientAuth:   auth,
	}, nil
}

// Config returns the tls.Config to serve with, e.g. by tls.NewListener.
// It reads the current material at each handshake, so it stays valid
// across reloads; a Clone of it does too.
func (t *TLS) Config() *tls.Config {
	return t.config
}

// Reload loads the files again and, if they are all good, uses them for
// the next handshakes. Otherwise it logs and returns the error, and the
// old material stays in use.
func (t *TLS) Reload() error {
	t.reloadMu.Lock()
	defer t.reloadMu.Unlock()
	return t.reloadLocked()
}

// reloadLocked is Reload with reloadMu held.
func (t *TLS) reloadLocked() error {
	// Stat before reading, so that a change made while reading is seen
	// by the next poll.
	t.tried = statFiles(t.cfg)
	m, err := loadMaterial(t.cfg, time.Now())
	if err != nil {
		if t.cur.Load() != nil {
			t.log.Error("TLS reload failed; still using the old certificates", "err", err)
		}
		return err
	}
	for _, w := range m.warnings {
		t.log.Warn("TLS: " + w)
	}
	old := t.cur.Swap(m)
	if old != nil {
		t.log.Info("TLS certificates reloaded", m.logAttrs()...)
	}
	return nil
}

// poll reloads when the files change, until ctx is done.
func (t *TLS) poll(ctx context.Context, interval time.Duration) {
	defer close(t.pollDone)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		t.reloadMu.Lock()
		if !sameFiles(t.tried, statFiles(t.cfg)) {
			// The error is logged by reloadLocked and retried only when
			// the files change again.
			_ = t.reloadLocked()
		}
		t.reloadMu.Unlock()
	}
}

// getCertificate picks the server certificate for a handshake from the
// current material.
func (t *TLS) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return t.cur.Load().certificate(hello), nil
}
