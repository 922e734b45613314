package meshconfig

import (
	"fmt"
	"math"
	"strings"

	"meshgym/scenarios"
)

// Raw Envoy v3 xDS resources in proto-JSON field names
// (https://www.envoyproxy.io/docs/envoy/latest/api-v3/api): each document
// is one resource with its "@type", as an xDS server (or a file-based
// dynamic config) serves it.

const (
	typeRouteConfiguration = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
	typeCluster            = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	typeHCM                = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
	typeRouter             = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
	typeFault              = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"
	typeLocalRateLimit     = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"
	typePreviousHosts      = "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
)

type envoyRouteConfiguration struct {
	Type         string             `yaml:"@type"`
	Name         string             `yaml:"name"`
	VirtualHosts []envoyVirtualHost `yaml:"virtual_hosts"`
}

type envoyVirtualHost struct {
	Name    string       `yaml:"name"`
	Domains []string     `yaml:"domains"`
	Routes  []envoyRoute `yaml:"routes"`
}

type envoyRoute struct {
	Match envoyRouteMatch  `yaml:"match"`
	Route envoyRouteAction `yaml:"route"`
}

type envoyRouteMatch struct {
	Prefix  string               `yaml:"prefix"`
	Headers []envoyHeaderMatcher `yaml:"headers,omitempty"`
}

type envoyHeaderMatcher struct {
	Name        string             `yaml:"name"`
	StringMatch envoyStringMatcher `yaml:"string_match"`
}

type envoyStringMatcher struct {
	Exact     string      `yaml:"exact,omitempty"`
	SafeRegex *envoyRegex `yaml:"safe_regex,omitempty"`
}

type envoyRegex struct {
	Regex string `yaml:"regex"`
}

type envoyRouteAction struct {
	Cluster          string                 `yaml:"cluster,omitempty"`
	WeightedClusters *envoyWeightedClusters `yaml:"weighted_clusters,omitempty"`
	Timeout          string                 `yaml:"timeout,omitempty"`
	RetryPolicy      *envoyRetryPolicy      `yaml:"retry_policy,omitempty"`
}

type envoyWeightedClusters struct {
	Clusters []envoyClusterWeight `yaml:"clusters"`
}

type envoyClusterWeight struct {
	Name   string `yaml:"name"`
	Weight int    `yaml:"weight"`
}

type envoyRetryPolicy struct {
	RetryOn            string                `yaml:"retry_on"`
	NumRetries         int                   `yaml:"num_retries"`
	PerTryTimeout      string                `yaml:"per_try_timeout,omitempty"`
	RetryBackOff       *envoyBackOff         `yaml:"retry_back_off,omitempty"`
	RetryHostPredicate []envoyTypedExtension `yaml:"retry_host_predicate,omitempty"`
}

type envoyBackOff struct {
	BaseInterval string `yaml:"base_interval"`
	MaxInterval  string `yaml:"max_interval"`
}

type envoyTypedExtension struct {
	Name        string   `yaml:"name"`
	TypedConfig envoyAny `yaml:"typed_config"`
}

type envoyAny struct {
	Type string `yaml:"@type"`
}

type envoyCluster struct {
	Type             string                `yaml:"@type"`
	Name             string                `yaml:"name"`
	ClusterType      string                `yaml:"type"`
	EdsClusterConfig envoyEDSConfig        `yaml:"eds_cluster_config"`
	ConnectTimeout   string                `yaml:"connect_timeout"`
	LbPolicy         string                `yaml:"lb_policy"`
	CircuitBreakers  *envoyCircuitBreakers `yaml:"circuit_breakers,omitempty"`
	OutlierDetection *envoyOutlier         `yaml:"outlier_detection,omitempty"`
	CommonLbConfig   *envoyCommonLbConfig  `yaml:"common_lb_config,omitempty"`
}

type envoyEDSConfig struct {
	EdsConfig envoyConfigSource `yaml:"eds_config"`
}

