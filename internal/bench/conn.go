package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
)

// connBuf is an idle client's read buffer during its handshake; it is
// dropped once connected, so an idle connection costs the tool a socket
// and a small struct.
const connBuf = 256

// pingTimeout bounds the check, at the end of a hold, that every
// connection still answers.
const pingTimeout = 5 * time.Second

// ConnConfig configures a ConnRun: many idle connections.
type ConnConfig struct {
	Target
	// Clients is the number of connections to open; 1000.
	Clients int
	// Rate is the number of connections to start per second; 0 starts
	// them as fast as ConnectParallel handshakes at a time allow.
	Rate float64
	// Hold keeps the connections open this long after the last one
	// connected (or failed), then checks that each still answers a
	// PINGREQ; 0 checks at once.
	Hold time.Duration
	// ClientIDPrefix starts every client id, followed by the index;
	// "bench-conn-".
	ClientIDPrefix string
	// ConnectParallel is how many handshakes run at once; 64.
	ConnectParallel int
}

func (c *ConnConfig) setDefaults() error {
	if c.Clients == 0 {
		c.Clients = 1000
	}
	if c.ClientIDPrefix == "" {
		c.ClientIDPrefix = "bench-conn-"
	}
	if c.ConnectParallel == 0 {
		c.ConnectParallel = 64
	}
	switch {
	case c.Clients < 0 || c.Clients > MaxClients:
		return fmt.Errorf("bench: %d clients: want 1..%d", c.Clients, MaxClients)
	case c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return fmt.Errorf("bench: rate %v: want 0 (unlimited) or a positive number of connections per second", c.Rate)
	case c.Hold < 0 || c.Hold > MaxRunTime:
		return fmt.Errorf("bench: hold %v: want at most %v", c.Hold, MaxRunTime)
	case c.ConnectParallel < 1:
		return fmt.Errorf("bench: %d handshakes at once: want at least 1", c.ConnectParallel)
	}
	return nil
}

// ConnResult is what a ConnRun measured.
type ConnResult struct {
	Clients     int     `json:"clients"`
	OfferedRate float64 `json:"offered_per_s,omitempty"`
	Connected   int64   `json:"connected"`
	Failed      int64   `json:"failed"`
	// ConnectElapsed is from the first attempt to the last successful
	// CONNACK; ConnectRate is Connected over it.
	ConnectElapsed float64 `json:"connect_s"`
	ConnectRate    float64 `json:"connects_per_s"`
	// Latency is from dialling to the CONNACK (TCP, TLS, WebSocket and
	// MQTT handshakes).
	Latency Percentiles `json:"connect_latency"`
	// HeldFor is how long the connections were held; Alive is how many
	// of them answered a PINGREQ after that. Connected - Alive were
	// dropped.
	HeldFor float64  `json:"held_s"`
	Alive   int64    `json:"alive"`
	Errors  []string `json:"errors,omitempty"`
}

// ConnRun opens idle connections; see NewConnRun.
type ConnRun struct {
	cfg       ConnConfig
	srcs      []net.IP
	connected atomic.Int64
	failed    atomic.Int64
	mu        sync.Mutex // guards hist
	hist      Histogram
	lastOK    atomic.Int64 // time of the last successful CONNACK since start
	errs      errorList
}

// NewConnRun checks cfg; Run does the work.
func NewConnRun(cfg ConnConfig) (*ConnRun, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	srcs, err := cfg.Target.check()
	if err != nil {
		return nil, err
	}
	return &ConnRun{cfg: cfg, srcs: srcs}, nil
}

// Connected is the number of connections made so far.
func (r *ConnRun) Connected() int64 { return r.connected.Load() }

// Failed is the number of failed connection attempts so far.
func (r *ConnRun) Failed() int64 { return r.failed.Load() }

// mergeLatency adds the connect latencies so far to h.
func (r *ConnRun) mergeLatency(h *Histogram) {
	r.mu.Lock()
	h.Merge(&r.hist)
	r.mu.Unlock()
}

