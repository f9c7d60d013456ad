// Package mqttclient is a small MQTT 3.1, 3.1.1 and 5.0 client on package
// packet, for the command-line clients baram pub and baram sub: one
// connection; CONNECT and CONNACK; PUBLISH with its QoS 1 and 2 flows in
// both directions; SUBSCRIBE and UNSUBSCRIBE; keep alive pings while idle;
// DISCONNECT.
//
// It opens its connection with the function Config.Dial gives it; package
// cli gives it the dialer of baram bench (bench.Target.Dial), so the three
// commands speak TCP, TLS and WebSocket alike. Every wait for the broker is
// bounded by Config.Timeout.
//
// A Client runs two goroutines: a reader, which also answers the broker's
// QoS 1 and 2 flows and calls Config.OnPublish, and a pinger. Both end when
// the connection ends: by Disconnect or Close, or by an error that Err
// then reports.
package mqttclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
)

// DefaultTimeout is Config.Timeout when it is zero.
const DefaultTimeout = 10 * time.Second

// Config configures a client connection.
type Config struct {
	// Dial opens the transport connection (TCP, TLS, WebSocket). It is
	// called once, with a context bounded by Timeout.
	Dial func(ctx context.Context) (net.Conn, error)
	// Connect is the CONNECT to send. Its Version (packet.V31, V311 or
	// V5; V311 when 0) is the protocol level of the connection.
	Connect packet.Connect
	// Timeout bounds dialling together with the CONNACK, each
	// acknowledgement the client waits for, each write, and the
	// PINGRESP to a keep alive ping; DefaultTimeout when zero.
	Timeout time.Duration
	// OnPublish is called, on the reader goroutine, for each PUBLISH the
	// broker sends, except a QoS 2 message the client has already
	// received and not yet seen released. Its Payload is only valid during
	// the call. It returns whether the message was taken: a taken QoS 1 or
	// 2 message is acknowledged (PUBACK, PUBREC); one not taken is left
	// unacknowledged, so that the broker delivers it again to a persistent
	// session. Nil takes every message.
	OnPublish func(p *packet.Publish) bool
	// Debug, when not nil, is told of every packet sent and received.
	Debug func(msg string)
}

// Client is one connection to a broker; see Connect.
type Client struct {
	cfg     Config
	nc      net.Conn
	version byte
	connack *packet.Connack
	// What the server's CONNACK allows.
	maxQoS     byte
	retainOK   bool
	maxPacket  int           // 0: no limit
	sendQuota  chan struct{} // a slot per QoS 1 or 2 message in flight (Receive Maximum)
	keepAlive  time.Duration // 0: no pings
	inHandler  atomic.Bool   // the reader is in OnPublish
	lastWrite  atomic.Int64  // unix nanoseconds of the last write
	pingSentAt atomic.Int64  // unix nanoseconds of an unanswered PINGREQ; 0 none

	wmu  sync.Mutex // guards wbuf and serializes writes
	wbuf []byte

	mu      sync.Mutex // guards nextID and waiters
	nextID  uint16
	waiters map[uint16]*waiter

	// received is the reader's: QoS 2 packet ids whose PUBREC was sent and
	// whose PUBREL has not come. unreleased counts them for Disconnect,
	// which released wakes.
	received   map[uint16]bool
	unreleased atomic.Int32
	released   chan struct{}

	endOnce sync.Once
	done    chan struct{} // closed when the connection has ended
	err     error         // why; written before done closes, nil when ended by Disconnect or Close
	wg      sync.WaitGroup
}

// waiter is an operation waiting for its acknowledgement.
type waiter struct {
	kind packet.Type        // what ends it: PUBACK, PUBCOMP, SUBACK or UNSUBACK
	ch   chan packet.Packet // receives that packet (buffered, one)
	err  error              // an error of the flow (set before ch is sent to)
}

// errClosed ends a connection closed on purpose.
var errClosed = errors.New("mqttclient: connection closed")

