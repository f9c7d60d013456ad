// Command benchstore builds and checks large baram data directories of
// offline persistent sessions, for memory and recovery measurements. It is
// a development tool, not shipped; network targets are loopback only.
//
//	benchstore -mode seed  -dir D -sessions 100000 -messages 10 [-random]  # write records straight into a Pebble store
//	benchstore -mode live  -addr A -sessions 100000 -messages 10  # create them through a running broker
//	benchstore -mode open  -dir D                                  # recover D in-process: log line, heap, RSS
//	benchstore -mode drain -addr A -sessions 100 -messages 10      # reconnect sessions, check every message arrives
//	benchstore -mode live-inproc -dir D -sessions 100000 -messages 10 [-heap-profile F]
//	                                       # live, against a broker in this process: its live heap after GC
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/baram-mqtt/baram/internal/bench"
	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/store/open"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchstore:", err)
		os.Exit(1)
	}
}

type options struct {
	mode     string
	dir      string
	addr     string
	sessions int
	messages int
	payload  int
	prefix   string
	chunk    int
	runID    uint
	heapProf string
	random   bool
}

func run() error {
	var o options
	flag.StringVar(&o.mode, "mode", "", "seed, live, open or drain")
	flag.StringVar(&o.dir, "dir", "", "data directory (seed, open)")
	flag.StringVar(&o.addr, "addr", "127.0.0.1:1883", "broker (live, drain; loopback only)")
	flag.IntVar(&o.sessions, "sessions", 1000, "persistent sessions")
	flag.IntVar(&o.messages, "messages", 10, "queued QoS 1 messages per session")
	flag.IntVar(&o.payload, "payload", 64, "payload bytes")
	flag.StringVar(&o.prefix, "prefix", "seed-", "client id prefix: PREFIX0, PREFIX1, ...")
	flag.IntVar(&o.chunk, "chunk", 5000, "live: sessions connected at once (mind the open-files limit)")
	flag.UintVar(&o.runID, "run-id", 1, "run id stamped into seeded payloads (drain checks it)")
	flag.BoolVar(&o.random, "random", false, "seed: random payload bytes after the stamp (not compressible)")
	flag.StringVar(&o.heapProf, "heap-profile", "", "live-inproc: write a heap profile to `FILE` at the end")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var out any
	var err error
	switch o.mode {
	case "seed":
		out, err = seed(&o)
	case "live":
		out, err = live(ctx, &o)
	case "open":
		out, err = openDir(&o)
	case "drain":
		out, err = drain(ctx, &o)
	case "live-inproc":
		out, err = liveInProcess(ctx, &o)
	default:
		return fmt.Errorf("-mode %q: want seed, live, open, drain or live-inproc", o.mode)
	}
	if err != nil {
		return err
	}
	line, err := json.Marshal(out)
	if err != nil {
		return err
	}
	fmt.Println(string(line))
	return nil
}

