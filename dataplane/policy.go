package dataplane

import (
	"context"
	"maps"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"meshgym/tracing/tracelite"
)

// This file wires the policies of config_policies.go (routes, route
// timeout, fault injection, retry limits, inbound rate limit) into the
// listeners. A cluster without any of them has a nil clusterPolicy and
// takes the unchanged hot path; see routes.go, timeout.go, fault.go,
// budget.go and ratelimit.go for each rule and its mesh source.

// Prometheus names of the policy metrics (OTel instrument names without
// the _total suffix).
const (
	// MetricRouteTimeouts counts requests ended by the route timeout (504,
	// flag UT; Envoy upstream_rq_timeout). Label cluster. Per-try timeouts
	// are in meshgym_upstream_retries_total{reason="per_try_timeout"}.
	MetricRouteTimeouts = "meshgym_route_timeouts_total"
	// MetricRateLimited counts requests the inbound local rate limit
	// answered itself (Envoy local_ratelimit rate_limited). Label name.
	MetricRateLimited = "meshgym_ratelimited_total"
	// MetricFaults counts injected faults, labels cluster and kind
	// ("delay" or "abort"); a request delayed then aborted counts in both.
	MetricFaults = "meshgym_faults_total"
	// MetricUpstreamRetryOverflow counts retriable outcomes not retried
	// because the cluster's retry limit was full (flag UO; Envoy
	// upstream_rq_retry_overflow), labels cluster and reason
	// ("max_retries" or "budget").
	MetricUpstreamRetryOverflow = "meshgym_upstream_retry_overflow_total"
)

// policyInstruments are the OTel instruments of the policies.
type policyInstruments struct {
	routeTimeouts   metric.Int64Counter
	rateLimited     metric.Int64Counter
	faults          metric.Int64Counter
	retryOverflow   metric.Int64Counter
	rateLimitedOpts []metric.AddOption
}

func newPolicyInstruments(m metric.Meter, name string) (*policyInstruments, error) {
	p := &policyInstruments{}
	var err error
	if p.routeTimeouts, err = m.Int64Counter("meshgym.route.timeouts",
		metric.WithDescription("Requests ended by the route timeout with 504 (Envoy upstream_rq_timeout, flag UT).")); err != nil {
		return nil, err
	}
	if p.rateLimited, err = m.Int64Counter("meshgym.ratelimited",
		metric.WithDescription("Requests answered by the inbound local rate limit (Envoy local_ratelimit rate_limited, flag RL).")); err != nil {
		return nil, err
	}
	if p.faults, err = m.Int64Counter("meshgym.faults",
		metric.WithDescription("Faults injected on the outbound path, by kind (delay, abort).")); err != nil {
		return nil, err
	}
	if p.retryOverflow, err = m.Int64Counter("meshgym.upstream.retry_overflow",
		metric.WithDescription("Retries not made because the cluster's max_retries or retry budget was full (Envoy upstream_rq_retry_overflow, flag UO).")); err != nil {
		return nil, err
	}
	p.rateLimitedOpts = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("name", name)))}
	return p, nil
}

// clusterPolicy is the compiled policy of one cluster beyond its load
// balancer and retry policy; nil when the cluster has none.
type clusterPolicy struct {
	routes   []compiledRoute
	versions []*versionLB // the routes' balancers, one per version
	timeout  time.Duration
	fault    *compiledFault
	limiter  *retryLimiter
	// limitCfg is what limiter was built from (state is kept across
	// pushes when it is unchanged).
	limitCfg limitConfig

	timeoutOpts  []metric.AddOption
	overflowOpts []metric.AddOption
	faultOpts    [2][]metric.AddOption
}

type limitConfig struct {
	maxRetries int
	budget     RetryBudget
	hasBudget  bool
}

