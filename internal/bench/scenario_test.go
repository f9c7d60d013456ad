package bench_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/bench"
	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/listener"
	"github.com/baram-mqtt/baram/internal/packet"
)

// A paced run offers the rate it is given: every publisher its share,
// whatever the ticker's jitter.
func TestRateLimited(t *testing.T) {
	addr := quietBroker(t, broker.Options{})
	for _, tc := range []struct {
		qos  byte
		pubs int
		rate float64
	}{{0, 4, 2000}, {1, 3, 900}} {
		pr, err := bench.Pub(context.Background(), bench.PubConfig{Target: bench.Target{Addr: addr},
			Publishers: tc.pubs, QoS: tc.qos, Rate: tc.rate, Duration: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		noErrors(t, "pub", pr.Errors)
		if lo, hi := 0.85*tc.rate, 1.1*tc.rate; float64(pr.Sent) < lo || float64(pr.Sent) > hi {
			t.Errorf("QoS %d, %v msgs/s offered over 1s: sent %d, want %v..%v", tc.qos, tc.rate, pr.Sent, lo, hi)
		}
		if pr.Acked != pr.Sent || pr.OfferedRate != tc.rate {
			t.Errorf("acked %d of %d, offered %v", pr.Acked, pr.Sent, pr.OfferedRate)
		}
		for i, st := range pr.PerPublisher {
			if share := float64(pr.Sent) / float64(tc.pubs); float64(st.Sent) < 0.8*share || float64(st.Sent) > 1.2*share {
				t.Errorf("publisher %d sent %d of %d", i, st.Sent, pr.Sent)
			}
		}
	}
}

// A counted paced run takes count/rate, not less.
func TestRateLimitedCount(t *testing.T) {
	addr := quietBroker(t, broker.Options{})
	start := time.Now()
	pr, err := bench.Pub(context.Background(), bench.PubConfig{Target: bench.Target{Addr: addr},
		QoS: 1, Rate: 1000, Count: 300, Duration: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	noErrors(t, "pub", pr.Errors)
	took := time.Since(start)
	if pr.Sent != 300 || pr.Acked != 300 || took < 290*time.Millisecond || took > 3*time.Second {
		t.Errorf("sent %d acked %d in %v; want 300 in about 300ms", pr.Sent, pr.Acked, took)
	}
}

// run runs a scenario against target and checks for errors.
func run(t *testing.T, cfg bench.Config) *bench.Report {
	t.Helper()
	rep, err := bench.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	noErrors(t, cfg.Scenario, rep.Errors)
	if err := rep.Failure(); err != nil {
		t.Fatal(err)
	}
	return rep
}

// noLoss checks a counted run delivered every message exactly once.
func noLoss(t *testing.T, rep *bench.Report, want int64) {
	t.Helper()
	if rep.Expected != want || rep.Unique != want || rep.Received != want || rep.Lost != 0 || rep.Duplicates != 0 || rep.Foreign != 0 {
		t.Fatalf("want %d deliveries: %+v", want, rep)
	}
	if rep.Latency.Count != uint64(want) || rep.Latency.P50Ms <= 0 || rep.Rate <= 0 || rep.Rate != rep.ReceivedRate {
		t.Fatalf("latency %+v, rate %v", rep.Latency, rep.Rate)
	}
}

func TestScenarios(t *testing.T) {
	target := bench.Target{Addr: quietBroker(t, broker.Options{})}
	t.Run("fanin", func(t *testing.T) {
		rep := run(t, bench.Config{Target: target, Scenario: bench.ScenarioFanin, Publishers: 5, Subscribers: 2, QoS: 1, Count: 100})
		noLoss(t, rep, 1000)
		if rep.Sent != 500 || rep.Acked != 500 || rep.AckLatency.Count != 500 {
			t.Errorf("sent %d acked %d", rep.Sent, rep.Acked)
		}
	})
	t.Run("fanout", func(t *testing.T) {
		rep := run(t, bench.Config{Target: target, Scenario: bench.ScenarioFanout, Subscribers: 4, QoS: 2, Count: 100})
		noLoss(t, rep, 400)
	})
	t.Run("pairs", func(t *testing.T) {
		rep := run(t, bench.Config{Target: target, Scenario: bench.ScenarioPairs, Clients: 6, QoS: 1, Count: 50})
		noLoss(t, rep, 300)
		if rep.Publishers != 6 || rep.Subscribers != 6 {
			t.Errorf("%d publishers, %d subscribers", rep.Publishers, rep.Subscribers)
		}
	})
	t.Run("latency", func(t *testing.T) {
		rep := run(t, bench.Config{Target: target, Scenario: bench.ScenarioLatency, Duration: 500 * time.Millisecond, Rate: 2000})
		if rep.OfferedRate != 2000 || rep.Sent < 800 || rep.Sent > 1200 || rep.Latency.Count == 0 {
			t.Errorf("offered %v, sent %d, latency %+v", rep.OfferedRate, rep.Sent, rep.Latency)
		}
	})
	t.Run("pub", func(t *testing.T) {
		rep := run(t, bench.Config{Target: target, Scenario: bench.ScenarioPub, Publishers: 2, QoS: 1, Count: 100, PayloadSize: 8})
		if rep.Sent != 200 || rep.Acked != 200 || rep.Subscribers != 0 || rep.Rate != rep.SentRate || rep.AckLatency.Count != 200 {
			t.Errorf("%+v", rep)
		}
	})
	t.Run("conn", func(t *testing.T) {
		var snaps []bench.Snapshot
		var mu sync.Mutex
		rep := run(t, bench.Config{Target: target, Scenario: bench.ScenarioConn, Clients: 40, Rate: 400,
			Duration: 200 * time.Millisecond, ProgressInterval: 20 * time.Millisecond,
			Progress: func(s bench.Snapshot) { mu.Lock(); snaps = append(snaps, s); mu.Unlock() }})
		c := rep.Conn
		if c.Connected != 40 || c.Failed != 0 || c.Alive != 40 || c.Latency.Count != 40 || c.HeldFor < 0.19 {
			t.Fatalf("%+v", c)
		}
		// 40 connections at 400/s take about 100ms.
		if c.ConnectElapsed < 0.08 || c.ConnectRate > 500 {
			t.Errorf("connected in %vs, %v/s; offered 400/s", c.ConnectElapsed, c.ConnectRate)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(snaps) < 5 || snaps[len(snaps)-1].Conns != 40 || snaps[len(snaps)-1].P50 <= 0 {
			t.Errorf("snapshots %+v", snaps)
		}
	})
}

// A subscriber-only run counts what another run publishes.
func TestScenarioSub(t *testing.T) {
	target := bench.Target{Addr: quietBroker(t, broker.Options{})}
	done := make(chan *bench.Report, 1)
	ready := make(chan struct{})
	go func() {
		defer close(done)
		rep, err := bench.Run(context.Background(), bench.Config{Target: target, Scenario: bench.ScenarioSub, QoS: 1,
			Topic: "elsewhere", Count: 150, Duration: 5 * time.Second, ProgressInterval: 5 * time.Millisecond,
			Progress: func(s bench.Snapshot) {
				if s.Phase == "running" {
					select {
					case <-ready:
					default:
						close(ready)
					}
				}
			}})
		if err != nil {
			t.Error(err)
			return
		}
		done <- rep
	}()
	<-ready
	run(t, bench.Config{Target: target, Scenario: bench.ScenarioPub, Topic: "elsewhere", Publishers: 3, QoS: 1, Count: 50})
	rep := <-done
	if rep == nil {
		return
	}
	if rep.Unique != 150 || rep.Lost != 0 || rep.Duplicates != 0 || rep.Latency.Count != 150 {
		t.Fatalf("%+v", rep)
	}
}

// Progress snapshots and Ctrl-C: a cancelled run stops publishing, waits
// for what is in flight and reports no loss.
func TestScenarioInterrupted(t *testing.T) {
	target := bench.Target{Addr: quietBroker(t, broker.Options{})}
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var snaps []bench.Snapshot
	start := time.Now()
	rep, err := bench.Run(ctx, bench.Config{Target: target, Scenario: bench.ScenarioFanin, Publishers: 4, QoS: 1,
		Duration: time.Minute, ProgressInterval: 50 * time.Millisecond, Progress: func(s bench.Snapshot) {
			mu.Lock()
			defer mu.Unlock()
			snaps = append(snaps, s)
			if len(snaps) == 6 {
				cancel()
			}
		}})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("interrupted run took %v", took)
	}
	if !rep.Interrupted || rep.Lost != 0 || rep.Unique != rep.Acked || rep.Acked == 0 || rep.Failure() != nil {
		t.Fatalf("%+v", rep)
	}
	mu.Lock()
	defer mu.Unlock()
	last := snaps[len(snaps)-1]
	if last.Conns != 5 || last.Sent == 0 || last.Received == 0 || last.P99 < last.P50 || last.P50 <= 0 || last.Phase != "running" && last.Phase != "draining" {
		t.Errorf("last snapshot %+v", last)
	}
	if !slices.IsSortedFunc(snaps, func(a, b bench.Snapshot) int { return int(a.Sent - b.Sent) }) {
		t.Errorf("sent went backwards: %+v", snaps)
	}
}

func TestScenarioMQTT5(t *testing.T) {
	target := bench.Target{Addr: quietBroker(t, broker.Options{}), Version: packet.V5}
	rep := run(t, bench.Config{Target: target, Scenario: bench.ScenarioPairs, Clients: 3, QoS: 2, Count: 100})
	noLoss(t, rep, 300)
	if rep.MQTT != "5" {
		t.Errorf("mqtt %q", rep.MQTT)
	}
	rep = run(t, bench.Config{Target: target, Scenario: bench.ScenarioFanin, Publishers: 3, QoS: 1, Count: 100})
	noLoss(t, rep, 300)
}

func TestScenarioRefusals(t *testing.T) {
	target := bench.Target{Addr: "127.0.0.1:1"}
	for _, tc := range []struct {
		cfg  bench.Config
		want string
	}{
		{bench.Config{Target: target, Scenario: bench.ScenarioFanin, PayloadSize: 10}, "cannot hold the 24-byte header"},
		{bench.Config{Target: target, Scenario: "storm"}, `scenario "storm" is not one of conn, pub, sub`},
		{bench.Config{Target: target, Scenario: bench.ScenarioPub, Topic: "a/+"}, "wildcard"},
		{bench.Config{Target: target, Scenario: bench.ScenarioPub, QoS: 3}, "QoS 3"},
		{bench.Config{Target: bench.Target{Addr: "192.0.2.1:1883"}, Scenario: bench.ScenarioPub}, "loopback"},
		{bench.Config{Target: bench.Target{Addr: "127.0.0.1:1", Version: 3}, Scenario: bench.ScenarioPub}, "protocol level 3"},
		{bench.Config{Target: bench.Target{Addr: "127.0.0.1:1", Scheme: "http"}, Scenario: bench.ScenarioPub}, `scheme "http"`},
	} {
		if _, err := bench.Run(context.Background(), tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.cfg.Scenario, err, tc.want)
		}
	}
	// A remote target passes the checks when allowed (the dial fails).
	cfg := bench.Config{Target: bench.Target{Addr: "192.0.2.1:1883", AllowRemote: true, Sources: []string{"10.1.2.3"}}, Scenario: bench.ScenarioPub}
	if err := cfg.Validate(); err != nil {
		t.Errorf("remote target with AllowRemote: %v", err)
	}
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct{ in, url, addr string }{
		{"mqtt://broker.example:1884", "mqtt://broker.example:1884", "broker.example:1884"},
		{"tcp://10.0.0.1", "mqtt://10.0.0.1:1883", "10.0.0.1:1883"},
		{"mqtts://h", "mqtts://h:8883", "h:8883"},
		{"ssl://h:1", "mqtts://h:1", "h:1"},
		{"ws://h:8080", "ws://h:8080/mqtt", "h:8080"},
		{"wss://[::1]/ws", "wss://[::1]:443/ws", "[::1]:443"},
		{"WS://h:9/", "ws://h:9/", "h:9"},
	} {
		var tg bench.Target
		if err := tg.ParseURL(tc.in); err != nil || tg.URL() != tc.url || tg.Addr != tc.addr {
			t.Errorf("ParseURL(%q): %v, %q, %q; want %q, %q", tc.in, err, tg.URL(), tg.Addr, tc.url, tc.addr)
		}
	}
	for _, bad := range []string{"http://h", "mqtt://", "mqtt://h/path", "mqtt://u:p@h", "ws://h?x=1", "::"} {
		var tg bench.Target
		if err := tg.ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) accepted: %+v", bad, tg)
		}
	}
}

func TestParseSources(t *testing.T) {
	got, err := bench.ParseSources("127.0.0.2-127.0.0.4, ::1,127.0.0.9")
	if want := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "::1", "127.0.0.9"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("got %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"127.0.0.9-127.0.0.2", "127.0.0.2-127.0.1.3", "host", "127.0.0.1-x", "10.0.0.0-10.0.0.255,10.0.1.0-10.0.1.255," +
		strings.Repeat("10.0.2.1,", 4000)} {
		if _, err := bench.ParseSources(bad); err == nil {
			t.Errorf("ParseSources(%.40q) accepted", bad)
		}
	}
}

// serve runs a quiet broker on ln until the test ends.
func serve(t *testing.T, ln net.Listener) {
	t.Helper()
	b := broker.New(broker.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), AllowAnonymous: true,
		MaxQueuedMessages: 1 << 30, MaxTopicAlias: broker.Defaults.MaxTopicAlias})
	served := make(chan error, 1)
	go func() { served <- b.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-served
	})
}

