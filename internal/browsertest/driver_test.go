//go:build unix

package browsertest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/proctest"
)

const (
	// pageWait bounds each wait inside the browser (a CONNACK, a
	// message, an element); every page helper gets it as its last
	// argument.
	pageWait = 10 * time.Second
	// launchTimeout bounds starting Chromium.
	launchTimeout = 40 * time.Second
)

// driver is a running "node js/driver.js": Chromium under playwright-core,
// commanded one JSON line at a time (see js/driver.js). Only the test
// goroutines call its methods, one at a time.
type driver struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	replies chan driverReply // closed when node's stdout ends
	exited  chan struct{}    // closed when cmd has been waited for
	waitErr error            // read after exited is closed
	logPath string           // node's stderr: the pages' console, driver notes
	nextID  int
	Version string // Chromium's
}

type driverReply struct {
	ID      int             `json:"id"`
	Value   json.RawMessage `json:"value"`
	Error   *string         `json:"error"`
	Ready   bool            `json:"ready"`
	Version string          `json:"version"`
	bad     string          // a line that is not a reply
}

// startDriver launches the driver with a fresh Chromium profile whose
// certificate errors are ignored only for the keys in spki. The test's
// cleanup quits it and, failing that, kills its process group (node and
// the Chromium it started) by its ID.
func startDriver(t *testing.T, node, jsDir string, spki ...string) *driver {
	t.Helper()
	dir := t.TempDir()
	arg, err := json.Marshal(map[string]any{
		"userDataDir": filepath.Join(dir, "profile"),
		"chromium":    chromiumPath,
		"spki":        spki,
	})
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(filepath.Join(dir, "driver.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	d := &driver{logPath: stderr.Name(), replies: make(chan driverReply, 16), exited: make(chan struct{})}
	d.cmd = exec.Command(node, filepath.Join(jsDir, "driver.js"), string(arg))
	d.cmd.Dir = jsDir
	d.cmd.Stderr = stderr
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group, with Chromium in it
	if d.stdin, err = d.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	go d.read(stdout)
	t.Cleanup(func() { d.quit(t) })

	select {
	case r, ok := <-d.replies:
		if !ok || !r.Ready {
			t.Fatalf("the driver did not start Chromium (%q); its log:\n%s", r.bad, d.log())
		}
		d.Version = r.Version
	case <-time.After(launchTimeout):
		t.Fatalf("Chromium did not start within %v; the driver's log:\n%s", launchTimeout, d.log())
	}
	return d
}

// read passes node's stdout lines on as replies until it ends, then
// waits for the process. It is the driver's only goroutine.
func (d *driver) read(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var r driverReply
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			r = driverReply{ID: -1, bad: sc.Text()}
		}
		d.replies <- r
	}
	close(d.replies)
	d.waitErr = d.cmd.Wait()
	close(d.exited)
}

// do sends one command and returns its value; the command is given
// timeout to run in the browser, and the answer a little longer to come.
func (d *driver) do(cmd map[string]any, timeout time.Duration) (json.RawMessage, error) {
	d.nextID++
	id := d.nextID
	cmd["id"] = id
	cmd["timeout"] = timeout.Milliseconds()
	line, err := json.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	if _, err := d.stdin.Write(append(line, '\n')); err != nil {
		return nil, fmt.Errorf("send %s: %w", cmd["cmd"], err)
	}
	deadline := time.NewTimer(timeout + 5*time.Second)
	defer deadline.Stop()
	for {
		select {
		case r, ok := <-d.replies:
			switch {
			case !ok:
				return nil, fmt.Errorf("%s: the driver exited; its log:\n%s", cmd["cmd"], d.log())
			case r.bad != "":
				return nil, fmt.Errorf("%s: the driver wrote %q", cmd["cmd"], r.bad)
			case r.ID != id:
				continue // the late answer of a command that timed out
			case r.Error != nil:
				return nil, errors.New(*r.Error)
			}
			return r.Value, nil
		case <-deadline.C:
			return nil, fmt.Errorf("%s: no answer from the driver within %v", cmd["cmd"], timeout+5*time.Second)
		}
	}
}

