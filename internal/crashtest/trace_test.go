//go:build unix

package crashtest

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// trace records what happened to each message of one QoS, on both sides,
// to explain a failure.
type trace struct {
	began time.Time
	run   *atomic.Int64 // the broker run that clients connect to now

	mu     sync.Mutex
	events map[int][]event // by message number
}

type event struct {
	at   time.Duration // since began
	run  int64         // broker run of the connection
	what string        // "pub: PUBLISH", "sub: PUBREL", ...
	id   uint16        // packet identifier
}

func newTrace(began time.Time, run *atomic.Int64) *trace {
	return &trace{began: began, run: run, events: map[int][]event{}}
}

// add records that what happened to message n on a connection to run.
func (tr *trace) add(n int, run int64, what string, id uint16) {
	e := event{at: time.Since(tr.began), run: run, what: what, id: id}
	tr.mu.Lock()
	tr.events[n] = append(tr.events[n], e)
	tr.mu.Unlock()
}

// history describes what happened to message n.
func (tr *trace) history(n int) string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var b strings.Builder
	for _, e := range tr.events[n] {
		fmt.Fprintf(&b, "\n\t\t%8.3fs run %-3d %-32s packet id %d", e.at.Seconds(), e.run, e.what, e.id)
	}
	return b.String()
}
