package dataplane

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// This file is outlier detection (circuit breaking) in the sidecar: the
// per-cluster state machine [outlierDetector], the load balancer built on
// it, and the validation of [OutlierDetection]. The Envoy rules are those
// of envoy source/common/upstream/outlier_detection_impl.cc (DetectorImpl,
// DetectorHostMonitorImpl) and source/common/router/router.cc (which
// results reach the detector), and of the load balancer's host selection
// (source/extensions/load_balancing_policies/common/load_balancer_impl.cc:
// LoadBalancerBase::isHostSetInPanic, EdfLoadBalancerBase::chooseHostOnce;
// round_robin_lb.h unweightedHostPick); see
// shared/reference/mesh-semantics.md §2.

// Outlier detection algorithms accepted in [OutlierDetection].Algorithm.
const (
	// OutlierEnvoy is Envoy's outlier detection (consecutive_5xx and
	// consecutive_gateway_failure detectors); the default when Algorithm
	// is empty.
	OutlierEnvoy = "envoy"
	// OutlierBook is the book's breaker: eject after Consecutive5xx
	// consecutive errors for exactly BaseEjectionTime, then return with
	// the count reset.
	OutlierBook = "book"
	// OutlierBookHalfOpen is the book's breaker with a half-open state:
	// when the ejection time ends, the next outcome decides (a failure
	// ejects again at once for BaseEjectionTime, a success closes it).
	OutlierBookHalfOpen = "book_half_open"
	// OutlierLinkerd is Linkerd's consecutive failure accrual (2.13+,
	// balancer.linkerd.io/failure-accrual: consecutive): after
	// Consecutive5xx consecutive failures the endpoint is unavailable for
	// a penalty, then on probation for exactly one request; see
	// [LinkerdAccrualDefaults] and linkerdPenalty for the exact rules.
	OutlierLinkerd = "linkerd"
)

// Linkerd's failure accrual defaults (linkerd2
// policy-controller/k8s/index/src/outbound/index.rs
// parse_consecutive_params: the balancer.linkerd.io/
// failure-accrual-consecutive-* annotations).
const (
	// DefaultLinkerdMaxFailures is …-max-failures: 7.
	DefaultLinkerdMaxFailures = 7
	// DefaultLinkerdMinPenalty is …-min-penalty: 1 s.
	DefaultLinkerdMinPenalty = time.Second
	// DefaultLinkerdMaxPenalty is …-max-penalty: 1 min.
	DefaultLinkerdMaxPenalty = time.Minute
	// DefaultLinkerdJitterRatio is …-jitter-ratio: 0.5.
	DefaultLinkerdJitterRatio = 0.5
	// MaxLinkerdJitterRatio is the largest jitter ratio Linkerd accepts
	// (index.rs: "jitter cannot be greater than 100").
	MaxLinkerdJitterRatio = 100
)

// LinkerdAccrualDefaults returns Linkerd's consecutive failure accrual as
// the policy controller configures it when only the mode annotation is
// set: 7 consecutive failures, penalty from 1 s doubling up to 1 min,
// jitter ratio 0.5. (In a [OutlierDetection] with algorithm "linkerd" the
// zero values of these four fields mean the same defaults.)
func LinkerdAccrualDefaults() OutlierDetection {
	return OutlierDetection{
		Algorithm:        OutlierLinkerd,
		Consecutive5xx:   DefaultLinkerdMaxFailures,
		BaseEjectionTime: DefaultLinkerdMinPenalty,
		MaxEjectionTime:  DefaultLinkerdMaxPenalty,
		JitterRatio:      DefaultLinkerdJitterRatio,
	}
}

// linkerdPenalty is the penalty of the iter-th shut in a row (iter from 0)
// under min, max and jitter ratio, drawing from rnd: linkerd2-proxy's
// consecutive failure accrual (linkerd/app/outbound/src/http/breaker/
// consecutive_failures.rs closed()) sleeps the next value of an
// ExponentialBackoff stream created when the breaker shuts, and the
// stream is linkerd/exp-backoff/src/lib.rs:
//
//	base   = min(min_penalty × 2^iter, max_penalty)
//	jitter = uniform [0,1) × ratio, applied to base's whole seconds and
//	         to its sub-second nanoseconds separately, each truncated,
//	         then capped at max_penalty − base
//	penalty = base + jitter
//
// So the jitter only lengthens the penalty, and because the whole-second
// part truncates, a base of 1 s or 2 s with ratio 0.5 gets no jitter at
// all (1 × 0.5·u and 2 × 0.5·u truncate to 0 s). The uniform draw is
// (rnd() >> 11) / 2^53, as rand's f64; nothing is drawn when ratio is 0.
func linkerdPenalty(iter int, minPenalty, maxPenalty time.Duration, ratio float64, rnd func() uint64) time.Duration {
	base := maxPenalty
	if iter < 63 {
		if m := minPenalty << uint(iter); m>>uint(iter) == minPenalty && m < maxPenalty {
			base = m
		}
	}
	if ratio == 0 {
		return base
	}
	u := float64(rnd()>>11) / (1 << 53)
	rj := u * ratio
	secs := time.Duration(float64(base/time.Second)*rj) * time.Second
	nanos := time.Duration(float64(base%time.Second) * rj)
	return base + min(secs+nanos, maxPenalty-base)
}

