//go:build unix

package crashtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/proctest"
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

	proc *proctest.Proc // the current run; nil before the first
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
	p := &process{bin: bin, addr: proctest.FreeAddr(t), dataDir: filepath.Join(dir, "data"), logPath: log.Name(), log: log}
	t.Cleanup(func() {
		if p.running() {
			p.proc.Kill(exitTimeout)
		}
		log.Close()
	})
	return p
}

func (p *process) running() bool { return p.proc != nil && p.proc.Running() }

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
	if err := p.proc.WaitListening(readyTimeout, p.addr); err != nil {
		return fmt.Errorf("baram run %d %v; its output:\n%s", p.runs, err, p.output(p.logStart))
	}
	return nil
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
	proc, err := proctest.Start(cmd)
	if err != nil {
		return fmt.Errorf("start baram: %w", err)
	}
	p.proc = proc
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
			p.runs, delay, p.proc.Err(), p.output(p.logStart))
	}
	return p.kill()
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *process) kill() error {
	if err := p.proc.Kill(exitTimeout); err != nil {
		return fmt.Errorf("baram run %d: %w", p.runs, err)
	}
	return nil
}

// stop sends SIGTERM and waits for a clean exit; it kills the process
// when it does not exit in time.
func (p *process) stop() error {
	if !p.running() {
		return fmt.Errorf("baram run %d had already exited: %v", p.runs, p.proc.Err())
	}
	if err := p.proc.Stop(termTimeout, exitTimeout); err != nil {
		return fmt.Errorf("baram run %d: %w", p.runs, err)
	}
	if err := p.proc.Err(); err != nil {
		return fmt.Errorf("baram run %d after SIGTERM: %v", p.runs, err)
	}
	return nil
}

// output returns what the runs wrote from offset on, at most its last 8KiB.
func (p *process) output(offset int64) string { return proctest.Tail(p.logPath, offset, 8<<10) }
