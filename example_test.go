package baram_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/baram-mqtt/baram"
)

// Embed a broker, subscribe in process, and see a message a network client
// publishes.
func Example() {
	b, err := baram.New(baram.Options{AllowAnonymous: true})
	if err != nil {
		panic(err)
	}
	defer b.Close(context.Background())
	addr, err := b.Listen("127.0.0.1:0")
	if err != nil {
		panic(err)
	}

	got := make(chan baram.Message, 1)
	unsubscribe, err := b.Subscribe("sensors/+/temp", func(m baram.Message) { got <- m })
	if err != nil {
		panic(err)
	}
	defer unsubscribe()

	// A network client: a bare MQTT 3.1.1 CONNECT, then a QoS 0 PUBLISH.
	nc, err := net.Dial("tcp", addr.String())
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	nc.Write([]byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 1, 'c'})
	nc.Write(append([]byte{0x30, 21, 0, 14}, "sensors/a/temp21.5C"...))

	select {
	case m := <-got:
		fmt.Printf("%s: %s\n", m.Topic, m.Payload)
	case <-time.After(5 * time.Second):
		fmt.Println("timed out")
	}

	// In-process publishing reaches network and in-process subscribers alike.
	b.Publish("sensors/b/temp", []byte("19.0C"), 0, false)
	m := <-got
	fmt.Printf("%s: %s\n", m.Topic, m.Payload)
	// Output:
	// sensors/a/temp: 21.5C
	// sensors/b/temp: 19.0C
}
