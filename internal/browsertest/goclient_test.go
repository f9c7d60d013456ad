//go:build unix

package browsertest

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/brokertest"
)

// goWait bounds each wait of a Go client.
const goWait = 10 * time.Second

// goClient is a paho.mqtt.golang client (MQTT 3.1.1 over TCP) whose
// messages arrive on Msgs and whose lost connection is reported on Lost.
type goClient struct {
	*brokertest.V3
	id string
}

// goConnect connects a clean-session client to addr; the test's cleanup
// disconnects it.
func goConnect(t *testing.T, addr, id string) *goClient {
	t.Helper()
	return &goClient{V3: brokertest.ConnectV3(t, addr, id, 4), id: id}
}

// collect returns the next n messages, sorted by topic.
func (c *goClient) collect(t *testing.T, n int) []pageMsg {
	t.Helper()
	var got []pageMsg
	timeout := time.NewTimer(goWait)
	defer timeout.Stop()
	for len(got) < n {
		select {
		case m := <-c.Msgs:
			got = append(got, pageMsg{Topic: m.Topic(), Payload: string(m.Payload()), QoS: int(m.Qos()), Retain: m.Retained()})
		case err := <-c.Lost:
			t.Fatalf("%s lost its connection after %d of %d messages %v: %v", c.id, len(got), n, got, err)
		case <-timeout.C:
			t.Fatalf("%s: %d of %d messages within %v: %v", c.id, len(got), n, goWait, got)
		}
	}
	sortMsgs(got)
	return got
}

// noMessage fails the test if a message has already arrived; it does not
// wait.
func (c *goClient) noMessage(t *testing.T, why string) {
	t.Helper()
	select {
	case m := <-c.Msgs:
		t.Fatalf("%s: %s got %s %q", why, c.id, m.Topic(), m.Payload())
	default:
	}
}

// pageMsg is a message as page.js reports it.
type pageMsg struct {
	Topic   string `json:"topic"`
	Payload string `json:"payload"`
	QoS     int    `json:"qos"`
	Retain  bool   `json:"retain"`
}

func sortMsgs(ms []pageMsg) {
	slices.SortStableFunc(ms, func(a, b pageMsg) int { return strings.Compare(a.Topic, b.Topic) })
}

// connack is what page.js's connect resolves with.
type connack struct {
	SessionPresent bool `json:"sessionPresent"`
	ReasonCode     int  `json:"reasonCode"`
}

// servePage serves js/page.html with MQTT.js and js/page.js on
// 127.0.0.1, as a web application would; it returns the page's origin.
func servePage(t *testing.T, jsDir string) string {
	t.Helper()
	files := map[string]string{
		"/":            filepath.Join(jsDir, "page.html"),
		"/page.js":     filepath.Join(jsDir, "page.js"),
		"/mqtt.min.js": filepath.Join(jsDir, "node_modules", "mqtt", "dist", "mqtt.min.js"),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		http.ServeFile(w, r, f)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
