package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	paho "github.com/eclipse/paho.golang/paho"
	"github.com/spf13/cobra"

	"github.com/baram-mqtt/baram/internal/config"
	"github.com/baram-mqtt/baram/internal/listener"
	"github.com/baram-mqtt/baram/internal/proctest"
	"github.com/baram-mqtt/baram/internal/testlog"
	"github.com/baram-mqtt/baram/internal/testpki"
)

// tlsWait bounds every network step of the TLS tests.
const tlsWait = 5 * time.Second

// writeMQTTSConfig writes a config file with one mqtts listener on
// 127.0.0.1:0 that serves p's server certificate, with tlsExtra added to
// its tls block, anonymous clients and a memory store.
func writeMQTTSConfig(t *testing.T, p *testpki.Files, tlsExtra string) string {
	t.Helper()
	yaml := fmt.Sprintf(`listeners:
  - protocol: mqtts
    address: 127.0.0.1:0
    tls:
      cert: %s
      key: %s
%sauth:
  allow_anonymous: true
store:
  type: memory
`, p.CertFile, p.KeyFile, tlsExtra)
	return testpki.WriteFile(t, p.Dir, "baram.yaml", []byte(yaml))
}

// tlsClient is a paho.golang (MQTT 5) client connected over TLS.
type tlsClient struct {
	*paho.Client
	state tls.ConnectionState // of the TLS connection
	msgs  chan *paho.Publish  // messages received
}

// connectTLS dials addr with tls.Dial and cfg and sends CONNECT with
// paho.golang. On success the client disconnects when the test ends.
func connectTLS(t *testing.T, addr string, cfg *tls.Config, id string) (*tlsClient, error) {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: tlsWait}, "tcp", addr, cfg)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	c := &tlsClient{state: conn.ConnectionState(), msgs: make(chan *paho.Publish, 10)}
	c.Client = paho.NewClient(paho.ClientConfig{
		// paho writes a packet in several Writes and pings from another
		// goroutine; over TLS only this wrapper keeps packets whole.
		Conn: packets.NewThreadSafeConn(conn),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			c.msgs <- pr.Packet
			return true, nil
		}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), tlsWait)
	defer cancel()
	ack, err := c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30})
	if err != nil { // paho has closed conn
		return nil, fmt.Errorf("connect: %w", err)
	}
	if ack.ReasonCode != 0 {
		return nil, fmt.Errorf("CONNACK reason 0x%02X", ack.ReasonCode)
	}
	t.Cleanup(func() {
		_ = c.Disconnect(&paho.Disconnect{})
		<-c.Done()
	})
	return c, nil
}

// serverSerial dials addr with cfg, handshakes, and returns the serial
// number of the certificate the server sent.
func serverSerial(t *testing.T, addr string, cfg *tls.Config) *big.Int {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: tlsWait}, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber
}

// stop cancels the server, waits for it and checks that it exited well.
func (s *server) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	if code := s.wait(t); code != ExitOK {
		t.Errorf("exit status %d, want 0:\n%s", code, s.stderr)
	}
}

