package bench

import (
	"math"
	"math/bits"
	"time"
)

// Histogram records durations in log-linear buckets: exact below 64ns, then
// 64 buckets per power of two, so a percentile is within 1/64 (1.6%) of
// the true value. The zero value is ready; it is not safe for concurrent
// use (give each goroutine its own and Merge them).
type Histogram struct {
	counts   []uint64
	n        uint64
	sum      float64 // nanoseconds
	min, max int64
}

const (
	subBits    = 6
	subBuckets = 1 << subBits
	maxExp     = 63 - subBits // largest shift for a positive int64
	numBuckets = (maxExp + 2) * subBuckets
)

func bucketOf(v int64) int {
	if v < subBuckets {
		return int(v)
	}
	e := bits.Len64(uint64(v)) - subBits - 1 // v>>e is in [64, 128)
	return (e+1)*subBuckets + int(v>>e) - subBuckets
}

// bucketMid is the middle of bucket i's range.
func bucketMid(i int) int64 {
	if i < subBuckets {
		return int64(i)
	}
	e := i/subBuckets - 1
	low := int64(i%subBuckets+subBuckets) << e
	return low + (int64(1)<<e)/2
}

// Record adds one duration; negative ones count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := max(int64(d), 0)
	if h.counts == nil {
		h.counts = make([]uint64, numBuckets)
		h.min = math.MaxInt64
	}
	h.counts[bucketOf(v)]++
	h.n++
	h.sum += float64(v)
	h.min = min(h.min, v)
	h.max = max(h.max, v)
}

// reset empties h, keeping its buckets.
func (h *Histogram) reset() {
	clear(h.counts)
	h.n, h.sum, h.min, h.max = 0, 0, math.MaxInt64, 0
}

// Count is the number of durations recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Merge adds o's durations to h.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.n == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint64, numBuckets)
		h.min = math.MaxInt64
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
}

// Quantile returns the duration below which a fraction q (0..1) of the
// recorded durations fall; 0 when nothing was recorded.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	if rank == h.n {
		return time.Duration(h.max)
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(max(bucketMid(i), h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

// Percentiles summarises a Histogram in milliseconds.
type Percentiles struct {
	Count  uint64  `json:"count"`
	MeanMs float64 `json:"mean_ms"`
	MinMs  float64 `json:"min_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p999_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// Summary returns the usual percentiles.
func (h *Histogram) Summary() Percentiles {
	if h.n == 0 {
		return Percentiles{}
	}
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	return Percentiles{
		Count:  h.n,
		MeanMs: h.sum / float64(h.n) / 1e6,
		MinMs:  ms(time.Duration(h.min)),
		P50Ms:  ms(h.Quantile(0.50)),
		P90Ms:  ms(h.Quantile(0.90)),
		P99Ms:  ms(h.Quantile(0.99)),
		P999Ms: ms(h.Quantile(0.999)),
		MaxMs:  ms(time.Duration(h.max)),
	}
}
