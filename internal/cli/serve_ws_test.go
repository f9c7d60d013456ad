package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/eclipse/paho.golang/packets"
	paho "github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/baram-mqtt/baram/internal/config"
	"github.com/baram-mqtt/baram/internal/listener"
	"github.com/baram-mqtt/baram/internal/testpki"
)

// listenerURL returns the URL of the startup line that starts with
// scheme:// (as in "ws://127.0.0.1:8083/mqtt").
func listenerURL(t *testing.T, s *server, scheme string) string {
	t.Helper()
	m := regexp.MustCompile(`[ =",]` + scheme + `://[^ ,"]+`).FindString(s.stderr.String())
	if m == "" {
		t.Fatalf("no %s listener in the startup line:\n%s", scheme, s.stderr)
	}
	return m[1:]
}

// wsPaho is a paho.golang (MQTT 5) client connected over a WebSocket.
type wsPaho struct {
	*paho.Client
	msgs chan *paho.Publish
}

// connectWSPaho dials url (ws:// or wss://, with tlsCfg) with
// coder/websocket, offering the subprotocol mqtt, and sends CONNECT over
// it with paho.golang. On success it disconnects when the test ends.
func connectWSPaho(t *testing.T, url string, tlsCfg *tls.Config, id string) (*wsPaho, error) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: tlsCfg}
	t.Cleanup(tr.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), tlsWait)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		Subprotocols: []string{"mqtt"},
		HTTPClient:   &http.Client{Transport: tr},
	})
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	// paho writes a packet in several Writes, each a WebSocket message:
	// the broker reads them as one stream.
	nc := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
	c := &wsPaho{msgs: make(chan *paho.Publish, 10)}
	c.Client = paho.NewClient(paho.ClientConfig{
		Conn: packets.NewThreadSafeConn(nc),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			c.msgs <- pr.Packet
			return true, nil
		}},
	})
	ack, err := c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	if ack.ReasonCode != 0 {
		nc.Close()
		return nil, fmt.Errorf("CONNACK reason 0x%02X", ack.ReasonCode)
	}
	t.Cleanup(func() {
		_ = c.Disconnect(&paho.Disconnect{})
		<-c.Done()
	})
	return c, nil
}

// next returns the next message c receives.
func (c *wsPaho) next(t *testing.T) *paho.Publish {
	t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-time.After(tlsWait):
		t.Fatal("no message arrived")
		return nil
	}
}

// connectPahoV3 connects a paho.mqtt.golang (MQTT 3.1.1) client to url,
// which may be ws:// or wss:// (with tlsCfg); it disconnects when the
// test ends.
func connectPahoV3(t *testing.T, url string, tlsCfg *tls.Config, id string) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetTLSConfig(tlsCfg).
		SetAutoReconnect(false).SetConnectRetry(false).SetKeepAlive(30 * time.Second).SetConnectTimeout(tlsWait)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(tlsWait) || tok.Error() != nil {
		t.Fatalf("paho.mqtt.golang connect to %s: %v", url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func TestServeWebSocket(t *testing.T) {
	p := testpki.NewFiles(t)
	cfg := testpki.WriteFile(t, p.Dir, "ws.yaml", []byte(fmt.Sprintf(`listeners:
  - protocol: mqtt
    address: 127.0.0.1:0
  - protocol: ws
    address: 127.0.0.1:0
  - protocol: wss
    address: 127.0.0.1:0
    path: /secure-mqtt
    tls:
      cert: %s
      key: %s
auth:
  allow_anonymous: true
store:
  type: memory
`, p.CertFile, p.KeyFile)))
	s := startServe(t, "--config", cfg)
	defer s.stop(t)
	wsURL, wssURL := listenerURL(t, s, "ws"), listenerURL(t, s, "wss")
	if !strings.HasSuffix(wsURL, "/mqtt") || !strings.HasSuffix(wssURL, "/secure-mqtt") {
		t.Fatalf("startup line shows %s and %s, want their paths:\n%s", wsURL, wssURL, s.stderr)
	}
	tlsCfg := p.CA.ClientConfig()

	// MQTT 5 over wss subscribes; MQTT 3.1.1 over ws publishes.
	sub, err := connectWSPaho(t, wssURL, tlsCfg, "v5-wss")
	if err != nil {
		t.Fatalf("paho.golang over %s: %v\n%s", wssURL, err, s.stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), tlsWait)
	defer cancel()
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "ws/#", QoS: 1}}}); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	pub := connectPahoV3(t, wsURL, nil, "v3-ws")
	if tok := pub.Publish("ws/a", 1, false, "over ws"); !tok.WaitTimeout(tlsWait) || tok.Error() != nil {
		t.Fatalf("publish over ws: %v", tok.Error())
	}
	if m := sub.next(t); m.Topic != "ws/a" || string(m.Payload) != "over ws" {
		t.Errorf("wss subscriber got %s %q", m.Topic, m.Payload)
	}

	// The other way round: MQTT 3.1.1 over wss subscribes, MQTT 5 over ws
	// publishes, with a payload larger than a WebSocket read chunk.
	got := make(chan mqtt.Message, 1)
	v3 := connectPahoV3(t, wssURL, tlsCfg, "v3-wss")
	if tok := v3.Subscribe("big", 1, func(_ mqtt.Client, m mqtt.Message) { got <- m }); !tok.WaitTimeout(tlsWait) || tok.Error() != nil {
		t.Fatalf("subscribe over wss: %v", tok.Error())
	}
	v5, err := connectWSPaho(t, wsURL, nil, "v5-ws")
	if err != nil {
		t.Fatalf("paho.golang over %s: %v", wsURL, err)
	}
	payload := strings.Repeat("0123456789", 5000)
	if _, err := v5.Publish(ctx, &paho.Publish{Topic: "big", QoS: 1, Payload: []byte(payload)}); err != nil {
		t.Fatalf("publish over ws: %v", err)
	}
	select {
	case m := <-got:
		if string(m.Payload()) != payload {
			t.Errorf("wss subscriber got %d bytes, want the %d published", len(m.Payload()), len(payload))
		}
	case <-time.After(tlsWait):
		t.Fatalf("the wss subscriber got nothing\n%s", s.stderr)
	}

	// A plain HTTP request for the path is answered 426 Upgrade Required.
	resp, err := http.Get(strings.Replace(wsURL, "ws://", "http://", 1))
	if err == nil {
		resp.Body.Close()
		http.DefaultClient.CloseIdleConnections()
	}
	if err != nil || resp.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("plain GET of %s: %v %v, want 426", wsURL, resp, err)
	}
}

