package admin

import (
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/topic"
)

// retained is a retained message as the API shows it.
type retained struct {
	Topic string `json:"topic"`
	QoS   byte   `json:"qos"`
	Size  int    `json:"size"`
	// Payload is base64 (encoding/json's []byte); PayloadText is the same
	// bytes as a string when they are valid UTF-8, else absent.
	Payload       []byte     `json:"payload"`
	PayloadText   *string    `json:"payload_text,omitempty"`
	ContentType   string     `json:"content_type,omitempty"`
	PayloadFormat byte       `json:"payload_format"` // MQTT 5: 1 says UTF-8
	ExpiresAt     *time.Time `json:"expires_at"`
}

func toRetained(m broker.RetainedMessage) retained {
	r := retained{Topic: m.Topic, QoS: m.QoS, Size: len(m.Payload), Payload: m.Payload,
		ContentType: m.Props.ContentType, PayloadFormat: m.Props.PayloadFormat, ExpiresAt: timePtr(m.Expiry)}
	if r.Payload == nil {
		r.Payload = []byte{}
	}
	if utf8.Valid(m.Payload) {
		text := string(m.Payload)
		r.PayloadText = &text
	}
	return r
}

// listRetained: GET /api/v1/retained?filter=&limit=&offset=. filter is an
// MQTT topic filter, "#" (every message, $-topics too) when absent.
func (s *Server) listRetained(w http.ResponseWriter, r *http.Request) {
	filter := r.URL.Query().Get("filter")
	if filter == "" {
		filter = "#"
	}
	if err := topic.ValidFilter(filter); err != nil {
		writeError(w, http.StatusBadRequest, "filter "+quote(filter)+": "+err.Error())
		return
	}
	msgs, err := s.b.RetainedMessages(filter)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	items := make([]retained, len(msgs))
	for i, m := range msgs {
		items[i] = toRetained(m)
	}
	if p, ok := paginate(w, r, items); ok {
		writeJSON(w, http.StatusOK, p)
	}
}

// retainedTopic returns the topic of a /retained/{topic...} request, or
// writes a 400 and returns false.
func retainedTopic(w http.ResponseWriter, r *http.Request) (string, bool) {
	name := r.PathValue("topic")
	if err := topic.ValidName(name); err != nil {
		writeError(w, http.StatusBadRequest, "topic "+quote(name)+": "+err.Error())
		return "", false
	}
	return name, true
}

// getRetained: GET /api/v1/retained/{topic...}. The topic is the rest of
// the path, percent-encoded; its slashes may be left as they are unless
// it has empty levels ("a//b", "/a"), which need %2F.
func (s *Server) getRetained(w http.ResponseWriter, r *http.Request) {
	name, ok := retainedTopic(w, r)
	if !ok {
		return
	}
	m, ok := s.b.Retained(name)
	if !ok {
		writeError(w, http.StatusNotFound, "no retained message on "+quote(name))
		return
	}
	writeJSON(w, http.StatusOK, toRetained(m))
}

// deleteRetained: DELETE /api/v1/retained/{topic...}. It removes the
// message without publishing anything to subscribers; 204 on success.
func (s *Server) deleteRetained(w http.ResponseWriter, r *http.Request) {
	name, ok := retainedTopic(w, r)
	if !ok {
		return
	}
	deleted, err := s.b.DeleteRetained(name)
	switch {
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	case !deleted:
		writeError(w, http.StatusNotFound, "no retained message on "+quote(name))
	default:
		s.log.Info("admin API: retained message deleted", "topic", name, "remote", r.RemoteAddr)
		w.WriteHeader(http.StatusNoContent)
	}
}