type envoyConfigSource struct {
	Ads                struct{} `yaml:"ads"`
	ResourceAPIVersion string   `yaml:"resource_api_version"`
}

type envoyCircuitBreakers struct {
	Thresholds []envoyThreshold `yaml:"thresholds"`
}

type envoyThreshold struct {
	Priority    string            `yaml:"priority"`
	MaxRetries  *uint32           `yaml:"max_retries,omitempty"`
	RetryBudget *envoyRetryBudget `yaml:"retry_budget,omitempty"`
}

type envoyRetryBudget struct {
	BudgetPercent       envoyPercent `yaml:"budget_percent"`
	MinRetryConcurrency int          `yaml:"min_retry_concurrency"`
}

type envoyPercent struct {
	Value float64 `yaml:"value"`
}

type envoyOutlier struct {
	Consecutive5xx                     int    `yaml:"consecutive_5xx"`
	ConsecutiveGatewayFailure          int    `yaml:"consecutive_gateway_failure,omitempty"`
	EnforcingConsecutiveGatewayFailure int    `yaml:"enforcing_consecutive_gateway_failure,omitempty"`
	Interval                           string `yaml:"interval,omitempty"`
	BaseEjectionTime                   string `yaml:"base_ejection_time"`
	MaxEjectionTime                    string `yaml:"max_ejection_time,omitempty"`
	MaxEjectionPercent                 int    `yaml:"max_ejection_percent,omitempty"`
}

type envoyCommonLbConfig struct {
	HealthyPanicThreshold envoyPercent `yaml:"healthy_panic_threshold"`
}

type envoyHCM struct {
	Type        string            `yaml:"@type"`
	StatPrefix  string            `yaml:"stat_prefix"`
	Rds         envoyRds          `yaml:"rds"`
	HTTPFilters []envoyHTTPFilter `yaml:"http_filters"`
}

type envoyRds struct {
	RouteConfigName string            `yaml:"route_config_name"`
	ConfigSource    envoyConfigSource `yaml:"config_source"`
}

type envoyHTTPFilter struct {
	Name        string `yaml:"name"`
	TypedConfig any    `yaml:"typed_config"`
}

type envoyFault struct {
	Type  string           `yaml:"@type"`
	Delay *envoyFaultDelay `yaml:"delay,omitempty"`
	Abort *envoyFaultAbort `yaml:"abort,omitempty"`
}

type envoyFaultDelay struct {
	FixedDelay string        `yaml:"fixed_delay"`
	Percentage envoyFraction `yaml:"percentage"`
}

type envoyFaultAbort struct {
	HTTPStatus int           `yaml:"http_status"`
	Percentage envoyFraction `yaml:"percentage"`
}

type envoyFraction struct {
	Numerator   int    `yaml:"numerator"`
	Denominator string `yaml:"denominator"`
}

type envoyLocalRateLimit struct {
	Type           string               `yaml:"@type"`
	StatPrefix     string               `yaml:"stat_prefix"`
	Status         *envoyHTTPStatus     `yaml:"status,omitempty"`
	TokenBucket    envoyTokenBucket     `yaml:"token_bucket"`
	FilterEnabled  envoyRuntimeFraction `yaml:"filter_enabled"`
	FilterEnforced envoyRuntimeFraction `yaml:"filter_enforced"`
}

type envoyHTTPStatus struct {
	Code int `yaml:"code"`
}

type envoyTokenBucket struct {
	MaxTokens     int    `yaml:"max_tokens"`
	TokensPerFill int    `yaml:"tokens_per_fill"`
	FillInterval  string `yaml:"fill_interval"`
}

type envoyRuntimeFraction struct {
	RuntimeKey   string        `yaml:"runtime_key"`
	DefaultValue envoyFraction `yaml:"default_value"`
}

