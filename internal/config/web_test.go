package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestValidateWebAndProxy(t *testing.T) {
	ws := func(edit func(*Listener)) Listener {
		l := Listener{Protocol: ProtocolWS, Address: ":8083"}
		edit(&l)
		return l
	}
	mqtt := func(edit func(*Listener)) Listener {
		l := Listener{Protocol: ProtocolMQTT, Address: ":1883"}
		edit(&l)
		return l
	}
	tests := []struct {
		name string
		l    Listener
		want []string // nil for valid
	}{
		{"ws with everything", ws(func(l *Listener) {
			l.Path = "/mqtt/v1"
			l.AllowedOrigins = []string{"*.example.com", "https://app.example.org", "localhost:*"}
			l.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::ffff:198.51.100.0/120"}
			l.ProxyProtocol = true
		}), nil},
		{"mqtt with proxy_protocol", mqtt(func(l *Listener) {
			l.ProxyProtocol, l.TrustedProxies = true, []string{"127.0.0.1"}
		}), nil},
		{"mqtts with proxy_protocol", Listener{Protocol: ProtocolMQTTS, Address: ":8883", TLS: withCert(TLS{}),
			ProxyProtocol: true, TrustedProxies: []string{"10.1.2.3"}}, nil},
		{"ws trusted_proxies without proxy_protocol", ws(func(l *Listener) { l.TrustedProxies = []string{"10.0.0.1"} }), nil},

		{"path on mqtt", mqtt(func(l *Listener) { l.Path = "/mqtt" }),
			[]string{"listeners[0].path: only for ws and wss listeners; remove it, or set protocol: ws (or wss)"}},
		{"allowed_origins on mqtt", mqtt(func(l *Listener) { l.AllowedOrigins = []string{"example.com"} }),
			[]string{"listeners[0].allowed_origins: only for ws and wss listeners; remove it, or set protocol: ws (or wss)"}},
		{"relative path", ws(func(l *Listener) { l.Path = "mqtt" }),
			[]string{`listeners[0].path: "mqtt" is not a URL path; write one that starts with / and has no query, as in "/mqtt"`}},
		{"path with query", ws(func(l *Listener) { l.Path = "/mqtt?x=1" }),
			[]string{`listeners[0].path: "/mqtt?x=1" is not a URL path; write one that starts with / and has no query, as in "/mqtt"`}},
		{"bad origins", ws(func(l *Listener) { l.AllowedOrigins = []string{"ok.example", "[a-", " "} }), []string{
			`listeners[0].allowed_origins[1]: "[a-" is not a valid pattern (path.Match syntax, as in "*.example.com"): syntax error in pattern`,
			`listeners[0].allowed_origins[2]: empty; name a host pattern, as in "*.example.com" or "https://app.example.com"`,
		}},
		{"bad trusted_proxies", ws(func(l *Listener) {
			l.TrustedProxies = []string{"10.0.0.0/8", "10.0.0.1/8", "proxy.example", "10.0.0.0/33", "fe80::1%eth0"}
		}), []string{
			`listeners[0].trusted_proxies[1]: "10.0.0.1/8" has address bits set past its /8 prefix; write "10.0.0.0/8"`,
			`listeners[0].trusted_proxies[2]: "proxy.example" is not an IP address or CIDR range (as in "10.0.0.1", "10.0.0.0/8" or "2001:db8::/32")`,
			`listeners[0].trusted_proxies[3]: "10.0.0.0/33" is not an IP address or CIDR range (as in "10.0.0.1", "10.0.0.0/8" or "2001:db8::/32")`,
			`listeners[0].trusted_proxies[4]: "fe80::1%eth0" is not an IP address or CIDR range (as in "10.0.0.1", "10.0.0.0/8" or "2001:db8::/32")`,
		}},
		{"trusted_proxies unused", mqtt(func(l *Listener) { l.TrustedProxies = []string{"10.0.0.1"} }),
			[]string{"listeners[0].trusted_proxies: unused: it serves X-Forwarded-For on ws and wss listeners, and proxy_protocol; set proxy_protocol: true, or remove it"}},
		{"proxy_protocol without trusted_proxies", ws(func(l *Listener) { l.ProxyProtocol = true }),
			[]string{`listeners[0].proxy_protocol: needs trusted_proxies, the addresses of the proxies that send the PROXY header (as in ["10.0.0.0/8"]); a header from any other address is refused`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Listeners = []Listener{tt.l}
			var got []string
			if err := c.Validate(); err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestParseTrustedProxy(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.1":                "10.0.0.1/32",
		"10.0.0.0/8":              "10.0.0.0/8",
		"2001:db8::1":             "2001:db8::1/128",
		"2001:db8::/32":           "2001:db8::/32",
		"::ffff:10.0.0.1":         "10.0.0.1/32",
		"::ffff:198.51.100.0/120": "198.51.100.0/24",
		"0.0.0.0/0":               "0.0.0.0/0",
	} {
		got, err := ParseTrustedProxy(in)
		if err != nil || got != netip.MustParsePrefix(want) {
			t.Errorf("ParseTrustedProxy(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	l := Listener{TrustedProxies: []string{"10.0.0.1", "bad"}}
	if _, err := l.TrustedPrefixes(); err == nil || !strings.HasPrefix(err.Error(), `trusted_proxies[1]: "bad" is not`) {
		t.Errorf("TrustedPrefixes = %v", err)
	}
}

func TestWSPath(t *testing.T) {
	if got := (Listener{Protocol: ProtocolWS}).WSPath(); got != "/mqtt" {
		t.Errorf("default path %q, want /mqtt", got)
	}
	if got := (Listener{Protocol: ProtocolWS, Path: "/x"}).WSPath(); got != "/x" {
		t.Errorf("path %q, want /x", got)
	}
}

func TestParseWebListeners(t *testing.T) {
	got, err := parse([]byte(`listeners:
  - protocol: WS
    address: :8083
    path: /ws
    allowed_origins: ["*.example.com"]
    trusted_proxies:
      - 10.0.0.0/8
    proxy_protocol: true
  - protocol: wss
    address: :8084
    tls:
      cert: s.pem
      key: s.key
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Listener{
		{Protocol: "ws", Address: ":8083", Path: "/ws", AllowedOrigins: []string{"*.example.com"},
			TrustedProxies: []string{"10.0.0.0/8"}, ProxyProtocol: true},
		{Protocol: "wss", Address: ":8084", TLS: &TLS{Cert: "s.pem", Key: "s.key"}},
	}
	if !reflect.DeepEqual(got.Listeners, want) {
		t.Errorf("listeners = %+v, want %+v", got.Listeners, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}

	for _, tt := range []struct{ yaml, want string }{
		{"listeners:\n  - protocol: ws\n    proxy_protocol: yes please\n",
			`line 3: listeners[0].proxy_protocol: expected true or false, got "yes please"`},
		{"listeners:\n  - protocol: ws\n    trusted_proxies: 10.0.0.0/8\n",
			`line 3: listeners[0].trusted_proxies: expected a list, got "10.0.0.0/8"`},
		{"listeners:\n  - protocol: ws\n    allowed_origins:\n      - a\n      - [b]\n",
			`line 5: listeners[0].allowed_origins[1]: expected a single value, got a list`},
	} {
		if _, err := parse([]byte(tt.yaml)); err == nil || err.Error() != tt.want {
			t.Errorf("parse(%q):\n got %v\nwant %s", tt.yaml, err, tt.want)
		}
	}
}

func TestCheckFilesWSS(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "server.pem")
	if err := os.WriteFile(cert, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.key")
	c := Default()
	c.Listeners = []Listener{{Protocol: ProtocolWSS, Address: ":8084", TLS: &TLS{Cert: cert, Key: missing}}}
	want := "listeners[0].tls.key: cannot read " + missing + ": no such file or directory"
	if err := c.CheckFiles(); err == nil || err.Error() != want {
		t.Errorf("CheckFiles = %v, want %s", err, want)
	}
}
