// Command benchdurable measures a broker's publish throughput and latency
// with internal/bench, optionally with a persistent subscriber that stays
// offline so that every message is queued, and prints one JSON line and
// one human line. It is a development tool, not shipped; targets are
// loopback addresses only.
//
//	go run ./internal/bench/cmd/benchdurable -addr 127.0.0.1:1883 -publishers 100 -qos 1 \
//	    -payload 64 -duration 10s -window 10 -offline-sub bench-offline-
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"time"

	"github.com/baram-mqtt/baram/internal/bench"
)

// report is the JSON line.
type report struct {
	Label   string           `json:"label,omitempty"`
	Pub     *bench.PubResult `json:"pub"`
	Sub     *bench.SubResult `json:"sub,omitempty"`
	Offline *offlineReport   `json:"offline,omitempty"`
	Broker  *procReport      `json:"broker,omitempty"`
	Bench   procReport       `json:"bench"`
	Machine *machineReport   `json:"machine,omitempty"`
}

// machineReport is the whole machine's CPU over the publishing run, in
// percent of one core: Other is what neither the broker nor this tool
// used, i.e. other processes (softirq done in a process's context, as
// loopback TCP's mostly is, is charged to that process).
type machineReport struct {
	Cores   int     `json:"cores"`
	BusyPct float64 `json:"busy_pct"`
	IRQPct  float64 `json:"softirq_pct"`
	Other   float64 `json:"other_pct"`
}

// offlineReport is the persistent subscriber that stayed offline.
type offlineReport struct {
	ClientID string           `json:"client_id"`
	Drained  *bench.SubResult `json:"drained,omitempty"` // with -drain-offline
	Missing  *int64           `json:"missing,omitempty"` // acknowledged and never delivered
}