// fraction turns a percent (0–100) into an Envoy FractionalPercent: over
// HUNDRED when whole, TEN_THOUSAND or MILLION otherwise.
func fraction(percent float64) envoyFraction {
	for _, d := range []struct {
		scale float64
		name  string
	}{{1, "HUNDRED"}, {100, "TEN_THOUSAND"}} {
		v := percent * d.scale
		if math.Abs(v-math.Round(v)) < 1e-9 {
			return envoyFraction{Numerator: int(math.Round(v)), Denominator: d.name}
		}
	}
	return envoyFraction{Numerator: int(math.Round(percent * 10000)), Denominator: "MILLION"}
}

// envoyRetry is the route retry_policy of a scenario retry policy
// (route_components.proto RetryPolicy); perTry may be 0.
func envoyRetry(r *scenarios.RetryPolicy, perTry scenarios.Duration) *envoyRetryPolicy {
	rp := &envoyRetryPolicy{RetryOn: strings.Join(r.RetryOn, ","), NumRetries: r.Attempts}
	if perTry > 0 {
		rp.PerTryTimeout = protoDur(perTry.D())
	}
	if r.BackoffBase > 0 {
		rp.RetryBackOff = &envoyBackOff{BaseInterval: protoDur(r.BackoffBase.D()), MaxInterval: protoDur(10 * r.BackoffBase.D())}
	}
	if r.PreferNewHost {
		rp.RetryHostPredicate = []envoyTypedExtension{{Name: "envoy.retry_host_predicates.previous_hosts", TypedConfig: envoyAny{Type: typePreviousHosts}}}
	}
	return rp
}

// envoyFaultConfig is the HTTPFault of a scenario fault policy.
func envoyFaultConfig(f *scenarios.FaultPolicy) envoyFault {
	out := envoyFault{Type: typeFault}
	if d := f.Delay; d != nil {
		out.Delay = &envoyFaultDelay{FixedDelay: protoDur(d.Duration.D()), Percentage: fraction(d.Percent)}
	}
	if a := f.Abort; a != nil {
		out.Abort = &envoyFaultAbort{HTTPStatus: a.StatusCode, Percentage: fraction(a.Percent)}
	}
	return out
}

// envoyRateLimitConfig is the LocalRateLimit of a scenario rate limit; the
// bool says whether the token bucket is exact (see tokenBucket).
func envoyRateLimitConfig(rl *scenarios.RateLimitPolicy) (envoyLocalRateLimit, bool) {
	maxT, perFill, fill, exact := tokenBucket(rl.RequestsPerSecond, rl.Burst)
	all := envoyFraction{Numerator: 100, Denominator: "HUNDRED"}
	out := envoyLocalRateLimit{
		Type:           typeLocalRateLimit,
		StatPrefix:     "http_local_rate_limiter",
		TokenBucket:    envoyTokenBucket{MaxTokens: maxT, TokensPerFill: perFill, FillInterval: protoDur(fill)},
		FilterEnabled:  envoyRuntimeFraction{RuntimeKey: "local_rate_limit_enabled", DefaultValue: all},
		FilterEnforced: envoyRuntimeFraction{RuntimeKey: "local_rate_limit_enforced", DefaultValue: all},
	}
	if rl.StatusCode != 0 && rl.StatusCode != 429 {
		out.Status = &envoyHTTPStatus{Code: rl.StatusCode}
	}
	return out, exact
}

// tokenBucketNote explains the token bucket a rate limit became.
func (b *builder) tokenBucketNote(rl *scenarios.RateLimitPolicy, exact bool) {
	maxT, perFill, fill, _ := tokenBucket(rl.RequestsPerSecond, rl.Burst)
	if exact {
		b.note("%s req/s with a burst of %d is a token bucket of max_tokens %d refilled %d every %s (tokens_per_fill ≤ max_tokens keeps the rate exact; https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/local_rate_limit_filter)",
			num(rl.RequestsPerSecond), rl.Burst, maxT, perFill, protoDur(fill))
	} else {
		b.note("%s req/s with a burst of %d has no exact Envoy token bucket (fill_interval ≥ 50ms in whole ms): rendered as %d tokens per %s, bucket %d", num(rl.RequestsPerSecond), rl.Burst, perFill, protoDur(fill), maxT)
	}
}

