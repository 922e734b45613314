package dataplane

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// RetryOn is a set of Envoy retry_on conditions (a bit set).
// envoy docs/root/configuration/http/http_filters/router_filter.rst
// (x-envoy-retry-on) and source/common/router/retry_state_impl.cc.
type RetryOn uint32

// The retry_on conditions meshgym implements.
const (
	// RetryOn5xx ("5xx"): any 5xx response, or no response at all
	// (connect failure, reset, per-try timeout).
	RetryOn5xx RetryOn = 1 << iota
	// RetryOnGatewayError ("gateway-error"): 502, 503 or 504, or no
	// response (Envoy retries every reset under gateway-error too).
	RetryOnGatewayError
	// RetryOnReset ("reset"): no response (disconnect, reset, per-try timeout).
	RetryOnReset
	// RetryOnConnectFailure ("connect-failure"): the TCP connect failed.
	RetryOnConnectFailure
	// RetryOnRetriable4xx ("retriable-4xx"): only 409.
	RetryOnRetriable4xx
	// RetryOnRetriableStatusCodes ("retriable-status-codes"): the codes in
	// RetryPolicy.RetriableStatusCodes.
	RetryOnRetriableStatusCodes
)

var retryOnTokens = map[string]RetryOn{
	"5xx":                    RetryOn5xx,
	"gateway-error":          RetryOnGatewayError,
	"reset":                  RetryOnReset,
	"connect-failure":        RetryOnConnectFailure,
	"retriable-4xx":          RetryOnRetriable4xx,
	"retriable-status-codes": RetryOnRetriableStatusCodes,
}

// ParseRetryOn parses Envoy retry_on tokens ("5xx", "gateway-error",
// "reset", "connect-failure", "retriable-4xx", "retriable-status-codes");
// a token may also hold several comma-separated conditions as in Envoy's
// x-envoy-retry-on header.
func ParseRetryOn(tokens []string) (RetryOn, error) {
	var on RetryOn
	for _, t := range tokens {
		for _, part := range strings.Split(t, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			bit, ok := retryOnTokens[part]
			if !ok {
				return 0, fmt.Errorf("unknown retry_on %q (want 5xx, gateway-error, reset, connect-failure, retriable-4xx or retriable-status-codes)", part)
			}
			on |= bit
		}
	}
	return on, nil
}

// Failure says why an attempt got no response.
type Failure uint8

// The ways an attempt can end without a response.
const (
	// FailureNone: the attempt got response headers.
	FailureNone Failure = iota
	// FailureConnect: the TCP connect failed (Envoy reset reason
	// ConnectionFailure).
	FailureConnect
	// FailureReset: the connection was closed or reset before response
	// headers (Envoy reset reasons ConnectionTermination/RemoteReset).
	FailureReset
	// FailurePerTryTimeout: the per-try timeout fired before response
	// headers; Envoy resets the stream (LocalReset) and counts a 504.
	FailurePerTryTimeout
	// FailureCanceled: the downstream client went away; never retried.
	FailureCanceled
	// FailureNoHealthyUpstream: no attempt was made because the load
	// balancer had no endpoint (all ejected, panic mode off); the caller
	// gets 503 "no healthy upstream" (Envoy flag UH); never retried.
	FailureNoHealthyUpstream
)

// String returns the failure's label value, as used in the reason label of
// meshgym_upstream_retries_total.
func (f Failure) String() string {
	switch f {
	case FailureNone:
		return "status_code"
	case FailureConnect:
		return "connect_failure"
	case FailureReset:
		return "reset"
	case FailurePerTryTimeout:
		return "per_try_timeout"
	case FailureCanceled:
		return "canceled"
	case FailureNoHealthyUpstream:
		return "no_healthy_upstream"
	}
	return "unknown"
}

// Outcome is what one attempt produced, as the retry state sees it.
type Outcome struct {
	// StatusCode is the response status, 0 when there was no response.
	StatusCode int
	// Failure says why there was no response (FailureNone when there was).
	Failure Failure
	// Overloaded is true when the response carried x-envoy-overloaded;
	// such a response is never retried (retry_state_impl.cc).
	Overloaded bool
}

