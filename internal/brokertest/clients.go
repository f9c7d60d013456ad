package brokertest

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	paho "github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// ClientWait bounds each wait of the client helpers: for a CONNACK, a
// SUBACK, an acknowledgement, a message or a lost connection.
const ClientWait = 10 * time.Second

// ConnectV5 connects a paho.golang (MQTT 5) client to addr with cp, whose
// KeepAlive becomes 30 s when zero, and fails the test unless the CONNECT
// succeeds. configure, when given, edits the client's configuration (for
// example OnServerDisconnect) before it connects. Messages the client
// receives arrive on the returned channel, large enough that a test never
// blocks the client. The client disconnects when the test ends.
func ConnectV5(t testing.TB, addr string, cp *paho.Connect, configure ...func(*paho.ClientConfig)) (*paho.Client, chan *paho.Publish) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	msgs := make(chan *paho.Publish, 10000)
	cc := paho.ClientConfig{
		Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			msgs <- pr.Packet
			return true, nil
		}},
	}
	for _, f := range configure {
		f(&cc)
	}
	c := paho.NewClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), ClientWait)
	defer cancel()
	if cp.KeepAlive == 0 {
		cp.KeepAlive = 30
	}
	if ack, err := c.Connect(ctx, cp); err != nil {
		t.Fatalf("connect %s: %v (%+v)", cp.ClientID, err, ack)
	}
	t.Cleanup(func() { c.Disconnect(&paho.Disconnect{}); <-c.Done() })
	return c, msgs
}

// SubscribeV5 subscribes a paho.golang client to filter and fails the
// test unless the broker grants qos.
func SubscribeV5(t testing.TB, c *paho.Client, filter string, qos byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ClientWait)
	defer cancel()
	ack, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}})
	if err != nil {
		t.Fatalf("subscribe %s: %v", filter, err)
	}
	if ack.Reasons[0] != qos {
		t.Fatalf("subscribe %s: reason 0x%02X, want %d", filter, ack.Reasons[0], qos)
	}
}

// SubscriberV5 connects a paho.golang client with a clean start and
// subscribes it to filter at qos; its messages arrive on the channel.
func SubscriberV5(t testing.TB, addr, id, filter string, qos byte) chan *paho.Publish {
	t.Helper()
	c, msgs := ConnectV5(t, addr, &paho.Connect{ClientID: id, CleanStart: true})
	SubscribeV5(t, c, filter, qos)
	return msgs
}

// PublishV5 publishes p with a paho.golang client and fails the test on
// an error. At QoS 1 and 2 it returns after the broker's acknowledgement,
// so the broker has routed the message by then.
func PublishV5(t testing.TB, c *paho.Client, p *paho.Publish) *paho.PublishResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ClientWait)
	defer cancel()
	r, err := c.Publish(ctx, p)
	if err != nil {
		t.Fatalf("publish %s: %v", p.Topic, err)
	}
	return r
}

// Next returns the next message on msgs, the channel of a client of this
// package, and fails the test when none arrives within ClientWait.
func Next[T any](t testing.TB, msgs chan T) T {
	t.Helper()
	select {
	case m := <-msgs:
		return m
	case <-time.After(ClientWait):
		t.Fatal("no message arrived")
		var zero T
		return zero
	}
}

// V3 is a paho.mqtt.golang (MQTT 3.1 or 3.1.1) client. Messages of
// subscriptions without a handler of their own arrive on Msgs; a lost
// connection is reported on Lost.
type V3 struct {
	mqtt.Client
	Msgs chan mqtt.Message
	Lost chan error
}

// StartV3 starts connecting a paho.mqtt.golang client speaking protocol
// level version (3 is 3.1, 4 is 3.1.1) with a clean session, no
// automatic reconnection and a keep alive of 30 s; configure may change
// any of that. It returns the client and the CONNECT token without
// waiting, for tests that expect the CONNECT to fail; nothing disconnects
// the client when the test ends.
func StartV3(addr, id string, version byte, configure ...func(*mqtt.ClientOptions)) (*V3, mqtt.Token) {
	c := &V3{Msgs: make(chan mqtt.Message, 1000), Lost: make(chan error, 1)}
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).
		SetProtocolVersion(uint(version)).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(ClientWait).SetKeepAlive(30 * time.Second).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { c.Msgs <- m }).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { c.Lost <- err })
	for _, f := range configure {
		f(opts)
	}
	c.Client = mqtt.NewClient(opts)
	return c, c.Connect()
}

// ConnectV3 is StartV3 that fails the test unless the CONNECT succeeds;
// the client disconnects when the test ends, if it is still connected.
func ConnectV3(t testing.TB, addr, id string, version byte, configure ...func(*mqtt.ClientOptions)) *V3 {
	t.Helper()
	c, tok := StartV3(addr, id, version, configure...)
	Token(t, "connect "+id, tok)
	t.Cleanup(func() {
		if c.IsConnectionOpen() {
			c.Disconnect(250)
		}
	})
	return c
}

// Token fails the test unless the paho.mqtt.golang token tok completes
// within ClientWait without an error; what names the operation.
func Token(t testing.TB, what string, tok mqtt.Token) {
	t.Helper()
	if !tok.WaitTimeout(ClientWait) {
		t.Fatalf("%s: timed out after %v", what, ClientWait)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Sub subscribes the client to filter at qos, its messages going to Msgs,
// and waits for the SUBACK.
func (c *V3) Sub(t testing.TB, filter string, qos byte) {
	t.Helper()
	Token(t, "subscribe "+filter, c.Subscribe(filter, qos, nil))
}

// Pub publishes payload to topic and, at QoS 1 and 2, waits for the
// broker's acknowledgement.
func (c *V3) Pub(t testing.TB, topic string, qos byte, retain bool, payload string) {
	t.Helper()
	Token(t, "publish "+topic, c.Publish(topic, qos, retain, payload))
}

// Next returns the next message on Msgs; it fails the test when the
// connection is lost first or nothing arrives within ClientWait.
func (c *V3) Next(t testing.TB) mqtt.Message {
	t.Helper()
	select {
	case m := <-c.Msgs:
		return m
	case err := <-c.Lost:
		t.Fatalf("connection lost while waiting for a message: %v", err)
	case <-time.After(ClientWait):
		t.Fatal("no message arrived")
	}
	return nil
}

// Connected fails the test if the client has lost its connection.
func (c *V3) Connected(t testing.TB) {
	t.Helper()
	select {
	case err := <-c.Lost:
		t.Fatalf("the client lost its connection: %v", err)
	default:
	}
	if !c.IsConnectionOpen() {
		t.Fatal("the client is not connected")
	}
}

// WaitLost waits for the client's connection-lost callback and returns
// its error; it fails the test when the callback does not come within
// ClientWait.
func (c *V3) WaitLost(t testing.TB) error {
	t.Helper()
	select {
	case err := <-c.Lost:
		if err == nil {
			err = errors.New("connection lost")
		}
		return err
	case <-time.After(ClientWait):
		t.Fatal("the client's connection-lost callback did not fire")
		return nil
	}
}
