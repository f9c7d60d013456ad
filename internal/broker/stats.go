package broker

import "sync/atomic"

// Stats are the broker's running counters.
type Stats struct {
	received atomic.Uint64 // PUBLISH packets received from clients
	sent     atomic.Uint64 // PUBLISH packets queued to clients
	dropped  atomic.Uint64 // messages dropped by queue limits or slow clients

	commitNanos atomic.Uint64 // time spent in store commits of read batches

	// Abuse limits (limits.go).
	refusedMaxConns     atomic.Uint64 // Options.MaxConnections
	refusedListenerFull atomic.Uint64 // ListenerOptions.MaxConnections
	refusedRateListener atomic.Uint64 // ListenerOptions.ConnectRate
	refusedRateIP       atomic.Uint64 // Options.ConnectRatePerIP
	refusedBanned       atomic.Uint64 // CONNECTs of a client id banned for flapping
	refusedAuthBackoff  atomic.Uint64 // CONNECTs from an address in auth back-off
	flapBans            atomic.Uint64 // flapping bans begun
	authBackoffs        atomic.Uint64 // authentication back-offs begun
	rateDisconnects     atomic.Uint64 // clients cut off for their publish rate
}

// Snapshot is a copy of the counters at one moment.
type Snapshot struct {
	Connections      int64
	MessagesReceived uint64
	MessagesSent     uint64
	MessagesDropped  uint64
	Retained         int
	Subscriptions    int

	// Connections refused by the abuse limits, by limit.
	RefusedMaxConnections         uint64 // the broker's max_connections
	RefusedListenerMaxConnections uint64 // a listener's max_connections
	RefusedListenerConnectRate    uint64 // a listener's connect_rate
	RefusedConnectRatePerIP       uint64 // connect_rate_per_ip
	RefusedBanned                 uint64 // client id banned for flapping
	RefusedAuthBackoff            uint64 // address in authentication back-off
	FlapBans                      uint64 // flapping bans begun
	AuthBackoffs                  uint64 // authentication back-offs begun
	PublishRateDisconnects        uint64 // clients disconnected for publish_rate or publish_bytes_rate
}

// Stats returns the current counters.
func (b *Broker) Stats() Snapshot {
	s := &b.stats
	return Snapshot{
		Connections:      b.connected.Load(),
		MessagesReceived: s.received.Load(),
		MessagesSent:     s.sent.Load(),
		MessagesDropped:  s.dropped.Load(),
		Retained:         b.retained.Len(),
		Subscriptions:    b.subs.Count(),

		RefusedMaxConnections:         s.refusedMaxConns.Load(),
		RefusedListenerMaxConnections: s.refusedListenerFull.Load(),
		RefusedListenerConnectRate:    s.refusedRateListener.Load(),
		RefusedConnectRatePerIP:       s.refusedRateIP.Load(),
		RefusedBanned:                 s.refusedBanned.Load(),
		RefusedAuthBackoff:            s.refusedAuthBackoff.Load(),
		FlapBans:                      s.flapBans.Load(),
		AuthBackoffs:                  s.authBackoffs.Load(),
		PublishRateDisconnects:        s.rateDisconnects.Load(),
	}
}
