package broker

import (
	"sync/atomic"
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
	"github.com/baram-mqtt/baram/internal/session"
)

// Stats are the broker's running counters. Every field is an atomic
// counter that only grows; Snapshot copies them for readers (metrics,
// $SYS, the admin API).
type Stats struct {
	received      [3]atomic.Uint64 // PUBLISH received from clients and Broker.Publish, by QoS
	receivedBytes [3]atomic.Uint64 // their payload bytes
	sent          [3]atomic.Uint64 // PUBLISH written to clients, by the QoS sent with
	sentBytes     [3]atomic.Uint64 // their payload bytes
	netIn, netOut atomic.Uint64    // bytes read from and written to client sockets

	accepted atomic.Uint64 // sockets accepted by every listener
	connects atomic.Uint64 // CONNECTs admitted

	// Messages dropped, by reason.
	dropQueueFull atomic.Uint64 // session queue full (message or byte cap)
	dropSlow      atomic.Uint64 // QoS 0 for a client not reading
	dropTooLarge  atomic.Uint64 // over the client's maximum packet size
	dropExpired   atomic.Uint64 // message expiry passed while queued or retained

	commits commitHistogram // store commits of read batches

	// CONNECTs refused, by reason.
	refusedBadAuth       atomic.Uint64 // bad username or password (0x86 / 3.x 4)
	refusedNotAuthorized atomic.Uint64 // not authorized (0x87 / 3.x 5)
	refusedOther         atomic.Uint64 // version, client id, keep alive, auth method

	// Abuse limits (limits.go).
	refusedMaxConns     atomic.Uint64 // Options.MaxConnections
	refusedListenerFull atomic.Uint64 // ListenerOptions.MaxConnections
	refusedRateListener atomic.Uint64 // ListenerOptions.ConnectRate
	refusedRateIP       atomic.Uint64 // Options.ConnectRatePerIP
	refusedBanned       atomic.Uint64 // CONNECTs of a client id banned for flapping
	refusedAuthBackoff  atomic.Uint64 // CONNECTs from an address in auth back-off
	flapBans            atomic.Uint64 // flapping bans begun
	authBackoffs        atomic.Uint64 // authentication back-offs begun
	rateDisconnects     atomic.Uint64 // clients cut off for their publish rate
}

// CommitBuckets are the upper bounds of the commit latency histogram.
var CommitBuckets = []time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, time.Second,
}

// commitHistogram counts store commit latencies in CommitBuckets.
type commitHistogram struct {
	buckets [13]atomic.Uint64 // one per CommitBuckets bound, the last for more
	count   atomic.Uint64
	nanos   atomic.Uint64
}

func (h *commitHistogram) observe(d time.Duration) {
	i := 0
	for i < len(CommitBuckets) && d > CommitBuckets[i] {
		i++
	}
	h.buckets[i].Add(1)
	h.count.Add(1)
	h.nanos.Add(uint64(d))
}

// countReceived counts one inbound PUBLISH.
func (s *Stats) countReceived(qos byte, payload int) {
	s.received[qos].Add(1)
	s.receivedBytes[qos].Add(uint64(payload))
}

// countSent counts one PUBLISH queued to a client's socket.
func (s *Stats) countSent(qos byte, payload int) {
	s.sent[qos].Add(1)
	s.sentBytes[qos].Add(uint64(payload))
}

// countRefusal counts a CONNECT refused for code by anything but the
// abuse limits, which count their own.
func (s *Stats) countRefusal(code packet.ReasonCode) {
	switch code {
	case packet.BadUserNameOrPassword:
		s.refusedBadAuth.Add(1)
	case packet.NotAuthorized:
		s.refusedNotAuthorized.Add(1)
	default:
		s.refusedOther.Add(1)
	}
}

// countDrop counts a dropped delivery by its reason; it returns the total
// dropped so far.
func (s *Stats) countDrop(out session.Outcome) uint64 {
	switch out {
	case session.DroppedSlow:
		s.dropSlow.Add(1)
	case session.DroppedTooLarge:
		s.dropTooLarge.Add(1)
	default:
		s.dropQueueFull.Add(1)
	}
	return s.dropped()
}

func (s *Stats) dropped() uint64 {
	return s.dropQueueFull.Load() + s.dropSlow.Load() + s.dropTooLarge.Load() + s.dropExpired.Load()
}

// PerQoS is a figure for QoS 0, 1 and 2.
type PerQoS [3]uint64

// Total is the sum over the QoS levels.
func (q PerQoS) Total() uint64 { return q[0] + q[1] + q[2] }

func loadQoS(a *[3]atomic.Uint64) PerQoS {
	return PerQoS{a[0].Load(), a[1].Load(), a[2].Load()}
}

