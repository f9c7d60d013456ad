package sys

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	paho "github.com/eclipse/paho.golang/paho"
	"go.uber.org/goleak"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// wait bounds every wait for a value.
const wait = 5 * time.Second

// fast is the publishing interval of the end-to-end tests.
const fast = 50 * time.Millisecond

func TestLoadMatchesMosquitto(t *testing.T) {
	for _, c := range []struct {
		old    float64
		delta  uint64
		dt, w  time.Duration
		want   string
		reason string
	}{
		// 60 in a minute is a rate of 60/min; e = exp(-1) = 0.367879;
		// 60*(1-e) = 37.927.
		{0, 60, time.Minute, time.Minute, "37.93", "a minute's growth, 1min window"},
		// Nothing more: 37.927*e = 13.953.
		{37.92723352971346, 0, time.Minute, time.Minute, "13.95", "decay over a minute"},
		// 100 in 10s is 600/min; e = exp(-10/300) = 0.967216;
		// 600*(1-e) = 19.670.
		{0, 100, 10 * time.Second, 5 * time.Minute, "19.67", "10s interval, 5min window"},
		// 10*exp(-10/900) = 9.8895.
		{10, 0, 10 * time.Second, 15 * time.Minute, "9.89", "decay over 10s, 15min window"},
		// 5 in 10s is 30/min; 30 + exp(-1/6)*(5-30) = 8.838.
		{5, 5, 10 * time.Second, time.Minute, "8.84", "steady rate from a lower load"},
	} {
		if got := fmt.Sprintf("%.2f", load(c.old, c.delta, c.dt, c.w)); got != c.want {
			t.Errorf("%s: load(%v, %d, %v, %v) = %s, want %s", c.reason, c.old, c.delta, c.dt, c.w, got, c.want)
		}
	}
}

// allTopics is the tree, as published on the first round.
var allTopics = []string{
	"version", "uptime",
	"clients/total", "clients/maximum", "clients/disconnected", "clients/inactive",
	"clients/connected", "clients/active",
	"messages/stored", "store/messages/count", "subscriptions/count", "retained messages/count",
	"heap/current", "heap/maximum",
	"messages/received", "messages/sent", "bytes/received", "bytes/sent",
	"publish/bytes/received", "publish/bytes/sent",
	"publish/messages/dropped", "publish/messages/received", "publish/messages/sent",
}

func TestTreeFirstRoundPublishesEverything(t *testing.T) {
	tr := newTree("1.0.0")
	s := sample{uptime: 3500 * time.Millisecond, connected: 2, disconnected: 1, stored: 7,
		subscriptions: 4, retained: 5, heap: 1 << 20, received: 10, sent: 20, dropped: 1,
		pubBytesIn: 100, pubBytesOut: 200, netIn: 1000, netOut: 2000, sockets: 3, connects: 3}
	got := map[string]string{}
	var order []string
	for _, v := range tr.update(time.Now(), s) {
		got[v.topic] = v.payload
		order = append(order, v.topic)
	}
	want := map[string]string{
		"version": "baram 1.0.0", "uptime": "3 seconds",
		"clients/total": "3", "clients/maximum": "2", "clients/disconnected": "1",
		"clients/inactive": "1", "clients/connected": "2", "clients/active": "2",
		"messages/stored": "7", "store/messages/count": "7", "subscriptions/count": "4",
		"retained messages/count": "5", "heap/current": "1048576", "heap/maximum": "1048576",
		"messages/received": "10", "messages/sent": "20", "bytes/received": "1000", "bytes/sent": "2000",
		"publish/bytes/received": "100", "publish/bytes/sent": "200",
		"publish/messages/dropped": "1", "publish/messages/received": "10", "publish/messages/sent": "20",
	}
	for _, l := range []string{"messages/received", "messages/sent", "publish/dropped", "publish/received",
		"publish/sent", "bytes/received", "bytes/sent", "sockets", "connections"} {
		for _, w := range []string{"1min", "5min", "15min"} {
			want["load/"+l+"/"+w] = "0.00" // no interval yet: zero, as Mosquitto starts
		}
	}
	if len(got) != len(want) || len(order) != len(want) {
		t.Errorf("%d values (%d distinct), want %d", len(order), len(got), len(want))
	}
	for topic, p := range want {
		if g, ok := got["$SYS/broker/"+topic]; !ok || g != p {
			t.Errorf("%s = %q (present %v), want %q", topic, g, ok, p)
		}
	}
	for _, topic := range allTopics {
		if _, ok := want[topic]; !ok {
			t.Errorf("allTopics lists %s, which is not published", topic)
		}
	}
}

