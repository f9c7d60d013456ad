//go:build unix

package crashtest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	window         = 10  // unacknowledged messages per publisher
	maxAhead       = 400 // publishers wait while their subscriber lags this far, below the default max_queued_messages (1000)
	minKillDelay   = 20 * time.Millisecond
	maxKillDelay   = 300 * time.Millisecond
	maxEarlyKill   = 50 * time.Millisecond  // a kill during startup comes this soon
	maxSubsLater   = 100 * time.Millisecond // subscribers reconnect this much after publishers, at most
	connectWait    = 10 * time.Second       // all clients connected after a start
	quietAfter     = 2 * time.Second        // no delivery for this long once everything expected arrived
	giveUpQuiet    = 5 * time.Second        // no delivery for this long while messages are still missing
	drainTimeout   = 30 * time.Second
	clientsTimeout = 15 * time.Second // client goroutines ending after stop
)

// TestCrashAcknowledgedSurvive kills the broker with SIGKILL while QoS 1
// and QoS 2 messages flow from publishers to persistent subscribers, starts
// it again on the same data directory each time, and checks that every
// message the broker acknowledged (PUBACK, PUBREC) is delivered: QoS 1 at
// least once, QoS 2 exactly once.
func TestCrashAcknowledgedSurvive(t *testing.T) {
	kills := envInt(t, "BARAM_CRASH_KILLS", 20)
	seed := time.Now().UnixNano()
	if s := os.Getenv("BARAM_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("BARAM_CRASH_SEED=%q: want an integer", s)
		}
	}
	t.Logf("seed %d (BARAM_CRASH_SEED=%d repeats the kill timing), %d kills (BARAM_CRASH_KILLS)", seed, seed, kills)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6261_7261_6d)) // "baram"
	began := time.Now()

	proc := newProcess(t, baramBinary(t))
	if err := proc.start(); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, proc.addr, began)
	t.Cleanup(r.shutdown)
	r.bringUp(t, proc, 0) // subscribers first: nothing may miss the subscriptions

	early := 0 // runs killed before they listened, on top of kills
	for kill := 1; kill <= kills; kill++ {
		time.Sleep(minKillDelay + time.Duration(rng.Int64N(int64(maxKillDelay-minKillDelay)+1)))
		r.closeGates()
		if err := proc.kill(); err != nil {
			t.Fatal(err)
		}
		if kill%10 == 0 || kill == kills {
			t.Logf("kill %d/%d at %v: %s", kill, kills, time.Since(began).Round(time.Millisecond), r.progress())
		}
		if rng.IntN(8) == 0 { // now and then a crash while the store opens and recovers
			early++
			if err := proc.killEarly(time.Duration(rng.Int64N(int64(maxEarlyKill)))); err != nil {
				t.Fatalf("after kill %d: %v", kill, err)
			}
		}
		if err := proc.start(); err != nil {
			t.Fatalf("start after kill %d: %v", kill, err)
		}
		// Mostly subscribers first; now and then publishers, and the
		// subscribers a moment later, so that messages queue for offline
		// sessions.
		var subsLater time.Duration
		if rng.IntN(3) == 0 {
			subsLater = 1 + time.Duration(rng.Int64N(int64(maxSubsLater)))
		}
		r.bringUp(t, proc, subsLater)
	}
	// The end: no new messages; a clean restart; then everything
	// acknowledged must arrive.
	close(r.publishing)
	r.closeGates()
	if err := proc.stop(); err != nil {
		t.Errorf("clean stop: %v", err)
	}
	if err := proc.start(); err != nil {
		t.Fatalf("start after the clean stop: %v", err)
	}
	r.bringUp(t, proc, 0)
	r.drain(t)
	r.shutdown()
	if err := proc.stop(); err != nil {
		t.Errorf("final stop: %v", err)
	}
	t.Logf("%d kills, %d more during startup, and %d runs in %v", kills, early, proc.runs, time.Since(began).Round(time.Millisecond))
	r.check(t)
	if t.Failed() {
		t.Logf("seed %d; broker output (%s), last lines:\n%s", seed, proc.logPath, proc.output(0))
	}
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, s)
	}
	return n
}