// Snapshot is a copy of the counters at one moment.
type Snapshot struct {
	Uptime           time.Duration
	Connections      int64  // open client sockets
	Parked           int64  // of those, idle ones holding no goroutine
	Accepted         uint64 // sockets accepted since start
	Connects         uint64 // CONNECTs admitted since start
	MessagesReceived uint64 // PUBLISH received, all QoS
	MessagesSent     uint64 // PUBLISH sent, all QoS
	MessagesDropped  uint64 // all drop reasons
	Retained         int
	Subscriptions    int

	Received, ReceivedBytes PerQoS // PUBLISH received and their payload bytes
	Sent, SentBytes         PerQoS // PUBLISH sent and their payload bytes
	BytesIn, BytesOut       uint64 // bytes read from and written to sockets

	// Dropped messages by reason.
	DroppedQueueFull uint64 // a session queue was full
	DroppedSlow      uint64 // QoS 0 for a client that was not reading
	DroppedTooLarge  uint64 // over a client's maximum packet size
	DroppedExpired   uint64 // message expiry passed while stored

	// Store commits of read batches: count, total time and counts per
	// CommitBuckets bound (cumulative is up to the reader); the last
	// element counts commits slower than every bound.
	Commits       uint64
	CommitTime    time.Duration
	CommitBuckets []uint64

	// CONNECTs refused by authentication and for other reasons.
	RefusedBadCredentials uint64 // bad username or password
	RefusedNotAuthorized  uint64 // not authorized
	RefusedOther          uint64 // protocol version, client id, keep alive, auth method

	// Connections refused by the abuse limits, by limit.
	RefusedMaxConnections         uint64 // the broker's max_connections
	RefusedListenerMaxConnections uint64 // a listener's max_connections
	RefusedListenerConnectRate    uint64 // a listener's connect_rate
	RefusedConnectRatePerIP       uint64 // connect_rate_per_ip
	RefusedBanned                 uint64 // client id banned for flapping
	RefusedAuthBackoff            uint64 // address in authentication back-off
	FlapBans                      uint64 // flapping bans begun
	AuthBackoffs                  uint64 // authentication back-offs begun
	PublishRateDisconnects        uint64 // clients disconnected for publish_rate or publish_bytes_rate
}

// Stats returns the current counters. It takes no lock and walks no
// session; SessionStats does.
func (b *Broker) Stats() Snapshot {
	s := &b.stats
	snap := Snapshot{
		Uptime:           time.Since(b.started),
		Connections:      b.connected.Load(),
		Parked:           b.parked.Load(),
		Accepted:         s.accepted.Load(),
		Connects:         s.connects.Load(),
		Received:         loadQoS(&s.received),
		ReceivedBytes:    loadQoS(&s.receivedBytes),
		Sent:             loadQoS(&s.sent),
		SentBytes:        loadQoS(&s.sentBytes),
		BytesIn:          s.netIn.Load(),
		BytesOut:         s.netOut.Load(),
		DroppedQueueFull: s.dropQueueFull.Load(),
		DroppedSlow:      s.dropSlow.Load(),
		DroppedTooLarge:  s.dropTooLarge.Load(),
		DroppedExpired:   s.dropExpired.Load(),
		Retained:         b.retained.Len(),
		Subscriptions:    b.subs.Count(),
		Commits:          s.commits.count.Load(),
		CommitTime:       time.Duration(s.commits.nanos.Load()),
		CommitBuckets:    make([]uint64, len(s.commits.buckets)),

		RefusedBadCredentials: s.refusedBadAuth.Load(),
		RefusedNotAuthorized:  s.refusedNotAuthorized.Load(),
		RefusedOther:          s.refusedOther.Load(),

		RefusedMaxConnections:         s.refusedMaxConns.Load(),
		RefusedListenerMaxConnections: s.refusedListenerFull.Load(),
		RefusedListenerConnectRate:    s.refusedRateListener.Load(),
		RefusedConnectRatePerIP:       s.refusedRateIP.Load(),
		RefusedBanned:                 s.refusedBanned.Load(),
		RefusedAuthBackoff:            s.refusedAuthBackoff.Load(),
		FlapBans:                      s.flapBans.Load(),
		AuthBackoffs:                  s.authBackoffs.Load(),
		PublishRateDisconnects:        s.rateDisconnects.Load(),
	}
	for i := range s.commits.buckets {
		snap.CommitBuckets[i] = s.commits.buckets[i].Load()
	}
	snap.MessagesReceived = snap.Received.Total()
	snap.MessagesSent = snap.Sent.Total()
	snap.MessagesDropped = snap.DroppedQueueFull + snap.DroppedSlow + snap.DroppedTooLarge + snap.DroppedExpired
	return snap
}

// SessionStats are figures that need a walk over every session.
type SessionStats struct {
	Online   int // sessions with a connection
	Offline  int // persistent sessions waiting for their client
	Queued   int // messages waiting in session queues (memory and disk)
	Inflight int // messages sent and not yet acknowledged
}

// SessionStats walks every session, taking each one's lock briefly; it
// costs O(sessions), so call it at scrape intervals, not per message.
func (b *Broker) SessionStats() SessionStats {
	var st SessionStats
	b.sessions.Range(func(_, v any) bool {
		e := v.(*entry)
		if e.inproc {
			return true
		}
		if e.sess.Online() {
			st.Online++
		} else {
			st.Offline++
		}
		q, inflight := e.sess.Queued()
		st.Queued += q
		st.Inflight += inflight
		return true
	})
	return st
}
