package admin

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
)

type clientPage struct {
	Total  int            `json:"total"`
	Limit  int            `json:"limit"`
	Offset int            `json:"offset"`
	Items  []clientDetail `json:"items"`
}

func (e *env) clients(t *testing.T, query string) clientPage {
	t.Helper()
	var p clientPage
	e.expect(t, http.StatusOK, "GET", "/api/v1/clients"+query, "", bearer(readToken)).json(t, &p)
	return p
}

func ids(p clientPage) string {
	var s []string
	for _, c := range p.Items {
		s = append(s, c.ClientID)
	}
	return strings.Join(s, ",")
}

func TestClientsSearchAndPagination(t *testing.T) {
	e := start(t, withCredentials(t))
	v3Client(t, e.brokerAddr, "sensor-1", "", true)
	v3Client(t, e.brokerAddr, "sensor-2", "", true)
	v3Client(t, e.brokerAddr, "Sensor-3", "", true)
	v3Client(t, e.brokerAddr, "pump-1", "carol", true)
	gone := v3Client(t, e.brokerAddr, "pump-2", "", false) // persistent: stays as an offline session
	gone.Disconnect(100)
	// The client returns once its DISCONNECT is written; wait for the
	// broker to have handled it.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if c, ok := e.b.Client("pump-2"); ok && !c.Connected {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("pump-2 still connected 10s after its DISCONNECT")
		}
	}

	for _, tc := range []struct{ query, want string }{
		{"", "Sensor-3,pump-1,pump-2,sensor-1,sensor-2"},
		{"?search=sensor", "Sensor-3,sensor-1,sensor-2"},           // case-insensitive
		{"?search=CAROL", "pump-1"},                                // username
		{"?search=127.0.0.1", "Sensor-3,pump-1,sensor-1,sensor-2"}, // address; offline sessions have none
		{"?connected=false", "pump-2"},
		{"?connected=true&search=pump", "pump-1"},
		{"?limit=2", "Sensor-3,pump-1"},
		{"?limit=2&offset=2", "pump-2,sensor-1"},
		{"?limit=2&offset=4", "sensor-2"},
		{"?offset=5", ""},
		{"?offset=500", ""},
		{"?search=nothing-matches", ""},
	} {
		p := e.clients(t, tc.query)
		if got := ids(p); got != tc.want {
			t.Errorf("clients%s: %q, want %q", tc.query, got, tc.want)
		}
		if p.Items == nil {
			t.Errorf("clients%s: items is null, want []", tc.query)
		}
	}
	if p := e.clients(t, "?limit=2&offset=4"); p.Total != 5 || p.Limit != 2 || p.Offset != 4 {
		t.Errorf("page: total %d limit %d offset %d, want 5 2 4", p.Total, p.Limit, p.Offset)
	}
	if p := e.clients(t, "?search=sensor&limit=1"); p.Total != 3 || len(p.Items) != 1 {
		t.Errorf("search page: total %d items %d, want 3 and 1", p.Total, len(p.Items))
	}
	for _, q := range []string{"?limit=0", "?limit=1001", "?limit=x", "?limit=-1", "?offset=-1", "?offset=1.5", "?connected=maybe"} {
		e.expect(t, http.StatusBadRequest, "GET", "/api/v1/clients"+q, "", bearer(readToken)).errorMessage(t)
	}
}

