package broker_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	paho "github.com/eclipse/paho.golang/paho"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
)

// MQTT 5 shared subscriptions (§4.8.2).

// Each message to a shared subscription goes to exactly one member of the
// group, round-robin here; every group gets every message, and so does a
// normal subscription to the same filter (§4.8.2).
func TestV5SharedSubscriptions(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	g1 := brokertest.SubscriberV5(t, addr, "g-1", "$share/g/sh/t", 1)
	g2 := brokertest.SubscriberV5(t, addr, "g-2", "$share/g/sh/t", 1)
	h := brokertest.SubscriberV5(t, addr, "h-1", "$share/h/sh/t", 1)
	plain := brokertest.SubscriberV5(t, addr, "plain", "sh/t", 1)
	c, _ := brokertest.ConnectV5(t, addr, &paho.Connect{ClientID: "sh-pub", CleanStart: true})

	const n = 10
	for i := range n {
		brokertest.PublishV5(t, c, &paho.Publish{Topic: "sh/t", QoS: 1, Payload: []byte(strconv.Itoa(i))})
	}
	// The group without competition and the normal subscriber get all, in order.
	for i := range n {
		v5NextIs(t, h, "sh/t", strconv.Itoa(i))
		v5NextIs(t, plain, "sh/t", strconv.Itoa(i))
	}
	// Group g: every message once, alternating between its two members.
	got := map[int]int{} // message -> member
	var per [2][]int
	for len(got) < n {
		var m *paho.Publish
		member := 0
		select {
		case m = <-g1:
		case m = <-g2:
			member = 1
		case <-v5After():
			t.Fatalf("group g received %d of %d messages", len(got), n)
		}
		i, err := strconv.Atoi(string(m.Payload))
		if err != nil || m.Topic != "sh/t" {
			t.Fatalf("group g got %q %q", m.Topic, m.Payload)
		}
		if prev, dup := got[i]; dup {
			t.Fatalf("message %d delivered to members %d and %d of one group", i, prev, member)
		}
		got[i] = member
		per[member] = append(per[member], i)
	}
	for member, msgs := range per {
		if len(msgs) != n/2 {
			t.Fatalf("member %d got %v: round-robin over 2 members gives %d each", member, msgs, n/2)
		}
		for _, i := range msgs {
			if i%2 != msgs[0]%2 {
				t.Fatalf("member %d got %v: not alternating", member, msgs)
			}
		}
	}
	// Nothing more in group g: two markers go one to each member next.
	for i := range 2 {
		brokertest.PublishV5(t, c, &paho.Publish{Topic: "sh/t", QoS: 1, Payload: []byte(fmt.Sprint("marker", i))})
	}
	a, b := brokertest.Next(t, g1), brokertest.Next(t, g2)
	if !strings.HasPrefix(string(a.Payload), "marker") || !strings.HasPrefix(string(b.Payload), "marker") {
		t.Fatalf("after the %d messages, members got %q and %q, want the markers", n, a.Payload, b.Payload)
	}
}
