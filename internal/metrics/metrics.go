// Package metrics exposes the broker's figures to Prometheus.
//
// The broker keeps its own atomic counters (broker.Stats); this package
// reads them only when Prometheus scrapes, through a custom collector, so
// the publish path does no metrics work at all. NewRegistry builds a
// registry with that collector and the Go runtime and process collectors;
// Handler serves it over HTTP.
//
// Every broker metric is named baram_*, counters end in _total, sizes are
// in bytes and durations in seconds.
package metrics

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/baram-mqtt/baram/internal/broker"
)

// NewRegistry returns a registry holding the broker's collector, the Go
// runtime collector and the process collector. version is exposed as the
// version label of baram_build_info.
func NewRegistry(b *broker.Broker, version string) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		newCollector(b, version),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Handler serves reg in the Prometheus text and OpenMetrics formats.
// Collection errors are logged through slog.Default and the metrics that
// could be gathered are still served; failures are also counted in
// promhttp_metric_handler_errors_total, registered in reg.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      errorLog{slog.Default()},
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      reg,
		// A few scrapers at once is plenty; more are refused with 503
		// rather than each walking every session.
		MaxRequestsInFlight: 4,
		EnableOpenMetrics:   true,
	})
}

// errorLog adapts slog to promhttp.Logger.
type errorLog struct{ log *slog.Logger }

// Println implements promhttp.Logger.
func (l errorLog) Println(v ...any) {
	l.log.Error("metrics: scrape failed in part", "err", strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
}

// qosLabels are the values of the qos label.
var qosLabels = [3]string{"0", "1", "2"}

// collector reads the broker's figures at scrape time.
type collector struct {
	b       *broker.Broker
	version string

	connections    *prometheus.Desc
	accepted       *prometheus.Desc
	connects       *prometheus.Desc
	refused        *prometheus.Desc
	rateDisconnect *prometheus.Desc
	flapBans       *prometheus.Desc
	authBackoffs   *prometheus.Desc
	received       *prometheus.Desc
	sent           *prometheus.Desc
	receivedBytes  *prometheus.Desc
	sentBytes      *prometheus.Desc
	netIn          *prometheus.Desc
	netOut         *prometheus.Desc
	dropped        *prometheus.Desc
	retained       *prometheus.Desc
	subscriptions  *prometheus.Desc
	sessions       *prometheus.Desc
	queued         *prometheus.Desc
	inflight       *prometheus.Desc
	commits        *prometheus.Desc
	uptime         *prometheus.Desc
	buildInfo      *prometheus.Desc
	lnActive       *prometheus.Desc
	lnAccepted     *prometheus.Desc
}

func newCollector(b *broker.Broker, version string) *collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("baram_"+name, help, labels, nil)
	}
	return &collector{
		b:       b,
		version: version,

		connections:    d("connections", "Open client connections (sockets accepted and not yet closed)."),
		accepted:       d("connections_accepted_total", "Connections accepted by every listener."),
		connects:       d("connects_total", "CONNECTs admitted."),
		refused:        d("connections_refused_total", "Connections refused, by reason.", "reason"),
		rateDisconnect: d("publish_rate_disconnects_total", "Clients disconnected for exceeding the publish message or byte rate."),
		flapBans:       d("flap_bans_total", "Bans begun on client ids that reconnected too often."),
		authBackoffs:   d("auth_backoffs_total", "Authentication back-offs begun on addresses that failed too often."),
		received:       d("messages_received_total", "PUBLISH messages received from clients and in-process publishers, by QoS.", "qos"),
		sent:           d("messages_sent_total", "PUBLISH messages sent to clients, by the QoS sent with.", "qos"),
		receivedBytes:  d("payload_received_bytes_total", "Payload bytes of the PUBLISH messages received, by QoS.", "qos"),
		sentBytes:      d("payload_sent_bytes_total", "Payload bytes of the PUBLISH messages sent, by QoS.", "qos"),
		netIn:          d("network_received_bytes_total", "Bytes read from client sockets."),
		netOut:         d("network_sent_bytes_total", "Bytes written to client sockets."),
		dropped:        d("messages_dropped_total", "Deliveries dropped, by reason.", "reason"),
		retained:       d("retained_messages", "Retained messages held."),
		subscriptions:  d("subscriptions", "Subscriptions held, in-process ones included."),
		sessions:       d("sessions", "Client sessions, by state: online (connected) or offline (persistent, waiting for the client).", "state"),
		queued:         d("queued_messages", "Messages waiting in session queues, in memory and on disk."),
		inflight:       d("inflight_messages", "Messages sent to clients and not yet acknowledged."),
		commits:        d("store_commit_duration_seconds", "Time taken by store commits of read batches."),
		uptime:         d("uptime_seconds", "Seconds since the broker started."),
		buildInfo:      d("build_info", "Always 1; the version label is the broker's version.", "version"),
		lnActive:       d("listener_connections", "Open connections of one listener.", "listener"),
		lnAccepted:     d("listener_connections_accepted_total", "Connections accepted by one listener.", "listener"),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.connections, c.accepted, c.connects, c.refused, c.rateDisconnect, c.flapBans,
		c.authBackoffs, c.received, c.sent, c.receivedBytes, c.sentBytes, c.netIn, c.netOut,
		c.dropped, c.retained, c.subscriptions, c.sessions, c.queued, c.inflight, c.commits,
		c.uptime, c.buildInfo, c.lnActive, c.lnAccepted,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. It reads the broker's counters
// (no lock), walks the sessions once (SessionStats) and lists the
// listeners.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.b.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}

	gauge(c.connections, float64(s.Connections))
	counter(c.accepted, s.Accepted)
	counter(c.connects, s.Connects)
	for _, r := range refusals(s) {
		counter(c.refused, r.n, r.reason)
	}
	counter(c.rateDisconnect, s.PublishRateDisconnects)
	counter(c.flapBans, s.FlapBans)
	counter(c.authBackoffs, s.AuthBackoffs)

	for q, l := range qosLabels {
		counter(c.received, s.Received[q], l)
		counter(c.sent, s.Sent[q], l)
		counter(c.receivedBytes, s.ReceivedBytes[q], l)
		counter(c.sentBytes, s.SentBytes[q], l)
	}
	counter(c.netIn, s.BytesIn)
	counter(c.netOut, s.BytesOut)
	for _, r := range drops(s) {
		counter(c.dropped, r.n, r.reason)
	}

	gauge(c.retained, float64(s.Retained))
	gauge(c.subscriptions, float64(s.Subscriptions))
	ss := c.b.SessionStats()
	gauge(c.sessions, float64(ss.Online), "online")
	gauge(c.sessions, float64(ss.Offline), "offline")
	gauge(c.queued, float64(ss.Queued))
	gauge(c.inflight, float64(ss.Inflight))

	count, sum, buckets := commitHistogram(s)
	ch <- prometheus.MustNewConstHistogram(c.commits, count, sum, buckets)

	gauge(c.uptime, s.Uptime.Seconds())
	gauge(c.buildInfo, 1, c.version)

	for _, l := range listeners(c.b.Listeners()) {
		gauge(c.lnActive, float64(l.Active), l.Name)
		counter(c.lnAccepted, l.Accepted, l.Name)
	}
}