// must runs a command and fails the test on an error; it decodes the
// value into out unless out is nil.
func (d *driver) must(t *testing.T, out any, cmd map[string]any) {
	t.Helper()
	v, err := d.do(cmd, pageWait)
	if err != nil {
		t.Fatalf("%s %v: %v", cmd["cmd"], cmd["page"], err)
	}
	if out != nil {
		if err := json.Unmarshal(v, out); err != nil {
			t.Fatalf("%s %v: decode %s: %v", cmd["cmd"], cmd["page"], v, err)
		}
	}
}

// open opens a tab named page at url; the test's cleanup closes it.
func (d *driver) open(t *testing.T, page, url string) {
	t.Helper()
	d.must(t, nil, map[string]any{"cmd": "open", "page": page, "url": url})
	t.Cleanup(func() {
		// Already closed by the test, or the driver is gone: nothing to do.
		d.do(map[string]any{"cmd": "close", "page": page}, pageWait)
	})
}

// close closes the tab without running its unload handlers, as a user
// closing it would.
func (d *driver) close(t *testing.T, page string) {
	t.Helper()
	d.must(t, nil, map[string]any{"cmd": "close", "page": page})
}

// call awaits window.bt[fn](args..., pageWait in ms) in the page
// (js/page.js) and decodes its value into out (unless nil).
func (d *driver) call(t *testing.T, out any, page, fn string, args ...any) {
	t.Helper()
	d.must(t, out, map[string]any{"cmd": "call", "page": page, "fn": fn, "args": append(args, pageWait.Milliseconds())})
}

// quit asks the driver to close Chromium and exit; when it does not in
// time, it kills the process group that node leads (node and the Chromium
// it started), by its ID. Anything left in that group after node exits is
// killed too.
func (d *driver) quit(t *testing.T) {
	pgid := d.cmd.Process.Pid
	d.stdin.Close() // the driver quits when its stdin ends
	if !d.drain(exitTimeout) {
		t.Errorf("the driver did not exit within %v of its stdin closing; killing process group %d", exitTimeout, pgid)
		syscall.Kill(-pgid, syscall.SIGKILL)
		if !d.drain(exitTimeout) {
			t.Errorf("the driver (process group %d) still runs %v after SIGKILL", pgid, exitTimeout)
			return
		}
	} else if err := syscall.Kill(-pgid, 0); err == nil {
		t.Logf("processes of the driver's group %d outlived it; killing them", pgid)
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
	if d.waitErr != nil {
		t.Errorf("the driver: %v; its log:\n%s", d.waitErr, d.log())
	} else if t.Failed() {
		t.Logf("the driver's log (%s):\n%s", d.logPath, d.log())
	}
}

// drain discards replies until the driver has exited, and reports
// whether it did within timeout.
func (d *driver) drain(timeout time.Duration) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	replies := d.replies
	for {
		select {
		case _, ok := <-replies:
			if !ok {
				replies = nil // read is waiting for the process now
			}
		case <-d.exited:
			return true
		case <-timer.C:
			return false
		}
	}
}

// log returns the last 16KiB of the driver's stderr.
func (d *driver) log() string { return proctest.Tail(d.logPath, 0, 16<<10) }

// sel is the CSS selector of the element with data-testid id and, in
// pairs, further attributes and values.
func sel(id string, attrs ...string) string {
	s := fmt.Sprintf("[data-testid=%q]", id)
	for i := 0; i+1 < len(attrs); i += 2 {
		s += fmt.Sprintf("[%s=%q]", attrs[i], attrs[i+1])
	}
	return s
}

// waitFor polls what (a "text" or "value" command on selector) until it
// equals want, for up to pageWait plus extra: for figures that the page
// refreshes on its own schedule.
func (d *driver) waitFor(t *testing.T, what, page, selector, want string, extra time.Duration) {
	t.Helper()
	deadline := time.Now().Add(pageWait + extra)
	var last string
	for {
		v, err := d.do(map[string]any{"cmd": what, "page": page, "selector": selector}, pageWait)
		if err != nil {
			t.Fatalf("%s of %s: %v", what, selector, err)
		}
		last = ""
		if err := json.Unmarshal(v, &last); err != nil && string(v) != "null" {
			t.Fatalf("%s of %s: decode %s: %v", what, selector, v, err)
		}
		if last == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s of %s is %q after %v, want %q", what, selector, last, pageWait+extra, want)
		}
		time.Sleep(100 * time.Millisecond) // polling: the page changes it on its own timer
	}
}
