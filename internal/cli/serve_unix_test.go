//go:build unix

package cli

import (
	"os"
	"strings"
	"syscall"
	"testing"
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
