package verdict

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"meshgym/metrics"
	"meshgym/scenarios"
)

// Units of Result.Unit (the metric's base unit).
const (
	UnitCount   = ""      // a plain count of requests or retries
	UnitPercent = "%"     // a share, 0–100
	UnitSeconds = "s"     // a latency
	UnitRPS     = "req/s" // a request rate
	UnitCPU     = "cpu-s" // CPU seconds consumed per second of wall time
	UnitMB      = "MB"    // resident memory, 2^20 bytes
	UnitRatio   = "×"     // a ratio of two counts, e.g. amplification
)

// Sources of Result.Source.
const (
	SourceClient  = "client"  // the load generator's ClientView
	SourceServer  = "server"  // server-side counters and histograms
	SourceSampler = "sampler" // per-second process samples
)

// Result is one condition measured on one snapshot.
type Result struct {
	// Value is the measured value in the metric's base unit (Unit).
	Value float64 `json:"value"`
	Unit  string  `json:"unit"` // one of the Unit… constants
	// N is the sample size: the denominator for shares; the number of
	// requests for counts and latencies; the number of one-second samples
	// for rates, CPU and memory.
	N int64 `json:"n"`
	// Count is the numerator of a share (requests matching the selector).
	Count float64 `json:"count,omitempty"`
	// Known is false when the data the condition needs is missing; Reason
	// then says what is missing, and the condition fails.
	Known bool `json:"known"`
	// Reason explains a missing value, or notes how the value was read.
	Reason string `json:"reason,omitempty"`
	// Source says where the value comes from (client, server, sampler).
	Source string `json:"source,omitempty"`
	// Share is true when Value is a percentage of N.
	Share bool `json:"share,omitempty"`
	// CI is the 95% Wilson score interval of a share, in percent (Wilson
	// 1927); zero for other metrics.
	CI [2]float64 `json:"ci,omitzero"`
	// Noise is the sampling noise of a share in percentage points: the
	// larger distance from Value to an end of CI.
	Noise float64 `json:"noise,omitempty"`
	// Yamane is the book's sample size for ±5% at population N,
	// N / (1 + N·0.05²) (Yamane 1967), shown for teaching.
	Yamane float64 `json:"yamane,omitempty"`
}

// Options adjust how conditions read a snapshot. The zero value is the
// documented default.
type Options struct {
	// ShareBase returns the selector a share is divided by. nil uses
	// DefaultShareBase. The engine may pass a topology-aware rule (one that
	// knows versions not named _vN), e.g. scenarios.Topology.ShareBase.
	ShareBase func(scenarios.Condition) []scenarios.Matcher
}

// Evaluate measures c on s with the default Options.
func Evaluate(c scenarios.Condition, s *metrics.Snapshot) Result {
	return Options{}.Evaluate(c, s)
}

