package dataplane

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// LB policy names accepted in [Cluster].LBPolicy.
const (
	// LBRoundRobin is Envoy's ROUND_ROBIN (the default when LBPolicy is
	// empty): endpoints are picked in turn, shared by all requests of the
	// cluster. envoy api/envoy/config/cluster/v3/cluster.proto LbPolicy.
	LBRoundRobin = "round_robin"
	// LBRandom is Envoy's RANDOM: each pick is uniform over the endpoints.
	LBRandom = "random"
	// LBLeastRequest is Envoy's LEAST_REQUEST for endpoints of equal
	// weight: the power of two choices over active requests ([LeastRequest]).
	// Istio's default since 1.14 (istio commit e048ab8, #37220).
	// envoy api/envoy/config/cluster/v3/cluster.proto LeastRequestLbConfig;
	// docs intro/arch_overview/upstream/load_balancing/load_balancers.
	LBLeastRequest = "least_request"
	// LBPeakEWMA is Linkerd's balancer: the power of two choices over a
	// Peak-EWMA latency cost ([PeakEWMA]). linkerd2
	// policy-controller/grpc/src/outbound.rs default_balancer_config;
	// linkerd2-proxy linkerd/pool/p2c with tower::load::PeakEwma.
	LBPeakEWMA = "peak_ewma"
)

// Defaults of the load-aware balancers.
const (
	// DefaultLBChoiceCount is Envoy's LeastRequestLbConfig.choice_count
	// default: 2 (two random endpoints compared).
	DefaultLBChoiceCount = 2
	// MaxLBChoiceCount bounds lb_choice_count (meshgym's guard: a pick
	// makes that many draws; Envoy has no upper bound).
	MaxLBChoiceCount = 1024
	// DefaultEWMARTT is Linkerd's default RTT of an endpoint with no
	// observation yet: 30 ms (policy-controller/grpc/src/outbound.rs
	// BALANCER_DEFAULT_RTT).
	DefaultEWMARTT = 30 * time.Millisecond
	// DefaultEWMADecay is Linkerd's decay time τ of the Peak-EWMA
	// estimate: 10 s (outbound.rs BALANCER_RTT_DECAY).
	DefaultEWMADecay = 10 * time.Second
	// minEWMADefaultRTT is linkerd2-proxy's floor on the default RTT
	// (linkerd/proxy/balance MIN_DEFAULT_RTT, 1 ms).
	minEWMADefaultRTT = time.Millisecond
)

// LoadBalancer picks the index of the endpoint an attempt goes to. It is
// safe for concurrent use: one LoadBalancer serves every request of a
// cluster, as in Envoy, so re-picks by one request consume picks of others.
type LoadBalancer interface {
	// Pick returns an index in [0, n) where n is the endpoint count, or
	// -1 when no endpoint may be used (with outlier detection: every
	// endpoint ejected and panic mode off; see outlier.go).
	Pick() int
}

// Tracker is implemented by the balancers that need to see attempts:
// [LeastRequest] counts active requests, [PeakEWMA] also measures each
// attempt's round-trip time. The router loop (runRouter, retry.go) calls
// Start when an attempt to endpoint i begins and End when it returns
// (response headers, a local failure, a per-try timeout or cancellation),
// with rtt measured on the sidecar's injected clock. Endpoint indexes are
// the cluster's. Round-robin and random balancers do not implement it and
// their path takes no clock reading.
type Tracker interface {
	// Start notes that an attempt to endpoint i began.
	Start(i int)
	// End notes that the attempt to endpoint i that began rtt ago ended.
	End(i int, rtt time.Duration)
}

// loadPicker is a load-aware balancer ([LeastRequest], [PeakEWMA]) that can
// also choose among a subset of the cluster's endpoints (a route version,
// or the endpoints outlier detection has not ejected) while the load it
// compares stays per endpoint of the cluster, as Envoy's host stats and
// Linkerd's endpoint services are.
type loadPicker interface {
	LoadBalancer
	Tracker
	// pickAmong returns the chosen cluster index among idx (cluster
	// indexes, nil = all endpoints), -1 when idx is empty.
	pickAmong(idx []int) int
}

