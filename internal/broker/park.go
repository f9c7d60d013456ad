package broker

import (
	"errors"
	"os"
	"time"
)

// errParked ends a reader goroutine whose connection has parked (see
// park_linux.go); it is not an error of the connection.
var errParked = errors.New("connection parked")

// mayPark reports whether the reader may hand the connection to the
// parker: a plain socket, after CONNECT, nothing half-read, no AUTH
// exchange under way.
func (c *conn) mayPark() bool {
	return c.raw != nil && c.b.opts.ParkAfter > 0 && c.entry != nil && len(c.rbuf) == 0 && c.ea.scram == nil && c.ea.pending == nil
}

// parkAfterConnect is how long a connection that has sent nothing since
// its CONNECT waits before parking, when that is shorter than ParkAfter.
// A client that subscribes or publishes at once does so within a round
// trip; one that sends nothing is likely one of many devices that connect
// and then sleep. In a reconnect storm each waiting reader holds a
// goroutine with a grown stack (4 KB or more): parking them soon keeps
// the storm's peak memory and the GC's work to what a fraction of a
// second of connections holds, and their stacks go back for the next
// connections' readers.
const parkAfterConnect = 250 * time.Millisecond

// armIdleDeadline bounds the next read by Options.ParkAfter (or
// parkAfterConnect), unless the keep alive ends it sooner; it reports
// whether it did. A client that talks more often than ParkAfter never
// pays for parking and waking (two epoll_ctl calls and a goroutine
// start); an idle read costs one more deadline change per read batch
// than before.
func (c *conn) armIdleDeadline() bool {
	wait := c.b.opts.ParkAfter
	if !c.settled {
		wait = min(wait, parkAfterConnect)
	}
	until := time.Now().Add(wait)
	if !c.readDeadline.IsZero() && !c.readDeadline.After(until) {
		return false
	}
	c.nc.SetReadDeadline(until)
	if c.closingDown() {
		c.nc.SetReadDeadline(time.Unix(1, 0)) // kick's, which the line above may have undone
		return false
	}
	return true
}

// idleExpired reports whether err is the idle deadline of
// armIdleDeadline passing, rather than the keep alive's.
func (c *conn) idleExpired(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded) && (c.readDeadline.IsZero() || time.Now().Before(c.readDeadline))
}

// park registers the connection with the parker so that its reader
// goroutine can end. It reports false when the connection must keep
// reading: no parker, a registration error, or a kick or shutdown that
// came while it parked.
func (c *conn) park() bool {
	p := c.b.parker()
	if p == nil {
		return false
	}
	deadline := c.readDeadline // once parked, c is not ours to read
	c.tx, c.pub = nil, nil     // made again when packets come
	c.settled = true           // a woken reader waits ParkAfter
	c.releaseReadBuf()
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return false // the read reports the keep alive timeout
		}
		if c.parkTimer == nil {
			c.parkTimer = time.AfterFunc(d, c.wake)
		} else {
			c.parkTimer.Reset(d)
		}
	}
	// The idle deadline that ended the read is still the socket's: a woken
	// reader whose keep alive ends before ParkAfter would not arm its own
	// (armIdleDeadline) and would fail its first read at once.
	c.nc.SetReadDeadline(deadline)
	c.parked.Store(true)
	if err := p.add(c); err != nil {
		if !c.parked.CompareAndSwap(true, false) {
			return true // woken meanwhile: that run carries on
		}
		c.stopParkTimer()
		c.log.Debug("connection not parked", "err", err)
		return false
	}
	// A kick, or the keep alive timer, may have tried to wake c before it
	// was parked; then c wakes itself.
	late := !deadline.IsZero() && !time.Now().Before(deadline)
	if (late || c.closingDown()) && c.parked.CompareAndSwap(true, false) {
		c.stopParkTimer()
		p.remove(c)
		return false
	}
	c.b.parked.Add(1)
	c.b.parks.Add(1)
	return true // from here c belongs to whoever wakes it
}

// wake starts a reader for a parked connection: on bytes to read, at the
// keep alive deadline, or when something must end it. It is safe from
// any goroutine and does nothing if the connection is not parked.
func (c *conn) wake() {
	if !c.parked.CompareAndSwap(true, false) {
		return
	}
	c.b.parked.Add(-1)
	c.stopParkTimer()
	if p := c.b.parker(); p != nil {
		p.remove(c)
	}
	go c.run()
}

func (c *conn) stopParkTimer() {
	if c.parkTimer != nil {
		c.parkTimer.Stop()
	}
}

// closingDown reports whether the connection is being ended from outside
// the reader (a kick, or the writer shut after a write error).
func (c *conn) closingDown() bool {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	return c.kickCode != nil || c.outShut
}

// parker returns the broker's parker, starting it on first use; nil once
// shutdown has begun or where parking is not available.
func (b *Broker) parker() *parker {
	b.parkMu.Lock()
	defer b.parkMu.Unlock()
	if b.park == nil && !b.parkFailed && !b.parkStopped {
		p, err := newParker(b.log)
		if err != nil {
			b.parkFailed = true
			b.log.Debug("idle connections keep their goroutine", "err", err)
			return nil
		}
		b.park = p
	}
	return b.park
}

// stopParker ends the parker's goroutine at shutdown, once every
// connection has ended.
func (b *Broker) stopParker() {
	b.parkMu.Lock()
	p := b.park
	b.park, b.parkStopped = nil, true
	b.parkMu.Unlock()
	if p != nil {
		p.stop()
	}
}
