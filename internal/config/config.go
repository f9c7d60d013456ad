// Package config holds baram's settings: their defaults, the YAML file
// that overrides them, validation with messages that name the offending
// key, and the mapping to broker.Options.
//
// Settings come from three layers, later ones winning: Default, the file
// read by Load, and command-line flags applied by the cli package. Call
// Validate once all layers are applied.
package config

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/listener"
)

// Config is the complete set of settings of one baram process.
type Config struct {
	// Listeners are the addresses to accept clients on. Empty means the
	// default listeners (see DefaultListeners).
	Listeners []Listener `yaml:"listeners"`
	// Auth decides who may connect.
	Auth Auth `yaml:"auth"`
	// Limits bound what clients may use.
	Limits Limits `yaml:"limits"`
	// Sessions tune persistent sessions.
	Sessions Sessions `yaml:"sessions"`
	// Store is where sessions, queues and retained messages are kept.
	Store Store `yaml:"store"`
	// Log configures the process log.
	Log Log `yaml:"log"`
	// Admin is the administration HTTP listener (admin.go).
	Admin Admin `yaml:"admin"`
	// SysInterval is how often the $SYS topics are published; 0 turns
	// $SYS off.
	SysInterval Duration `yaml:"sys_interval"`
}

// Listener is one address clients connect to.
type Listener struct {
	// Protocol is "mqtt" (plain TCP), "mqtts" (MQTT over TLS, usually on
	// port 8883), "ws" (MQTT over WebSocket, as on port 8083) or "wss"
	// (MQTT over WebSocket over TLS, as on port 8084). Load fills an empty
	// protocol with "mqtt".
	Protocol string `yaml:"protocol"`
	// Address is host:port, as in "0.0.0.0:1883", "[::1]:1883" or
	// ":1883" (every interface).
	Address string `yaml:"address"`
	// TLS is the certificate setup of an mqtts or wss listener; nil when
	// the listener has no tls block (which those must have).
	TLS *TLS `yaml:"tls"`
	// Path is the URL path of a ws or wss listener, as in "/mqtt" (the
	// default when empty); other paths are answered 404.
	Path string `yaml:"path"`
	// AllowedOrigins are the web origins, besides the listener's own host,
	// whose pages may open a ws or wss connection: host patterns as in
	// "*.example.com", or "https://app.example.com" to match the scheme
	// too (path.Match syntax, case-insensitive). Empty admits only pages
	// of the same host, and clients outside browsers, which send no
	// Origin.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// TrustedProxies are the IP addresses or CIDR ranges of the proxies
	// in front of this listener, as in "10.0.0.0/8". On a ws or wss
	// listener, their X-Forwarded-For (or X-Real-IP) header names the
	// client; with ProxyProtocol, they must send a PROXY header. Headers
	// from other addresses are ignored, or refused.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// ProxyProtocol reads a PROXY protocol header (v1 or v2) at the start
	// of each connection from TrustedProxies, which must send one, and
	// takes the client address it names; connections from other addresses
	// must not send one. Any protocol; the header comes before TLS.
	ProxyProtocol bool `yaml:"proxy_protocol"`
	// MaxConnections caps this listener's concurrent connections; 0 is
	// unlimited. Past it: CONNACK 0x97 (3.x: 3).
	MaxConnections int `yaml:"max_connections"`
	// ConnectRate caps the new connections per second on this listener;
	// nil takes limits.connect_rate, 0 is unlimited. ConnectBurst is how
	// many may come at once; 0 takes limits.connect_burst.
	ConnectRate  *float64 `yaml:"connect_rate"`
	ConnectBurst int      `yaml:"connect_burst"`
}

