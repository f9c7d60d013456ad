package broker_test

import (
	"context"
	"testing"
	"time"

	paho "github.com/eclipse/paho.golang/paho"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
)

func TestSmokeV5PubSub(t *testing.T) {
	_, addr := brokertest.Start(t, broker.Options{})
	sub, msgs := brokertest.ConnectV5(t, addr, &paho.Connect{ClientID: "sub", CleanStart: true})
	ctx := context.Background()
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "a/+", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	pub, _ := brokertest.ConnectV5(t, addr, &paho.Connect{ClientID: "pub", CleanStart: true})
	if _, err := pub.Publish(ctx, &paho.Publish{Topic: "a/b", QoS: 1, Payload: []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-msgs:
		if m.Topic != "a/b" || string(m.Payload) != "hello" || m.QoS != 1 {
			t.Fatalf("got %+v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
	}
}

func TestSmokeV311PubSub(t *testing.T) {
	_, addr := brokertest.Start(t, broker.Options{})
	c := brokertest.ConnectV3(t, addr, "v3sub", packet.V311)
	c.Sub(t, "x/#", 2)
	c.Pub(t, "x/y", 2, false, "q2")
	if m := c.Next(t); m.Topic() != "x/y" || string(m.Payload()) != "q2" || m.Qos() != 2 {
		t.Fatalf("got %s %s %d", m.Topic(), m.Payload(), m.Qos())
	}
}