// Envoy's outlier detection defaults (api/envoy/config/cluster/v3/
// outlier_detection.proto; outlier_detection_impl.h DEFAULT_*).
const (
	// DefaultOutlierInterval is interval: how often ejected hosts are
	// checked for return and ejection multipliers decay.
	DefaultOutlierInterval = 10 * time.Second
	// DefaultBaseEjectionTime is base_ejection_time.
	DefaultBaseEjectionTime = 30 * time.Second
	// DefaultMaxEjectionTime is max_ejection_time; Envoy uses
	// base_ejection_time instead when that is larger.
	DefaultMaxEjectionTime = 300 * time.Second
)

// bodyNoHealthyUpstream is Envoy's local reply when the load balancer has
// no host to offer (router.cc sendNoHealthyUpstreamResponse, response flag
// UH): every endpoint is ejected and panic mode is off.
const bodyNoHealthyUpstream = "no healthy upstream"

// EnvoyOutlierDefaults returns the outlier detection Envoy applies when a
// cluster has an outlier_detection block with nothing set: consecutive_5xx
// 5 (enforced 100 %), consecutive_gateway_failure 5 (enforced 0 %, so
// off), interval 10 s, base ejection time 30 s, max ejection time 300 s,
// max ejection percent 10, and the load balancer's healthy panic threshold
// 50 %. In a [OutlierDetection] the counts and percents are taken
// literally (0 is a valid Envoy value, e.g. enforcing 0 = never enforce),
// so a control plane reproducing Envoy should start from this value.
func EnvoyOutlierDefaults() OutlierDetection {
	return OutlierDetection{
		Algorithm:                          OutlierEnvoy,
		Consecutive5xx:                     5,
		ConsecutiveGatewayFailure:          5,
		EnforcingConsecutive5xx:            100,
		EnforcingConsecutiveGatewayFailure: 0,
		Interval:                           DefaultOutlierInterval,
		BaseEjectionTime:                   DefaultBaseEjectionTime,
		MaxEjectionTime:                    DefaultMaxEjectionTime,
		MaxEjectionPercent:                 10,
		HealthyPanicThreshold:              50,
	}
}

// validateOutlier checks cluster key's outlier block (nil = off) and
// returns a one-line error naming the cluster and the field.
func validateOutlier(key string, o *OutlierDetection) error {
	if o == nil {
		return nil
	}
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("cluster %q: outlier.%s %s", key, field, fmt.Sprintf(format, args...))
	}
	book, linkerd := false, false
	switch o.Algorithm {
	case "", OutlierEnvoy:
	case OutlierBook, OutlierBookHalfOpen:
		book = true
	case OutlierLinkerd:
		linkerd = true
	default:
		return bad("algorithm", "is %q; want %q, %q, %q or %q", o.Algorithm, OutlierEnvoy, OutlierBook, OutlierBookHalfOpen, OutlierLinkerd)
	}
	for _, c := range []struct {
		field string
		v     int
	}{
		{"consecutive_5xx", o.Consecutive5xx},
		{"consecutive_gateway_failure", o.ConsecutiveGatewayFailure},
	} {
		if c.v < 0 {
			return bad(c.field, "is %d; want 0 (off) or more", c.v)
		}
	}
	if book && o.Consecutive5xx < 1 {
		return bad("consecutive_5xx", "is %d; algorithm %q needs 1 or more (the errors that open the breaker)", o.Consecutive5xx, o.Algorithm)
	}
	for _, c := range []struct {
		field string
		v     time.Duration
	}{
		{"interval", o.Interval},
		{"base_ejection_time", o.BaseEjectionTime},
		{"max_ejection_time", o.MaxEjectionTime},
		{"max_ejection_time_jitter", o.MaxEjectionTimeJitter},
	} {
		if c.v < 0 {
			return bad(c.field, "is %v; want 0 (default) or more", c.v)
		}
	}
	if book && o.BaseEjectionTime <= 0 {
		return bad("base_ejection_time", "is %v; algorithm %q needs the ejection duration, more than 0", o.BaseEjectionTime, o.Algorithm)
	}
	if j := o.JitterRatio; j != 0 && !linkerd {
		return bad("jitter_ratio", "is %v but algorithm is %q; it applies to %q only (Envoy's is max_ejection_time_jitter)", j, o.Algorithm, OutlierLinkerd)
	}
	if linkerd {
		// Ranges of linkerd2 policy-controller parse_consecutive_params.
		if j := o.JitterRatio; math.IsNaN(j) || j < 0 || j > MaxLinkerdJitterRatio {
			return bad("jitter_ratio", "is %v; want 0 (default %v) to %d (a share of the penalty added at random, as Linkerd's failure-accrual-consecutive-jitter-ratio)", j, DefaultLinkerdJitterRatio, MaxLinkerdJitterRatio)
		}
		if lo, hi := baseEjectionTime(o), maxEjectionTime(o); lo > hi {
			return bad("base_ejection_time", "(min penalty) %v exceeds max_ejection_time (max penalty) %v; Linkerd refuses this too", lo, hi)
		}
		return nil
	}
	if !book && o.MaxEjectionTime > 0 && o.MaxEjectionTime < baseEjectionTime(o) {
		// Envoy refuses this too (DetectorImpl::create).
		return bad("max_ejection_time", "%v is below base_ejection_time %v", o.MaxEjectionTime, baseEjectionTime(o))
	}
	for _, c := range []struct {
		field string
		v     int
	}{
		{"enforcing_consecutive_5xx", o.EnforcingConsecutive5xx},
		{"enforcing_consecutive_gateway_failure", o.EnforcingConsecutiveGatewayFailure},
		{"max_ejection_percent", o.MaxEjectionPercent},
		{"healthy_panic_threshold", o.HealthyPanicThreshold},
	} {
		if c.v < 0 || c.v > 100 {
			return bad(c.field, "is %d; want a percent from 0 to 100", c.v)
		}
	}
	return nil
}

