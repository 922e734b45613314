package meshconfig

import (
	"math"
	"strconv"
	"strings"

	"meshgym/scenarios"
)

// Linkerd resources: retry/timeout/failure-accrual annotations on the
// Service (https://linkerd.io/2/reference/retries/, /timeouts/,
// /circuit-breaking/), HTTPRoute (gateway.networking.k8s.io/v1 from 2.18,
// policy.linkerd.io/v1beta3 before) for splits and matches, Server +
// HTTPLocalRateLimitPolicy (2.17+) for rate limits, ServiceProfile for a
// Linkerd retry budget, Namespace annotation for injection.

const (
	linkerdRetryDoc   = "https://linkerd.io/2/reference/retries/"
	linkerdTimeoutDoc = "https://linkerd.io/2/reference/timeouts/"
	linkerdBreakerDoc = "https://linkerd.io/2/reference/circuit-breaking/"
)

type gwHTTPRoute struct {
	ParentRefs []gwParentRef `yaml:"parentRefs"`
	Rules      []gwRule      `yaml:"rules"`
}

type gwParentRef struct {
	Group string `yaml:"group"`
	Kind  string `yaml:"kind"`
	Name  string `yaml:"name"`
	Port  int    `yaml:"port"`
}

type gwRule struct {
	Matches     []gwMatch      `yaml:"matches,omitempty"`
	BackendRefs []gwBackendRef `yaml:"backendRefs"`
}

type gwMatch struct {
	Headers []gwHeaderMatch `yaml:"headers"`
}

