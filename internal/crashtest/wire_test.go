//go:build unix

package crashtest

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
)

const (
	sessionExpiry = 24 * 60 * 60     // seconds: every session outlives the test
	keepAlive     = 60               // seconds
	ioTimeout     = 5 * time.Second  // one write; CONNECT until CONNACK
	idleTimeout   = 30 * time.Second // a connection silent this long is dropped and redialled
)

// violation is an error that breaks the MQTT protocol, as opposed to a
// connection that closed because the broker died.
type violation struct{ msg string }

func (v *violation) Error() string { return v.msg }

func violationf(format string, args ...any) error {
	return &violation{fmt.Sprintf(format, args...)}
}

// wire is one MQTT 5 connection to the broker. After dialMQTT, one
// goroutine runs readLoop and another one sends.
type wire struct {
	nc    net.Conn
	buf   []byte // read but not yet decoded
	chunk []byte // read buffer
	err   error  // why readLoop ended; read it after the loop's channel is closed
	run   int64  // the broker run it is connected to, for the trace
}

// connectPacket is the CONNECT of a persistent session that the first
// connection creates afresh and every later one resumes.
func connectPacket(clientID string, clean bool) *packet.Connect {
	c := &packet.Connect{ProtocolName: "MQTT", Version: packet.V5, CleanStart: clean,
		KeepAlive: keepAlive, ClientID: clientID}
	c.Props.SessionExpiry = sessionExpiry
	c.Props.Set(packet.PropSessionExpiry)
	return c
}

// dialMQTT connects, sends c and returns the connection once a successful
// CONNACK arrived.
func dialMQTT(addr string, c *packet.Connect) (*wire, *packet.Connack, error) {
	nc, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return nil, nil, err
	}
	if nc.LocalAddr().String() == nc.RemoteAddr().String() {
		nc.Close()
		return nil, nil, errors.New("TCP self-connect while the broker is down")
	}
	w := &wire{nc: nc}
	if err := w.send(c); err != nil {
		nc.Close()
		return nil, nil, err
	}
	p, err := w.read(ioTimeout)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("waiting for CONNACK: %w", err)
	}
	ack, ok := p.(*packet.Connack)
	if !ok {
		nc.Close()
		return nil, nil, violationf("%s before CONNACK [MQTT-3.2.0-1]", p.Type())
	}
	if ack.ReasonCode.IsError() {
		nc.Close()
		return nil, nil, fmt.Errorf("CONNACK reason 0x%02X", byte(ack.ReasonCode))
	}
	return w, ack, nil
}

// send encodes p and writes it under a write deadline.
func (w *wire) send(p packet.Packet) error {
	b, err := packet.Append(nil, p, packet.V5)
	if err != nil {
		return fmt.Errorf("encode %s: %w", p.Type(), err) // a bug in this test
	}
	w.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	_, err = w.nc.Write(b)
	return err
}

// read returns the next packet. A packet that does not decode is a
// violation; other errors mean the connection is gone or silent.
func (w *wire) read(timeout time.Duration) (packet.Packet, error) {
	w.nc.SetReadDeadline(time.Now().Add(timeout))
	for {
		h, err := packet.ParseFixedHeader(w.buf)
		if err == nil && len(w.buf) >= h.PacketLen() {
			p, err := packet.Decode(h, w.buf[h.HeaderLen:h.PacketLen()], packet.V5)
			if pub, ok := p.(*packet.Publish); ok {
				pub.Payload = append([]byte(nil), pub.Payload...)
			}
			w.buf = w.buf[h.PacketLen():]
			if err != nil {
				return nil, violationf("undecodable %s from the broker: %v", h.Type, err)
			}
			return p, nil
		}
		if err != nil && !errors.Is(err, packet.ErrIncomplete) {
			return nil, violationf("bad fixed header from the broker: %v", err)
		}
		if w.chunk == nil {
			w.chunk = make([]byte, 16<<10)
		}
		n, err := w.nc.Read(w.chunk)
		w.buf = append(w.buf, w.chunk[:n]...)
		if err != nil && n == 0 {
			return nil, err
		}
	}
}

// readLoop sends every packet read to out and closes it when the
// connection ends; the consumer must drain out after closing nc.
func (w *wire) readLoop(out chan<- packet.Packet) {
	defer close(out)
	for {
		p, err := w.read(idleTimeout)
		if err != nil {
			w.err = err
			return
		}
		out <- p
	}
}

// gate lets clients connect while it is open; the test closes it before
// it stops the broker and opens it once the broker accepts connections.
type gate struct {
	mu     sync.Mutex
	isOpen bool
	ch     chan struct{} // closed while open
}

func newGate() *gate { return &gate{ch: make(chan struct{})} }

// opened returns a channel that is closed once the gate is open.
func (g *gate) opened() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ch
}

func (g *gate) set(open bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if open == g.isOpen {
		return
	}
	g.isOpen = open
	if open {
		close(g.ch)
	} else {
		g.ch = make(chan struct{})
	}
}
