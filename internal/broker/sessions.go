package broker

import (
	"time"

	"github.com/baram-mqtt/baram/internal/packet"
	"github.com/baram-mqtt/baram/internal/session"
)

// takeoverWait bounds how long a new connection waits for the one it
// replaces to clean up.
const takeoverWait = 5 * time.Second

// attach binds c to the session of its client id, taking the session over
// from a live connection first [MQTT-3.1.4-3]. It reports whether an
// existing session was resumed (the CONNACK session present flag).
func (b *Broker) attach(c *conn, cleanStart bool, expiry time.Duration, never bool) bool {
	for {
		b.mu.Lock()
		e := b.lookup(c.clientID)
		if e != nil && e.owner != nil {
			old := e.owner
			b.mu.Unlock()
			old.log.Info("session taken over by a new connection", "new_remote", c.nc.RemoteAddr().String())
			old.kick(packet.SessionTakenOver)
			select {
			case <-old.done:
			case <-time.After(takeoverWait):
				old.nc.Close()
				<-old.done
			}
			continue // another connection may have won meanwhile
		}
		present := e != nil && !cleanStart
		if present {
			b.resumeSession(e)
		} else {
			if e != nil {
				b.endSession(e)
			}
			e = &entry{sess: session.New(c.clientID)}
			if expiry > 0 || never { // it outlives the connection: keep it in the store
				e.sess.MakeDurable(b.nextSID.Add(1), journal{b}, 1, 0, 0)
			}
			b.sessions.Store(c.clientID, e)
		}
		e.owner, c.entry, e.version = c, e, c.version
		e.sess.SetExpiry(expiry, never)
		e.sess.SetUsername(c.username)
		// The caller attaches c to e.sess once the CONNACK is queued.
		b.mu.Unlock()
		return present
	}
}

// resumeSession stops the offline clock and disarms a delayed will: a new
// connection to the session came in time [MQTT-3.1.3-9]. Called under mu.
func (b *Broker) resumeSession(e *entry) {
	if e.expiry != nil {
		e.expiry.Stop()
		e.expiry = nil
	}
	if w := b.wills[e.sess.ClientID]; w != nil {
		w.timer.Stop()
		delete(b.wills, e.sess.ClientID)
	}
}

// detach is the end of a connection: the will is armed or published, and
// the session either ends now or starts its expiry clock.
func (b *Broker) detach(c *conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := c.entry
	if e.owner != c {
		return
	}
	e.owner = nil
	e.sess.Detach(c)
	now := time.Now()
	if b.closing { // wills and expiry wait for the next start
		b.saveOffline(e, c.will, c.willDelay, now)
		return
	}
	if c.will != nil && c.willDelay == 0 {
		b.armWill(c.clientID, c.will, 0)
		c.will = nil
	}
	d, never := e.sess.Expiry()
	if !never && d == 0 {
		if c.will != nil {
			b.armWill(c.clientID, c.will, 0) // the session ends now, so does the delay [MQTT-3.1.2-8]
		}
		b.endSession(e)
		return
	}
	if c.will != nil {
		b.armWill(c.clientID, c.will, c.willDelay)
	}
	b.saveOffline(e, c.will, c.willDelay, now)
	if !never {
		e.expiry = time.AfterFunc(d, func() { b.expire(e) })
	}
}

// saveOffline records that a durable session went offline, with the will
// still waiting for its delay, so a restart resumes both clocks.
func (b *Broker) saveOffline(e *entry, will *session.Message, delay time.Duration, since time.Time) {
	e.offline = since
	if err := b.saveSession(e.sess, sessionRecord(e, will, delay, since), false); err != nil {
		b.log.Error("store: recording an offline session failed", "client", e.sess.ClientID, "err", err)
	}
}

// expire ends an offline session whose expiry interval has passed.
func (b *Broker) expire(e *entry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closing || e.owner != nil || b.lookup(e.sess.ClientID) != e {
		return
	}
	b.log.Debug("session expired", "client", e.sess.ClientID)
	b.endSession(e)
}

// endSession removes a session and its subscriptions; a will still
// waiting for its delay is published now [MQTT-3.1.2-8]. Called under mu.
func (b *Broker) endSession(e *entry) {
	id := e.sess.ClientID
	if e.expiry != nil {
		e.expiry.Stop()
		e.expiry = nil
	}
	b.sessions.CompareAndDelete(id, e)
	b.deleteSession(e.sess)
	for filter := range e.sess.Subscriptions() {
		b.subs.Unsubscribe(id, filter)
	}
	if w := b.wills[id]; w != nil {
		w.timer.Stop()
		delete(b.wills, id)
		b.publishWill(w.msg)
	}
}