// Evaluate measures c on s. Semantics (docs/scenarios.md):
//
//   - name=X selects component X, or every version of service X (X and
//     X_…, not sidecars; see metrics.MatchName). Without name the metric is
//     what the load generator saw (Snapshot.Client).
//   - request_count: server-side inbound requests matching the selector
//     (with name), or the client's responses (without name; status_code
//     matchers apply to its status codes). As a share (Share): count ÷
//     count of ShareBase × 100.
//   - error_rate: share of non-2xx answers (client, or server with name).
//   - retries_total: retries made by sidecars towards cluster = name (all
//     clusters without name).
//   - request_duration_pNN: the client latency percentile without name;
//     with name the quantile of the component's server-side histogram.
//   - requests_per_second_pNN: quantile of per-second rates (client
//     completions without name; inbound requests of the component with
//     name).
//   - cpu_seconds_pNN: quantile over the phase's one-second samples of the
//     CPU seconds the component consumed in that second; name required.
//   - memory_megabytes_max / _min: highest / lowest sampled resident memory
//     in MB; name required. Several selected components are summed per
//     sample.
func (o Options) Evaluate(c scenarios.Condition, s *metrics.Snapshot) Result {
	if s == nil {
		return unknown("no snapshot for this phase")
	}
	if err := checkMatchers(c); err != "" {
		return unknown(err)
	}
	name, hasName := c.Match(scenarios.LabelName, "=")
	q, _ := c.Quantile()
	switch c.Family() {
	case scenarios.MetricRequestCount:
		return o.requestCount(c, s)
	case scenarios.MetricErrorRate:
		return errorRate(c, s)
	case scenarios.MetricRetriesTotal:
		return retries(c, s)
	case familyAmplification:
		return amplification(c, s)
	case familyEjectionsTotal:
		return ejections(c, s)
	case familyCanaryWeight:
		if s.CanaryWeight == nil {
			return unknown("no progressive rollout ran in this phase")
		}
		return Result{Value: *s.CanaryWeight, Unit: UnitPercent, N: 1, Known: true, Source: SourceServer}
	case scenarios.MetricRequestDurationP:
		return duration(c, s, q)
	case scenarios.MetricRequestsPerSecondP:
		if !hasNameMatcher(c) {
			xs := make([]float64, len(s.Client.PerSecond))
			for i, v := range s.Client.PerSecond {
				xs[i] = float64(v)
			}
			v, ok := metrics.Quantile(xs, q)
			if !ok {
				return unknown("the load generator recorded no whole second of requests in this phase")
			}
			return Result{Value: v, Unit: UnitRPS, N: int64(len(xs)), Known: true, Source: SourceClient}
		}
		if !hasName {
			return unknown("requests_per_second supports name=, not name!=")
		}
		v, n, ok := s.RequestsPerSecondQuantile(name, q)
		if !ok {
			return unknown(fmt.Sprintf("no per-second request rates for name=%s (was a metrics.Recorder running in this phase?)%s", name, seen(s)))
		}
		return Result{Value: v, Unit: UnitRPS, N: int64(n), Known: true, Source: SourceServer}
	case scenarios.MetricCPUSecondsP:
		if !hasName {
			return unknown("cpu_seconds needs name=<component>: the load generator's own CPU is not measured")
		}
		v, n, ok := s.CPUSecondsQuantile(name, q)
		if !ok {
			return unknown(fmt.Sprintf("no CPU samples (two or more, a second apart) for name=%s%s", name, seen(s)))
		}
		return Result{Value: v, Unit: UnitCPU, N: int64(n), Known: true, Source: SourceSampler}
	case scenarios.MetricMemoryMax, scenarios.MetricMemoryMin:
		if !hasName {
			return unknown(c.Metric + " needs name=<component>: the load generator's own memory is not measured")
		}
		f := s.MemoryMBMax
		if c.Family() == scenarios.MetricMemoryMin {
			f = s.MemoryMBMin
		}
		v, n, ok := f(name)
		if !ok {
			return unknown(fmt.Sprintf("no memory samples for name=%s%s", name, seen(s)))
		}
		return Result{Value: v, Unit: UnitMB, N: int64(n), Known: true, Source: SourceSampler}
	}
	return unknown(fmt.Sprintf("unknown metric %q", c.Metric))
}

func unknown(reason string) Result { return Result{Reason: reason} }

// checkMatchers rejects labels and operators this package cannot read.
func checkMatchers(c scenarios.Condition) string {
	for _, m := range c.Matchers {
		if m.Op != "=" && m.Op != "!=" {
			return fmt.Sprintf("matcher %s%s%s: operator must be = or !=", m.Label, m.Op, m.Value)
		}
		switch m.Label {
		case scenarios.LabelName:
		case scenarios.LabelStatusCode, labelAttempt:
			if _, ok := parseCode(m.Value); !ok {
				return fmt.Sprintf("matcher %s%s%s: value must be a number or a class like 5xx", m.Label, m.Op, m.Value)
			}
		default:
			return fmt.Sprintf("unknown label %q (labels are name, status_code, attempt)", m.Label)
		}
	}
	return ""
}

const labelAttempt = "attempt"

func hasNameMatcher(c scenarios.Condition) bool {
	return hasLabel(c.Matchers, scenarios.LabelName)
}

func hasLabel(ms []scenarios.Matcher, label string) bool {
	for _, m := range ms {
		if m.Label == label {
			return true
		}
	}
	return false
}

// codeRange is a status code or class: 500 → [500,500], 5xx → [500,599].
type codeRange struct{ lo, hi int }

func parseCode(v string) (codeRange, bool) {
	v = strings.ToLower(strings.TrimSpace(v))
	if len(v) == 3 && strings.HasSuffix(v, "xx") && v[0] >= '1' && v[0] <= '5' {
		d := int(v[0]-'0') * 100
		return codeRange{d, d + 99}, true
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return codeRange{}, false
	}
	return codeRange{n, n}, true
}

// matches reports whether one request series with the given labels passes
// every matcher.
func matches(ms []scenarios.Matcher, name string, code, attempt int) bool {
	for _, m := range ms {
		var ok bool
		switch m.Label {
		case scenarios.LabelName:
			ok = metrics.MatchName(m.Value, name)
		case scenarios.LabelStatusCode:
			r, _ := parseCode(m.Value)
			ok = code >= r.lo && code <= r.hi
		case labelAttempt:
			r, _ := parseCode(m.Value)
			ok = attempt >= r.lo && attempt <= r.hi
		}
		if ok == (m.Op == "!=") {
			return false
		}
	}
	return true
}

