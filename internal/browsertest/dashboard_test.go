//go:build unix

package browsertest

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/proctest"
)

// statsPoll is how often the dashboard reads /api/v1/stats (POLL_MS in
// internal/admin/web/app.js); figures may lag by that much.
const statsPoll = time.Second

// TestDashboard drives the admin dashboard in Chromium: the connected
// clients figure against real clients, disconnecting a client from the
// clients table, and publishing from the MQTT panel. The selectors are
// the data-testid attributes listed at the top of
// internal/admin/web/index.html.
func TestDashboard(t *testing.T) {
	node, jsDir := prerequisites(t)
	bin, root := proctest.Baram(t)
	if _, err := os.Stat(filepath.Join(root, "internal", "admin", "web", "index.html")); err != nil {
		t.Skipf("this tree has no admin dashboard (internal/admin/web/index.html): %v", err)
	}
	b := startBaram(t, bin, baramSetup{ws: true, admin: true})
	d := startDriver(t, node, jsDir)
	admin := "http://" + b.admin + "/"
	t.Logf("Chromium %s; dashboard %s; baram mqtt %s, ws %s", d.Version, admin, b.mqtt, b.ws)

	// Three Go clients; the third watches what the MQTT panel publishes.
	var clients []*goClient
	for _, id := range []string{"dash-go-1", "dash-go-2", "dash-go-3"} {
		clients = append(clients, goConnect(t, b.mqtt, id))
	}
	watcher := clients[2]
	watcher.Sub(t, "dash/#", 1)

	const page = "dashboard"
	d.open(t, page, admin)
	d.waitFor(t, "text", page, sel("connected-clients"), "3", statsPoll)
	d.waitFor(t, "text", page, sel("subscriptions-count"), "1", statsPoll)

	// Disconnect dash-go-2 from the clients table.
	victim := clients[1]
	d.must(t, nil, map[string]any{"cmd": "click", "page": page, "selector": sel("tab-clients")})
	d.must(t, nil, map[string]any{"cmd": "fill", "page": page, "selector": sel("clients-search"), "value": victim.id})
	d.waitFor(t, "text", page, sel("clients-total"), "1", 0)
	d.must(t, nil, map[string]any{"cmd": "click", "page": page, "selector": sel("disconnect-button", "data-client-id", victim.id)})
	select {
	case err := <-victim.Lost:
		t.Logf("%s lost its connection as asked: %v", victim.id, err)
	case <-time.After(goWait):
		t.Fatalf("%s still connected %v after its disconnect button was clicked", victim.id, goWait)
	}
	for _, c := range []*goClient{clients[0], clients[2]} {
		select {
		case err := <-c.Lost:
			t.Fatalf("%s lost its connection too: %v", c.id, err)
		default:
		}
	}
	d.must(t, nil, map[string]any{"cmd": "click", "page": page, "selector": sel("tab-overview")})
	d.waitFor(t, "text", page, sel("connected-clients"), "2", statsPoll)

	// The MQTT panel: its URL comes from the broker's ws listener; it
	// connects, publishes to the watcher, and receives what Go publishes.
	d.must(t, nil, map[string]any{"cmd": "click", "page": page, "selector": sel("tab-mqtt")})
	d.waitFor(t, "value", page, sel("mqtt-url"), "ws://"+b.ws+"/mqtt", 0)
	d.must(t, nil, map[string]any{"cmd": "click", "page": page, "selector": sel("mqtt-connect")})
	d.waitFor(t, "text", page, sel("mqtt-status"), "connected", 0)
	d.must(t, nil, map[string]any{"cmd": "fill", "page": page, "selector": sel("mqtt-sub-filter"), "value": "dash/to-panel"})
	d.must(t, nil, map[string]any{"cmd": "click", "page": page, "selector": sel("mqtt-subscribe")})
	want := pageMsg{Topic: "dash/from-panel", Payload: "published from the dashboard ✓", QoS: 1}
	d.must(t, nil, map[string]any{"cmd": "fill", "page": page, "selector": sel("mqtt-topic"), "value": want.Topic})
	d.must(t, nil, map[string]any{"cmd": "fill", "page": page, "selector": sel("mqtt-payload"), "value": want.Payload})
	d.must(t, nil, map[string]any{"cmd": "select", "page": page, "selector": sel("mqtt-qos"), "value": "1"})
	d.must(t, nil, map[string]any{"cmd": "click", "page": page, "selector": sel("mqtt-publish")})
	if got := watcher.collect(t, 1); !slices.Equal(got, []pageMsg{want}) {
		t.Fatalf("the Go subscriber got %+v from the MQTT panel, want %+v", got, want)
	}
	// The subscription is in place once the broker counts it (the watcher's
	// and the panel's); then a message published from Go shows in the panel.
	d.must(t, nil, map[string]any{"cmd": "click", "page": page, "selector": sel("tab-overview")})
	d.waitFor(t, "text", page, sel("subscriptions-count"), "2", statsPoll)
	d.waitFor(t, "text", page, sel("connected-clients"), "3", statsPoll) // two Go clients and the panel
	clients[0].Pub(t, "dash/to-panel", 1, false, "to the panel ✓")
	d.must(t, nil, map[string]any{"cmd": "click", "page": page, "selector": sel("tab-mqtt")})
	d.waitFor(t, "text", page, sel("mqtt-message", "data-topic", "dash/to-panel"), "dash/to-panelto the panel ✓", 0)

	out := filepath.Join("testdata", "output")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := func(name string) {
		path, err := filepath.Abs(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		d.must(t, nil, map[string]any{"cmd": "screenshot", "page": page, "path": path})
		t.Logf("screenshot: %s", path)
	}
	shot("dashboard-mqtt.png")
	d.must(t, nil, map[string]any{"cmd": "click", "page": page, "selector": sel("tab-overview")})
	shot("dashboard.png")
}