// selfSigned returns a server certificate for 127.0.0.1 and a client
// config that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, &tls.Config{RootCAs: roots}
}

// Every transport carries a whole run: TLS, and WebSocket plain and over
// TLS through the broker's own WebSocket listener.
func TestTransports(t *testing.T) {
	cert, client := selfSigned(t)
	server := &tls.Config{Certificates: []tls.Certificate{cert}}
	for _, scheme := range []string{bench.SchemeMQTTS, bench.SchemeWS, bench.SchemeWSS} {
		t.Run(scheme, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			if scheme != bench.SchemeWS {
				ln = tls.NewListener(ln, server)
			}
			if scheme != bench.SchemeMQTTS {
				ln = listener.WebSocket(ln, listener.WSOptions{}, nil)
			}
			serve(t, ln)
			target := bench.Target{Addr: addr, Scheme: scheme, TLS: client, Sources: []string{"127.0.0.3"}}
			rep := run(t, bench.Config{Target: target, Scenario: bench.ScenarioFanin, Publishers: 3, QoS: 1, Count: 200, PayloadSize: 100})
			noLoss(t, rep, 600)
			rep = run(t, bench.Config{Target: target, Scenario: bench.ScenarioConn, Clients: 5, Duration: time.Millisecond})
			if rep.Conn.Alive != 5 {
				t.Errorf("conn: %+v", rep.Conn)
			}
		})
	}
	// A certificate the client does not trust fails the run.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, tls.NewListener(ln, server))
	_, err = bench.Run(context.Background(), bench.Config{Target: bench.Target{Addr: ln.Addr().String(), Scheme: bench.SchemeMQTTS},
		Scenario: bench.ScenarioPub, Count: 1})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate: %v", err)
	}
}