func TestClientDetail(t *testing.T) {
	e := start(t, withCredentials(t))
	c := v3Client(t, e.brokerAddr, "dev/1 ü", "dave", true)
	c.Sub(t, "cmd/#", 1)
	c.Sub(t, "status/+", 0)

	var d clientDetail
	e.expect(t, http.StatusOK, "GET", "/api/v1/clients/"+url.PathEscape("dev/1 ü"), "", basic(readUser, readPass)).json(t, &d)
	if d.ClientID != "dev/1 ü" || d.Username != "dave" || !d.Connected || d.ProtocolVersion != 4 || d.Protocol != "3.1.1" ||
		!strings.HasPrefix(d.Address, "127.0.0.1:") || d.ConnectedAt == nil || d.DisconnectedAt != nil || d.KeepAlive != 30 ||
		d.SubscriptionCount != 2 || d.Queued != 0 || d.Inflight != 0 || d.Dropped != 0 {
		t.Errorf("client: %+v", d.client)
	}
	if len(d.Subscriptions) != 2 || d.Subscriptions[0].Filter != "cmd/#" || d.Subscriptions[0].QoS != 1 ||
		d.Subscriptions[1].Filter != "status/+" || d.Subscriptions[1].ClientID != "dev/1 ü" {
		t.Errorf("subscriptions: %+v", d.Subscriptions)
	}
	r := e.expect(t, http.StatusNotFound, "GET", "/api/v1/clients/nobody", "", bearer(readToken))
	if msg := r.errorMessage(t); !strings.Contains(msg, `"nobody"`) {
		t.Errorf("404 error %q", msg)
	}
}

// Disconnect closes the client's connection: its connection-lost callback
// fires. The session of a persistent client stays, offline.
func TestDisconnect(t *testing.T) {
	e := start(t, withCredentials(t))
	victim := v3Client(t, e.brokerAddr, "victim", "", false)
	bystander := v3Client(t, e.brokerAddr, "bystander", "", true)

	e.expect(t, http.StatusOK, "POST", "/api/v1/clients/victim/disconnect", "", bearer(adminToken))
	victim.WaitLost(t)
	select {
	case err := <-bystander.Lost:
		t.Fatalf("the other client lost its connection too: %v", err)
	default:
	}
	// The broker may finish its side of the close just after the client's
	// callback fired: poll (no sleep) until the session is offline.
	var d clientDetail
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); {
		d = clientDetail{}
		e.expect(t, http.StatusOK, "GET", "/api/v1/clients/victim", "", bearer(adminToken)).json(t, &d)
		if !d.Connected {
			break
		}
	}
	if d.Connected || d.DisconnectedAt == nil {
		t.Fatalf("after disconnect: %+v", d.client)
	}
	e.expect(t, http.StatusConflict, "POST", "/api/v1/clients/victim/disconnect", "", bearer(adminToken)).errorMessage(t)
	e.expect(t, http.StatusNotFound, "POST", "/api/v1/clients/nobody/disconnect", "", bearer(adminToken)).errorMessage(t)
	e.expect(t, http.StatusForbidden, "POST", "/api/v1/clients/bystander/disconnect", "", bearer(readToken))
}

func TestSubscriptions(t *testing.T) {
	e := start(t, withCredentials(t))
	a := v3Client(t, e.brokerAddr, "a", "", true)
	b := v3Client(t, e.brokerAddr, "b", "", true)
	a.Sub(t, "home/+/temp", 0)
	a.Sub(t, "office/#", 1)
	b.Sub(t, "home/kitchen/temp", 2)

	get := func(q string) string {
		t.Helper()
		var p page[subscription]
		e.expect(t, http.StatusOK, "GET", "/api/v1/subscriptions"+q, "", bearer(readToken)).json(t, &p)
		var s []string
		for _, it := range p.Items {
			s = append(s, fmt.Sprintf("%s:%s:%d", it.ClientID, it.Filter, it.QoS))
		}
		return fmt.Sprintf("%d %s", p.Total, strings.Join(s, ","))
	}
	for q, want := range map[string]string{
		"":                      "3 a:home/+/temp:0,a:office/#:1,b:home/kitchen/temp:2",
		"?client=a":             "2 a:home/+/temp:0,a:office/#:1",
		"?filter=home":          "2 a:home/+/temp:0,b:home/kitchen/temp:2",
		"?client=b&filter=home": "1 b:home/kitchen/temp:2",
		"?client=nobody":        "0 ",
		"?limit=1&offset=1":     "3 a:office/#:1",
		"?filter=temp&limit=1":  "2 a:home/+/temp:0",
	} {
		if got := get(q); got != want {
			t.Errorf("subscriptions%s: %q, want %q", q, got, want)
		}
	}
	e.expect(t, http.StatusBadRequest, "GET", "/api/v1/subscriptions?limit=none", "", bearer(readToken)).errorMessage(t)
}

