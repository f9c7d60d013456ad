package broker

import "sync/atomic"

// Stats are the broker's running counters.
type Stats struct {
	received atomic.Uint64 // PUBLISH packets received from clients
	sent     atomic.Uint64 // PUBLISH packets queued to clients
	dropped  atomic.Uint64 // messages dropped by queue limits or slow clients

	commitNanos atomic.Uint64 // time spent in store commits of read batches
}

// Snapshot is a copy of the counters at one moment.
type Snapshot struct {
	Connections      int64
	MessagesReceived uint64
	MessagesSent     uint64
	MessagesDropped  uint64
	Retained         int
	Subscriptions    int
}

// Stats returns the current counters.
func (b *Broker) Stats() Snapshot {
	return Snapshot{
		Connections:      b.connected.Load(),
		MessagesReceived: b.stats.received.Load(),
		MessagesSent:     b.stats.sent.Load(),
		MessagesDropped:  b.stats.dropped.Load(),
		Retained:         b.retained.Len(),
		Subscriptions:    b.subs.Count(),
	}
}
