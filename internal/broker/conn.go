package broker

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/baram-mqtt/baram/internal/acl"
	"github.com/baram-mqtt/baram/internal/packet"
	"github.com/baram-mqtt/baram/internal/session"
)

// Read buffer sizes: a connection starts small and returns to small when
// it goes quiet, so idle clients cost little memory. A plain TCP
// connection holds no read buffer at all while parked: it waits for
// readability without one (readwait_unix.go), reads into a buffer of
// rawReadBuf bytes while it is busy and drops it when it parks. (Not a
// sync.Pool: after a connection storm a pool held every parked
// connection's buffer, 4 KB each, until two garbage collections that an
// idle broker does not run.)
const (
	minReadBuf  = 512
	idleReadBuf = 4 << 10
	rawReadBuf  = 4 << 10
)

// conn is one client connection. Its reader goroutine (serve) owns the
// connection and its cleanup; the writer goroutine (writeLoop) is started
// and waited for by the reader.
type conn struct {
	b      *Broker
	nc     net.Conn
	remote string // nc.RemoteAddr, for logs
	log    *slog.Logger
	lh     connLog // log's handler

	// Set while handling CONNECT by the reader, read-only afterwards.
	version     byte
	clientID    string
	grant       *acl.ACL // topics an authenticator limited the client to; nil: no limit
	username    string   // authenticated username
	hasUsername bool     // false for anonymous clients
	entry       *entry
	keepAlive   time.Duration
	ls          *listenerState // the listener that accepted it
	connectedAt time.Time      // when the CONNACK was sent
	peer        clientLimits   // what the client announced it accepts
	lim         connLimits     // abuse limits; see the field comments

	// Owned by the reader goroutine.
	rbuf         []byte            // nil while a plain TCP connection is idle
	raw          syscall.RawConn   // the plain socket, for waiting without a buffer; nil if wrapped
	readDeadline time.Time         // the keep alive's; zero for none
	parkTimer    *time.Timer       // wakes a parked connection at readDeadline
	parkID       int32             // its id in the parker's epoll set; guarded by parker.mu
	parked       atomic.Bool       // no reader goroutine runs; wake starts one
	settled      bool              // read since its CONNECT, or parked once: waits ParkAfter, not parkAfterConnect
	need         int               // length of the packet being awaited, 0 if unknown
	pub          *packet.Publish   // reused for every inbound PUBLISH; nil until the first
	tx           *txn              // the read batch being handled; nil while parked
	aliasesIn    map[uint16]string // inbound topic aliases (v5)
	will         *session.Message  // the Last Will, nil once disarmed
	willDelay    time.Duration
	ea           enhancedAuth // MQTT 5 enhanced authentication

	// Guarded by the attached session's mu: only Sink methods touch them.
	aliasesOut map[string]uint16
	pubOut     *packet.Publish // reused to encode every outbound PUBLISH; nil until the first

	outMu    sync.Mutex
	out      []byte         // encoded packets waiting for the writer; guarded by outMu
	outShut  bool           // no more writes; writer flushes and closes; guarded by outMu
	kickCode *byte          // reason for a server-side close; guarded by outMu
	writing  bool           // the writer's role is taken: a writer goroutine runs, or the reader writes (writeNow); guarded by outMu
	writers  sync.WaitGroup // the writer goroutines (one at a time)
	drained  chan struct{}  // cap 1: the writer took a batch out of c.out
	done     chan struct{}  // closed when cleanup is complete
}

// clientLimits are the v5 CONNECT properties that bound what we send.
type clientLimits struct {
	maxPacket   uint32 // 0: no limit beyond the protocol's
	aliasMax    uint16
	recvMax     uint16 // receive maximum; 0 when not given
	problemInfo bool   // reason strings and user properties allowed on errors
}