// POST /publish reaches a paho subscriber, text and binary.
func TestPublish(t *testing.T) {
	e := start(t, withCredentials(t))
	msgs := brokertest.SubscriberV5(t, e.brokerAddr, "sub", "admin/#", 1)

	var res publishResponse
	e.expect(t, http.StatusOK, "POST", "/api/v1/publish", `{"topic":"admin/text","payload":"hello ü","qos":1}`, bearer(adminToken)).json(t, &res)
	if res != (publishResponse{Topic: "admin/text", Size: len("hello ü"), QoS: 1}) {
		t.Errorf("response %+v", res)
	}
	if m := brokertest.Next(t, msgs); m.Topic != "admin/text" || string(m.Payload) != "hello ü" || m.QoS != 1 || m.Retain {
		t.Errorf("received %s %q qos %d retain %v", m.Topic, m.Payload, m.QoS, m.Retain)
	}
	bin := []byte{0, 1, 0xff, 0xfe}
	e.expect(t, http.StatusOK, "POST", "/api/v1/publish",
		`{"topic":"admin/bin","payload_base64":"`+base64.StdEncoding.EncodeToString(bin)+`"}`, basic(adminUser, adminPass))
	if m := brokertest.Next(t, msgs); m.Topic != "admin/bin" || !bytes.Equal(m.Payload, bin) || m.QoS != 0 {
		t.Errorf("received %s % x qos %d", m.Topic, m.Payload, m.QoS)
	}
	e.expect(t, http.StatusOK, "POST", "/api/v1/publish", `{"topic":"admin/empty"}`, bearer(adminToken))
	if m := brokertest.Next(t, msgs); m.Topic != "admin/empty" || len(m.Payload) != 0 {
		t.Errorf("received %s %q", m.Topic, m.Payload)
	}
	e.expect(t, http.StatusForbidden, "POST", "/api/v1/publish", `{"topic":"admin/x"}`, bearer(readToken))
}

// Bad input gets a 4xx with a JSON error, and nothing is published.
func TestPublishBadInput(t *testing.T) {
	e := start(t, withCredentials(t))
	msgs := brokertest.SubscriberV5(t, e.brokerAddr, "sub", "#", 1)
	for _, tc := range []struct {
		body string
		code int
		want string
	}{
		{`{"topic":"a","payload":"x"`, 400, "bad JSON"},
		{`not json`, 400, "bad JSON"},
		{``, 400, "empty request body"},
		{`{"topic":"a","payload":"x","colour":"red"}`, 400, "unknown field"},
		{`{"topic":"a"} {"topic":"b"}`, 400, "after the JSON object"},
		{`{"topic":"a","qos":3}`, 400, "qos"},
		{`{"topic":"a","qos":-1}`, 400, "qos"},
		{`{"topic":"a","qos":1.5}`, 400, "bad JSON"},
		{`{"topic":"a","qos":"1"}`, 400, "bad JSON"},
		{`{"topic":"a/+","payload":"x"}`, 400, "topic"},
		{`{"topic":"a/#"}`, 400, "topic"},
		{`{"topic":""}`, 400, "topic"},
		{`{"payload":"x"}`, 400, "topic"},
		{`{"topic":"$SYS/x"}`, 400, "$SYS"},
		{`{"topic":"a","payload":"x","payload_base64":"eA=="}`, 400, "not both"},
		{`{"topic":"a","payload_base64":"***"}`, 400, "payload_base64"},
		{`{"topic":"a","payload":"` + strings.Repeat("x", maxBody) + `"}`, 413, "larger than"},
	} {
		r := e.do(t, "POST", "/api/v1/publish", tc.body, bearer(adminToken))
		if r.code != tc.code {
			t.Errorf("%.60s: status %d, want %d (%s)", tc.body, r.code, tc.code, r.body)
			continue
		}
		if msg := r.errorMessage(t); !strings.Contains(msg, tc.want) {
			t.Errorf("%.60s: error %q, want %q in it", tc.body, msg, tc.want)
		}
	}
	r := e.do(t, "POST", "/api/v1/publish", `{"topic":"a"}`, bearer(adminToken), header("Content-Type", "text/plain"))
	if r.code != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain body: status %d, want 415", r.code)
	}
	// Nothing was published: the next message is this one.
	e.expect(t, http.StatusOK, "POST", "/api/v1/publish", `{"topic":"sentinel"}`, bearer(adminToken))
	if m := brokertest.Next(t, msgs); m.Topic != "sentinel" {
		t.Errorf("received %s, want only the sentinel", m.Topic)
	}
}