// loadTracking is implemented by balancers that wrap another (route
// versions, outlier detection): loadTracker returns the Tracker attempts
// must be reported to, nil when none.
type loadTracking interface {
	loadTracker() Tracker
}

// trackerOf returns the Tracker of lb, nil when lb needs no attempt
// tracking (round-robin, random).
func trackerOf(lb LoadBalancer) Tracker {
	switch b := lb.(type) {
	case *RoundRobin, *Random:
		return nil
	case loadTracking:
		return b.loadTracker()
	case Tracker:
		return b
	}
	return nil
}

// RoundRobin is Envoy's unweighted round-robin load balancer: the k-th pick
// of the cluster (counting from 0) returns k mod n. Envoy randomises the
// starting index; meshgym starts at 0 so runs are reproducible.
// envoy source/extensions/load_balancing_policies/round_robin.
type RoundRobin struct {
	n    uint64
	next atomic.Uint64
}

// NewRoundRobin returns a round-robin balancer over n endpoints (n ≥ 1).
func NewRoundRobin(n int) *RoundRobin {
	if n < 1 {
		panic(fmt.Sprintf("dataplane: NewRoundRobin(%d): need at least one endpoint", n))
	}
	return &RoundRobin{n: uint64(n)}
}

// Pick returns the next endpoint index in turn.
func (r *RoundRobin) Pick() int {
	return int((r.next.Add(1) - 1) % r.n)
}

// Random is Envoy's RANDOM load balancer: random() % n for each pick.
// envoy source/extensions/load_balancing_policies/random.
type Random struct {
	n    uint64
	rand func() uint64
}

// NewRandom returns a random balancer over n endpoints (n ≥ 1) drawing from
// rnd, which must be safe for concurrent use when the balancer is shared.
func NewRandom(n int, rnd func() uint64) *Random {
	if n < 1 {
		panic(fmt.Sprintf("dataplane: NewRandom(%d): need at least one endpoint", n))
	}
	return &Random{n: uint64(n), rand: rnd}
}

// Pick returns rand() mod n.
func (r *Random) Pick() int { return int(r.rand() % r.n) }

// LeastRequest is Envoy's LEAST_REQUEST load balancer for endpoints of
// equal weight, N_CHOICES selection (envoy
// source/extensions/load_balancing_policies/least_request/least_request_lb.cc
// unweightedHostPickNChoices): choice_count endpoints are drawn with
// replacement, each as random() % n, and the first drawn is kept unless a
// later one has strictly fewer active requests (so ties go to the first
// drawn). With choice_count 2 this is the power of two choices. A cluster
// (or subset) of one endpoint draws nothing.
//
// Active requests are the attempts in flight to the endpoint from every
// request of the cluster (Envoy's per-host rq_active), counted by
// [LeastRequest.Start] and [LeastRequest.End]. meshgym ends an attempt at
// its response headers; Envoy's rq_active also covers the response body.
type LeastRequest struct {
	choices int
	rand    func() uint64
	active  []atomic.Int64
}

// NewLeastRequest returns a least-request balancer over n endpoints
// (n ≥ 1) comparing choiceCount random draws (0 = [DefaultLBChoiceCount];
// otherwise at least 2, as Envoy's proto requires) from rnd, which must be
// safe for concurrent use.
func NewLeastRequest(n, choiceCount int, rnd func() uint64) *LeastRequest {
	if n < 1 {
		panic(fmt.Sprintf("dataplane: NewLeastRequest(%d): need at least one endpoint", n))
	}
	if choiceCount == 0 {
		choiceCount = DefaultLBChoiceCount
	}
	if choiceCount < 2 {
		panic(fmt.Sprintf("dataplane: NewLeastRequest: choice count %d; want 2 or more", choiceCount))
	}
	return &LeastRequest{choices: choiceCount, rand: rnd, active: make([]atomic.Int64, n)}
}

// Pick draws choice_count endpoints and returns the one with the fewest
// active requests (ties: the first drawn).
func (l *LeastRequest) Pick() int { return l.pickAmong(nil) }

