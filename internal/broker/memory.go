package broker

import (
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// A connection storm leaves the heap with memory that held goroutine
// stacks and handshake garbage. Go keeps free memory up to its next GC
// goal, about twice the live heap, so after a storm of a million
// connections that now sleep, RSS would stay near double what they need.
// The trimmer hands such memory back to the OS when a lot of it has sat
// unused: at most once per trimInterval, and only when the free part is
// large both in bytes and against the live heap, so a busy broker, which
// reuses its free memory at once, is left alone.

const (
	trimInterval = 30 * time.Second
	trimMinFree  = 32 << 20 // bytes free and not yet returned
	// trimParks is how many connections parked since the last check make
	// a trim worth it on their own: each left its stack and read buffer
	// behind as garbage, which an idle broker would not collect for
	// minutes.
	trimParks = 1000
)

// trimMetrics are the runtime figures the trimmer reads; reading them
// does not stop the world.
var trimMetrics = []string{
	"/memory/classes/heap/free:bytes",    // free, not yet returned to the OS
	"/memory/classes/heap/objects:bytes", // live and not-yet-swept objects
}

// startTrimmer runs the memory trimmer until Shutdown; b.bg owns it.
func (b *Broker) startTrimmer() {
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		tick := time.NewTicker(trimInterval)
		defer tick.Stop()
		samples := make([]metrics.Sample, len(trimMetrics))
		for i, name := range trimMetrics {
			samples[i].Name = name
		}
		for {
			select {
			case <-b.stop:
				return
			case <-tick.C:
				b.trim(samples)
			}
		}
	}()
}

// trim returns free heap memory to the OS when there is much of it.
func (b *Broker) trim(samples []metrics.Sample) {
	metrics.Read(samples)
	free, live := samples[0].Value.Uint64(), samples[1].Value.Uint64()
	parks := b.parks.Swap(0)
	if parks < trimParks && (free < trimMinFree || free < live/2) {
		return
	}
	start := time.Now()
	debug.FreeOSMemory()
	b.log.Debug("returned free memory to the OS", "free_mb", free>>20, "live_mb", live>>20, "parked", parks,
		"took", time.Since(start).Round(time.Microsecond))
}
