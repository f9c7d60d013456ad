package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/baram-mqtt/baram/internal/listener"
)

// mqtts returns an mqtts listener on :8883 with tls t.
func mqtts(t *TLS) Listener {
	return Listener{Protocol: ProtocolMQTTS, Address: ":8883", TLS: t}
}

// withCert returns t with cert and key set, so that only what a test
// case changes is wrong.
func withCert(t TLS) *TLS {
	t.Cert, t.Key = "server.pem", "server.key"
	return &t
}

func TestValidateTLS(t *testing.T) {
	const needCA = "needs tls.client_ca, the CAs that sign client certificates"
	const needPair = "missing; an mqtts listener needs tls.cert and tls.key, its certificate chain and private key (PEM files)"
	tests := []struct {
		name string
		l    Listener
		want []string // nil for valid
	}{
		{"cert and key", mqtts(withCert(TLS{})), nil},
		{"every setting", mqtts(withCert(TLS{
			Certs:    []CertKey{{Cert: "a.pem", Key: "a.key"}},
			ClientCA: "ca.pem", RequireClientCert: true, CRL: "ca.crl", MinVersion: "1.2",
			CipherSuites:       []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
			IdentityAsUsername: "subject",
		})), nil},
		{"min_version 1.3", mqtts(withCert(TLS{MinVersion: "1.3"})), nil},
		{"client_ca optional certificate", mqtts(withCert(TLS{ClientCA: "ca.pem"})), nil},
		{"every identity", mqtts(withCert(TLS{ClientCA: "ca.pem", IdentityAsUsername: "san_email"})), nil},

		{"mqtts without tls", mqtts(nil), []string{
			"listeners[0].tls.cert: " + needPair,
			"listeners[0].tls.key: " + needPair,
		}},
		{"mqtts with empty tls", mqtts(&TLS{}), []string{
			"listeners[0].tls.cert: " + needPair,
			"listeners[0].tls.key: " + needPair,
		}},
		{"mqtts without key", mqtts(&TLS{Cert: "server.pem"}), []string{"listeners[0].tls.key: " + needPair}},
		{"mqtts with only certs", mqtts(&TLS{Certs: []CertKey{{Cert: "a.pem", Key: "a.key"}}}), []string{
			"listeners[0].tls.cert: " + needPair,
			"listeners[0].tls.key: " + needPair,
		}},
		{"certs entry without key", mqtts(withCert(TLS{Certs: []CertKey{{Cert: "a.pem", Key: "a.key"}, {Cert: "b.pem"}}})),
			[]string{"listeners[0].tls.certs[1].key: missing; each entry of tls.certs needs cert and key"}},
		{"certs entry without cert", mqtts(withCert(TLS{Certs: []CertKey{{Key: "a.key"}}})),
			[]string{"listeners[0].tls.certs[0].cert: missing; each entry of tls.certs needs cert and key"}},
		{"tls on mqtt", Listener{Protocol: ProtocolMQTT, Address: ":1883", TLS: withCert(TLS{})},
			[]string{"listeners[0].tls: only for mqtts listeners; set protocol: mqtts to serve TLS, or remove tls"}},
		{"empty tls on mqtt", Listener{Protocol: ProtocolMQTT, Address: ":1883", TLS: &TLS{}},
			[]string{"listeners[0].tls: only for mqtts listeners; set protocol: mqtts to serve TLS, or remove tls"}},
		{"require_client_cert without client_ca", mqtts(withCert(TLS{RequireClientCert: true})),
			[]string{"listeners[0].tls.require_client_cert: " + needCA}},
		{"identity_as_username without client_ca", mqtts(withCert(TLS{IdentityAsUsername: "cn"})),
			[]string{"listeners[0].tls.identity_as_username: " + needCA}},
		{"crl without client_ca", mqtts(withCert(TLS{CRL: "ca.crl"})),
			[]string{"listeners[0].tls.crl: " + needCA}},
		{"unknown identity", mqtts(withCert(TLS{ClientCA: "ca.pem", IdentityAsUsername: "CN"})),
			[]string{`listeners[0].tls.identity_as_username: "CN" is not one of cn, san_dns, san_email, subject`}},
		{"min_version 1.1", mqtts(withCert(TLS{MinVersion: "1.1"})),
			[]string{`listeners[0].tls.min_version: "1.1" is not one of 1.2, 1.3`}},
		{"cipher_suites with 1.3", mqtts(withCert(TLS{MinVersion: "1.3", CipherSuites: []string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}})),
			[]string{"listeners[0].tls.cipher_suites: apply to TLS 1.2 only, and tls.min_version is 1.3 (TLS 1.3 suites are not configurable); remove one of them"}},
		{"bad cipher suites", mqtts(withCert(TLS{CipherSuites: []string{
			"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_FOO", "TLS_RSA_WITH_RC4_128_SHA", "TLS_AES_128_GCM_SHA256",
		}})), []string{
			`listeners[0].tls.cipher_suites[1]: "TLS_FOO" is not a cipher suite that Go knows (as in TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)`,
			`listeners[0].tls.cipher_suites[2]: "TLS_RSA_WITH_RC4_128_SHA" is insecure`,
			`listeners[0].tls.cipher_suites[3]: "TLS_AES_128_GCM_SHA256" is a TLS 1.3 suite, and those are not configurable`,
		}},
		{"everything wrong at once", mqtts(&TLS{RequireClientCert: true, IdentityAsUsername: "cn", MinVersion: "2"}), []string{
			"listeners[0].tls.cert: " + needPair,
			"listeners[0].tls.key: " + needPair,
			"listeners[0].tls.require_client_cert: " + needCA,
			"listeners[0].tls.identity_as_username: " + needCA,
			`listeners[0].tls.min_version: "2" is not one of 1.2, 1.3`,
		}},
		{"wss", Listener{Protocol: ProtocolWSS, Address: ":8084", TLS: withCert(TLS{ClientCA: "ca.pem", IdentityAsUsername: "cn"})}, nil},
		{"wss with empty tls", Listener{Protocol: ProtocolWSS, Address: ":8084", TLS: &TLS{RequireClientCert: true}}, []string{
			"listeners[0].tls.cert: missing; a wss listener needs tls.cert and tls.key, its certificate chain and private key (PEM files)",
			"listeners[0].tls.key: missing; a wss listener needs tls.cert and tls.key, its certificate chain and private key (PEM files)",
			"listeners[0].tls.require_client_cert: " + needCA,
		}},
		{"tls on ws", Listener{Protocol: ProtocolWS, Address: ":8083", TLS: withCert(TLS{})},
			[]string{"listeners[0].tls: only for wss and mqtts listeners; set protocol: wss to serve WebSocket over TLS, or remove tls"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Listeners = []Listener{tt.l}
			err := c.Validate()
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestValidateTLSNamesTheListener(t *testing.T) {
	c := Default()
	c.Listeners = []Listener{{Protocol: ProtocolMQTT, Address: ":1883"}, mqtts(&TLS{Cert: "server.pem"})}
	want := "listeners[1].tls.key: missing; an mqtts listener needs tls.cert and tls.key, its certificate chain and private key (PEM files)"
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate = %v, want %s", err, want)
	}
}

func TestParseTLS(t *testing.T) {
	got, err := parse([]byte(`listeners:
  - protocol: MQTTS
    address: :8883
    tls:
      cert: s.pem
      key: s.key
      min_version: 1.3
  - protocol: mqtt
    address: :1883
    tls:
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Listener{
		{Protocol: "mqtts", Address: ":8883", TLS: &TLS{Cert: "s.pem", Key: "s.key", MinVersion: "1.3"}},
		{Protocol: "mqtt", Address: ":1883"}, // a null tls is no tls
	}
	if !reflect.DeepEqual(got.Listeners, want) {
		t.Errorf("listeners = %+v, want %+v", got.Listeners, want)
	}

	for _, tt := range []struct{ yaml, want string }{
		{"listeners:\n  - protocol: mqtts\n    address: :8883\n    tls:\n      cert: a\n      client_cert: b\n",
			`line 6: unknown key "client_cert" in listeners[0].tls (known keys: cert, key, certs, client_ca, require_client_cert, crl, min_version, cipher_suites, identity_as_username)`},
		{"listeners:\n  - protocol: mqtts\n    tls:\n      certs:\n        - cert: a\n          keyfile: b\n",
			`line 6: unknown key "keyfile" in listeners[0].tls.certs[0] (known keys: cert, key)`},
		{"listeners:\n  - protocol: mqtts\n    tls: server.pem\n",
			`line 3: listeners[0].tls: expected keys (key: value), got "server.pem"`},
		{"listeners:\n  - protocol: mqtts\n    tls:\n      cipher_suites: TLS_AES_128_GCM_SHA256\n",
			`line 4: listeners[0].tls.cipher_suites: expected a list, got "TLS_AES_128_GCM_SHA256"`},
		{"listeners:\n  - protocol: mqtts\n    tls:\n      require_client_cert: sometimes\n",
			`line 4: listeners[0].tls.require_client_cert: expected true or false, got "sometimes"`},
		{"listeners:\n  - protocol: mqtts\n    tls:\n      cert: a\n      cert: b\n",
			`line 5: listeners[0].tls.cert is set twice (first on line 4)`},
	} {
		if _, err := parse([]byte(tt.yaml)); err == nil || err.Error() != tt.want {
			t.Errorf("parse(%q):\n got %v\nwant %s", tt.yaml, err, tt.want)
		}
	}
}

func TestListenerConfig(t *testing.T) {
	c := TLS{
		Cert: "s.pem", Key: "s.key",
		Certs:    []CertKey{{Cert: "a.pem", Key: "a.key"}, {Cert: "b.pem", Key: "b.key"}},
		ClientCA: "ca.pem", RequireClientCert: true, CRL: "ca.crl", MinVersion: "1.2",
		CipherSuites:       []string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
		IdentityAsUsername: "san_dns",
	}
	want := listener.TLSConfig{
		Cert: "s.pem", Key: "s.key",
		Certs:    []listener.CertKey{{Cert: "a.pem", Key: "a.key"}, {Cert: "b.pem", Key: "b.key"}},
		ClientCA: "ca.pem", RequireClientCert: true, CRL: "ca.crl", MinVersion: "1.2",
		CipherSuites:       []string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
		IdentityAsUsername: "san_dns",
	}
	if got := c.ListenerConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("ListenerConfig:\n got %+v\nwant %+v", got, want)
	}
}

func TestCheckFiles(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cert, key, ca := file("server.pem", "x"), file("server.key", "x"), file("ca.pem", "x")
	empty := file("empty.pem", "")
	missing := filepath.Join(dir, "missing.pem")

	c := Default()
	c.Listeners = []Listener{
		{Protocol: ProtocolMQTT, Address: ":1883"},
		mqtts(&TLS{Cert: cert, Key: key, ClientCA: ca}),
	}
	if err := c.CheckFiles(); err != nil {
		t.Errorf("CheckFiles with readable files: %v", err)
	}

	c.Listeners[1].TLS = &TLS{
		Cert: missing, Key: dir,
		Certs:    []CertKey{{Cert: cert, Key: key}, {Cert: cert, Key: missing}},
		ClientCA: empty, CRL: missing,
	}
	wantCheckFiles(t, &c,
		"listeners[1].tls.cert: cannot read "+missing+": no such file or directory",
		"listeners[1].tls.key: cannot read "+dir+": it is a directory",
		"listeners[1].tls.certs[1].key: cannot read "+missing+": no such file or directory",
		"listeners[1].tls.client_ca: cannot read "+empty+": it is empty",
		"listeners[1].tls.crl: cannot read "+missing+": no such file or directory",
	)

	// Files of listeners that are not mqtts are not looked at.
	c.Listeners = []Listener{{Protocol: ProtocolMQTT, Address: ":1883", TLS: &TLS{Cert: missing}}}
	if err := c.CheckFiles(); err != nil {
		t.Errorf("CheckFiles looked at a plain listener's tls: %v", err)
	}
}

func TestCheckReadableUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads files whatever their mode")
	}
	p := filepath.Join(t.TempDir(), "server.key")
	if err := os.WriteFile(p, []byte("x"), 0o000); err != nil {
		t.Fatal(err)
	}
	err := CheckReadable(p)
	if want := "cannot read " + p + ": permission denied"; err == nil || err.Error() != want || !errors.Is(err, fs.ErrPermission) {
		t.Errorf("CheckReadable = %v, want %s", err, want)
	}
}
