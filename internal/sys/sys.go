// Package sys publishes the broker's figures under $SYS/broker/, with
// Mosquitto's topic names and value formats, so that tools written for
// Mosquitto's $SYS tree work with baram.
//
// A Publisher reads the broker's counters every Interval and publishes,
// as retained QoS 0 messages, the values that changed since it last
// published them; the version is published once, at start. Clients may
// not publish under $SYS (the broker refuses them), so the values are
// always the broker's own. Note that a subscription to "#" does not match
// $SYS topics [MQTT-4.7.2-1]: subscribe to "$SYS/#".
//
// Where baram's figures differ from Mosquitto's, the topic's comment in
// tree.go says how; topics for figures baram does not keep are left out
// rather than published as zero.
package sys

import (
	"log/slog"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
)

// DefaultInterval is the publishing interval when Options.Interval is
// zero; it is Mosquitto's sys_interval default.
const DefaultInterval = 10 * time.Second

// Options configures a Publisher.
type Options struct {
	// Interval is how often the figures are read and the changed ones
	// published. Zero or negative means DefaultInterval. (Mosquitto's
	// sys_interval 0 turns $SYS off; here, not calling Start does.)
	Interval time.Duration
	// Version is published as "baram <Version>" on $SYS/broker/version.
	Version string
	// Logger receives publish failures; nil discards them.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Publisher publishes the $SYS tree of one broker from one goroutine of
// its own, which Stop ends.
type Publisher struct {
	b    *broker.Broker
	o    Options
	stop chan struct{} // closed by Stop
	done chan struct{} // closed when the goroutine has returned
	once sync.Once

	// Owned by the goroutine.
	tree *tree
}

// Start publishes b's $SYS tree at once and then every o.Interval until
// Stop is called. Call Stop before shutting the broker down.
func Start(b *broker.Broker, o Options) *Publisher {
	o = o.withDefaults()
	p := &Publisher{
		b:    b,
		o:    o,
		stop: make(chan struct{}),
		done: make(chan struct{}),
		tree: newTree(o.Version),
	}
	go p.run()
	return p
}

// Stop ends the publishing goroutine and waits for it; a round under way
// is finished first. The retained values stay in the broker. Stop may be
// called more than once.
func (p *Publisher) Stop() {
	p.once.Do(func() { close(p.stop) })
	<-p.done
}

func (p *Publisher) run() {
	defer close(p.done)
	p.round(time.Now())
	tick := time.NewTicker(p.o.Interval)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-tick.C:
			p.round(now)
		}
	}
}

// round reads the figures and publishes the values that changed.
func (p *Publisher) round(now time.Time) {
	for _, v := range p.tree.update(now, p.read()) {
		// PublishSys keeps the value in memory only and does not count
		// it as received, as Mosquitto does not count its $SYS messages.
		if err := p.b.PublishSys(v.topic, []byte(v.payload)); err != nil {
			p.o.Logger.Warn("$SYS: publish failed; retrying next round", "topic", v.topic, "err", err)
			continue
		}
		p.tree.published(v)
	}
}

// read takes the figures the tree needs from the broker.
func (p *Publisher) read() sample {
	s := p.b.Stats()
	ss := p.b.SessionStats()
	return sample{
		uptime:        s.Uptime,
		connected:     ss.Online,
		disconnected:  ss.Offline,
		stored:        ss.Queued + s.Retained,
		subscriptions: s.Subscriptions,
		retained:      s.Retained,
		heap:          heapInUse(),
		received:      s.MessagesReceived,
		sent:          s.MessagesSent,
		dropped:       s.MessagesDropped,
		pubBytesIn:    s.ReceivedBytes.Total(),
		pubBytesOut:   s.SentBytes.Total(),
		netIn:         s.BytesIn,
		netOut:        s.BytesOut,
		sockets:       s.Accepted,
		connects:      s.Connects,
	}
}

// heapObjects is the runtime metric closest to Mosquitto's heap figure
// (bytes its allocator has handed out): bytes of live and
// not-yet-swept heap objects, Go's MemStats.HeapAlloc. Reading it does
// not stop the world, as runtime.ReadMemStats would.
const heapObjects = "/memory/classes/heap/objects:bytes"

func heapInUse() uint64 {
	s := []metrics.Sample{{Name: heapObjects}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