func adsSource() envoyConfigSource { return envoyConfigSource{ResourceAPIVersion: "V3"} }

// envoyClusterFor is an EDS cluster named name with the breaker, retry
// budget and panic threshold of calls to service.
func (b *builder) envoyClusterFor(name, service string) envoyCluster {
	c := envoyCluster{Type: typeCluster, Name: name, ClusterType: "EDS", EdsClusterConfig: envoyEDSConfig{EdsConfig: adsSource()},
		ConnectTimeout: "5s", LbPolicy: "ROUND_ROBIN"}
	if cb := b.breaker(service); cb != nil {
		od := &envoyOutlier{Consecutive5xx: cb.ErrorThreshold, BaseEjectionTime: protoDur(cb.EjectionDuration.D())}
		if cb.Interval > 0 {
			od.Interval = protoDur(cb.Interval.D())
		}
		if cb.MaxEjectionTime > 0 {
			od.MaxEjectionTime = protoDur(cb.MaxEjectionTime.D())
		}
		if cb.ConsecutiveGatewayErrors > 0 {
			od.ConsecutiveGatewayFailure = cb.ConsecutiveGatewayErrors
			od.EnforcingConsecutiveGatewayFailure = 100
		}
		od.MaxEjectionPercent = maxEjectionPercent(cb)
		c.OutlierDetection = od
		if cb.HealthyPanicThreshold != nil {
			c.CommonLbConfig = &envoyCommonLbConfig{HealthyPanicThreshold: envoyPercent{Value: *cb.HealthyPanicThreshold}}
		}
	}
	if bu := b.p.RetryBudget(service); bu != nil {
		switch bu.Kind {
		case scenarios.BudgetEnvoy:
			c.CircuitBreakers = &envoyCircuitBreakers{Thresholds: []envoyThreshold{{Priority: "DEFAULT",
				RetryBudget: &envoyRetryBudget{BudgetPercent: envoyPercent{Value: bu.BudgetPercent}, MinRetryConcurrency: bu.MinRetryConcurrency}}}}
		case scenarios.BudgetMaxRetries:
			n := uint32(bu.MaxConcurrentRetries)
			c.CircuitBreakers = &envoyCircuitBreakers{Thresholds: []envoyThreshold{{Priority: "DEFAULT", MaxRetries: &n}}}
		case scenarios.BudgetNone:
			n := uint32(math.MaxUint32)
			c.CircuitBreakers = &envoyCircuitBreakers{Thresholds: []envoyThreshold{{Priority: "DEFAULT", MaxRetries: &n}}}
		}
	}
	return c
}

// maxEjectionPercent is the cap to render for a breaker: what the scenario
// wrote, 0 (unset: the mesh's default, 10% in Envoy) when it wrote none —
// also for the book's breakers, so the resources say what the builtin
// plugin's mesh profiles simulate; a note tells how to get the book's
// uncapped behaviour.
func maxEjectionPercent(cb *scenarios.CircuitBreakerPolicy) int {
	return int(math.Round(cb.MaxEjectionPercent))
}