func seed(o *options) (any, error) {
	if o.dir == "" {
		return nil, fmt.Errorf("-dir is required")
	}
	st, err := open.Open(open.Pebble, o.dir, open.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	stats, err := bench.Seed(st, bench.SeedConfig{Sessions: o.sessions, Messages: o.messages, PayloadSize: o.payload,
		ClientIDPrefix: o.prefix, RunID: uint32(o.runID), RandomPayload: o.random})
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	size, err := dirSize(o.dir)
	return map[string]any{"mode": "seed", "sessions": stats.Sessions, "queued_messages": stats.Messages,
		"record_bytes": stats.Bytes, "took_s": stats.Took.Seconds(), "dir_bytes": size}, err
}

// live creates the sessions through a running broker: o.chunk at a time
// connect with clean session 0, subscribe to seed/# at QoS 1 and
// disconnect; then one publisher sends o.messages QoS 1 messages to
// seed/t, each queued for every session.
func live(ctx context.Context, o *options) (any, error) {
	start := time.Now()
	target := bench.Target{Addr: o.addr, ConnectTimeout: 30 * time.Second}
	for first := 0; first < o.sessions; first += o.chunk {
		n := min(o.chunk, o.sessions-first)
		sr, err := bench.StartSub(ctx, bench.SubConfig{Target: target, Subscribers: n, Filter: "seed/#", QoS: 1,
			Persistent: true, ClientIDPrefix: o.prefix + strconv.Itoa(first/o.chunk) + "-", ConnectParallel: 32})
		if err != nil {
			return nil, fmt.Errorf("sessions %d..%d: %w", first, first+n-1, err)
		}
		sr.Close()
	}
	created := time.Since(start)
	pr, err := bench.Pub(ctx, bench.PubConfig{Target: target, QoS: 1, Count: o.messages, Window: 1,
		PayloadSize: o.payload, Topic: "seed/t", Duration: bench.MaxRunTime, DrainTimeout: bench.MaxRunTime,
		RunID: uint32(o.runID)})
	if err != nil {
		return nil, err
	}
	if len(pr.Errors) > 0 || pr.Acked != int64(o.messages) {
		return nil, fmt.Errorf("published %d of %d: %v", pr.Acked, o.messages, pr.Errors)
	}
	return map[string]any{"mode": "live", "sessions": o.sessions, "messages_per_session": o.messages,
		"queued_messages": int64(o.sessions) * int64(o.messages), "sessions_took_s": created.Seconds(),
		"publish_took_s": pr.Elapsed, "publish_latency": pr.Latency}, nil
}

// liveInProcess runs live against a broker in this process over a Pebble
// store in o.dir, then reports the broker's live heap (the clients are
// gone by then) and the process RSS.
func liveInProcess(ctx context.Context, o *options) (any, error) {
	if o.dir == "" {
		return nil, fmt.Errorf("-dir is required")
	}
	quiet := slog.New(slog.DiscardHandler)
	st, err := open.Open(open.Pebble, o.dir, open.Options{Logger: quiet})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	runtime.GC()
	before := heapLive()
	b, err := broker.Open(broker.Options{Logger: quiet, Store: st, AllowAnonymous: true})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() { _ = b.Serve(ln) }()
	o.addr = ln.Addr().String()
	res, err := live(ctx, o)
	if err != nil {
		return nil, err
	}
	time.Sleep(time.Second) // connection goroutines finish their cleanup
	runtime.GC()
	runtime.GC()
	after := heapLive()
	ps, _ := bench.ReadProc(0)
	if o.heapProf != "" {
		f, err := os.Create(o.heapProf)
		if err != nil {
			return nil, err
		}
		if err := pprof.WriteHeapProfile(f); err != nil {
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
	}
	stats := b.Stats()
	if err := b.Shutdown(context.Background()); err != nil {
		return nil, err
	}
	out := res.(map[string]any)
	out["mode"] = "live-inproc"
	out["heap_live_bytes"] = after - before
	out["rss_bytes"] = ps.RSS
	out["peak_rss_bytes"] = ps.HWM
	out["broker_stats"] = stats
	return out, nil
}

// openDir recovers the store in-process, as baram serve would, and
// reports the recovery log line and the memory it takes.
func openDir(o *options) (any, error) {
	if o.dir == "" {
		return nil, fmt.Errorf("-dir is required")
	}
	before := heapLive()
	logs := &lastLine{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	st, err := open.Open(open.Pebble, o.dir, open.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	start := time.Now()
	b, err := broker.Open(broker.Options{Logger: log, Store: st, AllowAnonymous: true})
	if err != nil {
		return nil, err
	}
	took := time.Since(start)
	peak, _ := bench.ReadProc(0)
	runtime.GC()
	runtime.GC()
	after := heapLive()
	ps, err := bench.ReadProc(0)
	if err != nil {
		return nil, err
	}
	if err := b.Shutdown(context.Background()); err != nil {
		return nil, err
	}
	var recovered any
	_ = json.Unmarshal(logs.line, &recovered)
	return map[string]any{"mode": "open", "recovered": recovered, "open_took_s": took.Seconds(),
		"heap_live_bytes": after - before, "rss_bytes": ps.RSS, "peak_rss_bytes": max(ps.HWM, peak.HWM)}, nil
}

// drain reconnects seeded sessions PREFIX0..PREFIX(n-1) and checks each
// receives its o.messages messages, once each.
func drain(ctx context.Context, o *options) (any, error) {
	sr, err := bench.StartSub(ctx, bench.SubConfig{Target: bench.Target{Addr: o.addr}, Subscribers: o.sessions,
		Filter: "seed/#", QoS: 1, Persistent: true, ClientIDPrefix: o.prefix, RunID: uint32(o.runID)})
	if err != nil {
		return nil, err
	}
	complete := sr.Wait(ctx, int64(o.messages), 10*time.Second, bench.MaxRunTime)
	res := sr.Close()
	want := &bench.PubResult{RunID: uint32(o.runID), PerPublisher: []bench.PublisherStat{{Sent: int64(o.messages)}}}
	return map[string]any{"mode": "drain", "complete": complete, "missing": sr.Missing(want), "sub": res}, nil
}

// heapLive is the bytes of live heap objects (after the last GC).
func heapLive() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

// lastLine keeps the last log line that mentions the recovery.
type lastLine struct{ line []byte }

func (l *lastLine) Write(p []byte) (int, error) {
	if json.Valid(p) && containsMsg(p, "store recovered") {
		l.line = append(l.line[:0], p...)
	}
	return len(p), nil
}

func containsMsg(p []byte, msg string) bool {
	var v struct {
		Msg string `json:"msg"`
	}
	return json.Unmarshal(p, &v) == nil && v.Msg == msg
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
}