// TLS is a listener's tls block; see listener.TLSConfig for what each
// setting does. File names are used as given, so relative ones are
// relative to the working directory.
type TLS struct {
	// Cert and Key are the PEM files of the server certificate chain
	// (leaf first) and its private key: the default certificate.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// Certs are more certificate/key pairs, chosen by the server name a
	// client asks for (SNI).
	Certs []CertKey `yaml:"certs"`
	// ClientCA is the PEM file of the CAs that sign client certificates;
	// empty asks clients for none.
	ClientCA string `yaml:"client_ca"`
	// RequireClientCert refuses clients without a valid certificate.
	RequireClientCert bool `yaml:"require_client_cert"`
	// CRL is a file of revocation lists for client certificates.
	CRL string `yaml:"crl"`
	// MinVersion is the lowest TLS version accepted: "1.2" (the default
	// when empty) or "1.3".
	MinVersion string `yaml:"min_version"`
	// CipherSuites are the TLS 1.2 cipher suites allowed, as crypto/tls
	// names them; empty keeps Go's defaults.
	CipherSuites []string `yaml:"cipher_suites"`
	// IdentityAsUsername takes the username from the client certificate:
	// "cn", "san_dns", "san_email" or "subject"; empty for none.
	IdentityAsUsername string `yaml:"identity_as_username"`
}

// CertKey is one certificate chain and key of TLS.Certs, as PEM files.
type CertKey struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// ListenerConfig returns t as the listener package takes it. The files
// are reloaded when they change (checked every second) and on SIGHUP.
func (t *TLS) ListenerConfig() listener.TLSConfig {
	lc := listener.TLSConfig{
		Cert:               t.Cert,
		Key:                t.Key,
		ClientCA:           t.ClientCA,
		RequireClientCert:  t.RequireClientCert,
		CRL:                t.CRL,
		MinVersion:         t.MinVersion,
		CipherSuites:       slices.Clone(t.CipherSuites),
		IdentityAsUsername: t.IdentityAsUsername,
	}
	for _, ck := range t.Certs {
		lc.Certs = append(lc.Certs, listener.CertKey{Cert: ck.Cert, Key: ck.Key})
	}
	return lc
}

// Auth holds the authentication settings.
type Auth struct {
	// AllowAnonymous admits clients that send no username. When nil,
	// anonymous clients are admitted only if every listener is on a
	// loopback address (see Config.AnonymousAllowed).
	AllowAnonymous *bool `yaml:"allow_anonymous"`
	// PasswordFile is a Mosquitto-format password file ("user:hash"
	// lines, as 'baram passwd' or mosquitto_passwd write them); empty for
	// none. A client that sends a username must match a line of it;
	// clients without one are left to AllowAnonymous. It is reloaded when
	// it changes and on SIGHUP.
	PasswordFile string `yaml:"password_file"`
	// ACLFile is a Mosquitto-format ACL file that limits what each client
	// may publish and subscribe to; empty lets every client use every
	// topic. It is reloaded when it changes and on SIGHUP.
	ACLFile string `yaml:"acl_file"`
	// HTTP asks a web service about each client; nil for none.
	HTTP *HTTPAuth `yaml:"http"`
	// HTTPACL asks a web service before each publish and subscribe (on top
	// of acl_file); the same keys as http; nil for none.
	HTTPACL *HTTPAuth `yaml:"http_acl"`
	// JWT accepts clients whose password is a signed JSON Web Token; nil
	// for none.
	JWT *JWTAuth `yaml:"jwt"`
	// Chain is the order in which the configured authenticators, named
	// AuthJWT, AuthPasswordFile and AuthHTTP, are asked; each may answer
	// or pass the client on to the next. Empty means DefaultAuthChain,
	// keeping those configured.
	Chain []string `yaml:"chain"`
}

// The authenticator names of Auth.Chain.
const (
	AuthJWT          = "jwt"
	AuthPasswordFile = "password_file"
	AuthHTTP         = "http"
)

// DefaultAuthChain is the order of the authenticators when auth.chain is
// not set.
var DefaultAuthChain = []string{AuthJWT, AuthPasswordFile, AuthHTTP}

// HTTPAuth configures the HTTP authenticator (see auth.HTTPConfig).
type HTTPAuth struct {
	URL      string            `yaml:"url"`
	Timeout  Duration          `yaml:"timeout"`
	CacheTTL Duration          `yaml:"cache_ttl"`
	Headers  map[string]string `yaml:"headers"`
}

