package broker

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/baram-mqtt/baram/internal/session"
	"github.com/baram-mqtt/baram/internal/topic"
)

// inprocBuffer is how many messages an in-process subscriber may fall
// behind before messages to it are dropped (and counted).
const inprocBuffer = 1024

// Publish routes a message from inside the process, as if a client had
// published it.
func (b *Broker) Publish(name string, payload []byte, qos byte, retain bool) error {
	if err := topic.ValidName(name); err != nil {
		return fmt.Errorf("publish %q: %w", name, err)
	}
	if qos > 2 {
		return fmt.Errorf("publish %q: QoS %d is not 0, 1 or 2", name, qos)
	}
	b.stats.countReceived(qos, len(payload))
	return b.publishNow(&session.Message{Topic: name, Payload: bytes.Clone(payload), QoS: qos, Retain: retain})
}

// PublishSys publishes a broker figure under $SYS, retained at QoS 0 as
// Mosquitto does. The retained copy lives in memory only: figures are
// made anew after a restart, and storing them would cost a synced commit
// each. It is not counted as a received message, so figures about
// received messages do not count themselves.
func (b *Broker) PublishSys(name string, payload []byte) error {
	if !strings.HasPrefix(name, "$SYS/") {
		return fmt.Errorf("publish %q: not a $SYS topic", name)
	}
	if err := topic.ValidName(name); err != nil {
		return fmt.Errorf("publish %q: %w", name, err)
	}
	t := b.newTxn()
	t.memoryOnly = true
	b.route(&session.Message{Topic: name, Payload: bytes.Clone(payload), Retain: true}, t)
	return t.run()
}

// Handler receives messages for an in-process subscription. Messages
// arrive in order on one goroutine per subscription; payload is shared and
// must not be modified.
type Handler func(topic string, payload []byte, retained bool)

// Subscribe adds an in-process subscription to filter. Retained messages
// matching it are delivered first. The returned function unsubscribes and
// waits for the handler goroutine to end.
func (b *Broker) Subscribe(filter string, fn Handler) (unsubscribe func(), err error) {
	if err := topic.ValidFilter(filter); err != nil {
		return nil, fmt.Errorf("subscribe %q: %w", filter, err)
	}
	// U+0000 never appears in a client's id [MQTT-1.5.4-2], so this cannot
	// collide with a network client.
	id := fmt.Sprintf("\x00inproc-%d", b.inprocSeq.Add(1))
	sink := &funcSink{ch: make(chan inprocMessage, inprocBuffer), done: make(chan struct{})}
	go sink.run(fn)
	s := session.New(id)
	s.Attach(sink, 0, session.Limits{Inflight: 1}, time.Now())
	opts := topic.Options{QoS: 0}
	b.mu.Lock()
	b.sessions.Store(id, &entry{sess: s, inproc: true})
	b.mu.Unlock()
	b.subs.Subscribe(id, filter, opts)
	s.Subscribe(filter, opts)
	if _, _, shared := topic.ParseShared(filter); !shared {
		b.sendRetained(s, b.retainedFor(s, filter), opts)
	}
	var once sync.Once
	unsubscribe = func() {
		once.Do(func() {
			b.subs.Unsubscribe(id, filter)
			b.mu.Lock()
			b.sessions.Delete(id)
			delete(b.inproc, id)
			b.mu.Unlock()
			s.Detach(sink)
			sink.close()
		})
	}
	b.mu.Lock()
	b.inproc[id] = unsubscribe // Shutdown ends the handler goroutines still running
	b.mu.Unlock()
	return unsubscribe, nil
}

// funcSink feeds deliveries to a handler goroutine through a bounded
// channel, so a slow handler never blocks a publisher.
type funcSink struct {
	mu     sync.Mutex // guards closed and sends on ch
	closed bool
	ch     chan inprocMessage
	done   chan struct{} // closed when run has returned
}

// inprocMessage is what a handler gets; the message is kept for it.
type inprocMessage struct {
	msg      *session.Message
	retained bool
}

func (f *funcSink) run(fn Handler) {
	defer close(f.done)
	for m := range f.ch {
		fn(m.msg.Topic, m.msg.Payload, m.retained)
	}
}

// WritePublish implements session.Sink. The handler runs later, on its
// own goroutine, so the message is marked kept (never recycled).
func (f *funcSink) WritePublish(d *session.Delivery) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	d.Msg.Keep()
	select {
	case f.ch <- inprocMessage{d.Msg, d.Retain}:
		return nil
	default:
		return session.ErrSlow
	}
}

// WritePubrel implements session.Sink; in-process deliveries are QoS 0.
func (f *funcSink) WritePubrel(uint16) {}

func (f *funcSink) close() {
	f.mu.Lock()
	f.closed = true
	close(f.ch)
	f.mu.Unlock()
	<-f.done
}
