//go:build unix

package crashtest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
)

const maxProblems = 20 // protocol problems kept per client; the rest are only counted

// client is what publishers and subscribers share: a persistent MQTT 5
// session that reconnects (clean start 0) whenever its gate is open.
type client struct {
	id     string
	addr   string
	gate   *gate
	stop   <-chan struct{} // closed: end the session's goroutine
	ready  atomic.Int64    // connections that are ready for traffic
	broker *atomic.Int64   // the broker run that clients connect to now
	trace  *trace

	pmu       sync.Mutex
	problems  []string // protocol violations and broken promises seen, the first maxProblems
	nproblems int
	lastErr   error // the last connection failure, for diagnostics
	resumes   int   // connections with clean start 0
	// sessionsLost counts CONNACKs with session present 0 on those: the
	// broker lost the session [MQTT-3.2.2-2].
	sessionsLost int
}

func (c *client) problem(format string, args ...any) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	c.nproblems++
	if len(c.problems) < maxProblems {
		c.problems = append(c.problems, fmt.Sprintf(format, args...))
	}
}

// report returns the problems seen and the last connection failure.
func (c *client) report() (problems []string, n int, lastErr error) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	return slices.Clone(c.problems), c.nproblems, c.lastErr
}

// run connects whenever the gate is open and hands each connection to
// online, until stop is closed. The first connection starts a new session;
// every later one resumes it.
func (c *client) run(online func(w *wire, ack *packet.Connack) error) {
	clean := true
	for {
		select {
		case <-c.stop:
			return
		case <-c.gate.opened():
		}
		w, ack, err := dialMQTT(c.addr, connectPacket(c.id, clean))
		if err != nil {
			c.failed(err)
			select {
			case <-c.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		w.run = c.broker.Load()
		c.pmu.Lock()
		if !clean {
			c.resumes++
			if !ack.SessionPresent {
				c.sessionsLost++
			}
		}
		c.pmu.Unlock()
		clean = false
		err = online(w, ack)
		w.nc.Close()
		c.failed(err)
	}
}

// failed records why a connection ended; violations are problems.
func (c *client) failed(err error) {
	if err == nil {
		return
	}
	if v := (*violation)(nil); errors.As(err, &v) {
		c.problem("%v", err)
	}
	c.pmu.Lock()
	c.lastErr = err
	c.pmu.Unlock()
}

// serve calls start, then reads the connection's packets and gives each to
// handle until the connection ends or stop is closed; it calls tick after
// every packet and every 10ms. It returns a violation that ended the
// connection; other endings are not errors.
func (c *client) serve(w *wire, start func() error, handle func(packet.Packet) error, tick func() error) error {
	pkts := make(chan packet.Packet, 64)
	go w.readLoop(pkts)
	defer func() {
		w.nc.Close()
		for range pkts { // until readLoop has returned
		}
	}()
	if err := start(); err != nil {
		return err
	}
	ticker := time.NewTicker(10 * time.Millisecond)
	defer ticker.Stop()
	for {
		select {
		case <-c.stop:
			return nil
		case p, ok := <-pkts:
			if !ok {
				return w.err
			}
			if err := handle(p); err != nil {
				return err
			}
			if err := tick(); err != nil {
				return err
			}
		case <-ticker.C:
			if err := tick(); err != nil {
				return err
			}
		}
	}
}

// outbound is a message a publisher has sent and not completed.
type outbound struct {
	n   int    // message number
	id  uint16 // packet identifier
	rec bool   // QoS 2: PUBREC received and PUBREL sent; PUBCOMP is missing
}

// publisher sends numbered messages ("q1-7") to one topic at one QoS,
// with up to window of them unacknowledged.
type publisher struct {
	client
	qos         byte
	topic       string
	window      int
	publishing  <-chan struct{}     // closed: no new messages, only complete the old ones
	tooFarAhead func(sent int) bool // whether the subscriber lags too far behind message sent

	mu         sync.Mutex
	sent       int                  // messages 1..sent were published at least once
	inflight   map[uint16]*outbound // by packet identifier
	acked      map[int]bool         // PUBACK or PUBREC with a success code received
	refused    int                  // PUBACK or PUBREC with an error code
	noMatch    int                  // acknowledged with NoMatchingSubscribers
	resent     int                  // PUBLISH sent again with DUP after a reconnect
	rereleased int                  // PUBREL sent again after a reconnect
	notFound   int                  // PUBCOMP with PacketIdentifierNotFound
	lastID     uint16
}

func (p *publisher) payload(n int) []byte { return fmt.Appendf(nil, "q%d-%d", p.qos, n) }

func (p *publisher) publish(w *wire, o *outbound, dup bool) error {
	return w.send(&packet.Publish{Dup: dup, QoS: p.qos, Topic: p.topic, PacketID: o.id, Payload: p.payload(o.n)})
}

func (p *publisher) online(w *wire, _ *packet.Connack) error {
	return p.serve(w, func() error { return p.resume(w) }, func(pk packet.Packet) error { return p.handle(w, pk) },
		func() error { return p.fill(w) })
}

// resume completes what the previous connections left open, oldest first:
// PUBLISH again with DUP where no PUBACK/PUBREC came, PUBREL where PUBREC
// came [MQTT-4.4.0-1]. Then it sends new messages.
func (p *publisher) resume(w *wire) error {
	p.mu.Lock()
	open := make([]outbound, 0, len(p.inflight))
	for _, o := range p.inflight {
		open = append(open, *o)
	}
	p.mu.Unlock()
	slices.SortFunc(open, func(a, b outbound) int { return a.n - b.n })
	for _, o := range open {
		var err error
		if o.rec {
			p.trace.add(o.n, w.run, "pub: PUBREL again", o.id)
			err = w.send(&packet.Ack{Kind: packet.PUBREL, PacketID: o.id})
		} else {
			p.trace.add(o.n, w.run, "pub: PUBLISH again with DUP", o.id)
			err = p.publish(w, &o, true)
		}
		if err != nil {
			return nil // the connection is gone
		}
		p.mu.Lock()
		if o.rec {
			p.rereleased++
		} else {
			p.resent++
		}
		p.mu.Unlock()
	}
	p.ready.Add(1)
	return p.fill(w)
}

// fill publishes new messages while the window has room.
func (p *publisher) fill(w *wire) error {
	for {
		select {
		case <-p.publishing:
			return nil
		default:
		}
		p.mu.Lock()
		full, sent := len(p.inflight) >= p.window, p.sent
		p.mu.Unlock()
		if full || p.tooFarAhead(sent) {
			return nil
		}
		p.mu.Lock()
		p.sent++
		o := &outbound{n: p.sent, id: p.nextID()}
		p.inflight[o.id] = o
		p.mu.Unlock()
		// Unacknowledged from here on: if the write fails, the next
		// connection sends it again with DUP.
		p.trace.add(o.n, w.run, "pub: PUBLISH", o.id)
		if err := p.publish(w, o, false); err != nil {
			return nil
		}
	}
}

// nextID returns a packet identifier not in use; p.mu is held.
func (p *publisher) nextID() uint16 {
	for {
		p.lastID++
		if _, used := p.inflight[p.lastID]; p.lastID != 0 && !used {
			return p.lastID
		}
	}
}

func (p *publisher) handle(w *wire, pk packet.Packet) error {
	switch pk := pk.(type) {
	case *packet.Ack:
		switch pk.Kind {
		case packet.PUBACK, packet.PUBREC:
			return p.acknowledged(w, pk)
		case packet.PUBCOMP:
			p.mu.Lock()
			defer p.mu.Unlock()
			o := p.inflight[pk.PacketID]
			if o == nil || !o.rec {
				p.problem("PUBCOMP for packet id %d, which has no PUBREL awaiting it", pk.PacketID)
				return nil
			}
			if pk.ReasonCode == packet.PacketIdentifierNotFound {
				p.notFound++ // allowed: the PUBREL was sent again after the broker completed it
			}
			p.trace.add(o.n, w.run, fmt.Sprintf("pub: got PUBCOMP 0x%02X", byte(pk.ReasonCode)), pk.PacketID)
			delete(p.inflight, pk.PacketID)
			return nil
		}
		p.problem("unexpected %s from the broker", pk.Kind)
	case *packet.Disconnect:
		if pk.ReasonCode != packet.ServerShuttingDown {
			p.problem("DISCONNECT reason 0x%02X from the broker", byte(pk.ReasonCode))
		}
	case *packet.Pingresp:
	default:
		p.problem("unexpected %s from the broker", pk.Type())
	}
	return nil
}

// acknowledged takes a PUBACK (QoS 1) or PUBREC (QoS 2): from here on the
// broker promises the message.
func (p *publisher) acknowledged(w *wire, a *packet.Ack) error {
	want := packet.PUBACK
	if p.qos == 2 {
		want = packet.PUBREC
	}
	p.mu.Lock()
	o := p.inflight[a.PacketID]
	switch {
	case a.Kind != want:
		p.mu.Unlock()
		p.problem("%s for a QoS %d PUBLISH", a.Kind, p.qos)
		return nil
	case o == nil || o.rec:
		p.mu.Unlock()
		p.problem("%s for packet id %d, which has no PUBLISH awaiting it", a.Kind, a.PacketID)
		return nil
	case a.ReasonCode.IsError():
		p.trace.add(o.n, w.run, fmt.Sprintf("pub: got %s 0x%02X", a.Kind, byte(a.ReasonCode)), a.PacketID)
		p.refused++
		delete(p.inflight, a.PacketID)
		p.mu.Unlock()
		p.problem("%s reason 0x%02X for message %d", a.Kind, byte(a.ReasonCode), o.n)
		return nil
	}
	p.acked[o.n] = true
	p.trace.add(o.n, w.run, fmt.Sprintf("pub: got %s 0x%02X", a.Kind, byte(a.ReasonCode)), a.PacketID)
	if a.ReasonCode == packet.NoMatchingSubscribers {
		p.noMatch++
	}
	if p.qos == 1 {
		delete(p.inflight, a.PacketID)
		p.mu.Unlock()
		return nil
	}
	o.rec = true
	p.mu.Unlock()
	p.trace.add(o.n, w.run, "pub: PUBREL", a.PacketID)
	w.send(&packet.Ack{Kind: packet.PUBREL, PacketID: a.PacketID}) // a lost PUBREL is sent again on reconnect
	return nil
}

// pubStats is a snapshot of a publisher's counters.
type pubStats struct {
	sent, inflight, acked, refused, noMatch, resent, rereleased, notFound int
	ackedSet                                                              map[int]bool
}

func (p *publisher) stats(withSet bool) pubStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := pubStats{sent: p.sent, inflight: len(p.inflight), acked: len(p.acked), refused: p.refused,
		noMatch: p.noMatch, resent: p.resent, rereleased: p.rereleased, notFound: p.notFound}
	if withSet {
		s.ackedSet = make(map[int]bool, len(p.acked))
		for n := range p.acked {
			s.ackedSet[n] = true
		}
	}
	return s
}

// subscriber holds one subscription at the QoS of its publisher and
// records every message it receives. It implements the receiver side of
// QoS 1 and 2; for QoS 2 it delivers on the first PUBLISH of a packet id and
// treats a PUBLISH of a packet id that is still unreleased as the same
// message [MQTT-4.3.3-10].
type subscriber struct {
	client
	qos          byte
	topic        string
	lastDelivery *atomic.Int64 // unix nanoseconds of the last PUBLISH any subscriber received

	mu          sync.Mutex
	got         map[int]int    // message number → deliveries as a new message
	unreleased  map[uint16]int // QoS 2: packet id → message number; PUBREC sent, PUBREL not received
	high        int            // highest message number received
	lastAt      time.Time      // when the last message arrived
	redelivered int            // QoS 2 PUBLISH of an unreleased packet id: the same message again
	dupFlag     int            // PUBLISHes with DUP set
}

func (s *subscriber) online(w *wire, ack *packet.Connack) error {
	start := func() error {
		if ack.SessionPresent {
			s.ready.Add(1)
			return nil
		}
		sub := &packet.Subscribe{PacketID: 1, Subs: []packet.Subscription{{Filter: s.topic, QoS: s.qos}}}
		w.send(sub) // a failed write shows as the connection ending
		return nil
	}
	return s.serve(w, start, func(pk packet.Packet) error { return s.handle(w, pk) }, func() error { return nil })
}

func (s *subscriber) handle(w *wire, pk packet.Packet) error {
	switch pk := pk.(type) {
	case *packet.Publish:
		s.lastDelivery.Store(time.Now().UnixNano())
		return s.received(w, pk)
	case *packet.Ack:
		if pk.Kind != packet.PUBREL {
			s.problem("unexpected %s from the broker", pk.Kind)
			return nil
		}
		code := packet.Success
		s.mu.Lock()
		if n, ok := s.unreleased[pk.PacketID]; ok {
			s.trace.add(n, w.run, "sub: got PUBREL, PUBCOMP", pk.PacketID)
		} else {
			code = packet.PacketIdentifierNotFound // a PUBREL sent again after our PUBCOMP
		}
		delete(s.unreleased, pk.PacketID)
		s.mu.Unlock()
		w.send(&packet.Ack{Kind: packet.PUBCOMP, PacketID: pk.PacketID, ReasonCode: code})
	case *packet.Suback:
		if len(pk.ReasonCodes) != 1 || pk.ReasonCodes[0] != packet.ReasonCode(s.qos) {
			s.problem("SUBACK %v for a QoS %d subscription", pk.ReasonCodes, s.qos)
		}
		s.ready.Add(1)
	case *packet.Disconnect:
		if pk.ReasonCode != packet.ServerShuttingDown {
			s.problem("DISCONNECT reason 0x%02X from the broker", byte(pk.ReasonCode))
		}
	case *packet.Pingresp:
	default:
		s.problem("unexpected %s from the broker", pk.Type())
	}
	return nil
}

func (s *subscriber) received(w *wire, pk *packet.Publish) error {
	prefix := fmt.Sprintf("q%d-", s.qos)
	digits, ok := strings.CutPrefix(string(pk.Payload), prefix)
	n, err := strconv.Atoi(digits)
	switch {
	case !ok || err != nil || n <= 0 || pk.Topic != s.topic:
		s.problem("QoS %d PUBLISH %q on %q, want %s<n> on %q", pk.QoS, pk.Payload, pk.Topic, prefix, s.topic)
		n = 0 // acknowledged below, not recorded
	case pk.QoS != s.qos:
		s.problem("message %d arrived at QoS %d, want %d", n, pk.QoS, s.qos)
	}
	s.mu.Lock()
	if pk.Dup {
		s.dupFlag++
	}
	if n > 0 {
		s.high = max(s.high, n)
		s.lastAt = time.Now()
	}
	what := fmt.Sprintf("sub: got PUBLISH dup=%v", pk.Dup)
	switch {
	case n == 0:
	case pk.QoS < 2:
		s.got[n]++
	default:
		if held, ok := s.unreleased[pk.PacketID]; ok && held == n {
			what += " (unreleased)"
			s.redelivered++
			if !pk.Dup {
				s.problem("message %d sent again on packet id %d without DUP [MQTT-3.3.1-1]", n, pk.PacketID)
			}
		} else {
			if ok {
				s.problem("packet id %d reused for message %d while message %d is unreleased", pk.PacketID, n, held)
			}
			s.unreleased[pk.PacketID] = n
			s.got[n]++
		}
	}
	s.mu.Unlock()
	if n > 0 {
		s.trace.add(n, w.run, what, pk.PacketID)
	}
	switch pk.QoS {
	case 1:
		w.send(&packet.Ack{Kind: packet.PUBACK, PacketID: pk.PacketID})
	case 2:
		w.send(&packet.Ack{Kind: packet.PUBREC, PacketID: pk.PacketID})
	}
	return nil
}

// lagging reports whether the subscriber is at least lag messages behind
// message sent while still receiving: a publisher waits for it then, so
// that its queue stays short. A subscriber that receives nothing does not
// hold the publisher back: it may have lost the messages in between.
func (s *subscriber) lagging(sent, lag int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sent-s.high >= lag && time.Since(s.lastAt) < time.Second
}

// deliveries returns a copy of the message number → deliveries map.
func (s *subscriber) deliveries() (got map[int]int, redelivered, dupFlag int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.got), s.redelivered, s.dupFlag
}
