package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/bench"
)

// benchServe starts baram serve in process with a memory store and
// returns its port and a function that stops it.
func benchServe(t *testing.T) (port string, stop func()) {
	t.Helper()
	s := startServe(t, "--store", "memory", "--listen", "127.0.0.1:0")
	_, port, err := net.SplitHostPort(s.addr)
	if err != nil {
		t.Fatal(err)
	}
	return port, func() {
		s.cancel()
		if code := s.wait(t); code != ExitOK {
			t.Errorf("serve exited with %d:\n%s", code, s.stderr)
		}
	}
}

// The check CI runs (issue 6): a short pairs run at QoS 1 against baram
// loses nothing and prints a JSON result.
func TestBenchPairs(t *testing.T) {
	port, stop := benchServe(t)
	defer stop()
	code, out, errOut := run(t, "bench", "pairs", "--host", "127.0.0.1", "--port", port, "--clients", "10",
		"--count", "200", "--qos", "1", "--json")
	if code != ExitOK || errOut != "" {
		t.Fatalf("bench pairs = %d, stderr %q", code, errOut)
	}
	var rep bench.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out)
	}
	if rep.Scenario != "pairs" || rep.QoS != 1 || rep.Publishers != 10 || rep.Subscribers != 10 ||
		rep.Sent != 2000 || rep.Acked != 2000 || rep.Expected != 2000 || rep.Unique != 2000 ||
		rep.Lost != 0 || rep.Duplicates != 0 || len(rep.Errors) != 0 || rep.Latency.Count != 2000 || rep.Rate <= 0 {
		t.Fatalf("result %+v", rep)
	}
	if !strings.HasPrefix(rep.Target, "mqtt://127.0.0.1:") || rep.MQTT != "3.1.1" {
		t.Errorf("target %q, mqtt %q", rep.Target, rep.MQTT)
	}
}

// The table, the progress lines, and Ctrl-C: an interrupted run stops,
// prints its result and exits 0 when nothing was lost.
func TestBenchTableProgressInterrupt(t *testing.T) {
	port, stop := benchServe(t)
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(1300*time.Millisecond, cancel)
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := Execute(ctx, []string{"bench", "fanin", "--url", "mqtt://127.0.0.1:" + port, "--publishers", "3",
		"--qos", "1", "--rate", "3000", "--duration", "1m", "--progress", "--mqtt", "5"}, &stdout, &stderr)
	if took := time.Since(start); code != ExitOK || took > 10*time.Second {
		t.Fatalf("interrupted bench = %d after %v\nstdout:\n%s\nstderr:\n%s", code, took, &stdout, &stderr)
	}
	out, errOut := stdout.String(), stderr.String()
	for _, want := range []string{"scenario  mqtt  qos  size  pubs  subs  sent", "fanin     5     1    64    3     1",
		"interrupted", " 0 lost, 0 duplicates; latency p50 ", "(offered 3000/s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "running    conns 4  sent ") || !strings.Contains(errOut, "recv ") || strings.Contains(errOut, "\r") {
		t.Errorf("no progress line in stderr:\n%q", errOut)
	}
}

func TestBenchConn(t *testing.T) {
	port, stop := benchServe(t)
	defer stop()
	code, out, errOut := run(t, "bench", "conn", "--port", port, "--host", "127.0.0.1", "--clients", "20",
		"--duration", "10ms", "--sources", "127.0.0.2-127.0.0.3", "--quiet")
	if code != ExitOK || errOut != "" || !strings.Contains(out, "conn      3.1.1  20       20         0") ||
		!strings.Contains(out, "then 20 answered a PINGREQ") {
		t.Fatalf("bench conn = %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

// A run that cannot connect fails with status 1.
func TestBenchFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	code, _, errOut := run(t, "bench", "pub", "--url", "mqtt://"+addr, "--count", "1")
	if code != ExitError || !strings.Contains(errOut, "connection refused") {
		t.Errorf("bench against nothing = %d, %q", code, errOut)
	}
}

func TestBenchUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"fanin", "--size", "10"}, "a payload of 10 bytes cannot hold the 24-byte header"},
		{[]string{"fanin", "--clients", "5"}, "--clients does not apply to fanin (it takes --publishers, --subscribers"},
		{[]string{"conn", "--size", "100"}, "--size does not apply to conn"},
		{[]string{"pub", "--mqtt", "4.0"}, `--mqtt "4.0": want 3.1.1 or 5`},
		{[]string{"pub", "--url", "http://h"}, `scheme "http" is not one of mqtt, mqtts, ws, wss`},
		{[]string{"pub", "--url", "mqtt://h", "--port", "1"}, "give --url or --host and --port, not both"},
		{[]string{"pub", "--url", "ws://h", "--cafile", "ca.pem"}, "need an mqtts:// or wss:// URL"},
		{[]string{"pub", "--cert", "c.pem"}, "--cert and --key go together"},
		{[]string{"pub", "--qos", "3"}, "--qos 3: want 0, 1 or 2"},
		{[]string{"pub", "--publishers", "0"}, "--publishers 0: want a positive number"},
		{[]string{"pub", "--sources", "127.0.0.9-127.0.0.1"}, "--sources: source range"},
		{[]string{"pub", "--topic", "a/#"}, "wildcard"},
		{[]string{"storm"}, `unknown command "storm" for "baram bench"`},
	} {
		code, _, errOut := run(t, append([]string{"bench"}, tt.args...)...)
		if code != ExitUsage || !strings.Contains(errOut, tt.want) {
			t.Errorf("bench %v = %d, %q; want %d and %q", tt.args, code, errOut, ExitUsage, tt.want)
		}
	}
}

func TestBenchRemoteWarning(t *testing.T) {
	// 192.0.2.0/24 is TEST-NET-1: the dial fails after the warning.
	code, _, errOut := run(t, "bench", "pub", "--host", "192.0.2.1", "--count", "1", "--connect-timeout", "50ms")
	if code != ExitError || !strings.Contains(errOut, "warning: 192.0.2.1 is not a loopback address") {
		t.Errorf("bench against a remote host = %d, %q", code, errOut)
	}
}
