//go:build unix

package browsertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/proctest"
	"github.com/baram-mqtt/baram/internal/testpki"
)

const (
	readyTimeout = 20 * time.Second // a start until every port accepts
	exitTimeout  = 10 * time.Second // a signal until the process is gone
)

// baramSetup says which listeners a broker gets besides plain MQTT.
type baramSetup struct {
	ws, wss bool
	admin   bool
	// origins are the web pages allowed on the ws and wss listeners (the
	// admin listener's own is added when there is one).
	origins []string
	pki     *testpki.Files // its server certificate is the wss listener's
}

// baramProc is one "baram serve" child with the addresses it listens on.
type baramProc struct {
	mqtt, ws, wss, admin string // host:port; empty when not configured

	proc    *proctest.Proc
	logPath string
	quiet   bool // its output is already in a failure message
}

// startBaram writes a configuration for s on free 127.0.0.1 ports, runs
// baram serve with it and waits until every port accepts connections.
// The test's cleanup ends the process (SIGTERM, then SIGKILL) by its PID.
func startBaram(t *testing.T, bin string, s baramSetup) *baramProc {
	t.Helper()
	dir := t.TempDir()
	for attempt := 1; ; attempt++ {
		p, err := startBaramOnce(t, bin, s, dir, attempt)
		if err == nil {
			return p
		}
		// A port from the ephemeral range may be taken in the meantime.
		if attempt == 5 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
	}
}

func startBaramOnce(t *testing.T, bin string, s baramSetup, dir string, attempt int) (*baramProc, error) {
	p := &baramProc{mqtt: proctest.FreeAddr(t)}
	if s.ws {
		p.ws = proctest.FreeAddr(t)
	}
	if s.wss {
		p.wss = proctest.FreeAddr(t)
	}
	if s.admin {
		p.admin = proctest.FreeAddr(t)
	}
	cfgPath := filepath.Join(dir, fmt.Sprintf("baram-%d.yaml", attempt))
	if err := os.WriteFile(cfgPath, []byte(p.config(s, filepath.Join(dir, "data"))), 0o644); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, fmt.Sprintf("baram-%d.log", attempt)))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close() // the child has its own descriptor
	p.logPath = log.Name()
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log, log // *os.File: no copying goroutine
	if p.proc, err = proctest.Start(cmd); err != nil {
		return nil, fmt.Errorf("start baram: %w", err)
	}
	t.Cleanup(func() { p.stop(t) })
	if err := p.proc.WaitListening(readyTimeout, p.mqtt, p.ws, p.wss, p.admin); err != nil {
		p.quiet = true
		p.stop(t)
		return nil, fmt.Errorf("baram %v; its output:\n%s", err, p.output())
	}
	return p, nil
}

// config is the YAML configuration of p.
func (p *baramProc) config(s baramSetup, dataDir string) string {
	var b strings.Builder
	origins := s.origins
	if p.admin != "" {
		origins = append(origins[:len(origins):len(origins)], "http://"+p.admin)
	}
	quoted := make([]string, len(origins))
	for i, o := range origins {
		quoted[i] = fmt.Sprintf("%q", o)
	}
	fmt.Fprintf(&b, "listeners:\n  - protocol: mqtt\n    address: %s\n", p.mqtt)
	if p.ws != "" {
		fmt.Fprintf(&b, "  - protocol: ws\n    address: %s\n    path: /mqtt\n    allowed_origins: [%s]\n",
			p.ws, strings.Join(quoted, ", "))
	}
	if p.wss != "" {
		fmt.Fprintf(&b, "  - protocol: wss\n    address: %s\n    path: /mqtt\n    allowed_origins: [%s]\n    tls: {cert: %q, key: %q}\n",
			p.wss, strings.Join(quoted, ", "), s.pki.CertFile, s.pki.KeyFile)
	}
	if p.admin != "" {
		fmt.Fprintf(&b, "admin:\n  address: %s\n", p.admin)
	}
	fmt.Fprintf(&b, "auth:\n  allow_anonymous: true\nstore:\n  dir: %q\nlog:\n  level: info\n", dataDir)
	return b.String()
}

// stop ends the process by its PID: SIGTERM, and SIGKILL when it does not
// exit in time. It logs the broker's output when the test failed.
func (p *baramProc) stop(t *testing.T) {
	if p.proc.Running() {
		if err := p.proc.Stop(exitTimeout, exitTimeout); err != nil {
			t.Errorf("baram (pid %d): %v", p.proc.Cmd.Process.Pid, err)
		}
	}
	if t.Failed() && !p.quiet {
		t.Logf("baram output (%s):\n%s", p.logPath, p.output())
	}
}

// waitLog polls the process's output for a line holding every part and
// returns it; it fails the test when none comes within goWait.
func (p *baramProc) waitLog(t *testing.T, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(goWait)
	for {
		b, err := os.ReadFile(p.logPath)
		if err != nil {
			t.Fatal(err)
		}
	lines:
		for line := range strings.Lines(string(b)) {
			for _, part := range parts {
				if !strings.Contains(line, part) {
					continue lines
				}
			}
			return strings.TrimSpace(line)
		}
		if time.Now().After(deadline) {
			t.Fatalf("baram logged no line with %q within %v", parts, goWait)
		}
		time.Sleep(20 * time.Millisecond) // polling a file: there is no event for a write
	}
}

// output returns the last 16KiB of what the process wrote.
func (p *baramProc) output() string { return proctest.Tail(p.logPath, 0, 16<<10) }
