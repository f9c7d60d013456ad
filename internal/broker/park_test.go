//go:build linux

package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
)

// waitParked waits until n connections are parked.
func waitParked(t *testing.T, b *broker.Broker, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.Stats().Parked != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections parked, want %d", b.Stats().Parked, n)
		}
		time.Sleep(5 * time.Millisecond) // no event tells a test that a connection parked
	}
}

// A quiet connection parks, and parked it still gets messages, wakes for
// its packets, and parks again.
func TestParkedConnectionWorks(t *testing.T) {
	b, addr := brokertest.Start(t, broker.Options{ParkAfter: 20 * time.Millisecond})
	sub := brokertest.Dial(t, addr, packet.V311)
	sub.Connect(&packet.Connect{ClientID: "sleepy", CleanStart: true, KeepAlive: 60})
	sub.Send(&packet.Subscribe{PacketID: 1, Subs: []packet.Subscription{{Filter: "p/#", QoS: 1}}})
	brokertest.Expect[*packet.Suback](sub)
	waitParked(t, b, 1)

	// Messages reach it while parked: the writer needs no reader.
	if err := b.Publish("p/1", []byte("while parked"), 1, false); err != nil {
		t.Fatal(err)
	}
	p := brokertest.Expect[*packet.Publish](sub)
	if string(p.Payload) != "while parked" {
		t.Fatalf("got %q", p.Payload)
	}
	// Its PUBACK wakes it; the broker handles it (the message leaves the
	// inflight window) and the connection parks again.
	sub.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: p.PacketID})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if c, _ := b.Client("sleepy"); c.Inflight == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the PUBACK of a parked connection was not handled")
		}
	}
	waitParked(t, b, 1)
	sub.Send(&packet.Pingreq{})
	brokertest.Expect[*packet.Pingresp](sub)
	waitParked(t, b, 1)
}

// A parked connection that stops sending is closed at 1.5 times its keep
// alive, as an active one is.
func TestParkedConnectionKeepAlive(t *testing.T) {
	b, addr := brokertest.Start(t, broker.Options{ParkAfter: 20 * time.Millisecond})
	c := brokertest.Dial(t, addr, packet.V5)
	c.Connect(&packet.Connect{ClientID: "silent", CleanStart: true, KeepAlive: 1})
	waitParked(t, b, 1)
	start := time.Now()
	got := c.ExpectClosed(5 * time.Second)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("closed after %v, want about 1.5s", took)
	}
	if len(got) != 1 {
		t.Fatalf("got %v before the close, want one DISCONNECT", got)
	}
	if d, ok := got[0].(*packet.Disconnect); !ok || d.ReasonCode != packet.KeepAliveTimeout {
		t.Fatalf("got %+v, want DISCONNECT 0x8D", got[0])
	}
	waitParked(t, b, 0)
}

// Kicking a parked connection (admin disconnect, takeover, shutdown)
// wakes and ends it.
func TestParkedConnectionKicked(t *testing.T) {
	b, addr := brokertest.Start(t, broker.Options{ParkAfter: 20 * time.Millisecond})
	admin := brokertest.Dial(t, addr, packet.V5)
	admin.Connect(&packet.Connect{ClientID: "kicked", CleanStart: true, KeepAlive: 60})
	taken := brokertest.Dial(t, addr, packet.V311)
	taken.Connect(&packet.Connect{ClientID: "taken", CleanStart: true, KeepAlive: 60})
	down := brokertest.Dial(t, addr, packet.V5)
	down.Connect(&packet.Connect{ClientID: "down", CleanStart: true, KeepAlive: 60})
	waitParked(t, b, 3)

	if !b.Disconnect("kicked") {
		t.Fatal("Disconnect: not connected")
	}
	if d := brokertest.Expect[*packet.Disconnect](admin); d.ReasonCode != packet.AdministrativeAction {
		t.Fatalf("got reason %#x, want 0x98", byte(d.ReasonCode))
	}
	admin.ExpectClosed(5 * time.Second)

	again := brokertest.Dial(t, addr, packet.V311)
	again.Connect(&packet.Connect{ClientID: "taken", CleanStart: true, KeepAlive: 60})
	taken.ExpectClosed(5 * time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := brokertest.Expect[*packet.Disconnect](down); d.ReasonCode != packet.ServerShuttingDown {
		t.Fatalf("got reason %#x, want 0x8B", byte(d.ReasonCode))
	}
	if n := b.Stats().Parked; n != 0 {
		t.Fatalf("%d connections parked after Shutdown", n)
	}
}

// A connection woken late in its keep alive, when less than ParkAfter of
// it is left, reads its packet instead of failing at once on the idle
// deadline that parked it (a PINGREQ within 1.5 keep alives must be
// answered [MQTT-3.1.2-24]).
func TestParkedWakesLateInKeepAlive(t *testing.T) {
	b, addr := brokertest.Start(t, broker.Options{ParkAfter: 300 * time.Millisecond})
	c := brokertest.Dial(t, addr, packet.V311)
	c.Connect(&packet.Connect{ClientID: "late", CleanStart: true, KeepAlive: 1}) // closed 1.5 s after the last packet
	connected := time.Now()
	waitParked(t, b, 1)
	// 1.3 s in: 0.2 s of the keep alive left, less than ParkAfter.
	time.Sleep(time.Until(connected.Add(1300 * time.Millisecond)))
	c.Send(&packet.Pingreq{})
	brokertest.Expect[*packet.Pingresp](c)
}
