package load

import (
	"fmt"
	"math"
	"sort"
	"time"

	"fortio.org/fortio/fhttp"
	"fortio.org/fortio/stats"
)

// LatencyFromActualStart is the only value of ClientView.LatencyFrom: fortio
// times each call from the moment it actually started, not from when the
// pacing schedule intended it to start, so a generator that falls behind
// does not add its own queueing delay to the latencies (it shows up in
// FellBehind instead).
const LatencyFromActualStart = "actual-start"

// SocketErrorCode is the StatusCodes key fortio uses for connection and
// other socket errors (no HTTP status received).
const SocketErrorCode = -1

// Result is the outcome of Run: fortio's raw record and the summary the rest
// of meshgym reads.
type Result struct {
	// Raw is fortio's own aggregated record of the run; it serialises to
	// the same JSON fortio writes and is kept as the raw record.
	Raw *fhttp.HTTPRunnerResults `json:"raw"`
	// Client is what the load generator saw, in meshgym's units.
	Client ClientView `json:"client"`
	// Spec is the normalised spec that was run.
	Spec Spec `json:"spec"`
}

// ClientView is the load generator's (the end user's) view of a run.
// Durations are in seconds, rates in requests per second, sizes in bytes.
type ClientView struct {
	// Count is the number of requests completed in the measured run (the
	// warm-up requests are not included; see WarmupRequests).
	Count int64 `json:"count"`
	// Errors counts responses outside 2xx plus socket errors.
	Errors int64 `json:"errors"`
	// StatusCodes counts responses by HTTP status; key -1
	// (SocketErrorCode) counts socket errors.
	StatusCodes map[int]int64 `json:"status_codes"`
	// MinS, MaxS and MeanS are the fastest, slowest and mean latency (s).
	MinS  float64 `json:"min_s"`  // fastest call (s)
	MaxS  float64 `json:"max_s"`  // slowest call (s)
	MeanS float64 `json:"mean_s"` // mean latency (s)
	// P50S … P999S are latency percentiles (s), interpolated in fortio's
	// histogram and clamped to [MinS, MaxS].
	P50S  float64 `json:"p50_s"`  // median latency (s)
	P90S  float64 `json:"p90_s"`  // 90th percentile (s)
	P99S  float64 `json:"p99_s"`  // 99th percentile (s)
	P999S float64 `json:"p999_s"` // 99.9th percentile (s)
	// Histogram is the latency histogram (non-cumulative buckets), so any
	// other percentile can be computed with Quantile.
	Histogram []LatencyBucket `json:"histogram,omitempty"`
	// ResolutionS is the width of the smallest histogram bucket (s).
	ResolutionS float64 `json:"resolution_s"`
	// Exact is set when P50S … P999S are exact over every measured call
	// (nearest rank) rather than interpolated in the histogram.
	Exact bool `json:"percentiles_exact,omitempty"`
	// ActualRPS is Count divided by DurationS.
	ActualRPS float64 `json:"actual_rps"`
	// PlannedRPS is the asked rate; 0 means as fast as possible.
	PlannedRPS float64 `json:"planned_rps"`
	// CapacityRPS is Connections ÷ MeanS: the most the connections could
	// carry at the observed mean latency, since each connection has one
	// request in flight at a time.
	CapacityRPS float64 `json:"capacity_rps"`
	// FellBehind is true when PlannedRPS > 0 and the generator did not reach
	// it (ActualRPS below 95% of PlannedRPS, or CapacityRPS below
	// PlannedRPS); FellBehindReason says why.
	FellBehind       bool   `json:"fell_behind"`
	FellBehindReason string `json:"fell_behind_reason,omitempty"` // human-readable cause and remedy
	// Connections is the number of connections actually used (fortio
	// lowers it when the run has fewer than 2 calls per connection).
	Connections int `json:"connections"`
	// TotalBytes is the sum of response sizes (headers + body), in bytes.
	TotalBytes int64 `json:"total_bytes"`
	// SizePerRequest is the mean response size in bytes.
	SizePerRequest float64 `json:"size_per_request"`
	// DurationS is the measured wall time of the run (s).
	DurationS float64 `json:"duration_s"`
	// LatencyFrom says from which start time latencies count: always
	// LatencyFromActualStart ("actual-start").
	LatencyFrom string `json:"latency_from"`
	// PerSecond counts requests completed in each whole second of the run,
	// from the first request's start (a last partial second is dropped).
	PerSecond []int64 `json:"per_second,omitempty"`
	// WarmupRequests is the number of requests fortio makes before the
	// measured run (one per connection, to open it). Servers count them;
	// Count does not.
	WarmupRequests int64 `json:"warmup_requests"`
	// Aborted is true when the run was cancelled before its planned end.
	Aborted bool `json:"aborted,omitempty"`
}

