// Package baram embeds the baram MQTT broker in a Go program: start it,
// give it listeners, and publish and subscribe in process.
//
//	b, err := baram.New(baram.Options{AllowAnonymous: true, DataDir: "./data"})
//	addr, _ := b.Listen("127.0.0.1:1883")
//	defer b.Close(context.Background())
//
// The broker speaks MQTT 3.1, 3.1.1 and 5.0 to its network clients.
package baram

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/store"
	"github.com/baram-mqtt/baram/internal/store/open"
)

// Options configure an embedded broker. Zero fields take safe defaults.
type Options struct {
	// Logger receives the broker's structured logs; nil discards them.
	Logger *slog.Logger
	// AllowAnonymous admits clients that send no username.
	AllowAnonymous bool
	// Users maps usernames to passwords; nil means no password check
	// beyond AllowAnonymous.
	Users map[string]string
	// MaxPacketSize is the largest packet accepted, in bytes (default 1 MiB).
	MaxPacketSize uint32
	// MaxInflight is the per-client window of unacknowledged QoS 1/2
	// messages (default 32).
	MaxInflight uint16
	// MaxQueuedMessages caps each session's queue (default 1000).
	MaxQueuedMessages int
	// SessionExpiry caps how long offline sessions are kept; 0 keeps 3.1.1
	// persistent sessions until they are cleaned.
	SessionExpiry time.Duration
	// DataDir, when set, keeps sessions, queues and retained messages in an
	// embedded store there, recovered by the next New on the same
	// directory; empty keeps them in memory.
	DataDir string
}

// Broker is an embedded MQTT broker.
type Broker struct {
	core  *broker.Broker
	store store.Store    // opened by New for Options.DataDir; closed by Close
	wg    sync.WaitGroup // one per Serve goroutine
}

// Message is what an in-process subscriber receives.
type Message struct {
	Topic    string
	Payload  []byte // shared with other subscribers: do not modify
	Retained bool   // a retained message sent because of the subscription
}

// New returns a broker that serves no listener yet, with the state stored
// in o.DataDir recovered.
func New(o Options) (*Broker, error) {
	opts := broker.Defaults
	opts.Logger = o.Logger
	opts.AllowAnonymous = o.AllowAnonymous
	opts.Users = o.Users
	if o.MaxPacketSize != 0 {
		opts.MaxPacketSize = o.MaxPacketSize
	}
	if o.MaxInflight != 0 {
		opts.MaxInflight = o.MaxInflight
	}
	if o.MaxQueuedMessages != 0 {
		opts.MaxQueuedMessages = o.MaxQueuedMessages
	}
	opts.SessionExpiry = o.SessionExpiry
	b := &Broker{}
	if o.DataDir != "" {
		st, err := open.Open(open.Auto, o.DataDir, open.Options{Logger: o.Logger})
		if err != nil {
			return nil, err
		}
		b.store, opts.Store = st, st
	}
	core, err := broker.Open(opts)
	if err != nil {
		if b.store != nil {
			b.store.Close()
		}
		return nil, err
	}
	b.core = core
	return b, nil
}

// Listen opens a TCP listener on address (host:port; port 0 picks one) and
// serves MQTT on it until Close. It returns the address listened on.
func (b *Broker) Listen(address string) (net.Addr, error) {
	lc := net.ListenConfig{KeepAlive: -1} // MQTT's keep alive finds dead clients, as in `baram serve`
	ln, err := lc.Listen(context.Background(), "tcp", address)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", address, err)
	}
	b.Serve(ln)
	return ln.Addr(), nil
}

// Serve serves MQTT on ln in the background until Close, which also
// closes ln.
func (b *Broker) Serve(ln net.Listener) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if err := b.core.Serve(ln); err != nil && !errors.Is(err, broker.ErrClosed) {
			slog.Default().Error("baram: listener stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
}

// Publish sends a message to the broker's subscribers as if a client had
// published it; retain stores it as the topic's retained message.
func (b *Broker) Publish(topic string, payload []byte, qos byte, retain bool) error {
	return b.core.Publish(topic, payload, qos, retain)
}

// Subscribe calls fn for every message matching filter, in order, on a
// goroutine of the subscription's own. fn must not call the returned
// unsubscribe function, which stops delivery and waits for fn to return.
func (b *Broker) Subscribe(filter string, fn func(Message)) (unsubscribe func(), err error) {
	return b.core.Subscribe(filter, func(topic string, payload []byte, retained bool) {
		fn(Message{Topic: topic, Payload: payload, Retained: retained})
	})
}

// Close disconnects every client, stops the listeners and waits for the
// broker's goroutines, or for ctx to end.
func (b *Broker) Close(ctx context.Context) error {
	err := b.core.Shutdown(ctx)
	b.wg.Wait()
	if b.store != nil {
		if cerr := b.store.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close store: %w", cerr)
		}
	}
	return err
}
