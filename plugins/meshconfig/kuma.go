package meshconfig

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"meshgym/scenarios"
)

// Kuma policies (kuma.io/v1alpha1; field names from kumahq/kuma
// pkg/plugins/policies/*/api/v1alpha1 at 2.12.0 and https://kuma.io/docs/).
// From Kuma 2.10 a policy targets real MeshService objects by name,
// namespace and sectionName (the Service port name), callers by
// kind Dataplane, and inbound policies use `rules`; before 2.10 targets are
// kuma.io/service names ("payments_meshgym_svc_9090"), subsets are
// MeshServiceSubset and inbound policies use `from`.

const kumaDocs = "https://kuma.io/docs/latest/policies/"

type kumaSpec struct {
	TargetRef *kumaTargetRef `yaml:"targetRef,omitempty"`
	To        []kumaTo       `yaml:"to,omitempty"`
	From      []kumaTo       `yaml:"from,omitempty"`
	Rules     []kumaRule     `yaml:"rules,omitempty"`
}

type kumaTargetRef struct {
	Kind        string            `yaml:"kind"`
	Name        string            `yaml:"name,omitempty"`
	Namespace   string            `yaml:"namespace,omitempty"`
	SectionName string            `yaml:"sectionName,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
}

type kumaTo struct {
	TargetRef kumaTargetRef       `yaml:"targetRef"`
	Default   any                 `yaml:"default,omitempty"`
	Rules     []kumaHTTPRouteRule `yaml:"rules,omitempty"`
}

type kumaRule struct {
	Default any `yaml:"default"`
}

type kumaRetryConf struct {
	HTTP kumaRetryHTTP `yaml:"http"`
}

type kumaRetryHTTP struct {
	NumRetries    int             `yaml:"numRetries"`
	PerTryTimeout string          `yaml:"perTryTimeout,omitempty"`
	BackOff       *kumaBackOff    `yaml:"backOff,omitempty"`
	RetryOn       []string        `yaml:"retryOn,omitempty"`
	HostSelection []kumaPredicate `yaml:"hostSelection,omitempty"`
}

type kumaBackOff struct {
	BaseInterval string `yaml:"baseInterval"`
	MaxInterval  string `yaml:"maxInterval"`
}

type kumaPredicate struct {
	Predicate string `yaml:"predicate"`
}

type kumaTimeoutConf struct {
	HTTP kumaTimeoutHTTP `yaml:"http"`
}

type kumaTimeoutHTTP struct {
	RequestTimeout string `yaml:"requestTimeout"`
}

type kumaBreakerConf struct {
	ConnectionLimits *kumaConnectionLimits `yaml:"connectionLimits,omitempty"`
	OutlierDetection *kumaOutlier          `yaml:"outlierDetection,omitempty"`
}

type kumaConnectionLimits struct {
	MaxRetries uint32 `yaml:"maxRetries"`
}

type kumaOutlier struct {
	Disabled              bool          `yaml:"disabled"`
	Interval              string        `yaml:"interval,omitempty"`
	BaseEjectionTime      string        `yaml:"baseEjectionTime"`
	MaxEjectionPercent    int           `yaml:"maxEjectionPercent,omitempty"`
	Detectors             kumaDetectors `yaml:"detectors"`
	HealthyPanicThreshold any           `yaml:"healthyPanicThreshold,omitempty"`
}

type kumaDetectors struct {
	TotalFailures   *kumaConsecutive `yaml:"totalFailures,omitempty"`
	GatewayFailures *kumaConsecutive `yaml:"gatewayFailures,omitempty"`
}

type kumaConsecutive struct {
	Consecutive int `yaml:"consecutive"`
}

type kumaHTTPRouteRule struct {
	Matches []kumaMatch       `yaml:"matches"`
	Default kumaRouteRuleConf `yaml:"default"`
}

type kumaMatch struct {
	Path    *kumaPathMatch    `yaml:"path,omitempty"`
	Headers []kumaHeaderMatch `yaml:"headers,omitempty"`
}

type kumaPathMatch struct {
	Type  string `yaml:"type"`
	Value string `yaml:"value"`
}

type kumaHeaderMatch struct {
	Type  string `yaml:"type"`
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

type kumaRouteRuleConf struct {
	BackendRefs []kumaBackendRef `yaml:"backendRefs"`
}

type kumaBackendRef struct {
	Kind      string            `yaml:"kind"`
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace,omitempty"`
	Tags      map[string]string `yaml:"tags,omitempty"`
	Port      int               `yaml:"port,omitempty"`
	Weight    *int              `yaml:"weight,omitempty"`
}

