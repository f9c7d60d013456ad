package admin

import (
	"net/http"
	"net/http/pprof"
)

// The net/http/pprof handlers, registered on the admin mux (never on
// http.DefaultServeMux) for RoleAdmin only. pprofIndex also serves the
// named profiles: /debug/pprof/heap, goroutine, allocs, block, mutex,
// threadcreate. (Importing net/http/pprof also registers them on
// http.DefaultServeMux, which baram never serves.)
var (
	pprofIndex   = http.HandlerFunc(pprof.Index)
	pprofCmdline = http.HandlerFunc(pprof.Cmdline)
	pprofProfile = http.HandlerFunc(pprof.Profile)
	pprofSymbol  = http.HandlerFunc(pprof.Symbol)
	pprofTrace   = http.HandlerFunc(pprof.Trace)
)
