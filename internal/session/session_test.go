package session

import (
	"bytes"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
)

// recordSink records what the session writes.
type recordSink struct {
	pubs     []*Delivery
	pubrels  []uint16
	refuse   error // returned for every publish when set
	maxBytes int   // ErrTooLarge above this payload size when > 0
}

func (r *recordSink) WritePublish(d *Delivery) error {
	if r.refuse != nil {
		return r.refuse
	}
	if r.maxBytes > 0 && len(d.Msg.Payload) > r.maxBytes {
		return ErrTooLarge
	}
	cp := *d
	r.pubs = append(r.pubs, &cp)
	return nil
}

func (r *recordSink) WritePubrel(id uint16) { r.pubrels = append(r.pubrels, id) }

func msg(payload string, qos byte) *Message {
	return &Message{Topic: "t", Payload: []byte(payload), QoS: qos}
}

func online(limits Limits) (*Session, *recordSink) {
	s := New("c")
	sink := &recordSink{}
	s.Attach(sink, 5, limits, time.Now())
	return s, sink
}

func TestWindowQueuesBeyondInflight(t *testing.T) {
	s, sink := online(Limits{Inflight: 2})
	now := time.Now()
	for _, p := range []string{"a", "b", "c", "d"} {
		s.Deliver(&Delivery{Msg: msg(p, 1), QoS: 1}, now)
	}
	if len(sink.pubs) != 2 {
		t.Fatalf("sent %d, want the window of 2", len(sink.pubs))
	}
	if q, inf := s.Queued(); q != 2 || inf != 2 {
		t.Fatalf("queued %d inflight %d, want 2 and 2", q, inf)
	}
	if !s.Puback(sink.pubs[0].PacketID, now) {
		t.Fatal("puback of an inflight id not accepted")
	}
	if len(sink.pubs) != 3 || string(sink.pubs[2].Msg.Payload) != "c" {
		t.Fatalf("after one ack want c sent next, got %d sends", len(sink.pubs))
	}
	if s.Puback(sink.pubs[0].PacketID, now) {
		t.Fatal("a second puback of the same id was accepted")
	}
}

func TestPacketIDsSkipZeroAndInUse(t *testing.T) {
	s, sink := online(Limits{Inflight: 3})
	s.nextID = 65534
	now := time.Now()
	for range 3 {
		s.Deliver(&Delivery{Msg: msg("x", 1), QoS: 1}, now)
	}
	got := [3]uint16{sink.pubs[0].PacketID, sink.pubs[1].PacketID, sink.pubs[2].PacketID}
	if got != [3]uint16{65535, 1, 2} {
		t.Fatalf("ids %v, want 65535 1 2", got)
	}
}

func TestQueueDropsNewestWhenFull(t *testing.T) {
	s := New("c")
	s.Attach(&recordSink{}, 5, Limits{Inflight: 10, MaxQueued: 2}, time.Now())
	s.Detach(s.Sink())
	now := time.Now()
	outcomes := []Outcome{}
	for _, p := range []string{"1", "2", "3"} {
		outcomes = append(outcomes, s.Deliver(&Delivery{Msg: msg(p, 1), QoS: 1}, now))
	}
	if outcomes[0] != Held || outcomes[1] != Held || outcomes[2] != Dropped {
		t.Fatalf("outcomes %v, want held, held, dropped", outcomes)
	}
	if s.Dropped() != 1 {
		t.Fatalf("dropped %d, want 1", s.Dropped())
	}
	sink := &recordSink{}
	s.Attach(sink, 5, Limits{Inflight: 10, MaxQueued: 2}, now)
	if len(sink.pubs) != 2 || string(sink.pubs[0].Msg.Payload) != "1" || string(sink.pubs[1].Msg.Payload) != "2" {
		t.Fatalf("resumed with %d messages, want 1 then 2", len(sink.pubs))
	}
}

func TestQueueByteCap(t *testing.T) {
	s := New("c")
	s.Attach(&recordSink{}, 5, Limits{Inflight: 1, MaxQueuedBytes: 10}, time.Now())
	s.Detach(s.Sink())
	now := time.Now()
	if s.Deliver(&Delivery{Msg: msg("12345678", 1), QoS: 1}, now) != Held { // 1 + 8 bytes
		t.Fatal("first message should fit")
	}
	if s.Deliver(&Delivery{Msg: msg("12", 1), QoS: 1}, now) != Dropped {
		t.Fatal("second message should pass the byte cap")
	}
}

func TestOfflineQoS0SkippedUnlessConfigured(t *testing.T) {
	s := New("c")
	now := time.Now()
	if s.Deliver(&Delivery{Msg: msg("x", 0)}, now) != Skipped {
		t.Fatal("QoS 0 for an offline client should be skipped")
	}
	s.Attach(&recordSink{}, 5, Limits{Inflight: 1, QueueQoS0: true}, time.Now())
	s.Detach(s.Sink())
	if s.Deliver(&Delivery{Msg: msg("x", 0)}, now) != Held {
		t.Fatal("QoS 0 should be queued with QueueQoS0")
	}
}