func TestServeMQTTSWithClientCertificates(t *testing.T) {
	p := testpki.NewFiles(t)
	cfg := writeMQTTSConfig(t, p, fmt.Sprintf("      client_ca: %s\n      require_client_cert: true\n", p.CAFile))
	s := startServe(t, "--config", cfg)
	defer s.stop(t)
	if strings.HasSuffix(s.addr, ":0") || !strings.Contains(s.stderr.String(), `listeners=mqtts://127.0.0.1:`) {
		t.Fatalf("startup line does not show the bound mqtts listener:\n%s", s.stderr)
	}

	sub, err := connectTLS(t, s.addr, p.CA.ClientConfig(p.Client.TLS(t)), "sub")
	if err != nil {
		t.Fatalf("CONNECT with a client certificate: %v\n%s", err, s.stderr)
	}
	if got := sub.state.PeerCertificates[0].SerialNumber; got.Cmp(p.Server.Cert.SerialNumber) != 0 {
		t.Errorf("server certificate serial %X, want %X", got, p.Server.Cert.SerialNumber)
	}
	ctx, cancel := context.WithTimeout(context.Background(), tlsWait)
	defer cancel()
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "x", QoS: 1}}}); err != nil {
		t.Fatalf("subscribe: %v\n%s", err, s.stderr)
	}

	// The same client without its certificate fails in the handshake
	// (in TLS 1.3 its first read, after CONNECT was sent), not in CONNACK.
	_, err = connectTLS(t, s.addr, p.CA.ClientConfig(), "nocert")
	if err == nil || strings.HasPrefix(err.Error(), "CONNACK") {
		t.Fatalf("CONNECT without a client certificate: %v, want a failed handshake", err)
	}
	t.Logf("without a client certificate: %v", err)

	t.Run("mosquitto_pub", func(t *testing.T) {
		pub := proctest.Tool(t, "mosquitto_pub", "mosquitto-clients")
		_, port, _ := net.SplitHostPort(s.addr)
		ctx, cancel := context.WithTimeout(context.Background(), 2*tlsWait)
		defer cancel()
		out, err := exec.CommandContext(ctx, pub, "--cafile", p.CAFile, "--cert", p.ClientCertFile, "--key", p.ClientKeyFile,
			"-h", "127.0.0.1", "-p", port, "-t", "x", "-m", "y", "-q", "1", "-d").CombinedOutput()
		if err != nil {
			t.Fatalf("mosquitto_pub: %v\n%s\nbroker log:\n%s", err, out, s.stderr)
		}
		if !bytes.Contains(out, []byte("received PUBACK")) {
			t.Errorf("mosquitto_pub got no PUBACK:\n%s", out)
		}
		select {
		case m := <-sub.msgs:
			if m.Topic != "x" || string(m.Payload) != "y" {
				t.Errorf("subscriber got %s %q, want x \"y\"", m.Topic, m.Payload)
			}
		case <-time.After(tlsWait):
			t.Fatalf("the subscriber did not get mosquitto_pub's message\n%s", out)
		}

		// mosquitto_pub without its certificate is refused.
		out, err = exec.CommandContext(ctx, pub, "--cafile", p.CAFile,
			"-h", "127.0.0.1", "-p", port, "-t", "x", "-m", "y", "-d").CombinedOutput()
		if err == nil {
			t.Errorf("mosquitto_pub without a client certificate succeeded:\n%s", out)
		}
	})
}

func TestServeMQTTSIdentityAsUsername(t *testing.T) {
	p := testpki.NewFiles(t)
	tlsBlock := fmt.Sprintf("    tls:\n      cert: %s\n      key: %s\n      client_ca: %s\n", p.CertFile, p.KeyFile, p.CAFile)
	cfg := testpki.WriteFile(t, p.Dir, "identity.yaml", []byte("listeners:\n"+
		"  - protocol: mqtts\n    address: 127.0.0.1:0\n"+tlsBlock+"      identity_as_username: cn\n"+
		"  - protocol: mqtts\n    address: 127.0.0.1:0\n"+tlsBlock+
		"auth:\n  allow_anonymous: false\nstore:\n  type: memory\n"))
	s := startServe(t, "--config", cfg)
	defer s.stop(t)
	m := regexp.MustCompile(`listeners="mqtts://[^ ,]+, mqtts://([^ ,"]+)`).FindStringSubmatch(s.stderr.String())
	if m == nil {
		t.Fatalf("no second listener in the startup line:\n%s", s.stderr)
	}
	plainAddr := m[1]
	if strings.Contains(s.stderr.String(), "no client can connect") {
		t.Errorf("warns that no client can connect although certificates give usernames:\n%s", s.stderr)
	}

	// Anonymous clients are refused: only the certificate's CN admits one.
	if _, err := connectTLS(t, s.addr, p.CA.ClientConfig(p.Client.TLS(t)), "alice-device"); err != nil {
		t.Fatalf("CONNECT with a certificate on the identity_as_username listener: %v\n%s", err, s.stderr)
	}
	if _, err := connectTLS(t, s.addr, p.CA.ClientConfig(), "nocert"); err == nil || !strings.Contains(err.Error(), "failed to connect to server") {
		t.Errorf("CONNECT without a certificate: %v, want a refusal in CONNACK", err)
	}
	if _, err := connectTLS(t, plainAddr, p.CA.ClientConfig(p.Client.TLS(t)), "elsewhere"); err == nil || !strings.Contains(err.Error(), "failed to connect to server") {
		t.Errorf("CONNECT with a certificate on the listener without identity_as_username: %v, want a refusal in CONNACK", err)
	}
}

