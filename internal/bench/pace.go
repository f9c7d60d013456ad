package bench

import (
	"fmt"
	"math"
	"time"
)

// Pacing. A publisher with a rate r (messages per second) does not arm a
// timer per message: it wakes on a ticker every period, computes how many
// messages are due since it started (floor(r × elapsed) + 1: the first at
// once), and writes all of them that its window allows in one write, each
// stamped with that write's time. A late tick (scheduling, a full window)
// is caught up by the next ones, so the rate over the run holds whatever
// the ticker's jitter; a batch is capped so that catching up after a
// stall does not become one enormous write.
//
// The period is the gap between two messages, but at least minPeriod (a
// publisher at 10,000 messages/s writes 10 every millisecond) and at most
// maxPeriod. Publisher i of n starts i/n of a period late, so that the
// publishers of a run do not all write in the same instant.
const (
	minPeriod = time.Millisecond
	maxPeriod = time.Second
)

// pace is one publisher's share of the offered rate.
type pace struct {
	rate     float64       // messages per second; 0: unpaced
	period   time.Duration // ticker period
	phase    time.Duration // delay before the first message
	batchMax int64         // most messages in one write
}

// newPace splits rate (over all n publishers) for publisher i.
func newPace(rate float64, n, i, window int, qos byte) pace {
	if rate <= 0 || n <= 0 {
		return pace{}
	}
	r := rate / float64(n)
	period := time.Duration(float64(time.Second) / r)
	period = min(max(period, minPeriod), maxPeriod)
	perTick := int64(math.Ceil(r * period.Seconds()))
	p := pace{rate: r, period: period, phase: period * time.Duration(i) / time.Duration(n)}
	if qos == 0 {
		p.batchMax = max(int64(window), 2*perTick)
	} else {
		p.batchMax = int64(window) // the free packet identifiers bound it anyway
	}
	return p
}

// String describes the pace, for errors and tests.
func (p pace) String() string {
	if p.rate == 0 {
		return "unpaced"
	}
	return fmt.Sprintf("%.1f msgs/s, a batch every %v after %v, at most %d a batch", p.rate, p.period, p.phase, p.batchMax)
}

// writePaced sends at p.pace.rate until the count, the stop signal or a
// failure.
func (p *publisher) writePaced(stop <-chan struct{}, errs *errorList) {
	if !p.sleep(p.pace.phase, stop) {
		return
	}
	start := time.Now()
	tick := time.NewTicker(p.pace.period)
	defer tick.Stop()
	buf := make([]byte, 0, min(p.pace.batchMax, 1024)*int64(len(p.frame)))
	var seq int64
	for seq < p.count {
		due := min(int64(p.pace.rate*time.Since(start).Seconds())+1, p.count)
		buf = buf[:0]
		now := time.Now()
		for n := min(due-seq, p.pace.batchMax); n > 0; n-- {
			id, ok := p.freeID()
			if !ok { // window full: the next tick catches up
				break
			}
			buf = p.appendMsg(buf, id, seq, now)
			seq++
		}
		if len(buf) > 0 && !p.flush(buf, seq, errs) {
			return
		}
		if seq >= p.count {
			return
		}
		select {
		case <-tick.C:
		case <-stop:
			return
		case <-p.readDone:
			return
		}
	}
}

// freeID takes a packet identifier off the window without waiting; at
// QoS 0 there is always one (0).
func (p *publisher) freeID() (uint16, bool) {
	if p.qos == 0 {
		return 0, true
	}
	select {
	case id := <-p.ids:
		return id, true
	default:
		return 0, false
	}
}

// sleep waits d, and reports false if the run stopped meanwhile.
func (p *publisher) sleep(d time.Duration, stop <-chan struct{}) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	case <-p.readDone:
		return false
	}
}