// baseEjectionTime is o's base ejection time; 0 means Envoy's default 30 s
// for the envoy algorithm (Envoy rejects an explicit 0) and Linkerd's min
// penalty 1 s for the linkerd algorithm.
func baseEjectionTime(o *OutlierDetection) time.Duration {
	if o.BaseEjectionTime == 0 {
		switch o.Algorithm {
		case "", OutlierEnvoy:
			return DefaultBaseEjectionTime
		case OutlierLinkerd:
			return DefaultLinkerdMinPenalty
		}
	}
	return o.BaseEjectionTime
}

// maxEjectionTime is the linkerd algorithm's max penalty (0 = 1 min).
func maxEjectionTime(o *OutlierDetection) time.Duration {
	if o.MaxEjectionTime == 0 {
		return DefaultLinkerdMaxPenalty
	}
	return o.MaxEjectionTime
}

// outlierEnv is what a detector reports to: its clock and random source
// (injected, so tests are exact) and, when set, the sidecar's event hub and
// telemetry.
type outlierEnv struct {
	clock     Clock
	rand      func() uint64
	component string
	events    *eventHub  // nil = no events
	tel       *telemetry // nil = no metrics
}

// outlierHost is the detector's state of one endpoint.
type outlierHost struct {
	ejected bool
	// halfOpen (book_half_open): the ejection time is over and the next
	// outcome decides.
	halfOpen bool
	// probation (linkerd): the penalty is over; one request may go (the
	// balancer sets probing when it hands it out) and the next outcome
	// decides. iter counts the penalties of this unavailability (the
	// back-off stream's iterations).
	probation, probing bool
	iter               int
	// cons5xx counts consecutive 5xx (envoy) or consecutive errors (book);
	// consGateway consecutive 502/503/504 (envoy).
	cons5xx, consGateway int
	// numEjections counts this host's ejections ("time N" in events).
	numEjections int
	// backoff is Envoy's ejection-time multiplier (ejectTimeBackoff): +1
	// on each ejection while backoff × base < max + base, −1 on each
	// interval tick that finds the host un-ejected for at least an
	// interval.
	backoff int64
	// jitter is the random extra ejection time drawn at the last ejection.
	jitter time.Duration
	// ejectedAt is the time of the last ejection; until (book) the time it
	// ends.
	ejectedAt, until time.Time
	// unejectedAt is the time of the last un-ejection (valid if returned).
	unejectedAt time.Time
	returned    bool
}

// outlierDetector is the outlier detection of one cluster: a state machine
// over the cluster's endpoints, fed with [outlierDetector.Report] after
// every attempt and advanced by interval ticks (envoy) or ejection ends
// (book) of the injected clock. It is also the cluster's load balancer:
// [outlierDetector.Pick] chooses among the endpoints that are not ejected.
//
// Time is kept lazily: every call first applies the ticks and ejection
// ends that are due at the clock's now, each at its own time, so the state
// is exactly what timers firing on time would give; a timer on the
// injected clock (armed only while an endpoint is ejected) does the same
// when no traffic comes, so un-ejection events and the active-ejections
// gauge are timely. It is safe for concurrent use.
type outlierDetector struct {
	cluster string
	names   []string // endpoint names, for events
	addrs   []string // endpoint addresses, to compare configs
	cfg     OutlierDetection
	spec    lbSpec // the cluster's balancer as configured
	book    bool   // book or book_half_open
	linkerd bool   // linkerd failure accrual
	// timed: ejections end at their own time (book, book_half_open,
	// linkerd), not on interval ticks (envoy).
	timed bool
	// maxFailures, jitterRatio (linkerd) and panicThreshold (percent; 0 =
	// no panic mode) are the config's with defaults filled.
	maxFailures    int
	jitterRatio    float64
	panicThreshold int
	// interval, base, max and jitter are the config's times with Envoy's
	// defaults filled in (linkerd: base and max are the min and max
	// penalty, Linkerd's defaults filled in).
	interval, base, max, jitterMax time.Duration
	random                         bool // LB: Envoy RANDOM, else ROUND_ROBIN
	// load is the cluster's load-aware balancer (least_request,
	// peak_ewma; nil = round-robin or random): set before the detector is
	// published and not changed after.
	load   loadPicker
	env    outlierEnv
	epOpts [][]metric.AddOption // per endpoint {cluster, name}

	mu     sync.Mutex
	start  time.Time // interval ticks happen at start + k·interval
	ticks  int64     // interval ticks already applied
	hosts  []outlierHost
	active int   // ejected endpoints
	all    []int // every endpoint index, in order
	cand   []int // scratch: the endpoints a load-aware pick chooses among
	// rr are the cluster balancer's round-robin indexes of its two host
	// sources, healthy hosts and (panic) all hosts; Envoy keeps one per
	// source (rr_indexes_).
	rr      [2]uint64
	bookDue time.Time // earliest end of a book ejection (zero = none)
	pending []Event   // events noted under mu, published after it
	// lastEjection is the detail of the last ejection noted (under mu),
	// for the span of the attempt that caused it (tracing.go).
	lastEjection string
	timer        Timer
	timerAt      time.Time
	timerGen     uint64
	retired      bool
}

