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

func TestLoadExampleFile(t *testing.T) {
	got, err := Load("testdata/baram.yaml")
	if err != nil {
		t.Fatal(err)
	}
	no, rate := false, 20.0
	want := Config{
		Listeners: []Listener{
			{Protocol: "mqtt", Address: "0.0.0.0:1883"},
			{Protocol: "mqtt", Address: "[::]:1884", MaxConnections: 500, ConnectRate: &rate, ConnectBurst: 40},
			{Protocol: "mqtts", Address: "0.0.0.0:8883", TLS: &TLS{
				Cert:               "/etc/baram/server.pem",
				Key:                "/etc/baram/server.key",
				Certs:              []CertKey{{Cert: "/etc/baram/other.pem", Key: "/etc/baram/other.key"}},
				ClientCA:           "/etc/baram/clients-ca.pem",
				RequireClientCert:  true,
				CRL:                "/etc/baram/clients.crl",
				MinVersion:         "1.2",
				CipherSuites:       []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
				IdentityAsUsername: "cn",
			}},
		},
		Auth: Auth{AllowAnonymous: &no, PasswordFile: "/etc/baram/passwd", ACLFile: "/etc/baram/acl"},
		Limits: Limits{
			MaxPacketSize:     256 * KiB,
			MaxConnections:    10000,
			MaxInflight:       64,
			MaxQueuedMessages: 5000,
			MaxQueuedBytes:    64 * MiB,
			KeepaliveMax:      600,
			ConnectTimeout:    Duration(5 * time.Second),
			MaxTopicAlias:     16,
			ConnectRate:       100,
			ConnectBurst:      200,
			ConnectRatePerIP:  5,
			ConnectBurstPerIP: 10,
			PublishRate:       1000,
			PublishBytesRate:  1 * MiB,
			FlapCount:         20,
			FlapWindow:        Duration(30 * time.Second),
			FlapBan:           Duration(5 * time.Minute),
			AuthFailures:      5,
			AuthFailureWindow: Duration(2 * time.Minute),
			AuthBackoff:       Duration(time.Minute),
			AuthBackoffMax:    Duration(time.Hour),
		},
		Sessions: Sessions{Expiry: Duration(168 * time.Hour), QueueQoS0: true},
		Store:    Store{Type: "bolt", Dir: "/var/lib/baram", Sync: "batch", SyncInterval: Duration(250 * time.Millisecond)},
		Log:      Log{Level: "debug", Format: "json"},
		Admin: Admin{
			Address: "0.0.0.0:8080",
			Users: []AdminUser{{Username: "admin", Role: "admin",
				PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$f3wsMM9es6mr+4E1QCg+wQ$Z2DOzLy+jefUWyqzBLsgI2aar1y9e+UTktJa9ysGA5s"}},
			Tokens: []AdminToken{{TokenFile: "/etc/baram/admin-token", Role: "read"}},
			TLS:    &TLS{Cert: "/etc/baram/admin.pem", Key: "/etc/baram/admin.key"},
		},
		SysInterval: Duration(30 * time.Second),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load:\n got %+v\nwant %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if got.AnonymousAllowed() {
		t.Error("AnonymousAllowed() = true with allow_anonymous: false")
	}
}

func TestLoadNamesFileLineAndKey(t *testing.T) {
	_, err := Load("testdata/typo.yaml")
	want := `config testdata/typo.yaml: line 7: unknown key "max_packet_sise" in limits (known keys: max_packet_size, max_connections, max_inflight, max_queued_messages, max_queued_bytes, keepalive_max, connect_timeout, max_topic_alias, connect_rate, connect_burst, connect_rate_per_ip, connect_burst_per_ip, publish_rate, publish_bytes_rate, flap_count, flap_window, flap_ban, auth_failures, auth_failure_window, auth_backoff, auth_backoff_max)`
	if err == nil || err.Error() != want {
		t.Errorf("Load error:\n got %v\nwant %s", err, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "read config: open ") {
		t.Errorf("Load of a missing file: %v, want a wrapped fs.ErrNotExist", err)
	}
}

func TestLoadEmptyFileIsDefault(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil || !reflect.DeepEqual(got, Default()) {
		t.Errorf("Load(empty) = %+v, %v; want Default()", got, err)
	}
}

func TestParse(t *testing.T) {
	yes := true
	tests := []struct {
		name string
		yaml string
		edit func(*Config) // applied to Default() for the wanted result
	}{
		{"empty", "", nil},
		{"comments only", "# nothing\n", nil},
		{"empty document", "---\n", nil},
		{"null sections keep defaults", "limits:\nauth:\nlog: ~\n", nil},
		{"null value keeps default", "limits:\n  max_inflight: ~\n", nil},
		{"one value", "limits:\n  max_inflight: 100\n", func(c *Config) { c.Limits.MaxInflight = 100 }},
		{"size as integer", "limits:\n  max_packet_size: 65536\n", func(c *Config) { c.Limits.MaxPacketSize = 65536 }},
		{"size with unit", "limits:\n  max_queued_bytes: 2 MB\n", func(c *Config) { c.Limits.MaxQueuedBytes = 2000000 }},
		{"duration", "sessions:\n  expiry: 1h30m\n", func(c *Config) { c.Sessions.Expiry = Duration(90 * time.Minute) }},
		{"duration zero", "limits:\n  connect_timeout: 0\n", func(c *Config) { c.Limits.ConnectTimeout = 0 }},
		{"bool yes", "auth:\n  allow_anonymous: yes\n", func(c *Config) { c.Auth.AllowAnonymous = &yes }},
		{"auth files", "auth:\n  password_file: passwd\n  acl_file: acl\n", func(c *Config) { c.Auth.PasswordFile, c.Auth.ACLFile = "passwd", "acl" }},
		{"protocol lowercased and filled in", "listeners:\n  - protocol: MQTT\n    address: a:1\n  - address: b:2\n",
			func(c *Config) {
				c.Listeners = []Listener{{Protocol: "mqtt", Address: "a:1"}, {Protocol: "mqtt", Address: "b:2"}}
			}},
		{"empty listener list", "listeners: []\n", func(c *Config) { c.Listeners = []Listener{} }},
		{"store", "store:\n  type: memory\n  sync: none\n", func(c *Config) { c.Store.Type, c.Store.Sync = "memory", "none" }},
		{"anchors and aliases", "limits:\n  max_inflight: &n 77\n  max_queued_messages: *n\n",
			func(c *Config) { c.Limits.MaxInflight, c.Limits.MaxQueuedMessages = 77, 77 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			want := Default()
			if tt.edit != nil {
				tt.edit(&want)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("parse:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown top-level key", "log:\n  level: info\nfoo: 1\n",
			`line 3: unknown key "foo" (known keys: listeners, auth, limits, sessions, store, log, admin, sys_interval)`},
		{"unknown key in a listener", "listeners:\n  - address: a:1\n  - adress: b:2\n",
			`line 3: unknown key "adress" in listeners[1] (known keys: protocol, address, tls, path, allowed_origins, trusted_proxies, proxy_protocol, max_connections, connect_rate, connect_burst)`},
		{"unknown key in sessions", "sessions:\n  expire: 1h\n",
			`line 2: unknown key "expire" in sessions (known keys: expiry, queue_qos0)`},
		{"unknown key in store", "store:\n  data_dir: /tmp\n",
			`line 2: unknown key "data_dir" in store (known keys: type, dir, sync, sync_interval)`},
		{"bare sync interval", "store:\n  sync_interval: 100\n",
			`line 2: store.sync_interval: bare number 100 has no unit; write "100s" for seconds: expected a duration such as "10s", "1m30s" or "24h" (units ns, us, ms, s, m, h)`},
		{"key set twice", "limits:\n  max_inflight: 1\n  max_inflight: 2\n",
			`line 3: limits.max_inflight is set twice (first on line 2)`},
		{"section set twice", "log:\n  level: info\nlog:\n  level: debug\n",
			`line 3: log is set twice (first on line 1)`},
		{"merge key", "base: &b\n  level: info\n",
			`line 1: unknown key "base" (known keys: listeners, auth, limits, sessions, store, log, admin, sys_interval)`},
		{"merge key in section", "log:\n  <<: {level: info}\n",
			`line 2: merge keys (<<) are not supported in log`},
		{"not an integer", "limits:\n  max_inflight: lots\n",
			`line 2: limits.max_inflight: expected an integer, got "lots"`},
		{"fraction for an integer", "limits:\n  max_connections: 1.5\n",
			`line 2: limits.max_connections: expected an integer, got "1.5"`},
		{"list for an integer", "limits:\n  keepalive_max: [1]\n",
			`line 2: limits.keepalive_max: expected an integer, got a list`},
		{"not a bool", "auth:\n  allow_anonymous: maybe\n",
			`line 2: auth.allow_anonymous: expected true or false, got "maybe"`},
		{"mapping for a string", "log:\n  level: {a: b}\n",
			`line 2: log.level: expected a single value, got keys (a mapping)`},
		{"scalar for a section", "limits: 5\n",
			`line 1: limits: expected keys (key: value), got "5"`},
		{"list at top level", "- a\n",
			`line 1: the top level: expected keys (key: value), got a list`},
		{"mapping for listeners", "listeners:\n  address: a:1\n",
			`line 2: listeners: expected a list, got keys (a mapping)`},
		{"scalar for a listener", "listeners:\n  - a:1\n",
			`line 2: listeners[0]: expected keys (key: value), got "a:1"`},
		{"bad size", "limits:\n  max_packet_size: lots\n",
			`line 2: limits.max_packet_size: "lots": expected a size such as 65536, "64KiB" or "1MiB" (units B, KB, KiB, MB, MiB, GB, GiB)`},
		{"negative size", "limits:\n  max_queued_bytes: -1\n",
			`line 2: limits.max_queued_bytes: "-1": a size cannot be negative`},
		{"bare duration", "limits:\n  connect_timeout: 10\n",
			`line 2: limits.connect_timeout: bare number 10 has no unit; write "10s" for seconds: expected a duration such as "10s", "1m30s" or "24h" (units ns, us, ms, s, m, h)`},
		{"bad duration", "sessions:\n  expiry: forever\n",
			`line 2: sessions.expiry: "forever": expected a duration such as "10s", "1m30s" or "24h" (units ns, us, ms, s, m, h)`},
		{"second document", "log:\n  level: info\n---\nlog:\n  level: debug\n",
			`line 3: a second YAML document; a config file holds one`},
		{"syntax error", "limits:\n  max_inflight: 1\n max_queued_messages: 2\n",
			`yaml: line 2: did not find expected key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse([]byte(tt.yaml))
			if err == nil || err.Error() != tt.want {
				t.Errorf("parse error:\n got %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestParseWrapsValueErrors(t *testing.T) {
	_, err := parse([]byte("limits:\n  connect_timeout: x\n"))
	if !errors.Is(err, errDurationSyntax) {
		t.Errorf("parse error %v does not wrap errDurationSyntax", err)
	}
}
