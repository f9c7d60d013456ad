package cli

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baram-mqtt/baram/internal/session"
	"github.com/baram-mqtt/baram/internal/store"
	"github.com/baram-mqtt/baram/internal/store/open"
)

// writeStore commits key, value, key, value... to the store in dir.
func writeStore(t *testing.T, dir string, kv ...[]byte) {
	t.Helper()
	st, err := open.Open(open.Default, dir, open.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := st.NewBatch()
	for i := 0; i+1 < len(kv); i += 2 {
		b.Put(kv[i], kv[i+1])
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// sampleStore writes one session of client "c1" with a subscription and
// a queued message, and a retained message.
func sampleStore(t *testing.T, dir string) {
	msg := session.MarshalMessage(nil, &session.Message{Topic: "a/b", Payload: []byte("hello"), QoS: 1})
	writeStore(t, dir,
		store.SessionIDKey("c1"), binary.BigEndian.AppendUint64(nil, 1),
		store.SessionKey(1), store.MarshalSession(&store.SessionRecord{ClientID: "c1", Version: 5, Expiry: 60}),
		store.SubscriptionKey(1, "a/#"), store.MarshalSubscription(&store.SubscriptionRecord{QoS: 1}),
		store.QueueKey(1, 1), store.MarshalQueue(&store.QueueRecord{QoS: 1, Message: msg}),
		store.RetainedKey("r/1"), session.MarshalMessage(nil, &session.Message{Topic: "r/1", Payload: []byte("on"), Retain: true}),
	)
}

func TestStoreCheck(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	sampleStore(t, dir)
	code, out, errOut := run(t, "store", "check", "--data-dir", dir)
	want := "store            " + open.Default + ":" + dir + `
sessions         1
subscriptions    1
queued messages  1 (8 bytes of topic and payload)
inflight         0
inbound QoS 2    0
retained         1
expiry entries   0
problems         0
`
	if code != ExitOK || out != want || errOut != "" {
		t.Errorf("store check = %d,\n%s%s\nwant 0,\n%s", code, out, errOut, want)
	}

	// A corrupt record and a dangling reference.
	writeStore(t, dir,
		store.RetainedKey("r/2"), []byte("junk"),
		store.QueueKey(7, 1), store.MarshalQueue(&store.QueueRecord{Message: session.MarshalMessage(nil, &session.Message{Topic: "x"})}),
	)
	code, out, errOut = run(t, "store", "check", "--data-dir", dir, "--store", open.Default)
	for _, want := range []string{
		"problems         2\n",
		`problem: R topic="r/2": retained message: unknown format` + "\n",
		"problem: q sid=7 seq=1: 1 queued message of session 7, which has no record (s sid=7)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("store check output lacks %q:\n%s", want, out)
		}
	}
	if wantErr := "baram: store " + open.Default + ":" + dir + ": 2 problems found\n"; code != ExitError || errOut != wantErr {
		t.Errorf("store check of a damaged store = %d, %q; want %d, %q", code, errOut, ExitError, wantErr)
	}
}

func TestStoreCheckDoesNotChangeData(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	sampleStore(t, dir)
	before, _ := storeContents(t, dir)
	if code, _, errOut := run(t, "store", "check", "--data-dir", dir); code != ExitOK {
		t.Fatalf("store check: %d, %s", code, errOut)
	}
	if code, _, errOut := run(t, "store", "dump", "--data-dir", dir); code != ExitOK {
		t.Fatalf("store dump: %d, %s", code, errOut)
	}
	after, _ := storeContents(t, dir)
	if before != after {
		t.Errorf("records changed:\nbefore %s\nafter  %s", before, after)
	}
}

// storeContents returns every key and value of the store in dir.
func storeContents(t *testing.T, dir string) (string, int) {
	t.Helper()
	st, err := open.Open(open.Auto, dir, open.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var b strings.Builder
	n := 0
	err = st.Scan(nil, nil, func(k, v []byte) error {
		n++
		b.WriteString(string(k) + "=" + string(v) + ";")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String(), n
}

func TestStoreDump(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	sampleStore(t, dir)
	tests := []struct {
		args []string
		want string
	}{
		{nil, "session client_id=c1 sid=1 version=5 expiry=1m0s\n" +
			"  subscription filter=a/# qos=1\n" +
			"  queued seq=1 topic=a/b qos=1 size=5 payload=hello\n" +
			"retained topic=r/1 qos=0 size=2 payload=on\n"},
		{[]string{"--client", "c1", "--topic", "x/#"}, "session client_id=c1 sid=1 version=5 expiry=1m0s\n" +
			"  subscription filter=a/# qos=1\n"},
		{[]string{"--client", "c2"}, ""},
		{[]string{"--topic", "r/+", "--json"}, `{"kind":"session","client_id":"c1","sid":1,"version":5,"expiry":"1m0s"}` + "\n" +
			`{"kind":"subscription","client_id":"c1","sid":1,"filter":"a/#","qos":1}` + "\n" +
			`{"kind":"retained","topic":"r/1","qos":0,"size":2,"payload":"on"}` + "\n"},
	}
	for _, tt := range tests {
		code, out, errOut := run(t, append([]string{"store", "dump", "--data-dir", dir}, tt.args...)...)
		if code != ExitOK || out != tt.want || errOut != "" {
			t.Errorf("store dump %v = %d, %s\n%s\nwant 0,\n%s", tt.args, code, errOut, out, tt.want)
		}
	}

	writeStore(t, dir, store.RetainedKey("r/2"), []byte("junk"))
	code, out, errOut := run(t, "store", "dump", "--data-dir", dir, "--topic", "r/2")
	want := "session client_id=c1 sid=1 version=5 expiry=1m0s\n  subscription filter=a/# qos=1\n" +
		"retained topic=r/2 error=\"message: unknown format\"\n"
	if code != ExitOK || out != want ||
		errOut != "baram: 1 record could not be decoded (shown with error=); run 'baram store check'\n" {
		t.Errorf("store dump of a corrupt record = %d, %q, %q", code, out, errOut)
	}
}

func TestStoreCommandErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "baram.yaml")
	if err := os.WriteFile(cfg, []byte("store:\n  type: memory\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "nothing")
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"store", "check", "--data-dir", missing}, ExitError,
			"baram: store " + missing + ": no store in this directory: name the broker's data directory with --data-dir or --config\n"},
		{[]string{"store", "dump", "--store", "memory"}, ExitUsage,
			"baram: store.type is memory: a memory store lives only inside the running broker; nothing to read\n"},
		{[]string{"store", "check", "--config", cfg}, ExitUsage, "baram: store.type is memory"},
		{[]string{"store", "check", "--store", "rocks"}, ExitUsage, `baram: --store: "rocks" is not one of auto, pebble, bolt, memory`},
		{[]string{"store", "check", "--data-dir", ""}, ExitUsage, "baram: --data-dir: empty; name a directory"},
		{[]string{"store", "dump", "--topic", "a/#/b"}, ExitUsage, `baram: --topic: "a/#/b": `},
		{[]string{"store", "dump", "--topic", "$share/g/a"}, ExitUsage, `baram: --topic: "$share/g/a": a shared subscription is not a topic filter`},
		{[]string{"store", "frob"}, ExitUsage, `baram: unknown command "frob" for "baram store"`},
	}
	for _, tt := range tests {
		code, _, errOut := run(t, tt.args...)
		if code != tt.code || !strings.HasPrefix(errOut, tt.want) {
			t.Errorf("baram %v = %d, %q; want %d, %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("store check created %s", missing)
	}
}

func TestStoreCheckRefusesRunningBroker(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	sampleStore(t, dir)
	holdStore(t, dir)
	code, out, errOut := run(t, "store", "check", "--data-dir", dir)
	if code != ExitError || out != "" || !strings.HasPrefix(errOut, "baram: store "+dir+": locked by another running baram") {
		t.Errorf("store check of a held store = %d, %q, %q", code, out, errOut)
	}
}
