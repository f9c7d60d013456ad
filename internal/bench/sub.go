package bench

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
)

// maxSeq bounds the sequence numbers a subscriber tracks (a bit each).
const maxSeq = 1 << 28

// SubConfig configures Sub and StartSub. Zero fields take the defaults in
// their comments.
type SubConfig struct {
	Target
	// Subscribers is the number of subscribing connections; 1.
	Subscribers int
	// Filter every subscriber subscribes to, "%d" replaced by the
	// subscriber index (subscriber i of a pairs run takes "bench/%d" as
	// "bench/i"); "bench/#".
	Filter string
	// QoS requested: 0, 1 or 2.
	QoS byte
	// ClientIDPrefix starts every client id, followed by the subscriber
	// index; "bench-sub-".
	ClientIDPrefix string
	// Persistent connects with clean session 0, so the broker keeps the
	// session (and queues for it) after the subscriber disconnects.
	Persistent bool
	// RunID, when not 0, counts only messages of that run; the others are
	// Foreign.
	RunID uint32
	// MaxDuration bounds the subscribers' life: their connections close
	// then even if Close was not called; MaxRunTime.
	MaxDuration time.Duration
	// ConnectParallel is how many handshakes run at once; 64.
	ConnectParallel int

	conns *atomic.Int64 // counts connections made, for progress reports
}

func (c *SubConfig) setDefaults() error {
	if c.Subscribers == 0 {
		c.Subscribers = 1
	}
	if c.Filter == "" {
		c.Filter = "bench/#"
	}
	if c.ClientIDPrefix == "" {
		c.ClientIDPrefix = "bench-sub-"
	}
	if c.MaxDuration == 0 {
		c.MaxDuration = MaxRunTime
	}
	if c.ConnectParallel == 0 {
		c.ConnectParallel = 64
	}
	switch {
	case c.Subscribers < 0 || c.Subscribers > MaxClients:
		return fmt.Errorf("bench: %d subscribers: want 1..%d", c.Subscribers, MaxClients)
	case c.QoS > 2:
		return fmt.Errorf("bench: QoS %d: want 0, 1 or 2", c.QoS)
	case c.MaxDuration < 0 || c.MaxDuration > MaxRunTime:
		return fmt.Errorf("bench: subscriber duration %v: want at most %v", c.MaxDuration, MaxRunTime)
	}
	return nil
}

// SubResult is what the subscribers of a run saw, summed over them.
type SubResult struct {
	Subscribers int   `json:"subscribers"`
	QoS         byte  `json:"qos"`
	Received    int64 `json:"received"` // PUBLISH packets
	// Unique is the messages of the run seen for the first time by their
	// subscriber; Duplicates the ones seen again (DupFlagged of all the
	// received carried the DUP flag).
	Unique     int64 `json:"unique"`
	Duplicates int64 `json:"duplicates"`
	DupFlagged int64 `json:"dup_flagged"`
	// Foreign is messages of another run, or too short to carry a stamp.
	Foreign int64 `json:"foreign"`
	// Gaps is sequence numbers missing between the lowest and the highest
	// one seen, over every subscriber and publisher: loss (or messages
	// still on their way), without needing the publishers' counts.
	Gaps int64 `json:"gaps"`
	// Elapsed is from the first message received to the last; Rate is
	// Received over it.
	Elapsed float64 `json:"elapsed_s"`
	Rate    float64 `json:"msgs_per_s"`
	// Latency is from the stamp in the payload to receipt (same host
	// clock).
	Latency Percentiles `json:"latency"`
	Errors  []string    `json:"errors,omitempty"`
}

// SubRun is subscribers running; see StartSub.
type SubRun struct {
	cfg   SubConfig
	epoch time.Time
	subs  []*subscriber
	wg    sync.WaitGroup
	errs  errorList
	once  sync.Once
	res   *SubResult
}