// Connect dials, sends cfg.Connect and waits for the CONNACK, all within
// cfg.Timeout. A refused CONNECT gives a *ConnackError. On success the
// client's reader and pinger are running; end it with Disconnect or
// Close.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Connect.Version == 0 {
		cfg.Connect.Version = packet.V311
	}
	switch cfg.Connect.Version {
	case packet.V31, packet.V311, packet.V5:
	default:
		return nil, fmt.Errorf("mqttclient: protocol level %d: want 3, 4 or 5", cfg.Connect.Version)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	nc, err := cfg.Dial(ctx)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, nc: nc, version: cfg.Connect.Version, maxQoS: 2, retainOK: true,
		waiters: make(map[uint16]*waiter), received: make(map[uint16]bool), released: make(chan struct{}, 1),
		done: make(chan struct{})}
	br := bufio.NewReaderSize(nc, 16<<10)
	ack, err := c.handshake(ctx, br)
	if err != nil {
		nc.Close()
		return nil, err
	}
	c.connack = ack
	c.applyConnack(ack)
	c.wg.Add(2)
	go c.readLoop(br)
	go c.pingLoop()
	return c, nil
}

// handshake writes the CONNECT and reads the CONNACK.
func (c *Client) handshake(ctx context.Context, br *bufio.Reader) (*packet.Connack, error) {
	deadline, _ := ctx.Deadline()
	_ = c.nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	conn := c.cfg.Connect
	if err := c.write(&conn); err != nil {
		return nil, fmt.Errorf("write CONNECT: %w", err)
	}
	p, err := c.readPacket(br)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, context.Cause(ctx))
		}
		return nil, fmt.Errorf("waiting for CONNACK: %w", err)
	}
	ack, ok := p.(*packet.Connack)
	if !ok {
		return nil, fmt.Errorf("got %s, want CONNACK", p.Type())
	}
	if ack.ReasonCode != packet.Success {
		e := &ConnackError{Version: c.version, Code: ack.ReasonCode}
		if c.version == packet.V5 {
			if ack.Props.Has(packet.PropReasonString) {
				e.Reason = ack.Props.ReasonString
			}
		} else {
			e.Return = packet.ConnackReturnCode(ack.ReasonCode)
		}
		return nil, e
	}
	_ = c.nc.SetDeadline(time.Time{})
	return ack, nil
}

// applyConnack takes the server's limits and keep alive from the CONNACK.
func (c *Client) applyConnack(ack *packet.Connack) {
	recvMax := 65535
	if ack.Props.Has(packet.PropReceiveMaximum) && ack.Props.ReceiveMaximum > 0 {
		recvMax = int(ack.Props.ReceiveMaximum)
	}
	c.sendQuota = make(chan struct{}, recvMax)
	if ack.Props.Has(packet.PropMaximumQoS) {
		c.maxQoS = ack.Props.MaximumQoS
	}
	if ack.Props.Has(packet.PropRetainAvailable) {
		c.retainOK = ack.Props.RetainAvailable != 0
	}
	if ack.Props.Has(packet.PropMaximumPacketSize) {
		c.maxPacket = int(ack.Props.MaximumPacketSize)
	}
	c.keepAlive = time.Duration(c.cfg.Connect.KeepAlive) * time.Second
	if ack.Props.Has(packet.PropServerKeepAlive) {
		c.keepAlive = time.Duration(ack.Props.ServerKeepAlive) * time.Second
	}
}

// Connack is the broker's CONNACK.
func (c *Client) Connack() *packet.Connack { return c.connack }

// Version is the protocol level of the connection.
func (c *Client) Version() byte { return c.version }

// KeepAlive is the keep alive in force: the CONNECT's, or the server's
// (MQTT 5 Server Keep Alive). Zero means no pings.
func (c *Client) KeepAlive() time.Duration { return c.keepAlive }

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the connection ended: nil while it is up and after
// Disconnect or Close, else the read, write or protocol error.
func (c *Client) Err() error {
	select {
	case <-c.done:
		if errors.Is(c.err, errClosed) {
			return nil
		}
		return c.err
	default:
		return nil
	}
}

// end closes the connection for err (errClosed: on purpose) once.
func (c *Client) end(err error) {
	c.endOnce.Do(func() {
		c.err = err
		c.nc.Close()
		close(c.done)
	})
}

// ended is the error to return from an operation on an ended connection.
func (c *Client) ended() error {
	if errors.Is(c.err, errClosed) {
		return errClosed
	}
	return fmt.Errorf("connection lost: %w", c.err)
}