// publishAll marks every value published and returns them by topic.
func publishAll(tr *tree, vs []value) map[string]string {
	out := map[string]string{}
	for _, v := range vs {
		tr.published(v)
		out[v.topic[len("$SYS/broker/"):]] = v.payload
	}
	return out
}

func TestTreePublishesOnlyChanges(t *testing.T) {
	tr := newTree("1.0.0")
	t0 := time.Now()
	s := sample{uptime: 5 * time.Second, connected: 1, received: 50, heap: 1000}
	publishAll(tr, tr.update(t0, s))

	// The same figures within the same second: nothing to publish.
	s.uptime += 400 * time.Millisecond
	if vs := tr.update(t0, s); len(vs) != 0 {
		t.Fatalf("unchanged figures published again: %v", vs)
	}

	// Ten seconds later, 100 more messages received and a smaller heap.
	s.uptime += 10 * time.Second
	s.received += 100
	s.heap = 500
	got := publishAll(tr, tr.update(t0.Add(10*time.Second), s))
	want := map[string]string{
		"uptime":            "15 seconds",
		"messages/received": "150", "publish/messages/received": "150",
		"heap/current": "500", // heap/maximum stays 1000: unchanged, not sent
		// 600/min: 1min 600*(1-exp(-1/6)) = 92.11, 5min 19.67,
		// 15min 600*(1-exp(-1/90)) = 6.63.
		"load/messages/received/1min": "92.11", "load/messages/received/5min": "19.67",
		"load/messages/received/15min": "6.63",
		"load/publish/received/1min":   "92.11", "load/publish/received/5min": "19.67",
		"load/publish/received/15min": "6.63",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("published\n%v\nwant\n%v", got, want)
	}

	// A failed publish is offered again next round.
	s.uptime += 10 * time.Second
	vs := tr.update(t0.Add(20*time.Second), s)
	i := slices.IndexFunc(vs, func(v value) bool { return v.topic == "$SYS/broker/uptime" })
	if i < 0 {
		t.Fatalf("uptime not offered: %v", vs)
	}
	for _, v := range vs {
		if v.topic != "$SYS/broker/uptime" {
			tr.published(v)
		}
	}
	vs = tr.update(t0.Add(20*time.Second), s)
	if len(vs) != 1 || vs[0].payload != "25 seconds" {
		t.Fatalf("after a failed uptime publish, offered %v", vs)
	}
}

