package broker

import (
	"context"
	"log/slog"
	"time"

	"github.com/baram-mqtt/baram/internal/acl"
	"github.com/baram-mqtt/baram/internal/auth"
	"github.com/baram-mqtt/baram/internal/store"
)

// Options configures a Broker. A zero field takes its value from Defaults
// unless its comment gives zero a meaning of its own (unlimited, none).
type Options struct {
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger

	// AllowAnonymous admits clients that send no username.
	AllowAnonymous bool
	// Users, when not nil, maps usernames to passwords for a simple check
	// (the password file and other authenticators come later).
	Users map[string]string

	// MaxPacketSize is the largest packet accepted from, and announced to,
	// clients, in bytes.
	MaxPacketSize uint32
	// MaxConnections caps concurrent client connections; 0 is unlimited.
	MaxConnections int
	// MaxInflight is the receive maximum: unacknowledged QoS 1/2 messages
	// per direction and client.
	MaxInflight uint16
	// MaxQueuedMessages caps a session's queue of messages waiting for an
	// inflight slot or for the client to come back; 0 is unlimited.
	MaxQueuedMessages int
	// MaxQueuedBytes caps the payload bytes of that queue; 0 is unlimited.
	MaxQueuedBytes int64
	// QueueQoS0 queues QoS 0 messages for offline persistent sessions.
	QueueQoS0 bool
	// KeepAliveMax is the largest keep alive granted; a client asking more
	// (or 0, in v5) is told the server keep alive.
	KeepAliveMax uint16
	// ConnectTimeout closes connections that send no CONNECT in time.
	ConnectTimeout time.Duration
	// SessionExpiry is how long an offline 3.1.1 persistent session lives,
	// and the cap on what v5 clients ask; 0 means forever for 3.1.1 and no
	// cap for v5.
	SessionExpiry time.Duration
	// MaxTopicAlias is the topic alias maximum announced to v5 clients; 0
	// accepts no aliases.
	MaxTopicAlias uint16
	// WriteTimeout bounds one socket write; a client that does not read for
	// that long is cut off.
	WriteTimeout time.Duration
	// ParkAfter is how long a plain TCP connection may be quiet before it
	// gives up its goroutine (Linux): parked, an idle client costs a few
	// KB, and a client that talks more often never parks. Negative: never
	// park.
	ParkAfter time.Duration
	// MaxOutboundBytes caps bytes waiting in one connection's writer:
	// beyond it QoS 0 messages to the client are dropped and the broker
	// stops reading from it until it catches up.
	MaxOutboundBytes int

	// ConnectRatePerIP caps new connections per second from one source
	// address (IPv6: one /64); 0 is unlimited. ConnectBurstPerIP is how
	// many may come at once; 0 is a second's worth. Past it: CONNACK 0x9F
	// (3.x: 3).
	ConnectRatePerIP  float64
	ConnectBurstPerIP int
	// PublishRate caps the PUBLISH packets per second of one connection,
	// and PublishBytesRate their bytes per second; 0 is unlimited. A
	// client may burst a second's worth and run a second more into debt;
	// past that it is disconnected (v5: DISCONNECT 0x96).
	PublishRate      float64
	PublishBytesRate float64
	// FlapCount bans a client id that connects more than this many times
	// within FlapWindow, for FlapBan: its CONNECTs get CONNACK 0x8A (3.x:
	// 5). 0 disables it (baram serve's default is 30 in 10s, banned 1m);
	// zero durations take Defaults.
	FlapCount  int
	FlapWindow time.Duration
	FlapBan    time.Duration
	// AuthFailures failed authentications from one source address within
	// AuthFailureWindow refuse its CONNECTs (0x87, 3.x: 5) for
	// AuthBackoff, doubled on each repeat up to AuthBackoffMax. 0 disables
	// it (baram serve's default is 10 in 1m, backing off 30s); zero
	// durations take Defaults.
	AuthFailures      int
	AuthFailureWindow time.Duration
	AuthBackoff       time.Duration
	AuthBackoffMax    time.Duration

	// Authenticator decides CONNECTs before the anonymous and Users
	// rules; its Ignore falls through to them. nil: only those rules.
	Authenticator auth.Authenticator
	// Scram returns the SCRAM-SHA-256 credential of a user, for MQTT 5
	// enhanced authentication with the Authentication Method
	// "SCRAM-SHA-256" (at CONNECT and on re-authentication); ok=false for
	// an unknown user. nil: no enhanced authentication (CONNACK 0x8C).
	Scram func(user string) (cred auth.ScramCredential, ok bool)
	// AuthTimeout bounds one Authenticate call; default 10s.
	AuthTimeout time.Duration
	// ACL returns the access rules in force (reloadable); nil or a nil
	// result allows everything.
	ACL func() *acl.ACL
	// Authorizer, when set, is asked too before a publish or subscribe is
	// accepted (an HTTP hook); both it and the ACL must allow.
	Authorizer Authorizer

	// Store keeps sessions, queues and retained messages; nil keeps them
	// in memory only (a memstore). The broker does not close it.
	Store store.Store
	// Sync is when commits reach stable storage before acknowledgements.
	Sync SyncMode
	// SyncInterval is how often SyncBatch syncs; default 100ms.
	SyncInterval time.Duration
}

