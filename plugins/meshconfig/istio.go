package meshconfig

import (
	"math"
	"slices"
	"strings"

	"meshgym/scenarios"
)

// Istio resources: VirtualService and DestinationRule
// (istio/api networking/v1alpha3/virtual_service.proto,
// destination_rule.proto; served as networking.istio.io/v1 since 1.22),
// EnvoyFilter for the local rate limit, Namespace for injection.

const (
	istioVSDoc = "https://istio.io/latest/docs/reference/config/networking/virtual-service/"
	istioDRDoc = "https://istio.io/latest/docs/reference/config/networking/destination-rule/"
)

type istioVirtualService struct {
	Hosts []string         `yaml:"hosts"`
	HTTP  []istioHTTPRoute `yaml:"http"`
}

type istioHTTPRoute struct {
	Name    string           `yaml:"name,omitempty"`
	Match   []istioMatch     `yaml:"match,omitempty"`
	Route   []istioRouteDest `yaml:"route"`
	Timeout string           `yaml:"timeout,omitempty"`
	Retries *istioRetry      `yaml:"retries,omitempty"`
	Fault   *istioFault      `yaml:"fault,omitempty"`
}

type istioMatch struct {
	Headers map[string]istioStringMatch `yaml:"headers"`
}

type istioStringMatch struct {
	Exact string `yaml:"exact,omitempty"`
	Regex string `yaml:"regex,omitempty"`
}

type istioRouteDest struct {
	Destination istioDest `yaml:"destination"`
	Weight      *int      `yaml:"weight,omitempty"`
}

type istioDest struct {
	Host   string `yaml:"host"`
	Subset string `yaml:"subset,omitempty"`
}

type istioRetry struct {
	Attempts                 int    `yaml:"attempts"`
	PerTryTimeout            string `yaml:"perTryTimeout,omitempty"`
	RetryOn                  string `yaml:"retryOn,omitempty"`
	RetryIgnorePreviousHosts *bool  `yaml:"retryIgnorePreviousHosts,omitempty"`
	Backoff                  string `yaml:"backoff,omitempty"`
}

type istioFault struct {
	Delay *istioDelay `yaml:"delay,omitempty"`
	Abort *istioAbort `yaml:"abort,omitempty"`
}

type istioDelay struct {
	FixedDelay string       `yaml:"fixedDelay"`
	Percentage istioPercent `yaml:"percentage"`
}

type istioAbort struct {
	HTTPStatus int          `yaml:"httpStatus"`
	Percentage istioPercent `yaml:"percentage"`
}

type istioPercent struct {
	Value float64 `yaml:"value"`
}

type istioDestinationRule struct {
	Host          string              `yaml:"host"`
	TrafficPolicy *istioTrafficPolicy `yaml:"trafficPolicy,omitempty"`
	Subsets       []istioSubset       `yaml:"subsets,omitempty"`
}

type istioTrafficPolicy struct {
	ConnectionPool   *istioConnectionPool `yaml:"connectionPool,omitempty"`
	OutlierDetection *istioOutlier        `yaml:"outlierDetection,omitempty"`
	RetryBudget      *istioRetryBudget    `yaml:"retryBudget,omitempty"`
}

type istioConnectionPool struct {
	HTTP istioHTTPPool `yaml:"http"`
}

type istioHTTPPool struct {
	MaxRetries int `yaml:"maxRetries"`
}

type istioOutlier struct {
	Consecutive5xxErrors     int    `yaml:"consecutive5xxErrors"`
	ConsecutiveGatewayErrors int    `yaml:"consecutiveGatewayErrors,omitempty"`
	Interval                 string `yaml:"interval,omitempty"`
	BaseEjectionTime         string `yaml:"baseEjectionTime"`
	MaxEjectionPercent       int    `yaml:"maxEjectionPercent,omitempty"`
	MinHealthPercent         *int   `yaml:"minHealthPercent,omitempty"`
}

type istioRetryBudget struct {
	Percent             float64 `yaml:"percent"`
	MinRetryConcurrency int     `yaml:"minRetryConcurrency"`
}

type istioSubset struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels"`
}

type istioEnvoyFilter struct {
	WorkloadSelector istioWorkloadSelector `yaml:"workloadSelector"`
	ConfigPatches    []istioConfigPatch    `yaml:"configPatches"`
}

type istioWorkloadSelector struct {
	Labels map[string]string `yaml:"labels"`
}

type istioConfigPatch struct {
	ApplyTo string          `yaml:"applyTo"`
	Match   istioPatchMatch `yaml:"match"`
	Patch   istioPatch      `yaml:"patch"`
}