// LatencyBucket is one bucket of the client latency histogram: Count calls
// took between StartS and EndS seconds.
type LatencyBucket struct {
	StartS float64 `json:"start_s"` // bucket start (s, exclusive)
	EndS   float64 `json:"end_s"`   // bucket end (s, inclusive)
	Count  int64   `json:"count"`   // calls in the bucket
}

// Quantile returns the latency (s) at quantile q (0–1) with fortio's
// interpolation (linear inside the bucket), clamped to [MinS, MaxS]. ok is
// false when there is no data.
func (c ClientView) Quantile(q float64) (seconds float64, ok bool) {
	if c.Count == 0 || len(c.Histogram) == 0 {
		return 0, false
	}
	return c.clamp(histogramQuantile(c.Histogram, c.Count, c.MinS, c.MaxS, q*100)), true
}

// ErrorShare returns Errors ÷ Count (0–1); 0 when Count is 0.
func (c ClientView) ErrorShare() float64 {
	if c.Count == 0 {
		return 0
	}
	return float64(c.Errors) / float64(c.Count)
}

func (c ClientView) clamp(v float64) float64 {
	return math.Min(math.Max(v, c.MinS), c.MaxS)
}

// histogramQuantile mirrors stats.HistogramData.CalcPercentile (percentile
// in 0–100) on our bucket copy.
func histogramQuantile(b []LatencyBucket, count int64, minS, maxS, percentile float64) float64 {
	if percentile >= 100 {
		return maxS
	}
	pp := 100 / float64(count)
	if percentile <= pp {
		return minS
	}
	var cum int64
	for _, x := range b {
		cum += x.Count
		cur := 100 * float64(cum) / float64(count)
		if percentile <= cur {
			if cur == pp {
				return x.EndS
			}
			return x.StartS + (percentile-pp)/(cur-pp)*(x.EndS-x.StartS)
		}
		pp = cur
	}
	return maxS
}

// IsError reports whether an HTTP status (or SocketErrorCode) counts as an
// error in ClientView.Errors: anything outside 2xx.
func IsError(code int) bool { return code < 200 || code > 299 }

