package mqttclient

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
)

// Flight is a message sent at QoS 1 or 2 whose acknowledgement may not
// have come yet; see Send.
type Flight struct {
	c        *Client
	id       uint16
	w        *waiter // nil for QoS 0
	what     string  // PUBACK or PUBCOMP
	deadline time.Time
	release  sync.Once // frees the message's slot under Receive Maximum
}

// Publish sends p and, at QoS 1 and 2, waits for its PUBACK or PUBCOMP.
// A failure reason code in MQTT 5 (PUBACK or PUBREC 0x80 and above, such
// as 0x87 Not authorized) gives a *ReasonError.
func (c *Client) Publish(ctx context.Context, p *packet.Publish) error {
	f, err := c.Send(ctx, p)
	if err != nil {
		return err
	}
	return f.Wait(ctx)
}

// Send writes p (setting its packet identifier at QoS 1 and 2) and
// returns at once; Wait on the result waits for the acknowledgement. At
// QoS 1 and 2 it first waits, up to ctx, for room under the server's
// Receive Maximum. It checks p against the server's Maximum QoS, Retain
// Available and Maximum Packet Size.
func (c *Client) Send(ctx context.Context, p *packet.Publish) (*Flight, error) {
	if err := c.check(p); err != nil {
		return nil, err
	}
	f := &Flight{c: c}
	if p.QoS > 0 {
		select {
		case c.sendQuota <- struct{}{}:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for room among the messages in flight: %w", context.Cause(ctx))
		case <-c.done:
			return nil, c.ended()
		}
		kind, what := packet.PUBACK, "PUBACK"
		if p.QoS == 2 {
			kind, what = packet.PUBCOMP, "PUBCOMP"
		}
		id, w, err := c.register(kind)
		if err != nil {
			<-c.sendQuota
			return nil, err
		}
		p.PacketID, f.id, f.w, f.what = id, id, w, what
	}
	if err := c.write(p); err != nil {
		if f.w != nil {
			c.forget(f.id, f.w)
			<-c.sendQuota
		}
		select {
		case <-c.done:
			return nil, c.ended()
		default:
			return nil, err
		}
	}
	f.deadline = time.Now().Add(c.cfg.Timeout)
	return f, nil
}

// check refuses what the server said it does not take.
func (c *Client) check(p *packet.Publish) error {
	if p.QoS > c.maxQoS {
		return fmt.Errorf("the broker accepts QoS up to %d (its CONNACK's Maximum QoS), not %d", c.maxQoS, p.QoS)
	}
	if p.Retain && !c.retainOK {
		return errors.New("the broker does not support retained messages (its CONNACK's Retain Available is 0)")
	}
	if c.maxPacket > 0 {
		if n := packet.Size(p, c.version); n > c.maxPacket {
			return fmt.Errorf("the PUBLISH is %d bytes and the broker takes at most %d (its CONNACK's Maximum Packet Size)", n, c.maxPacket)
		}
	}
	if packet.Size(p, c.version) < 0 {
		return fmt.Errorf("the PUBLISH cannot be encoded: payload of %d bytes, topic of %d", len(p.Payload), len(p.Topic))
	}
	return nil
}

// Wait waits for the acknowledgement (nothing at QoS 0), at most the
// client's timeout from the send. Call it once.
func (f *Flight) Wait(ctx context.Context) error {
	if f.w == nil {
		return nil
	}
	p, err := f.c.await(ctx, f.id, f.w, f.deadline, f.what)
	// The flow is over: acknowledged, refused, or abandoned.
	f.release.Do(func() { <-f.c.sendQuota })
	if err != nil {
		return err
	}
	a := p.(*packet.Ack)
	if a.ReasonCode.IsError() {
		return reasonError(a.Kind, a.PacketID, a.ReasonCode, &a.Props)
	}
	return nil
}

// ID is the packet identifier (0 at QoS 0).
func (f *Flight) ID() uint16 { return f.id }
