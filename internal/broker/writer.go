package broker

import (
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
	"github.com/baram-mqtt/baram/internal/session"
)

// spareWriteBuf is the largest write buffer kept between flushes; a
// larger one is dropped so a burst does not pin memory.
const spareWriteBuf = 64 << 10

// minWriteBuf is the largest write buffer an idle connection keeps.
const minWriteBuf = 0

// The writer goroutine runs only while there is something to write: an
// idle connection has none, which saves its stack and buffer. signal
// starts it when packets wait in c.out; it writes everything queued at
// each turn in one syscall (packets queued together leave together) and
// ends when c.out is empty. Every append to c.out is followed by signal,
// and signal decides under outMu, so bytes never wait without a writer.
// c.writing marks the writer's role, which the reader also takes for a
// write of its own when nothing else is queued (writeNow).

// writeLoop writes what the reader and publishers queue in c.out until it
// is empty; after shutWriter it closes the socket once flushed. A client
// that stops reading blocks the write until WriteTimeout, which ends the
// connection. It runs counted in c.writers.
func (c *conn) writeLoop() {
	defer c.writers.Done()
	var spare []byte
	for c.writeTurn(&spare) {
	}
}

// writeTurn writes everything c.out holds in one write, by whoever holds
// the writer's role (c.writing). It reports false once the role is given
// up: c.out was empty (the socket is closed if shut) or the write failed.
// spare carries a buffer from one turn to the next.
func (c *conn) writeTurn(spare *[]byte) bool {
	c.outMu.Lock()
	buf := c.out
	if len(buf) == 0 {
		c.stopWriting()
		return false
	}
	c.out = (*spare)[:0]
	c.outMu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(c.b.opts.WriteTimeout))
	n, err := c.nc.Write(buf)
	c.b.stats.netOut.Add(uint64(n))
	if err != nil {
		c.writeFailed(err)
		return false
	}
	*spare = nil
	if cap(buf) <= spareWriteBuf {
		*spare = buf
	}
	c.notifyDrained()
	return true
}

// stopWriting gives up the writer's role once c.out is empty; it is
// called with outMu held and releases it.
func (c *conn) stopWriting() {
	shut := c.outShut
	c.writing = false
	if cap(c.out) > minWriteBuf {
		c.out = nil // a quiet connection keeps no buffer
	}
	c.outMu.Unlock()
	if shut {
		c.nc.Close() // the reader sees the close and cleans up
	}
	c.notifyDrained()
}

// writeNow sends p, one of the reader's own packets, from the reader
// itself when no writer runs and nothing waits: the CONNACK of a
// connection storm would otherwise start a writer goroutine per
// connection just to write a few bytes, a quarter of the CPU a connect
// costs. The reader takes the writer's role (c.writing) for the one
// write, so bytes queued meanwhile wait behind p and nothing overtakes
// it [MQTT-3.2.0-1]; publishers never wait for it, and whatever they
// queued goes to a writer goroutine afterwards, so the reader never
// writes other goroutines' packets. The write has the writer's deadline:
// a client that does not read stalls its own reader for at most
// WriteTimeout, and then its connection ends.
func (c *conn) writeNow(p packet.Packet) {
	c.outMu.Lock()
	direct := !c.writing && len(c.out) == 0 && !c.outShut
	if !direct {
		c.outMu.Unlock()
		c.writePacket(p)
		return
	}
	c.writing = true
	c.appendPacket(p)
	c.outMu.Unlock()
	var spare []byte
	if !c.writeTurn(&spare) {
		return
	}
	c.outMu.Lock()
	if len(c.out) == 0 {
		c.stopWriting()
		return
	}
	c.writers.Add(1) // the role passes to a writer goroutine, c.writing stays set
	c.outMu.Unlock()
	go c.writeLoop()
}

// notifyDrained lets a reader waiting in waitDrained look again.
func (c *conn) notifyDrained() {
	select {
	case c.drained <- struct{}{}:
	default:
	}
}

// writeFailed ends a connection whose socket will not take our bytes.
func (c *conn) writeFailed(err error) {
	c.outMu.Lock()
	c.outShut = true
	c.out = nil
	c.writing = false
	c.outMu.Unlock()
	c.log.Info("write failed, closing connection", "err", err)
	c.wake() // a parked reader must leave the epoll set before the socket closes
	c.nc.Close()
	c.notifyDrained()
}

// shutWriter asks for the queue to be flushed and the socket closed: by
// the writer if one runs or bytes wait, at once otherwise.
func (c *conn) shutWriter() {
	c.outMu.Lock()
	c.outShut = true
	idle := !c.writing && len(c.out) == 0
	c.outMu.Unlock()
	if idle {
		c.nc.Close()
		return
	}
	c.signal()
}