// rig is the clients of the test: per QoS one publisher and one subscriber.
type rig struct {
	subGate, pubGate *gate
	stop             chan struct{} // closed: clients end
	publishing       chan struct{} // closed: publishers send no new messages
	lastDelivery     atomic.Int64
	run              atomic.Int64  // the broker run that clients connect to now
	traces           [2]*trace     // by QoS-1
	pubs             [2]*publisher // by QoS-1
	subs             [2]*subscriber
	wg               sync.WaitGroup
	stopOnce         sync.Once
	t                *testing.T
}

func newRig(t *testing.T, addr string, began time.Time) *rig {
	r := &rig{subGate: newGate(), pubGate: newGate(), stop: make(chan struct{}), publishing: make(chan struct{}), t: t}
	for i, qos := range []byte{1, 2} {
		topic := fmt.Sprintf("crash/q%d", qos)
		tr := newTrace(began, &r.run)
		r.traces[i] = tr
		s := &subscriber{client: client{id: fmt.Sprintf("crash-sub-q%d", qos), addr: addr, gate: r.subGate, stop: r.stop,
			broker: &r.run, trace: tr},
			qos: qos, topic: topic, lastDelivery: &r.lastDelivery, got: map[int]int{}, unreleased: map[uint16]int{}}
		p := &publisher{client: client{id: fmt.Sprintf("crash-pub-q%d", qos), addr: addr, gate: r.pubGate, stop: r.stop,
			broker: &r.run, trace: tr},
			qos: qos, topic: topic, window: window, publishing: r.publishing,
			tooFarAhead: func(sent int) bool { return s.lagging(sent, maxAhead) },
			inflight:    map[uint16]*outbound{}, acked: map[int]bool{}}
		r.subs[i], r.pubs[i] = s, p
		r.wg.Go(func() { s.run(s.online) })
		r.wg.Go(func() { p.run(p.online) })
	}
	return r
}

func (r *rig) clients() []*client {
	return []*client{&r.subs[0].client, &r.subs[1].client, &r.pubs[0].client, &r.pubs[1].client}
}

// shutdown ends the clients and waits for their goroutines.
func (r *rig) shutdown() {
	r.stopOnce.Do(func() {
		close(r.stop)
		done := make(chan struct{})
		go func() { r.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(clientsTimeout):
			r.t.Errorf("clients still running %v after stop", clientsTimeout)
		}
	})
}

func (r *rig) closeGates() {
	r.pubGate.set(false)
	r.subGate.set(false)
}

// bringUp lets the clients connect to the broker that was just started
// and waits until all are ready: subscribers first, or, when subsLater is
// not 0, publishers first and subscribers subsLater after them.
func (r *rig) bringUp(t *testing.T, proc *process, subsLater time.Duration) {
	t.Helper()
	r.run.Store(int64(proc.runs))
	subs, pubs := r.clients()[:2], r.clients()[2:]
	if subsLater == 0 {
		r.openAndWait(t, proc, r.subGate, subs)
		r.openAndWait(t, proc, r.pubGate, pubs)
		return
	}
	r.openAndWait(t, proc, r.pubGate, pubs)
	time.Sleep(subsLater)
	r.openAndWait(t, proc, r.subGate, subs)
}

