package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
)

// The scenarios Run knows.
const (
	// ScenarioConn opens Clients idle connections at Rate per second and
	// holds them for Duration.
	ScenarioConn = "conn"
	// ScenarioPub runs Publishers and nobody subscribes.
	ScenarioPub = "pub"
	// ScenarioSub runs Subscribers on Filter and counts what arrives
	// (from a baram bench pub elsewhere, say) for Duration or Count.
	ScenarioSub = "sub"
	// ScenarioFanin has Publishers publish on Topic/i to Subscribers on
	// the wildcard Topic/#; 100 to 1 by default.
	ScenarioFanin = "fanin"
	// ScenarioFanout is ScenarioFanin with other defaults: 1 to 100.
	ScenarioFanout = "fanout"
	// ScenarioPairs has Clients publishers on Topic/i each with its own
	// subscriber on Topic/i.
	ScenarioPairs = "pairs"
	// ScenarioLatency is fanin at a fixed offered Rate (10,000 msgs/s
	// unless set) from 1 publisher to 1 subscriber by default, for the
	// publish-to-delivery latency.
	ScenarioLatency = "latency"
)

// Scenarios lists the scenarios in the order help text shows them.
var Scenarios = []string{ScenarioConn, ScenarioPub, ScenarioSub, ScenarioFanin, ScenarioFanout, ScenarioPairs, ScenarioLatency}

// Defaults of Config.
const (
	DefaultDuration    = 10 * time.Second
	DefaultLatencyRate = 10000
	DefaultTopic       = "bench"
)

// Config is one run of a scenario. Zero fields take the scenario's
// defaults, given in their comments.
type Config struct {
	Target
	Scenario string
	// Clients is the number of connections of conn (1000) and of pairs
	// of pairs (100).
	Clients int
	// Publishers: pub 10, fanin 100, fanout 1, latency 1.
	Publishers int
	// Subscribers: sub 1, fanin 1, fanout 100, latency 1.
	Subscribers int
	// QoS of publishing and subscribing.
	QoS byte
	// PayloadSize in bytes; 64. Scenarios that count loss or measure
	// latency need at least PayloadHeader.
	PayloadSize int
	// Duration is how long publishers publish, subscribers of sub listen,
	// and conn holds its connections; DefaultDuration when Count is 0.
	Duration time.Duration
	// Count is the number of messages per publisher (sub: per
	// subscriber); 0: until Duration.
	Count int
	// Rate is the offered load: messages per second over all publishers
	// (conn: connections per second); 0 is as fast as possible, except
	// for latency (DefaultLatencyRate).
	Rate float64
	// Window is each publisher's unacknowledged messages (QoS 0:
	// messages per write); 10.
	Window int
	// Topic is the topic prefix: publisher i publishes on Topic/i;
	// DefaultTopic/RUNID (the run id in hex), so that a broker still
	// delivering an earlier run's backlog does not deliver it to this
	// run's subscribers.
	Topic string
	// Filter is what sub subscribes to; Topic/# when Topic is given,
	// else DefaultTopic/#, which matches every run's default topics.
	Filter string
	// DrainTimeout bounds the wait for the last acknowledgements and
	// deliveries after publishing stops; 10s.
	DrainTimeout time.Duration
	// ConnectParallel is how many handshakes run at once; 64.
	ConnectParallel int
	// RunID goes into every payload and client id; 0 picks one.
	RunID uint32
	// BrokerPID, when not 0, is a broker process on this machine whose
	// CPU time over the run is reported (Linux /proc).
	BrokerPID int
	// Progress, when not nil, is called with a Snapshot every
	// ProgressInterval (1s) while the run goes on, from a goroutine of
	// its own.
	Progress         func(Snapshot)
	ProgressInterval time.Duration
}

