package admin

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/listener"
	"github.com/baram-mqtt/baram/internal/testpki"
)

// With Options.TLS the server speaks HTTPS.
func TestTLS(t *testing.T) {
	pki := testpki.NewFiles(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lt, err := listener.NewTLS(ctx, listener.TLSConfig{Cert: pki.CertFile, Key: pki.KeyFile, PollInterval: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := brokertest.Start(t, broker.Options{})
	s, err := New(b, Options{TLS: lt, Tokens: []Token{{Value: adminToken, Role: RoleAdmin}}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	tr := &http.Transport{TLSClientConfig: pki.CA.ClientConfig()}
	defer func() {
		tr.CloseIdleConnections()
		if err := s.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()
	req, _ := http.NewRequest("GET", "https://"+ln.Addr().String()+"/api/v1/stats", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	res, err := (&http.Client{Transport: tr, Timeout: wait}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.TLS == nil {
		t.Fatalf("status %d, TLS %v", res.StatusCode, res.TLS != nil)
	}
}