// reasonCount is one value of a metric partitioned by reason.
type reasonCount struct {
	reason string
	n      uint64
}

// refusals lists every refusal reason, zero or not, so that each series
// exists from the first scrape.
func refusals(s broker.Snapshot) []reasonCount {
	return []reasonCount{
		{"bad_credentials", s.RefusedBadCredentials},
		{"not_authorized", s.RefusedNotAuthorized},
		{"other", s.RefusedOther},
		{"max_connections", s.RefusedMaxConnections},
		{"listener_max_connections", s.RefusedListenerMaxConnections},
		{"listener_connect_rate", s.RefusedListenerConnectRate},
		{"connect_rate_per_ip", s.RefusedConnectRatePerIP},
		{"banned", s.RefusedBanned},
		{"auth_backoff", s.RefusedAuthBackoff},
	}
}

// drops lists every drop reason, zero or not.
func drops(s broker.Snapshot) []reasonCount {
	return []reasonCount{
		{"queue_full", s.DroppedQueueFull},
		{"slow_consumer", s.DroppedSlow},
		{"too_large", s.DroppedTooLarge},
		{"expired", s.DroppedExpired},
	}
}

// commitHistogram converts the broker's per-bucket commit counts into the
// cumulative buckets Prometheus wants, with bounds in seconds. The count
// is the sum of the buckets (the last counts commits slower than every
// bound), not Snapshot.Commits: the two are read at slightly different
// moments, and a count below the largest bucket would be an invalid
// histogram.
func commitHistogram(s broker.Snapshot) (count uint64, sum float64, buckets map[float64]uint64) {
	buckets = make(map[float64]uint64, len(broker.CommitBuckets))
	for i, n := range s.CommitBuckets {
		count += n
		if i < len(broker.CommitBuckets) {
			buckets[broker.CommitBuckets[i].Seconds()] = count
		}
	}
	return count, s.CommitTime.Seconds(), buckets
}

// listeners merges listeners that share a name, so that no two series
// have the same labels.
func listeners(ls []broker.ListenerStats) []broker.ListenerStats {
	slices.SortStableFunc(ls, func(a, b broker.ListenerStats) int { return cmp.Compare(a.Name, b.Name) })
	out := ls[:0]
	for _, l := range ls {
		if n := len(out); n > 0 && out[n-1].Name == l.Name {
			out[n-1].Active += l.Active
			out[n-1].Accepted += l.Accepted
			continue
		}
		out = append(out, l)
	}
	return out
}