// JWTAuth configures the JWT authenticator (see auth.JWTConfig).
type JWTAuth struct {
	Algorithms     []string `yaml:"algorithms"`
	HMACSecretFile string   `yaml:"hmac_secret_file"`
	PublicKeyFile  string   `yaml:"public_key_file"`
	JWKSURL        string   `yaml:"jwks_url"`
	JWKSRefresh    Duration `yaml:"jwks_refresh"`
	Audience       string   `yaml:"audience"`
	Issuer         string   `yaml:"issuer"`
	UsernameClaim  string   `yaml:"username_claim"`
	Leeway         Duration `yaml:"leeway"`
}

// configured reports whether the authenticator called name is set up.
func (a *Auth) configured(name string) bool {
	switch name {
	case AuthJWT:
		return a.JWT != nil
	case AuthPasswordFile:
		return a.PasswordFile != ""
	case AuthHTTP:
		return a.HTTP != nil
	}
	return false
}

// ChainOrder returns the names of the configured authenticators in the
// order they are asked: Chain if set (Validate checks that it names each
// configured one once), else those of DefaultAuthChain that are configured.
func (a *Auth) ChainOrder() []string {
	if len(a.Chain) > 0 {
		return slices.Clone(a.Chain)
	}
	var order []string
	for _, name := range DefaultAuthChain {
		if a.configured(name) {
			order = append(order, name)
		}
	}
	return order
}

// Limits bound the resources one client or the whole broker may use.
type Limits struct {
	// MaxPacketSize is the largest packet accepted from, and announced
	// to, clients.
	MaxPacketSize Size `yaml:"max_packet_size"`
	// MaxConnections caps concurrent client connections; 0 is unlimited.
	MaxConnections int `yaml:"max_connections"`
	// MaxInflight is the receive maximum: unacknowledged QoS 1 and 2
	// messages per direction and client.
	MaxInflight int `yaml:"max_inflight"`
	// MaxQueuedMessages caps one session's queue of messages waiting
	// for an inflight slot or an offline client; 0 is unlimited.
	MaxQueuedMessages int `yaml:"max_queued_messages"`
	// MaxQueuedBytes caps the payload bytes of that queue; 0 is unlimited.
	MaxQueuedBytes Size `yaml:"max_queued_bytes"`
	// KeepaliveMax is the largest keep alive, in seconds, granted to a
	// client.
	KeepaliveMax int `yaml:"keepalive_max"`
	// ConnectTimeout closes connections that send no CONNECT in time.
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// MaxTopicAlias is the topic alias maximum announced to MQTT 5
	// clients; 0 disables topic aliases.
	MaxTopicAlias int `yaml:"max_topic_alias"`
	// ConnectRate caps the new connections per second on each listener
	// that sets no connect_rate of its own; 0 is unlimited. ConnectBurst
	// is how many may come at once; 0 is a second's worth.
	ConnectRate  float64 `yaml:"connect_rate"`
	ConnectBurst int     `yaml:"connect_burst"`
	// ConnectRatePerIP caps the new connections per second from one
	// source address (IPv6: one /64); 0 is unlimited. ConnectBurstPerIP
	// is how many may come at once; 0 is a second's worth.
	ConnectRatePerIP  float64 `yaml:"connect_rate_per_ip"`
	ConnectBurstPerIP int     `yaml:"connect_burst_per_ip"`
	// PublishRate caps the PUBLISH packets per second of one client, and
	// PublishBytesRate their bytes per second; 0 is unlimited. Past a
	// second's burst and a second's tolerance the client is disconnected.
	PublishRate      float64 `yaml:"publish_rate"`
	PublishBytesRate Size    `yaml:"publish_bytes_rate"`
	// FlapCount bans a client id that connects more than this many times
	// within FlapWindow, for FlapBan; 0 disables it.
	FlapCount  int      `yaml:"flap_count"`
	FlapWindow Duration `yaml:"flap_window"`
	FlapBan    Duration `yaml:"flap_ban"`
	// AuthFailures failed authentications from one address within
	// AuthFailureWindow refuse its CONNECTs for AuthBackoff, doubled on
	// each repeat up to AuthBackoffMax; 0 disables it.
	AuthFailures      int      `yaml:"auth_failures"`
	AuthFailureWindow Duration `yaml:"auth_failure_window"`
	AuthBackoff       Duration `yaml:"auth_backoff"`
	AuthBackoffMax    Duration `yaml:"auth_backoff_max"`
}

