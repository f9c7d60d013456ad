package cli

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/testlog"
	"github.com/baram-mqtt/baram/internal/testpki"
)

// pubsubWait bounds the waits of the pub and sub tests.
const pubsubWait = 10 * time.Second

// pubsubBroker is baram serve in process with TCP, WebSocket and TLS
// listeners.
type pubsubBroker struct {
	s        *server
	pki      *testpki.Files
	host     string // 127.0.0.1
	port     string // of the TCP listener
	wsURL    string // ws://127.0.0.1:PORT/mqtt
	mqttsURL string // mqtts://127.0.0.1:PORT
}

func startPubsubBroker(t *testing.T, extra ...string) *pubsubBroker {
	t.Helper()
	p := testpki.NewFiles(t)
	args := append([]string{"--store", "memory", "--listen", "127.0.0.1:0", "--listen", "ws://127.0.0.1:0",
		"--listen", "mqtts://127.0.0.1:0", "--tls-cert", p.CertFile, "--tls-key", p.KeyFile}, extra...)
	s := startServe(t, args...)
	t.Cleanup(func() { s.stop(t) })
	host, port, err := net.SplitHostPort(s.addr)
	if err != nil {
		t.Fatal(err)
	}
	return &pubsubBroker{s: s, pki: p, host: host, port: port,
		wsURL: listenerURL(t, s, "ws"), mqttsURL: listenerURL(t, s, "mqtts")}
}

// hostPort are the -h and -p flags of the TCP listener.
func (b *pubsubBroker) hostPort() []string { return []string{"-h", b.host, "-p", b.port} }

// subRun is a baram sub running in process.
type subRun struct {
	cancel         context.CancelFunc
	done           chan int
	stdout, stderr *testlog.Buffer
	once           sync.Once
	code           int
}

