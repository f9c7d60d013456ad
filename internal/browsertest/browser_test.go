//go:build unix

package browsertest

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/baram-mqtt/baram/internal/proctest"
	"github.com/baram-mqtt/baram/internal/testpki"
)

// TestBrowser runs MQTT.js in headless Chromium against the ws and wss
// listeners of a real baram, with Go clients over TCP on the other side.
func TestBrowser(t *testing.T) {
	node, jsDir := prerequisites(t)
	bin, _ := proctest.Baram(t)
	pki := testpki.NewFiles(t)
	origin := servePage(t, jsDir)
	b := startBaram(t, bin, baramSetup{ws: true, wss: true, origins: []string{origin}, pki: pki})
	// Chromium trusts exactly the server's certificate, by its key.
	d := startDriver(t, node, jsDir, pki.Server.SPKIHash())
	t.Logf("Chromium %s; page %s; baram mqtt %s, ws %s, wss %s", d.Version, origin, b.mqtt, b.ws, b.wss)

	transports := []struct{ name, url string }{
		{"ws", "ws://" + b.ws + "/mqtt"},
		{"wss", "wss://" + b.wss + "/mqtt"},
	}
	versions := []struct {
		name  string
		level int
	}{{"3.1.1", 4}, {"5", 5}}
	for _, tr := range transports {
		for _, v := range versions {
			t.Run(tr.name+"/"+v.name+"/pubsub", func(t *testing.T) {
				testPubSub(t, d, b, origin, tr.url, v.level)
			})
		}
	}
	for _, v := range versions {
		t.Run("ws/"+v.name+"/persistent-session", func(t *testing.T) {
			testPersistentSession(t, d, b, origin, transports[0].url, v.level)
		})
	}
	t.Run("ws/5/will", func(t *testing.T) { testWill(t, d, b, origin, transports[0].url, 5) })
	t.Run("wss/3.1.1/will", func(t *testing.T) { testWill(t, d, b, origin, transports[1].url, 4) })
	for _, tr := range transports {
		t.Run(tr.name+"/foreign-origin-refused", func(t *testing.T) {
			testForeignOrigin(t, d, b, origin, tr.url)
		})
	}
}