// Sessions holds the persistent session settings.
type Sessions struct {
	// Expiry is how long an offline MQTT 3.1.1 persistent session is
	// kept, and the cap on the expiry an MQTT 5 client asks for. 0 means
	// sessions never expire and MQTT 5 requests are not capped.
	Expiry Duration `yaml:"expiry"`
	// QueueQoS0 queues QoS 0 messages for offline persistent sessions.
	QueueQoS0 bool `yaml:"queue_qos0"`
}

// Store holds the embedded store settings.
type Store struct {
	// Type is the engine: auto (what the directory holds, else the
	// platform default: pebble on 64-bit, bolt on 32-bit), pebble, bolt,
	// or memory (nothing survives a restart).
	Type string `yaml:"type"`
	// Dir is the data directory; unused with type memory.
	Dir string `yaml:"dir"`
	// Sync is when stored messages reach stable storage: always (before
	// every acknowledgement), batch (every SyncInterval) or none (when
	// the operating system decides).
	Sync string `yaml:"sync"`
	// SyncInterval is how often sync: batch syncs.
	SyncInterval Duration `yaml:"sync_interval"`
}

// Log configures the process log.
type Log struct {
	// Level is the least severe level written: debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text (logfmt-style key=value) or json.
	Format string `yaml:"format"`
}

// Protocol words of Listener.Protocol.
const (
	ProtocolMQTT  = "mqtt"
	ProtocolMQTTS = "mqtts"
	ProtocolWS    = "ws"
	ProtocolWSS   = "wss"
)

// Engines of Store.Type; they are the names package store/open accepts.
const (
	StoreAuto   = "auto"
	StorePebble = "pebble"
	StoreBolt   = "bolt"
	StoreMemory = "memory"
)

// Words of Store.Sync.
const (
	SyncAlways = "always"
	SyncBatch  = "batch"
	SyncNone   = "none"
)

// MaxPacketSizeLimit is the largest packet MQTT can describe: the
// remaining length is at most 268435455, so 256MiB-1.
const MaxPacketSizeLimit Size = 268435455

// Default returns the settings used when neither a file nor a flag sets
// them. Its Listeners is empty, which means DefaultListeners.
func Default() Config {
	return Config{
		Limits: Limits{
			MaxPacketSize:     1 * MiB,
			MaxConnections:    0,
			MaxInflight:       32,
			MaxQueuedMessages: 1000,
			MaxQueuedBytes:    0,
			KeepaliveMax:      65535,
			ConnectTimeout:    Duration(10 * time.Second),
			MaxTopicAlias:     64,
			FlapCount:         30,
			FlapWindow:        Duration(10 * time.Second),
			FlapBan:           Duration(time.Minute),
			AuthFailures:      10,
			AuthFailureWindow: Duration(time.Minute),
			AuthBackoff:       Duration(30 * time.Second),
			AuthBackoffMax:    Duration(10 * time.Minute),
		},
		Sessions: Sessions{Expiry: 0, QueueQoS0: false},
		Store: Store{
			Type:         StoreAuto,
			Dir:          "./data",
			Sync:         SyncAlways,
			SyncInterval: Duration(100 * time.Millisecond),
		},
		Log:         Log{Level: "info", Format: "text"},
		Admin:       Admin{Address: DefaultAdminAddress},
		SysInterval: Duration(DefaultSysInterval),
	}
}

// DefaultListeners returns the listeners used when none are configured:
// MQTT on the IPv4 and IPv6 loopback addresses, port 1883.
func DefaultListeners() []Listener {
	return []Listener{
		{Protocol: ProtocolMQTT, Address: "127.0.0.1:1883"},
		{Protocol: ProtocolMQTT, Address: "[::1]:1883"},
	}
}

// EffectiveListeners returns the listeners to open: c.Listeners, or
// DefaultListeners when it is empty, in which case isDefault is true.
func (c *Config) EffectiveListeners() (listeners []Listener, isDefault bool) {
	if len(c.Listeners) == 0 {
		return DefaultListeners(), true
	}
	return c.Listeners, false
}

