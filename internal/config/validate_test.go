package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" for valid
	}{
		{"listener ok", func(c *Config) { c.Listeners = []Listener{{Protocol: "mqtt", Address: "0.0.0.0:1883"}} }, ""},
		{"listener all interfaces", func(c *Config) { c.Listeners = []Listener{{Protocol: "mqtt", Address: ":1883"}} }, ""},
		{"listener host name", func(c *Config) { c.Listeners = []Listener{{Protocol: "mqtt", Address: "broker.example.com:1883"}} }, ""},
		{"listener IPv6", func(c *Config) { c.Listeners = []Listener{{Protocol: "mqtt", Address: "[fe80::1%eth0]:1883"}} }, ""},
		{"listener port 0 twice", func(c *Config) {
			c.Listeners = []Listener{{Protocol: "mqtt", Address: "127.0.0.1:0"}, {Protocol: "mqtt", Address: "127.0.0.1:0"}}
		}, ""},
		{"listener ws", func(c *Config) { c.Listeners = []Listener{{Protocol: "ws", Address: ":8083"}} }, ""},
		{"listener wss without tls", func(c *Config) { c.Listeners = []Listener{{Protocol: "wss", Address: ":8084"}} },
			"listeners[0].tls.cert: missing; a wss listener needs tls.cert and tls.key, its certificate chain and private key (PEM files)\n" +
				"listeners[0].tls.key: missing; a wss listener needs tls.cert and tls.key, its certificate chain and private key (PEM files)"},
		{"listener unknown protocol", func(c *Config) { c.Listeners = []Listener{{Protocol: "http", Address: ":80"}} },
			`listeners[0].protocol: "http" is not a protocol; use mqtt, mqtts, ws or wss`},
		{"listener no protocol", func(c *Config) { c.Listeners = []Listener{{Protocol: "", Address: ":1883"}} },
			`listeners[0].protocol: missing; use mqtt, mqtts, ws or wss`},
		{"listener no port", func(c *Config) { c.Listeners = []Listener{{Protocol: "mqtt", Address: "localhost"}} },
			`listeners[0].address: "localhost" is not host:port (as in "0.0.0.0:1883", "[::1]:1883" or ":1883")`},
		{"listener unbracketed IPv6", func(c *Config) { c.Listeners = []Listener{{Protocol: "mqtt", Address: "::1:1883"}} },
			`listeners[0].address: "::1:1883" is not host:port (as in "0.0.0.0:1883", "[::1]:1883" or ":1883")`},
		{"listener named port", func(c *Config) { c.Listeners = []Listener{{Protocol: "mqtt", Address: "localhost:mqtt"}} },
			`listeners[0].address: "localhost:mqtt": port "mqtt" is not a number 0..65535`},
		{"listener port too big", func(c *Config) { c.Listeners = []Listener{{Protocol: "mqtt", Address: "localhost:65536"}} },
			`listeners[0].address: "localhost:65536": port "65536" is not a number 0..65535`},
		{"listener bad host", func(c *Config) { c.Listeners = []Listener{{Protocol: "mqtt", Address: "bad_host!:1883"}} },
			`listeners[0].address: "bad_host!:1883": "bad_host!" is neither an IP address nor a host name`},
		{"listener duplicate", func(c *Config) {
			c.Listeners = []Listener{{Protocol: "mqtt", Address: "127.0.0.1:1883"}, {Protocol: "mqtt", Address: "[::1]:1883"}, {Protocol: "mqtt", Address: "127.0.0.1:01883"}}
		}, `listeners[2].address: "127.0.0.1:01883" is already the address of listeners[0]`},
		{"listener duplicate IPv6 spelling", func(c *Config) {
			c.Listeners = []Listener{{Protocol: "mqtt", Address: "[::1]:1883"}, {Protocol: "mqtt", Address: "[0:0::1]:1883"}}
		}, `listeners[1].address: "[0:0::1]:1883" is already the address of listeners[0]`},
		{"listener duplicate host name case", func(c *Config) {
			c.Listeners = []Listener{{Protocol: "mqtt", Address: "LocalHost:1883"}, {Protocol: "mqtt", Address: "localhost:1883"}}
		}, `listeners[1].address: "localhost:1883" is already the address of listeners[0]`},

		{"max_packet_size max", func(c *Config) { c.Limits.MaxPacketSize = 268435455 }, ""},
		{"max_packet_size min", func(c *Config) { c.Limits.MaxPacketSize = 64 }, ""},
		{"max_packet_size 256MiB", func(c *Config) { c.Limits.MaxPacketSize = 256 * MiB },
			`limits.max_packet_size: 268435456 is out of range 64..268435455`},
		{"max_packet_size tiny", func(c *Config) { c.Limits.MaxPacketSize = 63 },
			`limits.max_packet_size: 63 is out of range 64..268435455`},
		{"abuse limits set", func(c *Config) {
			r := 0.0
			c.Listeners = []Listener{{Protocol: "mqtt", Address: ":1883", MaxConnections: 10, ConnectRate: &r, ConnectBurst: 5}}
			c.Limits.ConnectRate, c.Limits.ConnectRatePerIP, c.Limits.PublishRate = 0.5, 2, 100
			c.Limits.PublishBytesRate = MiB
		}, ""},
		{"listener limits negative", func(c *Config) {
			r := -1.0
			c.Listeners = []Listener{{Protocol: "mqtt", Address: ":1883", MaxConnections: -1, ConnectRate: &r, ConnectBurst: -2}}
		}, "listeners[0].max_connections: -1 is negative; use 0 for unlimited\n" +
			"listeners[0].connect_rate: -1 is not a rate per second; use a number >= 0, 0 for unlimited\n" +
			"listeners[0].connect_burst: -2 is negative; use 0 for a second's worth"},
		{"rates negative", func(c *Config) {
			c.Limits.ConnectRatePerIP, c.Limits.ConnectBurstPerIP, c.Limits.PublishBytesRate = -1, -1, -1
		}, "limits.connect_rate_per_ip: -1 is not a rate per second; use a number >= 0, 0 for unlimited\n" +
			"limits.connect_burst_per_ip: -1 is negative; use 0 for a second's worth\n" +
			"limits.publish_bytes_rate: -1 is negative; use 0 for unlimited"},
		{"flapping off", func(c *Config) { c.Limits.FlapCount, c.Limits.FlapWindow = 0, 0 }, ""},
		{"flapping without window", func(c *Config) { c.Limits.FlapWindow = 0 },
			"limits.flap_window: 0s must be positive while flap_count is set (0 disables flapping detection)"},
		{"auth back-off off", func(c *Config) { c.Limits.AuthFailures, c.Limits.AuthBackoff = 0, 0 }, ""},
		{"auth back-off max below back-off", func(c *Config) { c.Limits.AuthBackoffMax = Duration(time.Second) },
			"limits.auth_backoff_max: 1s is less than auth_backoff 30s"},
		{"auth failures negative", func(c *Config) { c.Limits.AuthFailures = -1 },
			"limits.auth_failures: -1 is negative; use 0 to disable the authentication back-off"},
		{"max_connections unlimited", func(c *Config) { c.Limits.MaxConnections = 0 }, ""},
		{"max_connections negative", func(c *Config) { c.Limits.MaxConnections = -1 },
			`limits.max_connections: -1 is negative; use 0 for unlimited`},
		{"max_inflight 0", func(c *Config) { c.Limits.MaxInflight = 0 },
			`limits.max_inflight: 0 is out of range 1..65535`},
		{"max_inflight max", func(c *Config) { c.Limits.MaxInflight = 65535 }, ""},
		{"max_inflight too big", func(c *Config) { c.Limits.MaxInflight = 65536 },
			`limits.max_inflight: 65536 is out of range 1..65535`},
		{"max_queued_messages unlimited", func(c *Config) { c.Limits.MaxQueuedMessages = 0 }, ""},
		{"max_queued_messages negative", func(c *Config) { c.Limits.MaxQueuedMessages = -5 },
			`limits.max_queued_messages: -5 is negative; use 0 for unlimited`},
		{"max_queued_bytes negative", func(c *Config) { c.Limits.MaxQueuedBytes = -1 },
			`limits.max_queued_bytes: -1 is negative; use 0 for unlimited`},
		{"keepalive_max 0", func(c *Config) { c.Limits.KeepaliveMax = 0 },
			`limits.keepalive_max: 0 is out of range 1..65535`},
		{"keepalive_max 1", func(c *Config) { c.Limits.KeepaliveMax = 1 }, ""},
		{"keepalive_max too big", func(c *Config) { c.Limits.KeepaliveMax = 65536 },
			`limits.keepalive_max: 65536 is out of range 1..65535`},
		{"connect_timeout 0", func(c *Config) { c.Limits.ConnectTimeout = 0 },
			`limits.connect_timeout: 0s must be positive`},
		{"connect_timeout negative", func(c *Config) { c.Limits.ConnectTimeout = Duration(-time.Second) },
			`limits.connect_timeout: -1s must be positive`},
		{"max_topic_alias 0", func(c *Config) { c.Limits.MaxTopicAlias = 0 }, ""},
		{"max_topic_alias too big", func(c *Config) { c.Limits.MaxTopicAlias = 65536 },
			`limits.max_topic_alias: 65536 is out of range 0..65535`},
		{"max_topic_alias negative", func(c *Config) { c.Limits.MaxTopicAlias = -1 },
			`limits.max_topic_alias: -1 is out of range 0..65535`},
		{"expiry", func(c *Config) { c.Sessions.Expiry = Duration(time.Hour) }, ""},
		{"expiry negative", func(c *Config) { c.Sessions.Expiry = Duration(-time.Hour) },
			`sessions.expiry: -1h0m0s is negative; use 0 for sessions that never expire`},
		{"store memory without dir", func(c *Config) { c.Store.Type, c.Store.Dir = "memory", "" }, ""},
		{"store pebble", func(c *Config) { c.Store.Type = "pebble" }, ""},
		{"store bolt", func(c *Config) { c.Store.Type = "bolt" }, ""},
		{"store type", func(c *Config) { c.Store.Type = "rocksdb" },
			`store.type: "rocksdb" is not one of auto, pebble, bolt, memory`},
		{"store type empty", func(c *Config) { c.Store.Type = "" },
			`store.type: "" is not one of auto, pebble, bolt, memory`},
		{"store dir empty", func(c *Config) { c.Store.Dir = "" },
			`store.dir: empty; name the data directory (default ./data), or set store.type: memory`},
		{"store sync batch", func(c *Config) { c.Store.Sync = "batch" }, ""},
		{"store sync none", func(c *Config) { c.Store.Sync = "none" }, ""},
		{"store sync", func(c *Config) { c.Store.Sync = "fsync" },
			`store.sync: "fsync" is not one of always, batch, none`},
		{"store sync_interval 0", func(c *Config) { c.Store.SyncInterval = 0 },
			`store.sync_interval: 0s must be positive`},
		{"store sync_interval negative", func(c *Config) { c.Store.SyncInterval = Duration(-time.Second) },
			`store.sync_interval: -1s must be positive`},
		{"log level upper case", func(c *Config) { c.Log.Level = "WARN" }, ""},
		{"log level", func(c *Config) { c.Log.Level = "verbose" },
			`log.level: "verbose" is not one of debug, info, warn, error`},
		{"log format", func(c *Config) { c.Log.Format = "xml" },
			`log.format: "xml" is not one of text, json`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.edit(&c)
			err := c.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.Listeners = []Listener{{Protocol: "http", Address: "nohost"}}
	c.Limits.MaxInflight = 0
	c.Log.Format = ""
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil")
	}
	for _, key := range []string{"listeners[0].protocol:", "listeners[0].address:", "limits.max_inflight:", "log.format:"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("Validate() = %q, missing %s", err, key)
		}
	}
}

