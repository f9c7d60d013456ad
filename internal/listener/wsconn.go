package listener

import (
	"crypto/tls"
	"net"
	"os"
	"sync"
	"time"

	"github.com/coder/websocket"
)

const (
	// wsReadBuf is the size of the chunks a WebSocket connection reads
	// ahead of its Reads: one chunk at most waits per connection.
	wsReadBuf = 4 << 10
	// wsCloseTimeout bounds Close: writing the close frame and waiting
	// for the client's.
	wsCloseTimeout = time.Second
)

// wsConn is an MQTT WebSocket as a net.Conn: the payloads of the binary
// messages, in order, as one byte stream.
//
// websocket.NetConn does the framing, but it closes the whole connection
// when a read deadline strikes during a Read. The broker sets deadlines
// that must leave the connection usable: it unblocks its reader with a
// past deadline when it kicks a client, and still writes a DISCONNECT
// afterwards. So a pump goroutine reads from the NetConn, one chunk at a
// time, and Read waits for the chunk, the deadline or Close, as on a TCP
// connection. Writes go straight to the NetConn: one binary message per
// Write, bounded by the write deadline (which, when it strikes, closes
// the connection; a broker closes it then anyway).
type wsConn struct {
	ws     *websocket.Conn
	nc     net.Conn // websocket.NetConn of ws; read only by pump
	raw    net.Conn // the hijacked HTTP connection under ws
	remote net.Addr

	// The pump hands each chunk over on data, then waits on more until
	// Read has consumed it, so it can read into the same buffer again.
	data     chan []byte   // unbuffered; closed when the pump stops on an error
	more     chan struct{} // cap 1
	rerr     error         // the pump's error; written before data is closed
	pumpDone chan struct{}

	readMu sync.Mutex // serialises Reads
	rest   []byte     // unread part of the last chunk; guarded by readMu
	rdl    deadline

	closed    chan struct{}
	closeOnce sync.Once
}

// wssConn is a wsConn over TLS; the broker reads the client certificate
// from its ConnectionState.
type wssConn struct {
	*wsConn
	state tls.ConnectionState
}

// ConnectionState returns the state of the TLS handshake under the
// WebSocket.
func (c *wssConn) ConnectionState() tls.ConnectionState { return c.state }

// newWSConn returns ws, whose NetConn is nc and whose HTTP connection is
// raw, as a net.Conn whose RemoteAddr is remote. state is the TLS state
// of raw, nil without TLS. It starts the pump, which ends when the
// connection does.
func newWSConn(ws *websocket.Conn, nc, raw net.Conn, remote net.Addr, state *tls.ConnectionState) net.Conn {
	c := &wsConn{
		ws:       ws,
		nc:       nc,
		raw:      raw,
		remote:   remote,
		data:     make(chan []byte),
		more:     make(chan struct{}, 1),
		pumpDone: make(chan struct{}),
		rdl:      newDeadline(),
		closed:   make(chan struct{}),
	}
	go c.pump()
	if state != nil {
		return &wssConn{wsConn: c, state: *state}
	}
	return c
}

// pump reads the byte stream ahead of Read, one chunk at a time, until an
// error or Close. Text messages end it with an error, and close the
// connection with status 1003 [MQTT-6.0.0-1]; pings are answered while it
// reads.
func (c *wsConn) pump() {
	defer close(c.pumpDone)
	buf := make([]byte, wsReadBuf)
	for {
		n, err := c.nc.Read(buf)
		if n > 0 {
			select {
			case c.data <- buf[:n]:
			case <-c.closed:
				return
			}
			select {
			case <-c.more:
			case <-c.closed:
				return
			}
		}
		if err != nil {
			c.rerr = err
			close(c.data)
			return
		}
	}
}

