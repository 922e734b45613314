package meshconfig

import (
	"math"
	"strconv"
	"strings"

	"meshgym/scenarios"
)

// Consul config entries as the consul-k8s CRDs (consul.hashicorp.com/v1alpha1
// ServiceDefaults, ServiceResolver, ServiceRouter, ServiceSplitter; field
// names from consul-k8s control-plane/api/v1alpha1/*_types.go and
// https://developer.hashicorp.com/consul/docs/connect/config-entries).

const (
	consulAPI         = "consul.hashicorp.com/v1alpha1"
	consulRouterDoc   = "https://developer.hashicorp.com/consul/docs/connect/config-entries/service-router"
	consulDefaultsDoc = "https://developer.hashicorp.com/consul/docs/connect/config-entries/service-defaults"
)

type consulServiceDefaults struct {
	Protocol       string            `yaml:"protocol"`
	UpstreamConfig *consulUpstreams  `yaml:"upstreamConfig,omitempty"`
	RateLimits     *consulRateLimits `yaml:"rateLimits,omitempty"`
}

type consulUpstreams struct {
	Overrides []consulUpstream `yaml:"overrides"`
}

type consulUpstream struct {
	Name               string                    `yaml:"name"`
	Namespace          string                    `yaml:"namespace,omitempty"`
	PassiveHealthCheck *consulPassiveHealthCheck `yaml:"passiveHealthCheck,omitempty"`
}

type consulPassiveHealthCheck struct {
	Interval                string `yaml:"interval,omitempty"`
	MaxFailures             int    `yaml:"maxFailures"`
	EnforcingConsecutive5xx int    `yaml:"enforcingConsecutive5xx"`
	MaxEjectionPercent      int    `yaml:"maxEjectionPercent,omitempty"`
	BaseEjectionTime        string `yaml:"baseEjectionTime"`
}

type consulRateLimits struct {
	InstanceLevel consulInstanceLevel `yaml:"instanceLevel"`
}

type consulInstanceLevel struct {
	RequestsPerSecond int `yaml:"requestsPerSecond"`
	RequestsMaxBurst  int `yaml:"requestsMaxBurst,omitempty"`
}

type consulServiceResolver struct {
	Subsets map[string]consulSubset `yaml:"subsets"`
}

type consulSubset struct {
	Filter string `yaml:"filter"`
}

type consulServiceRouter struct {
	Routes []consulRoute `yaml:"routes"`
}

type consulRoute struct {
	Match       consulRouteMatch       `yaml:"match"`
	Destination consulRouteDestination `yaml:"destination"`
}

type consulRouteMatch struct {
	HTTP consulHTTPMatch `yaml:"http"`
}

type consulHTTPMatch struct {
	PathPrefix string              `yaml:"pathPrefix,omitempty"`
	Header     []consulHeaderMatch `yaml:"header,omitempty"`
}

type consulHeaderMatch struct {
	Name  string `yaml:"name"`
	Exact string `yaml:"exact,omitempty"`
	Regex string `yaml:"regex,omitempty"`
}

type consulRouteDestination struct {
	ServiceSubset         string   `yaml:"serviceSubset,omitempty"`
	RequestTimeout        string   `yaml:"requestTimeout,omitempty"`
	NumRetries            int      `yaml:"numRetries,omitempty"`
	RetryOnConnectFailure bool     `yaml:"retryOnConnectFailure,omitempty"`
	RetryOn               []string `yaml:"retryOn,omitempty"`
}

type consulServiceSplitter struct {
	Splits []consulSplit `yaml:"splits"`
}

type consulSplit struct {
	Weight        any    `yaml:"weight"`
	ServiceSubset string `yaml:"serviceSubset"`
}

