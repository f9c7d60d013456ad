package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
)

// Limits that keep every run bounded.
const (
	// MaxRunTime bounds a run given by Count alone, and any Duration.
	MaxRunTime = 10 * time.Minute
	// MaxClients bounds Publishers and Subscribers.
	MaxClients = 100000
	// StopGrace is how long a write still blocked when a run ends (its
	// Duration passed, or ctx ended) may go on: then it is abandoned, and
	// its connection closed, so that a broker that stopped reading cannot
	// hold a run past its end.
	StopGrace = time.Second
)

// PubConfig configures Pub. Zero fields take the defaults in their
// comments.
type PubConfig struct {
	Target
	// Publishers is the number of connections publishing at once; 1.
	Publishers int
	// QoS of every PUBLISH: 0, 1 or 2.
	QoS byte
	// PayloadSize in bytes; 64. Payloads of at least PayloadHeader bytes
	// carry the run id, publisher, sequence number and send time.
	PayloadSize int
	// Window is how many QoS 1/2 messages a publisher keeps
	// unacknowledged (at most 65535); 10. At QoS 0 it is the number of
	// messages per write.
	Window int
	// Duration stops sending after this long. With Count as well, the run
	// stops at whichever comes first; with neither, Pub fails.
	Duration time.Duration
	// Count is the number of messages per publisher; 0: until Duration.
	Count int
	// Rate is the offered load in messages per second over all
	// publishers, each publishing Rate/Publishers; 0 publishes as fast as
	// the window allows. See pace.go for how.
	Rate float64
	// Topic is the topic name, "%d" replaced by the publisher index;
	// "bench/%d".
	Topic string
	// ClientIDPrefix starts every client id, followed by the publisher
	// index; "bench-pub-".
	ClientIDPrefix string
	// DrainTimeout bounds the wait for the last acknowledgements after
	// sending stops; 10s.
	DrainTimeout time.Duration
	// RunID is written into every payload; 0 picks a random one.
	RunID uint32
	// ConnectParallel is how many handshakes run at once; 64.
	ConnectParallel int

	conns *atomic.Int64 // counts connections made, for progress reports
}

func (c *PubConfig) setDefaults() error {
	if c.Publishers == 0 {
		c.Publishers = 1
	}
	if c.PayloadSize == 0 {
		c.PayloadSize = 64
	}
	if c.Window == 0 {
		c.Window = 10
	}
	if c.Topic == "" {
		c.Topic = "bench/%d"
	}
	if c.ClientIDPrefix == "" {
		c.ClientIDPrefix = "bench-pub-"
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 10 * time.Second
	}
	if c.RunID == 0 {
		c.RunID = NewRunID()
	}
	if c.ConnectParallel == 0 {
		c.ConnectParallel = 64
	}
	switch {
	case c.Publishers < 0 || c.Publishers > MaxClients:
		return fmt.Errorf("bench: %d publishers: want 1..%d", c.Publishers, MaxClients)
	case c.QoS > 2:
		return fmt.Errorf("bench: QoS %d: want 0, 1 or 2", c.QoS)
	case c.PayloadSize < 0 || c.PayloadSize > 1<<20:
		return fmt.Errorf("bench: payload of %d bytes: want 0..1MiB", c.PayloadSize)
	case c.Window < 1 || c.Window > 65535:
		return fmt.Errorf("bench: window %d: want 1..65535", c.Window)
	case c.Duration < 0 || c.Duration > MaxRunTime:
		return fmt.Errorf("bench: duration %v: want at most %v", c.Duration, MaxRunTime)
	case c.Count < 0:
		return fmt.Errorf("bench: count %d is negative", c.Count)
	case c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return fmt.Errorf("bench: rate %v: want 0 (unlimited) or a positive number of messages per second", c.Rate)
	case c.Duration == 0 && c.Count == 0:
		return errors.New("bench: give a duration or a count")
	case c.DrainTimeout < 0 || c.DrainTimeout > MaxRunTime:
		return fmt.Errorf("bench: drain timeout %v: want at most %v", c.DrainTimeout, MaxRunTime)
	}
	return nil
}

// runLimit is how long sending may go on.
func (c *PubConfig) runLimit() time.Duration {
	if c.Duration > 0 {
		return c.Duration
	}
	return MaxRunTime
}