// Disconnect sends a DISCONNECT (d, or a plain one when nil), closes the
// connection and waits for the client's goroutines. First it lets the
// broker finish the QoS 2 messages it delivered (PUBREL, PUBCOMP), for at
// most the timeout. It returns the error that had ended the connection
// already ("connection lost: ..."), or the write's.
func (c *Client) Disconnect(d *packet.Disconnect) error {
	c.awaitReleases()
	select {
	case <-c.done:
		c.wg.Wait()
		if err := c.Err(); err != nil {
			return fmt.Errorf("connection lost: %w", err)
		}
		return nil
	default:
	}
	if d == nil {
		d = &packet.Disconnect{}
	}
	err := c.write(d)
	c.end(errClosed)
	c.wg.Wait()
	if err != nil {
		return fmt.Errorf("write DISCONNECT: %w", err)
	}
	return nil
}

// awaitReleases waits, at most the timeout, until every QoS 2 message
// received has been released.
func (c *Client) awaitReleases() {
	if c.unreleased.Load() == 0 {
		return
	}
	t := time.NewTimer(c.cfg.Timeout)
	defer t.Stop()
	for c.unreleased.Load() > 0 {
		select {
		case <-c.released:
		case <-t.C:
			return
		case <-c.done:
			return
		}
	}
}

// Close closes the connection without a DISCONNECT (so the broker
// publishes the will, if any) and waits for the client's goroutines.
func (c *Client) Close() error {
	c.end(errClosed)
	c.wg.Wait()
	return c.Err()
}

// write encodes p and writes it within the timeout; a failed write ends
// the connection.
func (c *Client) write(p packet.Packet) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var err error
	c.wbuf, err = packet.Append(c.wbuf[:0], p, c.version)
	if err != nil {
		return fmt.Errorf("encode %s: %w", p.Type(), err)
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.cfg.Timeout))
	if _, err = c.nc.Write(c.wbuf); err != nil {
		c.end(fmt.Errorf("write %s: %w", p.Type(), err))
		return err
	}
	c.lastWrite.Store(time.Now().UnixNano())
	if c.cfg.Debug != nil {
		c.cfg.Debug("sent " + summary(p))
	}
	if cap(c.wbuf) > 64<<10 {
		c.wbuf = nil // do not hold on to a large payload's buffer
	}
	return nil
}

