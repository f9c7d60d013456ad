package broker

import (
	"log/slog"
	"math"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/baram-mqtt/baram/internal/packet"
)

// Abuse limits: connections per listener, connection rate per listener
// and per source address, publish rate per client, flapping client ids
// and authentication failures per source address. Every refusal is
// counted in Stats and logged at Info, at most once a second per source.
//
// Per-source state lives in bounded tables (maxTracked entries each):
// entries whose state no longer matters are dropped by a sweep, and when
// a table is full of live entries, arbitrary ones are dropped, so an
// attacker with many addresses costs memory up to the bound, no more.

// maxTracked bounds each per-source table. A variable for tests.
var maxTracked = 1 << 16

// tableSweepEvery is how often a table drops its idle entries, at most.
const tableSweepEvery = time.Minute

// publishTolerance is how far beyond its burst a client may run into
// debt before it is disconnected: a second's worth at the configured rate.
const publishTolerance = time.Second

// refusedConnectTimeout bounds the wait for the CONNECT of a connection
// already refused when it was accepted: it only waits to be told why.
const refusedConnectTimeout = 2 * time.Second

// table is a map bounded to max entries. Its owner locks it.
type table[K comparable, V any] struct {
	m         map[K]V
	idle      func(v V, now time.Time) bool // the entry may be forgotten
	lastSweep time.Time
}

func newTable[K comparable, V any](idle func(V, time.Time) bool) table[K, V] {
	return table[K, V]{m: make(map[K]V), idle: idle}
}

// lookup returns the entry of k, if any.
func (t *table[K, V]) lookup(k K) (V, bool) {
	v, ok := t.m[k]
	return v, ok
}

// get returns the entry of k, created by mk when missing. Creating one
// in a full table first drops idle entries and then, if still full, a
// sixteenth of the entries, whichever they are.
func (t *table[K, V]) get(k K, now time.Time, mk func() V) V {
	if v, ok := t.m[k]; ok {
		return v
	}
	if now.Sub(t.lastSweep) >= tableSweepEvery || len(t.m) >= maxTracked {
		t.sweep(now)
	}
	if len(t.m) >= maxTracked {
		drop := max(1, len(t.m)/16)
		for key := range t.m { // map order is unspecified: arbitrary victims
			delete(t.m, key)
			if drop--; drop == 0 {
				break
			}
		}
	}
	v := mk()
	t.m[k] = v
	return v
}

// sweep drops the idle entries.
func (t *table[K, V]) sweep(now time.Time) {
	t.lastSweep = now
	for k, v := range t.m {
		if t.idle(v, now) {
			delete(t.m, k)
		}
	}
}

func (t *table[K, V]) len() int { return len(t.m) }

// flapEntry counts the CONNECTs of one client id.
type flapEntry struct {
	start  time.Time // the window began
	count  int       // connects in the window
	banned time.Time // refused until then
}

// authEntry counts the failed authentications from one source.
type authEntry struct {
	start   time.Time // the window began
	fails   int       // failures in the window
	until   time.Time // refused until then
	strikes int       // back-offs so far: each doubles the next
}

// logEntry rate-limits the refusal logs of one source.
type logEntry struct {
	last       time.Time
	suppressed int
}

// limits holds the broker-wide limit state.
type limits struct {
	opts *Options

	mu       sync.Mutex
	ipRate   table[netip.Addr, *rate.Limiter] // guarded by mu
	flaps    table[string, *flapEntry]        // guarded by mu
	authFail table[netip.Addr, *authEntry]    // guarded by mu
	logs     table[string, *logEntry]         // guarded by mu
}

