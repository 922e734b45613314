package dataplane

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Cluster-wide retry limits: Envoy's retry circuit breaker (max_retries),
// Envoy's retry budget and Linkerd's retry budget. A [RetryState] consults
// its cluster's limiter in step 4 of Envoy's RetryStateImpl::shouldRetry
// order (shared/reference/mesh-semantics.md §1 "Order of the retry
// decision"): retriable? → retries remaining? (else URX) → decrement →
// circuit breaker or budget (else UO: no retry, the caller gets the
// original failed response) → back-off.

// Defaults of the retry budgets, used when the field is 0.
const (
	// DefaultBudgetPercent is Envoy's retry_budget.budget_percent (20 %),
	// circuit_breaker.proto RetryBudget.
	DefaultBudgetPercent = 20.0
	// DefaultMinRetryConcurrency is Envoy's retry_budget.min_retry_concurrency (3).
	DefaultMinRetryConcurrency = 3
	// DefaultRetryRatio is Linkerd's ServiceProfile retryBudget.retryRatio
	// (0.2), linkerd2 controller/api/destination/profile_translator.go.
	DefaultRetryRatio = 0.2
	// DefaultMinRetriesPerSecond is Linkerd's retryBudget.minRetriesPerSecond (10).
	DefaultMinRetriesPerSecond = 10
	// DefaultBudgetTTL is Linkerd's retryBudget.ttl (10 s).
	DefaultBudgetTTL = 10 * time.Second
)

// Retry budget kinds accepted in [RetryBudget].Kind.
const (
	BudgetEnvoy   = "envoy"
	BudgetLinkerd = "linkerd"
)

// Reasons of a retry overflow: the reason label of
// meshgym_upstream_retry_overflow_total and the Detail of retry_overflow
// events.
const (
	// OverflowMaxRetries: the cluster's max_retries circuit breaker was full.
	OverflowMaxRetries = "max_retries"
	// OverflowBudget: the cluster's retry budget (either kind) was spent.
	OverflowBudget = "budget"
)

type limiterKind uint8

const (
	limitMaxRetries limiterKind = iota
	limitEnvoyBudget
	limitLinkerdBudget
)

// retryLimiter is a cluster's retry circuit breaker or retry budget. One
// limiter is shared by every request of the cluster (in this sidecar; as in
// Envoy, sidecars do not coordinate) and is safe for concurrent use.
type retryLimiter struct {
	kind   limiterKind
	reason string // OverflowMaxRetries or OverflowBudget

	// retries is Envoy's retries() resource: retries in flight, i.e.
	// requests that were granted a retry and have not yet had that retry's
	// outcome decided, back-off included (RetryStateImpl: inc when the
	// retry is scheduled, dec in resetRetry at the request's next
	// shouldRetry or when it ends). Not used by the Linkerd budget.
	retries atomic.Int64
	// maxRetries is the circuit breaker's max_retries (limitMaxRetries).
	maxRetries int64

	// active counts the cluster's upstream attempts in flight, Envoy's
	// rq_active (limitEnvoyBudget only; see activeCountingCall).
	active atomic.Int64
	// budgetPercent and minConcurrency parametrise the Envoy budget.
	budgetPercent  float64
	minConcurrency int64

	// tps is the Linkerd budget (limitLinkerdBudget).
	tps *tpsBudget
}

// newRetryLimiter compiles the cluster's retry limit: the budget when one
// is set (it overrides max_retries, as in Envoy's ResourceManagerImpl), else
// the max_retries circuit breaker when MaxRetries > 0, else nil (no limit).
// A Linkerd budget gets its clocked state from attachPolicies.
func newRetryLimiter(cl Cluster) *retryLimiter {
	if b := cl.RetryBudget; b != nil {
		if b.Kind == BudgetLinkerd {
			return &retryLimiter{kind: limitLinkerdBudget, reason: OverflowBudget}
		}
		// BudgetEnvoy (Validate rejects other kinds).
		pct, minC := b.BudgetPercent, int64(b.MinRetryConcurrency)
		if pct == 0 {
			pct = DefaultBudgetPercent
		}
		if minC == 0 {
			minC = DefaultMinRetryConcurrency
		}
		return &retryLimiter{kind: limitEnvoyBudget, reason: OverflowBudget, budgetPercent: pct, minConcurrency: minC}
	}
	if cl.MaxRetries > 0 {
		return &retryLimiter{kind: limitMaxRetries, reason: OverflowMaxRetries, maxRetries: int64(cl.MaxRetries)}
	}
	return nil
}