// readPacket reads and decodes the next packet.
func (c *Client) readPacket(br *bufio.Reader) (packet.Packet, error) {
	var hdr [5]byte
	n := 0
	var h packet.FixedHeader
	for {
		b, err := br.ReadByte()
		if err != nil {
			if n > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		hdr[n] = b
		n++
		h, err = packet.ParseFixedHeader(hdr[:n])
		if err == nil {
			break
		}
		if !errors.Is(err, packet.ErrIncomplete) || n == len(hdr) {
			return nil, err
		}
	}
	body := make([]byte, h.Remaining)
	if _, err := io.ReadFull(br, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("reading a %s of %d bytes: %w", h.Type, h.Remaining, err)
	}
	p, err := packet.Decode(h, body, c.version)
	if err != nil {
		return nil, fmt.Errorf("malformed %s from the broker: %w", h.Type, err)
	}
	if c.cfg.Debug != nil {
		c.cfg.Debug("received " + summary(p))
	}
	return p, nil
}

// readLoop reads packets until the connection ends.
func (c *Client) readLoop(br *bufio.Reader) {
	defer c.wg.Done()
	for {
		p, err := c.readPacket(br)
		if err != nil {
			select {
			case <-c.done: // closed on purpose
			default:
				if errors.Is(err, io.EOF) {
					err = errors.New("the broker closed the connection")
				}
				c.end(fmt.Errorf("read: %w", err))
			}
			return
		}
		if err := c.handle(p); err != nil {
			c.end(err)
			return
		}
	}
}

// handle acts on one packet from the broker.
func (c *Client) handle(p packet.Packet) error {
	switch p := p.(type) {
	case *packet.Publish:
		return c.receive(p)
	case *packet.Ack:
		switch p.Kind {
		case packet.PUBREL:
			err := c.write(&packet.Ack{Kind: packet.PUBCOMP, PacketID: p.PacketID})
			if c.received[p.PacketID] {
				delete(c.received, p.PacketID)
				c.unreleased.Add(-1)
				select {
				case c.released <- struct{}{}:
				default:
				}
			}
			return err
		case packet.PUBREC:
			return c.pubrec(p)
		default: // PUBACK, PUBCOMP
			c.complete(p.PacketID, p.Kind, p, nil)
		}
	case *packet.Suback:
		c.complete(p.PacketID, packet.SUBACK, p, nil)
	case *packet.Unsuback:
		c.complete(p.PacketID, packet.UNSUBACK, p, nil)
	case *packet.Pingresp:
		c.pingSentAt.Store(0)
	case *packet.Disconnect:
		if c.version == packet.V5 {
			return reasonError(packet.DISCONNECT, 0, p.ReasonCode, &p.Props)
		}
		return errors.New("the broker sent DISCONNECT")
	default:
		return fmt.Errorf("unexpected %s from the broker", p.Type())
	}
	return nil
}

// receive hands an incoming PUBLISH to OnPublish and acknowledges it.
func (c *Client) receive(p *packet.Publish) error {
	if p.QoS == 2 && c.received[p.PacketID] {
		// A resend before PUBREL: delivered already; acknowledge again.
		return c.write(&packet.Ack{Kind: packet.PUBREC, PacketID: p.PacketID})
	}
	if p.Topic == "" {
		return errors.New("the broker sent a PUBLISH with a Topic Alias, which this client did not allow")
	}
	if p.QoS == 2 {
		// Counted before the handler runs: a Disconnect that the handler
		// sets off (sub -C) must wait for this message's release too.
		c.received[p.PacketID] = true
		c.unreleased.Add(1)
	}
	taken := true
	if c.cfg.OnPublish != nil {
		c.inHandler.Store(true)
		taken = c.cfg.OnPublish(p)
		c.inHandler.Store(false)
	}
	switch {
	case !taken && p.QoS == 2:
		delete(c.received, p.PacketID)
		c.unreleased.Add(-1)
		select {
		case c.released <- struct{}{}:
		default:
		}
	case !taken:
	case p.QoS == 1:
		return c.write(&packet.Ack{Kind: packet.PUBACK, PacketID: p.PacketID})
	case p.QoS == 2:
		return c.write(&packet.Ack{Kind: packet.PUBREC, PacketID: p.PacketID})
	}
	return nil
}

// pubrec continues an outgoing QoS 2 flow: PUBREL, or the end of the flow
// for a failure reason code.
func (c *Client) pubrec(a *packet.Ack) error {
	if a.ReasonCode.IsError() {
		c.complete(a.PacketID, packet.PUBCOMP, a, reasonError(packet.PUBREC, a.PacketID, a.ReasonCode, &a.Props))
		return nil
	}
	c.mu.Lock()
	w := c.waiters[a.PacketID]
	c.mu.Unlock()
	if w == nil || w.kind != packet.PUBCOMP {
		// Not ours (an abandoned flow): release it anyway, as the
		// specification requires PUBREL in answer to PUBREC.
		return c.write(&packet.Ack{Kind: packet.PUBREL, PacketID: a.PacketID, ReasonCode: c.notFound(w == nil)})
	}
	return c.write(&packet.Ack{Kind: packet.PUBREL, PacketID: a.PacketID})
}

// notFound is the PUBREL reason for a PUBREC without a flow: MQTT 5's
// Packet Identifier not found.
func (c *Client) notFound(missing bool) packet.ReasonCode {
	if missing && c.version == packet.V5 {
		return packet.PacketIdentifierNotFound
	}
	return packet.Success
}

// complete ends the wait for packet id with p, when a waiter expects a
// packet of kind; err is the flow's error, if any.
func (c *Client) complete(id uint16, kind packet.Type, p packet.Packet, err error) {
	c.mu.Lock()
	w := c.waiters[id]
	if w != nil && w.kind == kind {
		delete(c.waiters, id)
	} else {
		w = nil
	}
	c.mu.Unlock()
	if w != nil {
		w.err = err
		w.ch <- p
	}
}

// register reserves a packet identifier for an operation that kind ends.
func (c *Client) register(kind packet.Type) (uint16, *waiter, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.waiters) >= 65535 {
		return 0, nil, errors.New("all 65535 packet identifiers are in use")
	}
	for {
		c.nextID++
		if c.nextID == 0 {
			c.nextID = 1
		}
		if c.waiters[c.nextID] == nil {
			break
		}
	}
	w := &waiter{kind: kind, ch: make(chan packet.Packet, 1)}
	c.waiters[c.nextID] = w
	return c.nextID, w, nil
}

