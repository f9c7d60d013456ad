package broker_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
)

// The default inflight window (32) gives pages of 256 waiting messages
// (session.pageSize); the tests queue several pages.
const (
	testWindow = 32
	testPage   = 256
)

// publishMany publishes payloads "name-from" .. "name-(from+n-1)" on topic
// at qos, pipelined a chunk at a time, and waits for each chunk's
// acknowledgements (completing QoS 2).
func publishMany(t *testing.T, r *brokertest.Raw, topic, name string, from, n int, qos byte) {
	t.Helper()
	const chunk = 200
	for start := from; start < from+n; start += chunk {
		end := min(start+chunk, from+n)
		for i := start; i < end; i++ {
			r.Send(&packet.Publish{Topic: topic, QoS: qos, PacketID: uint16(i%60000 + 1),
				Payload: []byte(name + "-" + strconv.Itoa(i))})
		}
		for i := start; i < end; i++ {
			a := brokertest.Expect[*packet.Ack](r)
			if qos == 2 {
				if a.Kind != packet.PUBREC {
					t.Fatalf("got %s, want PUBREC", a.Kind)
				}
				r.Send(&packet.Ack{Kind: packet.PUBREL, PacketID: a.PacketID})
			}
		}
		if qos == 2 {
			for i := start; i < end; i++ {
				if a := brokertest.Expect[*packet.Ack](r); a.Kind != packet.PUBCOMP {
					t.Fatalf("got %s, want PUBCOMP", a.Kind)
				}
			}
		}
	}
}

// drainer reads a subscriber's messages, acknowledges them as their QoS
// asks and checks that each publisher's messages come once and in order.
type drainer struct {
	t    *testing.T
	r    *brokertest.Raw
	next map[string]int // per publisher name, the number expected next
	got  int
}

func newDrainer(t *testing.T, r *brokertest.Raw) *drainer {
	return &drainer{t: t, r: r, next: make(map[string]int)}
}

// receive reads until n more PUBLISH packets arrived, acknowledging each
// unless ack is false (then the caller sees them and they stay inflight).
func (dr *drainer) receive(n int, ack bool) []*packet.Publish {
	dr.t.Helper()
	var pubs []*packet.Publish
	for len(pubs) < n {
		p, err := dr.r.Read(5 * time.Second)
		if err != nil {
			dr.t.Fatalf("after %d messages (%d in this call): %v", dr.got, len(pubs), err)
		}
		switch p := p.(type) {
		case *packet.Publish:
			dr.check(p)
			pubs = append(pubs, p)
			if !ack {
				continue
			}
			if p.QoS == 1 {
				dr.r.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: p.PacketID})
			} else {
				dr.r.Send(&packet.Ack{Kind: packet.PUBREC, PacketID: p.PacketID})
			}
		case *packet.Ack:
			if p.Kind != packet.PUBREL {
				dr.t.Fatalf("got %s, want PUBLISH or PUBREL", p.Kind)
			}
			dr.r.Send(&packet.Ack{Kind: packet.PUBCOMP, PacketID: p.PacketID})
		default:
			dr.t.Fatalf("got %T", p)
		}
	}
	return pubs
}

// settle completes the QoS 2 exchanges still open and waits until the
// broker handled every acknowledgement sent so far (a PINGRESP follows
// the handling of what came before the PINGREQ).
func (dr *drainer) settle() {
	dr.t.Helper()
	dr.r.Send(&packet.Pingreq{})
	for pings := 1; pings > 0; {
		p, err := dr.r.Read(5 * time.Second)
		if err != nil {
			dr.t.Fatalf("waiting for PINGRESP: %v", err)
		}
		switch p := p.(type) {
		case *packet.Pingresp:
			pings--
		case *packet.Ack:
			if p.Kind != packet.PUBREL {
				dr.t.Fatalf("got %s, want PUBREL or PINGRESP", p.Kind)
			}
			dr.r.Send(&packet.Ack{Kind: packet.PUBCOMP, PacketID: p.PacketID})
			dr.r.Send(&packet.Pingreq{}) // a barrier behind this PUBCOMP too
			pings++
		default:
			dr.t.Fatalf("got %T, want PUBREL or PINGRESP", p)
		}
	}
}

// check takes p as the next message of its publisher.
func (dr *drainer) check(p *packet.Publish) {
	dr.t.Helper()
	name, num, ok := strings.Cut(string(p.Payload), "-")
	i, err := strconv.Atoi(num)
	if !ok || err != nil {
		dr.t.Fatalf("payload %q", p.Payload)
	}
	if i != dr.next[name] {
		dr.t.Fatalf("after %d messages got %s, want %s-%d (lost, repeated or out of order)", dr.got, p.Payload, name, dr.next[name])
	}
	dr.next[name]++
	dr.got++
}

// expectResident fails unless the session holds at most about a page of
// waiting messages and a window of inflight ones in memory.
func expectResident(t *testing.T, b *broker.Broker, client string, wantQueued, wantInflight int) {
	t.Helper()
	q, inf, ok := b.Resident(client)
	if !ok {
		t.Fatalf("no session %q", client)
	}
	if q > wantQueued || inf > wantInflight {
		t.Fatalf("session holds %d waiting and %d inflight in memory, want at most %d and %d", q, inf, wantQueued, wantInflight)
	}
}

// leaveSubscribed makes the persistent session "drain", subscribed to
// d/# at qos, and leaves it offline to collect a queue.
func leaveSubscribed(t *testing.T, addr string, qos byte) {
	t.Helper()
	sub, _ := rawConnect(t, addr, "drain", false)
	subscribeRaw(t, sub, "d/#", qos)
	sub.Conn.Close()
}