func renderConsul(b *builder) {
	// ServiceDefaults: one per service that needs one, merged.
	defaults := map[string]*consulServiceDefaults{}
	get := func(svc string) *consulServiceDefaults {
		d := defaults[svc]
		if d == nil {
			d = &consulServiceDefaults{Protocol: "http"}
			if sc := b.p.Sidecar; sc != nil && sc.Protocol != "" {
				d.Protocol = sc.Protocol
			}
			defaults[svc] = d
		}
		return d
	}
	if b.p.Sidecar != nil {
		for _, s := range b.topo.Services {
			get(s.Name)
		}
		b.note("sidecar injection is per pod: meshgym's Deployments carry the annotation consul.hashicorp.com/connect-inject: \"true\" (or Helm connectInject.default=true); ServiceDefaults set the protocol the sidecars proxy (https://developer.hashicorp.com/consul/docs/k8s/connect)")
	}
	if out := b.optOuts(); len(out) > 0 {
		b.note("%s run without a sidecar: their pods carry consul.hashicorp.com/connect-inject: \"false\" (https://developer.hashicorp.com/consul/docs/k8s/connect)", strings.Join(out, ", "))
	}
	for _, svc := range b.routed() {
		if b.p.Retry(svc) != nil || b.timeout(svc) != nil || b.split(svc) != nil {
			get(svc)
		}
	}
	if cb := b.p.CircuitBreaker; cb != nil {
		get(cb.Service)
		for _, caller := range b.callers(cb.Service) {
			d := get(caller)
			phc := &consulPassiveHealthCheck{MaxFailures: cb.ErrorThreshold, EnforcingConsecutive5xx: 100, BaseEjectionTime: dur(cb.EjectionDuration),
				MaxEjectionPercent: maxEjectionPercent(cb)}
			if cb.Interval > 0 {
				phc.Interval = dur(cb.Interval)
			}
			d.UpstreamConfig = &consulUpstreams{Overrides: []consulUpstream{{Name: b.kn(cb.Service), PassiveHealthCheck: phc}}}
		}
		b.note("the breaker is the callers' passive health check: upstreamConfig.overrides in %s's ServiceDefaults (maxFailures → Envoy consecutive_5xx) (%s)", strings.Join(b.callers(cb.Service), ", "), consulDefaultsDoc)
		b.breakerNotes(cb, "maxEjectionPercent")
		b.note("Consul always gives upstream clusters outlier detection (Envoy defaults: 5 consecutive 5xx, 10s interval, 30s base ejection, 10%% cap) — a cap that with fewer than 10 endpoints ejects nothing — and sets healthy_panic_threshold 0 (consul agent/xds/clusters.go)")
		var lost []string
		if cb.MaxEjectionTime > 0 {
			lost = append(lost, "maxEjectionTime "+dur(cb.MaxEjectionTime))
		}
		if cb.ConsecutiveGatewayErrors > 0 {
			lost = append(lost, "consecutiveGatewayErrors "+strconv.Itoa(cb.ConsecutiveGatewayErrors))
		}
		if hp := cb.HealthyPanicThreshold; hp != nil && *hp != 0 {
			lost = append(lost, "healthyPanicThreshold "+num(*hp))
		}
		if len(lost) > 0 {
			b.unsupported(strings.Join(lost, ", "), "passiveHealthCheck has interval, maxFailures, enforcingConsecutive5xx, maxEjectionPercent and baseEjectionTime only; Envoy's max_ejection_time 300s applies and Consul sets the panic threshold to 0 ("+consulDefaultsDoc+")")
		}
	}
	if rl := b.p.RateLimit; rl != nil {
		d := get(rl.Service)
		rps := int(math.Round(rl.RequestsPerSecond))
		if rps < 1 {
			rps = 1
		}
		d.RateLimits = &consulRateLimits{InstanceLevel: consulInstanceLevel{RequestsPerSecond: rps, RequestsMaxBurst: rl.Burst}}
		b.unsupported("rate limiting in Consul CE", "service-defaults rateLimits.instanceLevel is Consul Enterprise 1.17+ (rendered here); on CE use an Envoy extension (https://developer.hashicorp.com/consul/docs/manage-traffic/rate-limit)")
		b.note("rateLimits.instanceLevel is per %s instance: a token bucket of requestsMaxBurst refilled at requestsPerSecond; the docs want requestsMaxBurst ≥ requestsPerSecond, here %d < %d (https://developer.hashicorp.com/consul/docs/manage-traffic/rate-limit)", rl.Service, rl.Burst, rps)
		if float64(rps) != rl.RequestsPerSecond {
			b.note("requestsPerSecond is an integer: %s rounded to %d", num(rl.RequestsPerSecond), rps)
		}
		if rl.StatusCode != 0 && rl.StatusCode != 429 {
			b.unsupported("status code "+strconv.Itoa(rl.StatusCode)+" for limited requests", "Envoy's local rate limit answers 429 here (https://developer.hashicorp.com/consul/docs/manage-traffic/rate-limit)")
		}
	}
	for _, s := range b.topo.Services {
		if d := defaults[s.Name]; d != nil {
			m := b.meta(b.kn(s.Name))
			b.add(m.Name+" ServiceDefaults", object{APIVersion: consulAPI, Kind: "ServiceDefaults", Metadata: m, Spec: *d})
		}
	}
	if len(defaults) > 0 && b.p.Sidecar == nil {
		b.note("ServiceDefaults protocol http makes the sidecars proxy HTTP (Consul's default is tcp): routers, splitters, resolver subsets, 5xx-based passive health checks and rate limits need it (%s)", consulDefaultsDoc)
	}
	for _, svc := range b.routed() {
		if b.split(svc) != nil {
			b.consulResolver(svc)
		}
	}
	for _, svc := range b.routed() {
		if b.p.Retry(svc) != nil || b.timeout(svc) != nil || (b.split(svc) != nil && len(b.split(svc).Match) > 0) {
			b.consulRouter(svc)
		}
	}
	for _, svc := range b.routed() {
		if sp := b.split(svc); sp != nil {
			var splits []consulSplit
			for _, t := range sp.Targets {
				splits = append(splits, consulSplit{Weight: number(t.Weight), ServiceSubset: b.kn(t.Version)})
			}
			m := b.meta(b.kn(svc))
			b.add(m.Name+" ServiceSplitter", object{APIVersion: consulAPI, Kind: "ServiceSplitter", Metadata: m, Spec: consulServiceSplitter{Splits: splits}})
			b.note("service-splitter weights are percents (float, 0.01%% resolution) that must sum to 100 (https://developer.hashicorp.com/consul/docs/connect/config-entries/service-splitter)")
		}
	}
	for _, bu := range b.p.RetryBudgets {
		switch bu.Kind {
		case scenarios.BudgetNone:
			b.note("retry budget none is not what Consul gives: it leaves Envoy's circuit breaker max_retries at 3 concurrent retries per upstream cluster, and upstreamConfig.limits has no maxRetries (%s)", consulDefaultsDoc)
		default:
			b.unsupported("retry budgets ("+bu.Kind+" on "+bu.Service+")", "Consul has no retry budget or max_retries field; Envoy's max_retries 3 applies; escape hatch: a full Envoy cluster in the caller's proxy config envoy_cluster_json (https://developer.hashicorp.com/consul/docs/connect/proxies/envoy#escape-hatch-overrides)")
		}
	}
	if f := b.p.Fault; f != nil {
		b.unsupported("fault injection (abort/delay) on calls to "+f.Service, "no native fault config entry: split a share of the traffic to a subset that always fails with a service-splitter, or add the fault filter with an Envoy extension (https://developer.hashicorp.com/consul/docs/connect/proxies/envoy-extensions)")
	}
	b.commonNotes()
	b.rolloutNote("on Consul rewrite the ServiceSplitter weights at each step")
}