func newConn(b *Broker, nc net.Conn, ls *listenerState) *conn {
	c := &conn{
		b:       b,
		nc:      nc,
		remote:  nc.RemoteAddr().String(),
		drained: make(chan struct{}, 1),
		done:    make(chan struct{}),
		peer:    clientLimits{problemInfo: true},
		ls:      ls,
		raw:     rawConn(nc),
	}
	c.lh = connLog{c: c, h: b.log.Handler()}
	c.log = slog.New(&c.lh)
	return c
}

// run reads the connection until it ends, then cleans up; or until it
// parks (park.go), when a later run carries on. The connection counts
// once in b.wg, from startConn to endConn, across all its runs.
func (c *conn) run() {
	err := c.readLoop()
	if err == errParked {
		return
	}
	c.finish(err)
	c.b.endConn(c)
}

// finish ends the session's attachment, handles the will, flushes what is
// queued and closes the socket.
func (c *conn) finish(err error) {
	c.reportEnd(err)
	if c.entry != nil {
		c.b.detach(c)
	}
	c.shutWriter()
	c.writers.Wait()
	c.nc.Close()
}

// reportEnd logs why the connection ended and, for protocol errors, tells
// a v5 client the reason [MQTT-4.13.1-1].
func (c *conn) reportEnd(err error) {
	var perr *packet.Error
	switch {
	case err == nil, errors.Is(err, errDisconnect), errors.Is(err, errRefused):
		c.log.Debug("client disconnected")
	case errors.Is(err, errKicked):
		c.log.Debug("client disconnected by server")
	case isClientCertError(err):
		c.log.Info("TLS handshake refused", "err", err)
	case errors.As(err, new(storeError)):
		c.log.Error("closing connection: its messages could not be stored and were not acknowledged", "err", err)
		if c.version == packet.V5 && c.entry != nil {
			c.writeDisconnect(packet.UnspecifiedError, "server storage failure")
		}
	case errors.As(err, new(*limitError)):
		// Logged, rate-limited, where the limit struck.
		if c.version == packet.V5 && c.entry != nil {
			c.writeDisconnect(packet.MessageRateTooHigh, err.Error())
		}
	case errors.As(err, &perr):
		c.log.Info("closing connection: protocol violation", "err", perr)
		if c.version == packet.V5 && c.entry != nil {
			c.writeDisconnect(perr.Code, perr.Msg)
		}
	case errors.Is(err, io.EOF):
		c.log.Debug("connection closed by client")
	case c.entry != nil && errors.Is(err, os.ErrDeadlineExceeded):
		// Only the keep alive sets a read deadline after CONNECT [MQTT-3.1.2-22].
		c.log.Info("closing connection: keep alive timeout", "keepalive", c.keepAlive)
		if c.version == packet.V5 {
			c.writeDisconnect(packet.KeepAliveTimeout, "keep alive timeout")
		}
	case errors.Is(err, os.ErrDeadlineExceeded):
		// Before CONNECT the only read deadline is the connect timeout.
		c.log.Info("closing connection: no CONNECT within the connect timeout", "timeout", c.b.opts.ConnectTimeout)
	default:
		c.log.Info("connection lost", "err", err)
	}
}

// kick closes the connection from the server side with a v5 reason code.
// It is safe from any goroutine; the reader notices and cleans up.
func (c *conn) kick(code packet.ReasonCode) {
	c.outMu.Lock()
	if c.kickCode != nil || c.outShut {
		c.outMu.Unlock()
		return
	}
	b := byte(code)
	c.kickCode = &b
	v5 := c.version == packet.V5
	c.outMu.Unlock()
	if v5 {
		c.writeDisconnect(code, "")
	}
	c.shutWriter()
	// Unblock the reader now; the writer closes the socket after flushing.
	c.nc.SetReadDeadline(time.Unix(1, 0))
	// A parked connection has no reader to unblock: start one. Only now,
	// so that it cannot end the connection before the DISCONNECT is
	// queued. (Its socket may be closed already, which took it out of the
	// epoll set; the parker's remove goes through the closed netFD.)
	c.wake()
}

