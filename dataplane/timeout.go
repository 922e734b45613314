package dataplane

import (
	"context"
	"sync/atomic"
	"time"
)

// Route timeout (Cluster.Timeout), Envoy's RouteAction.timeout as
// router.cc implements it:
//
//   - the timer starts when the router has the whole downstream request
//     (Filter::onRequestComplete), i.e. after the fault filter's delay,
//     and covers every attempt, every back-off and the per-try timeouts;
//   - when it fires, the attempt in flight is reset, no further retry is
//     made and the caller gets 504 "upstream request timeout" (flag UT,
//     counter upstream_rq_timeout, here meshgym_route_timeouts_total);
//   - a per_try_timeout ≥ the route timeout is ignored
//     (FilterUtility::finalTimeout: "If it's >= global we just ignore it"),
//     so per-try < route is the only composition that has an effect.
//
// meshgym bounds the exchange until the response headers; a response body
// still streaming when the timer fires is not cut (Envoy resets it).

// effectivePerTry applies Envoy's rule that a per-try timeout ≥ the route
// timeout is ignored: it returns p, or a copy of p without per-try timeout.
func effectivePerTry(p *CompiledRetryPolicy, route time.Duration) *CompiledRetryPolicy {
	if p == nil || route <= 0 || p.PerTryTimeout < route {
		return p
	}
	q := *p
	q.PerTryTimeout = 0
	return &q
}

// runWithTimeout runs the router under route timeout d on clk (d ≤ 0: no
// timeout). It reports timedOut when the timeout ended the request: then
// the result's outcome is FailureCanceled and the caller answers 504.
func runWithTimeout(ctx context.Context, clk Clock, d time.Duration, lb LoadBalancer, rs *RetryState, h attemptHandler) (res routeResult, timedOut bool) {
	if d <= 0 {
		return runRouter(ctx, clk, lb, rs, h), false
	}
	tctx, cancel := context.WithCancel(ctx)
	var fired atomic.Bool
	t := clk.AfterFunc(d, func() { fired.Store(true); cancel() })
	res = runRouter(tctx, clk, lb, rs, h)
	t.Stop()
	// The response headers are in (or the request is over): cancelling
	// now no longer touches the upstream connection.
	cancel()
	return res, fired.Load() && res.Outcome.Failure == FailureCanceled
}