// consulResolver adds the ServiceResolver with one subset per version.
func (b *builder) consulResolver(svc string) {
	subsets := map[string]consulSubset{}
	for _, v := range b.service(svc).Versions {
		subsets[b.kn(v.Name)] = consulSubset{Filter: `Service.Meta.version == "` + v.Name + `"`}
	}
	m := b.meta(b.kn(svc))
	b.add(m.Name+" ServiceResolver", object{APIVersion: consulAPI, Kind: "ServiceResolver", Metadata: m, Spec: consulServiceResolver{Subsets: subsets}})
	b.note("subsets select instances by service metadata: meshgym's pods carry the annotation consul.hashicorp.com/service-meta-version: <version> beside the version label (https://developer.hashicorp.com/consul/docs/connect/config-entries/service-resolver)")
}

// consulRouter adds the ServiceRouter carrying retries, timeout and matches.
func (b *builder) consulRouter(svc string) {
	r := b.p.Retry(svc)
	t := b.timeout(svc)
	dest := func(subset string) consulRouteDestination {
		d := consulRouteDestination{ServiceSubset: subset}
		if t != nil && t.Request > 0 {
			d.RequestTimeout = dur(t.Request)
		}
		if r != nil {
			d.NumRetries = r.Attempts
			for _, c := range r.RetryOn {
				if c == "connect-failure" {
					d.RetryOnConnectFailure = true
				} else {
					d.RetryOn = append(d.RetryOn, c)
				}
			}
		}
		return d
	}
	var routes []consulRoute
	if sp := b.split(svc); sp != nil {
		for _, m := range sp.Match {
			var hs []consulHeaderMatch
			for _, h := range headers(m) {
				hs = append(hs, consulHeaderMatch{Name: h.name, Exact: h.value})
			}
			if re := cookieRegex(m); re != "" {
				hs = append(hs, consulHeaderMatch{Name: "cookie", Regex: re})
			}
			routes = append(routes, consulRoute{Match: consulRouteMatch{HTTP: consulHTTPMatch{Header: hs}}, Destination: dest(b.kn(m.Version))})
		}
		b.matchNotes(sp)
	}
	routes = append(routes, consulRoute{Match: consulRouteMatch{HTTP: consulHTTPMatch{PathPrefix: "/"}}, Destination: dest("")})
	m := b.meta(b.kn(svc))
	b.add(m.Name+" ServiceRouter", object{APIVersion: consulAPI, Kind: "ServiceRouter", Metadata: m, Spec: consulServiceRouter{Routes: routes}})
	if r != nil {
		b.note("numRetries %d counts retries (at most %d requests); numRetries 0 would leave Envoy's default of 1 retry, not none; retryOnConnectFailure is Envoy's connect-failure (%s)", r.Attempts, r.Attempts+1, consulRouterDoc)
		if r.BackoffBase > 0 && r.BackoffBase.D().Milliseconds() != 25 {
			b.unsupported("backoffBase "+dur(r.BackoffBase), "the router has no back-off field: Envoy's 25ms base applies ("+consulRouterDoc+")")
		}
		if r.PreferNewHost {
			b.unsupported("preferNewHost (Envoy previous_hosts)", "the router has no host-predicate field; a retry may land on the host that failed ("+consulRouterDoc+")")
		}
	}
	if pt := b.perTry(svc); pt > 0 {
		b.unsupported("a per-try timeout ("+dur(pt)+")", "the service-router has no per-try field: each try may take the whole requestTimeout ("+consulRouterDoc+")")
	}
	if t == nil || t.Request == 0 {
		b.note("requestTimeout unset: Envoy's default route timeout of 15s applies to calls to %s (a negative requestTimeout disables it) (%s)", svc, consulRouterDoc)
	}
}
