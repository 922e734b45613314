package scenarios

import (
	"maps"
	"slices"
	"time"
)

// APIVersion is the apiVersion of the long form this package writes and reads.
const APIVersion = "meshgym.dev/v1alpha1"

// Scenario is one experiment: a topology, a pattern applied in the "after"
// phase, the load both phases run, and the success conditions. Both spellings
// of a scenario file (book shorthand and long form) load to this model.
type Scenario struct {
	// APIVersion is always APIVersion ("meshgym.dev/v1alpha1").
	APIVersion string `json:"apiVersion" yaml:"apiVersion"`
	Kind       string `json:"kind" yaml:"kind"` // always "Scenario"
	// Name identifies the scenario (letters, digits, _ - .); book files take
	// it from the file name.
	Name string `json:"name" yaml:"name"`
	// Description is one line shown by `meshgym list`.
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// Seed makes a run repeatable (0 = choose one and print it).
	Seed int64 `json:"seed,omitempty" yaml:"seed,omitempty"`
	// Mesh names the semantics profile the builtin mesh runs the scenario
	// under: a name ("istio": the newest release reproduced) or
	// name@version ("istio@1.23"); "" = the run's default (book). The
	// loaders check its syntax only; plugins/builtin.ResolveProfile checks
	// that the profile exists (report its errors at MeshPos).
	Mesh string `json:"mesh,omitempty" yaml:"mesh,omitempty"`
	// MeshPos is where the mesh: value was written (zero when Mesh was not
	// read from a file). Not serialised.
	MeshPos Position `json:"-" yaml:"-"`
	// Topology is the sample system both phases deploy.
	Topology Topology `json:"topology" yaml:"topology"`
	// Baseline holds policies active in BOTH phases (no Kind), e.g. the
	// static retries a retry budget then limits. Omitted when empty.
	Baseline Pattern `json:"baseline,omitzero" yaml:"baseline,omitempty"`
	// Pattern is applied in the "after" phase, on top of Baseline (see
	// Phase for what "on top" means).
	Pattern Pattern `json:"pattern" yaml:"pattern"`
	// Load is what both phases run against Topology.Entry.
	Load LoadSpec `json:"load" yaml:"load"`
	// Conditions are the success conditions, judged on the "after" phase.
	Conditions []Condition `json:"conditions" yaml:"conditions"`

	// Source is the file the scenario came from ("builtin:retries" for
	// embedded ones). Not serialised.
	Source string `json:"-" yaml:"-"`
	// Notes says how each value was read (for `explain`), e.g.
	// "upstream_error_rate[1]: 50 read as 50%". Not serialised.
	Notes []string `json:"-" yaml:"-"`
}

// Topology is the sample system: services calling each other, each with one
// or more versions. Entry is the service the load generator calls.
type Topology struct {
	// Entry is the name of the service the load generator calls.
	Entry string `json:"entry" yaml:"entry"`
	// Services in the order they are listed (and deployed).
	Services []Service `json:"services" yaml:"services"`
}

// Service is one logical service (e.g. "currency") with its versions.
type Service struct {
	// Name of the service, e.g. "payments"; a condition's name=payments
	// selects all its versions.
	Name string `json:"name" yaml:"name"`
	// Upstreams are names of services this one calls on every request.
	Upstreams []string `json:"upstreams,omitempty" yaml:"upstreams,omitempty"`
	// Sidecar is true when every instance runs behind a sidecar (default true).
	Sidecar bool `json:"sidecar" yaml:"sidecar"`
	// Versions of the service (≥ 1); callers balance across their
	// instances round-robin.
	Versions []Version `json:"versions" yaml:"versions"`
}

