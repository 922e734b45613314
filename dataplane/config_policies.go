package dataplane

import "time"

// This file holds the policy blocks of Config beyond retries: outlier
// detection and the book's circuit breaker, weighted and matched routes,
// timeouts, local rate limits, fault injection, retry budgets and the
// retry concurrency cap. A nil block means the policy is off.

// InboundPolicy applies on a sidecar's inbound listener (the server side of
// its component).
type InboundPolicy struct {
	// RateLimit is Envoy's local rate limit filter: a token bucket in front
	// of the app; over the limit the caller gets StatusCode (429) at once,
	// with header x-envoy-ratelimited
	// (https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/local_rate_limit_filter).
	RateLimit *RateLimit `json:"rate_limit,omitempty"`
}

// RateLimit is a token bucket: it holds at most Burst tokens, refilled at
// RequestsPerSecond; each request takes one token or is rejected.
type RateLimit struct {
	RequestsPerSecond float64 `json:"requests_per_second"`   // > 0
	Burst             int     `json:"burst"`                 // ≥ 1; 0 means max(1, ⌊RequestsPerSecond⌋)
	StatusCode        int     `json:"status_code,omitempty"` // default 429
}

// Route sends matching requests of a cluster to a subset of its endpoints,
// split by weight. Routes are tried in order; the first whose Match matches
// wins; a request no route matches goes to all endpoints (plain LB).
type Route struct {
	// Match selects requests by exact header and cookie values; nil or
	// empty matches every request.
	Match *RouteMatch `json:"match,omitempty"`
	// Split lists versions (Endpoint.Name) with integer weights; Envoy's
	// weighted_clusters draw random % total_weight per request
	// (source/common/router/config_impl.cc), so the split is random, not
	// round-robin. Weight 0 entries are dropped (Istio does the same).
	// Within a version the cluster's LB picks the endpoint.
	Split []WeightedVersion `json:"split"`
}

// RouteMatch is an exact-match on request headers and cookies.
type RouteMatch struct {
	Headers map[string]string `json:"headers,omitempty"` // canonical or any case
	Cookies map[string]string `json:"cookies,omitempty"`
}

// WeightedVersion is one target of a weighted route.
type WeightedVersion struct {
	Version string `json:"version"`
	Weight  int    `json:"weight"` // ≥ 0
}

