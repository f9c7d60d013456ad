// Package broker is the core of baram: it accepts connections, runs the
// per-connection read and write loops, authenticates, routes publishes to
// subscribers and keeps sessions, retained messages and wills.
//
// Lock order: Broker.mu, then session.Session's lock, then conn.outMu.
// The publish path takes no Broker lock: it finds sessions through the
// sessions map (a sync.Map written under mu).
package broker

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
	"github.com/baram-mqtt/baram/internal/session"
	"github.com/baram-mqtt/baram/internal/store"
	"github.com/baram-mqtt/baram/internal/store/memstore"
	"github.com/baram-mqtt/baram/internal/topic"
)

// ErrClosed is returned by Serve after Shutdown has begun.
var ErrClosed = errors.New("broker: closed")

// Broker is one MQTT server. Create it with New, feed it listeners with
// Serve, stop it with Shutdown.
type Broker struct {
	opts     Options
	log      *slog.Logger
	store    store.Store // Options.Store, or a memstore
	subs     *topic.Index
	retained *topic.Retained[*session.Message]

	// sessions maps client id to *entry. Stored and deleted under mu; read
	// without it on the publish path.
	sessions  sync.Map
	connected atomic.Int64  // open client sockets
	parked    atomic.Int64  // connections without a goroutine (park.go)
	parks     atomic.Uint64 // connections parked since the last memory trim (memory.go)
	started   time.Time
	inprocSeq atomic.Uint64 // numbers in-process subscriptions
	nextSID   atomic.Uint64 // the last session number handed out
	stats     Stats
	limits    *limits // abuse limits; see limits.go

	mu        sync.Mutex
	wills     map[string]*pendingWill         // delayed wills by client id; guarded by mu
	listeners map[net.Listener]*listenerState // guarded by mu
	conns     map[*conn]struct{}              // live connections; guarded by mu
	closing   bool                            // Shutdown has begun; guarded by mu
	inproc    map[string]func()               // in-process subscriptions' unsubscribe; guarded by mu
	wg        sync.WaitGroup                  // one per connection goroutine

	parkMu      sync.Mutex // guards the three below
	park        *parker    // parked idle connections; started on first use
	parkFailed  bool       // no parking here (not Linux, or epoll failed)
	parkStopped bool       // Shutdown has stopped the parker

	stop     chan struct{} // closed by Shutdown: background loops end
	stopOnce sync.Once
	bg       sync.WaitGroup // background loops (syncer, sweeper)
}

// entry is the broker's record of one session.
type entry struct {
	sess    *session.Session
	owner   *conn       // connection attached now; guarded by Broker.mu
	expiry  *time.Timer // ends the offline session; guarded by Broker.mu
	version byte        // protocol level of the last connection; guarded by Broker.mu
	offline time.Time   // when the last connection ended; guarded by Broker.mu
	inproc  bool        // an in-process subscription (Broker.Subscribe), not a client
}

// New returns a broker configured by opts.
func New(opts Options) *Broker {
	opts = opts.withDefaults()
	b := &Broker{
		opts:      opts,
		log:       opts.Logger,
		subs:      topic.NewIndex(),
		retained:  topic.NewRetained[*session.Message](),
		started:   time.Now(),
		wills:     make(map[string]*pendingWill),
		listeners: make(map[net.Listener]*listenerState),
		conns:     make(map[*conn]struct{}),
		inproc:    make(map[string]func()),
		store:     opts.Store,
		stop:      make(chan struct{}),
	}
	b.limits = newLimits(&b.opts)
	if b.store == nil {
		b.store = memstore.New()
	}
	b.subs.SetEligible(b.online)
	if opts.Sync == SyncBatch {
		b.startSyncer()
	}
	b.startSweeper()
	b.startTrimmer()
	return b
}

// online reports whether client has a connection; shared subscriptions
// prefer such members.
func (b *Broker) online(client string) bool {
	e := b.lookup(client)
	return e != nil && e.sess.Online()
}

func (b *Broker) lookup(client string) *entry {
	v, ok := b.sessions.Load(client)
	if !ok {
		return nil
	}
	return v.(*entry)
}

// Serve accepts connections from ln until ln fails or Shutdown is called;
// it returns nil after Shutdown. It may be called for several listeners.
func (b *Broker) Serve(ln net.Listener) error {
	return b.ServeListener(ln, ListenerOptions{Name: ln.Addr().String()})
}

// ServeListener is Serve with what the listener adds to its connections.
func (b *Broker) ServeListener(ln net.Listener, lo ListenerOptions) error {
	b.mu.Lock()
	if b.closing {
		b.mu.Unlock()
		return ErrClosed
	}
	ls := newListenerState(lo)
	b.listeners[ln] = ls
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.listeners, ln)
		b.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if b.isClosing() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				b.log.Warn("accept failed, retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		b.startConn(nc, ls)
	}
}

// startConn runs a connection goroutine for nc, owned by b.wg.
func (b *Broker) startConn(nc net.Conn, ls *listenerState) {
	c := newConn(b, nc, ls)
	b.mu.Lock()
	if b.closing {
		b.mu.Unlock()
		nc.Close()
		return
	}
	b.conns[c] = struct{}{}
	b.wg.Add(1)
	b.mu.Unlock()
	b.connected.Add(1)
	b.stats.accepted.Add(1)
	ls.accepted.Add(1)
	c.screen(ls, ls.active.Add(1))
	c.nc.SetReadDeadline(time.Now().Add(c.connectTimeout()))
	go c.run()
}

// endConn forgets a connection that has ended; it is the last thing its
// last reader goroutine does.
func (b *Broker) endConn(c *conn) {
	close(c.done)
	c.ls.active.Add(-1)
	b.connected.Add(-1)
	b.mu.Lock()
	delete(b.conns, c)
	b.mu.Unlock()
	b.wg.Done()
}

func (b *Broker) isClosing() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closing
}

// Shutdown stops accepting, disconnects clients (v5: reason 0x8B) and
// waits for connection goroutines to end or ctx to expire.
func (b *Broker) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	b.closing = true
	for ln := range b.listeners {
		ln.Close()
	}
	conns := make([]*conn, 0, len(b.conns))
	for c := range b.conns {
		conns = append(conns, c)
	}
	for id, w := range b.wills {
		w.timer.Stop()
		delete(b.wills, id)
	}
	b.sessions.Range(func(_, v any) bool {
		if e := v.(*entry); e.expiry != nil {
			e.expiry.Stop()
		}
		return true
	})
	b.mu.Unlock()
	for _, c := range conns {
		c.kick(packet.ServerShuttingDown)
	}
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		for _, c := range conns {
			c.nc.Close()
		}
		<-done
		err = ctx.Err()
	}
	b.mu.Lock()
	unsubs := make([]func(), 0, len(b.inproc))
	for _, u := range b.inproc {
		unsubs = append(unsubs, u)
	}
	b.mu.Unlock()
	for _, u := range unsubs { // outside mu: each takes it
		u()
	}
	b.stopParker()
	b.stopOnce.Do(func() { close(b.stop) })
	b.bg.Wait()
	return err
}
