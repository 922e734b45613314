package dataplane

import (
	"fmt"
	"math"
	"time"
)

// Validation of the policy blocks (called by Config.Validate): each error
// is one line naming the cluster (or "inbound") and the field.

// MaxRouteWeight bounds the sum of a route's weights (Envoy's weights are
// uint32).
const MaxRouteWeight = math.MaxUint32

// validateClusterPolicies checks cluster key's routes, timeout, fault,
// max_retries and retry_budget.
func validateClusterPolicies(key string, cl Cluster) error {
	versions := map[string]bool{}
	for _, ep := range cl.Endpoints {
		name := ep.Name
		if name == "" {
			name = key
		}
		versions[name] = true
	}
	for i, r := range cl.Routes {
		if r.Match != nil {
			for h := range r.Match.Headers {
				if h == "" {
					return fmt.Errorf("cluster %q: routes[%d].match.headers has an empty header name", key, i)
				}
			}
			for c := range r.Match.Cookies {
				if c == "" {
					return fmt.Errorf("cluster %q: routes[%d].match.cookies has an empty cookie name", key, i)
				}
			}
		}
		var total uint64
		for j, wv := range r.Split {
			switch {
			case wv.Weight < 0:
				return fmt.Errorf("cluster %q: routes[%d].split[%d].weight is %d; want 0 or more", key, i, j, wv.Weight)
			case wv.Version == "":
				return fmt.Errorf("cluster %q: routes[%d].split[%d].version is empty", key, i, j)
			case !versions[wv.Version]:
				return fmt.Errorf("cluster %q: routes[%d].split[%d].version %q matches no endpoint name", key, i, j, wv.Version)
			}
			total += uint64(wv.Weight)
			if total > MaxRouteWeight {
				return fmt.Errorf("cluster %q: routes[%d].split weights sum above %d", key, i, uint64(MaxRouteWeight))
			}
		}
		if total == 0 {
			return fmt.Errorf("cluster %q: routes[%d].split weights sum to 0; give a version a weight above 0", key, i)
		}
	}
	if cl.Timeout < 0 {
		return fmt.Errorf("cluster %q: timeout is %v; want 0 (none) or more", key, cl.Timeout)
	}
	if f := cl.Fault; f != nil {
		if a := f.Abort; a != nil {
			if err := checkPercent(a.Percent); err != nil {
				return fmt.Errorf("cluster %q: fault.abort.percent %v", key, err)
			}
			if a.StatusCode < 200 || a.StatusCode > 599 {
				return fmt.Errorf("cluster %q: fault.abort.status_code is %d; want an HTTP status 200-599", key, a.StatusCode)
			}
		}
		if d := f.Delay; d != nil {
			if err := checkPercent(d.Percent); err != nil {
				return fmt.Errorf("cluster %q: fault.delay.percent %v", key, err)
			}
			if d.Duration < 0 {
				return fmt.Errorf("cluster %q: fault.delay.duration is %v; want 0 or more", key, d.Duration)
			}
		}
	}
	if cl.MaxRetries < 0 {
		return fmt.Errorf("cluster %q: max_retries is %d; want 0 (no cap) or more", key, cl.MaxRetries)
	}
	if b := cl.RetryBudget; b != nil {
		switch b.Kind {
		case BudgetEnvoy:
			if err := checkPercent(b.BudgetPercent); err != nil {
				return fmt.Errorf("cluster %q: retry_budget.budget_percent %v", key, err)
			}
			if b.MinRetryConcurrency < 0 {
				return fmt.Errorf("cluster %q: retry_budget.min_retry_concurrency is %d; want 0 (default 3) or more", key, b.MinRetryConcurrency)
			}
		case BudgetLinkerd:
			// Ranges of linkerd2-proxy convert_retry_budget (a budget out of
			// them is dropped there, and with it every retry).
			if math.IsNaN(b.RetryRatio) || b.RetryRatio < 0 || b.RetryRatio > 1000 {
				return fmt.Errorf("cluster %q: retry_budget.retry_ratio is %v; want 0 (default 0.2) to 1000", key, b.RetryRatio)
			}
			if m := b.MinRetriesPerSecond; math.IsNaN(m) || m < 0 || m > math.MaxInt32 || m != math.Trunc(m) {
				return fmt.Errorf("cluster %q: retry_budget.min_retries_per_second is %v; want a whole number 0 (default 10) or more, as Linkerd's uint32", key, m)
			}
			if b.TTL < 0 || (b.TTL != 0 && (b.TTL < time.Second || b.TTL > time.Minute)) {
				return fmt.Errorf("cluster %q: retry_budget.ttl is %v; want 0 (default 10s) or 1s-60s", key, b.TTL)
			}
		default:
			return fmt.Errorf("cluster %q: retry_budget.kind is %q; want %q or %q", key, b.Kind, BudgetEnvoy, BudgetLinkerd)
		}
	}
	return nil
}

// validateInbound checks Config.Inbound.
func validateInbound(p *InboundPolicy) error {
	if p == nil || p.RateLimit == nil {
		return nil
	}
	rl := p.RateLimit
	if r := rl.RequestsPerSecond; math.IsNaN(r) || math.IsInf(r, 0) || r <= 0 {
		return fmt.Errorf("inbound: rate_limit.requests_per_second is %v; want more than 0", r)
	}
	if rl.Burst < 0 {
		return fmt.Errorf("inbound: rate_limit.burst is %d; want 0 (max(1, rate)) or more", rl.Burst)
	}
	if rl.StatusCode != 0 && (rl.StatusCode < 400 || rl.StatusCode > 599) {
		return fmt.Errorf("inbound: rate_limit.status_code is %d; want 0 (429) or 400-599", rl.StatusCode)
	}
	return nil
}

func checkPercent(p float64) error {
	if math.IsNaN(p) || p < 0 || p > 100 {
		return fmt.Errorf("is %v; want 0-100", p)
	}
	return nil
}