// Version is one version of a service; its Name is the component name used
// in conditions (e.g. "currency_v2").
type Version struct {
	// Name is unique across the topology, e.g. "currency_v2"; a service
	// with one version has it named like the service.
	Name      string `json:"name" yaml:"name"`
	Instances int    `json:"instances" yaml:"instances"` // ≥ 1
	// Weight is the share of traffic in percent when the pattern splits by
	// weight; 0 when no split is configured.
	Weight float64 `json:"weight,omitempty" yaml:"weight,omitempty"`
	// ErrorRate is the share of requests answered with ErrorCode, in percent
	// (0–100).
	ErrorRate float64 `json:"errorRate" yaml:"errorRate"`
	ErrorCode int     `json:"errorCode,omitempty" yaml:"errorCode,omitempty"` // default 500
	// Latency is the service time the app adds (fake-service TIMING_*).
	Latency Latency `json:"latency,omitempty" yaml:"latency,omitempty"`
}

// Latency is fake-service's timing model: 90% of requests take P50, 9% take
// P90, 1% take P99.
type Latency struct {
	P50 Duration `json:"p50,omitempty" yaml:"p50,omitempty"` // TIMING_50_PERCENTILE
	P90 Duration `json:"p90,omitempty" yaml:"p90,omitempty"` // TIMING_90_PERCENTILE
	P99 Duration `json:"p99,omitempty" yaml:"p99,omitempty"` // TIMING_99_PERCENTILE
}

// Pattern kinds (Pattern.Kind): the lesson a scenario teaches. The kind
// names the policy the "after" phase adds (see Pattern); other policies may
// be set alongside it (circuit breaking with retries, a timeout with retries).
const (
	KindRetries         = "retries"
	KindSidecarProxy    = "sidecar_proxy"
	KindCircuitBreaking = "circuit_breaking"
	KindCanary          = "canary"
	KindTimeouts        = "timeouts"
	KindRateLimiting    = "rate_limiting"
	KindFaultInjection  = "fault_injection"
	KindRetryBudgets    = "retry_budgets"
)

// PatternKinds lists every Pattern.Kind this package understands.
var PatternKinds = []string{KindRetries, KindSidecarProxy, KindCircuitBreaking, KindCanary, KindTimeouts, KindRateLimiting, KindFaultInjection, KindRetryBudgets}