// breakerNotes adds the notes every Envoy-based mesh shares for a breaker
// mapped on outlier detection; knob names the mesh's cap field.
func (b *builder) breakerNotes(cb *scenarios.CircuitBreakerPolicy, knob string) {
	hosts := 0
	for _, v := range b.service(cb.Service).Versions {
		hosts += v.Instances
	}
	switch {
	case cb.Algorithm != scenarios.BreakerEnvoy && cb.MaxEjectionPercent == 0 && hosts < 10:
		b.note("%s is not given, so the default 10%% applies: with the %[3]d endpoints of %[2]s (< 10) nothing is ever ejected on current Envoy, unlike the book's breaker, which has no cap; set circuitBreaker.maxEjectionPercent: 100 to eject as the book does (https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/outlier_detection.proto)", knob, cb.Service, hosts)
	case cb.MaxEjectionPercent == 0 && hosts < 10:
		b.note("%s is not given, so the default 10%% applies: with the %[3]d endpoints of %[2]s (< 10) nothing is ever ejected on current Envoy; set circuitBreaker.maxEjectionPercent (https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/outlier_detection.proto)", knob, cb.Service, hosts)
	}
	switch cb.Algorithm {
	case scenarios.BreakerBook:
		b.note("the book's breaker (eject for exactly %s, then back with its count reset) maps to outlier detection, which differs: the ejection time grows (%s × times ejected, up to max_ejection_time 300s) and an endpoint returns only on an interval tick (10s default) (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/outlier)", dur(cb.EjectionDuration), dur(cb.EjectionDuration))
	case scenarios.BreakerBookHalfOpen:
		b.note("the book's half-open breaker has no outlier-detection equivalent: after the ejection the endpoint returns fully (no single probe), ejection time grows (%s × times ejected), returns happen on interval ticks (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/outlier)", dur(cb.EjectionDuration))
	}
}

func renderEnvoy(b *builder) {
	for _, svc := range b.routed() {
		b.envoyRoute(svc)
	}
	for _, s := range b.topo.Services {
		svc := s.Name
		needs := b.breaker(svc) != nil || b.p.RetryBudget(svc) != nil
		if sp := b.split(svc); sp != nil {
			for _, v := range b.service(svc).Versions {
				b.add(v.Name+" Cluster", b.envoyClusterFor(v.Name, svc))
			}
		} else if needs {
			b.add(svc+" Cluster", b.envoyClusterFor(svc, svc))
		}
		if cb := b.breaker(svc); cb != nil {
			b.breakerNotes(cb, "max_ejection_percent")
			if cb.HealthyPanicThreshold == nil {
				b.note("healthy_panic_threshold is Envoy's 50%%: below half of the endpoints of %s healthy, the load balancer ignores ejections (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/panic_threshold)", svc)
			}
		}
		if bu := b.p.RetryBudget(svc); bu != nil {
			switch bu.Kind {
			case scenarios.BudgetLinkerd:
				b.unsupported("a Linkerd-style retry budget (retry ratio over a TTL window)", "Envoy limits concurrent retries: retry_budget (percent of active requests) or max_retries (https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/circuit_breaker.proto)")
			case scenarios.BudgetNone:
				b.note("retry budget none is max_retries 4294967295 on %s (as Istio sets it); Envoy's own default is 3 concurrent retries per cluster (https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/circuit_breaker.proto)", svc)
			case scenarios.BudgetEnvoy:
				b.note("retry_budget overrides max_retries; retries in flight on %s ≤ max(%d, %s%% of active + pending requests) (https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/circuit_breaker.proto)", svc, bu.MinRetryConcurrency, num(bu.BudgetPercent))
			}
		}
	}
	for _, svc := range b.routed() {
		f := b.fault(svc)
		if f == nil {
			continue
		}
		for _, caller := range b.callers(svc) {
			b.add(fmt.Sprintf("%s → %s outbound HttpConnectionManager", caller, svc), envoyHCM{Type: typeHCM, StatPrefix: "outbound_" + svc,
				Rds:         envoyRds{RouteConfigName: svc, ConfigSource: adsSource()},
				HTTPFilters: []envoyHTTPFilter{{Name: "envoy.filters.http.fault", TypedConfig: envoyFaultConfig(f)}, {Name: "envoy.filters.http.router", TypedConfig: envoyAny{Type: typeRouter}}}})
		}
		b.note("the fault filter runs before the router, so an aborted request is never retried; delay and abort are drawn independently (https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/fault_filter)")
	}
	if rl := b.p.RateLimit; rl != nil {
		cfg, exact := envoyRateLimitConfig(rl)
		b.add(rl.Service+" inbound HttpConnectionManager", envoyHCM{Type: typeHCM, StatPrefix: "inbound_" + rl.Service,
			Rds:         envoyRds{RouteConfigName: "inbound_" + rl.Service, ConfigSource: adsSource()},
			HTTPFilters: []envoyHTTPFilter{{Name: "envoy.filters.http.local_ratelimit", TypedConfig: cfg}, {Name: "envoy.filters.http.router", TypedConfig: envoyAny{Type: typeRouter}}}})
		b.tokenBucketNote(rl, exact)
		b.note("the local rate limit is per Envoy: each instance of %s admits %s req/s; a limited request gets %d and the x-envoy-ratelimited header (https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/local_rate_limit_filter)", rl.Service, num(rl.RequestsPerSecond), statusOr429(rl.StatusCode))
	}
	if b.p.Sidecar != nil {
		b.note("the sidecar pattern is the deployment itself: one Envoy per instance with an inbound listener in front of the app and one outbound listener per upstream; there is no resource to add (https://www.envoyproxy.io/docs/envoy/latest/intro/deployment_types/service_to_service)")
	}
	b.rolloutNote("an xDS server pushes each step's weighted_clusters")
}

