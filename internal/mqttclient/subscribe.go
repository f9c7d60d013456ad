package mqttclient

import (
	"context"
	"fmt"
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
)

// Subscribe sends s (setting its packet identifier) and waits for the
// SUBACK, which it returns. The SUBACK's codes say, filter by filter,
// what was granted; Subscribe does not judge them (see SubackErrors).
func (c *Client) Subscribe(ctx context.Context, s *packet.Subscribe) (*packet.Suback, error) {
	p, err := c.request(ctx, packet.SUBACK, func(id uint16) packet.Packet { s.PacketID = id; return s })
	if err != nil {
		return nil, err
	}
	ack := p.(*packet.Suback)
	if len(ack.ReasonCodes) != len(s.Subs) {
		return ack, fmt.Errorf("SUBACK with %d codes for %d filters", len(ack.ReasonCodes), len(s.Subs))
	}
	return ack, nil
}

// Unsubscribe sends u (setting its packet identifier) and waits for the
// UNSUBACK, which it returns.
func (c *Client) Unsubscribe(ctx context.Context, u *packet.Unsubscribe) (*packet.Unsuback, error) {
	p, err := c.request(ctx, packet.UNSUBACK, func(id uint16) packet.Packet { u.PacketID = id; return u })
	if err != nil {
		return nil, err
	}
	return p.(*packet.Unsuback), nil
}

// request sends the packet build makes for a fresh packet identifier and
// waits for the acknowledgement of kind.
func (c *Client) request(ctx context.Context, kind packet.Type, build func(id uint16) packet.Packet) (packet.Packet, error) {
	id, w, err := c.register(kind)
	if err != nil {
		return nil, err
	}
	if err := c.write(build(id)); err != nil {
		c.forget(id, w)
		select {
		case <-c.done:
			return nil, c.ended()
		default:
			return nil, err
		}
	}
	return c.await(ctx, id, w, time.Now().Add(c.cfg.Timeout), kind.String())
}

// SubackErrors describes the filters of s that the SUBACK refused, one
// *FilterError each, in order.
func (c *Client) SubackErrors(s *packet.Subscribe, ack *packet.Suback) []error {
	var errs []error
	for i, code := range ack.ReasonCodes {
		if !code.IsError() || i >= len(s.Subs) {
			continue
		}
		errs = append(errs, &FilterError{Filter: s.Subs[i].Filter, Version: c.version, Err: reasonError(packet.SUBACK, ack.PacketID, code, &ack.Props)})
	}
	return errs
}

// FilterError is a refused subscription.
type FilterError struct {
	Filter  string
	Version byte // protocol level of the connection
	Err     *ReasonError
}

func (e *FilterError) Error() string {
	if e.Version != packet.V5 {
		return fmt.Sprintf("subscription to %q refused: SUBACK return code 0x%02X (failure)", e.Filter, byte(e.Err.Code))
	}
	var props packet.Properties
	if e.Err.Reason != "" {
		props.Set(packet.PropReasonString)
		props.ReasonString = e.Err.Reason
	}
	return fmt.Sprintf("subscription to %q refused: %s", e.Filter, describe(e.Err.Code, &props))
}

func (e *FilterError) Unwrap() error { return e.Err }