// count sums the requests matching ms: server-side series when ms has a
// name matcher, the client's status codes otherwise. any is false when no
// series of a selected component exists at all.
func count(ms []scenarios.Matcher, s *metrics.Snapshot) (n float64, src string, any bool, why string) {
	if !hasLabel(ms, scenarios.LabelName) {
		if hasLabel(ms, labelAttempt) {
			return 0, SourceClient, false, "the load generator has no attempt label; add name=<component> to count server-side attempts"
		}
		if s.Client.Count == 0 {
			return 0, SourceClient, false, "the load generator made no requests in this phase"
		}
		for code, c := range s.Client.StatusCodes {
			if matches(ms, "", code, 1) {
				n += float64(c)
			}
		}
		return n, SourceClient, true, ""
	}
	nameOnly := onlyLabel(ms, scenarios.LabelName)
	for _, r := range s.Requests {
		if matches(nameOnly, r.Name, r.StatusCode, r.Attempt) {
			any = true
			if matches(ms, r.Name, r.StatusCode, r.Attempt) {
				n += r.Count
			}
		}
	}
	if !any {
		return 0, SourceServer, false, fmt.Sprintf("no server-side request counts for %s%s", selectorText(nameOnly), seen(s))
	}
	return n, SourceServer, true, ""
}

func onlyLabel(ms []scenarios.Matcher, label string) []scenarios.Matcher {
	var out []scenarios.Matcher
	for _, m := range ms {
		if m.Label == label {
			out = append(out, m)
		}
	}
	return out
}

func selectorText(ms []scenarios.Matcher) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.Label + m.Op + m.Value
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func seen(s *metrics.Snapshot) string {
	c := s.Components()
	if len(c) == 0 {
		return " (the snapshot has no components: were the scrape targets reachable?)"
	}
	sort.Strings(c)
	return " (components seen: " + strings.Join(c, ", ") + ")"
}

// DefaultShareBase is the default denominator selector of a share
// (DESIGN.md, "Success conditions"): the condition's matchers without its
// status_code matchers — request_count[name=currency_v2, status_code=500]
// is divided by all requests to currency_v2. A selector written with only
// name=<service>_vN (no status_code) is divided by all requests to the
// service: request_count[name=payments_v1] = 50% means half of payments'
// requests went to payments_v1.
func DefaultShareBase(c scenarios.Condition) []scenarios.Matcher {
	var out []scenarios.Matcher
	for _, m := range c.Matchers {
		if m.Label != scenarios.LabelStatusCode {
			out = append(out, m)
		}
	}
	if len(c.Matchers) == 1 && len(out) == 1 && out[0].Label == scenarios.LabelName && out[0].Op == "=" {
		if svc := metrics.ServiceOf(out[0].Value); svc != out[0].Value {
			out[0].Value = svc
		}
	}
	return out
}

func (o Options) requestCount(c scenarios.Condition, s *metrics.Snapshot) Result {
	num, src, ok, why := count(c.Matchers, s)
	if !ok {
		return unknown(why)
	}
	if !c.Share {
		r := Result{Value: num, Unit: UnitCount, N: int64(math.Round(num)), Known: true, Source: src}
		return r
	}
	baseFn := o.ShareBase
	if baseFn == nil {
		baseFn = DefaultShareBase
	}
	base := baseFn(c)
	den, _, ok, why := count(base, s)
	if !ok {
		return unknown(why)
	}
	return share(num, den, src, selectorText(base))
}

// share builds a percentage result with its Wilson interval.
func share(num, den float64, src, base string) Result {
	if den <= 0 {
		return unknown("no requests to " + base + " in this phase: a share of nothing is undefined")
	}
	lo, hi := Wilson95(num, den)
	v := 100 * num / den
	return Result{
		Value: v, Unit: UnitPercent, N: int64(math.Round(den)), Count: num, Known: true, Source: src, Share: true,
		CI:     [2]float64{100 * lo, 100 * hi},
		Noise:  math.Max(v-100*lo, 100*hi-v),
		Yamane: Yamane(den, YamaneE),
		Reason: fmt.Sprintf("%s of %s requests to %s", fmtNum(num), fmtNum(den), base),
	}
}