// forget drops the waiter of id, if it is still w.
func (c *Client) forget(id uint16, w *waiter) {
	c.mu.Lock()
	if c.waiters[id] == w {
		delete(c.waiters, id)
	}
	c.mu.Unlock()
}

// await waits for w's packet until deadline, ctx or the end of the
// connection; what names the wait in errors.
func (c *Client) await(ctx context.Context, id uint16, w *waiter, deadline time.Time, what string) (packet.Packet, error) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case p := <-w.ch:
		return p, w.err
	case <-t.C:
		c.forget(id, w)
		return nil, fmt.Errorf("no %s for packet id %d within %v", what, id, c.cfg.Timeout)
	case <-ctx.Done():
		c.forget(id, w)
		return nil, fmt.Errorf("waiting for %s of packet id %d: %w", what, id, context.Cause(ctx))
	case <-c.done:
		return nil, c.ended()
	}
}

// pingLoop sends PINGREQ when nothing was written for the keep alive
// interval, and ends the connection when a PINGRESP does not come within
// the timeout.
func (c *Client) pingLoop() {
	defer c.wg.Done()
	if c.keepAlive <= 0 {
		<-c.done
		return
	}
	tick := time.NewTicker(min(max(c.keepAlive/4, 10*time.Millisecond), time.Second))
	defer tick.Stop()
	for {
		select {
		case <-c.done:
			return
		case now := <-tick.C:
			if sent := c.pingSentAt.Load(); sent != 0 {
				if now.Sub(time.Unix(0, sent)) > c.cfg.Timeout && !c.inHandler.Load() {
					c.end(fmt.Errorf("no PINGRESP within %v of a PINGREQ: the connection is lost", c.cfg.Timeout))
					return
				}
				continue
			}
			if now.Sub(time.Unix(0, c.lastWrite.Load())) >= c.keepAlive {
				c.pingSentAt.Store(now.UnixNano())
				if err := c.write(&packet.Pingreq{}); err != nil {
					return
				}
			}
		}
	}
}

// summary describes a packet for Config.Debug.
func summary(p packet.Packet) string {
	switch p := p.(type) {
	case *packet.Connect:
		return fmt.Sprintf("CONNECT (client id %q, level %d, clean %t, keep alive %d)", p.ClientID, p.Version, p.CleanStart, p.KeepAlive)
	case *packet.Connack:
		return fmt.Sprintf("CONNACK (session present %t, reason 0x%02X)", p.SessionPresent, byte(p.ReasonCode))
	case *packet.Publish:
		return fmt.Sprintf("PUBLISH (topic %q, qos %d, retain %t, dup %t, id %d, %d bytes)", p.Topic, p.QoS, p.Retain, p.Dup, p.PacketID, len(p.Payload))
	case *packet.Ack:
		return fmt.Sprintf("%s (id %d, reason 0x%02X)", p.Kind, p.PacketID, byte(p.ReasonCode))
	case *packet.Subscribe:
		return fmt.Sprintf("SUBSCRIBE (id %d, %d filters)", p.PacketID, len(p.Subs))
	case *packet.Suback:
		return fmt.Sprintf("SUBACK (id %d, codes % X)", p.PacketID, p.ReasonCodes)
	case *packet.Unsubscribe:
		return fmt.Sprintf("UNSUBSCRIBE (id %d, %d filters)", p.PacketID, len(p.Filters))
	case *packet.Unsuback:
		return fmt.Sprintf("UNSUBACK (id %d)", p.PacketID)
	case *packet.Disconnect:
		return fmt.Sprintf("DISCONNECT (reason 0x%02X)", byte(p.ReasonCode))
	}
	return p.Type().String()
}