// Read reads the byte stream of the binary messages, as they come,
// whatever their framing [MQTT-6.0.0-2].
func (c *wsConn) Read(p []byte) (int, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	dl := c.rdl.wait()
	select {
	case <-c.closed:
		return 0, c.opError("read", net.ErrClosed)
	case <-dl:
		return 0, c.opError("read", os.ErrDeadlineExceeded)
	default:
	}
	if len(p) == 0 {
		return 0, nil
	}
	if len(c.rest) == 0 {
		select {
		case chunk, ok := <-c.data:
			if !ok {
				return 0, c.rerr
			}
			c.rest = chunk
		case <-dl:
			return 0, c.opError("read", os.ErrDeadlineExceeded)
		case <-c.closed:
			return 0, c.opError("read", net.ErrClosed)
		}
	}
	n := copy(p, c.rest)
	c.rest = c.rest[n:]
	if len(c.rest) == 0 {
		c.rest = nil
		c.more <- struct{}{} // the pump waits for it; cap 1, never blocks
	}
	return n, nil
}

// Write sends p as one binary message.
func (c *wsConn) Write(p []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, c.opError("write", net.ErrClosed)
	default:
	}
	return c.nc.Write(p)
}

// Close closes the WebSocket with status 1000 and the connection under
// it, waiting at most wsCloseTimeout for the client to answer the close
// frame. It returns once the pump has ended; a second Close returns an
// error for which errors.Is(err, net.ErrClosed) holds.
func (c *wsConn) Close() error {
	err := c.opError("close", net.ErrClosed)
	c.closeOnce.Do(func() {
		close(c.closed)
		c.rdl.stop()
		// Bounds the close frame's write and the wait for the client's;
		// the pump's read ends at the deadline too.
		_ = c.raw.SetDeadline(time.Now().Add(wsCloseTimeout))
		// Its error says how the close handshake went (the client closed
		// first, did not answer in time); the connection is closed either
		// way, which is all a caller of Close can want to know.
		_ = c.ws.Close(websocket.StatusNormalClosure, "")
		_ = c.nc.Close() // stops its timers; ws is closed already
		err = nil
		<-c.pumpDone
	})
	return err
}

// LocalAddr returns the address the client connected to.
func (c *wsConn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// RemoteAddr returns the client's address: the TCP peer, or the client
// that a trusted proxy named.
func (c *wsConn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets the read and write deadlines.
func (c *wsConn) SetDeadline(t time.Time) error {
	c.rdl.set(t)
	return c.nc.SetWriteDeadline(t)
}

// SetReadDeadline sets the deadline of Read; a Read that it ends returns
// an error for which errors.Is(err, os.ErrDeadlineExceeded) holds, and
// the connection stays usable.
func (c *wsConn) SetReadDeadline(t time.Time) error {
	c.rdl.set(t)
	return nil
}

// SetWriteDeadline sets the deadline of Write; a Write that it ends
// closes the connection.
func (c *wsConn) SetWriteDeadline(t time.Time) error {
	return c.nc.SetWriteDeadline(t)
}

// opError describes err as a failed op on c.
func (c *wsConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "websocket", Source: c.raw.LocalAddr(), Addr: c.remote, Err: err}
}

// deadline is a read deadline as a channel that is closed when it
// passes, in the manner of net.Pipe's.
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	cancel chan struct{} // closed when the deadline has passed
}

func newDeadline() deadline { return deadline{cancel: make(chan struct{})} }

// set sets the deadline; the zero time clears it.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // the timer fired: wait for it to close cancel
	}
	d.timer = nil
	closed := isClosedChan(d.cancel)
	if t.IsZero() {
		if closed {
			d.cancel = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if closed {
			d.cancel = make(chan struct{})
		}
		ch := d.cancel
		d.timer = time.AfterFunc(dur, func() { close(ch) })
		return
	}
	if !closed {
		close(d.cancel)
	}
}

// wait returns a channel that is closed when the deadline passes.
func (d *deadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel
}

// stop stops the timer, if any. It forgets the timer too: set waits for
// a timer that Stop reports as no longer pending to close cancel, which a
// stopped one never does (a SetReadDeadline after Close hung forever).
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}

func isClosedChan(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