// Validate fills in cfg's defaults and checks it; Run does the same.
func (c *Config) Validate() error {
	if !c.known() {
		return fmt.Errorf("bench: scenario %q is not one of %s", c.Scenario, strings.Join(Scenarios, ", "))
	}
	c.scenarioDefaults()
	if c.PayloadSize == 0 {
		c.PayloadSize = 64
	}
	if c.Duration == 0 && c.Count == 0 {
		c.Duration = DefaultDuration
	}
	if c.Window == 0 {
		c.Window = 10
	}
	if c.RunID == 0 {
		c.RunID = NewRunID()
	}
	if c.Filter == "" {
		c.Filter = cmp.Or(c.Topic, DefaultTopic) + "/#"
	}
	if c.Topic == "" {
		c.Topic = fmt.Sprintf("%s/%08x", DefaultTopic, c.RunID)
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 10 * time.Second
	}
	if c.ConnectParallel == 0 {
		c.ConnectParallel = 64
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = time.Second
	}
	switch {
	case c.stamped() && c.PayloadSize < PayloadHeader:
		return fmt.Errorf("bench: a payload of %d bytes cannot hold the %d-byte header (run id, publisher, sequence number, send time) that %s needs to count lost messages and measure latency; use at least %d bytes",
			c.PayloadSize, PayloadHeader, c.Scenario, PayloadHeader)
	case strings.ContainsAny(c.Topic, "+#"):
		return fmt.Errorf("bench: topic prefix %q holds a wildcard", c.Topic)
	case c.Duration < 0 || c.Duration > MaxRunTime:
		return fmt.Errorf("bench: duration %v: want at most %v", c.Duration, MaxRunTime)
	case c.Count < 0:
		return fmt.Errorf("bench: count %d is negative", c.Count)
	case c.QoS > 2:
		return fmt.Errorf("bench: QoS %d: want 0, 1 or 2", c.QoS)
	case c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return fmt.Errorf("bench: rate %v: want 0 (unlimited) or a positive number per second", c.Rate)
	case c.DrainTimeout < 0 || c.DrainTimeout > MaxRunTime:
		return fmt.Errorf("bench: drain timeout %v: want at most %v", c.DrainTimeout, MaxRunTime)
	}
	for _, n := range []int{c.Clients, c.Publishers, c.Subscribers} {
		if n < 0 || n > MaxClients {
			return fmt.Errorf("bench: %d clients: want 1..%d", n, MaxClients)
		}
	}
	_, err := c.Target.check()
	return err
}

func (c *Config) known() bool {
	for _, s := range Scenarios {
		if c.Scenario == s {
			return true
		}
	}
	return false
}

// stamped reports whether the scenario reads the stamps in payloads.
func (c *Config) stamped() bool {
	switch c.Scenario {
	case ScenarioFanin, ScenarioFanout, ScenarioPairs, ScenarioLatency:
		return true
	}
	return false
}

func (c *Config) scenarioDefaults() {
	orDefault := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	switch c.Scenario {
	case ScenarioConn:
		orDefault(&c.Clients, 1000)
	case ScenarioPub:
		orDefault(&c.Publishers, 10)
		c.Subscribers = 0
	case ScenarioSub:
		orDefault(&c.Subscribers, 1)
		c.Publishers = 0
	case ScenarioFanin:
		orDefault(&c.Publishers, 100)
		orDefault(&c.Subscribers, 1)
	case ScenarioFanout:
		orDefault(&c.Publishers, 1)
		orDefault(&c.Subscribers, 100)
	case ScenarioPairs:
		orDefault(&c.Clients, 100)
		c.Publishers, c.Subscribers = c.Clients, c.Clients
	case ScenarioLatency:
		orDefault(&c.Publishers, 1)
		orDefault(&c.Subscribers, 1)
		if c.Rate == 0 {
			c.Rate = DefaultLatencyRate
		}
	}
}

// clientID is the client id prefix of one kind of client of the run.
func (c *Config) clientID(kind string) string {
	return fmt.Sprintf("baram-%08x-%s", c.RunID, kind)
}

