// Package broker is the core of baram: it accepts connections, runs the
// per-connection read and write loops, authenticates, routes publishes to
// subscribers and keeps sessions, retained messages and wills.
package broker

import (
	"context"
	"net"
)

// Broker is one MQTT server. Create it with New, feed it listeners with
// Serve, stop it with Shutdown.
type Broker struct {
	opts Options
}

// New returns a broker configured by opts.
func New(opts Options) *Broker {
	return &Broker{opts: opts.withDefaults()}
}

// Serve accepts connections from ln until ln fails or Shutdown is called;
// it returns nil after Shutdown. It may be called for several listeners.
func (b *Broker) Serve(ln net.Listener) error { return nil }

// Shutdown stops accepting, disconnects clients (v5: reason 0x8B) and
// waits for connection goroutines to end or ctx to expire.
func (b *Broker) Shutdown(ctx context.Context) error { return nil }