func (r *rig) openAndWait(t *testing.T, proc *process, g *gate, cs []*client) {
	t.Helper()
	before := make([]int64, len(cs))
	for i, c := range cs {
		before[i] = c.ready.Load()
	}
	g.set(true)
	deadline := time.Now().Add(connectWait)
	for i := 0; i < len(cs); {
		if cs[i].ready.Load() > before[i] {
			i++
			continue
		}
		if time.Now().After(deadline) {
			_, _, err := cs[i].report()
			t.Fatalf("client %s not connected %v after broker run %d started (last error: %v); broker output:\n%s",
				cs[i].id, connectWait, proc.runs, err, proc.output(0))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (r *rig) progress() string {
	var b strings.Builder
	for i := range r.pubs {
		ps := r.pubs[i].stats(false)
		got, _, _ := r.subs[i].deliveries()
		fmt.Fprintf(&b, "QoS %d: %d sent, %d acknowledged, %d received; ", i+1, ps.sent, ps.acked, len(got))
	}
	return strings.TrimSuffix(b.String(), "; ")
}

// drain waits until the publishers have completed every exchange and the
// subscribers have received every acknowledged message and then nothing for
// quietAfter, or nothing for giveUpQuiet, or drainTimeout has passed.
func (r *rig) drain(t *testing.T) {
	t.Helper()
	start := time.Now()
	r.lastDelivery.Store(start.UnixNano())
	for {
		inflight, missing := 0, 0
		for i := range r.pubs {
			ps := r.pubs[i].stats(true)
			got, _, _ := r.subs[i].deliveries()
			inflight += ps.inflight
			for n := range ps.ackedSet {
				if got[n] == 0 {
					missing++
				}
			}
		}
		quiet := time.Since(time.Unix(0, r.lastDelivery.Load()))
		if inflight == 0 && (missing == 0 && quiet >= quietAfter || quiet >= giveUpQuiet) {
			t.Logf("drained in %v: %d acknowledged messages missing", time.Since(start).Round(time.Millisecond), missing)
			return
		}
		if time.Since(start) > drainTimeout {
			t.Errorf("drain: after %v, %d exchanges still open and %d acknowledged messages missing", drainTimeout, inflight, missing)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// check compares what the publishers were promised with what the
// subscribers received.
func (r *rig) check(t *testing.T) {
	t.Helper()
	for i := range r.pubs {
		qos := i + 1
		ps := r.pubs[i].stats(true)
		got, redelivered, dupFlag := r.subs[i].deliveries()
		var missing, twice, phantom []int
		extra, unacked := 0, 0
		for n := range ps.ackedSet {
			if got[n] == 0 {
				missing = append(missing, n)
			}
		}
		for n, k := range got {
			switch {
			case n < 1 || n > ps.sent:
				phantom = append(phantom, n)
			case !ps.ackedSet[n]:
				unacked++
			}
			if k > 1 {
				extra += k - 1
				twice = append(twice, n)
			}
		}
		slices.Sort(missing)
		slices.Sort(twice)
		slices.Sort(phantom)
		t.Logf("QoS %d: %d published, %d acknowledged (%d with no matching subscribers), %d refused, %d delivered, %d duplicates, "+
			"%d delivered without acknowledgement (allowed), %d missing; publisher resent %d PUBLISH with DUP and %d PUBREL, %d PUBCOMP said not found; "+
			"subscriber saw %d with DUP set, %d QoS 2 retransmissions of unreleased packet ids",
			qos, ps.sent, ps.acked, ps.noMatch, ps.refused, len(got), extra, unacked, len(missing), ps.resent, ps.rereleased, ps.notFound,
			dupFlag, redelivered)
		if ps.acked == 0 {
			t.Errorf("QoS %d: no message was acknowledged, so nothing was tested", qos)
		}
		if len(missing) > 0 {
			t.Errorf("QoS %d: %d acknowledged messages never delivered, first ones: %v%s", qos, len(missing), first(missing, 20),
				r.histories(i, missing))
		}
		if qos == 2 && len(twice) > 0 {
			t.Errorf("QoS 2: %d messages delivered more than once, first ones: %v%s", len(twice), first(twice, 20),
				r.histories(i, twice))
		}
		if len(phantom) > 0 {
			t.Errorf("QoS %d: %d deliveries of messages never published: %v", qos, len(phantom), first(phantom, 20))
		}
	}
	for _, c := range r.clients() {
		c.pmu.Lock()
		resumes, lost := c.resumes, c.sessionsLost
		c.pmu.Unlock()
		if lost > 0 {
			t.Errorf("%s: the broker lost the session on %d of %d reconnects (CONNACK session present 0)", c.id, lost, resumes)
		}
		if problems, n, _ := c.report(); n > 0 {
			t.Errorf("%s: %d protocol problems, first ones:\n\t%s", c.id, n, strings.Join(problems, "\n\t"))
		}
	}
}

func first(s []int, n int) []int { return s[:min(n, len(s))] }

// histories describes what happened to the first few of the messages ns.
func (r *rig) histories(i int, ns []int) string {
	var b strings.Builder
	for _, n := range first(ns, 5) {
		fmt.Fprintf(&b, "\n\tmessage q%d-%d:%s", i+1, n, r.traces[i].history(n))
	}
	return b.String()
}