func TestResumeRedeliversWithDupAndPubrel(t *testing.T) {
	s, sink := online(Limits{Inflight: 5})
	now := time.Now()
	s.Deliver(&Delivery{Msg: msg("q1", 1), QoS: 1}, now)
	s.Deliver(&Delivery{Msg: msg("q2", 2), QoS: 2}, now)
	q2 := sink.pubs[1].PacketID
	if !s.Pubrec(q2, false, now) || len(sink.pubrels) != 1 {
		t.Fatal("pubrec should answer with pubrel")
	}
	s.Detach(sink)
	again := &recordSink{}
	s.Attach(again, 5, Limits{Inflight: 5}, now)
	if len(again.pubs) != 1 || !again.pubs[0].Dup || again.pubs[0].PacketID != sink.pubs[0].PacketID {
		t.Fatalf("want the QoS 1 message again with DUP and its id, got %+v", again.pubs)
	}
	if len(again.pubrels) != 1 || again.pubrels[0] != q2 {
		t.Fatalf("want PUBREL %d resent, got %v", q2, again.pubrels)
	}
	if !s.Pubcomp(q2, now) {
		t.Fatal("pubcomp should complete the QoS 2 delivery")
	}
}

func TestExpiredQueuedMessagesAreNotSent(t *testing.T) {
	s := New("c")
	s.Attach(&recordSink{}, 5, Limits{Inflight: 5}, time.Now())
	s.Detach(s.Sink())
	now := time.Now()
	old := msg("old", 1)
	old.Expiry = now.Add(time.Second)
	s.Deliver(&Delivery{Msg: old, QoS: 1}, now)
	s.Deliver(&Delivery{Msg: msg("fresh", 1), QoS: 1}, now)
	sink := &recordSink{}
	s.Attach(sink, 5, Limits{Inflight: 5}, now.Add(2*time.Second))
	if len(sink.pubs) != 1 || string(sink.pubs[0].Msg.Payload) != "fresh" {
		t.Fatalf("want only the fresh message, got %d", len(sink.pubs))
	}
}

func TestTooLargeIsDroppedNotInflight(t *testing.T) {
	s, sink := online(Limits{Inflight: 5})
	sink.maxBytes = 3
	now := time.Now()
	if s.Deliver(&Delivery{Msg: msg("toolarge", 1), QoS: 1}, now) != DroppedTooLarge {
		t.Fatal("oversized message should be dropped")
	}
	if _, inflight := s.Queued(); inflight != 0 {
		t.Fatalf("oversized message took an inflight slot")
	}
}

func TestInboundQoS2(t *testing.T) {
	s := New("c")
	if dup, err := s.ReceiveQoS2(7, 1, nil); dup || err != nil {
		t.Fatalf("first receipt: dup %v err %v", dup, err)
	}
	if dup, _ := s.ReceiveQoS2(7, 1, nil); !dup {
		t.Fatal("retransmission not seen as duplicate")
	}
	if _, err := s.ReceiveQoS2(8, 1, nil); err != ErrReceiveMaximum {
		t.Fatalf("want ErrReceiveMaximum, got %v", err)
	}
	if !s.ReleaseQoS2(7, nil) || s.ReleaseQoS2(7, nil) {
		t.Fatal("release should succeed once")
	}
}

func TestResumeHonoursSmallerReceiveMaximum(t *testing.T) {
	s, sink := online(Limits{Inflight: 5})
	now := time.Now()
	for _, p := range []string{"1", "2", "3", "4"} {
		s.Deliver(&Delivery{Msg: msg(p, 1), QoS: 1}, now)
	}
	ids := []uint16{sink.pubs[0].PacketID, sink.pubs[1].PacketID, sink.pubs[2].PacketID, sink.pubs[3].PacketID}
	s.Detach(sink)
	again := &recordSink{}
	s.Attach(again, 5, Limits{Inflight: 2}, now)
	if len(again.pubs) != 2 {
		t.Fatalf("resent %d with receive maximum 2", len(again.pubs))
	}
	s.Deliver(&Delivery{Msg: msg("5", 1), QoS: 1}, now) // must queue behind the held ones
	s.Puback(ids[0], now)
	s.Puback(ids[1], now)
	if len(again.pubs) != 4 {
		t.Fatalf("after two acks want 4 sends, got %d", len(again.pubs))
	}
	for i, d := range again.pubs {
		if d.PacketID != ids[i] || !d.Dup {
			t.Fatalf("resend %d: id %d dup %v, want id %d with DUP", i, d.PacketID, d.Dup, ids[i])
		}
	}
	s.Puback(ids[2], now)
	if len(again.pubs) != 5 || string(again.pubs[4].Msg.Payload) != "5" || again.pubs[4].Dup {
		t.Fatalf("the new message should follow the held ones, fresh")
	}
}

