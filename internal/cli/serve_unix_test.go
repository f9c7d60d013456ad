//go:build unix

package cli

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/testpki"
)

func TestServeStopsOnSIGTERM(t *testing.T) {
	s := startServe(t, "--listen", "127.0.0.1:0", "--log-format", "json")
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(t); code != ExitOK {
		t.Errorf("exit status %d, want 0:\n%s", code, s.stderr)
	}
	if !strings.Contains(s.stderr.String(), `"msg":"shutting down","reason":"terminated signal received"`) {
		t.Errorf("shutdown not logged with its signal:\n%s", s.stderr)
	}
	s.cancel()
}

func TestServeReloadsTLSOnSIGHUP(t *testing.T) {
	p := testpki.NewFiles(t)
	s := startServe(t, "--config", writeMQTTSConfig(t, p, ""))
	defer s.stop(t)
	client := p.CA.ClientConfig()
	if got := serverSerial(t, s.addr, client); got.Cmp(p.Server.Cert.SerialNumber) != 0 {
		t.Fatalf("serial %X, want %X", got, p.Server.Cert.SerialNumber)
	}

	renewed := p.RenewServer(t)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// Only the SIGHUP handler logs these; the file poller may reload too.
	for _, want := range []string{`msg=reloading signal=hangup items=1`, `msg=reloaded what="tls mqtts://` + s.addr + `"`} {
		deadline := time.Now().Add(tlsWait)
		for !strings.Contains(s.stderr.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s after SIGHUP:\n%s", want, s.stderr)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if got := serverSerial(t, s.addr, client); got.Cmp(renewed.Cert.SerialNumber) != 0 {
		t.Errorf("serial after SIGHUP %X, want the new %X", got, renewed.Cert.SerialNumber)
	}
}