// AnonymousAllowed reports whether clients without a username are
// admitted: Auth.AllowAnonymous when set; otherwise, secure by default,
// only when every listener is on a loopback address, so a broker
// reachable from the network never starts open by accident.
func (c *Config) AnonymousAllowed() bool {
	if c.Auth.AllowAnonymous != nil {
		return *c.Auth.AllowAnonymous
	}
	ls, _ := c.EffectiveListeners()
	for _, l := range ls {
		if !IsLoopback(l.Address) {
			return false
		}
	}
	return true
}

// SlogLevel returns the slog level named by l.Level (case-insensitive).
func (l Log) SlogLevel() (slog.Level, error) {
	switch strings.ToLower(l.Level) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q is not one of debug, info, warn, error", l.Level)
}

// SyncMode returns the broker's sync mode named by s.Sync.
func (s Store) SyncMode() (broker.SyncMode, error) {
	switch s.Sync {
	case SyncAlways:
		return broker.SyncAlways, nil
	case SyncBatch:
		return broker.SyncBatch, nil
	case SyncNone:
		return broker.SyncNone, nil
	}
	return 0, fmt.Errorf("%q is not one of always, batch, none", s.Sync)
}

// CheckStoreType reports whether t is a known store engine: auto,
// pebble, bolt or memory.
func CheckStoreType(t string) error {
	switch t {
	case StoreAuto, StorePebble, StoreBolt, StoreMemory:
		return nil
	}
	return fmt.Errorf("%q is not one of auto, pebble, bolt, memory", t)
}

// BrokerOptions maps c to the broker's options, with logger as the
// broker's logger. c must have passed Validate, which guarantees that
// every value fits its option. Options that have no setting yet
// (WriteTimeout, MaxOutboundBytes, Users) are left zero for the broker's
// defaults. Store, Authenticator and ACL are left nil: the caller opens
// the store that c.Store describes and watches Auth.PasswordFile and
// Auth.ACLFile, which need a context to stop with.
func (c *Config) BrokerOptions(logger *slog.Logger) broker.Options {
	l := c.Limits
	sync, _ := c.Store.SyncMode() // Validate checked it
	return broker.Options{
		Logger:            logger,
		AllowAnonymous:    c.AnonymousAllowed(),
		MaxPacketSize:     uint32(l.MaxPacketSize),
		MaxConnections:    l.MaxConnections,
		MaxInflight:       uint16(l.MaxInflight),
		MaxQueuedMessages: l.MaxQueuedMessages,
		MaxQueuedBytes:    int64(l.MaxQueuedBytes),
		QueueQoS0:         c.Sessions.QueueQoS0,
		KeepAliveMax:      uint16(l.KeepaliveMax),
		ConnectTimeout:    time.Duration(l.ConnectTimeout),
		SessionExpiry:     time.Duration(c.Sessions.Expiry),
		MaxTopicAlias:     uint16(l.MaxTopicAlias),
		Sync:              sync,
		SyncInterval:      time.Duration(c.Store.SyncInterval),

		ConnectRatePerIP:  l.ConnectRatePerIP,
		ConnectBurstPerIP: l.ConnectBurstPerIP,
		PublishRate:       l.PublishRate,
		PublishBytesRate:  float64(l.PublishBytesRate),
		FlapCount:         l.FlapCount,
		FlapWindow:        time.Duration(l.FlapWindow),
		FlapBan:           time.Duration(l.FlapBan),
		AuthFailures:      l.AuthFailures,
		AuthFailureWindow: time.Duration(l.AuthFailureWindow),
		AuthBackoff:       time.Duration(l.AuthBackoff),
		AuthBackoffMax:    time.Duration(l.AuthBackoffMax),
	}
}

// ListenerOptions returns the limits of the listener l as the broker
// takes them: its own, or the limits section's where it sets none. The
// caller adds the name and identity.
func (c *Config) ListenerOptions(l Listener) broker.ListenerOptions {
	lo := broker.ListenerOptions{
		MaxConnections: l.MaxConnections,
		ConnectRate:    c.Limits.ConnectRate,
		ConnectBurst:   c.Limits.ConnectBurst,
	}
	if l.ConnectRate != nil {
		lo.ConnectRate = *l.ConnectRate
	}
	if l.ConnectBurst > 0 {
		lo.ConnectBurst = l.ConnectBurst
	}
	return lo
}