func TestServeMQTTSFromFlags(t *testing.T) {
	p := testpki.NewFiles(t)
	s := startServe(t, "--store", "memory", "--listen", "mqtts://127.0.0.1:0", "--listen", "127.0.0.1:0",
		"--tls-cert", p.CertFile, "--tls-key", p.KeyFile)
	defer s.stop(t)
	if !strings.Contains(s.stderr.String(), `listeners="mqtts://127.0.0.1:`) || !strings.Contains(s.stderr.String(), `, mqtt://127.0.0.1:`) {
		t.Errorf("startup line does not show both listeners:\n%s", s.stderr)
	}
	// No client CA: clients are not asked for a certificate.
	c, err := connectTLS(t, s.addr, p.CA.ClientConfig(), "c")
	if err != nil {
		t.Fatalf("CONNECT: %v\n%s", err, s.stderr)
	}
	if len(c.state.PeerCertificates) == 0 || c.state.PeerCertificates[0].SerialNumber.Cmp(p.Server.Cert.SerialNumber) != 0 {
		t.Errorf("server certificate is not server.pem")
	}
	// A client that does not trust the CA fails the handshake.
	if _, err := connectTLS(t, s.addr, &tls.Config{RootCAs: x509.NewCertPool()}, "d"); err == nil {
		t.Error("a client that does not trust the CA connected")
	}
}

func TestFlagsSetListenerTLS(t *testing.T) {
	p := testpki.NewFiles(t)
	cmd := &cobra.Command{Use: "serve"}
	var f serveFlags
	f.bind(cmd)
	if err := cmd.ParseFlags([]string{"--config", writeMQTTSConfig(t, p, ""), "--listen", "mqtts://[::1]:8883",
		"--listen", "127.0.0.1:1883", "--listen", "wss://127.0.0.1:8884/mqtt", "--tls-cert", p.CertFile, "--tls-key", p.KeyFile}); err != nil {
		t.Fatal(err)
	}
	cfg, err := f.load(cmd.Flags().Changed)
	if err != nil {
		t.Fatal(err)
	}
	want := []config.Listener{
		{Protocol: "mqtts", Address: "[::1]:8883", TLS: &config.TLS{Cert: p.CertFile, Key: p.KeyFile}},
		{Protocol: "mqtt", Address: "127.0.0.1:1883"},
		{Protocol: "wss", Address: "127.0.0.1:8884", Path: "/mqtt", TLS: &config.TLS{Cert: p.CertFile, Key: p.KeyFile}},
	}
	if !reflect.DeepEqual(cfg.Listeners, want) {
		t.Errorf("listeners = %+v, want %+v", cfg.Listeners, want)
	}
}

