package metrics

import (
	"math"
	"slices"
	"sort"
	"time"
)

// Quantile returns the q-quantile (0–1) of xs by linear interpolation
// between order statistics (Hyndman & Fan 1996 type 7, the default of R and
// NumPy): for sorted x and h = (n−1)·q, x[⌊h⌋] + (h−⌊h⌋)·(x[⌊h⌋+1]−x[⌊h⌋]).
// ok is false for an empty slice.
func Quantile(xs []float64, q float64) (v float64, ok bool) {
	if len(xs) == 0 || math.IsNaN(q) {
		return 0, false
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	q = math.Min(math.Max(q, 0), 1)
	h := float64(len(s)-1) * q
	lo := math.Floor(h)
	i := int(lo)
	if i+1 >= len(s) {
		return s[len(s)-1], true
	}
	return s[i] + (h-lo)*(s[i+1]-s[i]), true
}

// CPUPerSecond returns the CPU seconds the components selected by name
// (MatchName) consumed in each sampled second: for consecutive samples,
// ΔCPU seconds ÷ Δwall seconds, summed over the selected components at the
// same tick. A value of 1.0 is one core busy for that second.
func (s *Snapshot) CPUPerSecond(name string) []float64 {
	type acc struct {
		t   time.Time
		sum float64
	}
	byT := map[time.Time]*acc{}
	for _, ser := range s.selectedResources(name) {
		for i := 1; i < len(ser.Samples); i++ {
			a, b := ser.Samples[i-1], ser.Samples[i]
			dt := b.T.Sub(a.T).Seconds()
			if dt <= 0 {
				continue
			}
			d := b.CPUSeconds - a.CPUSeconds
			if d < 0 {
				d = b.CPUSeconds // restarted process
			}
			x := byT[b.T]
			if x == nil {
				x = &acc{t: b.T}
				byT[b.T] = x
			}
			x.sum += d / dt
		}
	}
	return sortedSums(byT, func(a *acc) (time.Time, float64) { return a.t, a.sum })
}

// CPUSecondsQuantile is the book's cpu_seconds_pNN, defined by meshgym as
// the q-quantile (0–1) over the phase's one-second samples of CPU seconds
// consumed in that second by the selected components (CPUPerSecond), so
// cpu_seconds_p50 = 0.5 means half a core in the median second. n is the
// number of per-second samples; ok is false with fewer than one.
func (s *Snapshot) CPUSecondsQuantile(name string, q float64) (v float64, n int, ok bool) {
	xs := s.CPUPerSecond(name)
	v, ok = Quantile(xs, q)
	return v, len(xs), ok
}

// MemoryMB returns the resident memory (MB) of the selected components at
// each sampled tick, summed over the components sampled at that tick.
func (s *Snapshot) MemoryMB(name string) []float64 {
	byT := map[time.Time]float64{}
	for _, ser := range s.selectedResources(name) {
		for _, x := range ser.Samples {
			byT[x.T] += x.RSSMB
		}
	}
	keys := make([]time.Time, 0, len(byT))
	for t := range byT {
		keys = append(keys, t)
	}
	slices.SortFunc(keys, func(a, b time.Time) int { return a.Compare(b) })
	out := make([]float64, len(keys))
	for i, t := range keys {
		out[i] = byT[t]
	}
	return out
}

// MemoryMBMax returns the highest resident memory (MB, summed over the
// selected components per tick) sampled in the phase; n is the number of
// ticks.
func (s *Snapshot) MemoryMBMax(name string) (v float64, n int, ok bool) {
	xs := s.MemoryMB(name)
	if len(xs) == 0 {
		return 0, 0, false
	}
	return slices.Max(xs), len(xs), true
}

// MemoryMBMin returns the lowest resident memory (MB) sampled in the phase,
// as MemoryMBMax.
func (s *Snapshot) MemoryMBMin(name string) (v float64, n int, ok bool) {
	xs := s.MemoryMB(name)
	if len(xs) == 0 {
		return 0, 0, false
	}
	return slices.Min(xs), len(xs), true
}

// RequestsPerSecond returns the per-second inbound request rates of the
// selected components, summed per interval (from RequestRates).
func (s *Snapshot) RequestsPerSecond(name string) []float64 {
	var out []float64
	for comp, rates := range s.RequestRates {
		if !MatchName(name, comp) {
			continue
		}
		if len(rates) > len(out) {
			out = append(out, make([]float64, len(rates)-len(out))...)
		}
		for i, r := range rates {
			out[i] += r
		}
	}
	return out
}

// RequestsPerSecondQuantile is requests_per_second_pNN for a component: the
// q-quantile (0–1) of its per-second inbound request rates (req/s) over the
// phase. n is the number of seconds.
func (s *Snapshot) RequestsPerSecondQuantile(name string, q float64) (v float64, n int, ok bool) {
	xs := s.RequestsPerSecond(name)
	v, ok = Quantile(xs, q)
	return v, len(xs), ok
}

// Duration returns the server-side latency histogram of the selected
// components, merged; ok is false when none has one.
func (s *Snapshot) Duration(name string) (h Histogram, ok bool) {
	for comp, x := range s.Durations {
		if MatchName(name, comp) {
			h, ok = h.Add(x), true
		}
	}
	return h, ok
}

func (s *Snapshot) selectedResources(name string) map[string]*ResourceSeries {
	out := map[string]*ResourceSeries{}
	for comp, ser := range s.Resources {
		if ser != nil && MatchName(name, comp) {
			out[comp] = ser
		}
	}
	return out
}

func sortedSums[T any](m map[time.Time]T, get func(T) (time.Time, float64)) []float64 {
	type kv struct {
		t time.Time
		v float64
	}
	xs := make([]kv, 0, len(m))
	for _, x := range m {
		t, v := get(x)
		xs = append(xs, kv{t, v})
	}
	slices.SortFunc(xs, func(a, b kv) int { return a.t.Compare(b.t) })
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = x.v
	}
	return out
}
