package broker_test

import (
	"context"
	"net"
	"testing"
	"time"

	paho "github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
)

// v5Client connects a paho.golang client; received messages go to the
// returned channel.
func v5Client(t *testing.T, addr, id string, clean bool) (*paho.Client, chan *paho.Publish) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	msgs := make(chan *paho.Publish, 100)
	c := paho.NewClient(paho.ClientConfig{
		Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			msgs <- pr.Packet
			return true, nil
		}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: clean, KeepAlive: 30})
	if err != nil {
		t.Fatalf("connect %s: %v (%+v)", id, err, ack)
	}
	t.Cleanup(func() { c.Disconnect(&paho.Disconnect{}); <-c.Done() })
	return c, msgs
}

func TestSmokeV5PubSub(t *testing.T) {
	_, addr := brokertest.Start(t, broker.Options{})
	sub, msgs := v5Client(t, addr, "sub", true)
	ctx := context.Background()
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "a/+", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	pub, _ := v5Client(t, addr, "pub", true)
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
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("v3sub").SetProtocolVersion(4)
	got := make(chan mqtt.Message, 10)
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	if tok := c.Subscribe("x/#", 2, func(_ mqtt.Client, m mqtt.Message) { got <- m }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	if tok := c.Publish("x/y", 2, false, "q2"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	select {
	case m := <-got:
		if m.Topic() != "x/y" || string(m.Payload()) != "q2" || m.Qos() != 2 {
			t.Fatalf("got %s %s %d", m.Topic(), m.Payload(), m.Qos())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
	}
}
