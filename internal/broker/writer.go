package broker

import (
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
	"github.com/baram-mqtt/baram/internal/session"
)

// spareWriteBuf is the largest write buffer kept between flushes; a
// larger one is dropped so a burst does not pin memory.
const spareWriteBuf = 64 << 10

// writeLoop writes what the reader and publishers queue in c.out, one
// write per wake-up, so packets queued together leave in one syscall. It
// ends after flushing once the queue is shut, or on a write error. A
// client that stops reading blocks the write until WriteTimeout, which
// ends the connection.
func (c *conn) writeLoop() {
	defer close(c.wdone)
	var spare []byte
	for range c.wake {
		c.outMu.Lock()
		buf, shut := c.out, c.outShut
		c.out = spare[:0]
		c.outMu.Unlock()
		if len(buf) > 0 {
			c.nc.SetWriteDeadline(time.Now().Add(c.b.opts.WriteTimeout))
			n, err := c.nc.Write(buf)
			c.b.stats.netOut.Add(uint64(n))
			if err != nil {
				c.writeFailed(err)
				return
			}
		}
		if shut {
			c.nc.Close() // the reader sees the close and cleans up
			return
		}
		spare = nil
		if cap(buf) <= spareWriteBuf {
			spare = buf
		}
		select { // a reader waiting in waitDrained looks again
		case c.drained <- struct{}{}:
		default:
		}
	}
}

// writeFailed ends a connection whose socket will not take our bytes.
func (c *conn) writeFailed(err error) {
	c.outMu.Lock()
	c.outShut = true
	c.out = nil
	c.outMu.Unlock()
	c.log.Info("write failed, closing connection", "err", err)
	c.nc.Close()
}

// shutWriter asks the writer to flush and close.
func (c *conn) shutWriter() {
	c.outMu.Lock()
	c.outShut = true
	c.outMu.Unlock()
	c.signal()
}

func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writePacket encodes p and queues it. Control packets are never dropped;
// a client that sends without reading its answers is held back by the
// reader instead (see conn.waitDrained).
func (c *conn) writePacket(p packet.Packet) {
	c.outMu.Lock()
	if !c.outShut {
		var err error
		c.out, err = packet.Append(c.out, p, c.version)
		if err != nil {
			c.log.Error("encode failed", "packet", p.Type(), "err", err)
		}
	}
	c.outMu.Unlock()
	c.signal()
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
// the session's lock.
func (c *conn) WritePublish(d *session.Delivery) error {
	p := c.outgoing(d)
	if c.peer.maxPacket > 0 {
		if n := packet.Size(p, c.version); n < 0 || n > int(c.peer.maxPacket) {
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
	if c.version == packet.V5 {
		c.applyAlias(p) // only once it is sure to be sent: an alias must not be assigned unsent
	}
	// QoS 1/2 are never dropped here: the inflight window bounds them.
	c.out = packet.AppendPublish(c.out, p, c.version)
	c.outMu.Unlock()
	c.b.stats.countSent(d.QoS, len(d.Msg.Payload))
	c.signal()
	return nil
}

// outgoing builds the PUBLISH for one delivery: the remaining message
// expiry [MQTT-3.3.2-6], subscription ids, and a topic alias when the
// client allows them.
func (c *conn) outgoing(d *session.Delivery) *packet.Publish {
	m := d.Msg
	p := &packet.Publish{
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
