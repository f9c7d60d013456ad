//go:build unix

package proctest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary is its own child: with PROCTEST_LISTEN set it listens
// there and waits for SIGTERM (which PROCTEST_IGNORE_TERM has it ignore).
func TestMain(m *testing.M) {
	if addr := os.Getenv("PROCTEST_LISTEN"); addr != "" {
		child(addr, os.Getenv("PROCTEST_IGNORE_TERM") != "")
		return
	}
	os.Exit(m.Run())
}

func child(addr string, ignoreTerm bool) {
	if ignoreTerm {
		signal.Ignore(syscall.SIGTERM)
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	fmt.Println("listening")
	<-term
	ln.Close()
}

func startChild(t *testing.T, addr string, env ...string) *Proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append(env, "PROCTEST_LISTEN="+addr)...)
	p, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill(5 * time.Second) })
	return p
}

func TestStop(t *testing.T) {
	addr := FreeAddr(t)
	p := startChild(t, addr)
	if err := p.WaitListening(10*time.Second, "", addr); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(10*time.Second, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if p.Running() || p.Err() != nil {
		t.Fatalf("running %v, exit %v", p.Running(), p.Err())
	}
}

func TestStopKills(t *testing.T) {
	addr := FreeAddr(t)
	p := startChild(t, addr, "PROCTEST_IGNORE_TERM=1")
	if err := p.WaitListening(10*time.Second, addr); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(200*time.Millisecond, 5*time.Second); err == nil || !strings.HasSuffix(err.Error(), "killed") {
		t.Fatalf("Stop: %v", err)
	}
	if p.Err() == nil {
		t.Fatal("a killed process exited cleanly")
	}
}

func TestWaitListeningExited(t *testing.T) {
	p := startChild(t, "256.0.0.1:1") // cannot listen: exits 3
	if err := p.WaitListening(10*time.Second, FreeAddr(t)); err == nil || !strings.Contains(err.Error(), "exited before accepting connections (exit status 3)") {
		t.Fatalf("WaitListening: %v", err)
	}
}

func TestTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, []byte("one\ntwo\nthree\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		offset int64
		limit  int
		want   string
	}{{0, 100, "one\ntwo\nthree\n"}, {4, 100, "two\nthree\n"}, {0, 8, "three\n"}, {100, 8, ""}} {
		if got := Tail(path, tt.offset, tt.limit); got != tt.want {
			t.Errorf("Tail(%d, %d) = %q, want %q", tt.offset, tt.limit, got, tt.want)
		}
	}
	if got := Tail(filepath.Join(t.TempDir(), "none"), 0, 8); !strings.Contains(got, "no such file") {
		t.Errorf("missing file: %q", got)
	}
}
