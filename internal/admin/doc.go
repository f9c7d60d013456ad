// Package admin serves baram's administration HTTP listener: health and
// readiness probes, Prometheus metrics, a JSON REST API over the broker's
// read side (clients, subscriptions, retained messages, statistics,
// listeners) and its few write actions (disconnect a client, publish,
// delete a retained message), net/http/pprof, an OpenAPI 3.1 description
// of all of it, and a dashboard of static files that works offline.
//
// # Access
//
// /healthz and /readyz answer anyone. The dashboard's static files hold no
// data and are served to anyone too; the page asks the API for everything
// it shows. Every other route needs a bearer token (Options.Tokens) or
// HTTP basic authentication (Options.Users, with password hashes in the
// formats the auth package verifies). A credential carries a role:
// RoleRead may use GET routes, RoleAdmin every route, including the writes
// and /debug/pprof/. Without any credential the API is open, as RoleAdmin,
// and New allows that only on a loopback address; such an open server
// also answers only requests whose Host is a loopback name, so a web page
// cannot reach it through DNS rebinding. Writes from a browser must come
// from the dashboard's own origin (the Origin and Sec-Fetch-Site headers
// are checked), so another site cannot forge them with the credentials a
// browser remembers.
//
// # Goroutines
//
// New starts nothing. Serve runs an http.Server on the caller's goroutine
// until Shutdown, which the caller calls once; the server's connection
// goroutines end before Shutdown returns or its context expires.
package admin