type retainedPage struct {
	Total int        `json:"total"`
	Items []retained `json:"items"`
}

func TestRetained(t *testing.T) {
	e := start(t, withCredentials(t))
	pub := func(topic string, payload []byte) {
		t.Helper()
		if err := e.b.Publish(topic, payload, 1, true); err != nil {
			t.Fatal(err)
		}
	}
	pub("r/text", []byte("21.5 °C"))
	pub("r/bin", []byte{0xff, 0x00})
	pub("r/deep/x", []byte("deep"))
	pub("/lead", []byte("lead"))
	pub("a b/ü?%", []byte("odd"))

	list := func(q string) (int, string) {
		t.Helper()
		var p retainedPage
		e.expect(t, http.StatusOK, "GET", "/api/v1/retained"+q, "", bearer(readToken)).json(t, &p)
		var s []string
		for _, m := range p.Items {
			s = append(s, m.Topic)
		}
		return p.Total, strings.Join(s, ",")
	}
	for q, want := range map[string]string{
		"":                                  "5 /lead,a b/ü?%,r/bin,r/deep/x,r/text",
		"?filter=" + url.QueryEscape("r/+"): "2 r/bin,r/text",
		"?filter=" + url.QueryEscape("r/#"): "3 r/bin,r/deep/x,r/text",
		"?filter=nothing":                   "0 ",
		"?limit=2&offset=1":                 "5 a b/ü?%,r/bin",
	} {
		if n, got := list(q); fmt.Sprintf("%d %s", n, got) != want {
			t.Errorf("retained%s: %d %q, want %q", q, n, got, want)
		}
	}
	for _, f := range []string{"r/#/x", "a+", "#/"} {
		e.expect(t, http.StatusBadRequest, "GET", "/api/v1/retained?filter="+url.QueryEscape(f), "", bearer(readToken)).errorMessage(t)
	}
	e.expect(t, http.StatusBadRequest, "GET", "/api/v1/retained?limit=0", "", bearer(readToken)).errorMessage(t)

	get := func(topic string) retained {
		t.Helper()
		var m retained
		e.expect(t, http.StatusOK, "GET", "/api/v1/retained/"+url.PathEscape(topic), "", bearer(readToken)).json(t, &m)
		return m
	}
	if m := get("r/text"); m.Topic != "r/text" || m.PayloadText == nil || *m.PayloadText != "21.5 °C" ||
		string(m.Payload) != "21.5 °C" || m.QoS != 1 || m.Size != len("21.5 °C") || m.ExpiresAt != nil {
		t.Errorf("r/text: %+v", m)
	}
	if m := get("r/bin"); m.PayloadText != nil || !bytes.Equal(m.Payload, []byte{0xff, 0}) {
		t.Errorf("r/bin: %+v", m)
	}
	// Slashes may stay as they are; empty levels need %2F.
	e.expect(t, http.StatusOK, "GET", "/api/v1/retained/r/deep/x", "", bearer(readToken))
	if m := get("/lead"); m.Topic != "/lead" {
		t.Errorf("/lead: %+v", m)
	}
	if m := get("a b/ü?%"); m.Topic != "a b/ü?%" {
		t.Errorf("odd topic: %+v", m)
	}
	// The raw JSON has base64 and text.
	r := e.expect(t, http.StatusOK, "GET", "/api/v1/retained/r/text", "", bearer(readToken))
	if !strings.Contains(string(r.body), `"payload": "`+base64.StdEncoding.EncodeToString([]byte("21.5 °C"))+`"`) ||
		!strings.Contains(string(r.body), `"payload_text": "21.5 °C"`) {
		t.Errorf("JSON: %s", r.body)
	}
	e.expect(t, http.StatusNotFound, "GET", "/api/v1/retained/r/none", "", bearer(readToken)).errorMessage(t)
	e.expect(t, http.StatusBadRequest, "GET", "/api/v1/retained/r/%2B", "", bearer(readToken)).errorMessage(t)

	// Delete removes the message without publishing anything: a subscriber
	// (which got the retained messages when it subscribed) receives only
	// the sentinel published afterwards.
	msgs := brokertest.SubscriberV5(t, e.brokerAddr, "watcher", "r/#", 1)
	for range 3 {
		if m := brokertest.Next(t, msgs); !m.Retain {
			t.Fatalf("%s: not retained", m.Topic)
		}
	}
	e.expect(t, http.StatusForbidden, "DELETE", "/api/v1/retained/r/text", "", bearer(readToken))
	r = e.expect(t, http.StatusNoContent, "DELETE", "/api/v1/retained/r/text", "", bearer(adminToken))
	if len(r.body) != 0 {
		t.Errorf("204 with a body: %s", r.body)
	}
	e.expect(t, http.StatusNoContent, "DELETE", "/api/v1/retained/"+url.PathEscape("/lead"), "", basic(adminUser, adminPass))
	e.expect(t, http.StatusOK, "POST", "/api/v1/publish", `{"topic":"r/sentinel","payload":"s"}`, bearer(adminToken))
	if m := brokertest.Next(t, msgs); m.Topic != "r/sentinel" {
		t.Errorf("after delete the subscriber got %s %q, want only the sentinel", m.Topic, m.Payload)
	}
	e.expect(t, http.StatusNotFound, "GET", "/api/v1/retained/r/text", "", bearer(readToken))
	e.expect(t, http.StatusNotFound, "DELETE", "/api/v1/retained/r/text", "", bearer(adminToken)).errorMessage(t)
	e.expect(t, http.StatusBadRequest, "DELETE", "/api/v1/retained/r/%23", "", bearer(adminToken)).errorMessage(t)
	if n, got := list(""); n != 3 || got != "a b/ü?%,r/bin,r/deep/x" {
		t.Errorf("after delete: %d %s", n, got)
	}
}