// Report is the result of Run.
type Report struct {
	Scenario    string  `json:"scenario"`
	Target      string  `json:"target"`
	MQTT        string  `json:"mqtt"`
	Clients     int     `json:"clients"`
	Publishers  int     `json:"publishers"`
	Subscribers int     `json:"subscribers"`
	QoS         byte    `json:"qos"`
	PayloadSize int     `json:"size"`
	Window      int     `json:"window,omitempty"`
	OfferedRate float64 `json:"offered_per_s,omitempty"`
	RunID       uint32  `json:"run_id"`
	// Elapsed is the wall time of the run, connecting and draining
	// included.
	Elapsed float64 `json:"elapsed_s"`
	// Sent is messages written; Acked those acknowledged (PUBACK,
	// PUBCOMP; all sent at QoS 0); Unacked = Sent - Acked at QoS 1 and 2,
	// in flight when the drain timed out or a connection failed.
	Sent    int64 `json:"sent"`
	Acked   int64 `json:"acked"`
	Unacked int64 `json:"unacked"`
	// Abandoned is the publishers whose last write was still blocked
	// StopGrace after publishing stopped: the broker was not reading.
	Abandoned int `json:"abandoned_writes,omitempty"`
	// Expected is the deliveries of acknowledged messages that the
	// subscribers should see; Received the PUBLISH packets of this run
	// they got, Unique of which were new and Duplicates not; Lost is the
	// expected deliveries that never came (sub: sequence numbers missing
	// between the lowest and highest seen). Foreign counts messages of
	// other runs and without a stamp.
	Expected   int64 `json:"expected"`
	Received   int64 `json:"received"`
	Unique     int64 `json:"unique"`
	Duplicates int64 `json:"duplicates"`
	Lost       int64 `json:"lost"`
	Foreign    int64 `json:"foreign,omitempty"`
	// SentRate is acknowledged messages per second (written, at QoS 0)
	// from the first write to the last acknowledgement; ReceivedRate is
	// deliveries per second from the first to the last. Rate is the
	// headline: ReceivedRate when someone subscribes, else SentRate
	// (conn: connections per second).
	SentRate     float64 `json:"sent_per_s"`
	ReceivedRate float64 `json:"received_per_s"`
	Rate         float64 `json:"msgs_per_s"`
	// Latency is publish to delivery, from the send time stamped in the
	// payload (same clock); AckLatency is publish to PUBACK / PUBCOMP.
	Latency    Percentiles `json:"latency"`
	AckLatency Percentiles `json:"ack_latency"`
	Conn       *ConnResult `json:"conn,omitempty"`
	// BenchCPU is this process's CPU time over the run (user + system).
	BenchCPU float64    `json:"bench_cpu_s"`
	Broker   *BrokerCPU `json:"broker,omitempty"`
	// Interrupted is set when the run was stopped early (Ctrl-C).
	Interrupted bool     `json:"interrupted,omitempty"`
	Errors      []string `json:"errors,omitempty"`
}

// BrokerCPU is the broker's share of the machine over a run.
type BrokerCPU struct {
	PID    int     `json:"pid"`
	CPUSec float64 `json:"cpu_s"`
	// MsgsPerCPUSec is the headline messages (deliveries when someone
	// subscribes, else acknowledged messages) per broker CPU-second.
	MsgsPerCPUSec float64 `json:"msgs_per_cpu_s,omitempty"`
	RSSMB         float64 `json:"rss_mb"`
	Error         string  `json:"error,omitempty"`
}

// Failure is the reason a run failed, or nil: messages lost at QoS 1 or
// 2, or any error (a failed connection, a refused subscription, a broken
// connection).
func (r *Report) Failure() error {
	var errs []error
	if r.QoS > 0 && r.Lost > 0 {
		errs = append(errs, fmt.Errorf("%d of %d messages lost at QoS %d", r.Lost, r.Expected, r.QoS))
	}
	if n := len(r.Errors); n > 0 {
		errs = append(errs, fmt.Errorf("errors during the run, first: %s", r.Errors[0]))
	}
	return errors.Join(errs...)
}

// Snapshot is a run's progress so far.
type Snapshot struct {
	Elapsed time.Duration
	// Phase is "connecting", "running", "draining" or "holding" (conn).
	Phase string
	// Conns is the connections made; Failed the failed attempts (conn).
	Conns, Failed int64
	// Sent, Acked, Received: as in Report, so far.
	Sent, Acked, Received int64
	// Lost is the sequence numbers missing so far between the lowest and
	// highest each subscriber saw from each publisher.
	Lost int64
	// Latency so far: publish to delivery when someone subscribes, else
	// publish to acknowledgement; conn: connect latency.
	P50, P99 time.Duration
}

// live is what progress reports read while a run goes on.
type live struct {
	start time.Time
	phase atomic.Pointer[string]
	conns atomic.Int64
	pub   atomic.Pointer[PubRun]
	sub   atomic.Pointer[SubRun]
	conn  atomic.Pointer[ConnRun]
	hist  Histogram // scratch, for snapshot only
}

func (l *live) setPhase(p string) { l.phase.Store(&p) }