// envoyRoute adds the RouteConfiguration that callers of svc use.
func (b *builder) envoyRoute(svc string) {
	r := b.p.Retry(svc)
	t := b.timeout(svc)
	action := func() envoyRouteAction {
		a := envoyRouteAction{}
		if t != nil && t.Request > 0 {
			a.Timeout = protoDur(t.Request.D())
		}
		if r != nil {
			a.RetryPolicy = envoyRetry(r, b.perTry(svc))
		}
		return a
	}
	var routes []envoyRoute
	if sp := b.split(svc); sp != nil {
		for _, m := range sp.Match {
			var hs []envoyHeaderMatcher
			for _, h := range headers(m) {
				hs = append(hs, envoyHeaderMatcher{Name: h.name, StringMatch: envoyStringMatcher{Exact: h.value}})
			}
			if re := cookieRegex(m); re != "" {
				hs = append(hs, envoyHeaderMatcher{Name: "cookie", StringMatch: envoyStringMatcher{SafeRegex: &envoyRegex{Regex: re}}})
			}
			a := action()
			a.Cluster = m.Version
			routes = append(routes, envoyRoute{Match: envoyRouteMatch{Prefix: "/", Headers: hs}, Route: a})
		}
		a := action()
		w := relWeights(sp.Targets)
		wc := &envoyWeightedClusters{}
		for i, tg := range sp.Targets {
			wc.Clusters = append(wc.Clusters, envoyClusterWeight{Name: tg.Version, Weight: w[i]})
		}
		a.WeightedClusters = wc
		routes = append(routes, envoyRoute{Match: envoyRouteMatch{Prefix: "/"}, Route: a})
		b.matchNotes(sp)
		b.note("weighted_clusters picks a cluster at random per request (not round-robin); weights are relative (https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto)")
	} else {
		a := action()
		a.Cluster = svc
		routes = append(routes, envoyRoute{Match: envoyRouteMatch{Prefix: "/"}, Route: a})
	}
	b.add(svc+" RouteConfiguration", envoyRouteConfiguration{Type: typeRouteConfiguration, Name: svc,
		VirtualHosts: []envoyVirtualHost{{Name: svc, Domains: []string{"*"}, Routes: routes}}})
	if t == nil || t.Request == 0 {
		b.note("route timeout not set: Envoy's default of 15s applies to calls to %s (0s disables it) (https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto)", svc)
	}
	if r != nil {
		b.note("num_retries %d counts retries: at most %d requests to %s per call; the route timeout covers every try and back-off (https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/router_filter)", r.Attempts, r.Attempts+1, svc)
		if r.BackoffBase == 0 {
			b.note("no backoffBase: Envoy still waits a jittered 25ms base back-off (max 250ms) between tries (https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/router_filter)")
		}
	}
	b.perTryRetryNote(svc)
}

func statusOr429(code int) int {
	if code == 0 {
		return 429
	}
	return code
}
