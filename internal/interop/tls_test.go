package interop

import (
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/listener"
	"github.com/baram-mqtt/baram/internal/proctest"
	"github.com/baram-mqtt/baram/internal/testpki"
)

// tlsFiles are the paths of the files makeTLSFiles writes.
type tlsFiles struct {
	ca, otherCA                string
	goodCert, goodKey          string
	expiredCert, expiredKey    string
	otherCert, otherKey        string
	revokedCert, revokedKey    string
	serverCert, serverKey, crl string
}

// makeTLSFiles writes a CA and another one, a server certificate and
// client certificates: good, expired, of the other CA, and revoked by
// the CRL it writes too.
func makeTLSFiles(t *testing.T) tlsFiles {
	t.Helper()
	p := testpki.NewFiles(t) // its client is alice
	other := testpki.NewCA(t, "other-ca")
	revoked := p.CA.Client(t, "mallory")
	f := tlsFiles{
		ca:         p.CAFile,
		otherCA:    testpki.WriteFile(t, p.Dir, "other-ca.pem", other.PEM),
		serverCert: p.CertFile, serverKey: p.KeyFile,
		goodCert: p.ClientCertFile, goodKey: p.ClientKeyFile,
		crl: testpki.WriteFile(t, p.Dir, "crl.pem", p.CA.CRL(t, revoked.Cert)),
	}
	f.expiredCert, f.expiredKey = p.CA.Expired(t, "bob").WriteFiles(t, p.Dir, "expired")
	f.otherCert, f.otherKey = other.Client(t, "carol").WriteFiles(t, p.Dir, "stranger")
	f.revokedCert, f.revokedKey = revoked.WriteFiles(t, p.Dir, "revoked")
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
	bin := proctest.Tool(t, "mosquitto_pub", "mosquitto-clients")
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
	proctest.Tool(t, "mosquitto_pub", "mosquitto-clients")
	proctest.Tool(t, "mosquitto_sub", "mosquitto-clients")
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