func (l *LeastRequest) pickAmong(idx []int) int {
	m, pick, done := smallSubset(idx, len(l.active))
	if done {
		return pick
	}
	best := -1
	var bestActive int64
	for range l.choices {
		k := int(l.rand() % uint64(m))
		if idx != nil {
			k = idx[k]
		}
		if a := l.active[k].Load(); best < 0 || a < bestActive {
			best, bestActive = k, a
		}
	}
	return best
}

// Active returns the attempts in flight to endpoint i.
func (l *LeastRequest) Active(i int) int64 { return l.active[i].Load() }

// Start counts an attempt to endpoint i as active.
func (l *LeastRequest) Start(i int) { l.active[i].Add(1) }

// End counts the attempt to endpoint i as done; rtt is not used.
func (l *LeastRequest) End(i int, rtt time.Duration) { l.active[i].Add(-1) }

// EWMAConfig sets Linkerd's Peak-EWMA load estimator (linkerd2-proxy
// linkerd/proxy/balance EwmaConfig). A zero field takes Linkerd's default.
type EWMAConfig struct {
	// DefaultRTT is the estimate of an endpoint with no observation yet
	// (default 30 ms; a value below 1 ms is raised to 1 ms, as
	// linkerd2-proxy does).
	DefaultRTT time.Duration `json:"default_rtt,omitempty"`
	// Decay is the time constant τ of the exponential decay (default 10 s).
	Decay time.Duration `json:"decay,omitempty"`
}

// withDefaults returns c (nil = all defaults) with zero fields filled.
func (c *EWMAConfig) withDefaults() EWMAConfig {
	var out EWMAConfig
	if c != nil {
		out = *c
	}
	if out.DefaultRTT == 0 {
		out.DefaultRTT = DefaultEWMARTT
	}
	if out.DefaultRTT > 0 && out.DefaultRTT < minEWMADefaultRTT {
		out.DefaultRTT = minEWMADefaultRTT
	}
	if out.Decay == 0 {
		out.Decay = DefaultEWMADecay
	}
	return out
}

// PeakEWMA is Linkerd's load balancer: the power of two choices over a
// Peak-EWMA cost (linkerd2-proxy linkerd/pool/p2c/src/lib.rs
// p2c_ready_index and gen_pair; tower/src/load/peak_ewma.rs, itself from
// Finagle's PeakEwma).
//
// Pick draws two distinct endpoints a = random() % n and b = random() %
// (n−1), b shifted up by one when b ≥ a, and takes a unless b's cost is
// strictly lower (a cluster or subset of one endpoint draws nothing). The
// cost of an endpoint is estimate × (pending + 1), pending being its
// attempts in flight.
//
// The estimate (nanoseconds, a float as in tower) starts at DefaultRTT
// and changes as tower's RttEstimate does:
//
//   - when an attempt ends after rtt: if the estimate is below rtt it
//     becomes rtt at once (the peak); else it moves toward rtt,
//     estimate·d + rtt·(1−d) with d = e^(−Δ/τ), Δ the time since the
//     estimate was last updated;
//   - every cost reading (each endpoint drawn by a pick, and
//     [PeakEWMA.Cost]) first decays the estimate toward 0:
//     estimate·e^(−Δ/τ), and makes now its last update. So an idle
//     endpoint's estimate, default included, falls by e^(−1) per τ, and
//     a slow endpoint, once its peak is set, keeps being avoided until
//     decay and faster answers bring it down.
//
// rtt runs from the start of the attempt to its end (response headers,
// failure or timeout), on the sidecar's clock; in Linkerd it excludes
// connection set-up, here a new connection is included.
type PeakEWMA struct {
	rand       func() uint64
	clock      Clock
	defaultRTT float64 // ns
	decay      float64 // τ, ns

	mu  sync.Mutex
	eps []ewmaEndpoint
}

type ewmaEndpoint struct {
	estimate float64 // ns
	updateAt time.Time
	pending  int64
}