// startSub runs "baram sub -d args..." and waits until its SUBACK came.
func startSub(t *testing.T, args ...string) *subRun {
	t.Helper()
	r := startSubNoWait(t, args...)
	deadline := time.Now().Add(pubsubWait)
	for !r.stderr.Contains("received SUBACK") {
		select {
		case code := <-r.done:
			r.done <- code
			t.Fatalf("sub %v exited with %d before its SUBACK:\n%s", args, code, r.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sub %v: no SUBACK after %v:\n%s", args, pubsubWait, r.stderr)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return r
}

// startSubNoWait runs "baram sub -d args..." with stdin.
func startSubNoWait(t *testing.T, args ...string) *subRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &subRun{cancel: cancel, done: make(chan int, 1), stdout: new(testlog.Buffer), stderr: new(testlog.Buffer)}
	go func() {
		r.done <- execute(ctx, append([]string{"sub", "-d"}, args...), strings.NewReader(""), r.stdout, r.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		r.wait(t)
	})
	return r
}

// wait returns sub's exit status.
func (r *subRun) wait(t *testing.T) int {
	t.Helper()
	r.once.Do(func() {
		select {
		case r.code = <-r.done:
		case <-time.After(pubsubWait):
			r.cancel()
			t.Fatalf("sub did not exit within %v:\n%s", pubsubWait, r.stderr)
		}
	})
	return r.code
}

// pub runs baram pub and fails the test unless it succeeds.
func pub(t *testing.T, args ...string) {
	t.Helper()
	if code, out, errOut := run(t, append([]string{"pub"}, args...)...); code != ExitOK || out != "" || errOut != "" {
		t.Fatalf("pub %v = %d, %q, %q", args, code, out, errOut)
	}
}

// sortedLines returns the lines of s in order.
func sortedLines(s string) []string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	slices.Sort(lines)
	return lines
}

// Messages at QoS 0, 1 and 2 from baram pub reach baram sub, in MQTT
// 3.1.1 and 5, over TCP, WebSocket and TLS.
func TestPubSubRoundTrip(t *testing.T) {
	b := startPubsubBroker(t)
	tlsFlags := []string{"-L", b.mqttsURL, "--cafile", b.pki.CAFile}
	for _, tr := range []struct {
		name     string
		sub, pub []string
	}{
		{"tcp", b.hostPort(), b.hostPort()},
		{"ws", []string{"-L", b.wsURL}, []string{"--url", b.wsURL}},
		{"tls", tlsFlags, append(tlsFlags, "--cert", b.pki.ClientCertFile, "--key", b.pki.ClientKeyFile)},
		{"tls host port", []string{"-h", "localhost", "-p", strings.TrimPrefix(b.mqttsURL, "mqtts://127.0.0.1:"), "--cafile", b.pki.CAFile},
			[]string{"--insecure", "-h", "127.0.0.1", "-p", strings.TrimPrefix(b.mqttsURL, "mqtts://127.0.0.1:")}},
	} {
		for _, v := range []string{"311", "mqttv5"} {
			t.Run(tr.name+"/"+v, func(t *testing.T) {
				topicName := "rt/" + strings.ReplaceAll(tr.name, " ", "-") + "/" + v
				sub := startSub(t, append(tr.sub, "-V", v, "-q", "2", "-t", "rt/#", "-C", "3", "-F", "%q %t %p")...)
				for _, qos := range []string{"0", "1", "2"} {
					pub(t, append(tr.pub, "-V", v, "-q", qos, "-t", topicName, "-m", "at qos "+qos)...)
				}
				if code := sub.wait(t); code != ExitOK {
					t.Fatalf("sub = %d:\n%s", code, sub.stderr)
				}
				want := []string{"0 " + topicName + " at qos 0", "1 " + topicName + " at qos 1", "2 " + topicName + " at qos 2"}
				if got := sortedLines(sub.stdout.String()); !slices.Equal(got, want) {
					t.Errorf("sub printed %q, want %q", got, want)
				}
				// sub acknowledged QoS 1 and 2 and said goodbye.
				for _, want := range []string{"sent PUBACK", "sent PUBREC", "received PUBREL", "sent PUBCOMP", "sent DISCONNECT"} {
					if !sub.stderr.Contains(want) {
						t.Errorf("sub's debug output lacks %q:\n%s", want, sub.stderr)
					}
				}
			})
		}
	}
}

// -h is the host, and help is --help alone.
func TestPubSubHelpAndHost(t *testing.T) {
	for _, name := range []string{"pub", "sub"} {
		code, out, _ := run(t, name, "--help")
		if code != ExitOK || !strings.Contains(out, "-h, --host HOST") || !strings.Contains(out, "--help") ||
			!strings.Contains(out, "-V, --protocol-version VERSION") {
			t.Errorf("%s --help = %d:\n%s", name, code, out)
		}
		code, _, errOut := run(t, name, "-h")
		if code != ExitUsage || !strings.Contains(errOut, "flag needs an argument: 'h' in -h") {
			t.Errorf("%s -h = %d, %q", name, code, errOut)
		}
	}
	code, out, _ := run(t, "help", "sub")
	if code != ExitOK || !strings.Contains(out, "-C, --count N") {
		t.Errorf("help sub = %d:\n%s", code, out)
	}
}

// -C ends sub after that many messages; -W after that long, failing when
// -C messages did not all come.
func TestSubCountAndTimeout(t *testing.T) {
	b := startPubsubBroker(t)
	sub := startSub(t, append(b.hostPort(), "-t", "count", "-C", "2", "-q", "1")...)
	pub(t, append(b.hostPort(), "-t", "count", "-m", "x", "--repeat", "3", "-q", "1")...)
	if code := sub.wait(t); code != ExitOK || sub.stdout.String() != "x\nx\n" {
		t.Fatalf("sub -C 2 = %d, %q:\n%s", code, sub.stdout, sub.stderr)
	}

	start := time.Now()
	code, out, errOut := run(t, append([]string{"sub"}, append(b.hostPort(), "-t", "quiet", "-W", "0.2")...)...)
	if took := time.Since(start); code != ExitOK || out != "" || errOut != "" || took < 200*time.Millisecond || took > 5*time.Second {
		t.Errorf("sub -W 0.2 = %d, %q, %q after %v", code, out, errOut, took)
	}
	code, _, errOut = run(t, append([]string{"sub"}, append(b.hostPort(), "-t", "quiet", "-W", "200ms", "-C", "1")...)...)
	if code != ExitError || !strings.Contains(errOut, "timed out after 200ms with 0 of 1 messages") {
		t.Errorf("sub -W 200ms -C 1 = %d, %q", code, errOut)
	}
}

// Retained messages reach a new subscriber, unless -R; --retained-only
// prints them and stops at the first live message.
func TestSubRetained(t *testing.T) {
	b := startPubsubBroker(t)
	pub(t, append(b.hostPort(), "-t", "ret/a", "-m", "stale", "-r", "-q", "1")...)
	code, out, errOut := run(t, append([]string{"sub"}, append(b.hostPort(), "-t", "ret/#", "-C", "1", "-v", "-W", "5")...)...)
	if code != ExitOK || out != "ret/a stale\n" {
		t.Fatalf("sub = %d, %q, %q", code, out, errOut)
	}

	fresh := startSub(t, append(b.hostPort(), "-t", "ret/#", "-C", "1", "-R")...)
	only := startSub(t, append(b.hostPort(), "-t", "ret/#", "--retained-only", "-F", "%r %p")...)
	pub(t, append(b.hostPort(), "-t", "ret/a", "-m", "live")...)
	if code := fresh.wait(t); code != ExitOK || fresh.stdout.String() != "live\n" {
		t.Errorf("sub -R = %d, %q", code, fresh.stdout)
	}
	if code := only.wait(t); code != ExitOK || only.stdout.String() != "1 stale\n" {
		t.Errorf("sub --retained-only = %d, %q", code, only.stdout)
	}

	// -n -r clears it.
	pub(t, append(b.hostPort(), "-t", "ret/a", "-n", "-r", "-q", "1")...)
	code, out, _ = run(t, append([]string{"sub"}, append(b.hostPort(), "-t", "ret/#", "-W", "0.2")...)...)
	if code != ExitOK || out != "" {
		t.Errorf("after clearing: sub = %d, %q", code, out)
	}
}

// -F json prints one object per message with the MQTT 5 properties; a
// payload that is not UTF-8 comes as payload_base64.
func TestSubJSON(t *testing.T) {
	b := startPubsubBroker(t)
	sub := startSub(t, append(b.hostPort(), "-V", "5", "-t", "j/#", "-C", "2", "-F", "json", "-q", "1")...)
	pub(t, append(b.hostPort(), "-V", "5", "-t", "j/text", "-m", "héllo", "-q", "1",
		"-D", "publish", "user-property", "trace", "42", "-D", "publish", "user-property", "trace", "43",
		"-D", "publish", "content-type", "text/plain", "-D", "publish", "response-topic", "j/reply",
		"-D", "publish", "correlation-data", "c-1", "-D", "publish", "message-expiry-interval", "300")...)
	bin := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(bin, []byte{0xff, 0x00, 0xfe}, 0o600); err != nil {
		t.Fatal(err)
	}
	pub(t, append(b.hostPort(), "-V", "5", "-t", "j/bin", "-f", bin, "-q", "1")...)
	if code := sub.wait(t); code != ExitOK {
		t.Fatalf("sub = %d:\n%s", code, sub.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(sub.stdout.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("sub printed %q", sub.stdout)
	}
	var text, binary map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &text); err != nil {
		t.Fatalf("%v: %s", err, lines[0])
	}
	if err := json.Unmarshal([]byte(lines[1]), &binary); err != nil {
		t.Fatalf("%v: %s", err, lines[1])
	}
	wantText := `{"topic":"j/text","qos":1,"retain":false,"payload":"héllo","content_type":"text/plain",` +
		`"message_expiry_interval":300,"response_topic":"j/reply","correlation_data":"c-1",` +
		`"user_properties":[{"key":"trace","value":"42"},{"key":"trace","value":"43"}]}`
	// The broker counts the expiry down: compare the rest exactly.
	if exp, _ := text["message_expiry_interval"].(float64); exp < 295 || exp > 300 {
		t.Errorf("message_expiry_interval %v", text["message_expiry_interval"])
	}
	gotText := regexp.MustCompile(`"message_expiry_interval":\d+`).ReplaceAllString(lines[0], `"message_expiry_interval":300`)
	if gotText != wantText {
		t.Errorf("json:\n%s\nwant\n%s", lines[0], wantText)
	}
	if binary["payload_base64"] != "/wD+" || binary["payload"] != nil || binary["topic"] != "j/bin" {
		t.Errorf("binary payload: %s", lines[1])
	}
}

// One message per line of standard input with -l; all of it with -s.
func TestPubStdin(t *testing.T) {
	b := startPubsubBroker(t)
	sub := startSub(t, append(b.hostPort(), "-t", "in", "-C", "5", "-q", "1", "-F", "[%p]")...)
	code, out, errOut := runIn(t, "one\ntwo\r\n\nthree", append([]string{"pub"}, append(b.hostPort(), "-t", "in", "-l", "-q", "1")...)...)
	if code != ExitOK || out != "" || errOut != "" {
		t.Fatalf("pub -l = %d, %q, %q", code, out, errOut)
	}
	code, _, errOut = runIn(t, "all\nof it", append([]string{"pub"}, append(b.hostPort(), "-t", "in", "-s", "-q", "1")...)...)
	if code != ExitOK {
		t.Fatalf("pub -s = %d, %q", code, errOut)
	}
	if code := sub.wait(t); code != ExitOK || sub.stdout.String() != "[one]\n[two]\n[]\n[three]\n[all\nof it]\n" {
		t.Errorf("sub = %d, %q", code, sub.stdout)
	}
}

// Ctrl-C ends sub with a DISCONNECT and status 0.
func TestSubInterrupt(t *testing.T) {
	b := startPubsubBroker(t)
	sub := startSub(t, append(b.hostPort(), "-t", "x", "--unsubscribe-on-exit")...)
	sub.cancel()
	if code := sub.wait(t); code != ExitOK || !sub.stderr.Contains("sent DISCONNECT") || !sub.stderr.Contains("received UNSUBACK") {
		t.Errorf("interrupted sub = %d:\n%s", code, sub.stderr)
	}
}

// A persistent session (-c) gets what was published at QoS 1 while its
// client was away.
func TestSubPersistentSession(t *testing.T) {
	b := startPubsubBroker(t)
	for _, v := range []struct {
		version string
		extra   []string
	}{{"311", nil}, {"5", []string{"-x", "60"}}, {"5", nil}} {
		id := "persist-" + v.version + "-" + string(rune('a'+len(v.extra)))
		args := append(append(b.hostPort(), "-V", v.version, "-c", "-i", id, "-q", "1", "-t", "ps/"+id), v.extra...)
		if code, out, errOut := run(t, append(append([]string{"sub"}, args...), "-E")...); code != ExitOK || out != "" || errOut != "" {
			t.Fatalf("sub -E = %d, %q, %q", code, out, errOut)
		}
		pub(t, append(b.hostPort(), "-V", v.version, "-q", "1", "-t", "ps/"+id, "-m", "queued")...)
		code, out, errOut := run(t, append(append([]string{"sub"}, args...), "-C", "1", "-W", "5")...)
		if code != ExitOK || out != "queued\n" {
			t.Errorf("-V %s %v: sub after reconnecting = %d, %q, %q", v.version, v.extra, code, out, errOut)
		}
	}
}

// The broker publishes the will when the publisher's connection is cut.
func TestPubWill(t *testing.T) {
	b := startPubsubBroker(t)
	sub := startSub(t, append(b.hostPort(), "-t", "will/#", "-C", "1", "-v", "-q", "1")...)
	proxy := startCutProxy(t, net.JoinHostPort(b.host, b.port))
	_, proxyPort, _ := net.SplitHostPort(proxy.addr)

	in, inW := io.Pipe()
	defer inW.Close()
	stderr := new(testlog.Buffer)
	done := make(chan int, 1)
	go func() {
		done <- execute(context.Background(), []string{"pub", "-d", "-h", "127.0.0.1", "-p", proxyPort, "-t", "alive", "-l",
			"--will-topic", "will/pub", "--will-payload", "gone", "--will-qos", "1"}, in, io.Discard, stderr)
	}()
	deadline := time.Now().Add(pubsubWait)
	for !stderr.Contains("received CONNACK") {
		if time.Now().After(deadline) {
			t.Fatalf("pub did not connect:\n%s", stderr)
		}
		time.Sleep(5 * time.Millisecond)
	}
	proxy.cut()
	select {
	case code := <-done:
		if code != ExitError || !stderr.Contains("connection lost: read: the broker closed the connection") {
			t.Errorf("pub after the cut = %d:\n%s", code, stderr)
		}
	case <-time.After(pubsubWait):
		t.Fatal("pub -l did not notice its connection was cut")
	}
	if code := sub.wait(t); code != ExitOK || sub.stdout.String() != "will/pub gone\n" {
		t.Errorf("sub = %d, %q", code, sub.stdout)
	}
}

// cutProxy forwards TCP connections to a broker until cut.
type cutProxy struct {
	addr  string
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{addr: ln.Addr().String(), ln: ln}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); _, _ = io.Copy(up, c); up.Close() }()
			go func() { defer p.wg.Done(); _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(func() {
		p.ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

// cut closes every connection through the proxy.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// A refused CONNECT names the reason and exits 1; user and password come
// from -u/-P or from the -L URL.
func TestPubSubAuth(t *testing.T) {
	cfgFile, _, _ := writeAuthConfig(t, testACL)
	s := startServe(t, "--config", cfgFile)
	defer s.stop(t)
	host, port, _ := net.SplitHostPort(s.addr)
	hp := []string{"-h", host, "-p", port}
	for _, tt := range []struct {
		version, want string
	}{
		{"311", "connection refused: bad user name or password (return code 4)"},
		{"5", "connection refused: Bad User Name or Password (0x86)"},
	} {
		code, _, errOut := run(t, append([]string{"pub"}, append(hp, "-V", tt.version, "-u", "alice", "-P", "wrong", "-t", "alice/x", "-m", "x")...)...)
		if code != ExitError || !strings.Contains(errOut, "baram: connect to mqtt://"+s.addr+": "+tt.want) {
			t.Errorf("-V %s with a bad password = %d, %q; want %q", tt.version, code, errOut, tt.want)
		}
	}
	sub := startSub(t, "-L", "mqtt://alice:wonderland@"+s.addr+"/alice/x", "-C", "1", "-q", "1")
	pub(t, append(hp, "-u", "alice", "-P", "wonderland", "-t", "alice/x", "-m", "for alice", "-q", "1")...)
	if code := sub.wait(t); code != ExitOK || sub.stdout.String() != "for alice\n" {
		t.Errorf("sub -L with user info = %d, %q:\n%s", code, sub.stdout, sub.stderr)
	}

	// A filter the ACL refuses: SUBACK failure, status 1.
	for _, tt := range []struct{ version, want string }{
		{"311", `subscription to "other/x" refused: SUBACK return code 0x80 (failure)`},
		{"5", `subscription to "other/x" refused: Not authorized (0x87)`},
	} {
		code, _, errOut := run(t, append([]string{"sub"}, append(hp, "-V", tt.version, "-u", "alice", "-P", "wonderland", "-t", "other/x")...)...)
		if code != ExitError || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, "the subscription was refused") {
			t.Errorf("-V %s subscription refused = %d, %q; want %q", tt.version, code, errOut, tt.want)
		}
	}
}

// An MQTT 5 PUBACK with Not authorized (the broker's answer to a
// publish under $SYS) fails pub.
func TestPubNotAuthorized(t *testing.T) {
	b := startPubsubBroker(t)
	code, _, errOut := run(t, append([]string{"pub"}, append(b.hostPort(), "-V", "5", "-q", "1", "-t", "$SYS/forged", "-m", "x")...)...)
	if code != ExitError || !strings.Contains(errOut, `baram: publish to "$SYS/forged": PUBACK for packet id 1: Not authorized (0x87)`) {
		t.Errorf("pub to $SYS = %d, %q", code, errOut)
	}
	code, _, errOut = run(t, append([]string{"pub"}, append(b.hostPort(), "-V", "5", "-q", "2", "-t", "$SYS/forged", "-m", "x")...)...)
	if code != ExitError || !strings.Contains(errOut, "PUBREC for packet id 1: Not authorized (0x87)") {
		t.Errorf("pub -q 2 to $SYS = %d, %q", code, errOut)
	}
}

// pub and sub fail with status 1 and the cause when nothing listens.
func TestPubSubConnectFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, name := range []string{"pub", "sub"} {
		code, _, errOut := run(t, name, "-L", "mqtt://"+addr+"/t", "-m", "x")
		if name == "sub" {
			code, _, errOut = run(t, name, "-L", "mqtt://"+addr+"/t")
		}
		if code != ExitError || !strings.Contains(errOut, "connect to mqtt://"+addr+": ") || !strings.Contains(errOut, "connection refused") {
			t.Errorf("%s against nothing = %d, %q", name, code, errOut)
		}
	}
}

func TestPubSubUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"pub", "-m", "x"}, "give a topic: -t TOPIC"},
		{[]string{"pub", "-t", "a"}, "give the message: -m MESSAGE, -f FILE, -s"},
		{[]string{"pub", "-t", "a", "-m", "x", "-n"}, "give one message source, not --message and --null-message"},
		{[]string{"pub", "-t", "a/#", "-m", "x"}, `topic "a/#": `},
		{[]string{"pub", "-t", "a", "-m", "x", "-q", "3"}, "--qos 3: want 0, 1 or 2"},
		{[]string{"pub", "-t", "a", "-m", "x", "-V", "4.0"}, `--protocol-version "4.0": want 31, 311 or 5`},
		{[]string{"pub", "-t", "a", "-m", "x", "-D", "publish", "content-type", "t"}, "-D (--property) needs MQTT 5: add -V 5"},
		{[]string{"pub", "-V", "5", "-t", "a", "-m", "x", "-D", "publish", "topic-alias", "1"}, "-D publish topic-alias: unknown or unsupported property"},
		{[]string{"pub", "-V", "5", "-t", "a", "-m", "x", "-D", "connect", "content-type", "t"}, "content-type goes with publish, will"},
		{[]string{"pub", "-V", "5", "-t", "a", "-m", "x", "-D", "subscribe", "user-property", "k", "v"}, "-D subscribe: not a command here"},
		{[]string{"pub", "-V", "5", "-t", "a", "-m", "x", "-D", "publish", "user-property", "k"}, "-D publish user-property: missing its value"},
		{[]string{"pub", "-V", "5", "-t", "a", "-m", "x", "-D", "publish", "message-expiry-interval", "soon"}, "not a number in range"},
		{[]string{"pub", "-t", "a", "-m", "x", "stray"}, `unexpected argument "stray"`},
		{[]string{"pub", "-t", "a", "-m", "x", "-c"}, "--disable-clean-session (-c) needs a client id (-i)"},
		{[]string{"pub", "-t", "a", "-m", "x", "-x", "60"}, "--session-expiry is MQTT 5 (-V 5)"},
		{[]string{"pub", "-V", "5", "-t", "a", "-m", "x", "-x", "soon"}, `--session-expiry "soon": want seconds`},
		{[]string{"pub", "-t", "a", "-m", "x", "--will-payload", "p"}, "need --will-topic"},
		{[]string{"pub", "-t", "a", "-m", "x", "--will-topic", "w", "--will-qos", "3"}, "--will-qos 3"},
		{[]string{"pub", "-t", "a", "-m", "x", "-L", "mqtt://h/t"}, "give the topic in --url or with --topic, not both"},
		{[]string{"pub", "-t", "a", "-m", "x", "-L", "mqtt://h", "-p", "1"}, "give --url or --host and --port, not both"},
		{[]string{"pub", "-t", "a", "-m", "x", "-L", "http://h"}, `scheme "http" is not one of mqtt, mqtts, ws, wss`},
		{[]string{"pub", "-t", "a", "-m", "x", "-L", "mqtt://h", "--tls"}, "--cafile, --cert, --key, --insecure and --tls need an mqtts:// or wss:// URL"},
		{[]string{"pub", "-t", "a", "-m", "x", "--cert", "c.pem"}, "--cert and --key go together"},
		{[]string{"pub", "-t", "a", "-m", "x", "-k", "70000"}, "--keepalive 70000"},
		{[]string{"pub", "-t", "a", "-m", "x", "-P", "secret"}, "--password needs --username before MQTT 5"},
		{[]string{"pub", "-t", "a", "-m", "x", "--repeat", "0"}, "--repeat 0: want at least 1"},
		{[]string{"pub", "-t", "a", "-l", "--repeat", "2"}, "--repeat and --repeat-delay are for -m"},
		{[]string{"pub", "-t", "a", "-m", "x", "-i", "a", "-I", "b"}, "give --id or --id-prefix, not both"},
		{[]string{"pub", "-t", "a", "-m", "x", "-A", "nowhere"}, `--bind-address "nowhere": not an IP address`},
		{[]string{"sub"}, "give a topic filter: -t FILTER"},
		{[]string{"sub", "-t", "a/#/b"}, `topic filter "a/#/b"`},
		{[]string{"sub", "-t", "a", "-T", "$share/g/a"}, `--filter-out "$share/g/a": not a topic filter`},
		{[]string{"sub", "-t", "a", "-W", "soon"}, `--timeout "soon": want a positive number`},
		{[]string{"sub", "-t", "a", "-C", "-1"}, "--count -1"},
		{[]string{"sub", "-t", "a", "-R", "--retained-only"}, "give --no-retained (-R) or --retained-only, not both"},
		{[]string{"sub", "-t", "a", "-F", "yaml"}, `--format "yaml": want payload, topic, json, or a template`},
		{[]string{"sub", "-t", "a", "-V", "5", "-D", "publish", "content-type", "x"}, "-D publish: not a command here"},
	} {
		code, _, errOut := run(t, tt.args...)
		if code != ExitUsage || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v = %d, %q; want %d and %q", tt.args, code, errOut, ExitUsage, tt.want)
		}
	}
}