func (l *live) snapshot() Snapshot {
	s := Snapshot{Elapsed: time.Since(l.start), Conns: l.conns.Load()}
	if p := l.phase.Load(); p != nil {
		s.Phase = *p
	}
	l.hist.reset()
	if c := l.conn.Load(); c != nil {
		s.Conns, s.Failed = c.Connected(), c.Failed()
		c.mergeLatency(&l.hist)
	}
	if p := l.pub.Load(); p != nil {
		s.Sent, s.Acked = p.Sent(), p.Acked()
	}
	if sr := l.sub.Load(); sr != nil {
		s.Received = sr.Received()
		s.Lost = sr.live(&l.hist)
	} else if p := l.pub.Load(); p != nil {
		p.mergeLatency(&l.hist)
	}
	s.P50, s.P99 = l.hist.Quantile(0.5), l.hist.Quantile(0.99)
	return s
}

// Run runs cfg's scenario and reports. A failure to connect (or
// subscribe) is an error; failures later are in Report.Errors. When ctx
// ends, publishing stops, the last acknowledgements and deliveries are
// waited for as after a normal end, and Run reports with Interrupted set.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lv := &live{start: time.Now()}
	lv.setPhase("connecting")
	if cfg.Progress != nil {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(cfg.ProgressInterval)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					cfg.Progress(lv.snapshot())
				}
			}
		}()
		defer wg.Wait()
		defer close(stop)
	}
	rep := &Report{Scenario: cfg.Scenario, Target: cfg.Target.URL(), MQTT: "3.1.1", Clients: cfg.Clients,
		Publishers: cfg.Publishers, Subscribers: cfg.Subscribers, QoS: cfg.QoS, PayloadSize: cfg.PayloadSize,
		OfferedRate: cfg.Rate, RunID: cfg.RunID}
	if cfg.Target.version() == packet.V5 {
		rep.MQTT = "5"
	}
	if cfg.Scenario != ScenarioConn && cfg.Scenario != ScenarioSub {
		rep.Window = cfg.Window
	}
	self, selfErr := ReadProc(0)
	broker := startBrokerCPU(cfg.BrokerPID)
	var err error
	switch cfg.Scenario {
	case ScenarioConn:
		err = runConn(ctx, &cfg, rep, lv)
	case ScenarioSub:
		err = runSub(ctx, &cfg, rep, lv)
	default:
		err = runMessages(ctx, &cfg, rep, lv)
	}
	if err != nil {
		return nil, err
	}
	rep.Elapsed = time.Since(lv.start).Seconds()
	rep.Interrupted = ctx.Err() != nil
	if now, err := ReadProc(0); err == nil && selfErr == nil {
		rep.BenchCPU = (now.CPU - self.CPU).Seconds()
	}
	rep.Broker = broker.finish(rep)
	return rep, nil
}

// runConn is the conn scenario.
func runConn(ctx context.Context, cfg *Config, rep *Report, lv *live) error {
	cr, err := NewConnRun(ConnConfig{Target: cfg.Target, Clients: cfg.Clients, Rate: cfg.Rate, Hold: cfg.Duration,
		ClientIDPrefix: cfg.clientID("c"), ConnectParallel: cfg.ConnectParallel})
	if err != nil {
		return err
	}
	lv.conn.Store(cr)
	res := cr.Run(ctx)
	rep.Conn, rep.Rate, rep.Errors = res, res.ConnectRate, res.Errors
	return nil
}

// runSub is the sub scenario.
func runSub(ctx context.Context, cfg *Config, rep *Report, lv *live) error {
	sr, err := StartSub(ctx, SubConfig{Target: cfg.Target, Subscribers: cfg.Subscribers, Filter: cfg.Filter,
		QoS: cfg.QoS, ClientIDPrefix: cfg.clientID("s"), ConnectParallel: cfg.ConnectParallel, conns: &lv.conns})
	if err != nil {
		return err
	}
	lv.sub.Store(sr)
	lv.setPhase("running")
	per, limit := int64(math.MaxInt64), cfg.Duration
	if cfg.Count > 0 {
		per = int64(cfg.Count)
	}
	if limit == 0 {
		limit = MaxRunTime
	}
	sr.Wait(ctx, per, limit, limit)
	res := sr.Close()
	rep.Received, rep.Unique, rep.Duplicates = res.Unique+res.Duplicates, res.Unique, res.Duplicates
	rep.Lost, rep.Foreign, rep.Latency = res.Gaps, res.Foreign, res.Latency
	rep.ReceivedRate, rep.Rate, rep.Errors = res.Rate, res.Rate, res.Errors
	return nil
}

