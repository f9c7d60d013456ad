package admin

import (
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/baram-mqtt/baram/internal/topic"
)

// publishRequest is the body of POST /api/v1/publish. Payload is text;
// PayloadBase64 is for binary payloads; at most one of them may be set.
type publishRequest struct {
	Topic         string  `json:"topic"`
	Payload       *string `json:"payload"`
	PayloadBase64 *string `json:"payload_base64"`
	QoS           int     `json:"qos"`
	Retain        bool    `json:"retain"`
}

// publishResponse answers a publish that the broker took.
type publishResponse struct {
	Topic  string `json:"topic"`
	Size   int    `json:"size"`
	QoS    int    `json:"qos"`
	Retain bool   `json:"retain"`
}

// publish: POST /api/v1/publish. The message is routed as if a client had
// published it (with retain, an empty payload clears the topic's retained
// message, as in MQTT). $SYS topics are the broker's own.
func (s *Server) publish(w http.ResponseWriter, r *http.Request) {
	var req publishRequest
	if !decodeBody(w, r, &req) {
		return
	}
	var payload []byte
	switch {
	case req.Payload != nil && req.PayloadBase64 != nil:
		writeError(w, http.StatusBadRequest, "set payload (text) or payload_base64, not both")
		return
	case req.Payload != nil:
		payload = []byte(*req.Payload)
	case req.PayloadBase64 != nil:
		var err error
		if payload, err = base64.StdEncoding.DecodeString(*req.PayloadBase64); err != nil {
			writeError(w, http.StatusBadRequest, "payload_base64: "+err.Error())
			return
		}
	}
	if err := topic.ValidName(req.Topic); err != nil {
		writeError(w, http.StatusBadRequest, "topic "+quote(req.Topic)+": "+err.Error())
		return
	}
	if req.Topic == "$SYS" || strings.HasPrefix(req.Topic, "$SYS/") {
		writeError(w, http.StatusBadRequest, "topic "+quote(req.Topic)+": the $SYS tree is the broker's own")
		return
	}
	if req.QoS < 0 || req.QoS > 2 {
		writeError(w, http.StatusBadRequest, "qos: want 0, 1 or 2")
		return
	}
	if err := s.b.Publish(req.Topic, payload, byte(req.QoS), req.Retain); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, publishResponse{Topic: req.Topic, Size: len(payload), QoS: req.QoS, Retain: req.Retain})
}