type kumaFaultConf struct {
	HTTP []kumaFault `yaml:"http"`
}

type kumaFault struct {
	Abort *kumaAbort `yaml:"abort,omitempty"`
	Delay *kumaDelay `yaml:"delay,omitempty"`
}

type kumaAbort struct {
	HTTPStatus int `yaml:"httpStatus"`
	Percentage any `yaml:"percentage"`
}

type kumaDelay struct {
	Value      string `yaml:"value"`
	Percentage any    `yaml:"percentage"`
}

type kumaRateLimitConf struct {
	Local kumaLocal `yaml:"local"`
}

type kumaLocal struct {
	HTTP kumaLocalHTTP `yaml:"http"`
}

type kumaLocalHTTP struct {
	RequestRate kumaRate         `yaml:"requestRate"`
	OnRateLimit *kumaOnRateLimit `yaml:"onRateLimit,omitempty"`
}

type kumaRate struct {
	Num      int    `yaml:"num"`
	Interval string `yaml:"interval"`
}

type kumaOnRateLimit struct {
	Status int `yaml:"status"`
}

// kumaModern reports whether the release uses real MeshService targets.
func (b *builder) kumaModern() bool { return b.ver.atLeast(2, 10) }

// kumaLegacyName is the kuma.io/service tag of a Kubernetes Service port.
func (b *builder) kumaLegacyName(service string) string {
	return fmt.Sprintf("%s_%s_svc_%d", b.kn(service), b.ns, ServicePort)
}

// kumaService is the outbound targetRef of calls to service.
func (b *builder) kumaService(service string) kumaTargetRef {
	if b.kumaModern() {
		b.note("targetRefs name real MeshService objects (name, namespace, sectionName = the Service port name), which Kuma 2.10+ generates from Services in meshServices mode Exclusive; Kuma before 2.10 targeted kuma.io/service names instead (%smeshservice/)", strings.TrimSuffix(kumaDocs, "policies/")+"networking/")
		return kumaTargetRef{Kind: "MeshService", Name: b.kn(service), Namespace: b.ns, SectionName: PortName}
	}
	b.note("targets use kuma.io/service names (<service>_<namespace>_svc_<port>) and MeshServiceSubset; Kuma 2.10+ can target MeshService objects instead (%s)", kumaDocs)
	return kumaTargetRef{Kind: "MeshService", Name: b.kumaLegacyName(service)}
}

// kumaMeta is a policy's metadata: in meshgym's namespace, in mesh default.
func (b *builder) kumaMeta(name string) objectMeta {
	m := b.meta(name)
	m.Labels["kuma.io/mesh"] = "default"
	return m
}

// kumaPolicy adds a policy of kind for calls to service (top-level
// targetRef Mesh: every caller's sidecar).
func (b *builder) kumaPolicy(kind, service string, conf any) {
	m := b.kumaMeta(b.kn(service))
	b.add(m.Name+" "+kind, object{APIVersion: "kuma.io/v1alpha1", Kind: kind, Metadata: m, Spec: kumaSpec{
		TargetRef: &kumaTargetRef{Kind: "Mesh"},
		To:        []kumaTo{{TargetRef: b.kumaService(service), Default: conf}},
	}})
}

// kumaPercent is a Kuma percentage: an int when whole, else a string
// ("0.5"), as intstr.IntOrString reads it.
func kumaPercent(p float64) any {
	if p == math.Trunc(p) {
		return int(p)
	}
	return num(p)
}

var kumaRetryOn = map[string]string{
	"5xx":               "5xx",
	"gateway-error":     "GatewayError",
	"reset":             "Reset",
	"connect-failure":   "ConnectFailure",
	"retriable-4xx":     "Retriable4xx",
	"refused-stream":    "RefusedStream",
	"envoy-ratelimited": "EnvoyRatelimited",
}

