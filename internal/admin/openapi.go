package admin

import (
	_ "embed"
	"net/http"
)

// openAPI is the OpenAPI 3.1 description of every route, written by hand;
// TestOpenAPICoversRoutes checks it against the route table.
//
//go:embed openapi.json
var openAPI []byte

// serveOpenAPI: GET /api/v1/openapi.json.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(openAPI)
}
