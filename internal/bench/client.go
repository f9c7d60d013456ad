package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
)

// Read buffer sizes: a client starts with initialReadBuf bytes and
// doubles its buffer, up to readBufSize, while reads fill it; a read takes
// whatever the socket holds up to the buffer's size, and every complete
// packet in it is handled before the next read. A packet larger than the
// buffer grows it past readBufSize.
const (
	initialReadBuf = 4 << 10
	readBufSize    = 64 << 10
)

// Target is where, from where and how clients connect.
type Target struct {
	// Addr is the broker, host:port. Unless AllowRemote is set, the host
	// must be a loopback address or "localhost".
	Addr string
	// Scheme is the transport: SchemeMQTT (TCP, when empty), SchemeMQTTS
	// (TLS), SchemeWS or SchemeWSS (WebSocket). ParseURL sets it.
	Scheme string
	// Path is the WebSocket URL path; DefaultWSPath when empty.
	Path string
	// TLS configures mqtts and wss; nil verifies the broker's certificate
	// against the system roots. An empty ServerName is the host of Addr.
	TLS *tls.Config
	// AllowRemote lifts the loopback-only rule for Addr and Sources: the
	// tests and development tools leave it off so that they never load
	// another machine by mistake; baram bench sets it.
	AllowRemote bool
	// Sources are local addresses to bind from, used round-robin (client i
	// binds Sources[i%len]); each must be a loopback address such as
	// 127.0.0.2 unless AllowRemote is set. Empty lets the kernel choose.
	Sources []string
	// ConnectTimeout bounds dialling (TCP, TLS, WebSocket) and the
	// CONNACK; default 5s.
	ConnectTimeout time.Duration
	// Version is the MQTT protocol level of every client: packet.V311
	// (when 0) or packet.V5.
	Version byte
	// Username and Password go into every CONNECT when not empty.
	Username, Password string
}