// runMessages is every scenario with publishers.
func runMessages(ctx context.Context, cfg *Config, rep *Report, lv *live) error {
	pairs := cfg.Scenario == ScenarioPairs
	var sr *SubRun
	if cfg.Subscribers > 0 {
		filter := cfg.Topic + "/#"
		if pairs {
			filter = cfg.Topic + "/%d"
		}
		var err error
		sr, err = StartSub(ctx, SubConfig{Target: cfg.Target, Subscribers: cfg.Subscribers, Filter: filter,
			QoS: cfg.QoS, ClientIDPrefix: cfg.clientID("s"), RunID: cfg.RunID,
			ConnectParallel: cfg.ConnectParallel, conns: &lv.conns})
		if err != nil {
			return err
		}
		defer sr.Close()
		lv.sub.Store(sr)
	}
	pr, err := StartPub(ctx, PubConfig{Target: cfg.Target, Publishers: cfg.Publishers, QoS: cfg.QoS,
		PayloadSize: cfg.PayloadSize, Window: cfg.Window, Duration: cfg.Duration, Count: cfg.Count, Rate: cfg.Rate,
		Topic: cfg.Topic + "/%d", ClientIDPrefix: cfg.clientID("p"), DrainTimeout: cfg.DrainTimeout,
		RunID: cfg.RunID, ConnectParallel: cfg.ConnectParallel, conns: &lv.conns})
	if err != nil {
		return err
	}
	lv.pub.Store(pr)
	lv.setPhase("running")
	pres := pr.Run(ctx)
	rep.Sent, rep.Acked, rep.SentRate = pres.Sent, pres.Acked, pres.Rate
	rep.Unacked, rep.AckLatency, rep.Errors = pres.Sent-pres.Acked, pres.Latency, pres.Errors
	rep.Abandoned = pres.Abandoned
	rep.Rate = rep.SentRate
	if sr == nil {
		return nil
	}
	lv.setPhase("draining")
	var expects func(sub, pub int) bool
	for i, st := range pres.PerPublisher {
		switch {
		case !pairs:
			rep.Expected += st.Acked * int64(cfg.Subscribers)
		case i < cfg.Subscribers:
			rep.Expected += st.Acked
		}
	}
	if pairs {
		expects = func(sub, pub int) bool { return sub == pub }
	}
	idle := time.Second
	if cfg.QoS > 0 {
		idle = 3 * time.Second
	}
	sr.WaitTotal(context.Background(), rep.Expected, idle, cfg.DrainTimeout)
	res := sr.Close()
	rep.Received, rep.Unique, rep.Duplicates = res.Unique+res.Duplicates, res.Unique, res.Duplicates
	rep.Lost, rep.Foreign, rep.Latency = sr.MissingFor(pres, expects), res.Foreign, res.Latency
	rep.ReceivedRate, rep.Rate = res.Rate, res.Rate
	rep.Errors = append(rep.Errors, res.Errors...)
	return nil
}

// brokerCPU measures a broker process over a run.
type brokerCPU struct {
	pid   int
	start ProcStat
	err   error
}

func startBrokerCPU(pid int) *brokerCPU {
	if pid == 0 {
		return nil
	}
	b := &brokerCPU{pid: pid}
	b.start, b.err = ReadProc(pid)
	return b
}

func (b *brokerCPU) finish(rep *Report) *BrokerCPU {
	if b == nil {
		return nil
	}
	out := &BrokerCPU{PID: b.pid}
	end, err := ReadProc(b.pid)
	if err = errors.Join(b.err, err); err != nil {
		out.Error = err.Error()
		return out
	}
	out.CPUSec = (end.CPU - b.start.CPU).Seconds()
	out.RSSMB = float64(end.RSS) / (1 << 20)
	msgs := rep.Acked
	if rep.Subscribers > 0 {
		msgs = rep.Unique + rep.Duplicates
	}
	if out.CPUSec > 0 && rep.Scenario != ScenarioConn {
		out.MsgsPerCPUSec = float64(msgs) / out.CPUSec
	}
	return out
}
