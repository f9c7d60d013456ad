package broker_test

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
	"github.com/baram-mqtt/baram/internal/store"
	"github.com/baram-mqtt/baram/internal/store/pebblestore"
	"github.com/baram-mqtt/baram/internal/store/storetest"
)

// diskBroker is a broker over a Pebble store in a directory that outlives
// it, so a test can stop it and start another on the same data.
type diskBroker struct {
	t    *testing.T
	dir  string
	b    *broker.Broker
	st   store.Store
	addr string
	done chan error
}

func startDisk(t *testing.T, dir string, wrap func(store.Store) store.Store) *diskBroker {
	t.Helper()
	return startDiskWith(t, dir, wrap, nil)
}

// startDiskWith is startDisk with the options changed by configure.
func startDiskWith(t *testing.T, dir string, wrap func(store.Store) store.Store, configure func(*broker.Options)) *diskBroker {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	st, err := pebblestore.Open(dir, pebblestore.Options{Logger: log})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	var s store.Store = st
	if wrap != nil {
		s = wrap(st)
	}
	opts := broker.Options{Logger: log, AllowAnonymous: true, Store: s, MaxQueuedMessages: 1000, MaxTopicAlias: 10}
	if configure != nil {
		configure(&opts)
	}
	b, err := broker.Open(opts)
	if err != nil {
		st.Close()
		t.Fatalf("recover: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &diskBroker{t: t, dir: dir, b: b, st: st, addr: ln.Addr().String(), done: make(chan error, 1)}
	go func() { d.done <- b.Serve(ln) }()
	t.Cleanup(d.stop)
	return d
}

// stop shuts the broker down and closes its store; safe to call twice.
func (d *diskBroker) stop() {
	if d.b == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.b.Shutdown(ctx); err != nil {
		d.t.Errorf("shutdown: %v", err)
	}
	<-d.done
	if err := d.st.Close(); err != nil {
		d.t.Errorf("close store: %v", err)
	}
	d.b = nil
}

// restart stops the broker and starts a new one on the same directory.
func (d *diskBroker) restart() *diskBroker {
	d.stop()
	return startDisk(d.t, d.dir, nil)
}

func rawConnect(t *testing.T, addr, id string, clean bool) (*brokertest.Raw, *packet.Connack) {
	t.Helper()
	r := brokertest.Dial(t, addr, packet.V311)
	return r, r.Connect(&packet.Connect{ClientID: id, CleanStart: clean, KeepAlive: 30})
}

func subscribeRaw(t *testing.T, r *brokertest.Raw, filter string, qos byte) {
	t.Helper()
	r.Send(&packet.Subscribe{PacketID: 1, Subs: []packet.Subscription{{Filter: filter, QoS: qos}}})
	if ack := brokertest.Expect[*packet.Suback](r); ack.ReasonCodes[0] != packet.ReasonCode(qos) {
		t.Fatalf("SUBACK %v", ack.ReasonCodes)
	}
}

// publishAcked publishes at QoS 1 or 2 and waits for the PUBACK or PUBREC
// (completing QoS 2 with PUBREL/PUBCOMP).
func publishAcked(t *testing.T, r *brokertest.Raw, topic, payload string, qos byte, id uint16, retain bool) {
	t.Helper()
	r.Send(&packet.Publish{Topic: topic, QoS: qos, PacketID: id, Retain: retain, Payload: []byte(payload)})
	if qos == 1 {
		brokertest.Expect[*packet.Ack](r)
		return
	}
	if a := brokertest.Expect[*packet.Ack](r); a.Kind != packet.PUBREC {
		t.Fatalf("got %s, want PUBREC", a.Kind)
	}
	r.Send(&packet.Ack{Kind: packet.PUBREL, PacketID: id})
	if a := brokertest.Expect[*packet.Ack](r); a.Kind != packet.PUBCOMP {
		t.Fatalf("got %s, want PUBCOMP", a.Kind)
	}
}

func expectPublish(t *testing.T, r *brokertest.Raw, topic, payload string) *packet.Publish {
	t.Helper()
	p := brokertest.Expect[*packet.Publish](r)
	if p.Topic != topic || string(p.Payload) != payload {
		t.Fatalf("got %s %q, want %s %q", p.Topic, p.Payload, topic, payload)
	}
	return p
}

// Persistent subscriptions, the messages queued for them and retained
// messages survive a restart.
func TestRestartKeepsSubscriptionsQueuesAndRetained(t *testing.T) {
	d := startDisk(t, t.TempDir(), nil)
	sub, _ := rawConnect(t, d.addr, "keeper", false)
	subscribeRaw(t, sub, "keep/#", 2)
	sub.Conn.Close()
	pub, _ := rawConnect(t, d.addr, "pub", true)
	publishAcked(t, pub, "keep/q1", "one", 1, 1, false)
	publishAcked(t, pub, "keep/q2", "two", 2, 2, false)
	publishAcked(t, pub, "keep/retained", "kept", 1, 3, true)

	d = d.restart()
	sub, ack := rawConnect(t, d.addr, "keeper", false)
	if !ack.SessionPresent {
		t.Fatal("session not present after restart")
	}
	expectPublish(t, sub, "keep/q1", "one")
	expectPublish(t, sub, "keep/q2", "two")
	expectPublish(t, sub, "keep/retained", "kept")
	pub, _ = rawConnect(t, d.addr, "pub", true)
	publishAcked(t, pub, "keep/live", "after", 1, 4, false)
	expectPublish(t, sub, "keep/live", "after")

	late, _ := rawConnect(t, d.addr, "late", true)
	subscribeRaw(t, late, "keep/+", 0)
	if p := expectPublish(t, late, "keep/retained", "kept"); !p.Retain {
		t.Fatal("retained message without the retain flag")
	}
}

// Messages sent but not acknowledged before a restart are sent again with
// DUP and their packet ids; a QoS 2 message whose PUBREC came back gets
// its PUBREL again instead [MQTT-4.4.0-1].
func TestRestartRedeliversInflight(t *testing.T) {
	d := startDisk(t, t.TempDir(), nil)
	sub, _ := rawConnect(t, d.addr, "slow", false)
	subscribeRaw(t, sub, "in/#", 2)
	pub, _ := rawConnect(t, d.addr, "pub", true)
	publishAcked(t, pub, "in/1", "q1", 1, 1, false)
	publishAcked(t, pub, "in/2", "q2", 2, 2, false)
	publishAcked(t, pub, "in/3", "q2-rec", 2, 3, false)
	p1 := expectPublish(t, sub, "in/1", "q1")
	p2 := expectPublish(t, sub, "in/2", "q2")
	p3 := expectPublish(t, sub, "in/3", "q2-rec")
	sub.Send(&packet.Ack{Kind: packet.PUBREC, PacketID: p3.PacketID})
	if a := brokertest.Expect[*packet.Ack](sub); a.Kind != packet.PUBREL {
		t.Fatalf("got %s, want PUBREL", a.Kind)
	}
	// Make sure the PUBREC is handled before the restart.
	sub.Send(&packet.Pingreq{})
	brokertest.Expect[*packet.Pingresp](sub)

	d = d.restart()
	sub, _ = rawConnect(t, d.addr, "slow", false)
	var got []packet.Packet
	for range 3 {
		p, err := sub.Read(5 * time.Second)
		if err != nil {
			t.Fatalf("after %d packets: %v", len(got), err)
		}
		got = append(got, p)
	}
	want := map[uint16]bool{p1.PacketID: false, p2.PacketID: false}
	for _, p := range got {
		switch p := p.(type) {
		case *packet.Publish:
			seen, ok := want[p.PacketID]
			if !ok || seen || !p.Dup {
				t.Fatalf("unexpected redelivery %+v", p)
			}
			want[p.PacketID] = true
		case *packet.Ack:
			if p.Kind != packet.PUBREL || p.PacketID != p3.PacketID {
				t.Fatalf("got %s %d, want PUBREL %d", p.Kind, p.PacketID, p3.PacketID)
			}
		}
	}
}

// A QoS 2 message received (PUBREC sent) but not released before a
// restart is delivered exactly once: the publisher's DUP retransmission
// after the restart is not routed again [MQTT-4.3.3].
func TestRestartInboundQoS2ExactlyOnce(t *testing.T) {
	d := startDisk(t, t.TempDir(), nil)
	watcher, _ := rawConnect(t, d.addr, "watcher", false)
	subscribeRaw(t, watcher, "x/#", 2)
	pub, _ := rawConnect(t, d.addr, "q2pub", false)
	pub.Send(&packet.Publish{Topic: "x/once", QoS: 2, PacketID: 7, Payload: []byte("once")})
	if a := brokertest.Expect[*packet.Ack](pub); a.Kind != packet.PUBREC {
		t.Fatalf("got %s, want PUBREC", a.Kind)
	}
	m := expectPublish(t, watcher, "x/once", "once")
	watcher.Send(&packet.Ack{Kind: packet.PUBREC, PacketID: m.PacketID})
	brokertest.Expect[*packet.Ack](watcher) // PUBREL
	watcher.Send(&packet.Ack{Kind: packet.PUBCOMP, PacketID: m.PacketID})
	watcher.Send(&packet.Pingreq{}) // the PINGRESP follows the PUBCOMP's handling
	brokertest.Expect[*packet.Pingresp](watcher)

	d = d.restart()
	pub, _ = rawConnect(t, d.addr, "q2pub", false)
	pub.Send(&packet.Publish{Topic: "x/once", QoS: 2, PacketID: 7, Dup: true, Payload: []byte("once")})
	if a := brokertest.Expect[*packet.Ack](pub); a.Kind != packet.PUBREC {
		t.Fatalf("got %s, want PUBREC", a.Kind)
	}
	pub.Send(&packet.Ack{Kind: packet.PUBREL, PacketID: 7})
	if a := brokertest.Expect[*packet.Ack](pub); a.Kind != packet.PUBCOMP || a.ReasonCode != packet.Success {
		t.Fatalf("got %s 0x%02X, want PUBCOMP success", a.Kind, byte(a.ReasonCode))
	}
	watcher, _ = rawConnect(t, d.addr, "watcher", false)
	publishAcked(t, pub, "x/marker", "marker", 1, 8, false)
	expectPublish(t, watcher, "x/marker", "marker") // no second "once" before it
}

// A store that fails to commit (disk full, fsync error) never yields an
// acknowledgement for the message it did not store: a v5 publisher gets
// DISCONNECT 0x80, a 3.1.1 publisher is disconnected, the subscriber gets
// nothing, and what was stored before is intact.
func TestStoreFailureNeverAcknowledges(t *testing.T) {
	for _, version := range []byte{packet.V311, packet.V5} {
		t.Run(map[byte]string{packet.V311: "3.1.1", packet.V5: "5"}[version], func(t *testing.T) {
			var faulty *storetest.Faulty
			d := startDisk(t, t.TempDir(), func(s store.Store) store.Store {
				faulty = storetest.NewFaulty(s)
				return faulty
			})
			sub, _ := rawConnect(t, d.addr, "durable-sub", false)
			subscribeRaw(t, sub, "f/#", 1)
			pub := brokertest.Dial(t, d.addr, version)
			pub.Connect(&packet.Connect{ClientID: "pub", CleanStart: true})
			publishAcked(t, pub, "f/ok", "stored", 1, 1, false)
			expectPublish(t, sub, "f/ok", "stored")

			faulty.FailNext.Store(1)
			pub.Send(&packet.Publish{Topic: "f/lost", QoS: 1, PacketID: 2, Payload: []byte("not stored")})
			got := pub.ExpectClosed(5 * time.Second)
			for _, p := range got {
				if a, ok := p.(*packet.Ack); ok {
					t.Fatalf("acknowledged an unstored message: %s 0x%02X", a.Kind, byte(a.ReasonCode))
				}
			}
			if version == packet.V5 {
				if len(got) != 1 || got[0].(*packet.Disconnect).ReasonCode != packet.UnspecifiedError {
					t.Fatalf("v5 publisher got %v, want DISCONNECT 0x80", got)
				}
			}
			pub = brokertest.Dial(t, d.addr, packet.V311)
			pub.Connect(&packet.Connect{ClientID: "pub", CleanStart: true})
			publishAcked(t, pub, "f/next", "after", 1, 3, false)
			expectPublish(t, sub, "f/next", "after") // "not stored" was never sent on
		})
	}
}

// A will waiting out its delay when the broker stops is published after
// the restart, once the delay has passed.
func TestRestartKeepsDelayedWill(t *testing.T) {
	d := startDisk(t, t.TempDir(), nil)
	watcher, _ := rawConnect(t, d.addr, "watcher", false)
	subscribeRaw(t, watcher, "will/#", 1)
	v := brokertest.Dial(t, d.addr, packet.V5)
	c := &packet.Connect{ClientID: "mortal", KeepAlive: 30,
		Will: &packet.Will{Topic: "will/mortal", Payload: []byte("gone"), QoS: 1}}
	c.Will.Props.WillDelay = 1
	c.Will.Props.Set(packet.PropWillDelay)
	c.Props.SessionExpiry = 60
	c.Props.Set(packet.PropSessionExpiry)
	v.Connect(c)
	v.Conn.Close() // abnormal: the will waits 1 s

	d = d.restart()
	watcher, _ = rawConnect(t, d.addr, "watcher", false)
	expectPublish(t, watcher, "will/mortal", "gone")
}
