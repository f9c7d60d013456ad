package listener

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
)

// DefaultProxyHeaderTimeout bounds the wait for a PROXY protocol header
// when ProxyProtocol is given no timeout.
const DefaultProxyHeaderTimeout = 5 * time.Second

// proxyListener reads the PROXY protocol header of each connection in a
// goroutine of its own, so that a slow or silent peer does not hold up
// Accept, and hands over the connections whose header (or its absence)
// is in order.
type proxyListener struct {
	pl  *proxyproto.Listener
	log *slog.Logger

	conns     chan net.Conn // connections ready for Accept
	errs      chan error    // temporary accept errors, passed on so the caller backs off
	failed    chan struct{} // closed when the accept loop ends on a lasting error
	failErr   error         // that error; read after failed
	done      chan struct{} // closed by Close
	closeOnce sync.Once

	mu      sync.Mutex            // guards closing, pending and the Add of wg
	closing bool                  // set by Close
	pending map[net.Conn]struct{} // connections whose header is being read
	wg      sync.WaitGroup        // the accept loop and the header readers
}

// ProxyProtocol returns a listener that reads a PROXY protocol header (v1
// or v2) at the start of each connection accepted from ln, which must be
// the TCP listener itself: the header comes before TLS and HTTP.
//
// A connection from an address in trusted must start with a header, and
// the client address it names becomes the connection's RemoteAddr (and
// the address it was sent to, its LocalAddr); a connection from any other
// address must not send one, and is served as it is. In go-proxyproto's
// terms the policy is REQUIRE for trusted peers and REJECT for the
// others. A connection that breaks its rule, or whose header is
// malformed or names other than a TCP connection, is logged and closed
// without affecting the others. A LOCAL header (a proxy's health check)
// keeps the peer's address.
//
// The header must arrive within headerTimeout (DefaultProxyHeaderTimeout
// when 0) of the connection; a trusted peer that sends none in time is
// refused, any other is served without. Headers are read before Accept
// returns the connection, each in its own goroutine.
//
// The returned listener owns ln. Close closes it and the connections
// whose header is still awaited, and returns once its goroutines have
// ended. Accept after Close returns an error for which
// errors.Is(err, net.ErrClosed) holds.
func ProxyProtocol(ln net.Listener, trusted []netip.Prefix, headerTimeout time.Duration, log *slog.Logger) net.Listener {
	if headerTimeout <= 0 {
		headerTimeout = DefaultProxyHeaderTimeout
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	trusted = slices.Clone(trusted)
	l := &proxyListener{
		pl: &proxyproto.Listener{
			Listener: ln,
			ConnPolicy: func(o proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) {
				if isTrusted(addrOf(o.Upstream), trusted) {
					return proxyproto.REQUIRE, nil
				}
				return proxyproto.REJECT, nil
			},
			ValidateHeader:    validateProxyHeader,
			ReadHeaderTimeout: headerTimeout,
		},
		log:     log,
		conns:   make(chan net.Conn),
		errs:    make(chan error),
		failed:  make(chan struct{}),
		done:    make(chan struct{}),
		pending: make(map[net.Conn]struct{}),
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

// validateProxyHeader accepts the headers of TCP connections, and those
// that name no addresses (LOCAL, or v1 UNKNOWN).
func validateProxyHeader(h *proxyproto.Header) error {
	if h.Command.IsLocal() {
		return nil
	}
	switch h.TransportProtocol {
	case proxyproto.TCPv4, proxyproto.TCPv6, proxyproto.UNSPEC:
		return nil
	}
	return fmt.Errorf("PROXY header names a connection that is not TCP (transport 0x%02x)", byte(h.TransportProtocol))
}

// acceptLoop accepts connections and starts a header reader for each.
func (l *proxyListener) acceptLoop() {
	defer l.wg.Done()
	for {
		c, err := l.pl.Accept()
		if err != nil {
			select {
			case <-l.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				select {
				case l.errs <- err:
					continue
				case <-l.done:
					return
				}
			}
			l.failErr = err
			close(l.failed)
			return
		}
		l.mu.Lock()
		if l.closing {
			l.mu.Unlock()
			c.Close()
			return
		}
		l.pending[c] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		go l.readHeader(c)
	}
}

// readHeader reads the header of c and hands c to Accept, or closes it.
func (l *proxyListener) readHeader(c net.Conn) {
	defer l.wg.Done()
	err := proxyHeaderError(c)
	l.mu.Lock()
	delete(l.pending, c)
	l.mu.Unlock()
	if err != nil {
		select {
		case <-l.done: // Close closed it
		default:
			l.log.Info("PROXY protocol: connection refused", "remote", rawRemoteAddr(c), "err", err)
		}
		c.Close()
		return
	}
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

// proxyHeaderError reads and checks the header of c, within the header
// timeout, and returns why c is refused, or nil.
func proxyHeaderError(c net.Conn) error {
	pc, ok := c.(*proxyproto.Conn)
	if !ok {
		return nil // a SKIP policy; ours has none
	}
	// A Read of nothing processes the header, reads no further, and
	// returns the header's error, which ProxyHeader would not.
	_, err := pc.Read(nil)
	switch {
	case errors.Is(err, proxyproto.ErrNoProxyProtocol):
		return fmt.Errorf("no PROXY protocol header from a trusted proxy: %w", err)
	case errors.Is(err, proxyproto.ErrSuperfluousProxyHeader):
		return fmt.Errorf("a PROXY protocol header from an address that is not a trusted proxy: %w", err)
	}
	return err
}

// rawRemoteAddr returns the TCP peer of c, not the address its header
// names.
func rawRemoteAddr(c net.Conn) net.Addr {
	if pc, ok := c.(*proxyproto.Conn); ok {
		return pc.Raw().RemoteAddr()
	}
	return c.RemoteAddr()
}

// Accept returns the next connection whose header is in order.
func (l *proxyListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: l.Addr().Network(), Addr: l.Addr(), Err: net.ErrClosed}
	case <-l.failed:
		return nil, l.failErr
	}
}

// Close closes the listener and the connections whose header is awaited,
// and waits for its goroutines.
func (l *proxyListener) Close() error {
	err := net.ErrClosed
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closing = true
		close(l.done)
		for c := range l.pending {
			c.Close() // ends its header read
		}
		l.mu.Unlock()
		err = l.pl.Close()
		l.wg.Wait()
	})
	return err
}

// Addr returns the address of the underlying listener.
func (l *proxyListener) Addr() net.Addr { return l.pl.Addr() }
