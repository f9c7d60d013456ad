package cli

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
	"github.com/baram-mqtt/baram/internal/store"
)

// TestServeStoreRoundTrip runs serve on a data directory, leaves a
// persistent session with a queued message and a retained message in it,
// checks and dumps the directory, and starts serve on it again.
func TestServeStoreRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := startServe(t, "--listen", "127.0.0.1:0", "--data-dir", dir)

	sub := brokertest.Dial(t, s.addr, packet.V311)
	sub.Connect(&packet.Connect{ClientID: "sub1"}) // clean session 0: kept
	sub.Send(&packet.Subscribe{PacketID: 1, Subs: []packet.Subscription{{Filter: "a/#", QoS: 1}}})
	brokertest.Expect[*packet.Suback](sub)
	sub.Send(&packet.Disconnect{})
	sub.ExpectClosed(5 * time.Second)

	pub := brokertest.Dial(t, s.addr, packet.V311)
	pub.Connect(&packet.Connect{ClientID: "pub1", CleanStart: true})
	pub.Send(&packet.Publish{QoS: 1, PacketID: 1, Retain: true, Topic: "a/b", Payload: []byte("hello")})
	brokertest.Expect[*packet.Ack](pub)
	pub.Send(&packet.Disconnect{})
	pub.ExpectClosed(5 * time.Second)

	s.cancel()
	if code := s.wait(t); code != ExitOK {
		t.Fatalf("serve exit status %d:\n%s", code, s.stderr)
	}

	code, out, errOut := run(t, "store", "check", "--data-dir", dir)
	for _, want := range []string{"sessions         1\n", "subscriptions    1\n", "queued messages  1 (8 bytes", "retained         1\n", "problems         0\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("store check output lacks %q", want)
		}
	}
	if code != ExitOK {
		t.Errorf("store check = %d, %s\n%s", code, errOut, out)
	}
	code, out, _ = run(t, "store", "dump", "--data-dir", dir, "--client", "sub1")
	if want := "  subscription filter=a/# qos=1\n  queued seq=1 topic=a/b qos=1 size=5 payload=hello"; code != ExitOK ||
		!strings.HasPrefix(out, "session client_id=sub1 sid=1 version=4 expiry=never disconnected_at=") || !strings.Contains(out, want) {
		t.Errorf("store dump --client sub1 = %d,\n%s\nwant the session and %q", code, out, want)
	}

	s = startServe(t, "--listen", "127.0.0.1:0", "--data-dir", dir)
	s.cancel()
	s.wait(t)
	if !strings.Contains(s.stderr.String(), `msg="store recovered" sessions=1 subscriptions=1 queued_messages=1 retained_messages=1`) {
		t.Errorf("second serve did not recover the store:\n%s", s.stderr)
	}
}

func TestServeRefusesDamagedStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	writeStore(t, dir, store.RetainedKey("a"), []byte("junk"))
	code, _, errOut := run(t, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir)
	if code != ExitError || !strings.HasPrefix(errOut, "baram: store ") ||
		!strings.HasSuffix(errOut, "(run 'baram store check' to list what is damaged)\n") {
		t.Errorf("serve on a damaged store = %d, %q", code, errOut)
	}
}