// compileClusterPolicy compiles the policies of cluster key; it also drops
// a per-try timeout ≥ the route timeout from cr.retry, as Envoy ignores it.
func compileClusterPolicy(key string, cl Cluster, cr *clusterRuntime, rnd func() uint64) (*clusterPolicy, error) {
	if len(cl.Routes) == 0 && cl.Timeout <= 0 && compileFault(cl.Fault) == nil && cl.MaxRetries <= 0 && cl.RetryBudget == nil {
		return nil, nil
	}
	routes, versions, err := compileRoutes(key, cl, cr.load, rnd)
	if err != nil {
		return nil, err
	}
	p := &clusterPolicy{routes: routes, versions: versions, timeout: cl.Timeout, fault: compileFault(cl.Fault)}
	if cl.RetryBudget != nil { // the budget overrides max_retries
		p.limitCfg.budget, p.limitCfg.hasBudget = *cl.RetryBudget, true
	} else {
		p.limitCfg.maxRetries = cl.MaxRetries
	}
	p.limiter = newRetryLimiter(cl) // Linkerd's clocked budget is added by attachPolicies
	cr.retry = effectivePerTry(cr.retry, cl.Timeout)
	clusterSet := attribute.NewSet(attribute.String("cluster", key))
	p.timeoutOpts = []metric.AddOption{metric.WithAttributeSet(clusterSet)}
	reason := OverflowMaxRetries
	if cl.RetryBudget != nil {
		reason = OverflowBudget
	}
	p.overflowOpts = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(
		attribute.String("cluster", key), attribute.String("reason", reason)))}
	for k, label := range faultKindLabels {
		p.faultOpts[k] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(
			attribute.String("cluster", key), attribute.String("kind", label)))}
	}
	return p, nil
}

// attachPolicies gives the compiled config rc its clocked state (token
// bucket, Linkerd budget), keeping the state of old (the running config)
// where the policy is unchanged, so a push that does not touch a rate limit
// or retry limit does not refill the bucket or forget retries in flight;
// and it puts the route versions of clusters with outlier detection on the
// detector. Called before rc is published, after bindOutlier.
func attachPolicies(rc, old *runtimeConfig, clk Clock) {
	if in := rc.inbound; in != nil {
		if old != nil && old.inbound != nil && *old.inbound.rateLimit == *in.rateLimit {
			in.bucket = old.inbound.bucket
		} else {
			rl := in.rateLimit
			in.bucket = NewTokenBucket(rl.RequestsPerSecond, rl.Burst, clk)
		}
	}
	for key, cr := range rc.clusters {
		p := cr.pol
		if p == nil {
			continue
		}
		if cr.outlier != nil {
			for _, v := range p.versions {
				v.outlier = cr.outlier.subsetLB(v.idx)
			}
		}
		if p.limiter == nil {
			continue
		}
		if old != nil {
			if ocr := old.clusters[key]; ocr != nil && ocr.pol != nil && ocr.pol.limiter != nil && ocr.pol.limitCfg == p.limitCfg {
				p.limiter = ocr.pol.limiter
				continue
			}
		}
		if p.limiter.kind == limitLinkerdBudget && p.limiter.tps == nil {
			ratio, minRPS, ttl := linkerdBudgetParams(p.limitCfg.budget)
			p.limiter.tps = newTPSBudget(ttl, minRPS, ratio, clk)
		}
	}
}