// signal starts the writer if bytes wait and none runs.
func (c *conn) signal() {
	c.outMu.Lock()
	start := !c.writing && len(c.out) > 0
	if start {
		c.writing = true
		c.writers.Add(1)
	}
	c.outMu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// writePacket encodes p and queues it. Control packets are never dropped;
// a client that sends without reading its answers is held back by the
// reader instead (see conn.waitDrained).
func (c *conn) writePacket(p packet.Packet) {
	c.outMu.Lock()
	c.appendPacket(p)
	c.outMu.Unlock()
	c.signal()
}

// appendPacket encodes p into c.out unless the connection is shut; the
// caller holds outMu.
func (c *conn) appendPacket(p packet.Packet) {
	if c.outShut {
		return
	}
	var err error
	c.out, err = packet.Append(c.out, p, c.version)
	if err != nil {
		c.log.Error("encode failed", "packet", p.Type(), "err", err)
	}
}

// backlog is the number of bytes queued and not yet handed to a write.
func (c *conn) backlog() int {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	return len(c.out)
}

// writeAck queues a PUBACK, PUBREC, PUBREL or PUBCOMP.
func (c *conn) writeAck(kind packet.Type, id uint16, code packet.ReasonCode) {
	c.writePacket(&packet.Ack{Kind: kind, PacketID: id, ReasonCode: code})
}

// writeDisconnect queues a v5 DISCONNECT carrying code and, where the
// client accepts it, a reason string.
func (c *conn) writeDisconnect(code packet.ReasonCode, reason string) {
	d := &packet.Disconnect{ReasonCode: code}
	c.setReason(&d.Props, reason)
	c.writePacket(d)
}

// setReason adds a reason string unless the client asked for none
// [MQTT-3.1.2-29].
func (c *conn) setReason(p *packet.Properties, reason string) {
	if reason != "" && c.peer.problemInfo {
		p.ReasonString = reason
		p.Set(packet.PropReasonString)
	}
}

// WritePubrel implements session.Sink.
func (c *conn) WritePubrel(id uint16) { c.writeAck(packet.PUBREL, id, packet.Success) }

// WritePublish implements session.Sink: it encodes one delivery for this
// client's version, topic aliases and maximum packet size. It runs under
// the session's lock. Deliveries copy the message's shared encoding for
// their variant (session.Message.AppendV3, AppendV5) unless a v5 client
// needs properties of its own: subscription ids, a message expiry
// counting down, topic aliases. Those are encoded for their client.
func (c *conn) WritePublish(d *session.Delivery) error {
	var p *packet.Publish // a v5 delivery encoded for this client only
	if c.version == packet.V5 {
		if c.ownV5(d) {
			p = c.outgoing(d)
		}
		if !c.fits(d, p) {
			return session.ErrTooLarge
		}
	}
	c.outMu.Lock()
	if c.outShut {
		c.outMu.Unlock()
		return nil // the session keeps QoS 1/2 for redelivery
	}
	if d.QoS == 0 && len(c.out) > c.b.opts.MaxOutboundBytes {
		c.outMu.Unlock()
		return session.ErrSlow
	}
	// QoS 1/2 are never dropped here: the inflight window bounds them.
	switch {
	case p != nil:
		c.applyAlias(p) // only once it is sure to be sent: an alias must not be assigned unsent
		c.out = packet.AppendPublish(c.out, p, c.version)
	case c.version == packet.V5:
		c.out = d.Msg.AppendV5(c.out, d.QoS, d.Dup, d.Retain, d.PacketID)
	default:
		c.out = d.Msg.AppendV3(c.out, d.QoS, d.Dup, d.Retain, d.PacketID)
	}
	c.outMu.Unlock()
	c.b.stats.countSent(d.QoS, len(d.Msg.Payload))
	c.signal()
	return nil
}

// fits reports whether a v5 delivery is within the client's maximum
// packet size [MQTT-3.1.2-24]: p is its own packet, or nil when it uses
// the message's shared encoding.
func (c *conn) fits(d *session.Delivery, p *packet.Publish) bool {
	if c.peer.maxPacket == 0 {
		return true
	}
	var n int
	if p != nil {
		n = packet.PublishSize(p, packet.V5)
	} else {
		n = d.Msg.SizeV5(d.QoS)
	}
	return n > 0 && n <= int(c.peer.maxPacket)
}

// ownV5 reports whether a v5 delivery needs properties of its own, which
// the message's shared encoding cannot carry.
func (c *conn) ownV5(d *session.Delivery) bool {
	return len(d.SubIDs) > 0 || !d.Msg.Expiry.IsZero() || c.peer.aliasMax > 0
}

// outgoing builds the PUBLISH for one delivery: the remaining message
// expiry [MQTT-3.3.2-6], subscription ids, and a topic alias when the
// client allows them. It fills c.pubOut, so the caller holds the
// session's lock and is done with the packet before releasing it.
func (c *conn) outgoing(d *session.Delivery) *packet.Publish {
	m := d.Msg
	if c.pubOut == nil { // allocated with the first message to the client
		c.pubOut = new(packet.Publish)
	}
	p := c.pubOut
	*p = packet.Publish{
		Dup: d.Dup, QoS: d.QoS, Retain: d.Retain, Topic: m.Topic,
		PacketID: d.PacketID, Payload: m.Payload,
	}
	if c.version != packet.V5 {
		return p
	}
	p.Props = m.Props
	if !m.Expiry.IsZero() {
		left := time.Until(m.Expiry)
		p.Props.MessageExpiry = uint32(max(left.Round(time.Second), time.Second) / time.Second)
		p.Props.Set(packet.PropMessageExpiry)
	}
	if len(d.SubIDs) > 0 {
		p.Props.SubscriptionIDs = d.SubIDs
		p.Props.Set(packet.PropSubscriptionID)
	}
	return p
}

// applyAlias replaces a known topic by its alias, or assigns a new alias
// while the client's maximum allows.
func (c *conn) applyAlias(p *packet.Publish) {
	if c.peer.aliasMax == 0 {
		return
	}
	if alias, ok := c.aliasesOut[p.Topic]; ok {
		p.Topic = ""
		p.Props.TopicAlias = alias
		p.Props.Set(packet.PropTopicAlias)
		return
	}
	if len(c.aliasesOut) >= int(c.peer.aliasMax) {
		return
	}
	if c.aliasesOut == nil {
		c.aliasesOut = make(map[string]uint16)
	}
	alias := uint16(len(c.aliasesOut) + 1)
	c.aliasesOut[p.Topic] = alias
	p.Props.TopicAlias = alias
	p.Props.Set(packet.PropTopicAlias)
}
