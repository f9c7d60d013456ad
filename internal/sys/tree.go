package sys

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// sample is what one round reads from the broker.
type sample struct {
	uptime        time.Duration
	connected     int    // sessions with a connection
	disconnected  int    // persistent sessions waiting for their client
	stored        int    // queued (per session) plus retained messages
	subscriptions int    // subscriptions, in-process ones included
	retained      int    // retained messages, $SYS's own included
	heap          uint64 // heap bytes in use
	received      uint64 // PUBLISH received from clients and Broker.Publish
	sent          uint64 // PUBLISH sent, $SYS deliveries included
	dropped       uint64 // deliveries dropped, every reason
	pubBytesIn    uint64 // payload bytes of received PUBLISH
	pubBytesOut   uint64 // payload bytes of sent PUBLISH
	netIn, netOut uint64 // bytes read from and written to sockets
	sockets       uint64 // sockets accepted
	connects      uint64 // CONNECTs admitted
}

// value is one topic and the payload to publish on it.
type value struct{ topic, payload string }

// loadWindows are the periods of Mosquitto's load averages.
var loadWindows = [3]struct {
	suffix string
	d      time.Duration
}{{"1min", time.Minute}, {"5min", 5 * time.Minute}, {"15min", 15 * time.Minute}}

// loadCounters are the counters with load averages, under
// $SYS/broker/load/<name>/<window>.
//
// Mosquitto's messages/* count MQTT packets of every type and its
// publish/* only PUBLISH; baram counts PUBLISH only, so the two are the
// same figure here. Mosquitto's connections counts CONNECT packets
// received; baram's counts CONNECTs admitted (refused ones are in the
// Prometheus metrics, by reason).
var loadCounters = []struct {
	name string
	get  func(*sample) uint64
}{
	{"messages/received", func(s *sample) uint64 { return s.received }},
	{"messages/sent", func(s *sample) uint64 { return s.sent }},
	{"publish/dropped", func(s *sample) uint64 { return s.dropped }},
	{"publish/received", func(s *sample) uint64 { return s.received }},
	{"publish/sent", func(s *sample) uint64 { return s.sent }},
	{"bytes/received", func(s *sample) uint64 { return s.netIn }},
	{"bytes/sent", func(s *sample) uint64 { return s.netOut }},
	{"sockets", func(s *sample) uint64 { return s.sockets }},
	{"connections", func(s *sample) uint64 { return s.connects }},
}

// tree turns samples into the $SYS values to publish: those whose
// payload differs from the one last published.
type tree struct {
	version   string
	last      map[string]string // topic: payload last published
	maxClient int               // largest connected count seen
	maxHeap   uint64            // largest heap figure seen
	prev      *sample           // the last sample, for the loads
	prevAt    time.Time
	loads     [][3]float64 // by loadCounters index, then window
}

func newTree(version string) *tree {
	return &tree{version: version, last: make(map[string]string), loads: make([][3]float64, len(loadCounters))}
}

// update returns, in a fixed order, the values that differ from what was
// last published. The caller publishes them and reports each success to
// published; a failed one is offered again next time.
func (t *tree) update(now time.Time, s sample) []value {
	var all []value
	put := func(topic, payload string) { all = append(all, value{"$SYS/broker/" + topic, payload}) }
	num := func(topic string, n uint64) { put(topic, strconv.FormatUint(n, 10)) }
	t.maxClient = max(t.maxClient, s.connected)
	t.maxHeap = max(t.maxHeap, s.heap)

	put("version", "baram "+t.version) // static: unchanged, so published once
	put("uptime", fmt.Sprintf("%d seconds", int64(s.uptime/time.Second)))

	// Clients: sessions, as Mosquitto's contexts. total is connected and
	// disconnected (persistent) ones; maximum is the largest connected
	// count seen at a round, so short peaks between rounds are missed (as
	// Mosquitto documents). active and inactive are Mosquitto's
	// deprecated aliases. clients/expired is left out: baram does not
	// count expired sessions.
	num("clients/total", uint64(s.connected+s.disconnected))
	num("clients/maximum", uint64(t.maxClient))
	num("clients/disconnected", uint64(s.disconnected))
	num("clients/inactive", uint64(s.disconnected))
	num("clients/connected", uint64(s.connected))
	num("clients/active", uint64(s.connected))

	// Mosquitto's stored count is of its message store, where a message
	// queued for several clients is one; baram counts each session's
	// queued copy, plus the retained messages. store/messages/count is
	// Mosquitto's alias; store/messages/bytes is left out: baram does not
	// keep that figure.
	num("messages/stored", uint64(s.stored))
	num("store/messages/count", uint64(s.stored))
	num("subscriptions/count", uint64(s.subscriptions))
	num("retained messages/count", uint64(s.retained))
	// Sampled at each round, so maximum is the largest sample.
	num("heap/current", s.heap)
	num("heap/maximum", t.maxHeap)

	// messages/* are PUBLISH only (Mosquitto: packets of every type).
	num("messages/received", s.received)
	num("messages/sent", s.sent)
	num("bytes/received", s.netIn)
	num("bytes/sent", s.netOut)
	num("publish/bytes/received", s.pubBytesIn)
	num("publish/bytes/sent", s.pubBytesOut)
	num("publish/messages/dropped", s.dropped)
	num("publish/messages/received", s.received)
	num("publish/messages/sent", s.sent)

	t.updateLoads(now, &s)
	for i, c := range loadCounters {
		for w, win := range loadWindows {
			put("load/"+c.name+"/"+win.suffix, fmt.Sprintf("%.2f", t.loads[i][w]))
		}
	}

	changed := all[:0]
	for _, v := range all {
		if p, ok := t.last[v.topic]; !ok || p != v.payload {
			changed = append(changed, v)
		}
	}
	return changed
}

// published records that v reached the broker.
func (t *tree) published(v value) { t.last[v.topic] = v.payload }

// updateLoads moves every load average on by the time since the last
// sample. The first sample has no interval: the loads start at zero, as
// Mosquitto publishes them at start.
func (t *tree) updateLoads(now time.Time, s *sample) {
	defer func() { prev := *s; t.prev, t.prevAt = &prev, now }()
	if t.prev == nil {
		return
	}
	dt := now.Sub(t.prevAt)
	if dt <= 0 {
		return
	}
	for i, c := range loadCounters {
		cur, old := c.get(s), c.get(t.prev)
		delta := uint64(0)
		if cur > old {
			delta = cur - old
		}
		for w, win := range loadWindows {
			t.loads[i][w] = load(t.loads[i][w], delta, dt, win.d)
		}
	}
}

// load is Mosquitto's calc_load: an exponentially decaying average of a
// counter's per-minute rate. Over an interval dt in which the counter grew
// by delta, the rate is delta*60s/dt per minute and
//
//	new = rate + exp(-dt/window) * (old - rate)
//
// that is (1 - e)*rate + e*old with e = exp(-dt/window). Mosquitto
// measures dt in whole seconds; here it is the real elapsed time.
func load(old float64, delta uint64, dt, window time.Duration) float64 {
	rate := float64(delta) * float64(time.Minute) / float64(dt)
	e := math.Exp(-float64(dt) / float64(window))
	return rate + e*(old-rate)
}
