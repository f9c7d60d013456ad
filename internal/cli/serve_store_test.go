package cli

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/config"
	"github.com/baram-mqtt/baram/internal/listener"
	"github.com/baram-mqtt/baram/internal/store/open"
	"github.com/baram-mqtt/baram/internal/testlog"
)

func TestServeMemoryStore(t *testing.T) {
	s := startServe(t, "--listen", "127.0.0.1:0", "--store", "memory")
	s.cancel()
	if code := s.wait(t); code != ExitOK {
		t.Fatalf("exit status %d, want 0:\n%s", code, s.stderr)
	}
	out := s.stderr.String()
	if !strings.Contains(out, ` store="memory (nothing survives a restart)" hint=`) {
		t.Errorf("startup line does not name the memory store:\n%s", out)
	}
	if _, err := os.Stat("data"); err == nil {
		t.Error("serve --store memory created ./data")
	}
}

func TestServeDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := startServe(t, "--listen", "127.0.0.1:0", "--data-dir", dir)
	if _, err := open.Open(open.Auto, dir, open.Options{}); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Errorf("the data directory is not locked while serve runs: %v", err)
	}
	s.cancel()
	if code := s.wait(t); code != ExitOK {
		t.Fatalf("exit status %d, want 0:\n%s", code, s.stderr)
	}
	if want := " store=" + open.Default + ":" + dir + " sync=always hint="; !strings.Contains(s.stderr.String(), want) {
		t.Errorf("startup line lacks %q:\n%s", want, s.stderr)
	}
	// serve closed the store: it opens again, as the engine serve chose.
	if kind, err := open.Detect(dir); err != nil || kind != open.Default {
		t.Errorf("Detect(%s) = %q, %v; want %q", dir, kind, err, open.Default)
	}
	st, err := open.Open(open.Auto, dir, open.Options{})
	if err != nil {
		t.Fatalf("reopen after serve: %v", err)
	}
	st.Close()
}

func TestServeSyncBatchFromConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "baram.yaml")
	yaml := "store:\n  type: bolt\n  dir: " + filepath.Join(dir, "data") + "\n  sync: batch\n  sync_interval: 50ms\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "--config", path, "--listen", "127.0.0.1:0")
	s.cancel()
	s.wait(t)
	if want := " store=bolt:" + filepath.Join(dir, "data") + " sync=batch sync_interval=50ms hint="; !strings.Contains(s.stderr.String(), want) {
		t.Errorf("startup line lacks %q:\n%s", want, s.stderr)
	}
}

// noListen fails the test if serve opens a listener.
func noListen(t *testing.T) listenFunc {
	return func(_ context.Context, _, address string, _ *listener.TLS) (net.Listener, error) {
		t.Errorf("serve listened on %s despite the store error", address)
		return nil, net.ErrClosed
	}
}

func TestServeLockedInProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	st, err := open.Open(open.Default, dir, open.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config.Default()
	cfg.Store.Dir = dir
	var stderr testlog.Buffer
	err = serve(context.Background(), &cfg, &stderr, noListen(t))
	if err == nil || !strings.Contains(err.Error(), "store "+dir+": locked by another store open in this process") {
		t.Errorf("serve on a locked directory: %v", err)
	}
}

// TestHelperHoldStore is not a test: run by TestServeLockedByAnotherProcess
// with BARAM_HOLD_STORE set, it opens that store, says "held" and keeps it
// until its stdin closes.
func TestHelperHoldStore(t *testing.T) {
	dir := os.Getenv("BARAM_HOLD_STORE")
	if dir == "" {
		t.Skip("helper process for TestServeLockedByAnotherProcess")
	}
	st, err := open.Open(open.Default, dir, open.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	os.Stdout.WriteString("held\n")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until EOF
}

// holdStore opens dir in another process, as a running baram would,
// until the test ends.
func holdStore(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldStore$")
	cmd.Env = append(os.Environ(), "BARAM_HOLD_STORE="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "held\n" {
		t.Fatalf("helper process: %q, %v", line, err)
	}
}

func TestServeLockedByAnotherProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	holdStore(t, dir)
	start := time.Now()
	code, _, errOut := run(t, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir)
	want := "baram: store " + dir + ": locked by another running baram (file "
	if code != ExitError || !strings.HasPrefix(errOut, want) || !strings.HasSuffix(errOut, "): stop it or use another --data-dir\n") {
		t.Errorf("serve on a directory another process holds = %d, %q; want %d, %q...", code, errOut, ExitError, want)
	}
	if open.Default == open.Pebble && !strings.Contains(errOut, "(file "+filepath.Join(dir, "LOCK")+")") {
		t.Errorf("the message does not name the LOCK file: %q", errOut)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("serve took %v to fail", d)
	}
}
