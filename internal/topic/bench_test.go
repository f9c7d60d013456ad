package topic

import (
	"runtime"
	"strconv"
	"sync"
	"testing"
)

// benchSub is one subscription of the benchmark population.
type benchSub struct{ client, filter string }

var (
	benchOnce sync.Once
	benchSubs []benchSub // 1,010,012 subscriptions, see benchPopulation
)

// benchPopulation returns 1M exact subscriptions "dev/<i>/temp", 10k
// "+/<i>/temp", 10 "dev/<i>/#" and "dev/#" plus "+/+/temp". The topic
// "dev/100000/temp" matches 5 of them.
func benchPopulation() []benchSub {
	benchOnce.Do(func() {
		const n = 1_000_000
		benchSubs = make([]benchSub, 0, n+n/100+20)
		for i := range n {
			s := strconv.Itoa(i)
			benchSubs = append(benchSubs, benchSub{"c" + s, "dev/" + s + "/temp"})
			if i%100 == 0 {
				benchSubs = append(benchSubs, benchSub{"w" + s, "+/" + s + "/temp"})
			}
			if i%100_000 == 0 {
				benchSubs = append(benchSubs, benchSub{"h" + s, "dev/" + s + "/#"})
			}
		}
		benchSubs = append(benchSubs, benchSub{"all", "dev/#"}, benchSub{"temps", "+/+/temp"})
	})
	return benchSubs
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// buildIndex subscribes the population and returns a function reporting
// the heap bytes the index adds per subscription (client and filter
// strings excluded: they exist before the index is built). Call it after
// the timed loop, which would discard the metric.
func buildIndex(b *testing.B) (*Index, func()) {
	subs := benchPopulation()
	before := heapInUse()
	x := NewIndex()
	for _, s := range subs {
		x.Subscribe(s.client, s.filter, Options{QoS: 1})
	}
	grown := float64(heapInUse() - before)
	return x, func() {
		b.ReportMetric(grown/float64(len(subs)), "heapB/sub")
		b.ReportMetric(grown/(1<<20), "heapMB")
	}
}

func BenchmarkIndexMatch(b *testing.B) {
	x, report := buildIndex(b)
	dst := make([]Matched, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		dst = x.Match("dev/100000/temp", dst[:0])
	}
	if len(dst) != 5 {
		b.Fatalf("%d matches, want 5", len(dst))
	}
	report()
}

func BenchmarkIndexMatchParallel(b *testing.B) {
	x, _ := buildIndex(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		dst := make([]Matched, 0, 16)
		for pb.Next() {
			dst = x.Match("dev/100000/temp", dst[:0])
		}
	})
}

func BenchmarkIndexMatchShared(b *testing.B) {
	x := NewIndex()
	for i := range 10 {
		x.Subscribe("m"+strconv.Itoa(i), "$share/g/dev/+/temp", Options{})
	}
	x.SetEligible(func(c string) bool { return c != "m3" })
	dst := make([]Matched, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		dst = x.Match("dev/1/temp", dst[:0])
	}
}

// BenchmarkIndexSubscribe adds fresh subscriptions, growing the index to
// up to 1M before starting over.
func BenchmarkIndexSubscribe(b *testing.B) {
	subs := benchPopulation()
	x := NewIndex()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if i == len(subs) {
			b.StopTimer()
			x, i = NewIndex(), 0
			b.StartTimer()
		}
		x.Subscribe(subs[i].client, subs[i].filter, Options{})
		i++
	}
}

// BenchmarkIndexChurn subscribes and unsubscribes a filter on a full index.
func BenchmarkIndexChurn(b *testing.B) {
	x, _ := buildIndex(b)
	b.ReportAllocs()
	for b.Loop() {
		x.Subscribe("churn", "dev/x/y/temp", Options{})
		x.Unsubscribe("churn", "dev/x/y/temp")
	}
}

// BenchmarkRetainedMatch looks up wildcard filters among 100k retained
// topics "site/<s>/dev/<d>/temp" (100 sites × 1000 devices).
func BenchmarkRetainedMatch(b *testing.B) {
	r := NewRetained[int]()
	before := heapInUse()
	for s := range 100 {
		for d := range 1000 {
			r.Set("site/"+strconv.Itoa(s)+"/dev/"+strconv.Itoa(d)+"/temp", d)
		}
	}
	perMsg := float64(heapInUse()-before) / float64(r.Len())
	for _, bc := range []struct {
		filter string
		want   int
	}{
		{"site/42/dev/+/temp", 1000},
		{"site/+/dev/7/temp", 100},
		{"site/42/#", 1000},
		{"site/42/dev/7/temp", 1},
	} {
		b.Run(bc.filter, func(b *testing.B) {
			n := 0
			fn := func(string, int) bool { n++; return true }
			b.ReportAllocs()
			for b.Loop() {
				n = 0
				r.Match(bc.filter, fn)
			}
			if n != bc.want {
				b.Fatalf("%d matches, want %d", n, bc.want)
			}
			b.ReportMetric(perMsg, "heapB/msg")
		})
	}
}

func BenchmarkMatch(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Match("sport/+/player1/#", "sport/tennis/player1/score/wimbledon")
	}
}
