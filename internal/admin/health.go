package admin

import "net/http"

// healthz: GET /healthz answers 200 while the process runs.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz: GET /readyz answers 200 while the broker serves at least one
// client listener, else 503 (starting up or shutting down).
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	n := len(s.b.Listeners())
	if n == 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "listeners": 0})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "listeners": n})
}

// metrics: GET /metrics serves Options.Metrics (Prometheus text format).
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	if s.o.Metrics == nil {
		writeError(w, http.StatusNotFound, "metrics are not enabled")
		return
	}
	s.o.Metrics.ServeHTTP(w, r)
}
