package broker

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
	"github.com/baram-mqtt/baram/internal/session"
	"github.com/baram-mqtt/baram/internal/store"
	"github.com/baram-mqtt/baram/internal/topic"
)

// This file is the read side the admin API, metrics and $SYS use: copies
// of broker state, never references into it.

// ClientInfo describes one session and, while it is online, its
// connection.
type ClientInfo struct {
	ClientID        string
	Username        string
	Connected       bool
	ProtocolVersion byte          // 3, 4 or 5: of the last connection
	Address         string        // remote address; "" while offline
	Listener        string        // listener name; "" while offline
	ConnectedAt     time.Time     // zero while offline
	DisconnectedAt  time.Time     // zero while online
	KeepAlive       time.Duration // zero while offline
	SessionExpiry   time.Duration // after disconnect; NeverExpires overrides
	NeverExpires    bool
	Durable         bool // kept in the store
	Subscriptions   []SubscriptionInfo
	Queued          int    // messages waiting for the client
	Inflight        int    // messages sent, not yet acknowledged
	Dropped         uint64 // messages the session's limits dropped
}

// SubscriptionInfo is one subscription of one client.
type SubscriptionInfo struct {
	ClientID          string
	Filter            string
	QoS               byte
	NoLocal           bool
	RetainAsPublished bool
	RetainHandling    byte
	SubscriptionID    uint32
}

// Clients returns every client session, online or not, sorted by client
// id. It walks every session: for the admin API, not the publish path.
func (b *Broker) Clients() []ClientInfo {
	var out []ClientInfo
	b.sessions.Range(func(_, v any) bool {
		if e := v.(*entry); !e.inproc {
			out = append(out, b.clientInfo(e))
		}
		return true
	})
	slices.SortFunc(out, func(a, b ClientInfo) int { return cmp.Compare(a.ClientID, b.ClientID) })
	return out
}

// Client returns one client's session.
func (b *Broker) Client(id string) (ClientInfo, bool) {
	e := b.lookup(id)
	if e == nil || e.inproc {
		return ClientInfo{}, false
	}
	return b.clientInfo(e), true
}

func (b *Broker) clientInfo(e *entry) ClientInfo {
	s := e.sess
	ci := ClientInfo{ClientID: s.ClientID, Username: s.Username(), Durable: s.SID() != 0, Dropped: s.Dropped()}
	ci.SessionExpiry, ci.NeverExpires = s.Expiry()
	ci.Queued, ci.Inflight = s.Queued()
	for f, o := range s.Subscriptions() {
		ci.Subscriptions = append(ci.Subscriptions, subscriptionInfo(s.ClientID, f, o))
	}
	slices.SortFunc(ci.Subscriptions, func(a, b SubscriptionInfo) int { return cmp.Compare(a.Filter, b.Filter) })
	b.mu.Lock()
	ci.ProtocolVersion = e.version
	if c := e.owner; c != nil {
		ci.Connected = true
		ci.Address = c.remote
		ci.Listener = c.ls.lo.Name
		ci.ConnectedAt = c.connectedAt
		ci.KeepAlive = c.keepAlive
		ci.ProtocolVersion = c.version
	} else {
		ci.DisconnectedAt = e.offline
	}
	b.mu.Unlock()
	return ci
}

func subscriptionInfo(client, filter string, o topic.Options) SubscriptionInfo {
	return SubscriptionInfo{ClientID: client, Filter: filter, QoS: o.QoS, NoLocal: o.NoLocal,
		RetainAsPublished: o.RetainAsPublished, RetainHandling: o.RetainHandling, SubscriptionID: o.ID}
}

// Subscriptions returns every client subscription, sorted by client id
// and filter.
func (b *Broker) Subscriptions() []SubscriptionInfo {
	var out []SubscriptionInfo
	b.sessions.Range(func(_, v any) bool {
		e := v.(*entry)
		if e.inproc {
			return true
		}
		for f, o := range e.sess.Subscriptions() {
			out = append(out, subscriptionInfo(e.sess.ClientID, f, o))
		}
		return true
	})
	slices.SortFunc(out, func(a, b SubscriptionInfo) int {
		return cmp.Or(cmp.Compare(a.ClientID, b.ClientID), cmp.Compare(a.Filter, b.Filter))
	})
	return out
}

// Disconnect closes the client's connection as an administrative action
// (v5: DISCONNECT 0x98). Its session stays, as after any server-side
// close, and its Last Will is published. It reports whether the client
// was connected.
func (b *Broker) Disconnect(id string) bool {
	e := b.lookup(id)
	if e == nil || e.inproc {
		return false
	}
	b.mu.Lock()
	c := e.owner
	b.mu.Unlock()
	if c == nil {
		return false
	}
	c.log.Info("client disconnected by an administrator")
	c.kick(packet.AdministrativeAction)
	return true
}

// RetainedMessage is a copy of one retained message.
type RetainedMessage struct {
	Topic   string
	Payload []byte
	QoS     byte
	Props   packet.Properties
	Expiry  time.Time // zero: never
}

func retainedCopy(m *session.Message) RetainedMessage {
	return RetainedMessage{Topic: m.Topic, Payload: bytes.Clone(m.Payload), QoS: m.QoS, Props: m.Props, Expiry: m.Expiry}
}

// RetainedMessages returns the retained messages whose topics match
// filter ("#" for all, which also lists $-topics), sorted by topic.
func (b *Broker) RetainedMessages(filter string) ([]RetainedMessage, error) {
	if err := topic.ValidFilter(filter); err != nil {
		return nil, fmt.Errorf("retained messages %q: %w", filter, err)
	}
	now := time.Now()
	var out []RetainedMessage
	keep := func(_ string, m *session.Message) bool {
		if !m.Expired(now) {
			out = append(out, retainedCopy(m))
		}
		return true
	}
	if filter == "#" {
		b.retained.Range(keep)
	} else {
		b.retained.Match(filter, keep)
	}
	slices.SortFunc(out, func(a, b RetainedMessage) int { return cmp.Compare(a.Topic, b.Topic) })
	return out, nil
}

// Retained returns the retained message of one topic.
func (b *Broker) Retained(name string) (RetainedMessage, bool) {
	m, ok := b.retained.Get(name)
	if !ok || m.Expired(time.Now()) {
		return RetainedMessage{}, false
	}
	return retainedCopy(m), true
}

// DeleteRetained removes the retained message of one topic from the store
// and the index without publishing anything. It reports whether there was
// one.
func (b *Broker) DeleteRetained(name string) (bool, error) {
	if _, ok := b.retained.Get(name); !ok {
		return false, nil
	}
	batch := b.store.NewBatch()
	defer batch.Close()
	batch.Delete(store.RetainedKey(name))
	if err := b.commit(batch, true); err != nil {
		return false, fmt.Errorf("delete retained %q: %w", name, err)
	}
	return b.retained.Delete(name), nil
}

// ListenerStats are one listener's figures.
type ListenerStats struct {
	Name     string
	Active   int64  // open connections
	Accepted uint64 // connections accepted since it started
}

// Listeners returns the figures of every listener being served, sorted by
// name.
func (b *Broker) Listeners() []ListenerStats {
	b.mu.Lock()
	out := make([]ListenerStats, 0, len(b.listeners))
	for _, ls := range b.listeners {
		out = append(out, ListenerStats{Name: ls.lo.Name, Active: ls.active.Load(), Accepted: ls.accepted.Load()})
	}
	b.mu.Unlock()
	slices.SortFunc(out, func(a, b ListenerStats) int { return cmp.Compare(a.Name, b.Name) })
	return out
}