// NewPeakEWMA returns a Peak-EWMA balancer over n endpoints (n ≥ 1) with
// cfg (nil = Linkerd's defaults, 30 ms and 10 s), reading time from clk and
// drawing from rnd (safe for concurrent use). Every endpoint's estimate
// starts at the default RTT now.
func NewPeakEWMA(n int, cfg *EWMAConfig, clk Clock, rnd func() uint64) *PeakEWMA {
	if n < 1 {
		panic(fmt.Sprintf("dataplane: NewPeakEWMA(%d): need at least one endpoint", n))
	}
	c := cfg.withDefaults()
	if c.Decay < 0 || c.DefaultRTT < 0 {
		panic(fmt.Sprintf("dataplane: NewPeakEWMA: negative default RTT %v or decay %v", c.DefaultRTT, c.Decay))
	}
	p := &PeakEWMA{rand: rnd, clock: clk, defaultRTT: float64(c.DefaultRTT), decay: float64(c.Decay), eps: make([]ewmaEndpoint, n)}
	now := clk.Now()
	for i := range p.eps {
		p.eps[i] = ewmaEndpoint{estimate: p.defaultRTT, updateAt: now}
	}
	return p
}

// Pick compares two distinct random endpoints and returns the one with
// the lower cost (ties: the first drawn).
func (p *PeakEWMA) Pick() int { return p.pickAmong(nil) }

func (p *PeakEWMA) pickAmong(idx []int) int {
	m, pick, done := smallSubset(idx, len(p.eps))
	if done {
		return pick
	}
	a := int(p.rand() % uint64(m))
	b := int(p.rand() % uint64(m-1))
	if b >= a {
		b++
	}
	if idx != nil {
		a, b = idx[a], idx[b]
	}
	now := p.clock.Now()
	p.mu.Lock()
	ca, cb := p.cost(a, now), p.cost(b, now)
	p.mu.Unlock()
	if ca <= cb {
		return a
	}
	return b
}

// cost is tower's PeakEwma::load under p.mu: decay the estimate to now,
// then estimate × (pending + 1).
func (p *PeakEWMA) cost(i int, now time.Time) float64 {
	e := &p.eps[i]
	e.estimate *= p.decayFactor(e, now)
	e.updateAt = now
	return e.estimate * float64(e.pending+1)
}

// decayFactor is e^(−Δ/τ) for the time Δ since e's last update (0 when
// the clock went backwards).
func (p *PeakEWMA) decayFactor(e *ewmaEndpoint, now time.Time) float64 {
	elapsed := max(float64(now.Sub(e.updateAt)), 0)
	return math.Exp(-elapsed / p.decay)
}

// Cost returns endpoint i's cost now in nanoseconds (estimate × (pending
// + 1)); like a pick, reading it decays the estimate to now.
func (p *PeakEWMA) Cost(i int) float64 {
	now := p.clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cost(i, now)
}

// Estimate returns endpoint i's latency estimate as last updated (no
// decay applied) and its attempts in flight.
func (p *PeakEWMA) Estimate(i int) (time.Duration, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return time.Duration(p.eps[i].estimate), p.eps[i].pending
}

// Start counts an attempt to endpoint i as pending.
func (p *PeakEWMA) Start(i int) {
	p.mu.Lock()
	p.eps[i].pending++
	p.mu.Unlock()
}

// End records the attempt's rtt in endpoint i's estimate (peak, or decayed
// blend; see [PeakEWMA]) and counts it done.
func (p *PeakEWMA) End(i int, rtt time.Duration) {
	now := p.clock.Now()
	r := float64(max(rtt, 0))
	p.mu.Lock()
	e := &p.eps[i]
	e.pending--
	if e.estimate < r {
		e.estimate = r
	} else {
		d := p.decayFactor(e, now)
		e.estimate = e.estimate*d + r*(1-d)
	}
	e.updateAt = now
	p.mu.Unlock()
}

// lbSpec is what a cluster's balancer is built from, with defaults
// filled; a config push that keeps it (and the endpoints) keeps the
// balancer's state.
type lbSpec struct {
	policy  string
	choices int        // least_request
	ewma    EWMAConfig // peak_ewma
}

