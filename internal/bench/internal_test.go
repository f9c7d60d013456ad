package bench

import (
	"context"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
)

func TestHistogramQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	var all []int64
	for range 100000 {
		v := int64(r.ExpFloat64() * 2e6) // around 2ms
		all = append(all, v)
		h.Record(time.Duration(v))
	}
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := all[int(math.Ceil(q*float64(len(all))))-1]
		got := int64(h.Quantile(q))
		if diff := math.Abs(float64(got-exact)) / float64(exact); diff > 0.02 {
			t.Errorf("q%v = %d, exact %d (%.1f%% off)", q, got, exact, 100*diff)
		}
	}
	s := h.Summary()
	if s.Count != 100000 || s.MaxMs != float64(all[len(all)-1])/1e6 || s.MinMs != float64(all[0])/1e6 {
		t.Errorf("summary %+v", s)
	}
}

func TestHistogramBuckets(t *testing.T) {
	prev := -1
	for _, v := range []int64{0, 1, 63, 64, 65, 127, 128, 1000, 1 << 20, 1<<40 + 5, math.MaxInt64} {
		b := bucketOf(v)
		if b <= prev || b >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d after %d", v, b, prev)
		}
		prev = b
		if mid := bucketMid(b); v >= 64 && math.Abs(float64(mid-v))/float64(v) > 1.0/64 {
			t.Errorf("bucketMid(bucketOf(%d)) = %d", v, mid)
		}
	}
	var a, b Histogram
	a.Record(time.Millisecond)
	b.Record(3 * time.Millisecond)
	b.Record(-time.Second)
	a.Merge(&b)
	a.Merge(nil)
	if a.Count() != 3 || a.Quantile(1) != 3*time.Millisecond || a.Quantile(0) != 0 {
		t.Errorf("merged: count %d, max %v, min %v", a.Count(), a.Quantile(1), a.Quantile(0))
	}
	var empty Histogram
	if empty.Quantile(0.5) != 0 || empty.Summary() != (Percentiles{}) {
		t.Error("empty histogram not zero")
	}
}

func TestStampRoundTrip(t *testing.T) {
	p := filler(64)
	putStamp(p, stamp{run: 7, pub: 3, seq: 1 << 40, sent: -5})
	s, ok := readStamp(p)
	if !ok || s != (stamp{run: 7, pub: 3, seq: 1 << 40, sent: -5}) || p[63] != 'x' {
		t.Fatalf("%+v %v", s, ok)
	}
	if _, ok := readStamp(p[:PayloadHeader-1]); ok {
		t.Fatal("short payload read a stamp")
	}
}

func TestSeqSet(t *testing.T) {
	var s seqSet
	for _, seq := range []uint64{5, 0, 1000, 5, 64} {
		s.add(seq)
	}
	if s.n != 4 || s.max != 1000 || !s.has(64) || s.has(63) || s.has(1<<20) {
		t.Fatalf("%+v", s)
	}
}

// dial binds the source address it is given.
func TestDialBindsSource(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		buf := make([]byte, 64)
		_, _ = c.Read(buf) // the CONNECT
		_, _ = c.Write([]byte{0x20, 2, 0, 0})
		got <- c.RemoteAddr().(*net.TCPAddr).IP.String()
	}()
	target := &Target{Addr: ln.Addr().String(), Sources: []string{"127.0.0.9"}}
	srcs, err := target.check()
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := dial(context.Background(), target, srcs[0], &packet.Connect{ClientID: "x", CleanStart: true}, initialReadBuf)
	if err != nil {
		t.Fatal(err)
	}
	c.nc.Close()
	if ip := <-got; ip != "127.0.0.9" {
		t.Fatalf("connected from %s, want 127.0.0.9", ip)
	}
}

// parsePublish agrees with the codec, with and without MQTT 5
// properties (a property length of one and of two bytes).
func TestParsePublish(t *testing.T) {
	long := strings.Repeat("v", 200)
	for _, v := range []byte{packet.V311, packet.V5} {
		for _, qos := range []byte{0, 1, 2} {
			for _, user := range []string{"", "short", long} {
				p := &packet.Publish{Topic: "a/b/c", QoS: qos, Dup: qos > 0, Payload: []byte("payload")}
				if qos > 0 {
					p.PacketID = 0x1234
				}
				if user != "" {
					p.Props.User = []packet.UserProperty{{Key: "k", Value: user}}
					p.Props.SubscriptionIDs = []uint32{300}
				}
				frame := packet.AppendPublish(nil, p, v)
				h, err := packet.ParseFixedHeader(frame)
				if err != nil {
					t.Fatal(err)
				}
				d, err := parsePublish(h, frame[h.HeaderLen:], v)
				if err != nil || d.qos != qos || d.dup != p.Dup || d.id != p.PacketID || string(d.payload) != "payload" {
					t.Errorf("v%d QoS %d user %d bytes: %+v, %v", v, qos, len(user), d, err)
				}
			}
		}
	}
	bad := []struct {
		flags byte
		body  []byte
	}{
		{0x06, []byte{0, 1, 'a', 0, 1}},        // QoS 3
		{0x00, []byte{0}},                      // no topic length
		{0x02, []byte{0, 1, 'a', 0}},           // no packet id
		{0x02, []byte{0, 1, 'a', 0, 0}},        // packet id 0
		{0x00, []byte{0, 9, 'a'}},              // topic past the end
		{0x00, []byte{0, 1, 'a', 0x80, 0x80}},  // v5 property length cut short
		{0x00, []byte{0, 1, 'a', 5, 'x', 'y'}}, // v5 properties past the end
	}
	for i, b := range bad {
		h := packet.FixedHeader{Type: packet.PUBLISH, Flags: b.flags}
		if d, err := parsePublish(h, b.body, packet.V5); err == nil {
			t.Errorf("bad PUBLISH %d parsed: %+v", i, d)
		}
	}
}

// A broker that stops reading cannot hold a run past its end: the write
// still blocked StopGrace after it is abandoned, and its connection closed.
func TestBlockedWriteAbandoned(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 256)
		_, _ = c.Read(buf)                    // the CONNECT
		_, _ = c.Write([]byte{0x20, 2, 0, 0}) // CONNACK, then never read again
		accepted <- c
	}()
	start := time.Now()
	pr, err := Pub(context.Background(), PubConfig{Target: Target{Addr: ln.Addr().String()},
		QoS: 0, Window: 1000, PayloadSize: 1000, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	(<-accepted).Close()
	took := time.Since(start)
	if took > 200*time.Millisecond+StopGrace+time.Second || pr.Abandoned != 1 || len(pr.Errors) != 0 || pr.Sent == 0 {
		t.Fatalf("took %v: abandoned %d, sent %d, errors %v", took, pr.Abandoned, pr.Sent, pr.Errors)
	}
	// The rate counts the time blocked: sending ended when the write was
	// abandoned, not at the last write that completed.
	if pr.Elapsed < (200*time.Millisecond + StopGrace).Seconds() {
		t.Errorf("elapsed %vs, rate %v: the blocked second is not counted", pr.Elapsed, pr.Rate)
	}
}