type istioPatchMatch struct {
	Context  string             `yaml:"context"`
	Listener istioListenerMatch `yaml:"listener"`
}

type istioListenerMatch struct {
	FilterChain istioFilterChainMatch `yaml:"filterChain"`
}

type istioFilterChainMatch struct {
	Filter istioFilterMatch `yaml:"filter"`
}

type istioFilterMatch struct {
	Name      string           `yaml:"name"`
	SubFilter *istioNamedMatch `yaml:"subFilter,omitempty"`
}

type istioNamedMatch struct {
	Name string `yaml:"name"`
}

type istioPatch struct {
	Operation string          `yaml:"operation"`
	Value     envoyHTTPFilter `yaml:"value"`
}

// istioAPI is the networking.istio.io version of VirtualService and
// DestinationRule: v1 since Istio 1.22, v1beta1 before.
func (b *builder) istioAPI() string {
	if b.ver.atLeast(1, 22) {
		return "networking.istio.io/v1"
	}
	return "networking.istio.io/v1beta1"
}

func renderIstio(b *builder) {
	if b.p.Sidecar != nil {
		b.add(b.ns+" Namespace", b.namespace(map[string]string{"istio-injection": "enabled"}, nil))
		b.note("namespace label istio-injection=enabled makes the injector add the istio-proxy sidecar to every new pod (https://istio.io/latest/docs/setup/additional-setup/sidecar-injection/)")
	}
	if out := b.optOuts(); len(out) > 0 {
		b.note("%s run without a sidecar: their pods carry the label sidecar.istio.io/inject: \"false\" (https://istio.io/latest/docs/setup/additional-setup/sidecar-injection/)", strings.Join(out, ", "))
	}
	for _, svc := range b.routed() {
		b.istioVirtualService(svc)
	}
	for _, s := range b.topo.Services {
		b.istioDestinationRule(s.Name)
	}
	if rl := b.p.RateLimit; rl != nil {
		cfg, exact := envoyRateLimitConfig(rl)
		m := b.meta(b.kn(rl.Service) + "-local-ratelimit")
		b.add(m.Name+" EnvoyFilter", object{APIVersion: "networking.istio.io/v1alpha3", Kind: "EnvoyFilter", Metadata: m, Spec: istioEnvoyFilter{
			WorkloadSelector: istioWorkloadSelector{Labels: map[string]string{"app": rl.Service}},
			ConfigPatches: []istioConfigPatch{{
				ApplyTo: "HTTP_FILTER",
				Match: istioPatchMatch{Context: "SIDECAR_INBOUND", Listener: istioListenerMatch{FilterChain: istioFilterChainMatch{Filter: istioFilterMatch{
					Name: "envoy.filters.network.http_connection_manager", SubFilter: &istioNamedMatch{Name: "envoy.filters.http.router"}}}}},
				Patch: istioPatch{Operation: "INSERT_BEFORE", Value: envoyHTTPFilter{Name: "envoy.filters.http.local_ratelimit", TypedConfig: cfg}},
			}},
		}})
		b.note("Istio has no rate-limit API: the local rate limit is an EnvoyFilter on the inbound sidecar listener of %s, as in Istio's task (https://istio.io/latest/docs/tasks/policy-enforcement/rate-limit/); EnvoyFilter is break-glass and may need changes across Istio upgrades", rl.Service)
		b.tokenBucketNote(rl, exact)
	}
	b.commonNotes()
	b.rolloutNote("Flagger's Istio provider does this on a cluster by rewriting the VirtualService weights (https://docs.flagger.app/tutorials/istio-progressive-delivery)")
}