// Pattern is a set of mesh policies. Scenario.Pattern (with Kind) is what
// the "after" phase adds; Scenario.Baseline (without Kind) is active in
// both phases. The policy Kind names must be set:
//
//	retries          Retries (≥ 1)
//	sidecar_proxy    Sidecar
//	circuit_breaking CircuitBreaker
//	canary           Split
//	timeouts         Timeout
//	rate_limiting    RateLimit
//	fault_injection  Fault
//	retry_budgets    RetryBudgets (≥ 1)
//
// Other policies may be set too (Sidecar only with sidecar_proxy). Every
// policy names the Service it applies to: the upstream whose callers'
// sidecars apply it (retries, breaker, split, timeout, fault, budget), or
// for a rate limit the service whose sidecars limit their inbound traffic.
type Pattern struct {
	// Kind is the pattern name: one of PatternKinds. Empty in Baseline.
	Kind string `json:"kind,omitempty" yaml:"kind,omitempty"`
	// Retries are retry policies, at most one per Service (a scenario may
	// retry at several hops, e.g. api→payments and payments→currency).
	Retries []RetryPolicy `json:"retries,omitempty" yaml:"retries,omitempty"`
	// CircuitBreaker ejects failing endpoints of its Service.
	CircuitBreaker *CircuitBreakerPolicy `json:"circuitBreaker,omitempty" yaml:"circuitBreaker,omitempty"`
	// Split routes the traffic to a service across its versions (canary).
	Split *SplitPolicy `json:"split,omitempty" yaml:"split,omitempty"`
	// Sidecar is set when Kind is "sidecar_proxy". The topology then
	// describes the "after" phase (every service with a sidecar); the
	// "before" phase runs the same services without sidecars.
	Sidecar *SidecarPolicy `json:"sidecar,omitempty" yaml:"sidecar,omitempty"`
	// Timeout bounds calls to its Service (route and per-try timeouts).
	Timeout *TimeoutPolicy `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	// RateLimit limits the requests its Service accepts.
	RateLimit *RateLimitPolicy `json:"rateLimit,omitempty" yaml:"rateLimit,omitempty"`
	// Fault injects aborts and delays into calls to its Service.
	Fault *FaultPolicy `json:"fault,omitempty" yaml:"fault,omitempty"`
	// RetryBudgets limit the retries of the callers of each Service, at
	// most one per Service (a budget applies per caller→upstream cluster,
	// so a scenario may set one at every hop).
	RetryBudgets []RetryBudgetPolicy `json:"retryBudgets,omitempty" yaml:"retryBudgets,omitempty"`
}

// IsZero reports whether p sets nothing (an absent Baseline).
func (p Pattern) IsZero() bool {
	return p.Kind == "" && len(p.Retries) == 0 && p.CircuitBreaker == nil && p.Split == nil && p.Sidecar == nil &&
		p.Timeout == nil && p.RateLimit == nil && p.Fault == nil && len(p.RetryBudgets) == 0
}

// Retry returns the retry policy for calls to service, or nil.
func (p Pattern) Retry(service string) *RetryPolicy {
	for i := range p.Retries {
		if p.Retries[i].Service == service {
			return &p.Retries[i]
		}
	}
	return nil
}

// RetryBudget returns the retry budget for calls to service, or nil.
func (p Pattern) RetryBudget(service string) *RetryBudgetPolicy {
	for i := range p.RetryBudgets {
		if p.RetryBudgets[i].Service == service {
			return &p.RetryBudgets[i]
		}
	}
	return nil
}

// Phase returns the policies in force in a phase: Baseline alone before,
// Baseline with Pattern on top after. On top means: a policy of Pattern
// replaces Baseline's policy of the same type (for Retries and
// RetryBudgets: of the same type and Service); Kind is Pattern's. The
// result shares no memory with s.
func (s *Scenario) Phase(after bool) Pattern {
	out := s.Baseline.clone()
	out.Kind = ""
	if !after {
		return out
	}
	p := s.Pattern.clone()
	out.Kind = p.Kind
	for _, r := range p.Retries {
		if i := slices.IndexFunc(out.Retries, func(x RetryPolicy) bool { return x.Service == r.Service }); i >= 0 {
			out.Retries[i] = r
		} else {
			out.Retries = append(out.Retries, r)
		}
	}
	for _, b := range p.RetryBudgets {
		if i := slices.IndexFunc(out.RetryBudgets, func(x RetryBudgetPolicy) bool { return x.Service == b.Service }); i >= 0 {
			out.RetryBudgets[i] = b
		} else {
			out.RetryBudgets = append(out.RetryBudgets, b)
		}
	}
	if p.CircuitBreaker != nil {
		out.CircuitBreaker = p.CircuitBreaker
	}
	if p.Split != nil {
		out.Split = p.Split
	}
	if p.Sidecar != nil {
		out.Sidecar = p.Sidecar
	}
	if p.Timeout != nil {
		out.Timeout = p.Timeout
	}
	if p.RateLimit != nil {
		out.RateLimit = p.RateLimit
	}
	if p.Fault != nil {
		out.Fault = p.Fault
	}
	return out
}

// clone copies p deeply.
func (p Pattern) clone() Pattern {
	out := Pattern{Kind: p.Kind}
	for _, r := range p.Retries {
		r.RetryOn = slices.Clone(r.RetryOn)
		out.Retries = append(out.Retries, r)
	}
	out.RetryBudgets = slices.Clone(p.RetryBudgets)
	if p.CircuitBreaker != nil {
		cb := *p.CircuitBreaker
		if cb.HealthyPanicThreshold != nil {
			v := *cb.HealthyPanicThreshold
			cb.HealthyPanicThreshold = &v
		}
		out.CircuitBreaker = &cb
	}
	if p.Split != nil {
		sp := *p.Split
		sp.Targets = slices.Clone(sp.Targets)
		sp.Match = nil
		for _, m := range p.Split.Match {
			m.Headers = maps.Clone(m.Headers)
			m.Cookies = maps.Clone(m.Cookies)
			sp.Match = append(sp.Match, m)
		}
		if sp.Rollout != nil {
			r := *sp.Rollout
			sp.Rollout = &r
		}
		out.Split = &sp
	}
	if p.Sidecar != nil {
		v := *p.Sidecar
		out.Sidecar = &v
	}
	if p.Timeout != nil {
		v := *p.Timeout
		out.Timeout = &v
	}
	if p.RateLimit != nil {
		v := *p.RateLimit
		out.RateLimit = &v
	}
	if p.Fault != nil {
		v := *p.Fault
		if v.Abort != nil {
			a := *v.Abort
			v.Abort = &a
		}
		if v.Delay != nil {
			d := *v.Delay
			v.Delay = &d
		}
		out.Fault = &v
	}
	return out
}

// Circuit-breaker algorithms (CircuitBreakerPolicy.Algorithm).
const (
	// BreakerBook is the book's table: eject an endpoint after
	// ErrorThreshold consecutive errors for exactly EjectionDuration; it
	// then returns with its error count reset.
	BreakerBook = "book"
	// BreakerBookHalfOpen is the book's prose: after EjectionDuration the
	// endpoint is half-open; one failure ejects it again at once, one
	// success closes the circuit.
	BreakerBookHalfOpen = "book_half_open"
	// BreakerEnvoy is Envoy's outlier detection: ejection for
	// min(EjectionDuration × times ejected, MaxEjectionTime), endpoints
	// returned only on Interval ticks, at most MaxEjectionPercent of the
	// endpoints ejected, and the load balancer's panic threshold.
	BreakerEnvoy = "envoy"
)

// BreakerAlgorithms lists the CircuitBreakerPolicy.Algorithm values.
var BreakerAlgorithms = []string{BreakerBook, BreakerBookHalfOpen, BreakerEnvoy}

// CircuitBreakerPolicy ejects a failing endpoint (version instance) of
// Service after ErrorThreshold consecutive errors (5xx or no response).
// How long it stays out and how it returns is the Algorithm's.
type CircuitBreakerPolicy struct {
	// Service whose callers break the circuit (the upstream, e.g. "payments").
	Service string `json:"service" yaml:"service"`
	// Algorithm is one of BreakerAlgorithms; the loaders write "book" when
	// the file gives none (the book's circuit-breaking exercise).
	Algorithm string `json:"algorithm" yaml:"algorithm"`
	// ErrorThreshold is the number of consecutive errors (5xx or no
	// response) that ejects an endpoint; ≥ 1 (Envoy consecutive_5xx).
	ErrorThreshold int `json:"errorThreshold" yaml:"errorThreshold"`
	// EjectionDuration is how long an ejected endpoint takes no traffic
	// (Envoy base_ejection_time); > 0.
	EjectionDuration Duration `json:"ejectionDuration" yaml:"ejectionDuration"`

	// The knobs below belong to Algorithm "envoy" (the others refuse them).
	// Zero means unset: the mesh profile's default applies (Envoy: 10s,
	// 10%, 300s, off, 50%).

	// Interval is the outlier detection sweep: ejected endpoints return
	// only on its ticks (Envoy interval, default 10s).
	Interval Duration `json:"interval,omitempty" yaml:"interval,omitempty"`
	// MaxEjectionPercent caps the share of endpoints ejected at once, in
	// percent (Envoy max_ejection_percent, default 10: with fewer than 10
	// endpoints nothing is ejected); 0 = unset.
	MaxEjectionPercent float64 `json:"maxEjectionPercent,omitempty" yaml:"maxEjectionPercent,omitempty"`
	// MaxEjectionTime caps the growing ejection time (Envoy
	// max_ejection_time, default 300s).
	MaxEjectionTime Duration `json:"maxEjectionTime,omitempty" yaml:"maxEjectionTime,omitempty"`
	// ConsecutiveGatewayErrors ejects after this many consecutive 502/503/504
	// (Envoy consecutive_gateway_failure, enforced); 0 = detector off.
	ConsecutiveGatewayErrors int `json:"consecutiveGatewayErrors,omitempty" yaml:"consecutiveGatewayErrors,omitempty"`
	// HealthyPanicThreshold, in percent: below this share of healthy
	// endpoints the load balancer ignores ejections (Envoy
	// healthy_panic_threshold, default 50). nil = unset (the profile's
	// default; Istio sets 0 with outlier detection); 0 = panic mode off.
	HealthyPanicThreshold *float64 `json:"healthyPanicThreshold,omitempty" yaml:"healthyPanicThreshold,omitempty"`
}

// SplitPolicy routes the traffic to Service across its versions: a request
// matching one of Match goes to that match's Version; the others are split
// by the Targets' weights. With Rollout the weights move step by step.
type SplitPolicy struct {
	// Service whose versions share the traffic (e.g. "payments").
	Service string `json:"service" yaml:"service"`
	// Targets are the versions and their weights; weights sum to 100
	// (0/100 and 99/1 are fine). With Rollout, the canary's weight here is
	// where the rollout starts (usually 0).
	Targets []WeightedTarget `json:"targets" yaml:"targets"`
	// Match routes are tried in order before the weights; the first that
	// matches sends the request to its Version (header/cookie routing,
	// e.g. testers reach the canary with a header).
	Match []MatchRoute `json:"match,omitempty" yaml:"match,omitempty"`
	// Rollout, when set, moves the canary's weight up step by step while
	// its metrics stay healthy, then promotes it (weight 100) or rolls it
	// back (weight 0): a progressive delivery as Flagger does it.
	Rollout *RolloutPolicy `json:"rollout,omitempty" yaml:"rollout,omitempty"`
}

// MatchRoute sends the requests whose headers and cookies all have the
// given values (exact match; header names case-insensitive) to Version.
// At least one header or cookie is given.
type MatchRoute struct {
	Headers map[string]string `json:"headers,omitempty" yaml:"headers,omitempty"`
	Cookies map[string]string `json:"cookies,omitempty" yaml:"cookies,omitempty"`
	// Version is a version of the split's service, e.g. "payments_v2".
	Version string `json:"version" yaml:"version"`
}

// Rollout defaults, written by the loaders when the file leaves a knob
// out (see DefaultRollout).
const (
	DefaultStepWeight         = 10  // percent per step
	DefaultMaxWeight          = 100 // percent
	DefaultMaxErrorRate       = 5   // percent
	DefaultMaxLatencyIncrease = 10  // percent (the book's ±10%)
	DefaultMinRequests        = 385 // Yamane n for N = 10000, e = 5%
	DefaultMaxStepDuration    = 60 * Duration(time.Second)
)

// RolloutPolicy is a progressive canary rollout (as Flagger does it). The
// steps put the canary at StepWeight, 2·StepWeight, … up to MaxWeight, the
// rest of the traffic spread over the split's other targets. A step at
// weight w lasts as long as the canary needs to answer MinRequests at the
// scenario's rate, MinRequests ÷ (rps × w/100), at most MaxStepDuration. It
// fails when the canary's error rate in the step (non-2xx or no response)
// is above MaxErrorRate, or its p99 latency in the step is more than
// MaxLatencyIncrease percent above the other targets' p99 in the same step
// (or when the canary answered nothing). The first failed step rolls back
// (canary weight 0); a passed step at MaxWeight promotes (canary weight
// 100). With the defaults at 100 req/s a rollout takes about
// 385 × (1/10 + 1/20 + … + 1/100) s ≈ 113 s. The canary's weight in
// SplitPolicy.Targets is its weight before the first step (usually 0).
type RolloutPolicy struct {
	// Canary is the version being rolled out, one of the split's targets.
	Canary string `json:"canary" yaml:"canary"`
	// StepWeight is the weight added per step, percent (0 < w ≤ 100).
	StepWeight float64 `json:"stepWeight" yaml:"stepWeight"`
	// MaxWeight is the weight at which a passed step promotes, percent.
	MaxWeight float64 `json:"maxWeight" yaml:"maxWeight"`
	// MaxErrorRate is the canary's highest acceptable error rate, percent.
	MaxErrorRate float64 `json:"maxErrorRate" yaml:"maxErrorRate"`
	// MaxLatencyIncrease is how much higher than the other version's p99
	// the canary's p99 may be, percent (0 = no increase).
	MaxLatencyIncrease float64 `json:"maxLatencyIncrease" yaml:"maxLatencyIncrease"`
	// MinRequests is how many canary answers a step needs before it is
	// judged (default 385: Yamane's n = N/(1+N·e²) for N = 10000, e = 5%).
	MinRequests int `json:"minRequests" yaml:"minRequests"`
	// MaxStepDuration bounds a step that does not reach MinRequests.
	MaxStepDuration Duration `json:"maxStepDuration" yaml:"maxStepDuration"`
}

// DefaultRollout returns a rollout of canary with every knob at its default.
func DefaultRollout(canary string) RolloutPolicy {
	return RolloutPolicy{Canary: canary, StepWeight: DefaultStepWeight, MaxWeight: DefaultMaxWeight,
		MaxErrorRate: DefaultMaxErrorRate, MaxLatencyIncrease: DefaultMaxLatencyIncrease,
		MinRequests: DefaultMinRequests, MaxStepDuration: DefaultMaxStepDuration}
}

// WeightedTarget is one version of a split and its share of the traffic.
type WeightedTarget struct {
	// Version is a version name of the split's service (e.g. "payments_v2").
	Version string `json:"version" yaml:"version"`
	// Weight is the share of the traffic in percent (0–100).
	Weight float64 `json:"weight" yaml:"weight"`
}

// SidecarPolicy is the sidecar proxy pattern's knob set.
type SidecarPolicy struct {
	// Protocol the sidecars proxy: "http", "grpc" or "tcp".
	Protocol string `json:"protocol" yaml:"protocol"`
}

// RetryPolicy is the scenario's retry knob set for calls to one Service,
// mapped 1:1 on Envoy's route retry_policy by the builtin control plane.
type RetryPolicy struct {
	// Service whose callers retry (the upstream, e.g. "currency").
	Service  string `json:"service" yaml:"service"`
	Attempts int    `json:"attempts" yaml:"attempts"` // retries after the first try
	// RetryOn names the failures retried, as Envoy's retry_on values
	// (RetryOnValues), e.g. ["5xx", "connect-failure"].
	RetryOn []string `json:"retryOn" yaml:"retryOn"`
	// PerTryTimeout bounds each attempt; 0 = no per-try timeout (a
	// TimeoutPolicy's PerTry for the same Service may give it instead).
	PerTryTimeout Duration `json:"perTryTimeout,omitempty" yaml:"perTryTimeout,omitempty"`
	// BackoffBase is the base interval of the jittered exponential backoff
	// between attempts; 0 = no backoff.
	BackoffBase Duration `json:"backoffBase,omitempty" yaml:"backoffBase,omitempty"`
	// PreferNewHost: a retry avoids hosts already tried (Envoy previous_hosts).
	PreferNewHost bool `json:"preferNewHost" yaml:"preferNewHost"`
}

// TimeoutPolicy bounds the calls to Service made by its callers' sidecars.
type TimeoutPolicy struct {
	// Service whose callers time out (the upstream, e.g. "payments").
	Service string `json:"service" yaml:"service"`
	// Request is the route timeout: it covers the whole request, retries
	// and backoff included; when it fires the caller gets 504 and nothing
	// is retried. 0 = none (at least one of Request, PerTry is set).
	Request Duration `json:"request,omitempty" yaml:"request,omitempty"`
	// PerTry bounds each attempt (Envoy per_try_timeout): a timed-out
	// attempt counts as a 504 and is retried when the retry policy for
	// Service retries 5xx, gateway-error or reset. Below Request. 0 = none.
	// It is the same knob as RetryPolicy.PerTryTimeout; give it once.
	PerTry Duration `json:"perTry,omitempty" yaml:"perTry,omitempty"`
}

// RateLimitPolicy is a local rate limit on Service's inbound: each
// instance's sidecar holds a token bucket of Burst tokens refilled at
// RequestsPerSecond; a request finding it empty is answered StatusCode at
// once, without reaching the app (Envoy local rate limit, Linkerd
// HTTPLocalRateLimitPolicy).
type RateLimitPolicy struct {
	// Service whose inbound is limited (e.g. "payments").
	Service string `json:"service" yaml:"service"`
	// RequestsPerSecond is the refill rate per instance; > 0.
	RequestsPerSecond float64 `json:"requestsPerSecond" yaml:"requestsPerSecond"`
	// Burst is the bucket size (≥ 1); the loaders write
	// max(1, ⌈RequestsPerSecond⌉) — one second of tokens — when absent.
	Burst int `json:"burst" yaml:"burst"`
	// StatusCode answers a limited request (default 429).
	StatusCode int `json:"statusCode" yaml:"statusCode"`
}

// FaultPolicy injects failures into calls to Service in the caller's
// sidecar, before routing (Envoy's fault filter, Istio's
// VirtualService fault): delay and abort are drawn independently per
// request; an aborted request is never retried. At least one of Abort and
// Delay is set.
type FaultPolicy struct {
	// Service whose callers inject the faults (e.g. "payments").
	Service string      `json:"service" yaml:"service"`
	Abort   *FaultAbort `json:"abort,omitempty" yaml:"abort,omitempty"`
	Delay   *FaultDelay `json:"delay,omitempty" yaml:"delay,omitempty"`
}

// FaultAbort answers StatusCode to Percent % of the requests.
type FaultAbort struct {
	StatusCode int     `json:"statusCode" yaml:"statusCode"` // 400–599 (default 503)
	Percent    float64 `json:"percent" yaml:"percent"`       // 0–100
}

// FaultDelay holds Percent % of the requests for Duration before sending them.
type FaultDelay struct {
	Duration Duration `json:"duration" yaml:"duration"` // > 0
	Percent  float64  `json:"percent" yaml:"percent"`   // 0–100
}

// Retry-budget kinds (RetryBudgetPolicy.Kind).
const (
	// BudgetEnvoy is Envoy's retry_budget: concurrent retries on the
	// cluster ≤ max(MinRetryConcurrency, BudgetPercent % of the active
	// requests). Fields: BudgetPercent (20), MinRetryConcurrency (3).
	BudgetEnvoy = "envoy"
	// BudgetLinkerd is Linkerd's ServiceProfile retryBudget: retries ≤
	// RetryRatio × the requests of the last TTL + MinRetriesPerSecond.
	// Fields: RetryRatio (0.2), MinRetriesPerSecond (10), TTL (10s).
	BudgetLinkerd = "linkerd"
	// BudgetMaxRetries is Envoy's circuit breaker max_retries alone: at
	// most MaxConcurrentRetries retries in flight on the cluster (3).
	BudgetMaxRetries = "max_retries"
	// BudgetNone says explicitly that retries are not limited beyond each
	// retry policy's attempts (Istio's default: max_retries 2^32−1).
	BudgetNone = "none"
)

// BudgetKinds lists the RetryBudgetPolicy.Kind values.
var BudgetKinds = []string{BudgetEnvoy, BudgetLinkerd, BudgetMaxRetries, BudgetNone}

// Retry-budget defaults, written by the loaders for the fields of the
// policy's Kind when the file leaves them out.
const (
	DefaultBudgetPercent        = 20
	DefaultMinRetryConcurrency  = 3
	DefaultRetryRatio           = 0.2
	DefaultMinRetriesPerSecond  = 10
	DefaultBudgetTTL            = 10 * Duration(time.Second)
	DefaultMaxConcurrentRetries = 3
)

// RetryBudgetPolicy limits the retries that the callers of Service make to
// it, across all their requests. Only the fields of Kind are set (the
// others stay 0).
type RetryBudgetPolicy struct {
	// Service whose callers' retries are limited (the upstream).
	Service string `json:"service" yaml:"service"`
	// Kind is one of BudgetKinds.
	Kind string `json:"kind" yaml:"kind"`
	// BudgetPercent (envoy): retries in flight may be this share of the
	// active requests, percent (0–100).
	BudgetPercent float64 `json:"budgetPercent,omitempty" yaml:"budgetPercent,omitempty"`
	// MinRetryConcurrency (envoy): retries in flight always allowed.
	MinRetryConcurrency int `json:"minRetryConcurrency,omitempty" yaml:"minRetryConcurrency,omitempty"`
	// RetryRatio (linkerd): retries per request, e.g. 0.2.
	RetryRatio float64 `json:"retryRatio,omitempty" yaml:"retryRatio,omitempty"`
	// MinRetriesPerSecond (linkerd): retries per second always allowed.
	MinRetriesPerSecond float64 `json:"minRetriesPerSecond,omitempty" yaml:"minRetriesPerSecond,omitempty"`
	// TTL (linkerd): the window requests and retries are counted over.
	TTL Duration `json:"ttl,omitempty" yaml:"ttl,omitempty"`
	// MaxConcurrentRetries (max_retries): retries in flight at most.
	MaxConcurrentRetries int `json:"maxConcurrentRetries,omitempty" yaml:"maxConcurrentRetries,omitempty"`
}

// DefaultRetryBudget returns a budget of kind for calls to service with
// the kind's defaults.
func DefaultRetryBudget(service, kind string) RetryBudgetPolicy {
	b := RetryBudgetPolicy{Service: service, Kind: kind}
	switch kind {
	case BudgetEnvoy:
		b.BudgetPercent, b.MinRetryConcurrency = DefaultBudgetPercent, DefaultMinRetryConcurrency
	case BudgetLinkerd:
		b.RetryRatio, b.MinRetriesPerSecond, b.TTL = DefaultRetryRatio, DefaultMinRetriesPerSecond, DefaultBudgetTTL
	case BudgetMaxRetries:
		b.MaxConcurrentRetries = DefaultMaxConcurrentRetries
	}
	return b
}

// LoadSpec is the load both phases run against the entry service.
type LoadSpec struct {
	// Duration of each phase (1s – 168h).
	Duration Duration `json:"duration" yaml:"duration"`
	// RPS is the total requests per second; 0 = as fast as possible.
	RPS float64 `json:"rps" yaml:"rps"`
	// Connections is the number of concurrent connections (≥ 1).
	Connections int `json:"connections" yaml:"connections"`
}

// Duration is a time.Duration that reads and writes as "200s", "3m", "100ms".
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String writes the duration the way scenario files do: "200s", "3m",
// "25ms", "1500us" (the largest unit that keeps a whole number; minutes and
// hours only from 2m and 2h so that "60s" stays "60s").
func (d Duration) String() string { return formatDuration(time.Duration(d)) }

// MarshalText writes the duration as String does (also used by JSON).
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a Go duration string ("200s", "3m", "100ms").
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