// OutlierDetection ejects endpoints that fail, in one of four algorithms
// (dataplane/outlier.go). Zero values: a duration of 0 means Envoy's
// default (Envoy rejects an explicit 0); counts and percents are literal
// (0 = off / never), so start from [EnvoyOutlierDefaults] to get Envoy's
// behaviour. The book algorithms need Consecutive5xx ≥ 1 and
// BaseEjectionTime > 0 and ignore the envoy-only fields (the gateway
// detector, enforcing percents, Interval, MaxEjectionTime and its jitter,
// MaxEjectionPercent, AlwaysEjectOneHost). The linkerd algorithm reads
// only Consecutive5xx, BaseEjectionTime, MaxEjectionTime and JitterRatio,
// each 0 meaning Linkerd's default ([LinkerdAccrualDefaults]); it has no
// panic mode, so HealthyPanicThreshold is ignored.
type OutlierDetection struct {
	// Algorithm: "envoy" (default) reproduces Envoy's outlier detection
	// (api/envoy/config/cluster/v3/outlier_detection.proto and
	// source/common/upstream/outlier_detection_impl.cc): consecutive 5xx
	// and gateway-failure counters, ejection for
	// min(BaseEjectionTime × times ejected, MaxEjectionTime), hosts returned
	// only on Interval ticks, the ejection multiplier decremented on ticks
	// where the host stayed healthy, MaxEjectionPercent with
	// AlwaysEjectOneHost, and the load balancer's panic threshold.
	// "book" is the book's breaker: eject after Consecutive5xx consecutive
	// errors for exactly BaseEjectionTime, then return with the count
	// reset. "book_half_open" is the variant the book's prose describes:
	// after BaseEjectionTime the endpoint is half-open; one failure ejects
	// it again at once, one success closes it. "linkerd" is Linkerd's
	// consecutive failure accrual (2.13+; linkerd2-proxy
	// linkerd/app/outbound/src/http/breaker/consecutive_failures.rs):
	// after Consecutive5xx (default 7) consecutive failures (5xx or no
	// response) the endpoint is unavailable for a penalty, starting at
	// BaseEjectionTime (min penalty, default 1 s); then it is on probation
	// and exactly one request goes through: a success makes it available
	// (count reset, penalty back to the min), a failure makes it
	// unavailable for the next penalty, doubled up to MaxEjectionTime (max
	// penalty, default 1 min), plus jitter (JitterRatio). With every
	// endpoint unavailable the caller gets 503 (no panic mode).
	Algorithm string `json:"algorithm,omitempty"`

	Consecutive5xx                     int           `json:"consecutive_5xx"`                       // 0 = detector off
	ConsecutiveGatewayFailure          int           `json:"consecutive_gateway_failure,omitempty"` // 0 = detector off
	EnforcingConsecutive5xx            int           `json:"enforcing_consecutive_5xx"`             // percent, Envoy default 100
	EnforcingConsecutiveGatewayFailure int           `json:"enforcing_consecutive_gateway_failure"` // percent, Envoy default 0
	Interval                           time.Duration `json:"interval,omitempty"`                    // Envoy default 10s
	BaseEjectionTime                   time.Duration `json:"base_ejection_time"`                    // Envoy default 30s
	MaxEjectionTime                    time.Duration `json:"max_ejection_time,omitempty"`           // Envoy default 300s
	MaxEjectionPercent                 int           `json:"max_ejection_percent"`                  // Envoy default 10
	AlwaysEjectOneHost                 bool          `json:"always_eject_one_host,omitempty"`
	// MaxEjectionTimeJitter adds random % (jitter in ms + 1) ms to each
	// ejection (Envoy max_ejection_time_jitter, default 0).
	MaxEjectionTimeJitter time.Duration `json:"max_ejection_time_jitter,omitempty"`
	// HealthyPanicThreshold (percent, Envoy default 50; 0 disables): when
	// fewer than this share of endpoints are healthy, the LB ignores
	// ejections and balances over all endpoints.
	HealthyPanicThreshold int `json:"healthy_panic_threshold"`
	// JitterRatio (linkerd only; 0 = Linkerd's default 0.5, at most 100)
	// lengthens each penalty by a random share of it: Linkerd's
	// failure-accrual-consecutive-jitter-ratio through linkerd2-proxy's
	// ExponentialBackoff (linkerd/exp-backoff): penalty = base +
	// min(uniform[0,1) × ratio × base, max − base), base = min penalty ×
	// 2^n capped at the max, with base's whole seconds and its sub-second
	// part each truncated after the multiplication (so a 1 s or 2 s base
	// gets no jitter at ratio 0.5). The jitter only adds; it never
	// shortens a penalty.
	JitterRatio float64 `json:"jitter_ratio,omitempty"`
}

// Fault injects failures on a caller's outbound path, before the router
// (Envoy's fault filter): delay and abort are drawn independently per
// request; an aborted request is never retried (Istio doc: fault injection).
type Fault struct {
	Abort *FaultAbort `json:"abort,omitempty"`
	Delay *FaultDelay `json:"delay,omitempty"`
}

// FaultAbort answers StatusCode to Percent % of requests.
type FaultAbort struct {
	StatusCode int     `json:"status_code"`
	Percent    float64 `json:"percent"` // 0–100
}

// FaultDelay holds Percent % of requests for Duration before forwarding.
type FaultDelay struct {
	Duration time.Duration `json:"duration"`
	Percent  float64       `json:"percent"` // 0–100
}

// RetryBudget limits retries across all requests of a cluster.
type RetryBudget struct {
	// Kind "envoy": concurrent retries may not exceed
	// max(MinRetryConcurrency, BudgetPercent % of active requests)
	// (circuit_breaker.proto RetryBudget; defaults 20% and 3).
	// Kind "linkerd": retries may not exceed RetryRatio × requests over the
	// last TTL, plus MinRetriesPerSecond (ServiceProfile retryBudget;
	// defaults 0.2, 10/s, 10s). The exact arithmetic (tower's TpsBudget as
	// linkerd2-proxy uses it; TTL 1s-60s, whole retries per second) and
	// what "active" and "requests" count are in budget.go. A field left 0
	// takes its default.
	Kind                string        `json:"kind"`
	BudgetPercent       float64       `json:"budget_percent,omitempty"`
	MinRetryConcurrency int           `json:"min_retry_concurrency,omitempty"`
	RetryRatio          float64       `json:"retry_ratio,omitempty"`
	MinRetriesPerSecond float64       `json:"min_retries_per_second,omitempty"`
	TTL                 time.Duration `json:"ttl,omitempty"`
}