// istioVirtualService adds the VirtualService for calls to svc.
func (b *builder) istioVirtualService(svc string) {
	host := b.fqdn(svc)
	r := b.p.Retry(svc)
	t := b.timeout(svc)
	f := b.fault(svc)
	common := func(hr istioHTTPRoute) istioHTTPRoute {
		if t != nil && t.Request > 0 {
			hr.Timeout = dur(t.Request)
		}
		if r != nil {
			hr.Retries = b.istioRetries(r, b.perTry(svc))
		} else if pt := b.perTry(svc); pt > 0 {
			hr.Retries = &istioRetry{Attempts: 0, PerTryTimeout: dur(pt)}
		}
		if f != nil {
			hr.Fault = &istioFault{}
			if d := f.Delay; d != nil {
				hr.Fault.Delay = &istioDelay{FixedDelay: dur(d.Duration), Percentage: istioPercent{Value: d.Percent}}
			}
			if a := f.Abort; a != nil {
				hr.Fault.Abort = &istioAbort{HTTPStatus: a.StatusCode, Percentage: istioPercent{Value: a.Percent}}
			}
		}
		return hr
	}
	var routes []istioHTTPRoute
	if sp := b.split(svc); sp != nil {
		for i, m := range sp.Match {
			hs := map[string]istioStringMatch{}
			for _, h := range headers(m) {
				hs[h.name] = istioStringMatch{Exact: h.value}
			}
			if re := cookieRegex(m); re != "" {
				hs["cookie"] = istioStringMatch{Regex: re}
			}
			routes = append(routes, common(istioHTTPRoute{Name: "match-" + itoa(i+1), Match: []istioMatch{{Headers: hs}},
				Route: []istioRouteDest{{Destination: istioDest{Host: host, Subset: b.kn(m.Version)}}}}))
		}
		w, exact := percentWeights(sp.Targets)
		var dests []istioRouteDest
		for i, tg := range sp.Targets {
			dests = append(dests, istioRouteDest{Destination: istioDest{Host: host, Subset: b.kn(tg.Version)}, Weight: &w[i]})
		}
		routes = append(routes, common(istioHTTPRoute{Name: "split", Route: dests}))
		if !exact {
			b.note("route weights are whole percents summing to 100: %s rounded by largest remainder (%s)", svc, istioVSDoc)
		}
		for i, tg := range sp.Targets {
			if w[i] == 0 {
				b.note("a destination with weight 0 (%s) is dropped from the weighted route by Istio: it gets no traffic (istio pilot route.go)", tg.Version)
			}
		}
		b.matchNotes(sp)
	} else {
		routes = append(routes, common(istioHTTPRoute{Route: []istioRouteDest{{Destination: istioDest{Host: host}}}}))
	}
	m := b.meta(b.kn(svc))
	b.add(m.Name+" VirtualService", object{APIVersion: b.istioAPI(), Kind: "VirtualService", Metadata: m,
		Spec: istioVirtualService{Hosts: []string{host}, HTTP: routes}})

	if t == nil || t.Request == 0 {
		if r != nil || f != nil {
			b.note("no request timeout: Istio sets the route timeout to 0s (disabled), overriding Envoy's 15s (%s)", istioVSDoc)
		}
	}
	if r != nil {
		b.note("retries.attempts %d counts retries: at most %d requests per call to %s; retryOn %q replaces Istio's default list (connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes) (%s)", r.Attempts, r.Attempts+1, svc, strings.Join(r.RetryOn, ","), istioVSDoc)
		if slices.Contains(r.RetryOn, "retriable-status-codes") {
			b.note("retryOn retriable-status-codes needs the codes as integers in retryOn (e.g. \"503,5xx\"); the scenario names none (%s)", istioVSDoc)
		}
		if !b.ver.atLeast(1, 26) {
			if r.BackoffBase > 0 {
				b.unsupported("retries.backoff before Istio 1.26 (backoff "+dur(r.BackoffBase)+")", "Envoy's 25ms base back-off applies; render for istio@1.26 or later ("+istioVSDoc+")")
			}
			if !r.PreferNewHost {
				b.unsupported("retries.retryIgnorePreviousHosts before Istio 1.26", "Istio always adds the previous_hosts predicate, so a retry prefers another host ("+istioVSDoc+")")
			}
		}
	} else if b.perTry(svc) > 0 {
		b.note("perTryTimeout lives in retries; with attempts 0 retries are off and the per-try timeout bounds the single try (%s)", istioVSDoc)
	}
	if f != nil {
		b.note("the fault is injected in the caller's sidecar before routing: an aborted call is never retried; the API says timeouts and retries are not enabled on a route with client-side faults (%s)", istioVSDoc)
	}
	b.perTryRetryNote(svc)
}

func (b *builder) istioRetries(r *scenarios.RetryPolicy, perTry scenarios.Duration) *istioRetry {
	out := &istioRetry{Attempts: r.Attempts, RetryOn: strings.Join(r.RetryOn, ",")}
	if perTry > 0 {
		out.PerTryTimeout = dur(perTry)
	}
	if b.ver.atLeast(1, 26) {
		// true adds Envoy's previous_hosts retry predicate: a retry
		// avoids the hosts already tried (istio pilot route/retry
		// ConvertPolicy; HTTPRetry.retryIgnorePreviousHosts, default true).
		v := r.PreferNewHost
		out.RetryIgnorePreviousHosts = &v
		if r.BackoffBase > 0 {
			out.Backoff = dur(r.BackoffBase)
		}
	}
	return out
}