// Authorizer decides topic access outside the ACL file; access is
// auth.AccessPublish or auth.AccessSubscribe. An error is a refusal.
type Authorizer interface {
	Allowed(ctx context.Context, clientID, username, topic, access string) (bool, error)
}

// SyncMode says when the store is synced.
type SyncMode int

// Sync modes.
const (
	// SyncAlways acknowledges a QoS 1/2 message only after the batch that
	// stored it is fsynced: nothing acknowledged is lost, even on power
	// failure.
	SyncAlways SyncMode = iota
	// SyncBatch acknowledges after the write and fsyncs every
	// SyncInterval: a crash of the machine can lose that much.
	SyncBatch
	// SyncNone never fsyncs explicitly; the operating system decides.
	SyncNone
)

// Defaults are the values used for zero Options fields.
var Defaults = Options{
	MaxPacketSize:     1 << 20,
	MaxInflight:       32,
	MaxQueuedMessages: 1000,
	KeepAliveMax:      65535,
	ConnectTimeout:    10 * time.Second,
	MaxTopicAlias:     64,
	WriteTimeout:      30 * time.Second,
	ParkAfter:         2 * time.Second,
	MaxOutboundBytes:  4 << 20,
	FlapWindow:        10 * time.Second,
	FlapBan:           time.Minute,
	AuthFailureWindow: time.Minute,
	AuthBackoff:       30 * time.Second,
	AuthBackoffMax:    10 * time.Minute,
}

// withDefaults fills zero fields from Defaults.
func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxPacketSize == 0 {
		o.MaxPacketSize = Defaults.MaxPacketSize
	}
	if o.MaxInflight == 0 {
		o.MaxInflight = Defaults.MaxInflight
	}
	if o.KeepAliveMax == 0 {
		o.KeepAliveMax = Defaults.KeepAliveMax
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = Defaults.ConnectTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = Defaults.WriteTimeout
	}
	if o.ParkAfter == 0 {
		o.ParkAfter = Defaults.ParkAfter
	}
	if o.AuthTimeout == 0 {
		o.AuthTimeout = 10 * time.Second
	}
	if o.MaxOutboundBytes == 0 {
		o.MaxOutboundBytes = Defaults.MaxOutboundBytes
	}
	return o.limitDefaults()
}

// limitDefaults fills the zero abuse-limit fields from Defaults.
func (o Options) limitDefaults() Options {
	d := &Defaults
	if o.FlapWindow <= 0 {
		o.FlapWindow = d.FlapWindow
	}
	if o.FlapBan <= 0 {
		o.FlapBan = d.FlapBan
	}
	if o.AuthFailureWindow <= 0 {
		o.AuthFailureWindow = d.AuthFailureWindow
	}
	if o.AuthBackoff <= 0 {
		o.AuthBackoff = d.AuthBackoff
	}
	if o.AuthBackoffMax <= 0 {
		o.AuthBackoffMax = max(d.AuthBackoffMax, o.AuthBackoff)
	}
	o.AuthBackoffMax = max(o.AuthBackoffMax, o.AuthBackoff)
	return o
}