// A persistent session with several pages of queued messages drains
// completely and in order after reconnecting, while publishers keep
// adding to it: live messages wait behind the ones still on disk.
func TestDrainPagesInOrderWithLivePublishes(t *testing.T) {
	for _, qos := range []byte{1, 2} {
		t.Run(fmt.Sprintf("QoS%d", qos), func(t *testing.T) {
			d := startDisk(t, t.TempDir(), nil)
			leaveSubscribed(t, d.addr, qos)
			p, _ := rawConnect(t, d.addr, "p", true)
			q, _ := rawConnect(t, d.addr, "q", true)
			const queued = 3*testPage + 50
			publishMany(t, p, "d/p", "p", 0, queued, qos)

			sub, ack := rawConnect(t, d.addr, "drain", false)
			if !ack.SessionPresent {
				t.Fatal("session not present")
			}
			dr := newDrainer(t, sub)
			sent := map[string]int{"p": queued, "q": 0}
			for round := 0; dr.got < sent["p"]+sent["q"]; round++ {
				if round < 8 { // publishes while the queue is still on disk, and once it is drained
					publishMany(t, p, "d/p", "p", sent["p"], 40, qos)
					publishMany(t, q, "d/q", "q", sent["q"], 30, qos)
					sent["p"] += 40
					sent["q"] += 30
				}
				expectResident(t, d.b, "drain", testPage, testWindow)
				dr.receive(min(100, sent["p"]+sent["q"]-dr.got), true)
			}
			if dr.next["p"] != sent["p"] || dr.next["q"] != sent["q"] {
				t.Fatalf("got %v, want %v", dr.next, sent)
			}
			dr.settle()
			if n, _ := d.b.Client("drain"); n.Queued != 0 || n.Inflight != 0 {
				t.Fatalf("after the drain %d queued and %d inflight, want none", n.Queued, n.Inflight)
			}
		})
	}
}

// A restart in the middle of a drain redelivers what was sent and not
// acknowledged (with DUP and its packet id), then the rest in order; what
// was acknowledged before does not come again.
func TestDrainRestartRedeliversUnacknowledged(t *testing.T) {
	for _, qos := range []byte{1, 2} {
		t.Run(fmt.Sprintf("QoS%d", qos), func(t *testing.T) {
			d := startDisk(t, t.TempDir(), nil)
			leaveSubscribed(t, d.addr, qos)
			p, _ := rawConnect(t, d.addr, "p", true)
			const queued = 3 * testPage
			publishMany(t, p, "d/p", "p", 0, queued, qos)

			sub, _ := rawConnect(t, d.addr, "drain", false)
			dr := newDrainer(t, sub)
			dr.receive(testPage+100, true) // across a page boundary
			held := dr.receive(testWindow, false)
			dr.settle()

			d = d.restart()
			sub, ack := rawConnect(t, d.addr, "drain", false)
			if !ack.SessionPresent {
				t.Fatal("session not present after restart")
			}
			dr.r = sub
			for _, h := range held {
				p := brokertest.Expect[*packet.Publish](sub)
				if !p.Dup || p.PacketID != h.PacketID || string(p.Payload) != string(h.Payload) {
					t.Fatalf("got %q id %d dup %v, want %q id %d again with DUP", p.Payload, p.PacketID, p.Dup, h.Payload, h.PacketID)
				}
				if qos == 1 {
					sub.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: p.PacketID})
				} else {
					sub.Send(&packet.Ack{Kind: packet.PUBREC, PacketID: p.PacketID})
				}
			}
			dr.receive(queued-dr.got, true)
			if dr.next["p"] != queued {
				t.Fatalf("got up to p-%d, want p-%d", dr.next["p"], queued)
			}
		})
	}
}

// Reconnecting to a session with many queued messages reads a page of
// them into memory, not all; the session keeps to about a page while it
// drains, and holds nothing once offline.
func TestDrainHoldsAPageInMemory(t *testing.T) {
	n := 50000
	if testing.Short() {
		n = 5000
	}
	d := startDiskWith(t, t.TempDir(), nil, func(o *broker.Options) { o.MaxQueuedMessages = 0 })
	sub, _ := rawConnect(t, d.addr, "big", false)
	subscribeRaw(t, sub, "b/#", 1)
	sub.Conn.Close()
	p, _ := rawConnect(t, d.addr, "p", true)
	publishMany(t, p, "b/p", "p", 0, n, 1)
	if info, _ := d.b.Client("big"); info.Queued != n {
		t.Fatalf("%d queued, want %d", info.Queued, n)
	}
	expectResident(t, d.b, "big", 0, 0)

	sub, _ = rawConnect(t, d.addr, "big", false)
	dr := newDrainer(t, sub)
	held := dr.receive(testWindow, false) // the window is out; nothing acknowledged yet
	expectResident(t, d.b, "big", testPage, testWindow)
	for _, h := range held {
		sub.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: h.PacketID})
	}
	for dr.got < n/2 {
		dr.receive(1000, true)
		expectResident(t, d.b, "big", testPage, testWindow)
	}
	sub.Send(&packet.Disconnect{})
	sub.ExpectClosed(5 * time.Second)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if info, _ := d.b.Client("big"); info.Address == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("session still online after DISCONNECT")
		}
	}
	expectResident(t, d.b, "big", 0, 0)
	if info, _ := d.b.Client("big"); info.Queued != n-dr.got {
		t.Fatalf("%d queued after acknowledging %d of %d, want %d", info.Queued, dr.got, n, n-dr.got)
	}
}