func TestSplitURL(t *testing.T) {
	for _, tt := range []struct {
		in, rest, user, pass, topic string
		hasUser, hasPass, hasTopic  bool
	}{
		{in: "mqtt://h", rest: "mqtt://h"},
		{in: "mqtt://h:1883/", rest: "mqtt://h:1883"},
		{in: "mqtts://u:p%40ss@h:8883/a/+/#", rest: "mqtts://h:8883", user: "u", pass: "p@ss", topic: "a/+/#", hasUser: true, hasPass: true, hasTopic: true},
		{in: "mqtt://u@h/t", rest: "mqtt://h", user: "u", topic: "t", hasUser: true, hasTopic: true},
		{in: "ws://u:p@h:8080/mqtt", rest: "ws://h:8080/mqtt", user: "u", pass: "p", hasUser: true, hasPass: true},
		{in: "h:1883", rest: "h:1883"},
	} {
		rest, user, pass, hasUser, hasPass, topic, hasTopic, err := splitURL(tt.in)
		if err != nil || rest != tt.rest || user != tt.user || pass != tt.pass || topic != tt.topic ||
			hasUser != tt.hasUser || hasPass != tt.hasPass || hasTopic != tt.hasTopic {
			t.Errorf("splitURL(%q) = %q %q %q %v %v %q %v %v", tt.in, rest, user, pass, hasUser, hasPass, topic, hasTopic, err)
		}
	}
}

