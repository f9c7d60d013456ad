package bench_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/bench"
	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/store/open"
)

// syncBuffer is a log sink safe for the broker's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Sessions seeded straight into a Pebble store are recovered by the broker
// and deliver every queued message to their clients.
func TestSeedRecoversAndDelivers(t *testing.T) {
	dir := t.TempDir()
	st, err := open.Open(open.Pebble, dir, open.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run := bench.NewRunID()
	stats, err := bench.Seed(st, bench.SeedConfig{Sessions: 40, Messages: 25, RunID: run, BatchBytes: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Sessions != 40 || stats.Messages != 1000 || stats.Bytes == 0 {
		t.Fatalf("seeded %+v", stats)
	}

	var logs syncBuffer
	b, err := broker.Open(broker.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), AllowAnonymous: true, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if l := logs.String(); !strings.Contains(l, "sessions=40") || !strings.Contains(l, "queued_messages=1000") {
		t.Fatalf("recovery log: %s", l)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- b.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		<-served
	}()

	ctx := context.Background()
	sr, err := bench.StartSub(ctx, bench.SubConfig{Target: bench.Target{Addr: ln.Addr().String()},
		Subscribers: 40, ClientIDPrefix: "seed-", Filter: "seed/#", QoS: 1, Persistent: true, RunID: run})
	if err != nil {
		t.Fatal(err)
	}
	if !sr.Wait(ctx, 25, 3*time.Second, 10*time.Second) {
		t.Errorf("drained %d of 1000", sr.Unique())
	}
	res := sr.Close()
	noErrors(t, "sub", res.Errors)
	want := &bench.PubResult{RunID: run, PerPublisher: []bench.PublisherStat{{Sent: 25, Acked: 25}}}
	if m := sr.Missing(want); m != 0 || res.Unique != 1000 || res.Duplicates != 0 {
		t.Fatalf("missing %d: %+v", m, res)
	}
}

func TestReadProc(t *testing.T) {
	ps, err := bench.ReadProc(0)
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	if ps.RSS <= 0 || ps.HWM < ps.RSS || ps.CPU < 0 {
		t.Fatalf("%+v", ps)
	}
}