// newOutlierDetector returns the detector of cluster key (endpoint names
// and addresses in order) under o and LB policy, starting at env's now.
// A load-aware policy needs its balancer set in d.load before use
// (bindOutlier).
func newOutlierDetector(key string, names, addrs []string, o OutlierDetection, policy string, env outlierEnv) *outlierDetector {
	d := &outlierDetector{
		cluster: key, names: names, addrs: addrs, cfg: o, spec: specOf(Cluster{LBPolicy: policy}),
		book:           o.Algorithm == OutlierBook || o.Algorithm == OutlierBookHalfOpen,
		linkerd:        o.Algorithm == OutlierLinkerd,
		interval:       o.Interval,
		base:           baseEjectionTime(&o),
		max:            o.MaxEjectionTime,
		jitterMax:      o.MaxEjectionTimeJitter,
		panicThreshold: o.HealthyPanicThreshold,
		random:         policy == LBRandom,
		env:            env,
		start:          env.clock.Now(),
		hosts:          make([]outlierHost, len(names)),
	}
	d.timed = d.book || d.linkerd
	if d.linkerd {
		// Linkerd has no panic mode: with every endpoint unavailable the
		// balancer has nothing ready and the request fails (503).
		d.panicThreshold = 0
		d.max = maxEjectionTime(&o)
		d.maxFailures = o.Consecutive5xx
		if d.maxFailures == 0 {
			d.maxFailures = DefaultLinkerdMaxFailures
		}
		d.jitterRatio = o.JitterRatio
		if d.jitterRatio == 0 {
			d.jitterRatio = DefaultLinkerdJitterRatio
		}
	}
	if d.interval == 0 {
		d.interval = DefaultOutlierInterval
	}
	if d.max == 0 {
		// Envoy: max_ejection_time defaults to 300 s, or base_ejection_time
		// when that is larger (DetectorConfig).
		d.max = max(DefaultMaxEjectionTime, d.base)
	}
	for i := range names {
		d.all = append(d.all, i)
		d.epOpts = append(d.epOpts, []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(
			attribute.String("cluster", key), attribute.String("name", names[i])))})
	}
	return d
}

// sameAs reports whether d can keep serving a cluster configured as
// (names, addrs, o, balancer spec) after a config push: then its state
// (ejections, counters, multipliers, round-robin position) carries over,
// as in Envoy where a route change does not touch the cluster.
func (d *outlierDetector) sameAs(names, addrs []string, o OutlierDetection, spec lbSpec) bool {
	if d.cfg != o || d.spec != spec || len(d.names) != len(names) {
		return false
	}
	for i := range names {
		if d.names[i] != names[i] || d.addrs[i] != addrs[i] {
			return false
		}
	}
	return true
}

// Report feeds the outcome of one attempt on endpoint ep to the detector.
// A response counts with its status code; an attempt without response is
// a local-origin failure mapped to a code as Envoy does when
// split_external_local_origin_errors is off (resultToHttpCode; router.cc
// onUpstreamReset and onPerTryTimeout): connect failure or reset → 503,
// per-try timeout → 504. Canceled attempts and no-healthy-upstream are not
// reported.
//
// It returns the detail of the ejection this outcome caused ("" = none),
// for the attempt's span.
func (d *outlierDetector) Report(ep int, o Outcome) (ejection string) {
	var code int
	switch o.Failure {
	case FailureNone:
		code = o.StatusCode
	case FailureConnect, FailureReset:
		code = 503
	case FailurePerTryTimeout:
		code = 504
	default:
		d.releasePick(ep) // a probation request that ended without an outcome
		return ""
	}
	if ep < 0 || ep >= len(d.names) {
		return ""
	}
	now := d.env.clock.Now()
	d.mu.Lock()
	d.advance(now)
	before := d.hosts[ep].numEjections
	d.report(now, ep, code)
	if d.hosts[ep].numEjections != before {
		ejection = d.lastEjection
	}
	notes := d.finish(now)
	d.mu.Unlock()
	d.publish(notes)
	return ejection
}

// reportAttempt is [outlierDetector.Report] for an attempt of the
// outbound path: a failure while the downstream request's context has
// ended (the client went away) is not the endpoint's fault and is not
// reported; a failure whose attempt context ended while the downstream's
// did not is a timeout (per-try or route), reported as 504.
func (d *outlierDetector) reportAttempt(attemptCtx, downstream context.Context, ep int, o Outcome) (ejection string) {
	switch o.Failure {
	case FailureNone, FailureCanceled:
	default:
		if downstream != nil && downstream.Err() != nil {
			d.releasePick(ep)
			return ""
		}
		if attemptCtx != nil && attemptCtx.Err() != nil {
			o.Failure = FailurePerTryTimeout
		}
	}
	return d.Report(ep, o)
}

// Ejected reports whether endpoint ep is ejected now (a half-open
// endpoint is not).
func (d *outlierDetector) Ejected(ep int) bool {
	now := d.env.clock.Now()
	d.mu.Lock()
	d.advance(now)
	ej := ep >= 0 && ep < len(d.hosts) && d.hosts[ep].ejected
	notes := d.finish(now)
	d.mu.Unlock()
	d.publish(notes)
	return ej
}

