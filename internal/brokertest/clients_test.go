package brokertest_test

import (
	"testing"

	paho "github.com/eclipse/paho.golang/paho"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
)

// TestClients passes a message each way between an MQTT 5 and a 3.1.1
// client, and sees the 3.1.1 client's connection lost when the broker
// shuts down.
func TestClients(t *testing.T) {
	_, addr := brokertest.Start(t, broker.Options{})
	v5msgs := brokertest.SubscriberV5(t, addr, "v5-sub", "to5/#", 1)
	v3 := brokertest.ConnectV3(t, addr, "v3", packet.V311)
	v3.Sub(t, "to3/#", 2)
	v5, _ := brokertest.ConnectV5(t, addr, &paho.Connect{ClientID: "v5-pub", CleanStart: true})

	v3.Pub(t, "to5/x", 1, false, "from 3")
	if m := brokertest.Next(t, v5msgs); m.Topic != "to5/x" || string(m.Payload) != "from 3" || m.QoS != 1 {
		t.Errorf("v5 got %+v", m)
	}
	brokertest.PublishV5(t, v5, &paho.Publish{Topic: "to3/y", QoS: 2, Payload: []byte("from 5")})
	if m := v3.Next(t); m.Topic() != "to3/y" || string(m.Payload()) != "from 5" || m.Qos() != 2 {
		t.Errorf("v3 got %s %q %d", m.Topic(), m.Payload(), m.Qos())
	}
	v3.Connected(t)
}

// TestV3Lost sees a 3.1.1 client's connection lost when its client id
// is taken over.
func TestV3Lost(t *testing.T) {
	_, addr := brokertest.Start(t, broker.Options{})
	first := brokertest.ConnectV3(t, addr, "same", packet.V311)
	brokertest.ConnectV3(t, addr, "same", packet.V311)
	if err := first.WaitLost(t); err == nil {
		t.Fatal("no error")
	}
}