// NewMessage copies the payload, in one allocation when it is small.
func TestNewMessage(t *testing.T) {
	for _, n := range []int{0, 1, 64, 65, 256, 257, 5000} {
		src := bytes.Repeat([]byte{'x'}, n)
		m := NewMessage(src)
		if !bytes.Equal(m.Payload, src) || m.Payload == nil || (n > 64 && cap(m.Payload) != n) {
			t.Fatalf("size %d: payload %d bytes, cap %d", n, len(m.Payload), cap(m.Payload))
		}
		if n > 0 {
			src[0] = 'y'
			if m.Payload[0] != 'x' {
				t.Fatalf("size %d: payload shares the caller's bytes", n)
			}
		}
		if allocs := testing.AllocsPerRun(10, func() { NewMessage(src) }); n <= 256 && allocs != 1 {
			t.Fatalf("size %d: %v allocations, want 1", n, allocs)
		}
	}
}

// A recycled message comes back empty from NewMessage, and routing a
// small message that nobody keeps allocates nothing; a kept one is never
// reused under its holder.
func TestRecycle(t *testing.T) {
	m := NewMessage([]byte("first"))
	m.Topic, m.From, m.QoS = "a/b", "pub", 1
	m.Props.ContentType = "text/plain"
	m.AppendV3(nil, 0, false, false, 0)
	m.AppendV3(nil, 0, false, false, 0) // makes the shared encoding
	Recycle(m)
	var again *Message
	for range 100 { // a sync.Pool may drop what it is given; it rarely does
		if again = NewMessage([]byte("second")); again == m {
			break
		}
	}
	if again == m && (again.Topic != "" || again.From != "" || again.QoS != 0 || again.Props.ContentType != "" ||
		again.v3[0].Load() != nil || again.v3uses.Load() != 0 || string(again.Payload) != "second") {
		t.Fatalf("a recycled message kept old state: %+v", again)
	}

	kept := NewMessage([]byte("kept"))
	kept.Keep()
	Recycle(kept)
	for range 100 {
		if NewMessage([]byte("other")) == kept {
			t.Fatal("a kept message was handed out again")
		}
	}

	src := make([]byte, 64)
	if allocs := testing.AllocsPerRun(100, func() { Recycle(NewMessage(src)) }); allocs != 0 {
		t.Fatalf("%v allocations per recycled message, want 0", allocs)
	}
}

// AppendV5 gives exactly what the packet encoder gives for a v5
// recipient with no properties of its own, for every QoS and flag, the
// first time (direct) and after (shared).
func TestAppendV5(t *testing.T) {
	m := NewMessage([]byte("payload"))
	m.Topic = "x/y"
	m.Props.ContentType = "text/plain"
	m.Props.Set(packet.PropContentType)
	m.Props.User = []packet.UserProperty{{Key: "k", Value: "v"}}
	m.Props.Set(packet.PropUserProperty)
	for round := range 2 {
		for _, qos := range []byte{0, 1, 2} {
			for _, flags := range []struct{ dup, retain bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
				want := packet.Publish{Topic: m.Topic, Payload: m.Payload, QoS: qos, Dup: flags.dup && qos > 0,
					Retain: flags.retain, PacketID: 7, Props: m.Props}
				if qos == 0 {
					want.PacketID = 0
				}
				wantB := packet.AppendPublish(nil, &want, packet.V5)
				got := m.AppendV5([]byte("prefix"), qos, flags.dup, flags.retain, 7)
				if !bytes.Equal(got[6:], wantB) {
					t.Fatalf("round %d qos %d %+v:\n got %x\nwant %x", round, qos, flags, got[6:], wantB)
				}
				if qos > 0 && m.SizeV5(qos) != len(wantB) {
					t.Fatalf("SizeV5 %d, packet %d bytes", m.SizeV5(qos), len(wantB))
				}
			}
		}
	}
}

// AppendV3 gives exactly what the packet encoder gives, for every QoS
// and flag, from one shared encoding.
func TestAppendV3MatchesEncoder(t *testing.T) {
	for _, qos := range []byte{0, 1, 2} {
		for _, dup := range []bool{false, true} {
			for _, retain := range []bool{false, true} {
				var id uint16
				if qos > 0 {
					id = 0xBEEF
				}
				m := NewMessage([]byte("payload"))
				m.Topic = "a/b/c"
				want := packet.AppendPublish(nil, &packet.Publish{Topic: m.Topic, Payload: m.Payload, QoS: qos,
					Dup: dup, Retain: retain, PacketID: id}, packet.V311)
				for copy := range 2 { // the first copy is encoded directly, later ones from the shared bytes
					if got := m.AppendV3([]byte("prefix"), qos, dup, retain, id); !bytes.Equal(got[6:], want) {
						t.Errorf("qos %d dup %v retain %v, copy %d:\n got %x\nwant %x", qos, dup, retain, copy, got[6:], want)
					}
				}
			}
		}
	}
}
