package admin

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// web holds the dashboard: index.html, app.js, style.css and the vendored
// MQTT.js browser bundle (web/vendor/README.md says which version).
//
//go:embed web
var web embed.FS

// contentSecurityPolicy lets the dashboard load only its own files and
// connect only to its own origin and to WebSocket listeners.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// dashboard serves the embedded files. They hold no data, so they need no
// credentials; the page asks the API for everything it shows.
func dashboard() http.HandlerFunc {
	root, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // the embedded tree always has web/
	}
	files := http.FileServerFS(root)
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" && strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}
}