func TestParseListener(t *testing.T) {
	tests := []struct {
		in      string
		want    Listener
		wantErr string
	}{
		{"127.0.0.1:1883", Listener{Protocol: "mqtt", Address: "127.0.0.1:1883"}, ""},
		{"mqtt://[::]:1883", Listener{Protocol: "mqtt", Address: "[::]:1883"}, ""},
		{"MQTT://:1883", Listener{Protocol: "mqtt", Address: ":1883"}, ""},
		{"mqtts://:8883", Listener{Protocol: "mqtts", Address: ":8883"}, ""},
		{"MQTTS://127.0.0.1:8883", Listener{Protocol: "mqtts", Address: "127.0.0.1:8883"}, ""},
		{"ws://:8083", Listener{Protocol: "ws", Address: ":8083"}, ""},
		{"WS://127.0.0.1:8083/mqtt", Listener{Protocol: "ws", Address: "127.0.0.1:8083", Path: "/mqtt"}, ""},
		{"wss://[::1]:8084/", Listener{Protocol: "wss", Address: "[::1]:8084", Path: "/"}, ""},
		{"ws://:8083/a?b", Listener{}, `"/a?b" is not a URL path; write one that starts with / and has no query, as in "/mqtt"`},
		{"mqtt://:1883/mqtt", Listener{}, `":1883/mqtt": port "1883/mqtt" is not a number 0..65535`},
		{"tcp://:1883", Listener{}, `"tcp" is not a protocol; use mqtt, mqtts, ws or wss`},
		{"1883", Listener{}, `"1883" is not host:port (as in "0.0.0.0:1883", "[::1]:1883" or ":1883")`},
	}
	for _, tt := range tests {
		got, err := ParseListener(tt.in)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if !reflect.DeepEqual(got, tt.want) || gotErr != tt.wantErr {
			t.Errorf("ParseListener(%q) = %+v, %q; want %+v, %q", tt.in, got, gotErr, tt.want, tt.wantErr)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:1883", true},
		{"127.1.2.3:1883", true},
		{"[::1]:1883", true},
		{"[::ffff:127.0.0.1]:1883", true},
		{"localhost:1883", true},
		{"LOCALHOST:1883", true},
		{":1883", false},
		{"0.0.0.0:1883", false},
		{"[::]:1883", false},
		{"192.168.1.2:1883", false},
		{"128.0.0.1:1883", false},
		{"localhost.example.com:1883", false},
		{"127.0.0.1", false}, // not host:port
	}
	for _, tt := range tests {
		if got := IsLoopback(tt.addr); got != tt.want {
			t.Errorf("IsLoopback(%q) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

func TestValidateAuthFiles(t *testing.T) {
	c := Default()
	c.Auth.PasswordFile, c.Auth.ACLFile = "/etc/baram/passwd", "/etc/baram/acl"
	if err := c.Validate(); err != nil {
		t.Errorf("Validate with both files: %v", err)
	}
	c.Auth.ACLFile = "/etc/baram/./passwd"
	want := `auth.acl_file: "/etc/baram/./passwd" is also auth.password_file`
	if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Validate = %v, want %s...", err, want)
	}
}

func TestCheckFilesAuth(t *testing.T) {
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	acl := filepath.Join(dir, "acl")
	for _, p := range []string{passwd, acl} {
		if err := os.WriteFile(p, nil, 0o600); err != nil { // empty is fine: no users, no topics
			t.Fatal(err)
		}
	}
	c := Default()
	c.Auth.PasswordFile, c.Auth.ACLFile = passwd, acl
	if err := c.CheckFiles(); err != nil {
		t.Errorf("CheckFiles with empty readable auth files: %v", err)
	}

	missing := filepath.Join(dir, "missing")
	c.Auth.PasswordFile, c.Auth.ACLFile = missing, dir
	wantCheckFiles(t, &c,
		"auth.password_file: cannot read "+missing+": no such file or directory",
		"auth.acl_file: cannot read "+dir+": it is a directory",
	)
}

// wantCheckFiles fails the test unless c.CheckFiles reports exactly the
// lines of want, in an error that wraps fs.ErrNotExist.
func wantCheckFiles(t *testing.T, c *Config, want ...string) {
	t.Helper()
	err := c.CheckFiles()
	if err == nil || !reflect.DeepEqual(strings.Split(err.Error(), "\n"), want) {
		t.Errorf("CheckFiles:\n got %v\nwant %s", err, strings.Join(want, "\n"))
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("CheckFiles error does not wrap fs.ErrNotExist: %v", err)
	}
}

// A listener's limits are its own, else the limits section's.
func TestListenerOptions(t *testing.T) {
	c := Default()
	c.Limits.ConnectRate, c.Limits.ConnectBurst = 50, 100
	zero, five := 0.0, 5.0
	for _, tt := range []struct {
		l          Listener
		max, burst int
		rate       float64
	}{
		{Listener{}, 0, 100, 50},
		{Listener{MaxConnections: 7, ConnectRate: &five}, 7, 100, 5},
		{Listener{ConnectRate: &zero, ConnectBurst: 3}, 0, 3, 0},
	} {
		lo := c.ListenerOptions(tt.l)
		if lo.MaxConnections != tt.max || lo.ConnectRate != tt.rate || lo.ConnectBurst != tt.burst {
			t.Errorf("ListenerOptions(%+v) = %+v", tt.l, lo)
		}
	}
}