// setVersion records the protocol level. Other goroutines (kick) read it
// under outMu; it also publishes c.peer, written before it.
func (c *conn) setVersion(v byte) {
	c.outMu.Lock()
	c.version = v
	c.outMu.Unlock()
}

// kicked reports the server-side close reason, if any.
func (c *conn) kicked() (packet.ReasonCode, bool) {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if c.kickCode == nil {
		return 0, false
	}
	return packet.ReasonCode(*c.kickCode), true
}

// readLoop reads and handles packets until the connection ends. Every
// complete packet in the buffer is handled before the next read.
func (c *conn) readLoop() error {
	for {
		if err := c.waitDrained(); err != nil {
			return err
		}
		// With nothing half-read, the read waits at most ParkAfter; if
		// nothing comes, the connection parks (park.go) and this
		// goroutine ends. A woken run starts with the read.
		idle := c.mayPark() && c.armIdleDeadline()
		if err := c.fill(); err != nil {
			if _, ok := c.kicked(); ok {
				return errKicked
			}
			if idle && c.idleExpired(err) {
				if c.park() {
					return errParked
				}
				c.nc.SetReadDeadline(c.readDeadline)
				continue
			}
			return err
		}
		if idle {
			c.nc.SetReadDeadline(c.readDeadline) // the keep alive's again
			c.settled = true
		}
		n, err := c.handleBuffered()
		if err != nil {
			return err
		}
		c.compact(n)
	}
}

// fill reads once into the free end of rbuf, growing it if full.
func (c *conn) fill() error {
	if cap(c.rbuf) == 0 {
		if err := c.takeReadBuf(); err != nil {
			return err
		}
	}
	if len(c.rbuf) == cap(c.rbuf) {
		// Double, up to the awaited packet: growing straight to the length
		// a header claims would let five bytes cost MaxPacketSize of memory.
		size := 2 * cap(c.rbuf)
		if c.need > cap(c.rbuf) && c.need < size {
			size = c.need
		}
		c.growRead(size)
	}
	n, err := c.nc.Read(c.rbuf[len(c.rbuf):cap(c.rbuf)])
	c.b.stats.netIn.Add(uint64(n))
	c.rbuf = c.rbuf[:len(c.rbuf)+n]
	if n > 0 && err != nil && !errors.Is(err, io.EOF) {
		return nil // handle what arrived; the error repeats on the next read
	}
	return err
}

func (c *conn) growRead(size int) {
	grown := make([]byte, len(c.rbuf), size)
	copy(grown, c.rbuf)
	c.rbuf = grown
}

// handleBuffered handles every complete packet in rbuf, commits their
// durable writes in one batch, then sends what waited for it. It returns
// how many bytes the packets took.
func (c *conn) handleBuffered() (int, error) {
	if c.tx == nil {
		c.tx = c.b.newTxn()
	}
	off, err := c.handlePackets()
	if c.entry != nil {
		// The acknowledgements of the whole read batch cost one commit,
		// not one each. Nothing here must be on disk before a packet
		// leaves: what must be is written on the spot (session.Journal).
		c.entry.sess.Flush()
	}
	if c.tx.empty() {
		return off, err
	}
	cerr := c.tx.commit()
	c.tx.finish(c, cerr)
	if cerr != nil {
		return off, storeError{cerr}
	}
	return off, err
}

// storeError ends a connection whose writes could not be stored: nothing
// of its read batch was acknowledged.
type storeError struct{ err error }

func (e storeError) Error() string { return "store failure: " + e.err.Error() }
func (e storeError) Unwrap() error { return e.err }

