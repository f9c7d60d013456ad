package broker_test

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
)

// BenchmarkEndToEnd measures the whole path over loopback: a raw client
// publishes 64-byte messages, the broker routes them, a raw subscriber
// reads them. One op is one message delivered.
func BenchmarkEndToEnd(b *testing.B) {
	for _, qos := range []byte{0, 1} {
		b.Run([]string{"qos0", "qos1"}[qos], func(b *testing.B) { benchEndToEnd(b, qos) })
	}
}

func benchEndToEnd(b *testing.B, qos byte) {
	_, addr := brokertest.Start(b, broker.Options{Logger: slog.New(slog.DiscardHandler), MaxInflight: 1000, MaxQueuedMessages: 1 << 30})
	sub := brokertest.Dial(b, addr, packet.V311)
	sub.Connect(&packet.Connect{ClientID: "bench-sub", CleanStart: true})
	sub.Send(&packet.Subscribe{PacketID: 1, Subs: []packet.Subscription{{Filter: "bench/#", QoS: qos}}})
	brokertest.Expect[*packet.Suback](sub)
	pub := brokertest.Dial(b, addr, packet.V311)
	pub.Connect(&packet.Connect{ClientID: "bench-pub", CleanStart: true})

	one := &packet.Publish{Topic: "bench/topic", QoS: qos, PacketID: 1, Payload: make([]byte, 64)}
	frame, _ := packet.Append(nil, one, packet.V311)
	const batch = 256
	var burst []byte
	for range batch {
		burst = append(burst, frame...)
	}
	got := make(chan error, 1)
	go func() { got <- drain(sub, b.N, qos) }()
	go io.Copy(io.Discard, pub.Conn) // PUBACKs to the publisher
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += batch {
		n := min(batch, b.N-sent)
		pub.SendBytes(burst[:n*len(frame)])
	}
	if err := <-got; err != nil {
		b.Fatal(err)
	}
}

// drain reads n PUBLISH packets, acknowledging QoS 1 ones.
func drain(r *brokertest.Raw, n int, qos byte) error {
	for i := 0; i < n; i++ {
		p, err := r.Read(30 * time.Second)
		if err != nil {
			return err
		}
		if pub, ok := p.(*packet.Publish); ok && qos == 1 {
			r.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: pub.PacketID})
		}
	}
	return nil
}

// BenchmarkFanout measures one publisher to 100 MQTT 3.1.1 subscribers
// at QoS 0 over loopback: routing, the shared encoding and the writes.
// One op is one message delivered to one subscriber (allocations include
// the test subscribers' decoding).
func BenchmarkFanout(b *testing.B) {
	const subscribers = 100
	_, addr := brokertest.Start(b, broker.Options{Logger: slog.New(slog.DiscardHandler), MaxOutboundBytes: 64 << 20})
	msgs := max(b.N/subscribers, 1)
	done := make(chan error, subscribers)
	for i := range subscribers {
		sub := brokertest.Dial(b, addr, packet.V311)
		sub.Connect(&packet.Connect{ClientID: fmt.Sprintf("fan-%d", i), CleanStart: true})
		sub.Send(&packet.Subscribe{PacketID: 1, Subs: []packet.Subscription{{Filter: "fan/#"}}})
		brokertest.Expect[*packet.Suback](sub)
		go func() { done <- drain(sub, msgs, 0) }()
	}
	pub := brokertest.Dial(b, addr, packet.V311)
	pub.Connect(&packet.Connect{ClientID: "fan-pub", CleanStart: true})
	frame, _ := packet.Append(nil, &packet.Publish{Topic: "fan/topic", Payload: make([]byte, 64)}, packet.V311)
	b.ReportAllocs()
	b.ResetTimer()
	for sent := 0; sent < msgs; sent += 64 {
		var burst []byte
		for range min(64, msgs-sent) {
			burst = append(burst, frame...)
		}
		pub.SendBytes(burst)
	}
	for range subscribers {
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConnect measures connection setup over loopback: dial, CONNECT
// (3.1.1, clean session, a new client id each time), CONNACK, DISCONNECT.
// One op is one connection; allocations include the client's few.
func BenchmarkConnect(b *testing.B) {
	_, addr := brokertest.Start(b, broker.Options{Logger: slog.New(slog.DiscardHandler)})
	var frame []byte
	ack := make([]byte, 4)
	bye, _ := packet.Append(nil, &packet.Disconnect{}, packet.V311)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		frame, _ = packet.Append(frame[:0], &packet.Connect{ClientID: "bench-" + strconv.Itoa(i), CleanStart: true, KeepAlive: 60}, packet.V311)
		if _, err := nc.Write(frame); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(nc, ack); err != nil || ack[0] != 0x20 || ack[3] != 0 {
			b.Fatalf("CONNACK % x: %v", ack, err)
		}
		nc.Write(bye)
		nc.Close()
	}
}
