package broker_test

import (
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
	"github.com/baram-mqtt/baram/internal/store"
	"github.com/baram-mqtt/baram/internal/store/memstore"
)

// The background sweep deletes expired messages queued for an offline
// session from the store, and keeps the others.
func TestSweepDeletesExpiredQueuedMessages(t *testing.T) {
	st := memstore.New()
	b, addr := brokertest.Start(t, broker.Options{Store: st})
	sub := brokertest.Dial(t, addr, packet.V5)
	c := &packet.Connect{ClientID: "away", KeepAlive: 30}
	c.Props.SessionExpiry = 600
	c.Props.Set(packet.PropSessionExpiry)
	sub.Connect(c)
	sub.Send(&packet.Subscribe{PacketID: 1, Subs: []packet.Subscription{{Filter: "sw/#", QoS: 1}}})
	brokertest.Expect[*packet.Suback](sub)
	sub.Send(&packet.Disconnect{})
	sub.ExpectClosed(5 * time.Second)

	pub := brokertest.Dial(t, addr, packet.V5)
	pub.Connect(&packet.Connect{ClientID: "pub", CleanStart: true, KeepAlive: 30})
	short := &packet.Publish{Topic: "sw/short", QoS: 1, PacketID: 1, Payload: []byte("x")}
	short.Props.MessageExpiry = 1
	short.Props.Set(packet.PropMessageExpiry)
	pub.Send(short)
	brokertest.Expect[*packet.Ack](pub)
	pub.Send(&packet.Publish{Topic: "sw/long", QoS: 1, PacketID: 2, Payload: []byte("y")})
	brokertest.Expect[*packet.Ack](pub)
	if n := countQueued(t, st); n != 2 {
		t.Fatalf("%d queue records before the sweep, want 2", n)
	}
	b.SweepNow(time.Now().Add(2 * time.Second))
	if n := countQueued(t, st); n != 1 {
		t.Fatalf("%d queue records after the sweep, want 1", n)
	}
}

func countQueued(t *testing.T, st store.Store) int {
	t.Helper()
	n := 0
	if err := st.Scan([]byte{store.TableQueue}, nil, func(_, _ []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}