// PubResult is what a Pub run measured.
type PubResult struct {
	Publishers  int     `json:"publishers"`
	QoS         byte    `json:"qos"`
	PayloadSize int     `json:"payload"`
	Window      int     `json:"window"`
	OfferedRate float64 `json:"offered_per_s,omitempty"`
	RunID       uint32  `json:"run_id"`
	Sent        int64   `json:"sent"`
	Acked       int64   `json:"acked"` // PUBACK (QoS 1) or PUBCOMP (QoS 2); Sent at QoS 0
	Elapsed     float64 `json:"elapsed_s"`
	// Rate is acknowledged messages per second, from the first send to the
	// last acknowledgement; at QoS 0, sent messages per second until the
	// publishers stopped (a write blocked until abandoned counts).
	Rate float64 `json:"msgs_per_s"`
	// Latency is publish to PUBACK (QoS 1) or to PUBCOMP (QoS 2).
	Latency Percentiles `json:"latency"`
	// Abandoned is the number of publishers whose last write was still
	// blocked StopGrace after the run's end (the broker was not reading).
	Abandoned    int             `json:"abandoned_writes,omitempty"`
	Errors       []string        `json:"errors,omitempty"`
	PerPublisher []PublisherStat `json:"-"`
}

// PublisherStat is one publisher's share of a run.
type PublisherStat struct {
	Sent  int64 // sequence numbers 0..Sent-1 went out
	Acked int64
	// Unacked are the sequence numbers sent and never acknowledged.
	Unacked []uint64
}

// maxErrors is how many error messages a result keeps.
const maxErrors = 10

// errorList collects the first few errors of many goroutines.
type errorList struct {
	mu    sync.Mutex
	n     int
	first []string
}

func (e *errorList) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	if len(e.first) < maxErrors {
		e.first = append(e.first, err.Error())
	}
}

func (e *errorList) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := append([]string(nil), e.first...)
	if e.n > len(e.first) {
		out = append(out, fmt.Sprintf("... and %d more errors", e.n-len(e.first)))
	}
	return out
}