func renderKuma(b *builder) {
	if b.p.Sidecar != nil {
		b.add(b.ns+" Namespace", b.namespace(map[string]string{"kuma.io/sidecar-injection": "enabled"}, nil))
		b.note("namespace label kuma.io/sidecar-injection: enabled makes Kuma inject kuma-dp into every new pod, in mesh default (https://kuma.io/docs/latest/production/dp-config/dpp-on-kubernetes/)")
	}
	if out := b.optOuts(); len(out) > 0 {
		b.note("%s run without a sidecar: their pods carry the label kuma.io/sidecar-injection: disabled (https://kuma.io/docs/latest/production/dp-config/dpp-on-kubernetes/)", strings.Join(out, ", "))
	}
	for _, s := range b.topo.Services {
		svc := s.Name
		if r := b.p.Retry(svc); r != nil {
			b.kumaRetry(svc, r)
		} else if pt := b.perTry(svc); pt > 0 {
			b.kumaPolicy("MeshRetry", svc, kumaRetryConf{HTTP: kumaRetryHTTP{NumRetries: 0, PerTryTimeout: dur(pt)}})
			b.note("perTryTimeout lives in MeshRetry; numRetries 0 turns retries off, so it bounds the single try (%smeshretry/)", kumaDocs)
		}
		if t := b.timeout(svc); t != nil && t.Request > 0 {
			b.kumaPolicy("MeshTimeout", svc, kumaTimeoutConf{HTTP: kumaTimeoutHTTP{RequestTimeout: dur(t.Request)}})
			b.note("MeshTimeout http.requestTimeout bounds the whole request, retries included (%smeshtimeout/)", kumaDocs)
		}
		b.kumaBreaker(svc)
		if b.split(svc) != nil {
			b.kumaRoute(svc)
		}
		if f := b.fault(svc); f != nil {
			fc := kumaFault{}
			if a := f.Abort; a != nil {
				fc.Abort = &kumaAbort{HTTPStatus: a.StatusCode, Percentage: kumaPercent(a.Percent)}
			}
			if d := f.Delay; d != nil {
				fc.Delay = &kumaDelay{Value: dur(d.Duration), Percentage: kumaPercent(d.Percent)}
			}
			b.kumaPolicy("MeshFaultInjection", svc, kumaFaultConf{HTTP: []kumaFault{fc}})
			b.note("MeshFaultInjection with `to` injects in the callers' sidecars (Envoy fault filter): abort and delay are drawn independently and an aborted call is not retried (%smeshfaultinjection/)", kumaDocs)
		}
	}
	if rl := b.p.RateLimit; rl != nil {
		b.kumaRateLimit(rl)
	}
	for _, s := range b.topo.Services {
		if len(b.p.Retries) > 0 && b.p.Retry(s.Name) == nil && b.callers(s.Name) != nil {
			b.note("calls without a MeshRetry of their own keep the default mesh-retry-all policy: 5 retries on gateway-error,connect-failure,refused-stream (503 included) (kuma pkg/defaults/mesh/meshretry.go)")
		}
	}
	if len(b.p.Retries) > 0 && b.p.Timeout == nil {
		b.note("the default mesh-timeout-to-all policy keeps a 15s outbound request timeout (kuma pkg/plugins/policies/core/defaults/consts.go; %smeshtimeout/)", kumaDocs)
	}
	b.commonNotes()
	b.rolloutNote("Flagger's Kuma provider does this on a cluster by rewriting the MeshHTTPRoute weights (https://docs.flagger.app/tutorials/kuma-progressive-delivery)")
}

func (b *builder) kumaRetry(svc string, r *scenarios.RetryPolicy) {
	h := kumaRetryHTTP{NumRetries: r.Attempts}
	if pt := b.perTry(svc); pt > 0 {
		h.PerTryTimeout = dur(pt)
	}
	if r.BackoffBase > 0 {
		h.BackOff = &kumaBackOff{BaseInterval: dur(r.BackoffBase), MaxInterval: dur(10 * r.BackoffBase)}
	}
	var lost []string
	for _, c := range r.RetryOn {
		if k, ok := kumaRetryOn[c]; ok {
			h.RetryOn = append(h.RetryOn, k)
		} else {
			lost = append(lost, c)
		}
	}
	if r.PreferNewHost {
		h.HostSelection = []kumaPredicate{{Predicate: "OmitPreviousHosts"}}
	}
	b.kumaPolicy("MeshRetry", svc, kumaRetryConf{HTTP: h})
	b.note("MeshRetry numRetries %d counts retries (at most %d requests to %s); an unset numRetries would be Envoy's 1; retryOn replaces the default mesh-retry-all list (%smeshretry/)", r.Attempts, r.Attempts+1, svc, kumaDocs)
	if len(lost) > 0 {
		b.unsupported("retryOn "+strings.Join(lost, ","), "MeshRetry retryOn takes 5xx, GatewayError, Reset, Retriable4xx, ConnectFailure, EnvoyRatelimited, RefusedStream, Http3PostConnectFailure, HttpMethod* or status codes ("+kumaDocs+"meshretry/)")
	}
	b.perTryRetryNote(svc)
}