// specOf returns cl's balancer spec with defaults filled.
func specOf(cl Cluster) lbSpec {
	s := lbSpec{policy: cl.LBPolicy}
	switch cl.LBPolicy {
	case "":
		s.policy = LBRoundRobin
	case LBLeastRequest:
		s.choices = cl.LBChoiceCount
		if s.choices == 0 {
			s.choices = DefaultLBChoiceCount
		}
	case LBPeakEWMA:
		s.ewma = cl.EWMA.withDefaults()
	}
	return s
}

// NewLoadBalancer returns the balancer of cl over its endpoints: the
// policy named by cl.LBPolicy ("" or [LBRoundRobin], [LBRandom],
// [LBLeastRequest] with cl.LBChoiceCount, [LBPeakEWMA] with cl.EWMA),
// drawing from rnd and, for peak_ewma, reading time from clk. It returns
// an error for an unknown policy or a cluster without endpoints.
func NewLoadBalancer(cl Cluster, clk Clock, rnd func() uint64) (LoadBalancer, error) {
	return newBalancer(specOf(cl), len(cl.Endpoints), clk, rnd)
}

func newBalancer(s lbSpec, n int, clk Clock, rnd func() uint64) (LoadBalancer, error) {
	if n < 1 {
		return nil, fmt.Errorf("no endpoints to balance over")
	}
	switch s.policy {
	case LBRoundRobin:
		return NewRoundRobin(n), nil
	case LBRandom:
		return NewRandom(n, rnd), nil
	case LBLeastRequest:
		if s.choices < 2 || s.choices > MaxLBChoiceCount {
			return nil, fmt.Errorf("lb_choice_count is %d; want 0 (default %d) or 2-%d", s.choices, DefaultLBChoiceCount, MaxLBChoiceCount)
		}
		return NewLeastRequest(n, s.choices, rnd), nil
	case LBPeakEWMA:
		if s.ewma.DefaultRTT < 0 || s.ewma.Decay < 0 {
			return nil, fmt.Errorf("ewma default_rtt %v and decay %v must not be negative", s.ewma.DefaultRTT, s.ewma.Decay)
		}
		return NewPeakEWMA(n, &s.ewma, clk, rnd), nil
	default:
		return nil, fmt.Errorf("unknown lb_policy %q (want %s)", s.policy, lbPolicyList)
	}
}

// lbPolicyList names the accepted policies, for error messages.
var lbPolicyList = fmt.Sprintf("%q, %q, %q or %q", LBRoundRobin, LBRandom, LBLeastRequest, LBPeakEWMA)

// bindLoad gives every cluster of rc whose load-aware balancer has the
// same spec and the same endpoint addresses (in order) as in prev the
// balancer of prev, with its active counts and latency estimates, as
// Envoy keeps host stats and Linkerd its endpoint services across updates
// that do not touch them; route versions follow. Call it before
// bindOutlier and before rc is stored.
func bindLoad(rc, prev *runtimeConfig) {
	if prev == nil {
		return
	}
	for key, cr := range rc.clusters {
		pc := prev.clusters[key]
		if cr.load == nil || pc == nil || pc.load == nil || pc.spec != cr.spec || len(pc.endpoints) != len(cr.endpoints) {
			continue
		}
		same := true
		for i, e := range cr.endpoints {
			same = same && e.addr == pc.endpoints[i].addr
		}
		if !same {
			continue
		}
		cr.load, cr.lb = pc.load, pc.load
		if cr.pol != nil {
			for _, v := range cr.pol.versions {
				v.load = pc.load
			}
		}
	}
}

// smallSubset sizes the set a P2C balancer picks from — the subset idx,
// or all n endpoints when idx is nil — and settles the cases with no
// choice to make: none (-1) or one endpoint.
func smallSubset(idx []int, n int) (m, pick int, done bool) {
	m = len(idx)
	if idx == nil {
		m = n
	}
	switch {
	case m == 0:
		return 0, -1, true
	case m == 1 && idx == nil:
		return 1, 0, true
	case m == 1:
		return 1, idx[0], true
	}
	return m, 0, false
}
