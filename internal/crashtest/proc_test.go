//go:build unix

package crashtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	readyTimeout = 20 * time.Second // a start, including recovery, until the port accepts
	exitTimeout  = 10 * time.Second // SIGKILL until the process is gone
	termTimeout  = 20 * time.Second // SIGTERM until the process is gone (baram allows 10s)
)

// process is one "baram serve" child on a fixed address and data
// directory, started again after every kill. Only the test goroutine
// calls its methods.
type process struct {
	bin, addr, dataDir string
	logPath            string   // stdout and stderr of every run, with a header per run
	log                *os.File // open on logPath
	runs               int
	logStart           int64 // size of the log when the current run started

	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has been waited for
	waitErr error         // cmd.Wait's result; read after exited is closed
}

// newProcess prepares a broker on a free 127.0.0.1 port with a new data
// directory; the test's cleanup kills whatever run is still alive.
func newProcess(t *testing.T, bin string) *process {
	t.Helper()
	dir := t.TempDir()
	log, err := os.OpenFile(filepath.Join(dir, "baram.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p := &process{bin: bin, addr: freeAddr(t), dataDir: filepath.Join(dir, "data"), logPath: log.Name(), log: log}
	t.Cleanup(func() {
		if p.running() {
			p.cmd.Process.Kill()
			p.waitExit(exitTimeout)
		}
		log.Close()
	})
	return p
}

// freeAddr returns 127.0.0.1:PORT for a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (p *process) running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// start runs baram and waits until its port accepts connections. A run
// that dies because something else holds the port for a moment (the port
// came from the ephemeral range) is retried a few times.
func (p *process) start() error {
	for attempt := 1; ; attempt++ {
		err := p.startOnce()
		if err == nil || attempt == 5 || !strings.Contains(err.Error(), "address already in use") {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (p *process) startOnce() error {
	if err := p.spawn(); err != nil {
		return err
	}
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		if !p.running() {
			return fmt.Errorf("baram run %d exited before accepting connections (%v); its output:\n%s",
				p.runs, p.waitErr, p.output(p.logStart))
		}
		if c, err := net.DialTimeout("tcp", p.addr, time.Second); err == nil {
			self := c.LocalAddr().String() == c.RemoteAddr().String()
			c.Close()
			if !self { // a TCP self-connect is not a listener
				return nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("baram run %d did not accept connections on %s within %v; its output:\n%s",
		p.runs, p.addr, readyTimeout, p.output(p.logStart))
}

// spawn starts a run without waiting for it to listen.
func (p *process) spawn() error {
	p.runs++
	if fi, err := p.log.Stat(); err == nil {
		p.logStart = fi.Size()
	}
	fmt.Fprintf(p.log, "=== run %d at %s\n", p.runs, time.Now().Format(time.TimeOnly+".000"))
	cmd := exec.Command(p.bin, "serve", "--listen", p.addr, "--data-dir", p.dataDir, "--log-level", "warn")
	cmd.Dir = filepath.Dir(p.dataDir)     // nothing lands in the source tree
	cmd.Stdout, cmd.Stderr = p.log, p.log // an *os.File: no copying goroutine
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start baram: %w", err)
	}
	p.cmd, p.exited = cmd, make(chan struct{})
	exited := p.exited
	go func() {
		p.waitErr = cmd.Wait()
		close(exited)
	}()
	return nil
}

// killEarly starts a run and kills it after delay, before it is known to
// listen: a crash while it opens and recovers the store.
func (p *process) killEarly(delay time.Duration) error {
	if err := p.spawn(); err != nil {
		return err
	}
	time.Sleep(delay)
	if !p.running() {
		return fmt.Errorf("baram run %d exited by itself within %v of its start (%v); its output:\n%s",
			p.runs, delay, p.waitErr, p.output(p.logStart))
	}
	return p.kill()
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *process) kill() error {
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("SIGKILL: %w", err)
	}
	if !p.waitExit(exitTimeout) {
		return fmt.Errorf("baram run %d still alive %v after SIGKILL", p.runs, exitTimeout)
	}
	return nil
}

// stop sends SIGTERM and waits for a clean exit; it kills the process
// when it does not exit in time.
func (p *process) stop() error {
	if !p.running() {
		return fmt.Errorf("baram run %d had already exited: %v", p.runs, p.waitErr)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("SIGTERM: %w", err)
	}
	if !p.waitExit(termTimeout) {
		p.kill()
		return fmt.Errorf("baram run %d did not exit within %v of SIGTERM", p.runs, termTimeout)
	}
	if p.waitErr != nil {
		return fmt.Errorf("baram run %d after SIGTERM: %v", p.runs, p.waitErr)
	}
	return nil
}

func (p *process) waitExit(timeout time.Duration) bool {
	select {
	case <-p.exited:
		return true
	case <-time.After(timeout):
		return false
	}
}

// output returns what the runs wrote from offset on, at most its last 8KiB.
func (p *process) output(offset int64) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	b = b[min(int(offset), len(b)):]
	if len(b) > 8<<10 {
		b = b[len(b)-8<<10:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}