func TestServeWSSIdentityAsUsername(t *testing.T) {
	p := testpki.NewFiles(t)
	cfg := testpki.WriteFile(t, p.Dir, "wss.yaml", []byte(fmt.Sprintf(`listeners:
  - protocol: mqtt
    address: 127.0.0.1:0
  - protocol: wss
    address: 127.0.0.1:0
    tls:
      cert: %s
      key: %s
      client_ca: %s
      identity_as_username: cn
auth:
  allow_anonymous: false
store:
  type: memory
`, p.CertFile, p.KeyFile, p.CAFile)))
	s := startServe(t, "--config", cfg)
	defer s.stop(t)
	wssURL := listenerURL(t, s, "wss")

	// Anonymous clients are refused: only the certificate's CN admits one,
	// as on an mqtts listener.
	if _, err := connectWSPaho(t, wssURL, p.CA.ClientConfig(p.Client.TLS(t)), "alice-device"); err != nil {
		t.Fatalf("CONNECT over wss with a client certificate: %v\n%s", err, s.stderr)
	}
	_, err := connectWSPaho(t, wssURL, p.CA.ClientConfig(), "nocert")
	if err == nil || !strings.Contains(err.Error(), "failed to connect to server") {
		t.Errorf("CONNECT over wss without a certificate: %v, want a refusal in CONNACK", err)
	}
}

func TestServeProxyProtocol(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "proxy.yaml")
	if err := os.WriteFile(cfg, []byte(`listeners:
  - protocol: mqtt
    address: 127.0.0.1:0
    proxy_protocol: true
    trusted_proxies: [127.0.0.1]
auth:
  allow_anonymous: true
store:
  type: memory
log:
  level: debug
`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "--config", cfg)
	defer s.stop(t)

	// A v1 header from the trusted proxy names the client the broker sees.
	nc, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(nc, "PROXY TCP4 203.0.113.7 192.0.2.1 4242 1883\r\n"); err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{Conn: nc})
	ctx, cancel := context.WithTimeout(context.Background(), tlsWait)
	defer cancel()
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: "behind-proxy", CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatalf("connect through the PROXY header: %v\n%s", err, s.stderr)
	}
	defer func() { c.Disconnect(&paho.Disconnect{}); <-c.Done() }()
	// The line is written after the CONNACK leaves.
	seen := regexp.MustCompile(`msg="client connected"[^\n]* remote=203\.0\.113\.7:4242 `).MatchString
	if !s.stderr.Wait(seen, tlsWait) {
		t.Errorf("the broker did not see the client at 203.0.113.7:4242:\n%s", s.stderr)
	}

	// The trusted proxy must send a header: a bare CONNECT is refused.
	bare, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	c2 := paho.NewClient(paho.ClientConfig{Conn: bare})
	if _, err := c2.Connect(ctx, &paho.Connect{ClientID: "bare", CleanStart: true, KeepAlive: 30}); err == nil {
		t.Error("a connection without PROXY header from the trusted proxy was served")
		c2.Disconnect(&paho.Disconnect{})
	}
	<-c2.Done()
	refused := func(out string) bool { return strings.Contains(out, `msg="PROXY protocol: connection refused"`) }
	if !s.stderr.Wait(refused, tlsWait) {
		t.Errorf("the refusal is not logged:\n%s", s.stderr)
	}
}

// TestOpenListenersWeb checks the URLs of ws and wss listeners and that
// SIGHUP reloads the certificate of a wss listener too.
func TestOpenListenersWeb(t *testing.T) {
	p := testpki.NewFiles(t)
	ls := []config.Listener{
		{Protocol: config.ProtocolWS, Address: "127.0.0.1:0", ProxyProtocol: true, TrustedProxies: []string{"10.0.0.0/8"}},
		{Protocol: config.ProtocolWSS, Address: "127.0.0.1:0", Path: "/m", TLS: &config.TLS{Cert: p.CertFile, Key: p.KeyFile}},
	}
	lns, err := openListeners(t.Context(), ls, false, listener.Listen, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer closeListeners(lns)
	if got, want := lns[0].url(), "ws://"+lns[0].Addr().String()+"/mqtt"; got != want {
		t.Errorf("url %s, want %s", got, want)
	}
	if got, want := lns[1].url(), "wss://"+lns[1].Addr().String()+"/m"; got != want {
		t.Errorf("url %s, want %s", got, want)
	}
	rs := tlsReloaders(lns)
	if len(rs) != 1 || rs[0].name != "tls "+lns[1].url() {
		t.Errorf("reloaders %+v, want one for the wss listener", rs)
	}
}