// Decision is the result of [RetryState.ShouldRetry].
type Decision uint8

// The answers of Envoy's RetryStateImpl::shouldRetry.
const (
	// NoRetry: the outcome is not retriable (success, non-matching status);
	// the client gets it.
	NoRetry Decision = iota
	// Retry: wait the returned back-off, then send the next attempt.
	Retry
	// RetryLimitExceeded: the outcome is retriable but no retry is left
	// (response flag URX, counter upstream_rq_retry_limit_exceeded); the
	// client gets the last outcome.
	RetryLimitExceeded
	// RetryOverflow: the outcome is retriable and a retry was left (and
	// used up), but the cluster's retry circuit breaker (max_retries) or
	// retry budget is full: no retry (response flag UO, counter
	// upstream_rq_retry_overflow); the client gets the last outcome.
	// See budget.go.
	RetryOverflow
)

// String names the decision.
func (d Decision) String() string {
	switch d {
	case NoRetry:
		return "no_retry"
	case Retry:
		return "retry"
	case RetryLimitExceeded:
		return "retry_limit_exceeded"
	case RetryOverflow:
		return "retry_overflow"
	}
	return "unknown"
}

// Envoy's defaults for route retry policies (router_filter.rst, backoff.proto).
const (
	// DefaultBackoffBase is Envoy's base retry back-off interval
	// (runtime key upstream.base_retry_backoff_ms): 25 ms.
	DefaultBackoffBase = 25 * time.Millisecond
	// DefaultBackoffMaxFactor: the maximum back-off defaults to 10× base.
	DefaultBackoffMaxFactor = 10
	// DefaultHostSelectionMaxAttempts is the default of
	// host_selection_retry_max_attempts used by meshgym: re-pick once.
	DefaultHostSelectionMaxAttempts = 1
)

// CompiledRetryPolicy is a validated [RetryPolicy] in the form the hot path
// uses. A nil *CompiledRetryPolicy means "no retry policy": nothing is
// retried and no retry counter moves, as in Envoy without retry_policy.
type CompiledRetryPolicy struct {
	// On is the retry_on set.
	On RetryOn
	// NumRetries is the retry limit (retries after the first attempt).
	NumRetries int
	// StatusCodes are the retriable_status_codes.
	StatusCodes []int
	// PerTryTimeout bounds each attempt until response headers; 0 = none.
	PerTryTimeout time.Duration
	// BackoffBase and BackoffMax are Envoy's base and max intervals, whole
	// milliseconds as Envoy computes them.
	BackoffBase, BackoffMax time.Duration
	// PreviousHosts enables the previous_hosts retry host predicate.
	PreviousHosts bool
	// HostSelectionMaxAttempts is host_selection_retry_max_attempts: how
	// many times a pick that lands on an already-tried host is redone.
	HostSelectionMaxAttempts int
}

