package bench_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/baram-mqtt/baram/internal/bench"
	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func quietBroker(t *testing.T, opts broker.Options) string {
	t.Helper()
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if opts.MaxQueuedMessages == 0 {
		// No-loss checks need no queue limit: a subscriber falling 1000
		// messages behind would otherwise lose the newest by policy.
		opts.MaxQueuedMessages = 1 << 30
	}
	_, addr := brokertest.Start(t, opts)
	return addr
}

func noErrors(t *testing.T, what string, errs []string) {
	t.Helper()
	if len(errs) > 0 {
		t.Fatalf("%s errors: %s", what, strings.Join(errs, "; "))
	}
}

// pubSub runs subscribers and a counted Pub against addr and checks that
// the counts agree: every acknowledged message reached every subscriber
// exactly once.
func pubSub(t *testing.T, addr string, qos byte, pubs, subs, count int, sources []string) (*bench.PubResult, *bench.SubResult) {
	t.Helper()
	ctx := context.Background()
	target := bench.Target{Addr: addr, Sources: sources}
	run := bench.NewRunID()
	sr, err := bench.StartSub(ctx, bench.SubConfig{Target: target, Subscribers: subs, QoS: qos, RunID: run})
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	pr, err := bench.Pub(ctx, bench.PubConfig{Target: target, Publishers: pubs, QoS: qos, Count: count,
		Window: 10, RunID: run, Duration: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	noErrors(t, "pub", pr.Errors)
	want := int64(pubs * count)
	if pr.Sent != want {
		t.Fatalf("sent %d, want %d", pr.Sent, want)
	}
	if qos > 0 && (pr.Acked != want || pr.Latency.Count != uint64(want)) {
		t.Fatalf("acked %d with %d latencies, want %d", pr.Acked, pr.Latency.Count, want)
	}
	if pr.Rate <= 0 || pr.Elapsed <= 0 {
		t.Fatalf("rate %v over %vs", pr.Rate, pr.Elapsed)
	}
	if !sr.Wait(ctx, want, 3*time.Second, 10*time.Second) && qos > 0 {
		t.Errorf("subscribers got %d of %d unique messages", sr.Unique(), want*int64(subs))
	}
	res := sr.Close()
	noErrors(t, "sub", res.Errors)
	if res.Duplicates != 0 || res.Foreign != 0 {
		t.Fatalf("duplicates %d, foreign %d: %+v", res.Duplicates, res.Foreign, res)
	}
	if qos > 0 {
		if m := sr.Missing(pr); m != 0 {
			t.Fatalf("%d acknowledged messages missing", m)
		}
		if res.Unique != want*int64(subs) || res.Received != res.Unique || res.Gaps != 0 {
			t.Fatalf("unique %d received %d gaps %d, want %d", res.Unique, res.Received, res.Gaps, want*int64(subs))
		}
		if res.Latency.Count != uint64(res.Unique) || res.Latency.P50Ms <= 0 {
			t.Fatalf("latency %+v", res.Latency)
		}
	}
	return pr, res
}

func TestPubSubQoS1NoLoss(t *testing.T) {
	addr := quietBroker(t, broker.Options{})
	pubSub(t, addr, 1, 4, 2, 500, nil)
}

func TestPubSubQoS2NoLoss(t *testing.T) {
	addr := quietBroker(t, broker.Options{})
	pubSub(t, addr, 2, 3, 2, 300, nil)
}

func TestPubSubQoS0(t *testing.T) {
	addr := quietBroker(t, broker.Options{})
	_, res := pubSub(t, addr, 0, 2, 1, 500, nil)
	if res.Unique == 0 || res.Unique > 1000 {
		t.Fatalf("unique %d of 1000", res.Unique)
	}
}

func TestSourceAddresses(t *testing.T) {
	addr := quietBroker(t, broker.Options{})
	pubSub(t, addr, 1, 4, 1, 50, []string{"127.0.0.2", "127.0.0.3"})
}

func TestTimedRun(t *testing.T) {
	addr := quietBroker(t, broker.Options{})
	start := time.Now()
	pr, err := bench.Pub(context.Background(), bench.PubConfig{Target: bench.Target{Addr: addr},
		Publishers: 3, QoS: 1, Duration: 300 * time.Millisecond, PayloadSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	noErrors(t, "pub", pr.Errors)
	if pr.Sent == 0 || pr.Acked != pr.Sent {
		t.Fatalf("sent %d acked %d", pr.Sent, pr.Acked)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("a 300ms run took %v", took)
	}
	if pr.Elapsed < 0.25 || pr.Rate <= 0 || pr.Latency.P99Ms < pr.Latency.P50Ms {
		t.Fatalf("elapsed %vs rate %v latency %+v", pr.Elapsed, pr.Rate, pr.Latency)
	}
}

func TestCancelStopsRun(t *testing.T) {
	addr := quietBroker(t, broker.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	pr, err := bench.Pub(ctx, bench.PubConfig{Target: bench.Target{Addr: addr}, QoS: 1, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("cancelled run took %v", took)
	}
	if pr.Acked != pr.Sent {
		t.Fatalf("sent %d acked %d", pr.Sent, pr.Acked)
	}
}

// A persistent subscriber that is offline has its messages queued; when it
// comes back it gets every acknowledged one.
func TestOfflinePersistentSubscriber(t *testing.T) {
	addr := quietBroker(t, broker.Options{})
	ctx := context.Background()
	target := bench.Target{Addr: addr}
	sub := bench.SubConfig{Target: target, QoS: 1, Persistent: true, ClientIDPrefix: "offline-"}
	sr, err := bench.StartSub(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	sr.Close()
	pr, err := bench.Pub(ctx, bench.PubConfig{Target: target, Publishers: 2, QoS: 1, Count: 150, Duration: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	noErrors(t, "pub", pr.Errors)
	sub.RunID = pr.RunID
	sr, err = bench.StartSub(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	if !sr.Wait(ctx, 300, 3*time.Second, 10*time.Second) {
		t.Errorf("got %d of 300 queued messages", sr.Unique())
	}
	res := sr.Close()
	noErrors(t, "sub", res.Errors)
	if m := sr.Missing(pr); m != 0 || res.Unique != 300 || res.Duplicates != 0 {
		t.Fatalf("missing %d, %+v", m, res)
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []bench.PubConfig{
		{Target: bench.Target{Addr: "192.0.2.1:1883"}, Count: 1},
		{Target: bench.Target{Addr: "example.com:1883"}, Count: 1},
		{Target: bench.Target{Addr: "127.0.0.1:1883", Sources: []string{"192.0.2.7"}}, Count: 1},
	} {
		if _, err := bench.Pub(ctx, cfg); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%+v: err %v, want a loopback refusal", cfg.Target, err)
		}
	}
	if _, err := bench.StartSub(ctx, bench.SubConfig{Target: bench.Target{Addr: "192.0.2.1:1883"}}); err == nil {
		t.Error("subscriber to a non-loopback address started")
	}
}

func TestRefusesBadConfig(t *testing.T) {
	ctx := context.Background()
	target := bench.Target{Addr: "127.0.0.1:1"}
	for _, cfg := range []bench.PubConfig{
		{Target: target},                                  // neither count nor duration
		{Target: target, Count: 1, QoS: 3},                // QoS
		{Target: target, Count: 1, Window: 70000},         // window
		{Target: target, Duration: 2 * bench.MaxRunTime},  // too long
		{Target: target, Count: 1, Publishers: 1_000_000}, // too many
	} {
		if _, err := bench.Pub(ctx, cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

func TestConnectFailure(t *testing.T) {
	// Port 1 on loopback has nothing listening.
	_, err := bench.Pub(context.Background(), bench.PubConfig{Target: bench.Target{Addr: "127.0.0.1:1"}, Count: 1})
	if err == nil {
		t.Fatal("connected to nothing")
	}
}
