package broker_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
)

// MQTT 5 limits: maximum packet size, keep alive, client ids, connection
// limits.

// The broker announces its Maximum Packet Size and closes a connection
// that sends a larger packet with DISCONNECT 0x95 [MQTT-3.2.2-15] (§4.13).
func TestV5MaxPacketSizeInbound(t *testing.T) {
	addr := v5Start(t, broker.Options{MaxPacketSize: 256})
	by := v5NewBystander(t, addr)
	r, ack := v5Conn(t, addr, "big-pub", true, nil)
	if !ack.Props.Has(packet.PropMaximumPacketSize) || ack.Props.MaximumPacketSize != 256 {
		t.Fatalf("CONNACK maximum packet size %d, want 256", ack.Props.MaximumPacketSize)
	}
	v5Publish1(t, r, v5Pub("big/t", 1, 1, strings.Repeat("s", 100)))
	exact := v5Pub("big/t", 1, 2, "")
	exact.Payload = bytes.Repeat([]byte("e"), 256-packet.Size(exact, packet.V5))
	exact.Payload = exact.Payload[:len(exact.Payload)-(packet.Size(exact, packet.V5)-256)] // a longer length field
	if packet.Size(exact, packet.V5) != 256 {
		t.Fatalf("test packet is %d bytes", packet.Size(exact, packet.V5))
	}
	if code := v5Publish1(t, r, exact); code.IsError() { // exactly the maximum is allowed
		t.Fatalf("PUBACK 0x%02X for a packet of exactly the maximum size", byte(code))
	}
	r.Send(v5Pub("big/t", 1, 2, strings.Repeat("x", 1000)))
	v5ExpectDisconnect(t, r, packet.PacketTooLarge)
	by.check(t)
}

// A PUBLISH larger than the Maximum Packet Size a client announced is not
// sent to it [MQTT-3.1.2-24]: it is discarded as if delivered
// [MQTT-3.1.2-25], and later messages that fit arrive.
func TestV5MaxPacketSizeOutbound(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	s, _ := v5Conn(t, addr, "small", true, func(c *packet.Connect) {
		c.Props.MaximumPacketSize = 100
		c.Props.Set(packet.PropMaximumPacketSize)
	})
	v5Sub(t, s, "mps/#", 1)
	p, _ := v5Conn(t, addr, "mps-pub", true, nil)
	big := strings.Repeat("b", 200)
	p.Send(v5Pub("mps/q0", 0, 0, big))
	v5Publish1(t, p, v5Pub("mps/q1", 1, 1, big))
	v5Publish1(t, p, v5Pub("mps/q1", 1, 2, "small"))
	p.Send(v5Pub("mps/q0", 0, 0, "small 0"))
	m := v5ExpectPublish(t, s, "mps/q1", "small")
	s.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: m.PacketID})
	v5ExpectPublish(t, s, "mps/q0", "small 0")

	// A packet of exactly the maximum is allowed.
	exact := v5Pub("mps/e", 1, 3, "")
	exact.PacketID = 1
	exact.Payload = bytes.Repeat([]byte("e"), 100-packet.Size(exact, packet.V5))
	if packet.Size(exact, packet.V5) != 100 {
		t.Fatalf("test packet is %d bytes", packet.Size(exact, packet.V5))
	}
	exact.PacketID = 3
	v5Publish1(t, p, exact)
	if m := v5ReadPublish(t, s); len(m.Payload) != len(exact.Payload) {
		t.Fatalf("got payload of %d bytes, want %d", len(m.Payload), len(exact.Payload))
	}
}

// An empty client id gets an id assigned by the broker, in the CONNACK
// [MQTT-3.1.3-6], [MQTT-3.2.2-16].
func TestV5AssignedClientID(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	_, a := v5Conn(t, addr, "", true, nil)
	_, b := v5Conn(t, addr, "", true, nil)
	if !a.Props.Has(packet.PropAssignedClientID) || a.Props.AssignedClientID == "" {
		t.Fatal("no Assigned Client Identifier for an empty client id [MQTT-3.2.2-16]")
	}
	if a.Props.AssignedClientID == b.Props.AssignedClientID {
		t.Fatalf("two clients assigned the same id %q", a.Props.AssignedClientID)
	}
	_, c := v5Conn(t, addr, "named", true, nil)
	if c.Props.Has(packet.PropAssignedClientID) {
		t.Fatalf("assigned id %q although the client sent one", c.Props.AssignedClientID)
	}
}

// The broker tells a client the Server Keep Alive when the client asks
// for 0 or more than KeepAliveMax; the client must use it
// [MQTT-3.2.2-21], [MQTT-3.2.2-22].
func TestV5ServerKeepAlive(t *testing.T) {
	addr := v5Start(t, broker.Options{KeepAliveMax: 10})
	for _, tc := range []struct {
		ask  uint16
		want uint16 // 0: no Server Keep Alive
	}{{0, 10}, {100, 10}, {10, 0}, {5, 0}} {
		_, ack := v5Conn(t, addr, v5UniqueID("ka"), true, func(c *packet.Connect) { c.KeepAlive = tc.ask })
		has := ack.Props.Has(packet.PropServerKeepAlive)
		if (tc.want != 0) != has || ack.Props.ServerKeepAlive != tc.want {
			t.Errorf("keep alive %d: Server Keep Alive present=%v %d, want %d", tc.ask, has, ack.Props.ServerKeepAlive, tc.want)
		}
	}
}

// A client silent for one and a half keep alive periods is disconnected
// [MQTT-3.1.2-22]; a v5 client is told why with DISCONNECT 0x8D first
// [MQTT-4.13.1-1]. A client that keeps pinging stays.
func TestV5KeepAliveTimeout(t *testing.T) {
	t.Parallel()
	addr := v5Start(t, broker.Options{})
	alive, _ := v5Conn(t, addr, "alive", true, func(c *packet.Connect) { c.KeepAlive = 1 })
	r, _ := v5Conn(t, addr, "silent", true, func(c *packet.Connect) { c.KeepAlive = 1 })
	start := time.Now()

	// Meanwhile the other client pings every half period.
	stop, pinged := make(chan struct{}), make(chan int)
	go func() {
		n := 0
		defer func() { pinged <- n }()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := alive.Conn.Write([]byte{0xC0, 0x00}); err != nil { // PINGREQ
					return
				}
				n++
			}
		}
	}()
	v5ExpectDisconnect(t, r, packet.KeepAliveTimeout)
	el := time.Since(start)
	close(stop)
	n := <-pinged
	if el < 1400*time.Millisecond || el > 3*time.Second {
		t.Fatalf("disconnected after %v, want about 1.5 s [MQTT-3.1.2-22]", el)
	}
	if n < 2 {
		t.Fatalf("only %d pings in %v", n, el)
	}
	for range n {
		brokertest.Expect[*packet.Pingresp](alive)
	}
	v5ExpectNothing(t, alive)
}

// With Options.MaxConnections, a connection past the limit is refused
// with CONNACK 0x97 (Quota exceeded).
func TestV5MaxConnections(t *testing.T) {
	addr := v5Start(t, broker.Options{MaxConnections: 2})
	a, _ := v5Conn(t, addr, "mc1", true, nil)
	v5Conn(t, addr, "mc2", true, nil)
	ack := v5Refused(t, addr, &packet.Connect{ClientID: "mc3", CleanStart: true})
	if ack.ReasonCode != packet.QuotaExceeded {
		t.Fatalf("CONNACK 0x%02X past the connection limit, want 0x97", byte(ack.ReasonCode))
	}
	v5ExpectNothing(t, a) // the admitted ones are unaffected
}
