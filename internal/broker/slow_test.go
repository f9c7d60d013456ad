package broker_test

import (
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
)

// TestSlowConsumerDropsQoS0 floods a subscriber that never reads: QoS 0
// messages to it are dropped and counted once its writer holds more than
// MaxOutboundBytes, while the publisher and a QoS 1 subscriber carry on
// with every message (QoS 1 is never dropped for slowness, only by the
// queue limit).
func TestSlowConsumerDropsQoS0(t *testing.T) {
	b, addr := brokertest.Start(t, broker.Options{MaxOutboundBytes: 64 << 10, MaxQueuedMessages: 10000})
	stuck := brokertest.Dial(t, addr, packet.V311)
	stuck.Connect(&packet.Connect{ClientID: "stuck", CleanStart: true})
	stuck.Send(&packet.Subscribe{PacketID: 1, Subs: []packet.Subscription{{Filter: "flood"}}})
	brokertest.Expect[*packet.Suback](stuck)
	// From here "stuck" never reads again.

	good := brokertest.Dial(t, addr, packet.V311)
	good.Connect(&packet.Connect{ClientID: "good", CleanStart: true})
	good.Send(&packet.Subscribe{PacketID: 1, Subs: []packet.Subscription{{Filter: "flood", QoS: 1}}})
	brokertest.Expect[*packet.Suback](good)

	const n, size = 3000, 10 << 10 // 30 MB: more than loopback socket buffers hold
	received := make(chan int, 1)
	go func() {
		count := 0
		for count < n {
			p, err := good.Read(20 * time.Second)
			if err != nil {
				t.Errorf("reading subscriber: %v", err)
				break
			}
			if m, ok := p.(*packet.Publish); ok {
				good.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: m.PacketID})
				count++
			}
		}
		received <- count
	}()
	pub := brokertest.Dial(t, addr, packet.V311)
	pub.Connect(&packet.Connect{ClientID: "pub", CleanStart: true})
	go io.Copy(io.Discard, pub.Conn)
	frame, _ := packet.Append(nil, &packet.Publish{Topic: "flood", QoS: 1, PacketID: 1, Payload: make([]byte, size)}, packet.V311)
	for range n {
		pub.SendBytes(frame)
	}
	if got := <-received; got != n {
		t.Fatalf("reading subscriber got %d of %d", got, n)
	}
	if d := b.Stats().MessagesDropped; d == 0 {
		t.Fatal("no message counted as dropped for the subscriber that does not read")
	}
}

// TestClientThatDoesNotReadIsHeldBack sends PINGREQs without reading the
// PINGRESPs: once MaxOutboundBytes of answers wait, the broker stops
// reading from that client, so its writes stall instead of the broker's
// memory growing. Another client carries on meanwhile.
func TestClientThatDoesNotReadIsHeldBack(t *testing.T) {
	_, addr := brokertest.Start(t, broker.Options{MaxOutboundBytes: 64 << 10})
	flooder := brokertest.Dial(t, addr, packet.V311)
	flooder.Connect(&packet.Connect{ClientID: "flooder", CleanStart: true})
	pings := make([]byte, 64<<10)
	for i := 0; i < len(pings); i += 2 {
		pings[i] = 0xC0 // PINGREQ, remaining length 0
	}
	written := 0
	flooder.Conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	for written < 256<<20 {
		n, err := flooder.Conn.Write(pings)
		written += n
		if err != nil {
			break // the deadline: the broker stopped reading, as it should
		}
	}
	// Without the hold-back every PINGREQ read is a PINGRESP kept in
	// memory; with it, about MaxOutboundBytes are.
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("client wrote %d MB before stalling; heap in use %d MB", written>>20, ms.HeapInuse>>20)
	if ms.HeapInuse > 8<<20 {
		t.Fatalf("heap holds %d MB after a client sent %d MB it never read answers to", ms.HeapInuse>>20, written>>20)
	}
	other := brokertest.Dial(t, addr, packet.V311)
	other.Connect(&packet.Connect{ClientID: "other", CleanStart: true})
	other.Send(&packet.Pingreq{})
	brokertest.Expect[*packet.Pingresp](other)
}
