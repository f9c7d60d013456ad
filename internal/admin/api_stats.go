package admin

import (
	"net/http"
	"net/url"
	"runtime"
	"runtime/metrics"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
)

// stats is GET /api/v1/stats: the broker's counters, figures over every
// session, and the process's memory. Rates are for the reader to derive
// from two readings and their Time.
type stats struct {
	Version       string    `json:"version"`
	Time          time.Time `json:"time"`
	UptimeSeconds float64   `json:"uptime_seconds"`

	Connections   int64  `json:"connections"` // open client sockets
	Accepted      uint64 `json:"accepted"`
	Connects      uint64 `json:"connects"`
	Online        int    `json:"sessions_online"`
	Offline       int    `json:"sessions_offline"`
	Queued        int    `json:"queued"`
	Inflight      int    `json:"inflight"`
	Retained      int    `json:"retained"`
	Subscriptions int    `json:"subscriptions"`

	MessagesReceived   uint64        `json:"messages_received"`
	MessagesSent       uint64        `json:"messages_sent"`
	MessagesDropped    uint64        `json:"messages_dropped"`
	ReceivedByQoS      broker.PerQoS `json:"received_by_qos"`
	ReceivedBytesByQoS broker.PerQoS `json:"received_bytes_by_qos"`
	SentByQoS          broker.PerQoS `json:"sent_by_qos"`
	SentBytesByQoS     broker.PerQoS `json:"sent_bytes_by_qos"`
	BytesIn            uint64        `json:"bytes_in"`
	BytesOut           uint64        `json:"bytes_out"`

	Dropped dropped `json:"dropped"`
	Refused refused `json:"refused"`
	Commits commits `json:"commits"`
	Memory  memory  `json:"memory"`
}

type dropped struct {
	QueueFull uint64 `json:"queue_full"`
	Slow      uint64 `json:"slow"`
	TooLarge  uint64 `json:"too_large"`
	Expired   uint64 `json:"expired"`
}

type refused struct {
	BadCredentials         uint64 `json:"bad_credentials"`
	NotAuthorized          uint64 `json:"not_authorized"`
	Other                  uint64 `json:"other"`
	MaxConnections         uint64 `json:"max_connections"`
	ListenerMaxConnections uint64 `json:"listener_max_connections"`
	ListenerConnectRate    uint64 `json:"listener_connect_rate"`
	ConnectRatePerIP       uint64 `json:"connect_rate_per_ip"`
	Banned                 uint64 `json:"banned"`
	AuthBackoff            uint64 `json:"auth_backoff"`
	FlapBans               uint64 `json:"flap_bans"`
	AuthBackoffs           uint64 `json:"auth_backoffs"`
	PublishRateDisconnects uint64 `json:"publish_rate_disconnects"`
}

type commits struct {
	Count        uint64  `json:"count"`
	TotalSeconds float64 `json:"total_seconds"`
}

// memory is what the Go runtime holds, from runtime/metrics (which,
// unlike runtime.ReadMemStats, does not stop the world).
type memory struct {
	TotalBytes uint64 `json:"total_bytes"` // all memory mapped by the runtime
	HeapBytes  uint64 `json:"heap_bytes"`  // live and unswept heap objects
	Goroutines uint64 `json:"goroutines"`
	GCCycles   uint64 `json:"gc_cycles"`
}

var memorySamples = []string{
	"/memory/classes/total:bytes",
	"/memory/classes/heap/objects:bytes",
	"/sched/goroutines:goroutines",
	"/gc/cycles/total:gc-cycles",
}

func readMemory() memory {
	samples := make([]metrics.Sample, len(memorySamples))
	for i, name := range memorySamples {
		samples[i].Name = name
	}
	metrics.Read(samples)
	get := func(i int) uint64 {
		if samples[i].Value.Kind() == metrics.KindUint64 {
			return samples[i].Value.Uint64()
		}
		return 0
	}
	m := memory{TotalBytes: get(0), HeapBytes: get(1), Goroutines: get(2), GCCycles: get(3)}
	if m.Goroutines == 0 {
		m.Goroutines = uint64(runtime.NumGoroutine())
	}
	return m
}