func (b *builder) kumaBreaker(svc string) {
	cb := b.breaker(svc)
	bu := b.p.RetryBudget(svc)
	conf := kumaBreakerConf{}
	if cb != nil {
		od := &kumaOutlier{Disabled: false, BaseEjectionTime: dur(cb.EjectionDuration), MaxEjectionPercent: maxEjectionPercent(cb),
			Detectors: kumaDetectors{TotalFailures: &kumaConsecutive{Consecutive: cb.ErrorThreshold}}}
		if cb.Interval > 0 {
			od.Interval = dur(cb.Interval)
		}
		if cb.ConsecutiveGatewayErrors > 0 {
			od.Detectors.GatewayFailures = &kumaConsecutive{Consecutive: cb.ConsecutiveGatewayErrors}
		}
		if cb.HealthyPanicThreshold != nil {
			if b.kumaModern() {
				od.HealthyPanicThreshold = kumaPercent(*cb.HealthyPanicThreshold)
			} else {
				b.unsupported("healthyPanicThreshold before Kuma 2.10", "Envoy's 50% applies; render for kuma@2.10 or later ("+kumaDocs+"meshcircuitbreaker/)")
			}
		}
		conf.OutlierDetection = od
		b.breakerNotes(cb, "maxEjectionPercent")
		b.note("only the detectors listed are enforced (totalFailures = Envoy consecutive_5xx); interval and base ejection left out take Envoy's 10s and 30s (kuma meshcircuitbreaker/plugin/xds/configurer.go; %smeshcircuitbreaker/)", kumaDocs)
		if cb.HealthyPanicThreshold == nil {
			b.note("healthyPanicThreshold unset: Envoy's 50%% applies, below it the load balancer ignores ejections (%smeshcircuitbreaker/)", kumaDocs)
		}
		if cb.MaxEjectionTime > 0 && cb.MaxEjectionTime.D().Seconds() == 300 {
			b.note("maxEjectionTime 300s is Envoy's default, which Kuma keeps (outlierDetection has no such field) (%smeshcircuitbreaker/)", kumaDocs)
		} else if cb.MaxEjectionTime > 0 {
			b.unsupported("maxEjectionTime ("+dur(cb.MaxEjectionTime)+")", "outlierDetection has no such field, Envoy's 300s default applies ("+kumaDocs+"meshcircuitbreaker/)")
		}
	}
	if bu != nil {
		switch bu.Kind {
		case scenarios.BudgetMaxRetries:
			conf.ConnectionLimits = &kumaConnectionLimits{MaxRetries: uint32(bu.MaxConcurrentRetries)}
		case scenarios.BudgetNone:
			conf.ConnectionLimits = &kumaConnectionLimits{MaxRetries: math.MaxUint32}
			b.note("retry budget none is connectionLimits.maxRetries 4294967295: the default mesh-circuit-breaker-all policy caps concurrent retries at 3 (kuma pkg/defaults/mesh/meshcircuitbreaker.go)")
		case scenarios.BudgetEnvoy:
			b.unsupported("Envoy's retry_budget (percent of active requests) for "+svc, "MeshCircuitBreaker has connectionLimits.maxRetries only, a fixed cap on concurrent retries (the default policy sets 3); the nearest is maxRetries "+strconv.Itoa(bu.MinRetryConcurrency)+" ("+kumaDocs+"meshcircuitbreaker/)")
		case scenarios.BudgetLinkerd:
			b.unsupported("a Linkerd-style retry budget (retry ratio over a TTL window) for "+svc, "MeshCircuitBreaker connectionLimits.maxRetries caps concurrent retries only ("+kumaDocs+"meshcircuitbreaker/)")
		}
	}
	if conf.OutlierDetection != nil || conf.ConnectionLimits != nil {
		b.kumaPolicy("MeshCircuitBreaker", svc, conf)
	}
}