func TestTreeMaximumsOnlyGrow(t *testing.T) {
	tr := newTree("1.0.0")
	t0 := time.Now()
	for i, c := range []struct {
		connected int
		heap      uint64
		wantMax   string
		wantHeap  string
	}{
		{3, 300, "3", "300"},
		{5, 100, "5", "300"},
		{1, 200, "5", "300"},
	} {
		got := publishAll(tr, tr.update(t0.Add(time.Duration(i)*time.Second), sample{connected: c.connected, heap: c.heap}))
		if _, sent := got["clients/maximum"]; sent != (i < 2) {
			t.Errorf("round %d: clients/maximum published %v, want %v", i, sent, i < 2)
		}
		if _, sent := got["heap/maximum"]; sent != (i == 0) {
			t.Errorf("round %d: heap/maximum published %v, want %v", i, sent, i == 0)
		}
		if tr.last["$SYS/broker/clients/maximum"] != c.wantMax || tr.last["$SYS/broker/heap/maximum"] != c.wantHeap {
			t.Errorf("round %d: clients/maximum %s, heap/maximum %s; want %s, %s", i,
				tr.last["$SYS/broker/clients/maximum"], tr.last["$SYS/broker/heap/maximum"], c.wantMax, c.wantHeap)
		}
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{}.withDefaults()
	if o.Interval != DefaultInterval || o.Logger == nil {
		t.Fatalf("defaults %+v", o)
	}
	if o := (Options{Interval: -time.Second}).withDefaults(); o.Interval != DefaultInterval {
		t.Fatalf("negative interval became %v", o.Interval)
	}
	if o := (Options{Interval: time.Second}).withDefaults(); o.Interval != time.Second {
		t.Fatalf("interval became %v", o.Interval)
	}
}

// start runs a broker and a publisher for one test; the publisher stops
// before the broker shuts down.
func start(t *testing.T, interval time.Duration, version string) (*broker.Broker, string, *Publisher) {
	t.Helper()
	b, addr := brokertest.Start(t, broker.Options{})
	p := Start(b, Options{Interval: interval, Version: version})
	t.Cleanup(p.Stop)
	return b, addr, p
}

// watcher keeps the latest message of every $SYS topic a client receives.
type watcher struct {
	t      *testing.T
	msgs   chan *paho.Publish
	latest map[string]*paho.Publish
}

func watch(t *testing.T, addr, id, filter string) *watcher {
	t.Helper()
	msgs := brokertest.SubscriberV5(t, addr, id, filter, 0)
	return &watcher{t: t, msgs: msgs, latest: map[string]*paho.Publish{}}
}

// waitFor reads messages until topic's latest payload satisfies ok, and
// returns it.
func (w *watcher) waitFor(topic string, what string, ok func(string) bool) *paho.Publish {
	w.t.Helper()
	timeout := time.After(wait)
	for {
		if m := w.latest[topic]; m != nil && ok(string(m.Payload)) {
			return m
		}
		select {
		case m := <-w.msgs:
			w.latest[m.Topic] = m
		case <-timeout:
			got := "nothing"
			if m := w.latest[topic]; m != nil {
				got = fmt.Sprintf("%q", m.Payload)
			}
			w.t.Fatalf("%s: got %s, want %s", topic, got, what)
			return nil
		}
	}
}

func (w *watcher) waitIs(topic, payload string) *paho.Publish {
	w.t.Helper()
	return w.waitFor(topic, fmt.Sprintf("%q", payload), func(p string) bool { return p == payload })
}

func TestSysOverMQTT(t *testing.T) {
	_, addr, _ := start(t, fast, "1.2.3")
	w := watch(t, addr, "watcher", "$SYS/#")

	w.waitIs("$SYS/broker/version", "baram 1.2.3")
	w.waitFor("$SYS/broker/uptime", `"<n> seconds"`, regexp.MustCompile(`^[0-9]+ seconds$`).MatchString)
	w.waitIs("$SYS/broker/clients/connected", "1") // the watcher
	w.waitIs("$SYS/broker/clients/active", "1")
	w.waitIs("$SYS/broker/subscriptions/count", "1")
	w.waitFor("$SYS/broker/heap/current", "a positive integer", func(p string) bool {
		n, err := strconv.ParseUint(p, 10, 64)
		return err == nil && n > 0
	})
	// After a second of rounds, the $SYS messages themselves have not
	// been counted as received.
	w.waitFor("$SYS/broker/uptime", "a second or more", func(p string) bool { return p != "0 seconds" })
	if m := w.latest["$SYS/broker/messages/received"]; m == nil || string(m.Payload) != "0" {
		t.Fatalf("messages/received not \"0\" before any client published: %+v", m)
	}

	pub, _ := brokertest.ConnectV5(t, addr, &paho.Connect{ClientID: "publisher", CleanStart: true})
	w.waitIs("$SYS/broker/clients/connected", "2")
	w.waitIs("$SYS/broker/clients/total", "2")
	w.waitIs("$SYS/broker/clients/maximum", "2")
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for i := range 3 {
		if _, err := pub.Publish(ctx, &paho.Publish{Topic: "t/x", QoS: 1, Payload: []byte(fmt.Sprint("m", i))}); err != nil {
			t.Fatal(err)
		}
	}
	w.waitIs("$SYS/broker/messages/received", "3")
	w.waitIs("$SYS/broker/publish/messages/received", "3")
	w.waitIs("$SYS/broker/publish/bytes/received", "6")
	w.waitFor("$SYS/broker/load/messages/received/1min", "a load above zero", func(p string) bool {
		f, err := strconv.ParseFloat(p, 64)
		return err == nil && f > 0
	})
	w.waitFor("$SYS/broker/bytes/received", "bytes read", func(p string) bool {
		n, err := strconv.ParseUint(p, 10, 64)
		return err == nil && n > 0
	})
}

// waitRetained polls until the broker holds a retained message on topic.
func waitRetained(t *testing.T, b *broker.Broker, topic string) broker.RetainedMessage {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		if m, ok := b.Retained(topic); ok {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no retained message on %s", topic)
		}
		time.Sleep(time.Millisecond) // poll interval, bounded by the deadline
	}
}