// procReport is CPU and memory of a process over the publishing run.
type procReport struct {
	PID    int     `json:"pid,omitempty"`
	CPUSec float64 `json:"cpu_s"`
	CPUPct float64 `json:"cpu_pct"` // of one core, over the run
	RSSMB  float64 `json:"rss_mb"`
	HWMMB  float64 `json:"hwm_mb"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchdurable:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		pc           bench.PubConfig
		qos          int
		sources      string
		subs         int
		filter       string
		offlineSub   string
		drainOffline bool
		brokerPID    int
		label        string
	)
	flag.StringVar(&pc.Addr, "addr", "127.0.0.1:1883", "broker `host:port` (loopback only)")
	flag.IntVar(&pc.Publishers, "publishers", 1, "publishing connections")
	flag.IntVar(&qos, "qos", 1, "QoS of the messages: 0, 1 or 2")
	flag.IntVar(&pc.PayloadSize, "payload", 64, "payload `bytes`")
	flag.DurationVar(&pc.Duration, "duration", 10*time.Second, "how long to publish")
	flag.IntVar(&pc.Count, "count", 0, "messages per publisher (0: until -duration)")
	flag.IntVar(&pc.Window, "window", 10, "unacknowledged messages per publisher (QoS 0: messages per write)")
	flag.StringVar(&pc.Topic, "topic", "bench/%d", "topic, %d replaced by the publisher index")
	flag.StringVar(&sources, "sources", "", "comma-separated loopback source addresses to bind from, e.g. 127.0.0.2,127.0.0.3")
	flag.IntVar(&subs, "subs", 0, "online subscribers during the run (checked for loss)")
	flag.StringVar(&filter, "filter", "bench/#", "subscribers' topic filter")
	flag.StringVar(&offlineSub, "offline-sub", "", "client id `prefix` of a persistent (clean session 0) subscriber created before the run\nand left offline, so every message is queued for it (client id PREFIX0)")
	flag.BoolVar(&drainOffline, "drain-offline", false, "after the run, reconnect the offline subscriber and check it gets every acknowledged message")
	flag.IntVar(&brokerPID, "broker-pid", 0, "report this process's CPU and memory over the run")
	flag.StringVar(&label, "label", "", "label copied into the JSON line")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	if qos < 0 || qos > 2 {
		return fmt.Errorf("-qos %d: want 0, 1 or 2", qos)
	}
	pc.QoS = byte(qos)
	if sources != "" {
		pc.Sources = strings.Split(sources, ",")
	}
	pc.RunID = bench.NewRunID()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	rep := report{Label: label}
	offline := bench.SubConfig{Target: pc.Target, QoS: pc.QoS, Filter: filter, Persistent: true,
		ClientIDPrefix: offlineSub, RunID: pc.RunID}
	if offlineSub != "" {
		sr, err := bench.StartSub(ctx, offline)
		if err != nil {
			return fmt.Errorf("offline subscriber: %w", err)
		}
		sr.Close()
		rep.Offline = &offlineReport{ClientID: offlineSub + "0"}
	}
	var online *bench.SubRun
	if subs > 0 {
		var err error
		online, err = bench.StartSub(ctx, bench.SubConfig{Target: pc.Target, Subscribers: subs, QoS: pc.QoS,
			Filter: filter, RunID: pc.RunID})
		if err != nil {
			return fmt.Errorf("subscribers: %w", err)
		}
		defer online.Close()
	}

	selfBefore, _ := bench.ReadProc(0)
	machineBefore, merr := bench.ReadMachineCPU()
	var brokerBefore bench.ProcStat
	if brokerPID != 0 {
		var err error
		if brokerBefore, err = bench.ReadProc(brokerPID); err != nil {
			return fmt.Errorf("-broker-pid: %w", err)
		}
	}
	start := time.Now()
	pr, err := bench.Pub(ctx, pc)
	if err != nil {
		return err
	}
	wall := time.Since(start)
	selfAfter, _ := bench.ReadProc(0)
	rep.Pub = pr
	rep.Bench = procDelta(0, selfBefore, selfAfter, wall)
	if brokerPID != 0 {
		after, err := bench.ReadProc(brokerPID)
		if err != nil {
			return fmt.Errorf("-broker-pid: %w", err)
		}
		b := procDelta(brokerPID, brokerBefore, after, wall)
		rep.Broker = &b
	}
	if machineAfter, err := bench.ReadMachineCPU(); err == nil && merr == nil {
		pct := func(d time.Duration) float64 { return 100 * d.Seconds() / wall.Seconds() }
		m := &machineReport{Cores: runtime.NumCPU(), BusyPct: pct(machineAfter.Busy - machineBefore.Busy),
			IRQPct: pct(machineAfter.SoftIRQ - machineBefore.SoftIRQ)}
		m.Other = m.BusyPct - rep.Bench.CPUPct
		if rep.Broker != nil {
			m.Other -= rep.Broker.CPUPct
		}
		rep.Machine = m
	}

	if online != nil {
		online.Wait(ctx, pr.Acked, 5*time.Second, time.Minute)
		rep.Sub = online.Close()
		m := online.Missing(pr)
		if m != 0 {
			rep.Sub.Errors = append(rep.Sub.Errors, fmt.Sprintf("%d acknowledged messages never delivered", m))
		}
	}
	if offlineSub != "" && drainOffline {
		sr, err := bench.StartSub(ctx, offline)
		if err != nil {
			return fmt.Errorf("draining the offline subscriber: %w", err)
		}
		sr.Wait(ctx, pr.Acked, 10*time.Second, bench.MaxRunTime)
		rep.Offline.Drained = sr.Close()
		m := sr.Missing(pr)
		rep.Offline.Missing = &m
	}

	line, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	fmt.Println(string(line))
	fmt.Println(human(&rep))
	return nil
}

func procDelta(pid int, before, after bench.ProcStat, wall time.Duration) procReport {
	cpu := after.CPU - before.CPU
	return procReport{PID: pid, CPUSec: cpu.Seconds(), CPUPct: 100 * cpu.Seconds() / wall.Seconds(),
		RSSMB: float64(after.RSS) / (1 << 20), HWMMB: float64(after.HWM) / (1 << 20)}
}

func human(r *report) string {
	p := r.Pub
	var b strings.Builder
	if r.Label != "" {
		fmt.Fprintf(&b, "%s: ", r.Label)
	}
	fmt.Fprintf(&b, "%d publishers QoS %d %dB window %d: %.0f msgs/s acknowledged (%d/%d in %.2fs)",
		p.Publishers, p.QoS, p.PayloadSize, p.Window, p.Rate, p.Acked, p.Sent, p.Elapsed)
	if p.QoS > 0 {
		l := p.Latency
		fmt.Fprintf(&b, ", ack latency p50 %.2fms p99 %.2fms max %.2fms", l.P50Ms, l.P99Ms, l.MaxMs)
	}
	if r.Broker != nil {
		fmt.Fprintf(&b, "; broker CPU %.0f%% RSS %.0fMB", r.Broker.CPUPct, r.Broker.RSSMB)
	}
	fmt.Fprintf(&b, "; bench CPU %.0f%%", r.Bench.CPUPct)
	if m := r.Machine; m != nil {
		fmt.Fprintf(&b, "; machine %.0f%% of %d00%% (softirq %.0f%%, other %.0f%%)", m.BusyPct, m.Cores, m.IRQPct, m.Other)
	}
	if s := r.Sub; s != nil {
		fmt.Fprintf(&b, "; %d subscribers got %d unique, %d duplicates, %d gaps", s.Subscribers, s.Unique, s.Duplicates, s.Gaps)
	}
	if o := r.Offline; o != nil {
		fmt.Fprintf(&b, "; offline subscriber %s", o.ClientID)
		if o.Drained != nil {
			fmt.Fprintf(&b, " drained %d unique (%.0f msgs/s), missing %d", o.Drained.Unique, o.Drained.Rate, *o.Missing)
		}
	}
	if n := len(p.Errors); n > 0 {
		fmt.Fprintf(&b, "; %d errors, first: %s", n, p.Errors[0])
	}
	return b.String()
}