// Pick is the cluster's load balancer with outlier detection: it chooses
// among the endpoints that are not ejected, in round-robin order (the
// shared index of that host source, so the order among the others is
// kept), at random, or with the cluster's load-aware balancer
// (least_request, peak_ewma) over them, as Envoy's
// EdfLoadBalancerBase::chooseHostOnce does over the healthy hosts. When
// fewer than HealthyPanicThreshold percent of the endpoints are not
// ejected (Envoy: healthy% < threshold, strictly), the balancer is in
// panic and chooses among all endpoints, ejected or not, with its own
// round-robin index (LoadBalancerBase::isHostSetInPanic). With no endpoint
// left and panic off (threshold 0; always so for linkerd) it returns -1:
// the request fails with 503 "no healthy upstream".
//
// linkerd: an endpoint on probation is available until a pick hands out
// its one request (Linkerd's gate limited to one permit); it is then
// unavailable until that request's outcome decides.
func (d *outlierDetector) Pick() int { return d.pickFrom(d.all, &d.rr) }

// pickFrom is Pick over the endpoints idx (the whole cluster, or a subset)
// with round-robin indexes rr (guarded by d.mu).
func (d *outlierDetector) pickFrom(idx []int, rr *[2]uint64) int {
	now := d.env.clock.Now()
	d.mu.Lock()
	d.advance(now)
	healthy := 0
	for _, i := range idx {
		if d.available(i) {
			healthy++
		}
	}
	ep := -1
	switch {
	case healthy > 0 && healthy == len(idx):
		ep = d.chooseFrom(idx, rr, 0, false)
	case d.panicThreshold > 0 && 100*healthy < d.panicThreshold*len(idx):
		ep = d.chooseFrom(idx, rr, 1, false) // panic: all endpoints
	case healthy > 0:
		ep = d.chooseFrom(idx, rr, 0, true)
	}
	if ep >= 0 {
		if h := &d.hosts[ep]; h.probation {
			h.probing = true
		}
	}
	events := d.finish(now)
	d.mu.Unlock()
	d.publish(events)
	return ep
}

// chooseFrom picks among idx (only the available ones when onlyAvailable)
// with source src's round-robin index, at random, or with the load-aware
// balancer; it returns a cluster index (under d.mu).
func (d *outlierDetector) chooseFrom(idx []int, rr *[2]uint64, src int, onlyAvailable bool) int {
	if d.load != nil {
		cand := idx
		if onlyAvailable {
			cand = d.cand[:0]
			for _, i := range idx {
				if d.available(i) {
					cand = append(cand, i)
				}
			}
			d.cand = cand
		}
		return d.load.pickAmong(cand)
	}
	if !onlyAvailable {
		return idx[d.choose(len(idx), &rr[src])]
	}
	healthy := 0
	for _, i := range idx {
		if d.available(i) {
			healthy++
		}
	}
	k := d.choose(healthy, &rr[src])
	for _, i := range idx {
		if d.available(i) {
			if k == 0 {
				return i
			}
			k--
		}
	}
	return -1
}

// available reports whether endpoint i may take a request (under d.mu):
// not ejected, and (linkerd) not on probation with its one request out.
func (d *outlierDetector) available(i int) bool {
	h := &d.hosts[i]
	return !h.ejected && !(h.probation && h.probing)
}

// choose returns a position in [0, n): random() % n (Envoy RANDOM) or the
// round-robin index *rr, then advanced (Envoy unweightedHostPick).
func (d *outlierDetector) choose(n int, rr *uint64) int {
	if d.random {
		return int(d.env.rand() % uint64(n))
	}
	k := int(*rr % uint64(n))
	*rr++
	return k
}

// releasePick undoes pick ep when no outcome of it will be reported (a
// previous_hosts re-pick discarded it, or its attempt was cancelled): an
// endpoint on probation whose one request that was lets the next
// request through instead (linkerd). Other algorithms hold nothing.
func (d *outlierDetector) releasePick(ep int) {
	if !d.linkerd || ep < 0 || ep >= len(d.hosts) {
		return
	}
	d.mu.Lock()
	if h := &d.hosts[ep]; h.probation {
		h.probing = false
	}
	d.mu.Unlock()
}

// loadTracker returns the cluster's load-aware balancer (nil for
// round-robin and random): attempts are counted per cluster endpoint.
func (d *outlierDetector) loadTracker() Tracker {
	if d.load == nil {
		return nil
	}
	return d.load
}

// subsetLB returns a balancer over the endpoints idx of the cluster (a
// version of a weighted route) that skips the endpoints this detector
// ejected, with its own round-robin indexes and its panic threshold
// applied to the subset, as for an Envoy cluster of that subset.
func (d *outlierDetector) subsetLB(idx []int) LoadBalancer {
	return &outlierSubsetLB{d: d, idx: idx}
}

type outlierSubsetLB struct {
	d   *outlierDetector
	idx []int
	rr  [2]uint64 // guarded by d.mu
}

func (s *outlierSubsetLB) Pick() int            { return s.d.pickFrom(s.idx, &s.rr) }
func (s *outlierSubsetLB) loadTracker() Tracker { return s.d.loadTracker() }
func (s *outlierSubsetLB) releasePick(i int)    { s.d.releasePick(i) }

