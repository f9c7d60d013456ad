package broker_test

import (
	"fmt"
	"testing"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/packet"
)

// QoS 0 messages that every recipient got at once are recycled for the
// next publishes (session.Recycle). One that something keeps must never be:
// a session's queue (here behind an unacknowledged QoS 1 message), an
// in-process handler that runs later, the retained index. Later publishes
// churn the pool; what was kept must arrive unchanged.
func TestQoS0RecycledOnlyWhenNotKept(t *testing.T) {
	b, addr, _ := v3Broker(t, broker.Options{MaxInflight: 1})
	keeper, _ := v3Session(t, addr, packet.V311, "rc-keeper", true)
	v3SubscribeOK(t, keeper, "rc/#", 1)

	handled := make(chan string, 1000)
	unsubscribe, err := b.Subscribe("rc/q/#", func(_ string, payload []byte, _ bool) {
		handled <- string(payload)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unsubscribe()
	live, _ := v3Session(t, addr, packet.V311, "rc-live", true)
	v3SubscribeOK(t, live, "rc/#", 0)

	pub, _ := v3Session(t, addr, packet.V311, "rc-pub", true)
	publish := func(topic, payload string, retain bool) {
		pub.Send(&packet.Publish{Topic: topic, Payload: []byte(payload), Retain: retain})
	}
	publish("rc/keep", "retained-1", true)
	v3ExpectPublish(t, keeper, "rc/keep", "retained-1")
	pub.Send(&packet.Publish{Topic: "rc/first", QoS: 1, PacketID: 1, Payload: []byte("fills the window")})
	v3ExpectAck(t, pub, packet.PUBACK, 1)
	first := v3ExpectPublish(t, keeper, "rc/first", "fills the window") // not acknowledged yet
	pub.Send(&packet.Publish{Topic: "rc/second", QoS: 1, PacketID: 2, Payload: []byte("queued")})
	v3ExpectAck(t, pub, packet.PUBACK, 2) // the window is full: it queues, and QoS 0 queues behind it
	const n = 200
	for i := range n {
		publish("rc/q/t", fmt.Sprintf("queued-%03d", i), false)
	}
	for i := range n { // only the keeper's queue keeps these
		publish("rc/churn", fmt.Sprintf("churn-%03d", i), false)
	}
	for i := range 2 * n { // nobody keeps these: they are recycled and reused
		publish("nobody/listens", fmt.Sprintf("reused-%03d", i), false)
	}
	v3Ping(t, pub) // every publish above is routed

	got := 0
	for got < 3+2*n {
		got += len(v3Ping(t, live))
	}
	for i := range n {
		if want, p := fmt.Sprintf("queued-%03d", i), <-handled; p != want {
			t.Fatalf("in-process handler got %q, want %q", p, want)
		}
	}
	keeper.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: first.PacketID})
	v3ExpectPublish(t, keeper, "rc/second", "queued")
	for i := range n {
		v3ExpectPublish(t, keeper, "rc/q/t", fmt.Sprintf("queued-%03d", i))
	}
	for i := range n {
		v3ExpectPublish(t, keeper, "rc/churn", fmt.Sprintf("churn-%03d", i))
	}
	late, _ := v3Session(t, addr, packet.V311, "rc-late", true)
	v3SubscribeOK(t, late, "rc/keep", 0)
	v3ExpectPublish(t, late, "rc/keep", "retained-1")
}