// An idle client pings the broker every keep alive interval.
func TestSubKeepAlive(t *testing.T) {
	b := startPubsubBroker(t)
	sub := startSub(t, append(b.hostPort(), "-t", "idle", "-k", "1", "-W", "1.6")...)
	if code := sub.wait(t); code != ExitOK || !sub.stderr.Contains("sent PINGREQ") || !sub.stderr.Contains("received PINGRESP") {
		t.Errorf("sub -k 1 = %d:\n%s", code, sub.stderr)
	}
}

// A connection the broker ends fails sub with the cause: MQTT 5 names
// the DISCONNECT's reason.
func TestSubConnectionLost(t *testing.T) {
	for _, tt := range []struct{ version, want string }{
		{"311", "baram: connection lost: read: the broker closed the connection"},
		{"5", "baram: connection lost: the broker sent DISCONNECT: Server shutting down (0x8B)"},
	} {
		s := startServe(t, "--store", "memory", "--listen", "127.0.0.1:0")
		host, port, _ := net.SplitHostPort(s.addr)
		sub := startSub(t, "-h", host, "-p", port, "-V", tt.version, "-t", "x")
		s.stop(t)
		if code := sub.wait(t); code != ExitError || !sub.stderr.Contains(tt.want) {
			t.Errorf("-V %s: sub after the broker stopped = %d:\n%s", tt.version, code, sub.stderr)
		}
	}
}

// MQTT 3.1 (protocol name MQIsdp) works too; --repeat-delay spaces
// repeats.
func TestPubSubMQTT31(t *testing.T) {
	b := startPubsubBroker(t)
	sub := startSub(t, append(b.hostPort(), "-V", "mqttv31", "-t", "v31", "-q", "2", "-C", "2", "-v")...)
	start := time.Now()
	pub(t, append(b.hostPort(), "-V", "mqttv31", "-t", "v31", "-m", "old", "-q", "2", "--repeat", "2", "--repeat-delay", "0.1")...)
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Errorf("--repeat 2 --repeat-delay 0.1 took %v", took)
	}
	if code := sub.wait(t); code != ExitOK || sub.stdout.String() != "v31 old\nv31 old\n" || !sub.stderr.Contains("level 3") {
		t.Errorf("sub -V mqttv31 = %d, %q:\n%s", code, sub.stdout, sub.stderr)
	}
}
