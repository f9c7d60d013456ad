// Package proctest builds the baram command and runs it, or another
// program, as a child process, for tests only: end-to-end tests that
// need a real process (crashtest kills it, browsertest points Chromium at
// it). It builds ./cmd/baram once per test binary, ends children by their
// PID, waits for their ports, and reads the tail of their logs.
package proctest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Main is a TestMain for a package that uses Baram: it runs the tests,
// removes the binary Baram built, and, when the tests passed, fails the
// run if goroutines leaked (go.uber.org/goleak). Use it as
//
//	func TestMain(m *testing.M) { proctest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// build is the baram binary, built once per test process.
var build struct {
	once sync.Once
	dir  string // temporary directory holding the binary, removed by Main
	bin  string
	root string // the module root
	err  error
}

// Baram builds ./cmd/baram once per test process with the go command and
// returns the binary's path and the module root. It fails the test when
// that is not possible, the go command missing included: a test that
// would rather skip checks exec.LookPath("go") first. The package's
// TestMain must be Main, which removes the binary.
func Baram(t testing.TB) (bin, root string) {
	t.Helper()
	build.once.Do(func() {
		goCmd, err := exec.LookPath("go")
		if err != nil {
			build.err = errors.New("the go command is not in PATH: it is needed to build ./cmd/baram")
			return
		}
		if build.root, err = moduleRoot(goCmd); err != nil {
			build.err = err
			return
		}
		if build.dir, err = os.MkdirTemp("", "baram-proctest-"); err != nil {
			build.err = err
			return
		}
		bin := filepath.Join(build.dir, "baram")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goCmd, "build", "-o", bin, "./cmd/baram")
		cmd.Dir = build.root
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build -o %s ./cmd/baram in %s: %v\n%s", bin, build.root, err, out)
			return
		}
		build.bin = bin
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin, build.root
}

// moduleRoot returns the directory of the main module's go.mod: what
// "go env GOMOD" says, or else the first go.mod up from the working
// directory.
func moduleRoot(goCmd string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goCmd, "env", "GOMOD").Output()
	if mod := strings.TrimSpace(string(out)); err == nil && filepath.IsAbs(mod) && filepath.Base(mod) == "go.mod" {
		return filepath.Dir(mod), nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: run the test inside the baram module")
		}
		dir = parent
	}
}

// Tool returns the path of the program name, an interoperability peer
// such as mosquitto_pub, found in PATH; pkg is the Debian package that
// installs it. When it is missing the test is skipped, or fails when
// BARAM_REQUIRE_INTEROP is set (as in CI, where a skip would hide a
// missing install).
func Tool(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("BARAM_REQUIRE_INTEROP") != "" {
			t.Fatalf("BARAM_REQUIRE_INTEROP is set and %s is missing (Debian package %s): %v", name, pkg, err)
		}
		t.Skipf("%s is not installed (Debian package %s); set BARAM_REQUIRE_INTEROP=1 to fail instead of skipping", name, pkg)
	}
	return path
}

// FreeAddr returns 127.0.0.1:PORT for a port that was free a moment ago;
// another process may take it before the child listens on it, so a
// caller retries a start that fails with "address already in use".
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Proc is a started child process; one goroutine waits for its exit.
type Proc struct {
	Cmd    *exec.Cmd
	exited chan struct{} // closed when Cmd has been waited for
	err    error         // Cmd.Wait's result; read after exited is closed
}

// Start starts cmd and waits for its exit in the background. For output
// that needs no copying goroutine, give cmd an *os.File as Stdout and
// Stderr.
func Start(cmd *exec.Cmd) (*Proc, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Proc{Cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Running reports whether the process has not exited yet.
func (p *Proc) Running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Err is how the process exited (exec.Cmd.Wait's error): nil for a zero
// exit status. It is nil too while the process runs.
func (p *Proc) Err() error {
	if p.Running() {
		return nil
	}
	return p.err
}

// WaitExit waits up to timeout for the process to exit and reports
// whether it did.
func (p *Proc) WaitExit(timeout time.Duration) bool {
	select {
	case <-p.exited:
		return true
	case <-time.After(timeout):
		return false
	}
}

// Kill sends SIGKILL to the process, by its PID, and waits up to timeout
// for it to be gone.
func (p *Proc) Kill(timeout time.Duration) error {
	if err := p.Cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("SIGKILL: %w", err)
	}
	if !p.WaitExit(timeout) {
		return fmt.Errorf("pid %d still alive %v after SIGKILL", p.Cmd.Process.Pid, timeout)
	}
	return nil
}

// Stop sends SIGTERM to the process, by its PID, and waits up to term for
// it to exit. When it does not, Stop kills it (Kill, waiting up to kill)
// and returns an error that says so. How the process exited is Err's.
func (p *Proc) Stop(term, kill time.Duration) error {
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("SIGTERM: %w", err)
	}
	if p.WaitExit(term) {
		return nil
	}
	if err := p.Kill(kill); err != nil {
		return fmt.Errorf("did not exit within %v of SIGTERM; %w", term, err)
	}
	return fmt.Errorf("did not exit within %v of SIGTERM; killed", term)
}

// WaitListening polls each of addrs in turn (empty ones are passed over)
// until it accepts a TCP connection, all within timeout. A TCP
// self-connect, which a port in the ephemeral range allows, does not
// count. It returns an error when the process exits first or the time
// runs out.
func (p *Proc) WaitListening(timeout time.Duration, addrs ...string) error {
	deadline := time.Now().Add(timeout)
	for _, addr := range addrs {
		for addr != "" {
			if !p.Running() {
				return fmt.Errorf("exited before accepting connections (%v)", p.err)
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("did not accept connections on %s within %v", addr, timeout)
			}
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				self := c.LocalAddr().String() == c.RemoteAddr().String()
				c.Close()
				if !self {
					break
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

// Tail returns what the file at path holds from offset on, at most its
// last limit bytes, cut to start at a line; a file it cannot read gives the
// error's text.
func Tail(path string, offset int64, limit int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	b = b[min(int(offset), len(b)):]
	if len(b) > limit {
		b = b[len(b)-limit:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}