// route runs a request of cluster c.cl through its policies in Envoy's
// filter-chain order: fault filter (delay, then abort), then the router:
// route match and weighted version, route timeout around the retry loop,
// retry limits in the retry decision. When it answered the caller itself
// (fault abort, route timeout) the result has replied set.
func (p *clusterPolicy) route(ctx context.Context, w http.ResponseWriter, c *outboundCall, rs *RetryState) routeResult {
	f, cl := c.f, c.cl
	if cf := p.fault; cf != nil {
		if d, ok := cf.drawDelay(f.rand); ok {
			cf.injected(f, cl, p, faultDelay, 0, d)
			c.traceEvent(SpanEventFaultInjected, tracelite.String("meshgym.fault", "delay"), tracelite.Float("meshgym.delay_ms", millis(d)))
			waitDelay(ctx, f.clock, d)
		}
		if code, ok := cf.drawAbort(f.rand); ok {
			cf.injected(f, cl, p, faultAbort, code, 0)
			c.traceEvent(SpanEventFaultInjected, tracelite.String("meshgym.fault", "abort"), tracelite.Int("http.response.status_code", int64(code)))
			localReply(w, code, bodyFaultAbort)
			return routeResult{replied: true}
		}
	}
	lb := cl.lb
	if len(p.routes) > 0 {
		if vlb, _ := selectRoute(p.routes, c.up.in, f.rand); vlb != nil {
			lb = vlb
		}
	}
	var h attemptHandler = c
	if l := p.limiter; l != nil {
		rs.limit = l
		if l.kind == limitEnvoyBudget {
			h = &activeCountingCall{outboundCall: c, active: &l.active}
		}
	}
	res, timedOut := runWithTimeout(ctx, f.clock, p.timeout, lb, rs, h)
	rs.endRetries()
	switch {
	case timedOut:
		f.tel.pol.routeTimeouts.Add(ctx, 1, p.timeoutOpts...)
		c.traceEvent(SpanEventTimeout, tracelite.String("meshgym.timeout", "route"), tracelite.Float("meshgym.timeout_ms", millis(p.timeout)))
		if f.events.active() {
			f.events.publish(Event{Time: f.clock.Now(), Component: f.name, Kind: EventRouteTimeout,
				Cluster: cl.name, Endpoint: endpointName(cl, res.Endpoint), Attempt: res.Attempts,
				StatusCode: http.StatusGatewayTimeout, Detail: "route timeout " + p.timeout.String()})
		}
		localReply(w, http.StatusGatewayTimeout, bodyTimeout)
		res.replied = true
	case res.Decision == RetryOverflow:
		f.tel.pol.retryOverflow.Add(ctx, 1, p.overflowOpts...)
		c.traceEvent(SpanEventRetryBudgetExhausted, tracelite.String("meshgym.reason", p.limiter.reason), tracelite.Int(AttrAttempt, int64(res.Attempts)))
		if f.events.active() {
			f.events.publish(Event{Time: f.clock.Now(), Component: f.name, Kind: EventRetryOverflow,
				Cluster: cl.name, Endpoint: endpointName(cl, res.Endpoint), Attempt: res.Attempts,
				StatusCode: res.Outcome.StatusCode, Detail: p.limiter.reason})
		}
	}
	return res
}

// clonePolicies deep-copies the policy blocks of cl (cloneConfig).
func clonePolicies(cl *Cluster) {
	if cl.Routes != nil {
		routes := make([]Route, len(cl.Routes))
		for i, r := range cl.Routes {
			if r.Match != nil {
				m := RouteMatch{Headers: maps.Clone(r.Match.Headers), Cookies: maps.Clone(r.Match.Cookies)}
				r.Match = &m
			}
			r.Split = append([]WeightedVersion(nil), r.Split...)
			routes[i] = r
		}
		cl.Routes = routes
	}
	if cl.Fault != nil {
		fc := *cl.Fault
		if fc.Abort != nil {
			a := *fc.Abort
			fc.Abort = &a
		}
		if fc.Delay != nil {
			d := *fc.Delay
			fc.Delay = &d
		}
		cl.Fault = &fc
	}
	if cl.RetryBudget != nil {
		b := *cl.RetryBudget
		cl.RetryBudget = &b
	}
	if cl.EWMA != nil {
		e := *cl.EWMA
		cl.EWMA = &e
	}
	if cl.Outlier != nil {
		o := *cl.Outlier
		cl.Outlier = &o
	}
}

// cloneInbound deep-copies an InboundPolicy (cloneConfig).
func cloneInbound(p *InboundPolicy) *InboundPolicy {
	if p == nil {
		return nil
	}
	q := *p
	if q.RateLimit != nil {
		rl := *q.RateLimit
		q.RateLimit = &rl
	}
	return &q
}

// endpointName is the name of endpoint ep of cl ("" when no endpoint was
// picked).
func endpointName(cl *clusterRuntime, ep int) string {
	if ep < 0 || ep >= len(cl.endpoints) {
		return ""
	}
	return cl.endpoints[ep].name
}
