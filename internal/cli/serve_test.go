package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/config"
	"github.com/baram-mqtt/baram/internal/listener"
	"github.com/baram-mqtt/baram/internal/testlog"
)

// server is a serve command running in process.
type server struct {
	cancel context.CancelFunc
	done   chan int // receives the exit status
	stderr *testlog.Buffer
	addr   string // the first listener's address, from the startup line
}

var listeningRE = regexp.MustCompile(`baram listening"[ ,]"?listeners"?[=:]"?mqtts?://([^ ,"]+)`) // text or json

// startServe runs "baram serve args..." and waits for its startup line.
// The store is in a temporary directory unless args choose it.
func startServe(t *testing.T, args ...string) *server {
	t.Helper()
	if !slices.ContainsFunc(args, func(a string) bool { return a == "--data-dir" || a == "--store" || a == "--config" }) {
		args = append([]string{"--data-dir", filepath.Join(t.TempDir(), "data")}, args...)
	}
	// No admin listener on the default port unless a test asks for one.
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--admin") || a == "--config" }) {
		args = append([]string{"--admin="}, args...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{cancel: cancel, done: make(chan int, 1), stderr: new(testlog.Buffer)}
	go func() {
		s.done <- Execute(ctx, append([]string{"serve"}, args...), io.Discard, s.stderr)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := listeningRE.FindStringSubmatch(s.stderr.String()); m != nil {
			s.addr = m[1]
			return s
		}
		select {
		case code := <-s.done:
			cancel()
			t.Fatalf("serve exited with %d before listening:\n%s", code, s.stderr)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no startup line after 10s:\n%s", s.stderr)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wait waits for the server to exit and returns its exit status.
func (s *server) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-s.done:
		return code
	case <-time.After(15 * time.Second):
		var stacks strings.Builder
		pprof.Lookup("goroutine").WriteTo(&stacks, 1) // where it hangs
		t.Fatalf("serve did not exit 15s after shutdown:\n%s\ngoroutines:\n%s", s.stderr, &stacks)
		return -1
	}
}

func TestServeStartsAndStops(t *testing.T) {
	s := startServe(t, "--listen", "127.0.0.1:0", "--listen", "127.0.0.1:0")
	if strings.HasSuffix(s.addr, ":0") {
		t.Fatalf("startup line shows the configured port 0, not the bound one:\n%s", s.stderr)
	}
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatalf("dial %s: %v", s.addr, err)
	}
	c.Close()
	out := s.stderr.String()
	for _, want := range []string{
		`listeners="mqtt://127.0.0.1:`, `, mqtt://127.0.0.1:`, "anonymous=true",
		`hint="change with --listen or --config FILE"`, "version=dev",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("startup log lacks %s:\n%s", want, out)
		}
	}

	s.cancel()
	if code := s.wait(t); code != ExitOK {
		t.Errorf("exit status %d, want 0:\n%s", code, s.stderr)
	}
	out = s.stderr.String()
	if !strings.Contains(out, `msg="shutting down" reason="context canceled"`) || !strings.Contains(out, `msg="baram stopped"`) {
		t.Errorf("no shutdown lines in:\n%s", out)
	}
	if c, err := net.Dial("tcp", s.addr); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after serve returned", s.addr)
	}
}

func TestServeWarnsWhenNoClientCanConnect(t *testing.T) {
	s := startServe(t, "--listen", "127.0.0.1:0", "--allow-anonymous=false")
	s.cancel()
	s.wait(t)
	if out := s.stderr.String(); !strings.Contains(out, "anonymous=false") ||
		!strings.Contains(out, `level=WARN msg="anonymous clients are refused and no users are configured`) {
		t.Errorf("no warning about refused anonymous clients:\n%s", out)
	}
}

func TestServePortBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	code, _, errOut := run(t, "serve", "--store", "memory", "--listen", "127.0.0.1:0", "--listen", addr)
	want := fmt.Sprintf("baram: listen %s: address already in use\n", addr)
	if code != ExitError || errOut != want {
		t.Errorf("serve on a busy port = %d, %q; want %d, %q", code, errOut, ExitError, want)
	}
}

func TestServeBadConfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "limits:\n  max_inflight: 10\n  max_inflite: 20\n",
			`: line 3: unknown key "max_inflite" in limits (known keys: `},
		{"bad value", "limits:\n  max_inflight: 0\n",
			`: limits.max_inflight: 0 is out of range 1..65535` + "\n"},
		{"two bad values", "limits:\n  max_inflight: 0\nlog:\n  format: xml\n",
			": limits.max_inflight: 0 is out of range 1..65535\n" + `  log.format: "xml" is not one of text, json` + "\n"},
		{"bad duration", "limits:\n  connect_timeout: 10\n",
			`: line 2: limits.connect_timeout: bare number 10 has no unit; write "10s" for seconds`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			code, _, errOut := run(t, "serve", "--config", path)
			want := "baram: config " + path + tt.want
			if code != ExitError || !strings.HasPrefix(errOut, want) {
				t.Errorf("serve --config = %d, %q; want %d and %q", code, errOut, ExitError, want)
			}
		})
	}

	code, _, errOut := run(t, "serve", "--config", filepath.Join(dir, "missing.yaml"))
	if code != ExitError || !strings.Contains(errOut, "baram: read config: open ") {
		t.Errorf("serve with a missing config = %d, %q", code, errOut)
	}
}

// fakeListen listens on 127.0.0.1:0 for IPv4 addresses and fails for
// IPv6 ones with err.
func fakeListen(err error) listenFunc {
	return func(ctx context.Context, network, address string, tlsCfg *listener.TLS) (net.Listener, error) {
		if strings.HasPrefix(address, "[") {
			return nil, &net.OpError{Op: "listen", Net: network, Err: os.NewSyscallError("bind", err)}
		}
		return listener.Listen(ctx, network, "127.0.0.1:0", tlsCfg)
	}
}

func TestOpenListenersSkipsUnavailableIPv6(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	lns, err := openListeners(t.Context(), config.DefaultListeners(), true, fakeListen(syscall.EADDRNOTAVAIL), logger)
	if err != nil {
		t.Fatal(err)
	}
	closeListeners(lns)
	if len(lns) != 1 || !strings.Contains(logs.String(), `level=WARN msg="IPv6 is unavailable; not listening on it" address=[::1]:1883`) {
		t.Errorf("opened %d listeners, logged %q; want 1 and a warning", len(lns), logs.String())
	}

	// The same listeners given explicitly must all open.
	_, err = openListeners(t.Context(), config.DefaultListeners(), false, fakeListen(syscall.EADDRNOTAVAIL), logger)
	if !errors.Is(err, syscall.EADDRNOTAVAIL) || err.Error() != "listen [::1]:1883: "+syscall.EADDRNOTAVAIL.Error() {
		t.Errorf("explicit [::1] listener error = %v", err)
	}
	// Other errors on a default listener are fatal too.
	_, err = openListeners(t.Context(), config.DefaultListeners(), true, fakeListen(syscall.EACCES), logger)
	if !errors.Is(err, syscall.EACCES) {
		t.Errorf("default listener with EACCES: error = %v", err)
	}
}

func TestIPv6Unavailable(t *testing.T) {
	opErr := func(errno syscall.Errno) error {
		return &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", errno)}
	}
	tests := []struct {
		addr string
		err  error
		want bool
	}{
		{"[::1]:1883", opErr(syscall.EADDRNOTAVAIL), true},
		{"[::1]:1883", opErr(syscall.EAFNOSUPPORT), true},
		{"[::1]:1883", opErr(syscall.EPROTONOSUPPORT), true},
		{"[::1]:1883", opErr(syscall.EADDRINUSE), false},
		{"127.0.0.1:1883", opErr(syscall.EADDRNOTAVAIL), false},
		{"[::ffff:127.0.0.1]:1883", opErr(syscall.EADDRNOTAVAIL), false},
		{"localhost:1883", opErr(syscall.EADDRNOTAVAIL), false},
	}
	for _, tt := range tests {
		if got := ipv6Unavailable(tt.addr, tt.err); got != tt.want {
			t.Errorf("ipv6Unavailable(%q, %v) = %v, want %v", tt.addr, tt.err, got, tt.want)
		}
	}
}

func TestListenError(t *testing.T) {
	_, err := net.Listen("tcp", "no.such.host.invalid:1883")
	got := listenError("no.such.host.invalid:1883", err)
	if !strings.HasPrefix(got.Error(), "listen no.such.host.invalid:1883: lookup no.such.host.invalid") {
		t.Errorf("listenError = %q", got)
	}
}
