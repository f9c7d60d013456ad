package admin

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// openAPIDoc is the part of the OpenAPI document the coverage test reads.
type openAPIDoc struct {
	OpenAPI string                                 `json:"openapi"`
	Paths   map[string]map[string]openAPIOperation `json:"paths"`
}

type openAPIOperation struct {
	OperationID string          `json:"operationId"`
	Role        string          `json:"x-required-role"`
	Security    json.RawMessage `json:"security"`
	Responses   map[string]any  `json:"responses"`
}

// openAPIKey turns a route pattern into "method path" as OpenAPI spells
// it: lowercase method, "{topic...}" as "{topic}".
func openAPIKey(pattern string) string {
	method, path, _ := strings.Cut(pattern, " ")
	return strings.ToLower(method) + " " + strings.ReplaceAll(path, "...}", "}")
}

// Every registered route is in the OpenAPI document with the role it
// needs, and the document describes no route that is not registered.
func TestOpenAPICoversRoutes(t *testing.T) {
	e := start(t, withCredentials(t))
	var doc openAPIDoc
	e.expect(t, http.StatusOK, "GET", "/api/v1/openapi.json", "", bearer(readToken)).json(t, &doc)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	documented := make(map[string]openAPIOperation)
	for path, ops := range doc.Paths {
		for method, op := range ops {
			documented[method+" "+path] = op
		}
	}
	var registered []string
	for _, rt := range e.srv.routes {
		key := openAPIKey(rt.pattern)
		registered = append(registered, key)
		op, ok := documented[key]
		if !ok {
			t.Errorf("route %q is not in openapi.json (as %q)", rt.pattern, key)
			continue
		}
		wantRole := string(rt.role)
		if wantRole == "" {
			wantRole = "none"
			if string(op.Security) != "[]" {
				t.Errorf("%s: public route without \"security\": []", key)
			}
		}
		if op.Role != wantRole {
			t.Errorf("%s: x-required-role %q, want %q", key, op.Role, wantRole)
		}
		if op.OperationID == "" || len(op.Responses) == 0 {
			t.Errorf("%s: no operationId or responses", key)
		}
		if rt.role != "" && op.Responses["401"] == nil {
			t.Errorf("%s: 401 not documented", key)
		}
		if rt.role == RoleAdmin && op.Responses["403"] == nil {
			t.Errorf("%s: 403 not documented", key)
		}
	}
	for key := range documented {
		if !slices.Contains(registered, key) {
			t.Errorf("openapi.json describes %q, which is not a registered route", key)
		}
	}
}
