package dataplane

import "time"

// Config is the whole configuration the control plane pushes to one sidecar
// (PUT /config on its admin port). Listeners are fixed by flags at start;
// Config sets what each outbound listener routes to and with which policy.
// A push replaces the previous Config atomically; requests in flight finish
// under the Config they started with.
type Config struct {
	// Version increases with every push; the sidecar reports it in GET /config.
	Version int64 `json:"version"`
	// Clusters maps an upstream service name (the name given in
	// --outbound NAME=ADDR) to its cluster.
	Clusters map[string]Cluster `json:"clusters"`
	// Inbound holds policies of the inbound listener (nil = none).
	Inbound *InboundPolicy `json:"inbound,omitempty"`
}

// Cluster is an upstream service as Envoy models it: a set of endpoints, a
// load-balancing policy and an optional retry policy.
type Cluster struct {
	// Name of the upstream service, e.g. "currency".
	Name string `json:"name"`
	// Endpoints are the service's instances. Each is addressed at its own
	// sidecar's inbound listener.
	Endpoints []Endpoint `json:"endpoints"`
	// LBPolicy is "round_robin" (Envoy's default ROUND_ROBIN,
	// https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/cluster.proto),
	// "random", "least_request" (Envoy's LEAST_REQUEST, power of two
	// choices over active requests; Istio's default) or "peak_ewma"
	// (Linkerd's power of two choices over a Peak-EWMA latency cost); see
	// lb.go. Empty means round_robin.
	LBPolicy string `json:"lb_policy,omitempty"`
	// LBChoiceCount is least_request's choice_count: how many random
	// endpoints are compared per pick (Envoy LeastRequestLbConfig; 0 =
	// default 2; otherwise 2 or more). Only with lb_policy least_request.
	LBChoiceCount int `json:"lb_choice_count,omitempty"`
	// EWMA sets peak_ewma's estimator (nil = Linkerd's defaults: default
	// RTT 30 ms, decay 10 s). Only with lb_policy peak_ewma.
	EWMA *EWMAConfig `json:"ewma,omitempty"`
	// Retry is nil when the route has no retry policy: then no retry happens
	// at all (Envoy does no retries without a retry_policy).
	Retry *RetryPolicy `json:"retry,omitempty"`
	// Routes split or steer requests to versions (empty = plain LB over
	// all endpoints).
	Routes []Route `json:"routes,omitempty"`
	// Timeout is the route timeout: it covers the whole request, retries
	// and back-off included; when it fires the caller gets 504 and no
	// further retry happens (Envoy RouteAction.timeout). 0 = none. As in
	// Envoy it starts at the router, after a fault delay (timeout.go).
	Timeout time.Duration `json:"timeout,omitempty"`
	// Outlier ejects failing endpoints (nil = off).
	Outlier *OutlierDetection `json:"outlier,omitempty"`
	// Fault injects aborts and delays on calls to this cluster (nil = off).
	Fault *Fault `json:"fault,omitempty"`
	// MaxRetries caps concurrent retries on the cluster, Envoy's circuit
	// breaker max_retries (Envoy default 3 when a circuit breaker is
	// configured); 0 = no cap. Over the cap a retry is not made and the
	// caller gets the failed response (flag UO).
	MaxRetries int `json:"max_retries,omitempty"`
	// RetryBudget limits retries across the cluster (nil = none); when set
	// it overrides MaxRetries, as in Envoy.
	RetryBudget *RetryBudget `json:"retry_budget,omitempty"`
}

// Endpoint is one instance of an upstream service.
type Endpoint struct {
	// Name is the component name of the instance, e.g. "currency_v2"
	// (several instances of one version share the name).
	Name string `json:"name"`
	// Address is host:port of the endpoint's inbound listener.
	Address string `json:"address"`
}

// RetryPolicy follows Envoy's route retry_policy
// (https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/router_filter#x-envoy-retry-on
// and route_components.proto RetryPolicy).
type RetryPolicy struct {
	// NumRetries is the maximum number of retries after the first attempt.
	// Envoy's default when a policy exists is 1; the builtin control plane
	// always fills it explicitly.
	NumRetries int `json:"num_retries"`
	// RetryOn lists Envoy retry_on tokens: "5xx", "gateway-error", "reset",
	// "connect-failure", "retriable-4xx", "retriable-status-codes".
	RetryOn []string `json:"retry_on"`
	// RetriableStatusCodes are used with "retriable-status-codes".
	RetriableStatusCodes []int `json:"retriable_status_codes,omitempty"`
	// PerTryTimeout bounds each attempt; 0 = none. When it fires the attempt
	// counts as a 504 and is retried only under 5xx, gateway-error or reset.
	PerTryTimeout time.Duration `json:"per_try_timeout,omitempty"`
	// BackoffBase is the base interval of Envoy's jittered exponential
	// back-off (default 25 ms); BackoffMax its cap (default 10× base).
	BackoffBase time.Duration `json:"backoff_base,omitempty"`
	BackoffMax  time.Duration `json:"backoff_max,omitempty"`
	// PreviousHosts enables Envoy's previous_hosts retry host predicate: a
	// retry re-picks (through the load balancer) when it lands on a host
	// already tried, at most HostSelectionMaxAttempts times (Envoy default 1).
	PreviousHosts            bool `json:"previous_hosts,omitempty"`
	HostSelectionMaxAttempts int  `json:"host_selection_retry_max_attempts,omitempty"`
}