// Run opens cfg.Clients connections at cfg.Rate, holds them for cfg.Hold,
// checks which still answer, and disconnects them all. A failed attempt
// is counted, not fatal. When ctx ends, Run stops opening connections and
// holding them, and still reports. It may be called once.
func (r *ConnRun) Run(ctx context.Context) *ConnResult {
	start := time.Now()
	clients := make([]*client, r.cfg.Clients)
	r.launch(ctx, start, clients)
	res := &ConnResult{Clients: r.cfg.Clients, OfferedRate: r.cfg.Rate,
		Connected: r.connected.Load(), Failed: r.failed.Load()}
	if end := time.Duration(r.lastOK.Load()); end > 0 {
		res.ConnectElapsed = end.Seconds()
		res.ConnectRate = float64(res.Connected) / end.Seconds()
	}
	held := time.Now()
	if ctx.Err() == nil && r.cfg.Hold > 0 {
		t := time.NewTimer(r.cfg.Hold)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	res.HeldFor = time.Since(held).Seconds()
	res.Alive = r.pingAll(clients)
	r.closeAll(clients)
	res.Latency = r.hist.Summary()
	res.Errors = r.errs.list()
	return res
}

// launch starts the handshakes, at most ConnectParallel at a time and at
// cfg.Rate per second, and waits for them.
func (r *ConnRun) launch(ctx context.Context, start time.Time, clients []*client) {
	n := len(clients)
	sem := make(chan struct{}, r.cfg.ConnectParallel)
	var wg sync.WaitGroup
	defer wg.Wait()
	var tick *time.Ticker
	if r.cfg.Rate > 0 {
		period := min(max(time.Duration(float64(time.Second)/r.cfg.Rate), minPeriod), maxPeriod)
		tick = time.NewTicker(period)
		defer tick.Stop()
	}
	for i := 0; i < n; {
		due := n
		if tick != nil {
			due = min(int(r.cfg.Rate*time.Since(start).Seconds())+1, n)
		}
		for ; i < due; i++ {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				defer func() { <-sem }()
				clients[i] = r.connect(ctx, start, i)
			}(i)
		}
		if tick != nil && i < n {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
		}
	}
}

// connect makes connection i and records how it went.
func (r *ConnRun) connect(ctx context.Context, start time.Time, i int) *client {
	var src net.IP
	if len(r.srcs) > 0 {
		src = r.srcs[i%len(r.srcs)]
	}
	t0 := time.Now()
	c, _, err := dial(ctx, &r.cfg.Target, src, &packet.Connect{ClientID: r.cfg.ClientIDPrefix + strconv.Itoa(i), CleanStart: true}, connBuf)
	if err != nil {
		if ctx.Err() == nil { // not interrupted
			r.failed.Add(1)
			r.errs.add(err)
		}
		return nil
	}
	now := time.Now()
	r.mu.Lock()
	r.hist.Record(now.Sub(t0))
	r.mu.Unlock()
	c.rbuf, c.roff, c.full = nil, 0, false
	r.connected.Add(1)
	at := int64(now.Sub(start))
	for {
		last := r.lastOK.Load()
		if at <= last || r.lastOK.CompareAndSwap(last, at) {
			break
		}
	}
	return c
}

// pingAll sends every connection a PINGREQ and counts the PINGRESPs
// within pingTimeout.
func (r *ConnRun) pingAll(clients []*client) int64 {
	var alive atomic.Int64
	deadline := time.Now().Add(pingTimeout)
	r.each(clients, func(c *client) {
		c.rbuf, c.roff, c.full = make([]byte, 0, connBuf), 0, false
		if err := ping(c, deadline); err != nil {
			r.errs.add(fmt.Errorf("client %s after the hold: %w", c.id, err))
			return
		}
		alive.Add(1)
	})
	return alive.Load()
}

func ping(c *client, deadline time.Time) error {
	_ = c.nc.SetDeadline(deadline)
	if _, err := c.nc.Write([]byte{byte(packet.PINGREQ) << 4, 0}); err != nil {
		return err
	}
	for range 64 {
		h, body, ok, err := c.next()
		if err != nil {
			return err
		}
		if !ok {
			if err := c.fill(); err != nil {
				return err
			}
			continue
		}
		if h.Type == packet.PINGRESP {
			return nil
		}
		if h.Type != packet.PUBLISH {
			return unexpected(h, body, c.version)
		}
	}
	return errors.New("no PINGRESP among 64 packets")
}

// closeAll disconnects every connection.
func (r *ConnRun) closeAll(clients []*client) {
	r.each(clients, (*client).disconnect)
}

// each runs f on every non-nil client, ConnectParallel at a time.
func (r *ConnRun) each(clients []*client, f func(*client)) {
	work := make(chan *client)
	var wg sync.WaitGroup
	for range min(r.cfg.ConnectParallel, len(clients)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				f(c)
			}
		}()
	}
	for _, c := range clients {
		if c != nil {
			work <- c
		}
	}
	close(work)
	wg.Wait()
}
