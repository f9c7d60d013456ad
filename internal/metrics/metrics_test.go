package metrics

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// wait is how long a figure may take to reach its expected value.
const wait = 5 * time.Second

// scraper reads the text exposition of one handler.
type scraper struct {
	t   *testing.T
	url string
}

func newScraper(t *testing.T, b *broker.Broker, version string) *scraper {
	t.Helper()
	srv := httptest.NewServer(Handler(NewRegistry(b, version)))
	t.Cleanup(srv.Close)
	return &scraper{t: t, url: srv.URL}
}

// scrape returns the metric families the handler serves now.
func (s *scraper) scrape() map[string]*dto.MetricFamily {
	s.t.Helper()
	resp, err := http.Get(s.url)
	if err != nil {
		s.t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("scrape: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		s.t.Fatalf("parse exposition: %v", err)
	}
	return mfs
}

// value finds one series by name and label pairs ("k", "v", ...); ok is
// false when it is absent.
func value(mfs map[string]*dto.MetricFamily, name string, labels ...string) (v float64, ok bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// get returns one series' value now, failing when it is absent.
func (s *scraper) get(name string, labels ...string) float64 {
	s.t.Helper()
	v, ok := value(s.scrape(), name, labels...)
	if !ok {
		s.t.Fatalf("%s%v: not exposed", name, labels)
	}
	return v
}

// want polls until the series equals v: the broker updates some figures
// after the client has seen the effect (a socket closing, an ack).
func (s *scraper) want(v float64, name string, labels ...string) {
	s.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		got, ok := value(s.scrape(), name, labels...)
		if ok && got == v {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s%v = %v (exposed: %v), want %v", name, labels, got, ok, v)
		}
		time.Sleep(5 * time.Millisecond) // poll interval, bounded by the deadline
	}
}

// wantAbove polls until the series exceeds v and returns it.
func (s *scraper) wantAbove(v float64, name string, labels ...string) float64 {
	s.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		got, ok := value(s.scrape(), name, labels...)
		if ok && got > v {
			return got
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s%v = %v (exposed: %v), want more than %v", name, labels, got, ok, v)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConnectionsFollowClients(t *testing.T) {
	b, addr := brokertest.Start(t, broker.Options{})
	s := newScraper(t, b, "1.2.3-test")

	s.want(1, "baram_build_info", "version", "1.2.3-test")
	s.want(0, "baram_connections")
	s.want(0, "baram_listener_connections", "listener", addr)

	a, _ := brokertest.ConnectV5(t, addr, &paho.Connect{ClientID: "a", CleanStart: true})
	brokertest.ConnectV5(t, addr, &paho.Connect{ClientID: "b", CleanStart: true})
	s.want(2, "baram_connections")
	s.want(2, "baram_connections_accepted_total")
	s.want(2, "baram_connects_total")
	s.want(2, "baram_sessions", "state", "online")
	s.want(0, "baram_sessions", "state", "offline")
	s.want(2, "baram_listener_connections", "listener", addr)
	s.want(2, "baram_listener_connections_accepted_total", "listener", addr)

	a.Disconnect(&paho.Disconnect{})
	<-a.Done()
	s.want(1, "baram_connections")
	s.want(1, "baram_sessions", "state", "online")
	s.want(1, "baram_listener_connections", "listener", addr)
	s.want(2, "baram_listener_connections_accepted_total", "listener", addr)
	if up := s.get("baram_uptime_seconds"); up <= 0 || up > 60 {
		t.Fatalf("uptime %v s", up)
	}
}

func TestMessagesByQoS(t *testing.T) {
	b, addr := brokertest.Start(t, broker.Options{})
	s := newScraper(t, b, "test")
	sub, msgs := brokertest.ConnectV5(t, addr, &paho.Connect{ClientID: "sub", CleanStart: true})
	brokertest.SubscribeV5(t, sub, "m/#", 2)
	pub, _ := brokertest.ConnectV5(t, addr, &paho.Connect{ClientID: "pub", CleanStart: true})
	s.want(1, "baram_subscriptions")

	in0 := s.get("baram_network_received_bytes_total")
	out0 := s.get("baram_network_sent_bytes_total")
	for q := range 3 {
		s.want(0, "baram_messages_received_total", "qos", fmt.Sprint(q))
		s.want(0, "baram_messages_sent_total", "qos", fmt.Sprint(q))
	}

	payloads := []string{"zero", "one-1", "two-22"} // 4, 5 and 6 bytes
	for q, p := range payloads {
		brokertest.PublishV5(t, pub, &paho.Publish{Topic: fmt.Sprintf("m/%d", q), QoS: byte(q), Payload: []byte(p)})
		if m := brokertest.Next(t, msgs); string(m.Payload) != p || m.QoS != byte(q) {
			t.Fatalf("got %q at QoS %d, want %q at %d", m.Payload, m.QoS, p, q)
		}
	}
	for q, p := range payloads {
		l := fmt.Sprint(q)
		s.want(1, "baram_messages_received_total", "qos", l)
		s.want(1, "baram_messages_sent_total", "qos", l)
		s.want(float64(len(p)), "baram_payload_received_bytes_total", "qos", l)
		s.want(float64(len(p)), "baram_payload_sent_bytes_total", "qos", l)
	}
	s.wantAbove(in0, "baram_network_received_bytes_total")
	s.wantAbove(out0, "baram_network_sent_bytes_total")
	s.want(0, "baram_inflight_messages") // the subscriber acknowledged everything

	// A retained message, and a second subscription.
	s.want(0, "baram_retained_messages")
	brokertest.PublishV5(t, pub, &paho.Publish{Topic: "r/1", QoS: 1, Retain: true, Payload: []byte("keep")})
	s.want(1, "baram_retained_messages")
	s.want(2, "baram_messages_received_total", "qos", "1")
	s.want(1, "baram_messages_sent_total", "qos", "1") // nobody subscribes to r/1
	brokertest.SubscribeV5(t, sub, "r/#", 1)
	s.want(2, "baram_subscriptions")
	if m := brokertest.Next(t, msgs); m.Topic != "r/1" || !m.Retain {
		t.Fatalf("got %+v, want the retained r/1", m)
	}
	s.want(2, "baram_messages_sent_total", "qos", "1")

	// Every durable write of a QoS 1 message with a retained copy went
	// through a store commit.
	if n := commitCount(t, s.scrape()); n < 1 {
		t.Fatalf("commit histogram count %d, want at least 1", n)
	}
}

// commitCount checks the live commit histogram's shape and returns its
// count.
func commitCount(t *testing.T, mfs map[string]*dto.MetricFamily) uint64 {
	t.Helper()
	mf := mfs["baram_store_commit_duration_seconds"]
	if mf == nil || mf.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("commit histogram: %v", mf)
	}
	h := mf.GetMetric()[0].GetHistogram()
	var prev uint64
	for _, b := range h.GetBucket() {
		if b.GetCumulativeCount() < prev {
			t.Fatalf("buckets not cumulative: %v", h.GetBucket())
		}
		prev = b.GetCumulativeCount()
	}
	if prev > h.GetSampleCount() {
		t.Fatalf("largest bucket %d above count %d", prev, h.GetSampleCount())
	}
	return h.GetSampleCount()
}

func TestQueuesAndDrops(t *testing.T) {
	b, addr := brokertest.Start(t, broker.Options{MaxQueuedMessages: 2})
	s := newScraper(t, b, "test")

	// A persistent session goes offline with a QoS 1 subscription.
	expiry := uint32(3600)
	keeper, _ := brokertest.ConnectV5(t, addr, &paho.Connect{ClientID: "keeper", CleanStart: true,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}})
	brokertest.SubscribeV5(t, keeper, "q/#", 1)
	keeper.Disconnect(&paho.Disconnect{})
	<-keeper.Done()
	s.want(1, "baram_sessions", "state", "offline")
	s.want(0, "baram_sessions", "state", "online")
	s.want(1, "baram_subscriptions")

	pub, _ := brokertest.ConnectV5(t, addr, &paho.Connect{ClientID: "pub", CleanStart: true})
	for i := range 3 {
		brokertest.PublishV5(t, pub, &paho.Publish{Topic: "q/x", QoS: 1, Payload: []byte{byte(i)}})
	}
	s.want(2, "baram_queued_messages")
	s.want(1, "baram_messages_dropped_total", "reason", "queue_full")

	// A client whose maximum packet size a message exceeds.
	maxSize := uint32(64)
	tiny, _ := brokertest.ConnectV5(t, addr, &paho.Connect{ClientID: "tiny", CleanStart: true,
		Properties: &paho.ConnectProperties{MaximumPacketSize: &maxSize}})
	brokertest.SubscribeV5(t, tiny, "big/#", 0)
	brokertest.PublishV5(t, pub, &paho.Publish{Topic: "big/x", QoS: 0, Payload: make([]byte, 200)})
	s.want(1, "baram_messages_dropped_total", "reason", "too_large")
	s.want(0, "baram_messages_dropped_total", "reason", "slow_consumer")
	s.want(0, "baram_messages_dropped_total", "reason", "expired")
	s.want(0, "baram_messages_sent_total", "qos", "0")
}