func errorRate(c scenarios.Condition, s *metrics.Snapshot) Result {
	if hasLabel(c.Matchers, scenarios.LabelStatusCode) {
		return unknown("error_rate counts non-2xx itself: drop the status_code matcher, or use request_count with %")
	}
	all, src, ok, why := count(c.Matchers, s)
	if !ok {
		return unknown(why)
	}
	ms := append(append([]scenarios.Matcher(nil), c.Matchers...), scenarios.Matcher{Label: scenarios.LabelStatusCode, Op: "!=", Value: "2xx"})
	bad, _, _, _ := count(ms, s)
	return share(bad, all, src, selectorText(c.Matchers))
}

func retries(c scenarios.Condition, s *metrics.Snapshot) Result {
	if hasLabel(c.Matchers, scenarios.LabelStatusCode) || hasLabel(c.Matchers, labelAttempt) {
		return unknown("retries_total is counted per upstream cluster only: use name=<service>")
	}
	if s.Retries == nil {
		return unknown("no retry counters in this phase (no sidecar reported meshgym_upstream_retries_total)")
	}
	var n float64
	any := false
	for cluster, v := range s.Retries {
		if matches(c.Matchers, cluster, 0, 0) {
			n += v
			any = true
		}
	}
	if !any && hasNameMatcher(c) {
		return unknown("no retry counter for cluster " + selectorText(c.Matchers))
	}
	return Result{Value: n, Unit: UnitCount, N: int64(math.Round(n)), Known: true, Source: SourceServer}
}

func duration(c scenarios.Condition, s *metrics.Snapshot, q float64) Result {
	if hasLabel(c.Matchers, scenarios.LabelStatusCode) || hasLabel(c.Matchers, labelAttempt) {
		return unknown("request_duration has no status_code or attempt breakdown: drop those matchers")
	}
	if !hasNameMatcher(c) {
		cv := s.Client
		if cv.Count == 0 {
			return unknown("the load generator made no requests in this phase")
		}
		var v float64
		switch q {
		case 0.5:
			v = cv.P50S
		case 0.9:
			v = cv.P90S
		case 0.99:
			v = cv.P99S
		case 0.999:
			v = cv.P999S
		default:
			v, _ = cv.Quantile(q)
		}
		return Result{Value: v, Unit: UnitSeconds, N: cv.Count, Known: true, Source: SourceClient,
			Reason: "client latency from the actual start of each call"}
	}
	var h metrics.Histogram
	found := false
	for comp, x := range s.Durations {
		if matches(c.Matchers, comp, 0, 0) {
			h, found = h.Add(x), true
		}
	}
	if !found {
		return unknown(fmt.Sprintf("no server-side latency histogram for %s%s", selectorText(c.Matchers), seen(s)))
	}
	v, ok := h.Quantile(q)
	if !ok {
		return unknown(fmt.Sprintf("%s served no requests in this phase", selectorText(c.Matchers)))
	}
	return Result{Value: v, Unit: UnitSeconds, N: int64(math.Round(h.Count)), Known: true, Source: SourceServer,
		Reason: "server-side histogram quantile (linear within the bucket)"}
}

func fmtNum(f float64) string {
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// Metric families beyond the book's (names as the condition language
// spells them).
const (
	familyAmplification  = "amplification"
	familyEjectionsTotal = "ejections_total"
	familyCanaryWeight   = "canary_weight"
)

// amplification is the requests a component received ÷ the requests the
// user (the load generator) sent: how much retries multiplied the load.
func amplification(c scenarios.Condition, s *metrics.Snapshot) Result {
	if !hasNameMatcher(c) || hasLabel(c.Matchers, scenarios.LabelStatusCode) {
		return unknown("amplification needs name=<component or service> and no status_code")
	}
	if s.Client.Count == 0 {
		return unknown("the load generator made no requests in this phase")
	}
	n, _, any, why := count(c.Matchers, s)
	if !any {
		return unknown(why)
	}
	user := float64(s.Client.Count + s.Client.WarmupRequests)
	return Result{Value: n / user, Unit: UnitRatio, N: int64(user), Count: n, Known: true, Source: SourceServer}
}

// ejections sums outlier ejections of the selected endpoints.
func ejections(c scenarios.Condition, s *metrics.Snapshot) Result {
	if hasLabel(c.Matchers, scenarios.LabelStatusCode) || hasLabel(c.Matchers, labelAttempt) {
		return unknown("ejections_total is counted per endpoint only: use name=<version>")
	}
	var n float64
	for name, v := range s.Ejections {
		if matches(c.Matchers, name, 0, 0) {
			n += v
		}
	}
	return Result{Value: n, Unit: UnitCount, N: int64(math.Round(n)), Known: true, Source: SourceServer}
}