// advance applies what is due at now, in time order: Envoy's interval
// ticks (un-ejection, multiplier decay), or the ends of book ejections and
// Linkerd penalties.
func (d *outlierDetector) advance(now time.Time) {
	if !d.timed {
		for {
			next := d.start.Add(time.Duration(d.ticks+1) * d.interval)
			if next.After(now) {
				return
			}
			if d.active == 0 && !d.anyBackoff() {
				// Nothing to return or decay: the remaining ticks are no-ops.
				d.ticks = int64(now.Sub(d.start) / d.interval)
				return
			}
			d.ticks++
			d.tick(next)
		}
	}
	for d.active > 0 && !d.bookDue.After(now) {
		first := -1
		for i := range d.hosts {
			if h := &d.hosts[i]; h.ejected && (first < 0 || h.until.Before(d.hosts[first].until)) {
				first = i
			}
		}
		d.returnBook(first, d.hosts[first].until)
		d.bookDue = time.Time{}
		for i := range d.hosts {
			if h := &d.hosts[i]; h.ejected && (d.bookDue.IsZero() || h.until.Before(d.bookDue)) {
				d.bookDue = h.until
			}
		}
	}
}

func (d *outlierDetector) anyBackoff() bool {
	for i := range d.hosts {
		if d.hosts[i].backoff > 0 {
			return true
		}
	}
	return false
}

// tick is Envoy's DetectorImpl::onIntervalTimer at time t: an ejected host
// whose ejection time, min(base × multiplier, max) + jitter, has passed
// since its ejection is returned (checkHostForUneject), its counters
// reset (unejectHost); then every host not ejected and returned at least
// an interval ago has its multiplier decremented.
func (d *outlierDetector) tick(t time.Time) {
	for i := range d.hosts {
		h := &d.hosts[i]
		if h.ejected && d.ejectionTime(h) <= t.Sub(h.ejectedAt) {
			h.ejected = false
			h.cons5xx, h.consGateway = 0, 0
			h.unejectedAt, h.returned = t, true
			d.active--
			d.note(t, EventUnejection, i, 0, fmt.Sprintf("returned on interval tick after %v (ejection time %v, time %d)",
				t.Sub(h.ejectedAt), d.ejectionTime(h), h.numEjections))
		}
	}
	for i := range d.hosts {
		h := &d.hosts[i]
		if !h.ejected && h.returned && t.Sub(h.unejectedAt) >= d.interval && h.backoff > 0 {
			h.backoff--
		}
	}
}

// ejectionTime is Envoy's min(base × multiplier, max) + jitter.
func (d *outlierDetector) ejectionTime(h *outlierHost) time.Duration {
	return min(d.base*time.Duration(h.backoff), d.max) + h.jitter
}

// report applies one outcome (a status code, local failures mapped).
func (d *outlierDetector) report(now time.Time, ep, code int) {
	h := &d.hosts[ep]
	fail := code >= 500 && code <= 599
	if d.linkerd {
		d.reportLinkerd(now, ep, code, fail)
		return
	}
	if d.book {
		switch {
		case h.ejected:
			// Traffic that still reaches an ejected endpoint (panic mode,
			// requests in flight) does not count: the count restarts when
			// the endpoint returns.
		case h.halfOpen:
			h.halfOpen = false
			if fail {
				d.ejectBook(now, ep, code, "half-open request failed")
			}
		case !fail:
			h.cons5xx = 0
		default:
			h.cons5xx++
			if h.cons5xx == d.cfg.Consecutive5xx {
				h.cons5xx = 0
				d.ejectBook(now, ep, code, fmt.Sprintf("%d consecutive errors", d.cfg.Consecutive5xx))
			}
		}
		return
	}
	// Envoy DetectorHostMonitorImpl::putHttpResponseCode: a gateway error
	// (502, 503, 504) counts in both detectors, another 5xx resets the
	// gateway counter, a non-5xx resets both; a detector fires when its
	// counter EQUALS the threshold. Envoy posts both to the main thread,
	// gateway first; the same order is kept here.
	if !fail {
		h.cons5xx, h.consGateway = 0, 0
		return
	}
	gateway := false
	if code == 502 || code == 503 || code == 504 {
		h.consGateway++
		gateway = d.cfg.ConsecutiveGatewayFailure > 0 && h.consGateway == d.cfg.ConsecutiveGatewayFailure
	} else {
		h.consGateway = 0
	}
	h.cons5xx++
	fivexx := d.cfg.Consecutive5xx > 0 && h.cons5xx == d.cfg.Consecutive5xx
	if gateway {
		d.onConsecutive(now, ep, code, true)
	}
	if fivexx {
		d.onConsecutive(now, ep, code, false)
	}
}

// onConsecutive is Envoy's DetectorImpl::onConsecutiveErrorWorker: nothing
// if the host is already ejected (its counter is then NOT reset, so it
// passes the threshold and cannot fire again until a success or its
// return resets it); else try to eject, and reset the counter that fired
// whether or not the ejection happened.
func (d *outlierDetector) onConsecutive(now time.Time, ep, code int, gateway bool) {
	h := &d.hosts[ep]
	if h.ejected {
		return
	}
	d.ejectEnvoy(now, ep, code, gateway)
	if gateway {
		h.consGateway = 0
	} else {
		h.cons5xx = 0
	}
}