// Pub connects cfg.Publishers clean-session clients, has each publish
// until cfg.Count or cfg.Duration, waits up to cfg.DrainTimeout for the
// acknowledgements still outstanding, and disconnects. A failure to
// connect is an error; failures during the run end that publisher and are
// listed in PubResult.Errors.
func Pub(ctx context.Context, cfg PubConfig) (*PubResult, error) {
	r, err := StartPub(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return r.Run(ctx), nil
}

// PubRun is publishers connected by StartPub; Run makes them publish.
type PubRun struct {
	cfg  PubConfig
	pubs []*publisher
	used atomic.Bool // Run or Close was called
}

// StartPub connects cfg.Publishers clean-session clients, ready to Run.
func StartPub(ctx context.Context, cfg PubConfig) (*PubRun, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	srcs, err := cfg.Target.check()
	if err != nil {
		return nil, err
	}
	clients, err := connectAll(ctx, &cfg.Target, srcs, cfg.Publishers, cfg.ConnectParallel, func(i int) *packet.Connect {
		return &packet.Connect{ClientID: cfg.ClientIDPrefix + strconv.Itoa(i), CleanStart: true}
	}, cfg.conns)
	if err != nil {
		return nil, err
	}
	r := &PubRun{cfg: cfg}
	for i, c := range clients {
		p, err := newPublisher(&cfg, i, c)
		if err != nil {
			for _, c := range clients {
				c.disconnect()
			}
			return nil, err
		}
		r.pubs = append(r.pubs, p)
	}
	return r, nil
}

// Run publishes until cfg.Count or cfg.Duration (or ctx ends), waits up
// to cfg.DrainTimeout for the acknowledgements still outstanding, and
// disconnects. It may be called once.
func (r *PubRun) Run(ctx context.Context) *PubResult {
	if r.used.Swap(true) {
		return &PubResult{Errors: []string{"bench: PubRun.Run called twice"}}
	}
	return runPublishers(ctx, &r.cfg, r.pubs)
}

// Close disconnects the publishers if Run was never called.
func (r *PubRun) Close() {
	if !r.used.Swap(true) {
		for _, p := range r.pubs {
			p.c.disconnect()
		}
	}
}

// Sent is the number of messages written so far.
func (r *PubRun) Sent() int64 {
	var n int64
	for _, p := range r.pubs {
		n += p.sent.Load()
	}
	return n
}

// Acked is the number of messages acknowledged so far (written, at QoS 0).
func (r *PubRun) Acked() int64 {
	var n int64
	for _, p := range r.pubs {
		n += p.acked.Load()
	}
	return n
}

// mergeLatency adds the acknowledgement latencies so far to h.
func (r *PubRun) mergeLatency(h *Histogram) {
	for _, p := range r.pubs {
		p.mu.Lock()
		h.Merge(&p.hist)
		p.mu.Unlock()
	}
}

func runPublishers(ctx context.Context, cfg *PubConfig, pubs []*publisher) *PubResult {
	var errs errorList
	start := time.Now()
	hard := start.Add(cfg.runLimit() + cfg.DrainTimeout + 5*time.Second)
	stop := make(chan struct{})
	var once sync.Once
	var abandon *time.Timer
	closeStop := func() {
		once.Do(func() {
			close(stop)
			abandon = time.AfterFunc(StopGrace, func() {
				for _, p := range pubs {
					p.abandon()
				}
			})
		})
	}
	defer func() {
		once.Do(func() {}) // no timer after this
		if abandon != nil {
			abandon.Stop()
		}
	}()
	timer := time.AfterFunc(cfg.runLimit(), closeStop)
	defer timer.Stop()
	unwatch := context.AfterFunc(ctx, closeStop)
	defer unwatch()

	var wg sync.WaitGroup
	for _, p := range pubs {
		p.epoch, p.hard = start, hard
		_ = p.c.nc.SetDeadline(hard)
		wg.Add(2)
		go func() { defer wg.Done(); p.read(&errs) }()
		go func() {
			defer wg.Done()
			p.write(stop, &errs)
			if p.qos == 0 {
				// Sending ended now, blocked writes included: rates
				// divide by this, not by the last write that completed.
				p.last.Store(int64(time.Since(p.epoch)))
			}
			if !p.broken {
				p.drain(cfg.DrainTimeout)
			}
			p.closing.Store(true)
			p.c.disconnect()
		}()
	}
	wg.Wait()

	res := &PubResult{Publishers: cfg.Publishers, QoS: cfg.QoS, PayloadSize: cfg.PayloadSize,
		Window: cfg.Window, OfferedRate: cfg.Rate, RunID: cfg.RunID, PerPublisher: make([]PublisherStat, len(pubs))}
	var hist Histogram
	var end time.Duration
	for i, p := range pubs {
		st := PublisherStat{Sent: p.sent.Load(), Acked: p.acked.Load()}
		if cfg.QoS > 0 {
			for id := range p.slots {
				if p.slots[id].at.Load() != 0 {
					st.Unacked = append(st.Unacked, p.slots[id].seq.Load())
				}
			}
		}
		res.PerPublisher[i] = st
		if p.broken {
			res.Abandoned++
		}
		res.Sent += st.Sent
		res.Acked += st.Acked
		hist.Merge(&p.hist)
		end = max(end, time.Duration(p.last.Load()))
	}
	res.Elapsed = end.Seconds()
	if end > 0 {
		res.Rate = float64(res.Acked) / end.Seconds()
	}
	res.Latency = hist.Summary()
	res.Errors = errs.list()
	return res
}

// slot is one packet identifier's message in flight.
type slot struct {
	at  atomic.Int64  // send time since the run's epoch, +1; 0 when free
	seq atomic.Uint64 // sequence number carried
}

// publisher is one publishing connection: a writer goroutine (write,
// drain) and a reader goroutine (read).
type publisher struct {
	idx    int
	c      *client
	qos    byte
	count  int64 // messages to send; MaxInt64 for a timed run
	window int
	run    uint32
	epoch  time.Time // the run's start; set before the goroutines start
	hard   time.Time // the connection's deadline; set with epoch
	pace   pace      // rate 0: as fast as the window allows

	frame  []byte // the PUBLISH, encoded once
	idOff  int    // offset of the packet identifier in frame
	payOff int    // offset of the payload in frame
	hasHdr bool   // the payload has room for a stamp

	ids   chan uint16 // free packet identifiers: the window
	slots []slot      // by packet identifier
	sent  atomic.Int64
	acked atomic.Int64
	last  atomic.Int64 // time of the last acknowledgement (or write at QoS 0), since epoch
	ackc  chan struct{}
	mu    sync.Mutex // guards hist: the reader holds it while it handles a read batch
	hist  Histogram

	readDone chan struct{}
	closing  atomic.Bool

	wmu       sync.Mutex // guards writing and abandoned
	writing   bool       // the writer is in a Write
	abandoned bool       // abandon set a past write deadline
	broken    bool       // the writer's last write was abandoned; writer only
}

// abandon makes a Write in progress fail at once.
func (p *publisher) abandon() {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.writing {
		p.abandoned = true
		_ = p.c.nc.SetWriteDeadline(time.Now())
	}
}

func newPublisher(cfg *PubConfig, idx int, c *client) (*publisher, error) {
	if cfg.QoS > c.maxQoS {
		return nil, fmt.Errorf("bench: the broker allows QoS %d at most (CONNACK Maximum QoS), asked %d", c.maxQoS, cfg.QoS)
	}
	payload := filler(cfg.PayloadSize)
	p := &packet.Publish{Topic: strings.ReplaceAll(cfg.Topic, "%d", strconv.Itoa(idx)), QoS: cfg.QoS, Payload: payload}
	if cfg.QoS > 0 {
		p.PacketID = 1
	}
	frame := packet.AppendPublish(nil, p, c.version)
	h, err := packet.ParseFixedHeader(frame)
	if err != nil || len(frame) == 0 {
		return nil, fmt.Errorf("bench: cannot encode a PUBLISH of %d bytes to %q", cfg.PayloadSize, p.Topic)
	}
	window := cfg.Window
	if c.recvMax > 0 {
		window = min(window, int(c.recvMax)) // the broker's Receive Maximum
	}
	pub := &publisher{
		idx: idx, c: c, qos: cfg.QoS, count: math.MaxInt64, window: window, run: cfg.RunID,
		frame: frame, idOff: h.HeaderLen + 2 + len(p.Topic), payOff: len(frame) - len(payload),
		hasHdr: len(payload) >= PayloadHeader, ackc: make(chan struct{}, 1), readDone: make(chan struct{}),
		pace: newPace(cfg.Rate, cfg.Publishers, idx, window, cfg.QoS),
	}
	if cfg.Count > 0 {
		pub.count = int64(cfg.Count)
	}
	if cfg.QoS > 0 {
		pub.ids = make(chan uint16, window)
		for id := 1; id <= window; id++ {
			pub.ids <- uint16(id)
		}
		pub.slots = make([]slot, window+1)
	}
	return pub, nil
}

// appendMsg appends message seq under packet id to buf, stamped now.
func (p *publisher) appendMsg(buf []byte, id uint16, seq int64, now time.Time) []byte {
	start := len(buf)
	buf = append(buf, p.frame...)
	if p.qos > 0 {
		buf[start+p.idOff], buf[start+p.idOff+1] = byte(id>>8), byte(id)
		s := &p.slots[id]
		s.seq.Store(uint64(seq))
		s.at.Store(int64(now.Sub(p.epoch)) + 1)
	}
	if p.hasHdr {
		putStamp(buf[start+p.payOff:], stamp{run: p.run, pub: uint32(p.idx), seq: uint64(seq), sent: now.UnixNano()})
	}
	return buf
}

// write sends until the count, the stop signal or a failure.
func (p *publisher) write(stop <-chan struct{}, errs *errorList) {
	if p.pace.rate > 0 {
		p.writePaced(stop, errs)
		return
	}
	buf := make([]byte, 0, p.window*len(p.frame))
	var seq int64
	for seq < p.count {
		select {
		case <-stop:
			return
		case <-p.readDone:
			return
		default:
		}
		buf = buf[:0]
		if p.qos == 0 {
			now := time.Now()
			for n := 0; n < p.window && seq < p.count; n++ {
				buf = p.appendMsg(buf, 0, seq, now)
				seq++
			}
		} else {
			var id uint16
			select {
			case id = <-p.ids:
			case <-stop:
				return
			case <-p.readDone:
				return
			}
			now := time.Now()
			buf = p.appendMsg(buf, id, seq, now)
			seq++
		more:
			for seq < p.count {
				select {
				case id = <-p.ids:
					buf = p.appendMsg(buf, id, seq, now)
					seq++
				default:
					break more
				}
			}
		}
		if !p.flush(buf, seq, errs) {
			return
		}
	}
}

// flush writes buf, which ends with message seq-1, and counts it.
func (p *publisher) flush(buf []byte, seq int64, errs *errorList) bool {
	p.wmu.Lock()
	p.writing = true
	p.wmu.Unlock()
	_, err := p.c.nc.Write(buf)
	p.wmu.Lock()
	p.writing = false
	abandoned := p.abandoned
	p.wmu.Unlock()
	if err != nil {
		if !abandoned {
			errs.add(fmt.Errorf("publisher %d: write: %w", p.idx, err))
			return false
		}
		// The run is over and the write was cut short, leaving part of a
		// packet on the connection, which must close. At QoS 1 and 2 the
		// messages are in their slots: acknowledged or unacked, not lost.
		p.broken = true
		if p.qos > 0 {
			p.sent.Store(seq)
		}
		return false
	}
	p.sent.Store(seq)
	if p.qos == 0 {
		p.acked.Store(seq)
		p.last.Store(int64(time.Since(p.epoch)))
	}
	if abandoned { // completed before the deadline bit: restore it
		_ = p.c.nc.SetWriteDeadline(p.hard)
		return false
	}
	return true
}

// drain waits for the acknowledgements still outstanding, at most timeout.
func (p *publisher) drain(timeout time.Duration) {
	if p.qos == 0 {
		return
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for p.acked.Load() < p.sent.Load() {
		select {
		case <-p.ackc:
		case <-p.readDone:
			return
		case <-t.C:
			return
		}
	}
}

// read handles acknowledgements until the connection closes.
func (p *publisher) read(errs *errorList) {
	defer close(p.readDone)
	var out []byte
	for {
		p.mu.Lock()
		acked, out2, err := p.handleBatch(out)
		p.mu.Unlock()
		out = out2
		if err != nil {
			errs.add(fmt.Errorf("publisher %d: %w", p.idx, err))
			return
		}
		if len(out) > 0 {
			if _, err := p.c.nc.Write(out); err != nil {
				p.readFailed(errs, err)
				return
			}
			out = out[:0]
		}
		if acked > 0 {
			p.acked.Add(acked)
			select {
			case p.ackc <- struct{}{}:
			default:
			}
		}
		if err := p.c.fill(); err != nil {
			p.readFailed(errs, err)
			return
		}
	}
}

// handleBatch handles every complete packet read, appending the PUBRELs
// to send to out, and returns how many messages were acknowledged.
func (p *publisher) handleBatch(out []byte) (int64, []byte, error) {
	acked := int64(0)
	for {
		h, body, ok, err := p.c.next()
		if err != nil || !ok {
			return acked, out, err
		}
		switch {
		case p.qos == 1 && h.Type == packet.PUBACK, p.qos == 2 && h.Type == packet.PUBCOMP:
			id, err := ackID(h, body, p.c.version)
			if err == nil {
				err = p.complete(id)
			}
			if err != nil {
				return acked, out, err
			}
			acked++
		case p.qos == 2 && h.Type == packet.PUBREC:
			id, err := ackID(h, body, p.c.version)
			if err != nil {
				return acked, out, err
			}
			out = ackFrame(out, packet.PUBREL, id)
		case h.Type == packet.PINGRESP:
		default:
			return acked, out, unexpected(h, body, p.c.version)
		}
	}
}

// complete ends the flight of packet id: latency, counters, and the id
// goes back to the window.
func (p *publisher) complete(id uint16) error {
	if int(id) >= len(p.slots) || id == 0 {
		return fmt.Errorf("acknowledgement for packet id %d, never used", id)
	}
	at := p.slots[id].at.Swap(0)
	if at == 0 {
		return fmt.Errorf("acknowledgement for packet id %d, not in flight", id)
	}
	now := int64(time.Since(p.epoch))
	p.hist.Record(time.Duration(now - (at - 1)))
	p.last.Store(now)
	p.ids <- id // never blocks: the channel holds the whole window
	return nil
}

func (p *publisher) readFailed(errs *errorList, err error) {
	if !p.closing.Load() {
		errs.add(fmt.Errorf("publisher %d: read: %w", p.idx, err))
	}
}