// handlePackets handles every complete packet in rbuf.
func (c *conn) handlePackets() (int, error) {
	off := 0
	for {
		h, err := packet.ParseFixedHeader(c.rbuf[off:])
		if errors.Is(err, packet.ErrIncomplete) {
			return off, nil
		}
		if err != nil {
			return off, err
		}
		if c.entry == nil && h.Type != packet.CONNECT && (c.ea.pending == nil || h.Type != packet.AUTH) { // refuse before waiting for the body
			return off, packet.Errorf(packet.ProtocolError, "first packet is %s, not CONNECT [MQTT-3.1.0-1]", h.Type)
		}
		if h.PacketLen() > int(c.b.opts.MaxPacketSize) {
			return off, packet.Errorf(packet.PacketTooLarge,
				"%s of %d bytes exceeds the maximum packet size %d", h.Type, h.PacketLen(), c.b.opts.MaxPacketSize)
		}
		if off+h.PacketLen() > len(c.rbuf) {
			c.need = h.PacketLen()
			return off, nil
		}
		c.need = 0
		body := c.rbuf[off+h.HeaderLen : off+h.PacketLen()]
		if err := c.handle(h, body); err != nil {
			return off, err
		}
		off += h.PacketLen()
		c.resetKeepAlive()
	}
}

// waitDrained holds the reader while more than MaxOutboundBytes wait to
// be written, so a client that sends without reading its answers fills
// its own TCP window instead of the broker's memory.
func (c *conn) waitDrained() error {
	for c.backlog() > c.b.opts.MaxOutboundBytes {
		<-c.drained // the writer takes a batch, or fails and empties c.out
	}
	return nil
}

// compact drops the n handled bytes, and shrinks a buffer that grew for a
// large packet once it has drained. (A plain TCP connection drops its
// buffer when it parks.)
func (c *conn) compact(n int) {
	rest := copy(c.rbuf, c.rbuf[n:])
	c.rbuf = c.rbuf[:rest]
	if c.pub != nil {
		c.pub.Payload = nil // it pointed into rbuf
	}
	switch {
	case rest > 0:
	case c.raw != nil && cap(c.rbuf) != rawReadBuf:
		// Grown for a large packet, or the small one that read the
		// CONNECT: the next read takes a buffer of rawReadBuf once bytes
		// come, and until then waits without one.
		c.rbuf = nil
	case c.raw == nil && cap(c.rbuf) > idleReadBuf:
		c.rbuf = make([]byte, 0, minReadBuf)
	}
}

// releaseReadBuf drops the empty read buffer, when parking.
func (c *conn) releaseReadBuf() {
	c.rbuf = nil
}

// takeReadBuf gives an empty rbuf a buffer: for a plain TCP connection
// one of rawReadBuf bytes once bytes are there to read, else minReadBuf
// bytes. Before CONNECT a plain connection also takes minReadBuf bytes at
// once, which hold a usual CONNECT, and drops them after it (compact): in
// a connection storm each new connection would otherwise allocate
// rawReadBuf bytes that an idle client never uses again, garbage to
// collect per connect, and pay a system call to wait without a buffer
// for a CONNECT that is usually there already.
func (c *conn) takeReadBuf() error {
	if c.raw == nil || c.entry == nil {
		c.rbuf = make([]byte, 0, minReadBuf)
		return nil
	}
	if err := c.waitReadable(); err != nil {
		return err
	}
	c.rbuf = make([]byte, 0, rawReadBuf)
	return nil
}

// resetKeepAlive pushes the read deadline to 1.5 times the keep alive
// after every whole packet [MQTT-3.1.2-24]; bytes trickling in without
// completing a packet do not count.
func (c *conn) resetKeepAlive() {
	if c.entry == nil {
		return // still before CONNECT: the connect timeout stands
	}
	if c.keepAlive == 0 {
		c.readDeadline = time.Time{}
		c.nc.SetReadDeadline(time.Time{})
		return
	}
	c.readDeadline = time.Now().Add(c.keepAlive * 3 / 2)
	c.nc.SetReadDeadline(c.readDeadline)
}