func TestServeTLSErrors(t *testing.T) {
	p := testpki.NewFiles(t)
	missing := filepath.Join(p.Dir, "missing.pem")
	garbage := testpki.WriteFile(t, p.Dir, "garbage.pem", []byte("not a certificate\n"))
	const listen = "mqtts://127.0.0.1:0"
	flagTests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"mqtts without a certificate", []string{"--listen", listen}, ExitUsage,
			"baram: --listen mqtts://127.0.0.1:0: an mqtts listener needs a certificate and its key: " +
				"add --tls-cert FILE and --tls-key FILE, or declare the listener with a tls block in --config FILE\n"},
		{"mqtts without a key", []string{"--listen", listen, "--tls-cert", p.CertFile}, ExitUsage,
			"baram: --tls-key: missing; --listen mqtts://127.0.0.1:0 needs the private key of --tls-cert\n"},
		{"mqtts without a cert", []string{"--listen", listen, "--tls-key", p.KeyFile}, ExitUsage,
			"baram: --tls-cert: missing; --listen mqtts://127.0.0.1:0 needs the certificate of --tls-key\n"},
		{"certificate without mqtts", []string{"--listen", "127.0.0.1:0", "--tls-cert", p.CertFile, "--tls-key", p.KeyFile}, ExitUsage,
			"baram: --tls-cert and --tls-key are for --listen mqtts://host:port or wss://host:port; in a config file a listener's certificate is tls.cert and tls.key\n"},
		{"certificate without --listen", []string{"--tls-cert", p.CertFile, "--tls-key", p.KeyFile}, ExitUsage,
			"baram: --tls-cert and --tls-key are for --listen mqtts://host:port or wss://host:port; in a config file a listener's certificate is tls.cert and tls.key\n"},
		{"missing cert file", []string{"--listen", listen, "--tls-cert", missing, "--tls-key", p.KeyFile}, ExitError,
			"baram: --tls-cert: cannot read " + missing + ": no such file or directory\n"},
		{"directory as key", []string{"--listen", listen, "--tls-cert", p.CertFile, "--tls-key", p.Dir}, ExitError,
			"baram: --tls-key: cannot read " + p.Dir + ": it is a directory\n"},
		{"cert that does not parse", []string{"--listen", listen, "--tls-cert", garbage, "--tls-key", p.KeyFile}, ExitError,
			"baram: listeners[0].tls: cert " + garbage + ", key " + p.KeyFile + ": tls: failed to find any PEM data in certificate input\n"},
		{"key of another certificate", []string{"--listen", listen, "--tls-cert", p.CertFile, "--tls-key", p.ClientKeyFile}, ExitError,
			"baram: listeners[0].tls: cert " + p.CertFile + ", key " + p.ClientKeyFile + ": tls: private key does not match public key\n"},
	}
	for _, tt := range flagTests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"serve", "--store", "memory"}, tt.args...)
			code, _, errOut := run(t, args...)
			if tt.code == ExitUsage {
				errOut = strings.TrimSuffix(errOut, "Run 'baram serve --help' for usage.\n")
			}
			if code != tt.code || errOut != tt.want {
				t.Errorf("baram %v = %d,\n%q; want %d,\n%q", args, code, errOut, tt.code, tt.want)
			}
		})
	}

	tlsBlock := func(lines ...string) string {
		return "    tls:\n      " + strings.Join(lines, "\n      ") + "\n"
	}
	needPair := "missing; an mqtts listener needs tls.cert and tls.key, its certificate chain and private key (PEM files)"
	fileTests := []struct {
		name, listener, want string
	}{
		{"mqtts without tls", "  - protocol: mqtts\n    address: 127.0.0.1:0\n",
			"listeners[0].tls.cert: " + needPair + "\n  listeners[0].tls.key: " + needPair},
		{"tls on mqtt", "  - address: 127.0.0.1:0\n" + tlsBlock("cert: "+p.CertFile, "key: "+p.KeyFile),
			"listeners[0].tls: only for mqtts listeners; set protocol: mqtts to serve TLS, or remove tls"},
		{"require_client_cert without client_ca", "  - protocol: mqtts\n    address: 127.0.0.1:0\n" +
			tlsBlock("cert: "+p.CertFile, "key: "+p.KeyFile, "require_client_cert: true"),
			"listeners[0].tls.require_client_cert: needs tls.client_ca, the CAs that sign client certificates"},
		{"identity_as_username without client_ca", "  - protocol: mqtts\n    address: 127.0.0.1:0\n" +
			tlsBlock("cert: "+p.CertFile, "key: "+p.KeyFile, "identity_as_username: cn"),
			"listeners[0].tls.identity_as_username: needs tls.client_ca, the CAs that sign client certificates"},
		{"missing files", "  - protocol: mqtts\n    address: 127.0.0.1:0\n" +
			tlsBlock("cert: "+missing, "key: "+p.KeyFile, "client_ca: "+p.Dir),
			"listeners[0].tls.cert: cannot read " + missing + ": no such file or directory\n" +
				"  listeners[0].tls.client_ca: cannot read " + p.Dir + ": it is a directory"},
	}
	for _, tt := range fileTests {
		t.Run(tt.name, func(t *testing.T) {
			path := testpki.WriteFile(t, p.Dir, strings.ReplaceAll(tt.name, " ", "_")+".yaml",
				[]byte("store:\n  type: memory\nlisteners:\n"+tt.listener))
			code, _, errOut := run(t, "serve", "--config", path)
			if want := "baram: config " + path + ": " + tt.want + "\n"; code != ExitError || errOut != want {
				t.Errorf("serve --config = %d,\n%q; want %d,\n%q", code, errOut, ExitError, want)
			}
		})
	}
}

// tlsTestListener opens an mqtts listener as openListeners does, but
// without the file poller, so that only a reload picks up new files. It
// handshakes every connection, and stops when the test ends.
func tlsTestListener(t *testing.T, l config.Listener, logger *slog.Logger) openListener {
	t.Helper()
	lc := l.TLS.ListenerConfig()
	lc.PollInterval = -1
	tl, err := listener.NewTLS(t.Context(), lc, logger)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := listener.Listen(t.Context(), "tcp", l.Address, tl)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(tlsWait))
				_ = c.(*tls.Conn).Handshake()
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return openListener{ln, l.Protocol, tl, l.TLS.IdentityAsUsername}
}