func (s *Server) stats(w http.ResponseWriter, _ *http.Request) {
	snap := s.b.Stats()
	ss := s.b.SessionStats()
	writeJSON(w, http.StatusOK, stats{
		Version:       s.o.Version,
		Time:          time.Now().UTC(),
		UptimeSeconds: snap.Uptime.Seconds(),

		Connections:   snap.Connections,
		Accepted:      snap.Accepted,
		Connects:      snap.Connects,
		Online:        ss.Online,
		Offline:       ss.Offline,
		Queued:        ss.Queued,
		Inflight:      ss.Inflight,
		Retained:      snap.Retained,
		Subscriptions: snap.Subscriptions,

		MessagesReceived:   snap.MessagesReceived,
		MessagesSent:       snap.MessagesSent,
		MessagesDropped:    snap.MessagesDropped,
		ReceivedByQoS:      snap.Received,
		ReceivedBytesByQoS: snap.ReceivedBytes,
		SentByQoS:          snap.Sent,
		SentBytesByQoS:     snap.SentBytes,
		BytesIn:            snap.BytesIn,
		BytesOut:           snap.BytesOut,

		Dropped: dropped{QueueFull: snap.DroppedQueueFull, Slow: snap.DroppedSlow,
			TooLarge: snap.DroppedTooLarge, Expired: snap.DroppedExpired},
		Refused: refused{
			BadCredentials: snap.RefusedBadCredentials, NotAuthorized: snap.RefusedNotAuthorized, Other: snap.RefusedOther,
			MaxConnections: snap.RefusedMaxConnections, ListenerMaxConnections: snap.RefusedListenerMaxConnections,
			ListenerConnectRate: snap.RefusedListenerConnectRate, ConnectRatePerIP: snap.RefusedConnectRatePerIP,
			Banned: snap.RefusedBanned, AuthBackoff: snap.RefusedAuthBackoff, FlapBans: snap.FlapBans,
			AuthBackoffs: snap.AuthBackoffs, PublishRateDisconnects: snap.PublishRateDisconnects,
		},
		Commits: commits{Count: snap.Commits, TotalSeconds: snap.CommitTime.Seconds()},
		Memory:  readMemory(),
	})
}

// listenerItem is one client listener the broker serves.
type listenerItem struct {
	Name     string `json:"name"`
	Protocol string `json:"protocol,omitempty"`
	URL      string `json:"url,omitempty"`
	Active   int64  `json:"active"`
	Accepted uint64 `json:"accepted"`
}

// listenersBody is GET /api/v1/listeners: the listeners being served,
// and the client URLs the server was given (for the dashboard's MQTT
// panel).
type listenersBody struct {
	Items []listenerItem `json:"items"`
	URLs  []ClientURL    `json:"urls"`
}

func (s *Server) listeners(w http.ResponseWriter, _ *http.Request) {
	body := listenersBody{Items: []listenerItem{}, URLs: s.o.ClientURLs}
	if body.URLs == nil {
		body.URLs = []ClientURL{}
	}
	for _, ls := range s.b.Listeners() {
		it := listenerItem{Name: ls.Name, Active: ls.Active, Accepted: ls.Accepted}
		for _, cu := range s.o.ClientURLs {
			if urlHostPort(cu.URL) == ls.Name {
				it.Protocol, it.URL = cu.Protocol, cu.URL
				break
			}
		}
		body.Items = append(body.Items, it)
	}
	writeJSON(w, http.StatusOK, body)
}

// urlHostPort returns the host:port of a listener URL, as the broker names
// its listeners.
func urlHostPort(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return u.Host
}