// Compile validates p and fills Envoy's defaults (back-off base 25 ms, max
// 10× base, host_selection_retry_max_attempts 1). A nil p compiles to nil.
func (p *RetryPolicy) Compile() (*CompiledRetryPolicy, error) {
	if p == nil {
		return nil, nil
	}
	on, err := ParseRetryOn(p.RetryOn)
	if err != nil {
		return nil, err
	}
	c := &CompiledRetryPolicy{
		On:                       on,
		NumRetries:               p.NumRetries,
		StatusCodes:              append([]int(nil), p.RetriableStatusCodes...),
		PerTryTimeout:            p.PerTryTimeout,
		BackoffBase:              p.BackoffBase,
		BackoffMax:               p.BackoffMax,
		PreviousHosts:            p.PreviousHosts,
		HostSelectionMaxAttempts: p.HostSelectionMaxAttempts,
	}
	switch {
	case p.NumRetries < 0:
		return nil, fmt.Errorf("retry.num_retries is %d; want 0 or more", p.NumRetries)
	case p.NumRetries > 100:
		return nil, fmt.Errorf("retry.num_retries is %d; want at most 100", p.NumRetries)
	case p.PerTryTimeout < 0:
		return nil, fmt.Errorf("retry.per_try_timeout is %v; want 0 (none) or more", p.PerTryTimeout)
	case p.BackoffBase < 0 || p.BackoffMax < 0:
		return nil, fmt.Errorf("retry back-off must not be negative (base %v, max %v)", p.BackoffBase, p.BackoffMax)
	case p.BackoffBase > 0 && p.BackoffBase < time.Millisecond:
		return nil, fmt.Errorf("retry.backoff_base is %v; Envoy needs at least 1ms", p.BackoffBase)
	case p.HostSelectionMaxAttempts < 0:
		return nil, fmt.Errorf("retry.host_selection_retry_max_attempts is %d; want 0 or more", p.HostSelectionMaxAttempts)
	}
	for _, code := range p.RetriableStatusCodes {
		if code < 100 || code > 599 {
			return nil, fmt.Errorf("retry.retriable_status_codes has %d; want HTTP codes 100-599", code)
		}
	}
	if on&RetryOnRetriableStatusCodes != 0 && len(p.RetriableStatusCodes) == 0 {
		return nil, fmt.Errorf("retry_on has retriable-status-codes but retriable_status_codes is empty")
	}
	if c.BackoffBase == 0 {
		c.BackoffBase = DefaultBackoffBase
	}
	c.BackoffBase = c.BackoffBase.Truncate(time.Millisecond)
	if c.BackoffMax == 0 {
		c.BackoffMax = DefaultBackoffMaxFactor * c.BackoffBase
	}
	c.BackoffMax = c.BackoffMax.Truncate(time.Millisecond)
	if c.BackoffMax < c.BackoffBase {
		return nil, fmt.Errorf("retry.backoff_max %v is below backoff_base %v", c.BackoffMax, c.BackoffBase)
	}
	if c.HostSelectionMaxAttempts == 0 {
		c.HostSelectionMaxAttempts = DefaultHostSelectionMaxAttempts
	}
	return c, nil
}

// Retriable reports whether o matches the policy's retry_on, before any
// limit is considered: Envoy's wouldRetryFromHeaders / wouldRetryFromReset
// (retry_state_impl.cc). Resets (connect failure, reset, per-try timeout)
// are retried under reset, 5xx and gateway-error; connect-failure matches
// only a failed connect; a response with x-envoy-overloaded never matches.
func (c *CompiledRetryPolicy) Retriable(o Outcome) bool {
	if c == nil {
		return false
	}
	switch o.Failure {
	case FailureNone:
		if o.Overloaded {
			return false
		}
		code := o.StatusCode
		if c.On&RetryOn5xx != 0 && code >= 500 && code <= 599 {
			return true
		}
		if c.On&RetryOnGatewayError != 0 && (code == 502 || code == 503 || code == 504) {
			return true
		}
		if c.On&RetryOnRetriable4xx != 0 && code == 409 {
			return true
		}
		if c.On&RetryOnRetriableStatusCodes != 0 {
			for _, s := range c.StatusCodes {
				if s == code {
					return true
				}
			}
		}
		return false
	case FailureConnect:
		return c.On&(RetryOn5xx|RetryOnGatewayError|RetryOnReset|RetryOnConnectFailure) != 0
	case FailureReset, FailurePerTryTimeout:
		return c.On&(RetryOn5xx|RetryOnGatewayError|RetryOnReset) != 0
	}
	return false
}

// Backoff is Envoy's JitteredExponentialBackOffStrategy as its current code
// computes it (source/common/common/backoff_strategy.cc): next starts at
// the base interval; each call returns random() % next milliseconds, then
// next doubles, capped at max. With the defaults (25 ms, 250 ms) the waits
// are uniform on [0,25), [0,50), [0,100), [0,200), [0,250), [0,250) … ms.
// (Envoy's docs still describe the older [0, (2^N−1)·base) algorithm.)
type Backoff struct {
	nextMs, maxMs uint64
	rand          func() uint64
}