func newLimits(o *Options) *limits {
	return &limits{
		opts: o,
		// A bucket that has refilled holds nothing worth keeping.
		ipRate: newTable[netip.Addr](func(l *rate.Limiter, now time.Time) bool {
			return l.TokensAt(now) >= float64(l.Burst())
		}),
		flaps: newTable[string](func(e *flapEntry, now time.Time) bool {
			return !now.Before(e.banned) && now.Sub(e.start) > o.FlapWindow
		}),
		authFail: newTable[netip.Addr](func(e *authEntry, now time.Time) bool {
			return now.Sub(e.until) > o.AuthBackoffMax && now.Sub(e.start) > o.AuthFailureWindow
		}),
		logs: newTable[string](func(e *logEntry, now time.Time) bool {
			return now.Sub(e.last) > time.Minute
		}),
	}
}

// burstFor is burst, or one second's worth of r when it is 0.
func burstFor(r float64, burst int) int {
	if burst > 0 {
		return burst
	}
	return max(1, int(math.Ceil(r)))
}

// sourceOf is the address limits key a connection on: its IP address,
// IPv6 ones narrowed to their /64, which one host usually holds whole.
// The zero Addr (not an IP connection) is not limited.
func sourceOf(a net.Addr) netip.Addr {
	var ap netip.AddrPort
	if ta, ok := a.(*net.TCPAddr); ok {
		ap = ta.AddrPort()
	} else if a != nil {
		ap, _ = netip.ParseAddrPort(a.String())
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return ip
}

// allowConnect takes a connection token of src.
func (l *limits) allowConnect(src netip.Addr, now time.Time) bool {
	r := l.opts.ConnectRatePerIP
	if r <= 0 || !src.IsValid() {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.ipRate.get(src, now, func() *rate.Limiter {
		return rate.NewLimiter(rate.Limit(r), burstFor(r, l.opts.ConnectBurstPerIP))
	})
	return lim.AllowN(now, 1)
}

// flap records a CONNECT of client id and reports whether it is banned,
// until when, and whether this CONNECT began the ban.
func (l *limits) flap(id string, now time.Time) (until time.Time, banned, began bool) {
	o := l.opts
	if o.FlapCount <= 0 {
		return time.Time{}, false, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.flaps.get(id, now, func() *flapEntry { return &flapEntry{start: now} })
	if now.Before(e.banned) {
		return e.banned, true, false
	}
	if now.Sub(e.start) > o.FlapWindow {
		e.start, e.count = now, 0
	}
	e.count++
	if e.count <= o.FlapCount {
		return time.Time{}, false, false
	}
	e.banned, e.start, e.count = now.Add(o.FlapBan), now, 0
	return e.banned, true, true
}

// authBlocked reports whether src is in an authentication back-off, and
// until when.
func (l *limits) authBlocked(src netip.Addr, now time.Time) (time.Time, bool) {
	if l.opts.AuthFailures <= 0 || !src.IsValid() {
		return time.Time{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.authFail.lookup(src)
	if !ok || !now.Before(e.until) {
		return time.Time{}, false
	}
	return e.until, true
}

// authFailed records a failed authentication from src; the one that
// reaches AuthFailures within AuthFailureWindow starts a back-off, twice
// as long as the last one unless that ended AuthBackoffMax ago, and at
// most AuthBackoffMax. It returns the back-off begun, or 0.
func (l *limits) authFailed(src netip.Addr, now time.Time) time.Duration {
	o := l.opts
	if o.AuthFailures <= 0 || !src.IsValid() {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.authFail.get(src, now, func() *authEntry { return &authEntry{start: now} })
	if now.Sub(e.start) > o.AuthFailureWindow {
		e.start, e.fails = now, 0
	}
	if !e.until.IsZero() && now.Sub(e.until) > o.AuthBackoffMax {
		e.strikes = 0 // well behaved for long enough: forgiven
	}
	e.fails++
	if e.fails < o.AuthFailures {
		return 0
	}
	d := o.AuthBackoff
	for i := 0; i < e.strikes && d < o.AuthBackoffMax; i++ {
		d *= 2
	}
	d = min(d, o.AuthBackoffMax)
	e.until, e.fails, e.start = now.Add(d), 0, now
	e.strikes = min(e.strikes+1, 62)
	return d
}

// logf logs a refusal at Info unless one was logged for src less than a
// second ago; the next line that is logged says how many were not.
func (l *limits) logf(log *slog.Logger, src, msg string, args ...any) {
	now := time.Now()
	l.mu.Lock()
	e := l.logs.get(src, now, func() *logEntry { return &logEntry{} })
	if !e.last.IsZero() && now.Sub(e.last) < time.Second {
		e.suppressed++
		l.mu.Unlock()
		return
	}
	n := e.suppressed
	e.last, e.suppressed = now, 0
	l.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	log.Info(msg, args...)
}

// listenerState is a listener's share of the limits.
type listenerState struct {
	lo       ListenerOptions
	active   atomic.Int64  // open connections accepted by it
	accepted atomic.Uint64 // connections accepted since it started
	rate     *rate.Limiter // nil: no connection rate limit
}

func newListenerState(lo ListenerOptions) *listenerState {
	ls := &listenerState{lo: lo}
	if lo.ConnectRate > 0 {
		ls.rate = rate.NewLimiter(rate.Limit(lo.ConnectRate), burstFor(lo.ConnectRate, lo.ConnectBurst))
	}
	return ls
}

// connLimits is a connection's share of the limits.
type connLimits struct {
	// Set before the reader starts, read-only afterwards.
	src    netip.Addr        // source address, the key of per-source limits
	refuse packet.ReasonCode // non-zero: refused when accepted, told at CONNECT
	why    string            // the reason of refuse

	// Owned by the reader goroutine.
	logged bool          // the refusal was logged (rate-limited) where it was decided
	msgs   *rate.Limiter // publish rate; nil when unlimited
	bytes  *rate.Limiter // publish byte rate; nil when unlimited
}

// screen applies the accept-time limits to a new connection of ls: the
// rate of its source address, the listener's rate and the listener's
// connection cap, in that order, so that a source over its own rate does
// not use up the listener's. A refused connection learns why when it
// sends CONNECT (it needs the protocol version to be told).
func (c *conn) screen(ls *listenerState, active int64) {
	b := c.b
	now := time.Now()
	c.lim.src = sourceOf(c.nc.RemoteAddr())
	var counter *atomic.Uint64
	switch {
	case !b.limits.allowConnect(c.lim.src, now):
		c.lim.refuse, c.lim.why = packet.ConnectionRateExceeded, "connection rate per address exceeded"
		counter = &b.stats.refusedRateIP
	case ls.rate != nil && !ls.rate.AllowN(now, 1):
		c.lim.refuse, c.lim.why = packet.ConnectionRateExceeded, "listener connection rate exceeded"
		counter = &b.stats.refusedRateListener
	case ls.lo.MaxConnections > 0 && active > int64(ls.lo.MaxConnections):
		c.lim.refuse, c.lim.why = packet.QuotaExceeded, "listener connection limit reached"
		counter = &b.stats.refusedListenerFull
	default:
		return
	}
	counter.Add(1)
	c.lim.logged = true
	b.limits.logf(c.log, c.lim.src.String(), "connection refused", "reason", c.lim.why,
		"code", byte(c.lim.refuse), "listener", ls.lo.Name)
}

// connectTimeout is how long the connection may take to send CONNECT.
func (c *conn) connectTimeout() time.Duration {
	if c.lim.refuse != 0 {
		return min(c.b.opts.ConnectTimeout, refusedConnectTimeout)
	}
	return c.b.opts.ConnectTimeout
}

// screenConnect refuses a CONNECT that was refused when its connection
// was accepted, or that comes from a source in an authentication
// back-off. It runs before authentication, which it spares.
func (c *conn) screenConnect() (packet.ReasonCode, string) {
	if c.lim.refuse != 0 {
		return c.lim.refuse, c.lim.why
	}
	if until, ok := c.b.limits.authBlocked(c.lim.src, time.Now()); ok {
		c.b.stats.refusedAuthBackoff.Add(1)
		c.refusedByLimit("too many failed authentications from this address", packet.NotAuthorized,
			"until", until.Format(time.RFC3339))
		return packet.NotAuthorized, "too many failed authentications from this address"
	}
	return packet.Success, ""
}

// authFailed counts a failed authentication of this connection's source.
func (c *conn) authFailed() {
	if d := c.b.limits.authFailed(c.lim.src, time.Now()); d > 0 {
		c.b.stats.authBackoffs.Add(1)
		c.b.limits.logf(c.log, c.lim.src.String(), "authentication back-off begins for address",
			"failures", c.b.opts.AuthFailures, "backoff", d)
	}
}

// checkFlapping counts an admitted CONNECT of the client id and refuses
// it while the id is banned for connecting too often. Ids the broker
// assigned are never reused, so they are not tracked.
func (c *conn) checkFlapping(p *packet.Connect) (packet.ReasonCode, string) {
	if p.ClientID == "" {
		return packet.Success, ""
	}
	until, banned, began := c.b.limits.flap(p.ClientID, time.Now())
	if !banned {
		return packet.Success, ""
	}
	const why = "client id banned for connecting too often"
	if began {
		c.b.stats.flapBans.Add(1)
	}
	c.b.stats.refusedBanned.Add(1)
	c.refusedByLimit(why, packet.Banned, "until", until.Format(time.RFC3339),
		"flap_count", c.b.opts.FlapCount, "flap_window", c.b.opts.FlapWindow)
	return packet.Banned, why
}

// refusedByLimit logs a CONNECT refused by a limit, rate-limited per
// source address.
func (c *conn) refusedByLimit(why string, code packet.ReasonCode, args ...any) {
	c.lim.logged = true
	c.b.limits.logf(c.log, c.lim.src.String(), "connection refused",
		append([]any{"reason", why, "code", byte(code)}, args...)...)
}

// limitError ends a connection that exceeded its publish rate.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }

// limitPublish takes a PUBLISH of size bytes from the client's token
// buckets. A client over its rate is disconnected (v5: DISCONNECT 0x96
// Message rate too high; 3.x: closed) rather than slowed down: MQTT 5
// gives this case its reason code, and a client told why can back off,
// while one that is merely not read from just fills buffers and queues
// on both sides. To forgive jitter, a client may run a second's worth
// (publishTolerance) into debt beyond its burst before it is cut off.
func (c *conn) limitPublish(size int) error {
	o := &c.b.opts
	if o.PublishRate <= 0 && o.PublishBytesRate <= 0 {
		return nil
	}
	if c.lim.msgs == nil && c.lim.bytes == nil {
		if o.PublishRate > 0 {
			c.lim.msgs = rate.NewLimiter(rate.Limit(o.PublishRate), burstFor(o.PublishRate, 0))
		}
		if o.PublishBytesRate > 0 {
			// A burst of at least one largest packet, which must pass.
			burst := max(burstFor(o.PublishBytesRate, 0), int(o.MaxPacketSize))
			c.lim.bytes = rate.NewLimiter(rate.Limit(o.PublishBytesRate), burst)
		}
	}
	now := time.Now()
	why := ""
	switch {
	case c.lim.msgs != nil && !withinTolerance(c.lim.msgs, now, 1):
		why = "publish rate exceeded"
	case c.lim.bytes != nil && !withinTolerance(c.lim.bytes, now, size):
		why = "publish byte rate exceeded"
	default:
		return nil
	}
	c.b.stats.rateDisconnects.Add(1)
	c.b.limits.logf(c.log, c.lim.src.String(), "closing connection: "+why,
		"publish_rate", o.PublishRate, "publish_bytes_rate", o.PublishBytesRate)
	return &limitError{why}
}

// withinTolerance takes n tokens from l unless that puts it more than
// publishTolerance in debt.
func withinTolerance(l *rate.Limiter, now time.Time, n int) bool {
	r := l.ReserveN(now, n)
	if !r.OK() {
		return false
	}
	if r.DelayFrom(now) > publishTolerance {
		r.CancelAt(now)
		return false
	}
	return true
}