func (b *builder) kumaRoute(svc string) {
	sp := b.split(svc)
	backend := func(ver string, weight *int) kumaBackendRef {
		if b.kumaModern() {
			return kumaBackendRef{Kind: "MeshService", Name: b.kn(ver), Namespace: b.ns, Port: ServicePort, Weight: weight}
		}
		return kumaBackendRef{Kind: "MeshServiceSubset", Name: b.kumaLegacyName(svc), Tags: map[string]string{"version": ver}, Weight: weight}
	}
	if b.kumaModern() {
		b.addVersionServices(svc)
	}
	var rules []kumaHTTPRouteRule
	for _, m := range sp.Match {
		var hs []kumaHeaderMatch
		for _, h := range headers(m) {
			hs = append(hs, kumaHeaderMatch{Type: "Exact", Name: h.name, Value: h.value})
		}
		if re := cookieRegex(m); re != "" {
			hs = append(hs, kumaHeaderMatch{Type: "RegularExpression", Name: "cookie", Value: re})
		}
		rules = append(rules, kumaHTTPRouteRule{Matches: []kumaMatch{{Headers: hs}}, Default: kumaRouteRuleConf{BackendRefs: []kumaBackendRef{backend(m.Version, nil)}}})
	}
	w := relWeights(sp.Targets)
	var refs []kumaBackendRef
	for i, t := range sp.Targets {
		refs = append(refs, backend(t.Version, &w[i]))
	}
	rules = append(rules, kumaHTTPRouteRule{Matches: []kumaMatch{{Path: &kumaPathMatch{Type: "PathPrefix", Value: "/"}}}, Default: kumaRouteRuleConf{BackendRefs: refs}})
	m := b.kumaMeta(b.kn(svc))
	b.add(m.Name+" MeshHTTPRoute", object{APIVersion: "kuma.io/v1alpha1", Kind: "MeshHTTPRoute", Metadata: m, Spec: kumaSpec{
		TargetRef: &kumaTargetRef{Kind: "Mesh"},
		To:        []kumaTo{{TargetRef: b.kumaService(svc), Rules: rules}},
	}})
	b.matchNotes(sp)
	if b.kumaModern() {
		b.note("the MeshHTTPRoute splits calls to %s over one MeshService per version (from meshgym's per-version Services); weights are relative, default 1 (%smeshhttproute/)", svc, kumaDocs)
	} else {
		b.note("the MeshHTTPRoute splits calls to %s over MeshServiceSubsets selected by the version tag (from the pods' version label); weights are relative, default 1 (%smeshhttproute/)", svc, kumaDocs)
	}
}

func (b *builder) kumaRateLimit(rl *scenarios.RateLimitPolicy) {
	// Kuma's bucket: max_tokens = tokens_per_fill = num, refilled every
	// interval (kuma pkg/xds/envoy/routes/v3/ratelimit.go); interval > 50ms.
	burst := max(rl.Burst, 1)
	interval := time.Duration(float64(burst) / rl.RequestsPerSecond * float64(time.Second))
	n := burst
	exact := interval%time.Millisecond == 0
	if interval <= 50*time.Millisecond {
		interval = 51 * time.Millisecond
		n = int(math.Ceil(rl.RequestsPerSecond * interval.Seconds()))
		exact = false
	}
	if !exact {
		interval = interval.Round(time.Millisecond)
	}
	h := kumaLocalHTTP{RequestRate: kumaRate{Num: n, Interval: dur(scenarios.Duration(interval))}}
	if rl.StatusCode != 0 && rl.StatusCode != 429 {
		h.OnRateLimit = &kumaOnRateLimit{Status: rl.StatusCode}
	}
	conf := kumaRateLimitConf{Local: kumaLocal{HTTP: h}}
	m := b.kumaMeta(b.kn(rl.Service))
	spec := kumaSpec{}
	if b.kumaModern() {
		spec.TargetRef = &kumaTargetRef{Kind: "Dataplane", Labels: map[string]string{"app": rl.Service}}
		spec.Rules = []kumaRule{{Default: conf}}
	} else {
		spec.TargetRef = &kumaTargetRef{Kind: "MeshService", Name: b.kumaLegacyName(rl.Service)}
		spec.From = []kumaTo{{TargetRef: kumaTargetRef{Kind: "Mesh"}, Default: conf}}
	}
	b.add(m.Name+" MeshRateLimit", object{APIVersion: "kuma.io/v1alpha1", Kind: "MeshRateLimit", Metadata: m, Spec: spec})
	if exact && n == rl.Burst {
		b.note("requestRate {num %d, interval %s} is a token bucket of %d refilled fully every %s: %s req/s with a burst of %d (Kuma sets max_tokens = tokens_per_fill = num; %smeshratelimit/)", n, dur(scenarios.Duration(interval)), n, dur(scenarios.Duration(interval)), num(rl.RequestsPerSecond), rl.Burst, kumaDocs)
	} else {
		b.note("%s req/s with a burst of %d has no exact requestRate (num is both bucket and refill, interval > 50ms): rendered as %d per %s (%smeshratelimit/)", num(rl.RequestsPerSecond), rl.Burst, n, dur(scenarios.Duration(interval)), kumaDocs)
	}
	b.note("the limit is per %s instance, applied on its inbound before the app (%smeshratelimit/)", rl.Service, kumaDocs)
}