// StartSub connects cfg.Subscribers clients, subscribes each to
// cfg.Filter and starts counting what arrives. Stop them with Close.
func StartSub(ctx context.Context, cfg SubConfig) (*SubRun, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	srcs, err := cfg.Target.check()
	if err != nil {
		return nil, err
	}
	clients, err := connectAll(ctx, &cfg.Target, srcs, cfg.Subscribers, cfg.ConnectParallel, func(i int) *packet.Connect {
		return &packet.Connect{ClientID: cfg.ClientIDPrefix + strconv.Itoa(i), CleanStart: !cfg.Persistent}
	}, cfg.conns)
	if err != nil {
		return nil, err
	}
	r := &SubRun{cfg: cfg, epoch: time.Now()}
	hard := r.epoch.Add(cfg.MaxDuration)
	for i, c := range clients {
		r.subs = append(r.subs, &subscriber{idx: i, c: c, run: cfg.RunID, epoch: r.epoch,
			seen: make(map[uint64]*seqSet), subacks: make(chan byte, 1), done: make(chan struct{})})
	}
	for _, s := range r.subs {
		_ = s.c.nc.SetDeadline(hard)
		r.wg.Add(1)
		go func() { defer r.wg.Done(); s.read(&r.errs) }()
	}
	// The readers run before SUBSCRIBE goes out: a persistent session may
	// be sent its queued messages before the SUBACK.
	var frame []byte
	for i, s := range r.subs {
		if i == 0 || strings.Contains(cfg.Filter, "%d") {
			filter := strings.ReplaceAll(cfg.Filter, "%d", strconv.Itoa(i))
			frame, err = packet.Append(frame[:0], &packet.Subscribe{PacketID: 1,
				Subs: []packet.Subscription{{Filter: filter, QoS: cfg.QoS}}}, s.c.version)
			if err != nil {
				r.Close()
				return nil, fmt.Errorf("bench: filter %q: %w", filter, err)
			}
		}
		if err := s.subscribe(frame, cfg.QoS, cfg.connectTimeout()); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// Sub runs subscribers until each has received perSubscriber messages of
// the run, nothing arrived for idle, or limit passed; then disconnects.
func Sub(ctx context.Context, cfg SubConfig, perSubscriber int64, idle, limit time.Duration) (*SubResult, error) {
	r, err := StartSub(ctx, cfg)
	if err != nil {
		return nil, err
	}
	r.Wait(ctx, perSubscriber, idle, limit)
	return r.Close(), nil
}

// Unique is the number of first-time messages of the run received so far,
// summed over the subscribers.
func (r *SubRun) Unique() int64 {
	var n int64
	for _, s := range r.subs {
		n += s.unique.Load()
	}
	return n
}

// Wait returns true once every subscriber has received perSubscriber
// unique messages, and false when nothing arrived for idle, limit passed
// (at most MaxRunTime), ctx ended or every subscriber's connection ended.
func (r *SubRun) Wait(ctx context.Context, perSubscriber int64, idle, limit time.Duration) bool {
	return r.wait(ctx, idle, limit, func() bool {
		for _, s := range r.subs {
			if s.unique.Load() < perSubscriber {
				return false
			}
		}
		return true
	})
}

// WaitTotal is Wait for total unique messages over all subscribers.
func (r *SubRun) WaitTotal(ctx context.Context, total int64, idle, limit time.Duration) bool {
	return r.wait(ctx, idle, limit, func() bool { return r.Unique() >= total })
}

func (r *SubRun) wait(ctx context.Context, idle, limit time.Duration, done func() bool) bool {
	limit = min(limit, MaxRunTime)
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	last, lastChange := int64(-1), time.Now()
	for {
		if done() {
			return true
		}
		total, alive := int64(0), false
		for _, s := range r.subs {
			total += s.received.Load()
			select {
			case <-s.done:
			default:
				alive = true
			}
		}
		now := time.Now()
		if total != last {
			last, lastChange = total, now
		}
		if !alive || now.Sub(lastChange) >= idle || now.After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

// Received is the number of PUBLISH packets received so far.
func (r *SubRun) Received() int64 {
	var n int64
	for _, s := range r.subs {
		n += s.received.Load()
	}
	return n
}

// live adds the delivery latencies so far to h and returns the sequence
// numbers missing so far (see SubResult.Gaps).
func (r *SubRun) live(h *Histogram) (gaps int64) {
	for _, s := range r.subs {
		s.mu.Lock()
		h.Merge(&s.hist)
		gaps += s.gaps
		s.mu.Unlock()
	}
	return gaps
}

// Close disconnects the subscribers (a persistent session stays on the
// broker) and returns what they saw. It may be called more than once.
func (r *SubRun) Close() *SubResult {
	r.once.Do(func() {
		for _, s := range r.subs {
			s.closing.Store(true)
			s.c.disconnect()
		}
		r.wg.Wait()
		r.res = r.result()
	})
	return r.res
}

func (r *SubRun) result() *SubResult {
	res := &SubResult{Subscribers: len(r.subs), QoS: r.cfg.QoS}
	var hist Histogram
	first, last := int64(-1), int64(0)
	for _, s := range r.subs {
		res.Received += s.received.Load()
		res.Unique += s.unique.Load()
		res.Duplicates += s.dups
		res.DupFlagged += s.dupFlagged
		res.Foreign += s.foreign
		for _, set := range s.seen {
			res.Gaps += set.gaps()
		}
		hist.Merge(&s.hist)
		if s.received.Load() > 0 {
			if first < 0 || s.first < first {
				first = s.first
			}
			last = max(last, s.last)
		}
	}
	if first >= 0 && last > first {
		d := time.Duration(last - first)
		res.Elapsed = d.Seconds()
		res.Rate = float64(res.Received) / d.Seconds()
	}
	res.Latency = hist.Summary()
	res.Errors = r.errs.list()
	return res
}

// Missing returns how many acknowledged messages of pub some subscriber
// never received, summed over subscribers (each subscriber is expected to
// receive every message: its filter matches every publisher's topic).
// Call it after Close. Messages pub never saw acknowledged do not count.
func (r *SubRun) Missing(pub *PubResult) int64 {
	return r.MissingFor(pub, nil)
}

// MissingFor is Missing where subscriber sub expects the messages of
// publisher p only when expects(sub, p) (nil: always).
func (r *SubRun) MissingFor(pub *PubResult, expects func(sub, p int) bool) int64 {
	var missing int64
	unacked := make([]map[uint64]bool, len(pub.PerPublisher))
	for i, st := range pub.PerPublisher {
		unacked[i] = make(map[uint64]bool, len(st.Unacked))
		for _, seq := range st.Unacked {
			unacked[i][seq] = true
		}
	}
	for _, s := range r.subs {
		for i, st := range pub.PerPublisher {
			if expects != nil && !expects(s.idx, i) {
				continue
			}
			set := s.seen[uint64(pub.RunID)<<32|uint64(i)]
			for seq := uint64(0); seq < uint64(st.Sent); seq++ {
				if !unacked[i][seq] && (set == nil || !set.has(seq)) {
					missing++
				}
			}
		}
	}
	return missing
}

// seqSet is the sequence numbers seen from one publisher.
type seqSet struct {
	bits     []uint64
	n        int64
	min, max uint64
}

// add records seq and reports whether it is new.
func (s *seqSet) add(seq uint64) bool {
	w := int(seq / 64)
	if w >= len(s.bits) {
		s.bits = append(s.bits, make([]uint64, w+1-len(s.bits)+len(s.bits)/2)...)
	}
	bit := uint64(1) << (seq % 64)
	if s.bits[w]&bit != 0 {
		return false
	}
	s.bits[w] |= bit
	if s.n == 0 || seq < s.min {
		s.min = seq
	}
	s.n++
	s.max = max(s.max, seq)
	return true
}

// gaps is the number of sequence numbers between the lowest and the
// highest seen that were not seen.
func (s *seqSet) gaps() int64 {
	if s.n == 0 {
		return 0
	}
	return int64(s.max-s.min+1) - s.n
}

func (s *seqSet) has(seq uint64) bool {
	w := int(seq / 64)
	return w < len(s.bits) && s.bits[w]&(uint64(1)<<(seq%64)) != 0
}

// subscriber is one subscribing connection and its reader goroutine. The
// reader owns every field but the atomics until done is closed.
type subscriber struct {
	idx   int
	c     *client
	run   uint32
	epoch time.Time

	received atomic.Int64
	unique   atomic.Int64
	// mu guards hist and gaps, which progress reports read during the
	// run: the reader holds it while it handles a read batch.
	mu   sync.Mutex
	hist Histogram
	gaps int64 // sequence numbers missing so far (seqSet.gaps, summed)
	dups int64
	// dupFlagged counts received messages with the DUP flag.
	dupFlagged  int64
	foreign     int64
	seen        map[uint64]*seqSet // by run<<32 | publisher
	lastKey     uint64             // the key of lastSet, the set seen last
	lastSet     *seqSet
	first, last int64 // receive times since epoch

	subacks chan byte // first return code of each SUBACK
	closing atomic.Bool
	done    chan struct{}
}

// subscribe writes the SUBSCRIBE frame and waits for its SUBACK.
func (s *subscriber) subscribe(frame []byte, qos byte, timeout time.Duration) error {
	if _, err := s.c.nc.Write(frame); err != nil {
		return fmt.Errorf("subscriber %d: write SUBSCRIBE: %w", s.idx, err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case code := <-s.subacks:
		if code != qos {
			return fmt.Errorf("subscriber %d: SUBACK %s 0x%02X, asked QoS %d", s.idx, codeWord(s.c.version), code, qos)
		}
		return nil
	case <-s.done:
		return fmt.Errorf("subscriber %d: connection ended before SUBACK", s.idx)
	case <-t.C:
		return fmt.Errorf("subscriber %d: no SUBACK within %v", s.idx, timeout)
	}
}

func (s *subscriber) read(errs *errorList) {
	defer close(s.done)
	var out []byte
	for {
		s.mu.Lock()
		out2, err := s.handleBatch(out)
		s.mu.Unlock()
		out = out2
		if err != nil {
			errs.add(fmt.Errorf("subscriber %d: %w", s.idx, err))
			return
		}
		if len(out) > 0 {
			if _, err := s.c.nc.Write(out); err != nil {
				s.failed(errs, err)
				return
			}
			out = out[:0]
		}
		if err := s.c.fill(); err != nil {
			s.failed(errs, err)
			return
		}
	}
}

// handleBatch handles every complete packet read, appending the
// acknowledgements to send to out.
func (s *subscriber) handleBatch(out []byte) ([]byte, error) {
	v := s.c.version
	now := time.Now() // the batch's receive time: one clock read per read
	for {
		h, body, ok, err := s.c.next()
		if err != nil || !ok {
			return out, err
		}
		switch h.Type {
		case packet.PUBLISH:
			pub, err := parsePublish(h, body, v)
			if err != nil {
				return out, err
			}
			s.count(&pub, now)
			switch pub.qos {
			case 1:
				out = ackFrame(out, packet.PUBACK, pub.id)
			case 2:
				out = ackFrame(out, packet.PUBREC, pub.id)
			}
		case packet.PUBREL:
			id, err := ackID(h, body, v)
			if err != nil {
				return out, err
			}
			out = ackFrame(out, packet.PUBCOMP, id)
		case packet.SUBACK:
			code, err := subackCode(h, body, v)
			if err != nil {
				return out, err
			}
			select {
			case s.subacks <- code:
			default:
			}
		case packet.PINGRESP, packet.UNSUBACK:
		default:
			return out, unexpected(h, body, v)
		}
	}
}

// subackCode returns the return code of a SUBACK for one filter.
func subackCode(h packet.FixedHeader, body []byte, version byte) (byte, error) {
	p, err := packet.Decode(h, body, version)
	if err != nil {
		return 0, err
	}
	ack, ok := p.(*packet.Suback)
	if !ok || len(ack.ReasonCodes) != 1 {
		return 0, fmt.Errorf("SUBACK with %d return codes, want 1", len(ack.ReasonCodes))
	}
	return byte(ack.ReasonCodes[0]), nil
}

// count accounts for one received PUBLISH.
func (s *subscriber) count(p *delivery, now time.Time) {
	at := int64(now.Sub(s.epoch))
	if s.received.Load() == 0 {
		s.first = at
	}
	s.last = at
	s.received.Add(1)
	if p.dup {
		s.dupFlagged++
	}
	st, ok := readStamp(p.payload)
	if !ok || (s.run != 0 && st.run != s.run) || st.seq >= maxSeq {
		s.foreign++
		return
	}
	key := uint64(st.run)<<32 | uint64(st.pub)
	set := s.lastSet
	if set == nil || key != s.lastKey {
		if set = s.seen[key]; set == nil {
			set = &seqSet{}
			s.seen[key] = set
		}
		s.lastKey, s.lastSet = key, set
	}
	before := set.gaps()
	if !set.add(st.seq) {
		s.dups++
		return
	}
	s.gaps += set.gaps() - before
	s.unique.Add(1)
	s.hist.Record(time.Duration(now.UnixNano() - st.sent))
}

func (s *subscriber) failed(errs *errorList, err error) {
	if !s.closing.Load() {
		errs.add(fmt.Errorf("subscriber %d: read: %w", s.idx, err))
	}
}