type gwHeaderMatch struct {
	Type  string `yaml:"type"`
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

type gwBackendRef struct {
	Name   string `yaml:"name"`
	Port   int    `yaml:"port"`
	Weight *int   `yaml:"weight,omitempty"`
}

type linkerdServer struct {
	PodSelector   labelSelector `yaml:"podSelector"`
	Port          string        `yaml:"port"`
	ProxyProtocol string        `yaml:"proxyProtocol"`
	AccessPolicy  string        `yaml:"accessPolicy"`
}

type labelSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type linkerdRateLimit struct {
	TargetRef linkerdTargetRef `yaml:"targetRef"`
	Total     linkerdRPS       `yaml:"total"`
}

type linkerdTargetRef struct {
	Group string `yaml:"group"`
	Kind  string `yaml:"kind"`
	Name  string `yaml:"name"`
}

type linkerdRPS struct {
	RequestsPerSecond int `yaml:"requestsPerSecond"`
}

type linkerdServiceProfile struct {
	Routes      []linkerdProfileRoute `yaml:"routes"`
	RetryBudget linkerdRetryBudget    `yaml:"retryBudget"`
}

type linkerdProfileRoute struct {
	Name        string           `yaml:"name"`
	Condition   linkerdCondition `yaml:"condition"`
	IsRetryable bool             `yaml:"isRetryable"`
	Timeout     string           `yaml:"timeout,omitempty"`
}

type linkerdCondition struct {
	PathRegex string `yaml:"pathRegex"`
}

type linkerdRetryBudget struct {
	RetryRatio          float64 `yaml:"retryRatio"`
	MinRetriesPerSecond int     `yaml:"minRetriesPerSecond"`
	TTL                 string  `yaml:"ttl"`
}

// linkerdRouteAPI is the HTTPRoute apiVersion Linkerd reads:
// gateway.networking.k8s.io/v1 (bundled by Linkerd 2.18+),
// policy.linkerd.io/v1beta3 before.
func (b *builder) linkerdRouteAPI() string {
	if b.ver.atLeast(2, 18) {
		return "gateway.networking.k8s.io/v1"
	}
	return "policy.linkerd.io/v1beta3"
}

func renderLinkerd(b *builder) {
	if b.p.Sidecar != nil {
		b.add(b.ns+" Namespace", b.namespace(nil, map[string]string{"linkerd.io/inject": "enabled"}))
		b.note("namespace annotation linkerd.io/inject: enabled makes the proxy injector add linkerd-proxy to every new pod (https://linkerd.io/2/features/proxy-injection/)")
	}
	if out := b.optOuts(); len(out) > 0 {
		b.note("%s run without a proxy: their pods carry the annotation linkerd.io/inject: disabled (https://linkerd.io/2/features/proxy-injection/)", strings.Join(out, ", "))
	}
	profiles := map[string]bool{}
	for _, bu := range b.p.RetryBudgets {
		if bu.Kind == scenarios.BudgetLinkerd {
			profiles[bu.Service] = true
		}
	}
	for _, s := range b.topo.Services {
		svc := s.Name
		ann := b.linkerdAnnotations(svc, profiles[svc])
		if len(ann) > 0 {
			b.add(b.kn(svc)+" Service", b.kubeService(svc, ann))
		}
	}
	for _, s := range b.topo.Services {
		if b.split(s.Name) != nil {
			b.linkerdRoute(s.Name)
		}
	}
	for _, s := range b.topo.Services {
		if profiles[s.Name] {
			b.linkerdProfile(s.Name)
		}
	}
	for _, bu := range b.p.RetryBudgets {
		switch bu.Kind {
		case scenarios.BudgetEnvoy, scenarios.BudgetMaxRetries:
			b.unsupported("a cap on concurrent retries ("+bu.Kind+" budget on "+bu.Service+")", "Linkerd's budget is a ServiceProfile retryBudget (retries ≤ retryRatio × requests over a ttl window + minRetriesPerSecond): use kind linkerd, which replaces the retry.linkerd.io annotations (https://linkerd.io/2/reference/service-profiles/)")
		case scenarios.BudgetNone:
			b.note("retry budget none: the annotation model has no budget; only retry.linkerd.io/limit bounds retries to %s (%s)", bu.Service, linkerdRetryDoc)
		}
	}
	if f := b.p.Fault; f != nil {
		b.unsupported("fault injection (abort/delay) on calls to "+f.Service, "Linkerd has no delay or abort: send a share of the traffic to a backend that always fails with a weighted HTTPRoute backendRef (https://linkerd.io/2/tasks/fault-injection/)")
	}
	if rl := b.p.RateLimit; rl != nil {
		b.linkerdRateLimit(rl)
	}
	b.commonNotes()
	b.rolloutNote("Flagger's Linkerd provider does this on a cluster by rewriting the HTTPRoute backendRef weights (https://docs.flagger.app/tutorials/linkerd-progressive-delivery)")
}

// linkerdAnnotations are the retry, timeout and failure-accrual
// annotations of svc's Service.
func (b *builder) linkerdAnnotations(svc string, profile bool) map[string]string {
	ann := map[string]string{}
	r := b.p.Retry(svc)
	t := b.timeout(svc)
	annotationsOK := b.ver.atLeast(2, 16)
	if (r != nil || t != nil) && !annotationsOK {
		b.unsupported("retry.linkerd.io and timeout.linkerd.io annotations before Linkerd 2.16", "use a ServiceProfile (isRetryable routes, retryBudget, route timeout) or render for linkerd@2.16 or later ("+linkerdRetryDoc+")")
	}
	if r != nil && annotationsOK && !profile {
		var codes []string
		var lost []string
		for _, c := range r.RetryOn {
			switch c {
			case "5xx", "gateway-error":
				codes = append(codes, c)
			case "retriable-4xx":
				codes = append(codes, "409")
			default:
				lost = append(lost, c)
			}
		}
		if len(codes) > 0 {
			ann["retry.linkerd.io/http"] = strings.Join(codes, ",")
		}
		ann["retry.linkerd.io/limit"] = strconv.Itoa(r.Attempts)
		if len(lost) > 0 {
			b.unsupported("retryOn "+strings.Join(lost, ",")+" for "+svc, "retry.linkerd.io/http names response statuses only (5xx, gateway-error, a code, a range); errors without a response (fail-fast, REFUSED_STREAM, response timeouts) are retried under the limit alone (derived from linkerd2-proxy code; the docs are silent) ("+linkerdRetryDoc+")")
		}
		b.note("retry.linkerd.io/limit %d is the retries per request (default 1); requests with a body over 64KiB are never retried (%s)", r.Attempts, linkerdRetryDoc)
		if r.BackoffBase > 0 && r.BackoffBase.D().Milliseconds() != 25 {
			b.unsupported("backoffBase "+dur(r.BackoffBase), "Linkerd's retry back-off is fixed at 25ms–250ms with full jitter (policy-controller outbound/http.rs)")
		} else if r.BackoffBase > 0 {
			b.note("the retry back-off is fixed at 25ms–250ms with full jitter, which matches backoffBase 25ms (policy-controller outbound/http.rs)")
		}
		if !r.PreferNewHost {
			b.unsupported("preferNewHost: false", "Linkerd has no host-selection knob: each retry goes back through the load balancer (P2C, Peak-EWMA) ("+linkerdRetryDoc+")")
		}
	}
	if annotationsOK && !profile {
		if pt := b.perTry(svc); pt > 0 {
			ann["retry.linkerd.io/timeout"] = dur(pt)
			b.note("retry.linkerd.io/timeout is the per-try timeout; since 2.16 a timed-out try can be retried (%s)", linkerdRetryDoc)
		}
		if t != nil && t.Request > 0 {
			ann["timeout.linkerd.io/request"] = dur(t.Request)
			b.note("timeout.linkerd.io/request bounds the whole request, retries included; a request that reaches it gets 504 and is not retried (%s)", linkerdTimeoutDoc)
		}
	}
	if cb := b.breaker(svc); cb != nil {
		b.linkerdAccrual(cb, ann, profile)
	}
	if len(ann) > 0 {
		b.note("the annotations go on meshgym's Services (rendered whole: merge them into the deployed ones); retry/timeout annotations on an HTTPRoute would override the Service's (%s)", linkerdRetryDoc)
	}
	return ann
}

// linkerdAccrual adds the failure-accrual annotations nearest to a breaker.
func (b *builder) linkerdAccrual(cb *scenarios.CircuitBreakerPolicy, ann map[string]string, profile bool) {
	if !b.ver.atLeast(2, 13) {
		b.unsupported("failure accrual before Linkerd 2.13", "render for linkerd@2.13 or later ("+linkerdBreakerDoc+")")
		return
	}
	ann["balancer.linkerd.io/failure-accrual"] = "consecutive"
	ann["balancer.linkerd.io/failure-accrual-consecutive-max-failures"] = strconv.Itoa(cb.ErrorThreshold)
	ann["balancer.linkerd.io/failure-accrual-consecutive-min-penalty"] = dur(cb.EjectionDuration)
	maxPenalty := cb.EjectionDuration
	jitter := "0"
	if cb.Algorithm == scenarios.BreakerEnvoy {
		maxPenalty = cb.MaxEjectionTime
		if maxPenalty == 0 {
			maxPenalty = scenarios.Duration(300 * 1e9)
		}
		if maxPenalty < cb.EjectionDuration {
			maxPenalty = cb.EjectionDuration
		}
	}
	ann["balancer.linkerd.io/failure-accrual-consecutive-max-penalty"] = dur(maxPenalty)
	ann["balancer.linkerd.io/failure-accrual-consecutive-jitter-ratio"] = jitter
	switch cb.Algorithm {
	case scenarios.BreakerBook:
		b.note("failure accrual is the nearest to the book's breaker: after %d consecutive 5xx the endpoint gets no traffic for the penalty (min = max = %s, jitter 0: fixed); then it is on probation: one request is let through and a failure makes the endpoint unavailable again at once, where the book's breaker would take %d more errors (%s)", cb.ErrorThreshold, dur(cb.EjectionDuration), cb.ErrorThreshold, linkerdBreakerDoc)
	case scenarios.BreakerBookHalfOpen:
		b.note("failure accrual matches the book's half-open breaker: after %d consecutive 5xx the endpoint gets no traffic for %s (min = max penalty, jitter 0), then one probe request decides (%s)", cb.ErrorThreshold, dur(cb.EjectionDuration), linkerdBreakerDoc)
	case scenarios.BreakerEnvoy:
		b.note("failure accrual differs from outlier detection: the penalty backs off exponentially from %s to %s per failed probe, one probe request decides, there is no sweep interval (%s)", dur(cb.EjectionDuration), dur(maxPenalty), linkerdBreakerDoc)
		if cb.MaxEjectionPercent > 0 || cb.ConsecutiveGatewayErrors > 0 || cb.HealthyPanicThreshold != nil || cb.Interval > 0 {
			b.unsupported("maxEjectionPercent, consecutiveGatewayErrors, healthyPanicThreshold and interval", "failure accrual has only max-failures, min/max penalty and jitter; when every endpoint is unavailable the caller gets 503 ("+linkerdBreakerDoc+")")
		}
	}
	if profile {
		b.note("a ServiceProfile for %s disables failure accrual: Linkerd ignores these annotations while it exists (%s)", cb.Service, linkerdBreakerDoc)
	}
}

// linkerdRoute adds the per-version Services and the HTTPRoute of a split.
func (b *builder) linkerdRoute(svc string) {
	sp := b.split(svc)
	b.addVersionServices(svc)
	var rules []gwRule
	for _, m := range sp.Match {
		var hs []gwHeaderMatch
		for _, h := range headers(m) {
			hs = append(hs, gwHeaderMatch{Type: "Exact", Name: h.name, Value: h.value})
		}
		if re := cookieRegex(m); re != "" {
			hs = append(hs, gwHeaderMatch{Type: "RegularExpression", Name: "cookie", Value: re})
		}
		rules = append(rules, gwRule{Matches: []gwMatch{{Headers: hs}}, BackendRefs: []gwBackendRef{{Name: b.kn(m.Version), Port: ServicePort}}})
	}
	w := relWeights(sp.Targets)
	var refs []gwBackendRef
	for i, t := range sp.Targets {
		refs = append(refs, gwBackendRef{Name: b.kn(t.Version), Port: ServicePort, Weight: &w[i]})
	}
	rules = append(rules, gwRule{BackendRefs: refs})
	m := b.meta(b.kn(svc))
	b.add(m.Name+" HTTPRoute", object{APIVersion: b.linkerdRouteAPI(), Kind: "HTTPRoute", Metadata: m, Spec: gwHTTPRoute{
		ParentRefs: []gwParentRef{{Group: "core", Kind: "Service", Name: b.kn(svc), Port: ServicePort}},
		Rules:      rules,
	}})
	b.matchNotes(sp)
	b.note("an HTTPRoute whose parent is the Service %s splits its traffic over one Service per version (meshgym deploys them); weights are relative and the choice is weighted-random among available backends (https://linkerd.io/2/features/traffic-split/)", b.kn(svc))
}

// linkerdProfile adds the ServiceProfile of a Linkerd retry budget.
func (b *builder) linkerdProfile(svc string) {
	bu := b.p.RetryBudget(svc)
	r := b.p.Retry(svc)
	route := linkerdProfileRoute{Name: "all", Condition: linkerdCondition{PathRegex: ".*"}, IsRetryable: r != nil}
	if t := b.timeout(svc); t != nil && t.Request > 0 {
		route.Timeout = dur(t.Request)
	}
	spec := linkerdServiceProfile{Routes: []linkerdProfileRoute{route},
		RetryBudget: linkerdRetryBudget{RetryRatio: bu.RetryRatio, MinRetriesPerSecond: int(math.Round(bu.MinRetriesPerSecond)), TTL: dur(bu.TTL)}}
	m := objectMeta{Name: b.fqdn(svc), Namespace: b.ns, Labels: map[string]string{"app.kubernetes.io/managed-by": "meshgym"}}
	b.add(m.Name+" ServiceProfile", object{APIVersion: "linkerd.io/v1alpha2", Kind: "ServiceProfile", Metadata: m, Spec: spec})
	b.note("the ServiceProfile for %s carries the retry budget (retries ≤ %s × requests of the last %s + %s/s); while it exists Linkerd ignores the retry/timeout annotations and failure accrual, and retries have no count limit, only the budget (https://linkerd.io/2/reference/service-profiles/)",
		svc, num(bu.RetryRatio), dur(bu.TTL), num(bu.MinRetriesPerSecond))
	if r != nil {
		b.note("a ServiceProfile retries only the 5xx responses of isRetryable routes; retryOn %s and attempts %d are not expressible (https://linkerd.io/2/tasks/configuring-retries/)", strings.Join(r.RetryOn, ","), r.Attempts)
	}
}

// linkerdRateLimit adds the Server and HTTPLocalRateLimitPolicy.
func (b *builder) linkerdRateLimit(rl *scenarios.RateLimitPolicy) {
	if !b.ver.atLeast(2, 17) {
		b.unsupported("HTTPLocalRateLimitPolicy before Linkerd 2.17", "render for linkerd@2.17 or later (https://linkerd.io/2/reference/rate-limiting/)")
		return
	}
	name := b.kn(rl.Service)
	sm := b.meta(name)
	b.add(name+" Server", object{APIVersion: "policy.linkerd.io/v1beta3", Kind: "Server", Metadata: sm, Spec: linkerdServer{
		PodSelector: labelSelector{MatchLabels: map[string]string{"app": rl.Service}}, Port: PortName, ProxyProtocol: "HTTP/1", AccessPolicy: "all-unauthenticated"}})
	rps := int(math.Round(rl.RequestsPerSecond))
	if rps < 1 {
		rps = 1
	}
	b.add(name+" HTTPLocalRateLimitPolicy", object{APIVersion: "policy.linkerd.io/v1alpha1", Kind: "HTTPLocalRateLimitPolicy", Metadata: b.meta(name), Spec: linkerdRateLimit{
		TargetRef: linkerdTargetRef{Group: "policy.linkerd.io", Kind: "Server", Name: name}, Total: linkerdRPS{RequestsPerSecond: rps}}})
	b.note("the Server sets accessPolicy all-unauthenticated: a Server denies traffic by default, and a rate limit must not need authorization policies (https://linkerd.io/2/reference/rate-limiting/)")
	b.note("total.requestsPerSecond %d is per %s proxy, answered 429 when exceeded (https://linkerd.io/2/reference/rate-limiting/)", rps, rl.Service)
	if float64(rps) != rl.RequestsPerSecond {
		b.note("requestsPerSecond is an integer: %s rounded to %d", num(rl.RequestsPerSecond), rps)
	}
	b.unsupported("a burst size (burst "+strconv.Itoa(rl.Burst)+")", "HTTPLocalRateLimitPolicy has requestsPerSecond only (https://linkerd.io/2/reference/rate-limiting/)")
	if rl.StatusCode != 0 && rl.StatusCode != 429 {
		b.unsupported("status code "+strconv.Itoa(rl.StatusCode)+" for limited requests", "Linkerd always answers 429 (https://linkerd.io/2/reference/rate-limiting/)")
	}
}
