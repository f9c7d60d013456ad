package listener

import (
	"context"
	"crypto/tls"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/proctest"
	"github.com/baram-mqtt/baram/internal/testpki"
)

// TestOpenSSLClient handshakes with mosquitto_pub (OpenSSL), which must
// send its certificate although the server names no acceptable CAs. It
// checks the TLS side only: the verdict, the identity, and that the
// first byte after the handshake is an MQTT CONNECT.
func TestOpenSSLClient(t *testing.T) {
	pub := proctest.Tool(t, "mosquitto_pub", "mosquitto-clients")
	p := newPKI(t)
	alice := p.ca.Issue(t, testpki.Opts{CN: "alice"})
	mallory := p.ca.Issue(t, testpki.Opts{CN: "mallory"})
	cfg := p.cfg
	cfg.RequireClientCert = true
	cfg.CRL = testpki.WriteFile(t, p.dir, "crl.pem", p.ca.CRL(t, mallory.Cert))
	tl := newTLS(t, cfg, testLogger(t))
	ln, err := Listen(t.Context(), "tcp", "127.0.0.1:0", tl)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	for _, tt := range []struct {
		client *testpki.Cert
		want   string // "" accepts; otherwise in the server's error
	}{{alice, ""}, {mallory, "revoked"}} {
		name := tt.client.Cert.Subject.CommonName
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), ioTimeout)
			defer cancel()
			certFile, keyFile := tt.client.WriteFiles(t, p.dir, name)
			cmd := exec.CommandContext(ctx, pub, "-h", "127.0.0.1", "-p", port, "-i", name, "-t", "t", "-m", "x",
				"--cafile", p.cfg.ClientCA, "--cert", certFile, "--key", keyFile)
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Wait() }() // it fails: the server closes without CONNACK
			defer cancel()

			c, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			tc := c.(*tls.Conn)
			tc.SetDeadline(time.Now().Add(ioTimeout))
			first := make([]byte, 1)
			_, err = tc.Read(first) // handshakes
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("server: %v, want an error with %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("server: %v; mosquitto_pub: %s", err, out.String())
			}
			if first[0] != 0x10 {
				t.Errorf("first byte %#x, want CONNECT (0x10)", first[0])
			}
			if got := Identity(tc.ConnectionState(), IdentityCN); got != name {
				t.Errorf("identity %q, want %q", got, name)
			}
		})
	}
}