// check validates t and resolves its source addresses.
func (t *Target) check() ([]net.IP, error) {
	host, _, err := net.SplitHostPort(t.Addr)
	if err != nil {
		return nil, fmt.Errorf("bench: address %q: %w", t.Addr, err)
	}
	if !t.AllowRemote && !IsLoopback(host) {
		return nil, fmt.Errorf("bench: address %q: only loopback targets are allowed (127.0.0.0/8, ::1, localhost)", t.Addr)
	}
	if _, ok := defaultPorts[t.scheme()]; !ok {
		return nil, fmt.Errorf("bench: scheme %q is not one of mqtt, mqtts, ws, wss", t.Scheme)
	}
	if v := t.version(); v != packet.V311 && v != packet.V5 {
		return nil, fmt.Errorf("bench: MQTT protocol level %d: want %d (3.1.1) or %d (5)", v, packet.V311, packet.V5)
	}
	var srcs []net.IP
	for _, s := range t.Sources {
		ip := net.ParseIP(strings.TrimSpace(s))
		if ip == nil {
			return nil, fmt.Errorf("bench: source address %q is not an IP address", s)
		}
		if !t.AllowRemote && !ip.IsLoopback() {
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

func (t *Target) version() byte {
	if t.Version == 0 {
		return packet.V311
	}
	return t.Version
}

// IsLoopback reports whether host (a name or an address, IPv6 with or
// without brackets) is "localhost" or a loopback address.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// client is one raw MQTT connection.
type client struct {
	nc      net.Conn
	id      string
	version byte
	rbuf    []byte // rbuf[roff:] is read and not yet handled
	roff    int
	full    bool // the last read filled rbuf
	// What the server's CONNACK allows (MQTT 5): its Receive Maximum (0
	// when it set none) and its Maximum QoS.
	recvMax uint16
	maxQoS  byte
}

// dial connects to t from source (nil: any) and completes CONNECT/CONNACK.
// The client's read buffer starts at bufSize bytes.
func dial(ctx context.Context, t *Target, source net.IP, c *packet.Connect, bufSize int) (*client, *packet.Connack, error) {
	nc, err := t.Dial(ctx, source)
	if err != nil {
		return nil, nil, err
	}
	version := t.version()
	cl := &client{nc: nc, id: c.ClientID, version: version, rbuf: make([]byte, 0, bufSize), maxQoS: 2}
	c.ProtocolName, c.Version = "MQTT", version
	if t.Username != "" {
		c.HasUsername, c.Username = true, t.Username
	}
	if t.Password != "" {
		c.HasPassword, c.Password = true, []byte(t.Password)
	}
	frame, err := packet.Append(nil, c, version)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(t.connectTimeout()))
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
		code := byte(ack.ReasonCode)
		if version != packet.V5 {
			code = packet.ConnackReturnCode(ack.ReasonCode)
		}
		return nil, nil, fmt.Errorf("client %s: CONNACK %s 0x%02X%s", c.ClientID, codeWord(version), code, reasonString(&ack.Props))
	}
	if ack.Props.Has(packet.PropReceiveMaximum) {
		cl.recvMax = ack.Props.ReceiveMaximum
	}
	if ack.Props.Has(packet.PropMaximumQoS) {
		cl.maxQoS = ack.Props.MaximumQoS
	}
	_ = nc.SetDeadline(time.Time{})
	return cl, ack, nil
}

// codeWord is what the version calls the byte in CONNACK and SUBACK.
func codeWord(version byte) string {
	if version == packet.V5 {
		return "reason code"
	}
	return "return code"
}

// reasonString is an MQTT 5 Reason String in parentheses, when there is
// one.
func reasonString(p *packet.Properties) string {
	if p.Has(packet.PropReasonString) {
		return fmt.Sprintf(" (%q)", p.ReasonString)
	}
	return ""
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
	// Grow for one packet larger than the buffer, or while reads fill it.
	if n == cap(c.rbuf) || c.full && cap(c.rbuf) < readBufSize {
		grown := make([]byte, n, max(2*cap(c.rbuf), 64))
		copy(grown, c.rbuf)
		c.rbuf = grown
	}
	m, err := c.nc.Read(c.rbuf[n:cap(c.rbuf)])
	c.rbuf = c.rbuf[:n+m]
	c.full = n+m == cap(c.rbuf)
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
			return packet.Decode(h, body, c.version)
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

// ackFrame appends a PUBACK, PUBREC, PUBREL or PUBCOMP in its short
// form: reason Success and no properties, the same bytes in 3.1.1 and 5.
func ackFrame(dst []byte, kind packet.Type, id uint16) []byte {
	first := byte(kind) << 4
	if kind == packet.PUBREL {
		first |= 0x02
	}
	return append(dst, first, 2, byte(id>>8), byte(id))
}

// ackID reads the packet identifier of an acknowledgement body, and fails
// for an MQTT 5 reason code of 0x80 or above.
func ackID(h packet.FixedHeader, body []byte, version byte) (uint16, error) {
	if len(body) < 2 || version != packet.V5 && len(body) != 2 {
		return 0, fmt.Errorf("%s with remaining length %d, want 2", h.Type, len(body))
	}
	id := uint16(body[0])<<8 | uint16(body[1])
	if len(body) > 2 && body[2] >= 0x80 {
		return id, fmt.Errorf("%s for packet id %d with reason code 0x%02X", h.Type, id, body[2])
	}
	return id, nil
}

// delivery is what a subscriber needs of a PUBLISH.
type delivery struct {
	qos     byte
	dup     bool
	id      uint16
	payload []byte // aliases the read buffer
}

// parsePublish reads a PUBLISH body as far as a counting subscriber needs:
// flags, packet identifier and payload. Unlike packet.DecodePublish it
// neither validates nor copies the topic name, so receiving allocates
// nothing; the broker under test is trusted that far.
func parsePublish(h packet.FixedHeader, body []byte, version byte) (delivery, error) {
	d := delivery{qos: h.Flags >> 1 & 3, dup: h.Flags&0x08 != 0}
	if d.qos == 3 {
		return d, errors.New("PUBLISH with QoS 3")
	}
	if len(body) < 2 {
		return d, errors.New("PUBLISH too short for a topic")
	}
	off := 2 + (int(body[0])<<8 | int(body[1]))
	if d.qos > 0 {
		if len(body) < off+2 {
			return d, errors.New("PUBLISH too short for a packet identifier")
		}
		d.id = uint16(body[off])<<8 | uint16(body[off+1])
		off += 2
		if d.id == 0 {
			return d, errors.New("PUBLISH with packet identifier 0")
		}
	}
	if version == packet.V5 {
		n, size := 0, 0
		for shift := 0; ; shift += 7 {
			if off+size >= len(body) || size == 4 {
				return d, errors.New("PUBLISH with a malformed property length")
			}
			b := body[off+size]
			size++
			n |= int(b&0x7F) << shift
			if b < 0x80 {
				break
			}
		}
		off += size + n
	}
	if off > len(body) {
		return d, fmt.Errorf("PUBLISH with remaining length %d, too short for its header", len(body))
	}
	d.payload = body[off:]
	return d, nil
}

// unexpected describes a packet a client did not expect, spelling out a
// server's DISCONNECT (MQTT 5: with its reason code).
func unexpected(h packet.FixedHeader, body []byte, version byte) error {
	if h.Type != packet.DISCONNECT {
		return fmt.Errorf("unexpected %s", h.Type)
	}
	if p, err := packet.Decode(h, body, version); err == nil && version == packet.V5 {
		d := p.(*packet.Disconnect)
		return fmt.Errorf("the server sent DISCONNECT with reason code 0x%02X%s", byte(d.ReasonCode), reasonString(&d.Props))
	}
	return errors.New("the server sent DISCONNECT")
}

// connectAll dials n clients with at most par handshakes at once. build
// makes client i's CONNECT. On any failure every client already
// connected is closed and the first error returned.
// conns, when not nil, counts the connections made.
func connectAll(ctx context.Context, t *Target, srcs []net.IP, n, par int, build func(i int) *packet.Connect, conns *atomic.Int64) ([]*client, error) {
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
			clients[i], _, errs[i] = dial(ctx, t, src, build(i), initialReadBuf)
			if errs[i] == nil && conns != nil {
				conns.Add(1)
			}
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
