package admin

import (
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The dashboard and the vendored MQTT.js are served with the right types,
// without credentials (they hold no data), and with a strict CSP.
func TestDashboardFiles(t *testing.T) {
	e := start(t, withCredentials(t))
	for path, want := range map[string]string{
		"/":                   "text/html; charset=utf-8",
		"/index.html":         "", // redirected to /
		"/app.js":             "text/javascript; charset=utf-8",
		"/style.css":          "text/css; charset=utf-8",
		"/vendor/mqtt.min.js": "text/javascript; charset=utf-8",
	} {
		r := e.do(t, "GET", path, "")
		if want == "" {
			if r.code != http.StatusOK || !strings.Contains(string(r.body), "<!doctype html>") {
				t.Errorf("%s: %d", path, r.code)
			}
			continue
		}
		if r.code != http.StatusOK {
			t.Errorf("%s: status %d", path, r.code)
			continue
		}
		if ct := r.header.Get("Content-Type"); ct != want {
			t.Errorf("%s: Content-Type %q, want %q", path, ct, want)
		}
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
	}
	r := e.expect(t, http.StatusOK, "GET", "/vendor/mqtt.min.js", "")
	if len(r.body) < 100_000 || !strings.Contains(string(r.body[:200]), "var mqtt=") {
		t.Errorf("mqtt.min.js: %d bytes, starting %.80q", len(r.body), r.body)
	}
	e.expect(t, http.StatusNotFound, "GET", "/vendor/", "")
	e.expect(t, http.StatusNotFound, "GET", "/nothing.js", "")
}

// Every data-testid listed in the comment at the top of index.html is on
// an element in index.html or made by app.js, and every one used is
// listed, so the browser test can rely on the list.
func TestDashboardTestIDs(t *testing.T) {
	html, err := os.ReadFile("web/index.html")
	if err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile("web/app.js")
	if err != nil {
		t.Fatal(err)
	}
	comment, _, ok := strings.Cut(string(html), "-->")
	if !ok {
		t.Fatal("index.html has no leading comment")
	}
	_, list, _ := strings.Cut(comment, "(keep them when editing):")
	// Groups are "label:", notes are in parentheses, ids are separated by
	// commas and white space.
	list = regexp.MustCompile(`(?s)\([^)]*\)|[a-z-]+:`).ReplaceAllString(list, " ")
	listed := make(map[string]bool)
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		listed[f] = true
	}
	used := make(map[string]bool)
	for _, m := range regexp.MustCompile(`data-testid="([a-z-]+)"`).FindAllStringSubmatch(string(html), -1) {
		used[m[1]] = true
	}
	for _, m := range regexp.MustCompile(`dataTestid: "([a-z-]+)"`).FindAllStringSubmatch(string(js), -1) {
		used[m[1]] = true
	}
	for id := range used {
		if !listed[id] {
			t.Errorf("data-testid %q is used but not listed in index.html's comment", id)
		}
	}
	for id := range listed {
		if !used[id] {
			t.Errorf("data-testid %q is listed but no element has it", id)
		}
	}
}