// linkerdBudgetParams returns the ratio, minimum rate and TTL of a Linkerd
// budget with Linkerd's defaults for the fields left 0, in the types of
// the ServiceProfile proto (float32 retry_ratio, uint32
// min_retries_per_second).
func linkerdBudgetParams(b RetryBudget) (float32, uint32, time.Duration) {
	ratio, minRPS, ttl := b.RetryRatio, b.MinRetriesPerSecond, b.TTL
	if ratio == 0 {
		ratio = DefaultRetryRatio
	}
	if minRPS == 0 {
		minRPS = DefaultMinRetriesPerSecond
	}
	if ttl == 0 {
		ttl = DefaultBudgetTTL
	}
	return float32(ratio), uint32(minRPS), ttl
}

// EnvoyRetryBudgetMax is the concurrent-retry limit of Envoy's retry
// budget with active requests in flight: max(minConcurrency,
// ⌊budgetPercent/100 × active⌋). Envoy source/common/upstream/
// resource_manager_impl.h RetryBudgetImpl::max (the uint64 conversion
// truncates); active is rq_active + rq_pending there, attempts in flight
// here (meshgym has no pending queue).
func EnvoyRetryBudgetMax(active int64, budgetPercent float64, minConcurrency int64) int64 {
	if active < 0 {
		active = 0
	}
	return max(int64(budgetPercent/100*float64(active)), minConcurrency)
}

// holdsSlot reports whether a granted retry holds a concurrency slot until
// its outcome is decided (Envoy's kinds); Linkerd's budget is a balance.
func (l *retryLimiter) holdsSlot() bool { return l.kind != limitLinkerdBudget }

// tryAcquire grants one retry or refuses it (overflow). Envoy's check is
// retries().canCreate() = count < max, then retries().inc(); here both in
// one compare-and-swap so the cap is never exceeded.
func (l *retryLimiter) tryAcquire() bool {
	switch l.kind {
	case limitLinkerdBudget:
		return l.tps == nil || l.tps.withdraw() // tps is set before the config is published
	case limitEnvoyBudget:
		// The attempt being decided is still active (Envoy decides on its
		// response headers before resetting the upstream request).
		limit := EnvoyRetryBudgetMax(l.active.Load()+1, l.budgetPercent, l.minConcurrency)
		return casBelow(&l.retries, limit)
	default:
		return casBelow(&l.retries, l.maxRetries)
	}
}

// casBelow increments n if it is below limit.
func casBelow(n *atomic.Int64, limit int64) bool {
	for {
		c := n.Load()
		if c >= limit {
			return false
		}
		if n.CompareAndSwap(c, c+1) {
			return true
		}
	}
}

// Per-request side, called from RetryState.ShouldRetry.

// releaseRetry gives back the concurrency slot of the request's previous
// retry, whose outcome is now known (Envoy RetryStateImpl::resetRetry, run
// at the start of every shouldRetry and when the request ends).
func (s *RetryState) releaseRetry() {
	if s.holding {
		s.limit.retries.Add(-1)
		s.holding = false
	}
}

// acquireRetry asks the cluster's limiter for one retry (step 4).
func (s *RetryState) acquireRetry() bool {
	if !s.limit.tryAcquire() {
		return false
	}
	s.holding = s.limit.holdsSlot()
	return true
}

// noteNotRetriable tells the limiter that an attempt ended with an outcome
// that is not retried: Linkerd deposits into its budget then
// (linkerd2-proxy linkerd/app/outbound/src/http/retry.rs: "if !retryable {
// self.budget.deposit() }").
func (s *RetryState) noteNotRetriable() {
	if s.limit.kind == limitLinkerdBudget && s.limit.tps != nil {
		s.limit.tps.deposit()
	}
}

// endRetries releases what the request still holds when it ends (Envoy's
// RetryStateImpl destructor).
func (s *RetryState) endRetries() {
	if s.limit != nil {
		s.releaseRetry()
	}
}

// activeCountingCall counts the attempts in flight of a cluster with an
// Envoy retry budget (Envoy's rq_active, the budget's denominator).
type activeCountingCall struct {
	*outboundCall
	active *atomic.Int64
}

