package broker

import "time"

// SweepNow runs the background expiry sweep once, as if at now.
func (b *Broker) SweepNow(now time.Time) { b.sweep(now, true) }

// Resident reports how many waiting and inflight messages the session of
// client holds in memory; ok is false when there is no such session.
func (b *Broker) Resident(client string) (queued, inflight int, ok bool) {
	e := b.lookup(client)
	if e == nil {
		return 0, 0, false
	}
	queued, inflight = e.sess.Resident()
	return queued, inflight, true
}