func TestLateSubscriberGetsRetainedValues(t *testing.T) {
	// One round only (the interval is long): whatever a subscriber gets
	// must be the retained values of that round.
	b, addr, _ := start(t, time.Hour, "1.2.3")
	waitRetained(t, b, "$SYS/broker/load/connections/15min") // the last topic of the round

	w := watch(t, addr, "late", "$SYS/broker/#")
	for _, topic := range allTopics {
		m := w.waitFor("$SYS/broker/"+topic, "a retained value", func(string) bool { return true })
		if !m.Retain {
			t.Errorf("%s arrived without the retain flag", topic)
		}
	}
	if p := string(w.latest["$SYS/broker/version"].Payload); p != "baram 1.2.3" {
		t.Errorf("version %q", p)
	}
	if p := string(w.latest["$SYS/broker/clients/connected"].Payload); p != "0" {
		t.Errorf("clients/connected %q at the only round, before any client", p)
	}
}

func TestClientsCannotPublishSys(t *testing.T) {
	b, addr, _ := start(t, time.Hour, "1.2.3")
	waitRetained(t, b, "$SYS/broker/version")

	c, _ := brokertest.ConnectV5(t, addr, &paho.Connect{ClientID: "forger", CleanStart: true})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	pr, err := c.Publish(ctx, &paho.Publish{Topic: "$SYS/broker/version", QoS: 1, Retain: true, Payload: []byte("forged")})
	if pr == nil || pr.ReasonCode != 0x87 {
		t.Fatalf("PUBACK %+v (err %v), want reason 0x87 Not authorized", pr, err)
	}
	if m, _ := b.Retained("$SYS/broker/version"); string(m.Payload) != "baram 1.2.3" {
		t.Fatalf("retained version %q after a client's publish", m.Payload)
	}
	w := watch(t, addr, "reader", "$SYS/broker/version")
	if m := w.waitFor("$SYS/broker/version", "the broker's value", func(string) bool { return true }); string(m.Payload) != "baram 1.2.3" {
		t.Fatalf("subscriber got version %q", m.Payload)
	}
}

func TestStopEndsThePublisher(t *testing.T) {
	b, _ := brokertest.Start(t, broker.Options{})
	p := Start(b, Options{Interval: time.Hour, Version: "x"})
	waitRetained(t, b, "$SYS/broker/version")
	stopped := make(chan struct{})
	go func() { p.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(wait):
		t.Fatal("Stop did not return")
	}
	p.Stop() // a second Stop returns at once
	// The goroutine is gone: TestMain's leak check would see it otherwise.
}
