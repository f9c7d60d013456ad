package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/baram-mqtt/baram/internal/bench"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressPrinter writes bench progress lines: on a terminal, one line
// rewritten in place; elsewhere, a line each time.
type progressPrinter struct {
	w        io.Writer
	terminal bool
	scenario string
	last     bench.Snapshot
	printed  bool
}

// print writes s, with rates since the previous snapshot.
func (p *progressPrinter) print(s bench.Snapshot) {
	dt := (s.Elapsed - p.last.Elapsed).Seconds()
	rate := func(now, before int64) string {
		if dt <= 0 {
			return "0"
		}
		return si(float64(now-before) / dt)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%6.1fs %-10s conns %d", s.Elapsed.Seconds(), s.Phase, s.Conns)
	switch p.scenario {
	case bench.ScenarioConn:
		fmt.Fprintf(&b, " (%s/s)  failed %d", rate(s.Conns, p.last.Conns), s.Failed)
	case bench.ScenarioPub:
		fmt.Fprintf(&b, "  sent %s/s  acked %s/s", rate(s.Sent, p.last.Sent), rate(s.Acked, p.last.Acked))
	case bench.ScenarioSub:
		fmt.Fprintf(&b, "  recv %s/s  lost %d", rate(s.Received, p.last.Received), s.Lost)
	default:
		fmt.Fprintf(&b, "  sent %s/s  recv %s/s  lost %d", rate(s.Sent, p.last.Sent), rate(s.Received, p.last.Received), s.Lost)
	}
	if s.P50 > 0 {
		fmt.Fprintf(&b, "  p50 %s  p99 %s", ms(s.P50), ms(s.P99))
	}
	if p.terminal {
		fmt.Fprintf(p.w, "\r%s\x1b[K", b.String())
	} else {
		fmt.Fprintln(p.w, b.String())
	}
	p.last, p.printed = s, true
}

// end clears the progress line from a terminal. p may be nil.
func (p *progressPrinter) end() {
	if p != nil && p.terminal && p.printed {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

// si writes a rate with a k or M suffix.
func si(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// ms writes a duration in milliseconds.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/1e6)
}

// writeJSON writes the report as indented JSON.
func writeJSON(w io.Writer, r *bench.Report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// writeTable writes the report as a one-row table and a few lines of
// detail.
func writeTable(w io.Writer, r *bench.Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	f2 := func(v float64) string { return fmt.Sprintf("%.2f", v) }
	if c := r.Conn; c != nil {
		fmt.Fprintln(tw, "scenario\tmqtt\tclients\tconnected\tfailed\tconn/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\talive\terrors")
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%d\t%d\n", r.Scenario, r.MQTT, c.Clients,
			c.Connected, c.Failed, c.ConnectRate, f2(c.Latency.P50Ms), f2(c.Latency.P90Ms), f2(c.Latency.P99Ms),
			f2(c.Latency.MaxMs), c.Alive, len(r.Errors))
	} else {
		lat := r.Latency
		if r.Subscribers == 0 {
			lat = r.AckLatency
		}
		fmt.Fprintln(tw, "scenario\tmqtt\tqos\tsize\tpubs\tsubs\tsent\treceived\tmsgs/s\tlost\tdups\tp50 ms\tp90 ms\tp99 ms\tmax ms\terrors")
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.0f\t%d\t%d\t%s\t%s\t%s\t%s\t%d\n", r.Scenario, r.MQTT, r.QoS,
			r.PayloadSize, r.Publishers, r.Subscribers, r.Sent, r.Received, r.Rate, r.Lost, r.Duplicates,
			f2(lat.P50Ms), f2(lat.P90Ms), f2(lat.P99Ms), f2(lat.MaxMs), len(r.Errors))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\ntarget    %s, run %08x, %.1fs", r.Target, r.RunID, r.Elapsed)
	if r.Interrupted {
		b.WriteString(", interrupted")
	}
	b.WriteString("\n")
	if c := r.Conn; c != nil {
		fmt.Fprintf(&b, "connect   %d of %d in %.2fs", c.Connected, c.Clients, c.ConnectElapsed)
		if c.OfferedRate > 0 {
			fmt.Fprintf(&b, " (offered %.0f/s)", c.OfferedRate)
		}
		fmt.Fprintf(&b, "; held %.1fs, then %d answered a PINGREQ\n", c.HeldFor, c.Alive)
	} else {
		if r.Scenario != bench.ScenarioSub {
			fmt.Fprintf(&b, "publish   %d sent, %d acknowledged at %.0f msgs/s", r.Sent, r.Acked, r.SentRate)
			if r.OfferedRate > 0 {
				fmt.Fprintf(&b, " (offered %.0f/s)", r.OfferedRate)
			}
			if r.Abandoned > 0 {
				fmt.Fprintf(&b, "; %d publishers' last write abandoned (broker not reading)", r.Abandoned)
			}
			if r.QoS > 0 {
				a := r.AckLatency
				fmt.Fprintf(&b, "; %d unacknowledged; ack latency p50 %s p99 %s max %s ms", r.Unacked, f2(a.P50Ms), f2(a.P99Ms), f2(a.MaxMs))
			}
			b.WriteString("\n")
		}
		if r.Subscribers > 0 {
			l := r.Latency
			fmt.Fprintf(&b, "deliver   %d received", r.Received)
			if r.Scenario != bench.ScenarioSub {
				fmt.Fprintf(&b, " of %d expected", r.Expected)
			}
			fmt.Fprintf(&b, " at %.0f msgs/s, %d lost, %d duplicates", r.ReceivedRate, r.Lost, r.Duplicates)
			if r.Foreign > 0 {
				fmt.Fprintf(&b, ", %d of other runs", r.Foreign)
			}
			fmt.Fprintf(&b, "; latency p50 %s p90 %s p99 %s p999 %s max %s ms\n", f2(l.P50Ms), f2(l.P90Ms), f2(l.P99Ms), f2(l.P999Ms), f2(l.MaxMs))
		}
	}
	if br := r.Broker; br != nil {
		if br.Error != "" {
			fmt.Fprintf(&b, "broker    pid %d: %s\n", br.PID, br.Error)
		} else {
			fmt.Fprintf(&b, "broker    pid %d: %.2fs CPU", br.PID, br.CPUSec)
			if br.MsgsPerCPUSec > 0 {
				fmt.Fprintf(&b, ", %.0f msgs per CPU-second", br.MsgsPerCPUSec)
			}
			fmt.Fprintf(&b, ", RSS %.1f MB\n", br.RSSMB)
		}
	}
	fmt.Fprintf(&b, "bench     %.2fs CPU\n", r.BenchCPU)
	if len(r.Errors) > 0 {
		b.WriteString("errors:\n")
		for _, e := range r.Errors {
			fmt.Fprintf(&b, "  %s\n", e)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