func TestRefusedBadCredentials(t *testing.T) {
	b, addr := brokertest.Start(t, broker.Options{Users: map[string]string{"alice": "secret"}, AllowAnonymous: true})
	s := newScraper(t, b, "test")
	for _, r := range refusals(broker.Snapshot{}) {
		s.want(0, "baram_connections_refused_total", "reason", r.reason)
	}

	// A 3.1.1 client with the wrong password: CONNACK return code 4.
	c, tok := brokertest.StartV3(addr, "mallory", 4, func(o *mqtt.ClientOptions) {
		o.SetUsername("alice").SetPassword("wrong")
	})
	if !tok.WaitTimeout(wait) {
		t.Fatal("CONNECT not answered")
	}
	if tok.Error() == nil {
		c.Disconnect(0)
		t.Fatal("CONNECT with a wrong password was accepted")
	}
	s.want(1, "baram_connections_refused_total", "reason", "bad_credentials")
	for _, r := range refusals(broker.Snapshot{}) {
		if r.reason != "bad_credentials" {
			s.want(0, "baram_connections_refused_total", "reason", r.reason)
		}
	}
	s.want(0, "baram_connects_total")

	// The right password is admitted and not counted as refused.
	brokertest.ConnectV5(t, addr, &paho.Connect{ClientID: "alice", CleanStart: true, Username: "alice", UsernameFlag: true,
		Password: []byte("secret"), PasswordFlag: true})
	s.want(1, "baram_connects_total")
	s.want(1, "baram_connections_refused_total", "reason", "bad_credentials")
	s.want(1, "baram_connections")
}

