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

// $SYS figures are retained for subscribers but never written to the
// store, and are not counted as received messages.
func TestPublishSysIsRetainedInMemoryOnly(t *testing.T) {
	st := memstore.New()
	b, addr := brokertest.Start(t, broker.Options{Store: st})
	if err := b.PublishSys("$SYS/broker/uptime", []byte("5 seconds")); err != nil {
		t.Fatal(err)
	}
	if err := b.PublishSys("other/topic", []byte("x")); err == nil {
		t.Fatal("PublishSys accepted a topic outside $SYS")
	}
	if v, err := st.Get(store.RetainedKey("$SYS/broker/uptime")); err == nil || v != nil {
		t.Fatalf("$SYS value stored: %q, %v", v, err)
	}
	if n := b.Stats().MessagesReceived; n != 0 {
		t.Fatalf("%d messages received, want 0", n)
	}
	sub := brokertest.Dial(t, addr, packet.V311)
	sub.Connect(&packet.Connect{ClientID: "s", CleanStart: true, KeepAlive: 30})
	sub.Send(&packet.Subscribe{PacketID: 1, Subs: []packet.Subscription{{Filter: "$SYS/#"}}})
	brokertest.Expect[*packet.Suback](sub)
	p := brokertest.Expect[*packet.Publish](sub)
	if p.Topic != "$SYS/broker/uptime" || string(p.Payload) != "5 seconds" || !p.Retain {
		t.Fatalf("got %+v", p)
	}
}

// The admin read side sees clients, their subscriptions and queues, and
// an administrative disconnect closes the connection (v5: 0x98).
func TestClientsAndDisconnect(t *testing.T) {
	b, addr := brokertest.Start(t, broker.Options{})
	c := brokertest.Dial(t, addr, packet.V5)
	c.Connect(&packet.Connect{ClientID: "watched", CleanStart: true, KeepAlive: 30, Username: "u", HasUsername: true})
	c.Send(&packet.Subscribe{PacketID: 1, Subs: []packet.Subscription{{Filter: "a/+", QoS: 1}}})
	brokertest.Expect[*packet.Suback](c)

	ci, ok := b.Client("watched")
	if !ok || !ci.Connected || ci.ProtocolVersion != packet.V5 || ci.Address == "" || len(ci.Subscriptions) != 1 ||
		ci.Subscriptions[0].Filter != "a/+" || ci.Subscriptions[0].QoS != 1 || ci.ConnectedAt.IsZero() {
		t.Fatalf("client info %+v, %v", ci, ok)
	}
	if all := b.Clients(); len(all) != 1 || all[0].ClientID != "watched" {
		t.Fatalf("clients %+v", all)
	}
	if subs := b.Subscriptions(); len(subs) != 1 || subs[0].ClientID != "watched" {
		t.Fatalf("subscriptions %+v", subs)
	}
	if !b.Disconnect("watched") {
		t.Fatal("Disconnect reported the client offline")
	}
	d := brokertest.Expect[*packet.Disconnect](c)
	if d.ReasonCode != packet.AdministrativeAction {
		t.Fatalf("disconnect reason %#x, want 0x98", byte(d.ReasonCode))
	}
	c.ExpectClosed(5 * time.Second)
	if b.Disconnect("nobody") {
		t.Fatal("Disconnect of an unknown client reported success")
	}
}

// DeleteRetained removes a retained message without publishing anything.
func TestDeleteRetained(t *testing.T) {
	b, addr := brokertest.Start(t, broker.Options{})
	if err := b.Publish("r/one", []byte("v"), 1, true); err != nil {
		t.Fatal(err)
	}
	if got, err := b.RetainedMessages("r/#"); err != nil || len(got) != 1 || string(got[0].Payload) != "v" {
		t.Fatalf("retained %+v, %v", got, err)
	}
	sub := brokertest.Dial(t, addr, packet.V311)
	sub.Connect(&packet.Connect{ClientID: "s", CleanStart: true, KeepAlive: 30})
	sub.Send(&packet.Subscribe{PacketID: 1, Subs: []packet.Subscription{{Filter: "r/#"}}})
	brokertest.Expect[*packet.Suback](sub)
	if p := brokertest.Expect[*packet.Publish](sub); string(p.Payload) != "v" {
		t.Fatalf("retained on subscribe: %+v", p)
	}
	if ok, err := b.DeleteRetained("r/one"); !ok || err != nil {
		t.Fatalf("DeleteRetained: %v, %v", ok, err)
	}
	if _, ok := b.Retained("r/one"); ok {
		t.Fatal("retained message still there")
	}
	if ok, _ := b.DeleteRetained("r/one"); ok {
		t.Fatal("second delete reported a message")
	}
	// The next message the subscriber sees is this marker, not an empty
	// retained message announcing the deletion.
	if err := b.Publish("r/marker", []byte("m"), 0, false); err != nil {
		t.Fatal(err)
	}
	if p := brokertest.Expect[*packet.Publish](sub); p.Topic != "r/marker" {
		t.Fatalf("after delete the subscriber got %+v", p)
	}
}