// testID makes a topic prefix, page name and client id stem of the test's
// name.
func testID(t *testing.T) string {
	return "bt-" + strings.Trim(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-"), "-")
}

// testPubSub: the page connects, subscribes, publishes at QoS 0, 1 and 2
// and receives its own messages; a Go client receives them too, and what
// the Go client publishes reaches the page.
func testPubSub(t *testing.T, d *driver, b *baramProc, origin, brokerURL string, version int) {
	id := testID(t)
	goSub := goConnect(t, b.mqtt, id+"-go")
	goSub.Sub(t, id+"/from-page/#", 2)

	d.open(t, id, origin+"/")
	var ack connack
	d.call(t, &ack, id, "connect", "c", brokerURL,
		map[string]any{"protocolVersion": version, "clientId": id + "-page", "clean": true})
	if ack.SessionPresent || ack.ReasonCode != 0 {
		t.Fatalf("CONNACK %+v, want no session present, reason 0", ack)
	}
	var granted []int
	d.call(t, &granted, id, "subscribe", "c", []string{id + "/#"}, 2)
	if !slices.Equal(granted, []int{2}) {
		t.Fatalf("SUBACK granted %v, want [2]", granted)
	}
	var want []pageMsg
	for qos := range 3 {
		m := pageMsg{Topic: fmt.Sprintf("%s/from-page/qos%d", id, qos), Payload: fmt.Sprintf("héllo ✓ QoS %d over %s", qos, brokerURL), QoS: qos}
		d.call(t, nil, id, "publish", "c", m.Topic, m.Payload, qos)
		want = append(want, m)
	}
	var got []pageMsg
	d.call(t, &got, id, "waitMessages", "c", len(want))
	sortMsgs(got)
	if !slices.Equal(got, want) {
		t.Fatalf("the page received its own messages as\n%+v\nwant\n%+v", got, want)
	}
	if got := goSub.collect(t, len(want)); !slices.Equal(got, want) {
		t.Fatalf("the Go subscriber received the page's messages as\n%+v\nwant\n%+v", got, want)
	}

	fromGo := pageMsg{Topic: id + "/from-go", Payload: "from Go ✓", QoS: 1}
	goSub.Pub(t, fromGo.Topic, 1, false, fromGo.Payload)
	d.call(t, &got, id, "waitTopic", "c", fromGo.Topic)
	if len(got) != len(want)+1 || got[len(got)-1] != fromGo {
		t.Fatalf("the page received\n%+v\nwant its own %d messages, then %+v", got, len(want), fromGo)
	}
	goSub.noMessage(t, "after the page's three messages")
	d.call(t, nil, id, "end", "c", false)
}

// testPersistentSession: the page's session outlives its connection; the
// QoS 1 messages published while it is away are delivered, exactly once
// and in order, when it comes back.
func testPersistentSession(t *testing.T, d *driver, b *baramProc, origin, brokerURL string, version int) {
	id := testID(t)
	opts := map[string]any{"protocolVersion": version, "clientId": id + "-page", "clean": false}
	if version == 5 {
		opts["properties"] = map[string]any{"sessionExpiryInterval": 300}
	}
	topic := id + "/queued"

	d.open(t, id, origin+"/")
	var ack connack
	d.call(t, &ack, id, "connect", "c", brokerURL, opts)
	if ack.SessionPresent {
		t.Fatal("the first CONNACK of a new client id says session present")
	}
	var granted []int
	d.call(t, &granted, id, "subscribe", "c", []string{topic}, 1)
	if !slices.Equal(granted, []int{1}) {
		t.Fatalf("SUBACK granted %v, want [1]", granted)
	}
	d.call(t, nil, id, "end", "c", false) // DISCONNECT: the session stays

	goPub := goConnect(t, b.mqtt, id+"-go")
	var want []pageMsg
	for i := 1; i <= 5; i++ {
		m := pageMsg{Topic: topic, Payload: fmt.Sprintf("queued %d ✓", i), QoS: 1}
		goPub.Pub(t, m.Topic, 1, false, m.Payload) // PUBACK: stored for the offline session
		want = append(want, m)
	}

	d.call(t, &ack, id, "connect", "c", brokerURL, opts)
	if !ack.SessionPresent {
		t.Fatal("the CONNACK on reconnecting with clean false says no session present")
	}
	// A message published now comes after every queued one, so once it
	// is there, anything more than the queued five shows.
	marker := pageMsg{Topic: topic, Payload: "published after the reconnect", QoS: 1}
	goPub.Pub(t, marker.Topic, 1, false, marker.Payload)
	var got []pageMsg
	d.call(t, &got, id, "waitMessages", "c", len(want)+1)
	if want := append(want, marker); !slices.Equal(got, want) {
		t.Fatalf("after reconnecting the page received\n%+v\nwant\n%+v", got, want)
	}
	d.call(t, nil, id, "end", "c", false)
}

// testWill: closing the tab ends the connection without DISCONNECT, and a
// Go subscriber gets the page's will.
func testWill(t *testing.T, d *driver, b *baramProc, origin, brokerURL string, version int) {
	id := testID(t)
	goSub := goConnect(t, b.mqtt, id+"-go")
	goSub.Sub(t, id+"/will", 1)

	d.open(t, id, origin+"/")
	will := pageMsg{Topic: id + "/will", Payload: "the tab was closed ✓", QoS: 1}
	var ack connack
	d.call(t, &ack, id, "connect", "c", brokerURL, map[string]any{
		"protocolVersion": version, "clientId": id + "-page", "clean": true,
		"will": map[string]any{"topic": will.Topic, "payload": will.Payload, "qos": will.QoS, "retain": false},
	})
	goSub.noMessage(t, "before the tab was closed")
	d.close(t, id)
	if got := goSub.collect(t, 1); !slices.Equal(got, []pageMsg{will}) {
		t.Fatalf("after the tab closed the Go subscriber got %+v, want the will %+v", got, will)
	}
}

// testForeignOrigin: a page from an origin that allowed_origins does not
// list cannot connect, and baram says why.
func testForeignOrigin(t *testing.T, d *driver, b *baramProc, origin, brokerURL string) {
	id := testID(t)
	foreign := strings.Replace(origin, "127.0.0.1", "localhost", 1) // another origin, the same server
	d.open(t, id, foreign+"/")
	var refused struct {
		Events []string `json:"events"`
		Error  string   `json:"error"`
	}
	d.call(t, &refused, id, "refused", "c", brokerURL, map[string]any{"protocolVersion": 4, "clientId": id + "-page"})
	u, err := url.Parse(brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	line := b.waitLog(t, "refused", "origin="+foreign, u.Host) // the line of this listener
	t.Logf("from %s: %s; baram: %s", foreign, refused.Error, line)
}