// ejectEnvoy is Envoy's DetectorImpl::ejectHost. The cap: eject only if
// 100·(ejected+1)/hosts ≤ max_ejection_percent (strict since Envoy PR
// #27909), or always_eject_one_host with no host ejected (PR #34796); over
// the cap Envoy counts ejections_overflow and does nothing. Then the
// enforcing percent is drawn (runtime featureEnabled: random % 100 <
// percent; meshgym draws only for 1–99 so 0 and 100 leave the random
// stream alone). An ejection draws the jitter (random % (jitter_ms + 1)
// ms, only when max_ejection_time_jitter is set) and raises the
// multiplier while multiplier × base < max + base.
func (d *outlierDetector) ejectEnvoy(now time.Time, ep, code int, gateway bool) {
	h := &d.hosts[ep]
	allowed := 100*(d.active+1) <= min(d.cfg.MaxEjectionPercent, 100)*len(d.hosts)
	if d.cfg.AlwaysEjectOneHost && d.active == 0 {
		allowed = true
	}
	if !allowed {
		return
	}
	enforcing, what, threshold := d.cfg.EnforcingConsecutive5xx, "5xx", d.cfg.Consecutive5xx
	if gateway {
		enforcing, what, threshold = d.cfg.EnforcingConsecutiveGatewayFailure, "gateway errors (502/503/504)", d.cfg.ConsecutiveGatewayFailure
	}
	if !d.draw(enforcing) {
		return
	}
	d.active++
	h.ejected = true
	h.numEjections++
	h.ejectedAt = now
	h.jitter = 0
	if d.jitterMax > 0 {
		ms := uint64(d.jitterMax / time.Millisecond)
		h.jitter = time.Duration(d.env.rand()%(ms+1)) * time.Millisecond
	}
	if d.base*time.Duration(h.backoff) < d.max+d.base {
		h.backoff++
	}
	d.note(now, EventEjection, ep, code, fmt.Sprintf("%d consecutive %s; ejected for %v (time %d)",
		threshold, what, d.ejectionTime(h), h.numEjections))
}

// draw is true with probability percent/100 (0 never, 100 always).
func (d *outlierDetector) draw(percent int) bool {
	switch {
	case percent <= 0:
		return false
	case percent >= 100:
		return true
	}
	return d.env.rand()%100 < uint64(percent)
}

// reportLinkerd is linkerd2-proxy's ConsecutiveFailures state machine
// (linkerd/app/outbound/src/http/breaker/consecutive_failures.rs): open,
// a failure (5xx, or no response) counts and a success resets the count;
// at max failures the endpoint is shut for a penalty (linkerdPenalty,
// iteration 0). Outcomes that arrive while shut are ignored. On
// probation the first outcome decides, as Linkerd takes the first
// response it receives (normally the one request let through): a success
// opens the endpoint (count reset; the next shut starts again at the min
// penalty), a failure shuts it again for the next, doubled penalty.
func (d *outlierDetector) reportLinkerd(now time.Time, ep, code int, fail bool) {
	h := &d.hosts[ep]
	switch {
	case h.ejected:
	case h.probation:
		h.probation, h.probing = false, false
		if fail {
			h.iter++
			d.shutLinkerd(now, ep, code, "probation request failed")
			return
		}
		h.cons5xx, h.iter = 0, 0
		d.note(now, EventProbation, ep, code, fmt.Sprintf("probation request succeeded: available, failure count reset (time %d)", h.numEjections))
	case !fail:
		h.cons5xx = 0
	default:
		h.cons5xx++
		if h.cons5xx == d.maxFailures {
			h.cons5xx, h.iter = 0, 0
			d.shutLinkerd(now, ep, code, fmt.Sprintf("%d consecutive failures", d.maxFailures))
		}
	}
}

// shutLinkerd makes ep unavailable for the penalty of its iteration
// h.iter (linkerd).
func (d *outlierDetector) shutLinkerd(now time.Time, ep, code int, why string) {
	h := &d.hosts[ep]
	penalty := linkerdPenalty(h.iter, d.base, d.max, d.jitterRatio, d.env.rand)
	d.active++
	h.ejected = true
	h.numEjections++
	h.ejectedAt = now
	h.until = now.Add(penalty)
	if d.bookDue.IsZero() || h.until.Before(d.bookDue) {
		d.bookDue = h.until
	}
	d.note(now, EventEjection, ep, code, fmt.Sprintf("%s; unavailable for %v (time %d)", why, penalty, h.numEjections))
}

// ejectBook ejects ep for exactly the base ejection time (book).
func (d *outlierDetector) ejectBook(now time.Time, ep, code int, why string) {
	h := &d.hosts[ep]
	d.active++
	h.ejected = true
	h.numEjections++
	h.ejectedAt = now
	h.until = now.Add(d.base)
	if d.bookDue.IsZero() || h.until.Before(d.bookDue) {
		d.bookDue = h.until
	}
	d.note(now, EventEjection, ep, code, fmt.Sprintf("%s; ejected for %v (time %d)", why, d.base, h.numEjections))
}

// returnBook ends ep's book ejection at t: closed with its count reset
// (book), or half-open (book_half_open).
func (d *outlierDetector) returnBook(ep int, t time.Time) {
	h := &d.hosts[ep]
	h.ejected = false
	h.cons5xx = 0
	h.unejectedAt, h.returned = t, true
	d.active--
	detail := fmt.Sprintf("returned after %v, count reset (time %d)", t.Sub(h.ejectedAt), h.numEjections)
	switch {
	case d.linkerd:
		h.probation, h.probing = true, false
		detail = fmt.Sprintf("on probation after %v: one request goes through and its outcome decides (time %d)", t.Sub(h.ejectedAt), h.numEjections)
	case d.cfg.Algorithm == OutlierBookHalfOpen:
		h.halfOpen = true
		detail = fmt.Sprintf("half-open after %v: the next outcome decides (time %d)", t.Sub(h.ejectedAt), h.numEjections)
	}
	d.note(t, EventUnejection, ep, 0, detail)
}