func TestStats(t *testing.T) {
	e := start(t, withCredentials(t))
	v3Client(t, e.brokerAddr, "c1", "", true)
	msgs := brokertest.SubscriberV5(t, e.brokerAddr, "c2", "s/#", 1)
	e.expect(t, http.StatusOK, "POST", "/api/v1/publish", `{"topic":"s/1","payload":"x","retain":true}`, bearer(adminToken))
	brokertest.Next(t, msgs)

	var s stats
	e.expect(t, http.StatusOK, "GET", "/api/v1/stats", "", bearer(readToken)).json(t, &s)
	if s.Version != "test" || s.Connections != 2 || s.Online != 2 || s.Retained != 1 || s.Subscriptions != 1 ||
		s.MessagesReceived != 1 || s.MessagesSent < 1 || s.ReceivedByQoS[0] != 1 || s.UptimeSeconds <= 0 || s.Time.IsZero() ||
		s.Memory.TotalBytes == 0 || s.Memory.HeapBytes == 0 || s.Memory.Goroutines == 0 || s.Accepted < 2 || s.Connects < 2 {
		t.Errorf("stats: %+v", s)
	}
	// snake_case throughout.
	r := e.expect(t, http.StatusOK, "GET", "/api/v1/stats", "", bearer(readToken))
	for _, key := range []string{`"uptime_seconds"`, `"messages_received"`, `"sessions_offline"`, `"total_bytes"`, `"queue_full"`, `"bad_credentials"`} {
		if !bytes.Contains(r.body, []byte(key)) {
			t.Errorf("no %s in %s", key, r.body)
		}
	}
}

