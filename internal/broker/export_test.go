package broker

import "time"

// SweepNow runs the background expiry sweep once, as if at now.
func (b *Broker) SweepNow(now time.Time) { b.sweep(now, true) }