// NewBackoff returns a back-off over base and max (whole milliseconds, as
// Envoy; base ≥ 1 ms) drawing from rnd.
func NewBackoff(base, max time.Duration, rnd func() uint64) Backoff {
	b := uint64(base / time.Millisecond)
	if b == 0 {
		b = 1
	}
	m := uint64(max / time.Millisecond)
	if m < b {
		m = b
	}
	return Backoff{nextMs: b, maxMs: m, rand: rnd}
}

// Next returns the next wait and advances the interval.
func (b *Backoff) Next() time.Duration {
	backoff := b.nextMs
	if b.nextMs > b.maxMs/2 {
		b.nextMs = b.maxMs
	} else {
		b.nextMs *= 2
	}
	return time.Duration(min(b.rand()%backoff, b.maxMs)) * time.Millisecond
}

// RetryState is Envoy's per-request RetryStateImpl: the retries left, the
// back-off and the hosts already attempted. The zero value (or one started
// from a nil policy) never retries. It is not safe for concurrent use; each
// request has its own.
type RetryState struct {
	policy    *CompiledRetryPolicy
	remaining int
	backoff   Backoff
	tried     uint64 // endpoint indexes < 64 already attempted
	triedMore map[int]struct{}
	// limit is the cluster's retry circuit breaker or budget (nil = none)
	// and holding whether this request holds one of its retry slots
	// (budget.go).
	limit   *retryLimiter
	holding bool
}

// Start returns the retry state of a new request under c (c may be nil).
func (c *CompiledRetryPolicy) Start(rnd func() uint64) RetryState {
	if c == nil {
		return RetryState{}
	}
	return RetryState{policy: c, remaining: c.NumRetries, backoff: NewBackoff(c.BackoffBase, c.BackoffMax, rnd)}
}

// Remaining is the number of retries left.
func (s *RetryState) Remaining() int { return s.remaining }

// ShouldRetry decides after an attempt, in the order of Envoy's
// RetryStateImpl::shouldRetry: the slot of the previous retry is released;
// not retriable → NoRetry; retriable with no retry left →
// RetryLimitExceeded (URX); else one retry is used; then the cluster's
// retry limit, if any, may refuse it → RetryOverflow (UO); else the
// back-off to wait before the retry is returned.
func (s *RetryState) ShouldRetry(o Outcome) (Decision, time.Duration) {
	if s.limit != nil {
		s.releaseRetry()
	}
	if !s.policy.Retriable(o) {
		if s.limit != nil {
			s.noteNotRetriable()
		}
		return NoRetry, 0
	}
	if s.remaining <= 0 {
		return RetryLimitExceeded, 0
	}
	s.remaining--
	if s.limit != nil && !s.acquireRetry() {
		return RetryOverflow, 0
	}
	return Retry, s.backoff.Next()
}

// PickHost chooses the endpoint of the next attempt through lb. With the
// previous_hosts predicate, a pick that lands on an endpoint already
// attempted by this request is redone through the balancer (consuming its
// picks, as Envoy's LoadBalancerBase::chooseHost does) at most
// HostSelectionMaxAttempts times; then the last pick is used (a discarded
// pick is handed back to a balancer that holds state for it: Linkerd's
// probation slot, outlier.go). The chosen endpoint is recorded as
// attempted.
func (s *RetryState) PickHost(lb LoadBalancer) int {
	h := lb.Pick()
	if s.policy != nil && s.policy.PreviousHosts {
		for i := 0; i < s.policy.HostSelectionMaxAttempts && s.attempted(h); i++ {
			if r, ok := lb.(pickReleaser); ok && h >= 0 {
				r.releasePick(h)
			}
			h = lb.Pick()
		}
	}
	s.markAttempted(h)
	return h
}

// pickReleaser is a balancer that reserves something when it returns a
// pick (the outlier detector's Linkerd probation slot): releasePick undoes
// pick i when no attempt will be made on it.
type pickReleaser interface {
	releasePick(i int)
}

func (s *RetryState) attempted(h int) bool {
	if h < 64 {
		return s.tried&(1<<uint(h)) != 0
	}
	_, ok := s.triedMore[h]
	return ok
}

