package interop

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/listener"
)

// tlsCA is a test certificate authority.
type tlsCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string // path of its certificate
}

type tlsPKI struct {
	dir    string
	serial int64
}

func (p *tlsPKI) newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (p *tlsPKI) nextSerial() *big.Int {
	p.serial++
	return big.NewInt(p.serial)
}

func (p *tlsPKI) writePEM(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (p *tlsPKI) ca(t *testing.T, name string) *tlsCA {
	t.Helper()
	key := p.newKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          p.nextSerial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &tlsCA{cert: cert, key: key, pem: p.writePEM(t, name+".pem", "CERTIFICATE", der)}
}

// leaf issues a certificate and key from ca, written as name.pem and
// name-key.pem; it returns their paths and the certificate.
func (p *tlsPKI) leaf(t *testing.T, ca *tlsCA, name, cn string, server bool, notBefore, notAfter time.Time) (certPath, keyPath string, cert *x509.Certificate) {
	t.Helper()
	key := p.newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: p.nextSerial(),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return p.writePEM(t, name+".pem", "CERTIFICATE", der), p.writePEM(t, name+"-key.pem", "PRIVATE KEY", keyDER), cert
}

type tlsFiles struct {
	ca, otherCA                string
	goodCert, goodKey          string
	expiredCert, expiredKey    string
	otherCert, otherKey        string
	revokedCert, revokedKey    string
	serverCert, serverKey, crl string
}

func makeTLSFiles(t *testing.T) tlsFiles {
	t.Helper()
	p := &tlsPKI{dir: t.TempDir()}
	now := time.Now()
	ca := p.ca(t, "ca")
	other := p.ca(t, "other-ca")
	var f tlsFiles
	f.ca, f.otherCA = ca.pem, other.pem
	f.serverCert, f.serverKey, _ = p.leaf(t, ca, "server", "baram test server", true, now.Add(-time.Hour), now.Add(24*time.Hour))
	f.goodCert, f.goodKey, _ = p.leaf(t, ca, "alice", "alice", false, now.Add(-time.Hour), now.Add(24*time.Hour))
	f.expiredCert, f.expiredKey, _ = p.leaf(t, ca, "expired", "bob", false, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	f.otherCert, f.otherKey, _ = p.leaf(t, other, "stranger", "carol", false, now.Add(-time.Hour), now.Add(24*time.Hour))
	var revoked *x509.Certificate
	f.revokedCert, f.revokedKey, revoked = p.leaf(t, ca, "revoked", "mallory", false, now.Add(-time.Hour), now.Add(24*time.Hour))

	crlDER, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:     big.NewInt(1),
		ThisUpdate: now.Add(-time.Hour),
		NextUpdate: now.Add(24 * time.Hour),
		RevokedCertificateEntries: []x509.RevocationListEntry{
			{SerialNumber: revoked.SerialNumber, RevocationTime: now.Add(-time.Minute)},
		},
	}, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	f.crl = p.writePEM(t, "crl.pem", "X509 CRL", crlDER)
	return f
}

// startTLS runs a broker that admits only clients with a valid
// certificate from f.ca, named by the certificate's CN.
func startTLS(t *testing.T, f tlsFiles) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	tlsCfg, err := listener.NewTLS(ctx, listener.TLSConfig{
		Cert:               f.serverCert,
		Key:                f.serverKey,
		ClientCA:           f.ca,
		RequireClientCert:  true,
		CRL:                f.crl,
		IdentityAsUsername: "cn",
	}, logger)
	if err != nil {
		cancel()
		t.Fatalf("NewTLS: %v", err)
	}
	ln, err := listener.Listen(ctx, "tcp", "127.0.0.1:0", tlsCfg)
	if err != nil {
		cancel()
		t.Fatalf("listen: %v", err)
	}
	b := broker.New(broker.Options{
		Logger:            logger,
		AllowAnonymous:    false,
		MaxQueuedMessages: broker.Defaults.MaxQueuedMessages,
		MaxTopicAlias:     broker.Defaults.MaxTopicAlias,
		ConnectTimeout:    5 * time.Second,
	})
	served := make(chan error, 1)
	go func() { served <- b.ServeListener(ln, broker.ListenerOptions{Name: "mqtts", IdentityAsUsername: "cn"}) }()
	t.Cleanup(func() {
		defer cancel()
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := b.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	addr := ln.Addr().String()
	return addr[strings.LastIndexByte(addr, ':')+1:]
}

// tlsPub runs mosquitto_pub with a 10 s timeout and returns its exit
// code (-1 if it did not exit by itself) and output.
func tlsPub(t *testing.T, port string, args ...string) (int, string) {
	t.Helper()
	bin := needTool(t, "mosquitto_pub")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	all := append([]string{"-h", "127.0.0.1", "-p", port}, args...)
	out, err := exec.CommandContext(ctx, bin, all...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("mosquitto_pub %v timed out\n%s", args, out)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	default:
		t.Fatalf("mosquitto_pub %v: %v", args, err)
		return -1, ""
	}
}

// TestMosquittoTLSClientCertificates checks mutual TLS with the
// Mosquitto clients: only a valid, unrevoked certificate from the client
// CA, over a server certificate the client trusts, gets a message through.
func TestMosquittoTLSClientCertificates(t *testing.T) {
	needTool(t, "mosquitto_pub")
	needTool(t, "mosquitto_sub")
	f := makeTLSFiles(t)
	port := startTLS(t, f)

	for _, v := range []string{"mqttv5", "mqttv311"} {
		t.Run(v, func(t *testing.T) {
			topic := "interop/tls/" + v
			msg := func(args ...string) []string {
				return append([]string{"-V", v, "-t", topic, "-m", "m", "-q", "1"}, args...)
			}

			t.Run("good", func(t *testing.T) {
				s := startSub(t, port, "-V", v, "-q", "1", "-t", topic, "-i", "sub-"+v,
					"--cafile", f.ca, "--cert", f.goodCert, "--key", f.goodKey)
				code, out := tlsPub(t, port, msg("-i", "pub-"+v,
					"--cafile", f.ca, "--cert", f.goodCert, "--key", f.goodKey)...)
				if code != 0 {
					t.Fatalf("mosquitto_pub with a good certificate exited %d\n%s", code, out)
				}
				s.expect(t, topic+" m")
			})

			bad := []struct {
				name string
				args []string
			}{
				{"no client cert", []string{"--cafile", f.ca}},
				{"expired", []string{"--cafile", f.ca, "--cert", f.expiredCert, "--key", f.expiredKey}},
				{"other CA", []string{"--cafile", f.ca, "--cert", f.otherCert, "--key", f.otherKey}},
				{"revoked", []string{"--cafile", f.ca, "--cert", f.revokedCert, "--key", f.revokedKey}},
				{"wrong server CA", []string{"--cafile", f.otherCA, "--cert", f.goodCert, "--key", f.goodKey}},
			}
			for _, c := range bad {
				t.Run(c.name, func(t *testing.T) {
					code, out := tlsPub(t, port, msg(append([]string{"-i", "bad-" + v}, c.args...)...)...)
					if code == 0 {
						t.Fatalf("mosquitto_pub (%s) succeeded, want failure\n%s", c.name, out)
					}
					t.Logf("mosquitto_pub (%s) exited %d: %s", c.name, code, strings.TrimSpace(out))
				})
			}
		})
	}
}