func TestListeners(t *testing.T) {
	b, addr := brokertest.Start(t, broker.Options{})
	urls := []ClientURL{{Protocol: "mqtt", URL: "mqtt://" + addr}, {Protocol: "ws", URL: "ws://127.0.0.1:8083/mqtt"}}
	e := startAdmin(t, b, addr, func(o *Options) { o.ClientURLs = urls })
	v3Client(t, addr, "c", "", true)
	var body listenersBody
	e.expect(t, http.StatusOK, "GET", "/api/v1/listeners", "").json(t, &body)
	if len(body.Items) != 1 || body.Items[0].Name != addr || body.Items[0].Protocol != "mqtt" ||
		body.Items[0].URL != "mqtt://"+addr || body.Items[0].Active != 1 || body.Items[0].Accepted != 1 {
		t.Errorf("items: %+v", body.Items)
	}
	if fmt.Sprint(body.URLs) != fmt.Sprint(urls) {
		t.Errorf("urls: %+v", body.URLs)
	}
}

func TestHealthAndReady(t *testing.T) {
	e := start(t, withCredentials(t))
	e.expect(t, http.StatusOK, "GET", "/healthz", "")
	var ready struct {
		Status    string `json:"status"`
		Listeners int    `json:"listeners"`
	}
	e.expect(t, http.StatusOK, "GET", "/readyz", "").json(t, &ready)
	if ready.Status != "ready" || ready.Listeners != 1 {
		t.Errorf("readyz: %+v", ready)
	}
	// A broker that serves no listener is not ready.
	idle := broker.New(broker.Options{})
	t.Cleanup(func() { idle.Shutdown(t.Context()) })
	e2 := startAdmin(t, idle, "")
	e2.expect(t, http.StatusServiceUnavailable, "GET", "/readyz", "").json(t, &ready)
	if ready.Status != "not ready" {
		t.Errorf("readyz: %+v", ready)
	}
	e2.expect(t, http.StatusOK, "GET", "/healthz", "")
}

func TestMetrics(t *testing.T) {
	b, addr := brokertest.Start(t, broker.Options{})
	e := startAdmin(t, b, addr, withCredentials(t), func(o *Options) {
		o.Metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			fmt.Fprintln(w, "baram_up 1")
		})
	})
	e.expect(t, http.StatusUnauthorized, "GET", "/metrics", "")
	if r := e.expect(t, http.StatusOK, "GET", "/metrics", "", bearer(readToken)); string(r.body) != "baram_up 1\n" {
		t.Errorf("metrics: %q", r.body)
	}
	e2 := startAdmin(t, b, addr)
	e2.expect(t, http.StatusNotFound, "GET", "/metrics", "").errorMessage(t)
}

func TestUnknownAPIRoute(t *testing.T) {
	e := start(t)
	e.expect(t, http.StatusNotFound, "GET", "/api/v1/nothing", "").errorMessage(t)
	e.expect(t, http.StatusMethodNotAllowed, "PUT", "/api/v1/publish", "")
}
