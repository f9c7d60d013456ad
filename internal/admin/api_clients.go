package admin

import (
	"net/http"
	"strings"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
)

// client is a client session as the API shows it.
type client struct {
	ClientID            string     `json:"client_id"`
	Username            string     `json:"username"`
	Connected           bool       `json:"connected"`
	ProtocolVersion     byte       `json:"protocol_version"` // 3, 4 or 5
	Protocol            string     `json:"protocol"`         // "3.1", "3.1.1" or "5.0"
	Address             string     `json:"address"`
	Listener            string     `json:"listener"`
	ConnectedAt         *time.Time `json:"connected_at"`
	DisconnectedAt      *time.Time `json:"disconnected_at"`
	KeepAlive           int64      `json:"keep_alive"`     // seconds
	SessionExpiry       int64      `json:"session_expiry"` // seconds after disconnect
	SessionNeverExpires bool       `json:"session_never_expires"`
	Durable             bool       `json:"durable"`
	SubscriptionCount   int        `json:"subscription_count"`
	Queued              int        `json:"queued"`
	Inflight            int        `json:"inflight"`
	Dropped             uint64     `json:"dropped"`
}

// clientDetail is one client with its subscriptions.
type clientDetail struct {
	client
	Subscriptions []subscription `json:"subscriptions"`
}

// subscription is one subscription of one client.
type subscription struct {
	ClientID          string `json:"client_id"`
	Filter            string `json:"filter"`
	QoS               byte   `json:"qos"`
	NoLocal           bool   `json:"no_local"`
	RetainAsPublished bool   `json:"retain_as_published"`
	RetainHandling    byte   `json:"retain_handling"`
	SubscriptionID    uint32 `json:"subscription_id"` // 0: none
}

func protocolName(v byte) string {
	switch v {
	case 3:
		return "3.1"
	case 4:
		return "3.1.1"
	case 5:
		return "5.0"
	}
	return ""
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func toClient(ci broker.ClientInfo) client {
	return client{
		ClientID:            ci.ClientID,
		Username:            ci.Username,
		Connected:           ci.Connected,
		ProtocolVersion:     ci.ProtocolVersion,
		Protocol:            protocolName(ci.ProtocolVersion),
		Address:             ci.Address,
		Listener:            ci.Listener,
		ConnectedAt:         timePtr(ci.ConnectedAt),
		DisconnectedAt:      timePtr(ci.DisconnectedAt),
		KeepAlive:           int64(ci.KeepAlive / time.Second),
		SessionExpiry:       int64(ci.SessionExpiry / time.Second),
		SessionNeverExpires: ci.NeverExpires,
		Durable:             ci.Durable,
		SubscriptionCount:   len(ci.Subscriptions),
		Queued:              ci.Queued,
		Inflight:            ci.Inflight,
		Dropped:             ci.Dropped,
	}
}

func toSubscription(si broker.SubscriptionInfo) subscription {
	return subscription{ClientID: si.ClientID, Filter: si.Filter, QoS: si.QoS, NoLocal: si.NoLocal,
		RetainAsPublished: si.RetainAsPublished, RetainHandling: si.RetainHandling, SubscriptionID: si.SubscriptionID}
}

// listClients: GET /api/v1/clients?search=&connected=&limit=&offset=.
// search is a case-insensitive substring of the client id, username or
// address.
func (s *Server) listClients(w http.ResponseWriter, r *http.Request) {
	connected, ok := boolParam(w, r, "connected")
	if !ok {
		return
	}
	search := strings.ToLower(r.URL.Query().Get("search"))
	var items []client
	for _, ci := range s.b.Clients() {
		if connected != nil && ci.Connected != *connected {
			continue
		}
		if search != "" && !strings.Contains(strings.ToLower(ci.ClientID), search) &&
			!strings.Contains(strings.ToLower(ci.Username), search) &&
			!strings.Contains(strings.ToLower(ci.Address), search) {
			continue
		}
		items = append(items, toClient(ci))
	}
	if p, ok := paginate(w, r, items); ok {
		writeJSON(w, http.StatusOK, p)
	}
}

// getClient: GET /api/v1/clients/{id}.
func (s *Server) getClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ci, ok := s.b.Client(id)
	if !ok {
		writeError(w, http.StatusNotFound, "no client "+quote(id))
		return
	}
	d := clientDetail{client: toClient(ci), Subscriptions: []subscription{}}
	for _, si := range ci.Subscriptions {
		d.Subscriptions = append(d.Subscriptions, toSubscription(si))
	}
	writeJSON(w, http.StatusOK, d)
}

// disconnectClient: POST /api/v1/clients/{id}/disconnect. The session
// stays; its will is published. 404 for an unknown client, 409 for one
// that is not connected.
func (s *Server) disconnectClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.b.Client(id); !ok {
		writeError(w, http.StatusNotFound, "no client "+quote(id))
		return
	}
	if !s.b.Disconnect(id) {
		writeError(w, http.StatusConflict, "client "+quote(id)+" is not connected")
		return
	}
	s.log.Info("admin API: client disconnected", "client", id, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]any{"client_id": id, "disconnected": true})
}

// listSubscriptions: GET /api/v1/subscriptions?client=&filter=&limit=&offset=.
// client is an exact client id, filter a substring of the topic filter.
func (s *Server) listSubscriptions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	clientID := q.Get("client")
	filter := q.Get("filter")
	var items []subscription
	for _, si := range s.b.Subscriptions() {
		if clientID != "" && si.ClientID != clientID || filter != "" && !strings.Contains(si.Filter, filter) {
			continue
		}
		items = append(items, toSubscription(si))
	}
	if p, ok := paginate(w, r, items); ok {
		writeJSON(w, http.StatusOK, p)
	}
}