// TestReloadTLS swaps the certificate files and calls reloadAll, which
// the SIGHUP goroutine calls, on the reloaders that serve makes.
func TestReloadTLS(t *testing.T) {
	p := testpki.NewFiles(t)
	var logs testlog.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	ln := tlsTestListener(t, config.Listener{Protocol: config.ProtocolMQTTS, Address: "127.0.0.1:0",
		TLS: &config.TLS{Cert: p.CertFile, Key: p.KeyFile}}, logger)
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	rs := tlsReloaders([]openListener{{plain, config.ProtocolMQTT, nil, ""}, ln})
	name := "tls mqtts://" + ln.Addr().String()
	if len(rs) != 1 || rs[0].name != name {
		t.Fatalf("reloaders = %+v, want one for %s", rs, name)
	}
	addr, client := ln.Addr().String(), p.CA.ClientConfig()

	if got := serverSerial(t, addr, client); got.Cmp(p.Server.Cert.SerialNumber) != 0 {
		t.Fatalf("serial before reload %X, want %X", got, p.Server.Cert.SerialNumber)
	}
	renewed := p.RenewServer(t)
	if got := serverSerial(t, addr, client); got.Cmp(p.Server.Cert.SerialNumber) != 0 {
		t.Fatalf("serial changed to %X without a reload", got)
	}
	if err := reloadAll(logger, rs); err != nil {
		t.Fatalf("reloadAll: %v", err)
	}
	if got := serverSerial(t, addr, client); got.Cmp(renewed.Cert.SerialNumber) != 0 {
		t.Fatalf("serial after reload %X, want the new %X", got, renewed.Cert.SerialNumber)
	}
	if want := fmt.Sprintf(`level=INFO msg=reloaded what="%s"`, name); !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %s:\n%s", want, logs.String())
	}

	// A bad file is reported and the certificate in use stays.
	testpki.WriteFile(t, p.Dir, "server.pem", []byte("half-written"))
	err = reloadAll(logger, rs)
	if want := name + ": tls: cert " + p.CertFile; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("reloadAll with a bad file = %v, want an error starting with %s", err, want)
	}
	if want := fmt.Sprintf(`level=ERROR msg="reload failed; still using the previous one" what="%s" err="tls: cert %s`, name, p.CertFile); !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %s:\n%s", want, logs.String())
	}
	if got := serverSerial(t, addr, client); got.Cmp(renewed.Cert.SerialNumber) != 0 {
		t.Fatalf("serial after a failed reload %X, want the previous %X", got, renewed.Cert.SerialNumber)
	}
}

func TestReloadAllGoesOn(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	var calls []string
	rs := []reloader{
		{"password file", func() error { calls = append(calls, "password file"); return errors.New("line 3: bad hash") }},
		{"acl", func() error { calls = append(calls, "acl"); return nil }},
	}
	err := reloadAll(logger, rs)
	if err == nil || err.Error() != "password file: line 3: bad hash" {
		t.Errorf("reloadAll = %v", err)
	}
	if strings.Join(calls, ",") != "password file,acl" {
		t.Errorf("reloaders called: %v", calls)
	}
	for _, want := range []string{
		`level=ERROR msg="reload failed; still using the previous one" what="password file" err="line 3: bad hash"`,
		`level=INFO msg=reloaded what=acl`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
}

func TestWatchReload(t *testing.T) {
	var logs testlog.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	called := make(chan struct{}, 1)
	rs := []reloader{{"thing", func() error { called <- struct{}{}; return nil }}}
	hup := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { watchReload(ctx, hup, logger, rs) })
	hup <- syscall.SIGHUP
	select {
	case <-called:
	case <-time.After(tlsWait):
		t.Fatal("no reload after SIGHUP")
	}
	cancel()
	wg.Wait()
	if want := `msg=reloading signal=hangup items=1`; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %s:\n%s", want, logs.String())
	}

	// Without reloaders a SIGHUP is only logged.
	ctx, cancel = context.WithCancel(context.Background())
	wg.Go(func() { watchReload(ctx, hup, logger, nil) })
	hup <- syscall.SIGHUP
	deadline := time.Now().Add(tlsWait)
	for !strings.Contains(logs.String(), "msg=\"nothing to reload\" signal=hangup") {
		if time.Now().After(deadline) {
			t.Fatalf("no log line for a SIGHUP without reloaders:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()
}