// lint is testutil.CollectAndLint / GatherAndLint without testutil,
// which needs github.com/kylelemons/godebug, a module go.mod does not
// list: gather (pedantically, for a lone collector) and run promlint.
func lint(t *testing.T, g prometheus.Gatherer) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestLint(t *testing.T) {
	b, _ := brokertest.Start(t, broker.Options{})
	pedantic := prometheus.NewPedanticRegistry()
	pedantic.MustRegister(newCollector(b, "test"))
	lint(t, pedantic)
	// And the whole registry, runtime and process collectors included.
	lint(t, NewRegistry(b, "test"))
}

func TestEveryMetricIsExposed(t *testing.T) {
	b, _ := brokertest.Start(t, broker.Options{})
	s := newScraper(t, b, "test")
	mfs := s.scrape()
	for _, name := range []string{
		"baram_connections", "baram_connections_accepted_total", "baram_connects_total",
		"baram_connections_refused_total", "baram_publish_rate_disconnects_total",
		"baram_flap_bans_total", "baram_auth_backoffs_total",
		"baram_messages_received_total", "baram_messages_sent_total",
		"baram_payload_received_bytes_total", "baram_payload_sent_bytes_total",
		"baram_network_received_bytes_total", "baram_network_sent_bytes_total",
		"baram_messages_dropped_total", "baram_retained_messages", "baram_subscriptions",
		"baram_sessions", "baram_queued_messages", "baram_inflight_messages",
		"baram_store_commit_duration_seconds", "baram_uptime_seconds", "baram_build_info",
		"baram_listener_connections", "baram_listener_connections_accepted_total",
		"go_goroutines", "process_start_time_seconds",
	} {
		if mfs[name] == nil {
			t.Errorf("%s not exposed", name)
		}
	}
	for name := range mfs {
		if strings.HasPrefix(name, "baram_") && mfs[name].GetHelp() == "" {
			t.Errorf("%s has no help", name)
		}
	}
}

func TestHandlerNegotiatesOpenMetrics(t *testing.T) {
	b, _ := brokertest.Start(t, broker.Options{})
	srv := httptest.NewServer(Handler(NewRegistry(b, "test")))
	defer srv.Close()
	req, err := http.NewRequest("GET", srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Fatalf("content type %q", ct)
	}
}

func TestCommitHistogramIsCumulative(t *testing.T) {
	// Per-bucket counts: 2 commits up to 100µs, 1 up to 250µs, 3 up to
	// 1ms, and 4 slower than the largest bound (1s).
	per := make([]uint64, len(broker.CommitBuckets)+1)
	per[0], per[1], per[3], per[len(per)-1] = 2, 1, 3, 4
	count, sum, buckets := commitHistogram(broker.Snapshot{CommitBuckets: per, CommitTime: 5500 * time.Millisecond})
	if count != 10 {
		t.Errorf("count %d, want 10", count)
	}
	if sum != 5.5 {
		t.Errorf("sum %v, want 5.5", sum)
	}
	want := map[float64]uint64{
		0.0001: 2, 0.00025: 3, 0.0005: 3, 0.001: 6, 0.0025: 6, 0.005: 6, 0.01: 6,
		0.025: 6, 0.05: 6, 0.1: 6, 0.25: 6, 1: 6,
	}
	if len(buckets) != len(want) {
		t.Fatalf("%d buckets, want %d: %v", len(buckets), len(want), buckets)
	}
	for le, n := range want {
		got, ok := findBucket(buckets, le)
		if !ok || got != n {
			t.Errorf("bucket le=%v: %d (present %v), want %d", le, got, ok, n)
		}
	}
}

func findBucket(buckets map[float64]uint64, le float64) (uint64, bool) {
	for k, v := range buckets {
		if math.Abs(k-le) < 1e-12 {
			return v, true
		}
	}
	return 0, false
}

func TestListenersWithOneNameMerge(t *testing.T) {
	got := listeners([]broker.ListenerStats{
		{Name: "tcp", Active: 2, Accepted: 5},
		{Name: "ws", Active: 1, Accepted: 1},
		{Name: "tcp", Active: 3, Accepted: 4},
	})
	want := []broker.ListenerStats{{Name: "tcp", Active: 5, Accepted: 9}, {Name: "ws", Active: 1, Accepted: 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