func (s *RetryState) markAttempted(h int) {
	if h < 64 {
		s.tried |= 1 << uint(h)
		return
	}
	if s.triedMore == nil {
		s.triedMore = make(map[int]struct{})
	}
	s.triedMore[h] = struct{}{}
}

// attemptHandler is the proxy side of the router loop: it sends attempts and
// hears about retries. Tests implement it with scripted outcomes.
type attemptHandler interface {
	// attempt sends attempt n (1-based) to endpoint ep; ctx is cancelled
	// when the per-try timeout fires.
	attempt(ctx context.Context, ep, n int) Outcome
	// retrying is called when attempt n's outcome o will be retried after
	// backoff; the handler discards that attempt's response.
	retrying(ep, n int, o Outcome, backoff time.Duration)
}

// routeResult is what runRouter returns.
type routeResult struct {
	// Outcome of the last attempt (the one the client gets).
	Outcome Outcome
	// Endpoint and Attempts of the last attempt.
	Endpoint, Attempts int
	// Decision on the last attempt (NoRetry, RetryLimitExceeded or
	// RetryOverflow), or NoRetry with Outcome.Failure == FailureCanceled
	// when ctx ended.
	Decision Decision
	// cancel releases the last attempt's context after its body is read.
	cancel context.CancelFunc
	// replied: the policy layer answered the caller itself (fault abort,
	// route timeout; policy.go).
	replied bool
}

// runRouter is the router's retry loop (router.cc): pick a host, send,
// decide, back off, repeat. The per-try timeout runs on clk from the start
// of each attempt until the attempt returns (response headers). A
// load-aware balancer ([Tracker]) hears of each attempt's start and end,
// with its duration on clk; round-robin and random take no clock reading.
func runRouter(ctx context.Context, clk Clock, lb LoadBalancer, rs *RetryState, h attemptHandler) routeResult {
	var perTry time.Duration
	if rs.policy != nil {
		perTry = rs.policy.PerTryTimeout
	}
	tr := trackerOf(lb)
	for n := 1; ; n++ {
		ep := rs.PickHost(lb)
		var sent time.Time
		if tr != nil && ep >= 0 {
			tr.Start(ep)
			sent = clk.Now()
		}
		actx, cancel := ctx, context.CancelFunc(nil)
		var o Outcome
		if perTry > 0 {
			var fired atomic.Bool
			actx, cancel = context.WithCancel(ctx)
			t := clk.AfterFunc(perTry, func() { fired.Store(true); cancel() })
			o = h.attempt(actx, ep, n)
			t.Stop()
			if o.Failure != FailureNone && fired.Load() {
				o = Outcome{Failure: FailurePerTryTimeout}
			}
		} else {
			o = h.attempt(actx, ep, n)
		}
		if tr != nil && ep >= 0 {
			tr.End(ep, clk.Now().Sub(sent))
		}
		if o.Failure == FailureCanceled || (o.Failure != FailureNone && ctx.Err() != nil) {
			if cancel != nil {
				cancel()
			}
			return routeResult{Outcome: Outcome{Failure: FailureCanceled}, Endpoint: ep, Attempts: n}
		}
		d, backoff := rs.ShouldRetry(o)
		if d != Retry {
			return routeResult{Outcome: o, Endpoint: ep, Attempts: n, Decision: d, cancel: cancel}
		}
		h.retrying(ep, n, o, backoff)
		if cancel != nil {
			cancel()
		}
		if backoff > 0 {
			t := clk.NewTimer(backoff)
			select {
			case <-t.C():
			case <-ctx.Done():
				t.Stop()
				return routeResult{Outcome: Outcome{Failure: FailureCanceled}, Endpoint: ep, Attempts: n}
			}
		}
		if ctx.Err() != nil {
			// The back-off timer and ctx ended together (route timeout):
			// no retry starts after ctx ended.
			return routeResult{Outcome: Outcome{Failure: FailureCanceled}, Endpoint: ep, Attempts: n}
		}
	}
}