// clientView summarises fortio's record.
//
// samples are the latencies (s) of the measured calls when the counter
// kept them all: percentiles are then exact (nearest rank over every
// call) and Exact is set; otherwise they are interpolated in fortio's
// histogram.
func clientView(raw *fhttp.HTTPRunnerResults, spec Spec, perSecond []int64, aborted bool, samples []float64) ClientView {
	cv := ClientView{
		StatusCodes:    map[int]int64{},
		PlannedRPS:     spec.RPS,
		LatencyFrom:    LatencyFromActualStart,
		ResolutionS:    spec.Resolution.Seconds(),
		PerSecond:      perSecond,
		Aborted:        aborted,
		Connections:    spec.Connections,
		WarmupRequests: int64(spec.Connections),
	}
	if spec.exactly() > 0 {
		cv.WarmupRequests = 0
	}
	if raw == nil {
		return cv
	}
	if raw.NumThreads > 0 {
		cv.Connections = raw.NumThreads
		cv.WarmupRequests = int64(raw.NumThreads)
	}
	if raw.Exactly > 0 {
		cv.WarmupRequests = 0 // fortio skips the warm-up in exact-count mode
	}
	for code, n := range raw.RetCodes {
		cv.StatusCodes[code] += n
		if IsError(code) {
			cv.Errors += n
		}
	}
	cv.DurationS = raw.ActualDuration.Seconds()
	if h := raw.DurationHistogram; h != nil && h.Count > 0 {
		cv.Count = h.Count
		cv.MinS, cv.MaxS, cv.MeanS = h.Min, h.Max, h.Avg
		for _, b := range h.Data {
			cv.Histogram = append(cv.Histogram, LatencyBucket{StartS: b.Start, EndS: b.End, Count: b.Count})
		}
		pct := percentileMap(h)
		get := func(p float64) float64 {
			if v, ok := pct[p]; ok {
				return cv.clamp(v)
			}
			return cv.clamp(histogramQuantile(cv.Histogram, cv.Count, cv.MinS, cv.MaxS, p))
		}
		cv.P50S, cv.P90S, cv.P99S, cv.P999S = get(50), get(90), get(99), get(99.9)
		// The counter sees every call fortio's histogram records (and no
		// warm-up call in exact-count mode); only then are its samples
		// the same population.
		if int64(len(samples)) == cv.Count {
			sort.Float64s(samples)
			q := func(p float64) float64 { return cv.clamp(nearestRank(samples, p)) }
			cv.P50S, cv.P90S, cv.P99S, cv.P999S = q(50), q(90), q(99), q(99.9)
			cv.Exact = true
		}
	}
	if cv.DurationS > 0 {
		cv.ActualRPS = float64(cv.Count) / cv.DurationS
	}
	if cv.MeanS > 0 {
		cv.CapacityRPS = float64(cv.Connections) / cv.MeanS
	}
	if s := raw.Sizes; s != nil {
		cv.TotalBytes = int64(math.Round(s.Sum))
		cv.SizePerRequest = s.Avg
	}
	cv.FellBehind, cv.FellBehindReason = fellBehind(cv)
	// An exact-count run that sent every planned request within a quarter
	// (plus 1 s) of its planned time kept pace: the slow tail of the last
	// responses only stretched the measured duration.
	if n := spec.exactly(); n > 0 && cv.Count >= n && cv.DurationS <= 1.25*spec.Duration.Seconds()+1 {
		cv.FellBehind, cv.FellBehindReason = false, ""
	}
	return cv
}

// nearestRank is the p-th percentile of sorted xs by the nearest-rank
// method: the smallest value with at least p% of the values at or below
// it (xs non-empty).
func nearestRank(xs []float64, p float64) float64 {
	k := int(math.Ceil(p / 100 * float64(len(xs))))
	return xs[min(max(k, 1), len(xs))-1]
}

func percentileMap(h *stats.HistogramData) map[float64]float64 {
	m := make(map[float64]float64, len(h.Percentiles))
	for _, p := range h.Percentiles {
		m[p.Percentile] = p.Value
	}
	return m
}

// fellBehindSlack is how far below the planned rate the actual rate may be
// before the run counts as having fallen behind (5%).
const fellBehindSlack = 0.95

func fellBehind(cv ClientView) (bool, string) {
	if cv.PlannedRPS <= 0 || cv.Count == 0 {
		return false, ""
	}
	if cv.CapacityRPS > 0 && cv.CapacityRPS < cv.PlannedRPS {
		need := int(math.Ceil(cv.PlannedRPS * cv.MeanS))
		return true, fmt.Sprintf("connections ÷ mean latency = %d ÷ %s = %.1f rps is below the planned %.1f rps, so the rate cannot be met; use at least %d connections",
			cv.Connections, fmtSeconds(cv.MeanS), cv.CapacityRPS, cv.PlannedRPS, need)
	}
	if !cv.Aborted && cv.ActualRPS < fellBehindSlack*cv.PlannedRPS && !sentAll(cv) {
		return true, fmt.Sprintf("achieved %.1f rps of the planned %.1f rps (%.1f%%): the load generator could not keep pace (CPU-bound client or slow responses)",
			cv.ActualRPS, cv.PlannedRPS, 100*cv.ActualRPS/cv.PlannedRPS)
	}
	return false, ""
}

// sentAll reports whether an exact-count run sent every planned request
// within 15% of its planned time: a slow last response then stretches the
// measured duration, not a generator that fell behind.
func sentAll(cv ClientView) bool {
	planned := cv.PlannedRPS * cv.DurationS
	return cv.ActualRPS >= 0.85*cv.PlannedRPS && math.Abs(float64(cv.Count)-planned) < 0.16*planned
}

func fmtSeconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Microsecond).String()
}
