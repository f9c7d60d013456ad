package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
)

// readBufSize is each client's read buffer; a read takes whatever the
// socket holds up to this much, and every complete packet in it is handled
// before the next read.
const readBufSize = 64 << 10

// Target is where and from where clients connect.
type Target struct {
	// Addr is the broker, host:port; the host must be a loopback address
	// or "localhost".
	Addr string
	// Sources are local addresses to bind from, used round-robin (client i
	// binds Sources[i%len]); each must be a loopback address such as
	// 127.0.0.2. Empty lets the kernel choose.
	Sources []string
	// ConnectTimeout bounds dialling and the CONNACK; default 5s.
	ConnectTimeout time.Duration
}

// check validates t and resolves its source addresses.
func (t *Target) check() ([]net.IP, error) {
	host, _, err := net.SplitHostPort(t.Addr)
	if err != nil {
		return nil, fmt.Errorf("bench: address %q: %w", t.Addr, err)
	}
	if !isLoopback(host) {
		return nil, fmt.Errorf("bench: address %q: only loopback targets are allowed (127.0.0.0/8, ::1, localhost)", t.Addr)
	}
	var srcs []net.IP
	for _, s := range t.Sources {
		ip := net.ParseIP(strings.TrimSpace(s))
		if ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("bench: source address %q: must be a loopback address such as 127.0.0.2", s)
		}
		srcs = append(srcs, ip)
	}
	return srcs, nil
}

func (t *Target) connectTimeout() time.Duration {
	if t.ConnectTimeout > 0 {
		return t.ConnectTimeout
	}
	return 5 * time.Second
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// client is one raw MQTT 3.1.1 connection.
type client struct {
	nc   net.Conn
	id   string
	rbuf []byte // rbuf[roff:] is read and not yet handled
	roff int
}

// dial connects to t from source (nil: any) and completes CONNECT/CONNACK.
func dial(ctx context.Context, t *Target, source net.IP, c *packet.Connect) (*client, *packet.Connack, error) {
	timeout := t.connectTimeout()
	d := net.Dialer{Timeout: timeout}
	if source != nil {
		d.LocalAddr = &net.TCPAddr{IP: source}
	}
	nc, err := d.DialContext(ctx, "tcp", t.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dial %s: %w", t.Addr, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	cl := &client{nc: nc, id: c.ClientID, rbuf: make([]byte, 0, readBufSize)}
	c.ProtocolName, c.Version = "MQTT", packet.V311
	frame, err := packet.Append(nil, c, packet.V311)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	deadline := time.Now().Add(timeout)
	_ = nc.SetDeadline(deadline)
	if _, err := nc.Write(frame); err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("client %s: write CONNECT: %w", c.ClientID, err)
	}
	p, err := cl.readOne()
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("client %s: waiting for CONNACK: %w", c.ClientID, err)
	}
	ack, ok := p.(*packet.Connack)
	if !ok {
		nc.Close()
		return nil, nil, fmt.Errorf("client %s: got %s, want CONNACK", c.ClientID, p.Type())
	}
	if ack.ReasonCode != packet.Success {
		nc.Close()
		return nil, nil, fmt.Errorf("client %s: CONNACK return code 0x%02X", c.ClientID, byte(ack.ReasonCode))
	}
	_ = nc.SetDeadline(time.Time{})
	return cl, ack, nil
}

// next returns the next complete packet already buffered, with its body
// aliasing the read buffer (valid until the next fill).
func (c *client) next() (packet.FixedHeader, []byte, bool, error) {
	b := c.rbuf[c.roff:]
	h, err := packet.ParseFixedHeader(b)
	if errors.Is(err, packet.ErrIncomplete) {
		return h, nil, false, nil
	}
	if err != nil {
		return h, nil, false, err
	}
	if len(b) < h.PacketLen() {
		return h, nil, false, nil
	}
	c.roff += h.PacketLen()
	return h, b[h.HeaderLen:h.PacketLen()], true, nil
}

// fill moves the unhandled bytes to the front and reads once more.
func (c *client) fill() error {
	n := copy(c.rbuf[:cap(c.rbuf)], c.rbuf[c.roff:])
	c.rbuf, c.roff = c.rbuf[:n], 0
	if n == cap(c.rbuf) { // one packet larger than the buffer
		grown := make([]byte, n, 2*cap(c.rbuf))
		copy(grown, c.rbuf)
		c.rbuf = grown
	}
	m, err := c.nc.Read(c.rbuf[n:cap(c.rbuf)])
	c.rbuf = c.rbuf[:n+m]
	if m > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// readOne reads and fully decodes the next packet (for handshakes; the
// hot paths use next and look at the header themselves).
func (c *client) readOne() (packet.Packet, error) {
	for range 1 << 16 {
		h, body, ok, err := c.next()
		if err != nil {
			return nil, err
		}
		if ok {
			return packet.Decode(h, body, packet.V311)
		}
		if err := c.fill(); err != nil {
			return nil, err
		}
	}
	return nil, errors.New("no complete packet after 65536 reads")
}

// disconnect sends DISCONNECT and closes the connection.
func (c *client) disconnect() {
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.nc.Write([]byte{byte(packet.DISCONNECT) << 4, 0})
	c.nc.Close()
}

// ackFrame appends a 3.1.1 PUBACK, PUBREC, PUBREL or PUBCOMP.
func ackFrame(dst []byte, kind packet.Type, id uint16) []byte {
	first := byte(kind) << 4
	if kind == packet.PUBREL {
		first |= 0x02
	}
	return append(dst, first, 2, byte(id>>8), byte(id))
}

// ackID reads the packet identifier of a 3.1.1 acknowledgement body.
func ackID(h packet.FixedHeader, body []byte) (uint16, error) {
	if len(body) != 2 {
		return 0, fmt.Errorf("%s with remaining length %d, want 2", h.Type, len(body))
	}
	return uint16(body[0])<<8 | uint16(body[1]), nil
}

// connectAll dials n clients with at most par handshakes at once. build
// makes client i's CONNECT. On any failure every client already
// connected is closed and the first error returned.
func connectAll(ctx context.Context, t *Target, srcs []net.IP, n, par int, build func(i int) *packet.Connect) ([]*client, error) {
	clients := make([]*client, n)
	errs := make([]error, n)
	sem := make(chan struct{}, max(par, 1))
	var wg sync.WaitGroup
	for i := range n {
		if ctx.Err() != nil {
			errs[i] = ctx.Err()
			break
		}
		var src net.IP
		if len(srcs) > 0 {
			src = srcs[i%len(srcs)]
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			clients[i], _, errs[i] = dial(ctx, t, src, build(i))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, c := range clients {
			if c != nil {
				c.nc.Close()
			}
		}
		return nil, firstErr(errs, n)
	}
	return clients, nil
}

// firstErr returns the first non-nil error, noting how many failed.
func firstErr(errs []error, n int) error {
	failed := 0
	var first error
	for _, err := range errs {
		if err != nil {
			failed++
			if first == nil {
				first = err
			}
		}
	}
	if failed > 1 {
		return fmt.Errorf("%d of %d clients failed to connect; first: %w", failed, n, first)
	}
	return first
}