func (c *activeCountingCall) attempt(ctx context.Context, ep, n int) Outcome {
	c.active.Add(1)
	o := c.outboundCall.attempt(ctx, ep, n)
	c.active.Add(-1)
	return o
}

// tpsBudget is Linkerd's retry budget: tower's TpsBudget (tower 0.5
// tower/src/retry/budget/tps_budget.rs, used by linkerd2-proxy for
// ServiceProfile retryBudget via linkerd/service-profiles/src/proto.rs
// convert_retry_budget), ported onto the injected clock.
//
// With ratio r (float32, as the proto field):
//
//	r == 0:   deposit 0,    withdraw 1
//	r ≤ 1:    deposit 1,    withdraw w = ⌊1/r⌋
//	r > 1:    deposit 1000, withdraw w = ⌊1000/r⌋
//	reserve = minRetriesPerSecond × ⌊TTL in s⌋ × w
//
// Every attempt whose outcome is not retriable (a success, or a failure
// retry_on does not cover) deposits d, as linkerd2-proxy's RetryPolicy
// deposits when "!retryable"; a retriable outcome deposits nothing (also
// when it ends as URX, overflow or route timeout). Every retry withdraws
// w and is allowed only while reserve + deposits − withdrawals over the
// window ≥ w. The window is TTL split into 10 slots of TTL/10;
// slots expire lazily on each call, measured from the last expiry. So over
// any TTL, retries ≤ minRetriesPerSecond × ⌊TTL⌋ + ⌊deposits × d / w⌋,
// i.e. ≈ ratio × (requests not retried) + min × TTL, with the ratio
// rounded to 1/⌊1/r⌋ (0.3 → 1/3, 0.6 → 1).
type tpsBudget struct {
	clock                      Clock
	reserve, depositAmt, wdAmt int64
	window                     time.Duration

	mu     sync.Mutex
	slots  [tpsSlots]int64
	writer int64
	index  int
	gen    time.Time
}

const tpsSlots = 10

func newTPSBudget(ttl time.Duration, minPerSec uint32, ratio float32, clk Clock) *tpsBudget {
	var dep, wd int64
	switch {
	case ratio == 0:
		dep, wd = 0, 1
	case ratio <= 1:
		dep, wd = 1, f32ToInt(float32(1)/ratio)
	default:
		dep, wd = 1000, f32ToInt(float32(1000)/ratio)
	}
	return &tpsBudget{
		clock:      clk,
		reserve:    int64(minPerSec) * int64(ttl/time.Second) * wd,
		depositAmt: dep,
		wdAmt:      wd,
		window:     ttl / tpsSlots,
		gen:        clk.Now(),
	}
}

// f32ToInt is Rust's `f32 as isize`: truncation, saturating.
func f32ToInt(v float32) int64 {
	switch {
	case v != v:
		return 0
	case v >= math.MaxInt64:
		return math.MaxInt64
	}
	return int64(v)
}

// expire commits the current slot and clears the slots that aged out
// (TpsBucket::expire); b.mu is held.
func (b *tpsBudget) expire() {
	now := b.clock.Now()
	diff := now.Sub(b.gen)
	if diff < b.window {
		return
	}
	b.slots[b.index] = b.writer
	b.writer = 0
	idx := (b.index + 1) % tpsSlots
	// tower loops "while diff > window { clear slot; diff -= window }";
	// after tpsSlots iterations every slot is clear, so count the rest.
	steps := int64((diff - 1) / b.window) // iterations of tower's loop
	for i := int64(0); i < min(steps, tpsSlots); i++ {
		b.slots[(idx+int(i))%tpsSlots] = 0
	}
	b.index = (idx + int(steps%tpsSlots)) % tpsSlots
	b.gen = now
}

func (b *tpsBudget) sum() int64 {
	s := b.writer + b.reserve
	for _, v := range b.slots {
		s += v
	}
	return s
}

// deposit credits one outcome that was not retried.
func (b *tpsBudget) deposit() {
	b.mu.Lock()
	b.expire()
	b.writer += b.depositAmt
	b.mu.Unlock()
}

// withdraw takes one retry from the budget if the balance allows it.
func (b *tpsBudget) withdraw() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expire()
	if b.sum() >= b.wdAmt {
		b.writer -= b.wdAmt
		return true
	}
	return false
}

// balance is the current balance in withdraw units (tests).
func (b *tpsBudget) balance() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expire()
	return b.sum()
}