// istioDestinationRule adds the DestinationRule for svc when it has
// subsets, a breaker or a retry budget.
func (b *builder) istioDestinationRule(svc string) {
	sp := b.split(svc)
	cb := b.breaker(svc)
	bu := b.p.RetryBudget(svc)
	if sp == nil && cb == nil && bu == nil {
		return
	}
	dr := istioDestinationRule{Host: b.fqdn(svc)}
	tp := &istioTrafficPolicy{}
	if cb != nil {
		od := &istioOutlier{Consecutive5xxErrors: cb.ErrorThreshold, BaseEjectionTime: dur(cb.EjectionDuration), ConsecutiveGatewayErrors: cb.ConsecutiveGatewayErrors,
			MaxEjectionPercent: maxEjectionPercent(cb)}
		if cb.Interval > 0 {
			od.Interval = dur(cb.Interval)
		}
		if cb.HealthyPanicThreshold != nil {
			v := int(math.Round(*cb.HealthyPanicThreshold))
			od.MinHealthPercent = &v
		}
		tp.OutlierDetection = od
		b.breakerNotes(cb, "maxEjectionPercent")
		if cb.MaxEjectionTime > 0 && cb.MaxEjectionTime.D().Seconds() == 300 {
			b.note("maxEjectionTime 300s is Envoy's default, which Istio keeps (outlierDetection has no such field) (%s)", istioDRDoc)
		} else if cb.MaxEjectionTime > 0 {
			b.unsupported("maxEjectionTime ("+dur(cb.MaxEjectionTime)+")", "outlierDetection has no such field, Envoy's max_ejection_time default 300s applies ("+istioDRDoc+")")
		}
		if cb.HealthyPanicThreshold == nil {
			b.note("minHealthPercent unset: with outlierDetection Istio sets Envoy's healthy_panic_threshold to 0, so panic mode is off (istio cluster_traffic_policy.go; %s)", istioDRDoc)
		}
		b.note("success-rate outlier detection stays off (Istio sets enforcing_success_rate 0); outlierDetection also turns on locality failover (%s)", istioDRDoc)
	}
	if bu != nil {
		switch bu.Kind {
		case scenarios.BudgetEnvoy:
			if b.ver.atLeast(1, 27) {
				tp.RetryBudget = &istioRetryBudget{Percent: bu.BudgetPercent, MinRetryConcurrency: bu.MinRetryConcurrency}
				b.note("trafficPolicy.retryBudget (Istio 1.27+) is Envoy's retry_budget: retries in flight to %s ≤ max(%d, %s%% of active requests) per caller sidecar (%s)", svc, bu.MinRetryConcurrency, num(bu.BudgetPercent), istioDRDoc)
			} else {
				b.unsupported("trafficPolicy.retryBudget before Istio 1.27", "the nearest is connectionPool.http.maxRetries (a fixed cap on concurrent retries); render for istio@1.27 or later ("+istioDRDoc+")")
			}
		case scenarios.BudgetMaxRetries:
			tp.ConnectionPool = &istioConnectionPool{HTTP: istioHTTPPool{MaxRetries: bu.MaxConcurrentRetries}}
		case scenarios.BudgetNone:
			b.note("retry budget none needs nothing: Istio sets every connection-pool limit, max_retries included, to 2^32−1 (%s)", istioDRDoc)
		case scenarios.BudgetLinkerd:
			b.unsupported("a Linkerd-style retry budget (retry ratio over a TTL window)", "Istio limits concurrent retries only: trafficPolicy.retryBudget (1.27+) or connectionPool.http.maxRetries ("+istioDRDoc+")")
		}
	}
	if tp.OutlierDetection != nil || tp.ConnectionPool != nil || tp.RetryBudget != nil {
		dr.TrafficPolicy = tp
	}
	if sp != nil {
		for _, v := range b.service(svc).Versions {
			dr.Subsets = append(dr.Subsets, istioSubset{Name: b.kn(v.Name), Labels: map[string]string{"version": v.Name}})
		}
	}
	if dr.TrafficPolicy == nil && dr.Subsets == nil {
		return
	}
	m := b.meta(b.kn(svc))
	b.add(m.Name+" DestinationRule", object{APIVersion: b.istioAPI(), Kind: "DestinationRule", Metadata: m, Spec: dr})
}

func itoa(i int) string { return num(float64(i)) }