// note records an event and updates the ejection metrics (under d.mu).
func (d *outlierDetector) note(t time.Time, kind string, ep, code int, detail string) {
	if kind == EventEjection {
		d.lastEjection = detail
	}
	if d.retired {
		return
	}
	if tel := d.env.tel; tel != nil {
		ctx := context.Background()
		switch kind {
		case EventEjection:
			tel.ejections.Add(ctx, 1, d.epOpts[ep]...)
			tel.ejectionsActive.Add(ctx, 1, d.epOpts[ep]...)
		case EventUnejection:
			tel.ejectionsActive.Add(ctx, -1, d.epOpts[ep]...)
		}
	}
	if d.env.events != nil && d.env.events.active() {
		d.pending = append(d.pending, Event{Time: t, Component: d.env.component, Kind: kind,
			Cluster: d.cluster, Endpoint: d.names[ep], StatusCode: code, Detail: detail})
	}
}

// finish (under d.mu) re-arms the timer and hands out the pending events.
func (d *outlierDetector) finish(now time.Time) []Event {
	d.arm(now)
	notes := d.pending
	d.pending = nil
	return notes
}

func (d *outlierDetector) publish(events []Event) {
	for _, e := range events {
		d.env.events.publish(e)
	}
}

// deadline is when the state next changes by itself: the interval tick at
// which the first ejected host returns (envoy) or the first book ejection
// or Linkerd penalty end; zero when nothing is ejected.
func (d *outlierDetector) deadline() time.Time {
	if d.active == 0 {
		return time.Time{}
	}
	if d.timed {
		return d.bookDue
	}
	var first time.Time
	for i := range d.hosts {
		h := &d.hosts[i]
		if !h.ejected {
			continue
		}
		due := h.ejectedAt.Add(d.ejectionTime(h)).Sub(d.start)
		k := max(int64((due+d.interval-1)/d.interval), d.ticks+1)
		if at := d.start.Add(time.Duration(k) * d.interval); first.IsZero() || at.Before(first) {
			first = at
		}
	}
	return first
}

// arm keeps one timer on the injected clock at the next deadline, so the
// state advances (and events go out) without traffic.
func (d *outlierDetector) arm(now time.Time) {
	if d.retired {
		return
	}
	at := d.deadline()
	if d.timer != nil && at.Equal(d.timerAt) {
		return
	}
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	if at.IsZero() {
		return
	}
	d.timerGen++
	gen := d.timerGen
	d.timerAt = at
	d.timer = d.env.clock.AfterFunc(at.Sub(now), func() { d.onTimer(gen) })
}

func (d *outlierDetector) onTimer(gen uint64) {
	now := d.env.clock.Now()
	d.mu.Lock()
	if gen != d.timerGen || d.retired {
		d.mu.Unlock()
		return
	}
	d.timer = nil
	d.advance(now)
	notes := d.finish(now)
	d.mu.Unlock()
	d.publish(notes)
}

// retire stops a detector whose cluster a config push replaced: no more
// timer, events or metrics (its active ejections leave the gauge).
// Requests still in flight under the old config may use it.
func (d *outlierDetector) retire() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.retired {
		return
	}
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	if tel := d.env.tel; tel != nil {
		for i := range d.hosts {
			if d.hosts[i].ejected {
				tel.ejectionsActive.Add(context.Background(), -1, d.epOpts[i]...)
			}
		}
	}
	d.retired = true
}

// bindOutlier gives every cluster of rc that has outlier detection its
// detector, which also becomes the cluster's load balancer (choosing with
// the cluster's load-aware balancer, if any, among the endpoints it has
// not ejected). A cluster whose endpoints, LB policy and outlier block are
// unchanged since prev
// keeps its detector (and so its ejections); the detectors of prev that
// are not kept are retired. Call it before rc is stored.
func (f *forwarder) bindOutlier(rc, prev *runtimeConfig) {
	kept := map[*outlierDetector]bool{}
	for key, cr := range rc.clusters {
		cl := rc.cfg.Clusters[key]
		if cl.Outlier == nil {
			continue
		}
		names := make([]string, len(cr.endpoints))
		addrs := make([]string, len(cr.endpoints))
		for i, e := range cr.endpoints {
			names[i], addrs[i] = e.name, e.addr
		}
		var d *outlierDetector
		if prev != nil {
			// The balancer spec and addresses being the same, bindLoad
			// has given cr the load-aware balancer d already uses.
			if pc := prev.clusters[key]; pc != nil && pc.outlier != nil && pc.outlier.sameAs(names, addrs, *cl.Outlier, cr.spec) {
				d = pc.outlier
				kept[d] = true
			}
		}
		if d == nil {
			d = newOutlierDetector(key, names, addrs, *cl.Outlier, cl.LBPolicy,
				outlierEnv{clock: f.clock, rand: f.rand, component: f.name, events: f.events, tel: f.tel})
			d.spec = cr.spec
			d.load = cr.load
		}
		cr.outlier = d
		cr.lb = d
	}
	if prev != nil {
		for _, pc := range prev.clusters {
			if pc.outlier != nil && !kept[pc.outlier] {
				pc.outlier.retire()
			}
		}
	}
}
