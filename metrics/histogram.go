package metrics

import (
	"math"
	"sort"
)

// Histogram is a Prometheus histogram: cumulative counts at finite upper
// bounds (sorted), and the total Count (the +Inf bucket) and Sum. For
// meshgym_request_duration_seconds values are seconds.
type Histogram struct {
	Buckets []Bucket `json:"buckets"` // finite upper bounds, ascending, cumulative counts
	Count   float64  `json:"count"`   // all observations (the +Inf bucket)
	Sum     float64  `json:"sum"`     // sum of observed values
}

// Bucket is one cumulative bucket: Count observations were ≤ UpperBound.
type Bucket struct {
	UpperBound float64 `json:"le"`    // inclusive upper bound (le)
	Count      float64 `json:"count"` // cumulative count ≤ UpperBound
}

// Quantile returns the q-quantile (0–1) by linear interpolation inside the
// bucket that holds it, as Prometheus' histogram_quantile does: the first
// bucket starts at 0 (or at its bound if that is negative), and a quantile
// that falls in the +Inf bucket returns the highest finite bound. ok is
// false when the histogram is empty.
func (h Histogram) Quantile(q float64) (v float64, ok bool) {
	if h.Count <= 0 || len(h.Buckets) == 0 || math.IsNaN(q) {
		return 0, false
	}
	q = math.Min(math.Max(q, 0), 1)
	rank := q * h.Count
	prevBound, prevCount := 0.0, 0.0
	if b0 := h.Buckets[0].UpperBound; b0 < 0 {
		prevBound = b0
	}
	for _, b := range h.Buckets {
		if b.Count >= rank && b.Count > prevCount {
			return prevBound + (b.UpperBound-prevBound)*(rank-prevCount)/(b.Count-prevCount), true
		}
		if b.Count >= rank { // empty bucket exactly at the rank
			return b.UpperBound, true
		}
		prevBound, prevCount = b.UpperBound, b.Count
	}
	return h.Buckets[len(h.Buckets)-1].UpperBound, true
}

// Mean returns Sum ÷ Count; ok is false when empty.
func (h Histogram) Mean() (float64, bool) {
	if h.Count <= 0 {
		return 0, false
	}
	return h.Sum / h.Count, true
}

// countAt returns the cumulative count at bound le (step function).
func (h Histogram) countAt(le float64) float64 {
	i := sort.Search(len(h.Buckets), func(i int) bool { return h.Buckets[i].UpperBound > le })
	if i == 0 {
		return 0
	}
	return h.Buckets[i-1].Count
}

// Add merges two histograms (e.g. the versions of one service). Bounds are
// the union of both; where one histogram lacks a bound its cumulative count
// at the next lower bound is used, which is exact when both share bounds.
func (h Histogram) Add(o Histogram) Histogram {
	if len(o.Buckets) == 0 && o.Count == 0 {
		return h
	}
	if len(h.Buckets) == 0 && h.Count == 0 {
		return o
	}
	bounds := map[float64]bool{}
	for _, b := range h.Buckets {
		bounds[b.UpperBound] = true
	}
	for _, b := range o.Buckets {
		bounds[b.UpperBound] = true
	}
	out := Histogram{Count: h.Count + o.Count, Sum: h.Sum + o.Sum}
	for le := range bounds {
		out.Buckets = append(out.Buckets, Bucket{UpperBound: le, Count: h.countAt(le) + o.countAt(le)})
	}
	sort.Slice(out.Buckets, func(i, j int) bool { return out.Buckets[i].UpperBound < out.Buckets[j].UpperBound })
	return out
}

// Sub returns h − before for one phase. When the count or any bucket went
// down (the process restarted) or the bounds changed, h itself is the delta.
func (h Histogram) Sub(before Histogram) Histogram {
	if before.Count == 0 && len(before.Buckets) == 0 {
		return h
	}
	if h.Count < before.Count || len(h.Buckets) != len(before.Buckets) {
		return h
	}
	out := Histogram{Count: h.Count - before.Count, Sum: h.Sum - before.Sum, Buckets: make([]Bucket, len(h.Buckets))}
	for i, b := range h.Buckets {
		pb := before.Buckets[i]
		if pb.UpperBound != b.UpperBound || b.Count < pb.Count {
			return h
		}
		out.Buckets[i] = Bucket{UpperBound: b.UpperBound, Count: b.Count - pb.Count}
	}
	return out
}
