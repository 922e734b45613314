package scenarios

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"meshgym/internal/yamlnode"
)

// The book shorthand: a deployment: block naming one pattern with its
// knobs, and a performance_test: (or performance_profile:) block. Each
// pattern expands to a fixed topology of the sample system:
//
//	retry             api → payments → currency (currency_v1 … currency_vN)
//	sidecar_proxy     api → payments
//	circuit_breaking  checkout → payments (payments_v1 … payments_vN)
//	canary            api → payments (the versions listed, with weights)
//
// The book prints only those four. meshgym's own shorthand for the other
// patterns follows their style (snake_case knobs, percentages as 50 or
// 50%):
//
//	timeouts          api → payments → currency (currency_v1 … currency_vN)
//	rate_limiting     api → payments
//	fault_injection   api → payments
//	retry_budgets     api → payments → currency

// Defaults the book's retry exercise leaves to the mesh; recorded in Notes.
var (
	defaultRetryOn     = []string{"5xx", "connect-failure"}
	defaultBackoffBase = Duration(25 * time.Millisecond)
)

// defaultConnections is used when a book file gives no threads (fortio's default).
const defaultConnections = 4

// bookHint says what a book file looks like.
const bookHint = "a book file is a mapping with deployment: and performance_test:"

// patternKey is the pattern key as written, from its field
// ("deployment.circuit-breaking" → "circuit-breaking").
func patternKey(field string) string { return strings.TrimPrefix(field, "deployment.") }

func isBook(root *node) bool {
	for _, k := range []string{"deployment", "performance_test", "performance_profile"} {
		if kk, _ := root.Lookup(k); kk != nil {
			return true
		}
	}
	return false
}

func decodeBook(d *decoder, root *node, name string) *Scenario {
	s := &Scenario{APIVersion: APIVersion, Kind: "Scenario", Name: name}
	d.note("name: %s (from the file name; the book shorthand has no name)", name)
	m := d.fields(root, "", "", bookHint, key{name: "deployment"}, key{name: "performance_test", synonyms: []string{"performance_profile"}}, key{name: "mesh"})
	if e, ok := m["mesh"]; ok {
		d.mesh(s, e)
	}
	if d.require(m, root, "pattern", "", "deployment", "name the pattern: deployment: {retry: {upstream_services: 2, upstream_retries: 3, upstream_error_rate: [0, 50]}}") {
		d.bookDeployment(s, m["deployment"])
	} else {
		d.bad["topology"] = true
	}
	if d.require(m, root, "load", "", "performance_test", "add performance_test: {duration: 200s, rps: 100, threads: 10, success_conditions: [...]}") {
		e := m["performance_test"]
		d.bookPerformance(s, e.val, e.key.Text)
	}
	return s
}

func (d *decoder) bookDeployment(s *Scenario, e entry) {
	const patterns = "retry, sidecar_proxy, circuit_breaking (or circuit-breaking), canary, timeouts, rate_limiting, fault_injection, retry_budgets"
	dep := e.val
	if dep.Kind == yamlnode.Scalar || dep.Kind == yamlnode.Seq {
		hint := "write the pattern as a key under deployment:, e.g. deployment: {retry: {upstream_services: 2, upstream_retries: 3}}; patterns are " + patterns
		d.fail("pattern", dep, "deployment", hint, "expected a mapping with one pattern, found %s", describe(dep))
		d.bad["topology"] = true
		return
	}
	if dep.Kind != yamlnode.Map || len(dep.Keys) == 0 {
		d.fail("pattern", dep, "deployment", "name one pattern under deployment: "+patterns, "deployment names no pattern")
		d.bad["topology"] = true
		return
	}
	if len(dep.Keys) > 1 {
		d.fail("pattern", dep.Keys[1], "deployment."+fieldKey(dep.Keys[1].Text), "one scenario applies one pattern: write a file per pattern", "deployment names %d patterns (%s and %s)", len(dep.Keys), clip(dep.Keys[0].Text), clip(dep.Keys[1].Text))
		d.bad["topology"] = true
		return
	}
	k, knobs := dep.Keys[0], dep.Vals[0]
	field := "deployment." + fieldKey(k.Text)
	d.ref("pattern", k, field)
	d.ref("pattern.kind", k, field)
	norm := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(k.Text)), "-", "_")
	var kind string
	switch norm {
	case "retry", "retries":
		kind = KindRetries
		d.bookRetry(s, knobs, field)
	case "sidecar_proxy", "sidecar":
		kind = KindSidecarProxy
		d.bookSidecar(s, knobs, field)
	case "circuit_breaking", "circuit_breaker":
		kind = KindCircuitBreaking
		d.bookCircuitBreaking(s, knobs, field)
	case "canary":
		kind = KindCanary
		d.bookCanary(s, knobs, field)
	case "timeouts", "timeout":
		kind = KindTimeouts
		d.bookTimeouts(s, knobs, field)
	case "rate_limiting", "rate_limit":
		kind = KindRateLimiting
		d.bookRateLimiting(s, knobs, field)
	case "fault_injection", "fault", "faults":
		kind = KindFaultInjection
		d.bookFaultInjection(s, knobs, field)
	case "retry_budgets", "retry_budget":
		kind = KindRetryBudgets
		d.bookRetryBudgets(s, knobs, field)
	default:
		hint := "patterns are " + patterns
		if sug := suggest(norm, []string{"retry", "sidecar_proxy", "circuit_breaking", "canary", "timeouts", "rate_limiting", "fault_injection", "retry_budgets"}); sug != "" {
			hint = "did you mean " + sug + "? " + hint
		}
		d.fail("pattern", k, field, hint, "unknown pattern %s", quote(k.Text))
		d.bad["topology"] = true
		return
	}
	if k.Text != kind {
		d.note("%s: read as pattern %s", field, kind)
	}
}

// single is a service with one version named like the service.
func single(name string, upstreams ...string) Service {
	return Service{Name: name, Upstreams: upstreams, Sidecar: true, Versions: []Version{{Name: name, Instances: 1, ErrorCode: 500}}}
}

// bookUpstreams reads upstream_services and upstream_error_rate into the
// versions of service svc (svc_v1 … svc_vN) at topology index idx.
func (d *decoder) bookUpstreams(m map[string]entry, knobs *node, field, svc string, idx int) ([]Version, bool) {
	vpath := fmt.Sprintf("topology.services[%d].versions", idx)
	count, hasCount := 0, false
	if e, ok := m["upstream_services"]; ok {
		n, ok := d.integer(e.val, vpath, field+".upstream_services")
		if !ok {
			return nil, false
		}
		if n < 1 || n > maxVersions {
			d.fail(vpath, e.val, field+".upstream_services", fmt.Sprintf("the number of %s versions, from 1 to %d", svc, maxVersions), "must be from 1 to %d (got %d)", maxVersions, n)
			return nil, false
		}
		count, hasCount = n, true
	}
	var rates []float64
	var rateNodes []*node
	e, hasRates := m["upstream_error_rate"]
	if hasRates {
		rfield := field + ".upstream_error_rate"
		switch e.val.Kind {
		case yamlnode.Seq:
			for i, it := range e.val.Items {
				path := fmt.Sprintf("%s[%d].errorRate", vpath, i)
				v, ok := d.percent(it, path, fmt.Sprintf("%s[%d]", rfield, i))
				if !ok {
					return nil, false
				}
				rates = append(rates, v)
				rateNodes = append(rateNodes, it)
			}
		case yamlnode.Scalar:
			if !hasCount {
				d.fail(vpath, e.val, rfield, "give upstream_services, or one rate per version: [0, 50]", "one error rate but no upstream_services")
				return nil, false
			}
			v, ok := d.percent(e.val, vpath+"[0].errorRate", rfield)
			if !ok {
				return nil, false
			}
			for range count {
				rates = append(rates, v)
				rateNodes = append(rateNodes, e.val)
			}
			d.note("%s: one rate for all %d versions", rfield, count)
		default:
			d.fail(vpath, e.val, rfield, "write one error rate per version, in percent: [0, 50]", "expected a list of percentages, found %s", describe(e.val))
			return nil, false
		}
		if !hasCount {
			count = len(rates)
			if count < 1 || count > maxVersions {
				d.fail(vpath, e.val, rfield, fmt.Sprintf("give 1 to %d rates, one per version", maxVersions), "has %d rates", count)
				return nil, false
			}
		} else if len(rates) != count {
			d.fail(vpath, e.val, rfield, "give one error rate per upstream version, in percent: [0, 50]", "has %d rates for %d upstream_services", len(rates), count)
			return nil, false
		}
	}
	if !hasCount && !hasRates {
		d.require(m, knobs, vpath, field, "upstream_services", "the number of "+svc+" versions, e.g. upstream_services: 2")
		return nil, false
	}
	versions := make([]Version, count)
	names := make([]string, count)
	for i := range versions {
		versions[i] = Version{Name: fmt.Sprintf("%s_v%d", svc, i+1), Instances: 1, ErrorCode: 500}
		names[i] = versions[i].Name
		if rates != nil {
			versions[i].ErrorRate = rates[i]
			d.ref(fmt.Sprintf("%s[%d].errorRate", vpath, i), rateNodes[i], fmt.Sprintf("%s.upstream_error_rate[%d]", field, i))
		}
	}
	if !hasRates {
		d.note("%s: no upstream_error_rate: every %s version answers 200", field, svc)
	}
	d.note("%s: %s has %d versions %s, one instance each, called round-robin; errors answer 500", field, svc, count, strings.Join(names, ", "))
	return versions, true
}

func (d *decoder) bookRetry(s *Scenario, knobs *node, field string) {
	m := d.fields(knobs, "pattern.retries[0]", field, "write "+patternKey(field)+": {upstream_services: 2, upstream_retries: 3, upstream_error_rate: [0, 50]}", key{name: "upstream_services"}, key{name: "upstream_retries"}, key{name: "upstream_error_rate"})
	versions, ok := d.bookUpstreams(m, knobs, field, "currency", 2)
	if !ok {
		d.bad["topology"] = true
	}
	currency := Service{Name: "currency", Sidecar: true, Versions: versions}
	s.Topology = Topology{Entry: "api", Services: []Service{single("api", "payments"), single("payments", "currency"), currency}}
	d.note("%s: topology api → payments → currency, every service with a sidecar", field)
	r := &RetryPolicy{Service: "currency", RetryOn: append([]string(nil), defaultRetryOn...), PreferNewHost: true, BackoffBase: defaultBackoffBase}
	if d.require(m, knobs, "pattern.retries[0].attempts", field, "upstream_retries", "how many times the mesh retries a failed call, e.g. upstream_retries: 3") {
		if n, ok := d.integer(m["upstream_retries"].val, "pattern.retries[0].attempts", field+".upstream_retries"); ok {
			r.Attempts = n
			d.note("%s.upstream_retries: %d read as up to %d retries after the first try", field, n, n)
		}
	}
	d.note("%s: payments retries calls to currency on %s, preferring a host not tried yet, backoff base %s (meshgym's defaults; the book file does not set them)", field, strings.Join(r.RetryOn, ", "), r.BackoffBase)
	s.Pattern = Pattern{Kind: KindRetries, Retries: []RetryPolicy{*r}}
}

func (d *decoder) bookSidecar(s *Scenario, knobs *node, field string) {
	m := d.fields(knobs, "pattern.sidecar", field, "write "+patternKey(field)+": {protocol: http}, or "+patternKey(field)+": alone for the defaults", key{name: "protocol"})
	p := &SidecarPolicy{Protocol: "http"}
	if e, ok := m["protocol"]; ok {
		if v, ok := d.str(e.val, "pattern.sidecar.protocol", field+".protocol"); ok {
			p.Protocol = strings.ToLower(v)
		}
	} else {
		d.note("%s: no protocol given: http", field)
	}
	s.Topology = Topology{Entry: "api", Services: []Service{single("api", "payments"), single("payments")}}
	d.note("%s: topology api → payments; before: no sidecars, after: a sidecar beside each service (api_sidecar, payments_sidecar)", field)
	s.Pattern = Pattern{Kind: KindSidecarProxy, Sidecar: p}
}

func (d *decoder) bookCircuitBreaking(s *Scenario, knobs *node, field string) {
	m := d.fields(knobs, "pattern.circuitBreaker", field, "write "+patternKey(field)+": {upstream_services: 2, upstream_error_rate: [0, 100], error_threshold: 2, ejection_duration: 60s}",
		bookSpelling.keys(append([]string{"upstreamServices", "upstreamErrorRate", "errorThreshold", "ejectionDuration", "algorithm"}, breakerKnobKeys...)...)...)
	versions, ok := d.bookUpstreams(m, knobs, field, "payments", 1)
	if !ok {
		d.bad["topology"] = true
	}
	s.Topology = Topology{Entry: "checkout", Services: []Service{single("checkout", "payments"), {Name: "payments", Sidecar: true, Versions: versions}}}
	d.note("%s: topology checkout → payments, every service with a sidecar", field)
	cb := &CircuitBreakerPolicy{Service: "payments", Algorithm: BreakerBook}
	if d.require(m, knobs, "pattern.circuitBreaker.errorThreshold", field, "error_threshold", "consecutive errors that open the circuit, e.g. error_threshold: 2") {
		if n, ok := d.integer(m["error_threshold"].val, "pattern.circuitBreaker.errorThreshold", field+".error_threshold"); ok {
			cb.ErrorThreshold = n
		}
	}
	if d.require(m, knobs, "pattern.circuitBreaker.ejectionDuration", field, "ejection_duration", "how long a failing endpoint is ejected, e.g. ejection_duration: 60s") {
		if v, ok := d.duration(m["ejection_duration"].val, "pattern.circuitBreaker.ejectionDuration", field+".ejection_duration"); ok {
			cb.EjectionDuration = v
		}
	}
	const p = "pattern.circuitBreaker"
	if e, ok := m["algorithm"]; ok {
		if v, ok := d.str(e.val, p+".algorithm", field+".algorithm"); ok {
			cb.Algorithm = strings.ReplaceAll(strings.ToLower(v), "-", "_")
		}
	}
	d.breakerKnobs(cb, m, p, field, bookSpelling)
	switch cb.Algorithm {
	case BreakerBook:
		d.note("%s: an endpoint is ejected after %d consecutive errors for %s, then returns with its count reset", field, cb.ErrorThreshold, cb.EjectionDuration)
	case BreakerBookHalfOpen:
		d.note("%s: an endpoint is ejected after %d consecutive errors for %s, then half-open: one failure ejects it again, one success closes the circuit", field, cb.ErrorThreshold, cb.EjectionDuration)
	case BreakerEnvoy:
		d.note("%s: Envoy outlier detection: %d consecutive 5xx eject an endpoint for %s × the times it was ejected; knobs left out take the mesh's defaults", field, cb.ErrorThreshold, cb.EjectionDuration)
	}
	s.Pattern = Pattern{Kind: KindCircuitBreaking, CircuitBreaker: cb}
}

func (d *decoder) bookCanary(s *Scenario, knobs *node, field string) {
	m := d.fields(knobs, "pattern.split", field, "write "+patternKey(field)+": {upstreams: [{name: payments_v1, weight: 90}, {name: payments_v2, weight: 10}]}", key{name: "upstreams"}, key{name: "match"}, key{name: "rollout"})
	split := &SplitPolicy{Service: "payments"}
	payments := Service{Name: "payments", Sidecar: true}
	if d.require(m, knobs, "pattern.split.targets", field, "upstreams", "list the versions: upstreams: [{name: payments_v1, weight: 90%}, {name: payments_v2, weight: 10%}]") {
		e := m["upstreams"]
		items, _ := d.list(e.val, "pattern.split.targets", field+".upstreams")
		d.ref("topology.services[1].versions", e.val, field+".upstreams")
		for i, it := range items {
			ifield := fmt.Sprintf("%s.upstreams[%d]", field, i)
			tpath := fmt.Sprintf("pattern.split.targets[%d]", i)
			vpath := fmt.Sprintf("topology.services[1].versions[%d]", i)
			um := d.fields(it, tpath, ifield, "write each upstream as {name: payments_v1, weight: 90}", key{name: "name"}, key{name: "weight"}, key{name: "instances"}, key{name: "error_rate"}, key{name: "latency"})
			if d.wrong[it] {
				d.bad[vpath] = true // reported: not a mapping
			}
			v := Version{Instances: 1, ErrorCode: 500}
			if d.require(um, it, tpath+".version", ifield, "name", "name the version, e.g. name: payments_v2") {
				if name, ok := d.ident(um["name"].val, tpath+".version", ifield+".name"); ok {
					v.Name = name
					d.ref(vpath+".name", um["name"].val, ifield+".name")
				}
			}
			if d.require(um, it, tpath+".weight", ifield, "weight", "give the share of traffic in percent, e.g. weight: 50%") {
				if w, ok := d.percent(um["weight"].val, tpath+".weight", ifield+".weight"); ok {
					v.Weight = w
					d.ref(vpath+".weight", um["weight"].val, ifield+".weight")
				}
			}
			if e, ok := um["instances"]; ok {
				if n, ok := d.integer(e.val, vpath+".instances", ifield+".instances"); ok {
					v.Instances = n
				}
			}
			if e, ok := um["error_rate"]; ok {
				if r, ok := d.percent(e.val, vpath+".errorRate", ifield+".error_rate"); ok {
					v.ErrorRate = r
				}
			}
			if e, ok := um["latency"]; ok {
				v.Latency.P50, _ = d.duration(e.val, vpath+".latency.p50", ifield+".latency")
			}
			payments.Versions = append(payments.Versions, v)
			split.Targets = append(split.Targets, WeightedTarget{Version: v.Name, Weight: v.Weight})
		}
	} else {
		d.bad["topology"] = true
	}
	s.Topology = Topology{Entry: "api", Services: []Service{single("api", "payments"), payments}}
	parts := make([]string, len(split.Targets))
	for i, t := range split.Targets {
		parts[i] = fmt.Sprintf("%s %s%%", t.Version, formatNumber(t.Weight))
	}
	d.note("%s: topology api → payments; traffic to payments split %s", field, strings.Join(parts, ", "))
	if e, ok := m["match"]; ok {
		items, _ := d.list(e.val, "pattern.split.match", field+".match")
		for i, it := range items {
			p, f := fmt.Sprintf("pattern.split.match[%d]", i), fmt.Sprintf("%s.match[%d]", field, i)
			d.ref(p, it, f)
			mm := d.fields(it, p, f, matchHint, key{name: "headers"}, key{name: "cookies"}, key{name: "name", synonyms: []string{"version"}})
			mr := MatchRoute{Headers: d.stringMap(mm, "headers", p, f), Cookies: d.stringMap(mm, "cookies", p, f)}
			if d.require(mm, it, p+".version", f, "name", "the version matching requests go to, e.g. name: payments_v2") {
				mr.Version, _ = d.ident(mm["name"].val, p+".version", f+"."+mm["name"].key.Text)
			}
			split.Match = append(split.Match, mr)
		}
	}
	s.Pattern = Pattern{Kind: KindCanary, Split: split}
	if e, ok := m["rollout"]; ok {
		split.Rollout = d.rollout(e.val, "pattern.split.rollout", field+".rollout", bookSpelling)
		base := *split
		base.Targets = slices.Clone(split.Targets)
		base.Match, base.Rollout = nil, nil
		s.Baseline.Split = &base
		d.note("%s: before: the split at its starting weights; after: the rollout moves %s's weight up by %s points a step", field, split.Rollout.Canary, formatNumber(split.Rollout.StepWeight))
	}
}

func (d *decoder) bookPerformance(s *Scenario, perf *node, pfield string) {
	m := d.fields(perf, "load", pfield, "write "+pfield+": {duration: 200s, rps: 100, threads: 10}",
		key{name: "duration"},
		key{name: "rps", synonyms: []string{"qps"}},
		key{name: "threads", synonyms: []string{"connections"}},
		key{name: "success_conditions"})
	if d.require(m, perf, "load.duration", pfield, "duration", "how long each phase runs, e.g. duration: 200s") {
		if v, ok := d.duration(m["duration"].val, "load.duration", pfield+"."+m["duration"].key.Text); ok {
			s.Load.Duration = v
		}
	}
	if e, ok := m["rps"]; ok {
		if v, ok := d.number(e.val, "load.rps", pfield+"."+e.key.Text); ok {
			s.Load.RPS = v
			if v == 0 {
				d.note("%s.%s: 0 read as as fast as possible", pfield, e.key.Text)
			} else {
				d.note("%s.%s: %s read as %s requests per second in total", pfield, e.key.Text, e.val.Text, formatNumber(v))
			}
		}
	} else {
		d.note("%s: no rps: as fast as possible (rps 0)", pfield)
	}
	if e, ok := m["threads"]; ok {
		if v, ok := d.integer(e.val, "load.connections", pfield+"."+e.key.Text); ok {
			s.Load.Connections = v
			if e.key.Text == "threads" {
				d.note("%s.threads: %d read as %d concurrent connections", pfield, v, v)
			}
		}
	} else {
		s.Load.Connections = defaultConnections
		d.note("%s: no threads: %d connections (fortio's default)", pfield, defaultConnections)
	}
	if e, ok := m["success_conditions"]; ok {
		s.Conditions = d.decodeConditions(e.val, pfield+".success_conditions")
	} else {
		d.note("%s: no success_conditions: the run reports measurements without verdicts", pfield)
	}
}

// bookTimeouts reads timeouts: {upstream_services: 2, upstream_latency:
// [10ms, 300ms], request_timeout: 100ms, per_try_timeout: 50ms,
// upstream_retries: 2}: api → payments → currency, payments' calls to
// currency bounded (and retried when upstream_retries is given).
func (d *decoder) bookTimeouts(s *Scenario, knobs *node, field string) {
	m := d.fields(knobs, "pattern.timeout", field, "write "+patternKey(field)+": {upstream_services: 2, upstream_latency: [10ms, 300ms], request_timeout: 100ms, per_try_timeout: 50ms}",
		key{name: "upstream_services"}, key{name: "upstream_error_rate"}, key{name: "upstream_latency"}, key{name: "request_timeout"}, key{name: "per_try_timeout"}, key{name: "upstream_retries"})
	versions, ok := d.bookUpstreams(m, knobs, field, "currency", 2)
	if !ok {
		d.bad["topology"] = true
	}
	if e, ok := m["upstream_latency"]; ok && versions != nil {
		d.bookLatencies(versions, e, field+".upstream_latency", 2)
	}
	currency := Service{Name: "currency", Sidecar: true, Versions: versions}
	s.Topology = Topology{Entry: "api", Services: []Service{single("api", "payments"), single("payments", "currency"), currency}}
	d.note("%s: topology api → payments → currency, every service with a sidecar; payments' sidecar bounds its calls to currency", field)
	t := &TimeoutPolicy{Service: "currency"}
	const p = "pattern.timeout"
	d.timeoutKnobs(t, m, p, field, "request_timeout", "per_try_timeout")
	if _, a := m["request_timeout"]; !a {
		if _, b := m["per_try_timeout"]; !b {
			d.require(m, knobs, p+".request", field, "request_timeout", "the time limit of a whole call, e.g. request_timeout: 100ms")
		}
	}
	s.Pattern = Pattern{Kind: KindTimeouts, Timeout: t}
	d.note("%s: calls to currency: request timeout %s, per-try timeout %s (0s = none)", field, t.Request, t.PerTry)
	if e, ok := m["upstream_retries"]; ok {
		r := RetryPolicy{Service: "currency", RetryOn: []string{"5xx", "reset", "connect-failure"}, PreferNewHost: true, BackoffBase: defaultBackoffBase}
		if n, ok := d.integer(e.val, "pattern.retries[0].attempts", field+".upstream_retries"); ok {
			r.Attempts = n
		}
		s.Pattern.Retries = []RetryPolicy{r}
		d.note("%s: payments retries timed-out and failed calls to currency up to %d times on %s, preferring a host not tried yet, backoff base %s", field, r.Attempts, strings.Join(r.RetryOn, ", "), r.BackoffBase)
	}
}

// bookLatencies reads one duration per version (or one for all) into the
// versions' p50 service time; svcIdx is the service's topology index.
func (d *decoder) bookLatencies(versions []Version, e entry, field string, svcIdx int) {
	path := func(i int) string { return fmt.Sprintf("topology.services[%d].versions[%d].latency.p50", svcIdx, i) }
	switch e.val.Kind {
	case yamlnode.Seq:
		if len(e.val.Items) != len(versions) {
			d.fail(fmt.Sprintf("topology.services[%d].versions", svcIdx), e.val, field, "give one latency per upstream version: [10ms, 300ms]", "gives %d latencies for %d versions", len(e.val.Items), len(versions))
			return
		}
		for i, it := range e.val.Items {
			versions[i].Latency.P50, _ = d.duration(it, path(i), fmt.Sprintf("%s[%d]", field, i))
		}
	case yamlnode.Scalar:
		v, ok := d.duration(e.val, path(0), field)
		if !ok {
			return
		}
		for i := range versions {
			versions[i].Latency.P50 = v
		}
	default:
		d.fail(path(0), e.val, field, "write one latency per version: [10ms, 300ms]", "expected a list of durations, found %s", describe(e.val))
	}
}

// bookRateLimiting reads rate_limiting: {requests_per_second: 50, burst:
// 10, status_code: 429}: api → payments, payments' inbound limited.
func (d *decoder) bookRateLimiting(s *Scenario, knobs *node, field string) {
	m := d.fields(knobs, "pattern.rateLimit", field, "write "+patternKey(field)+": {requests_per_second: 50, burst: 10}", key{name: "requests_per_second", synonyms: []string{"rps"}}, key{name: "burst"}, key{name: "status_code"})
	s.Topology = Topology{Entry: "api", Services: []Service{single("api", "payments"), single("payments")}}
	const p = "pattern.rateLimit"
	r := &RateLimitPolicy{Service: "payments", StatusCode: 429}
	if d.require(m, knobs, p+".requestsPerSecond", field, "requests_per_second", "the requests per second payments accepts, e.g. requests_per_second: 50") {
		r.RequestsPerSecond, _ = d.number(m["requests_per_second"].val, p+".requestsPerSecond", field+"."+m["requests_per_second"].key.Text)
	}
	d.rateLimitKnobs(r, m, p, field, bookSpelling)
	d.note("%s: topology api → payments; payments' sidecar admits %s req/s (burst %d) and answers %d to the rest", field, formatNumber(r.RequestsPerSecond), r.Burst, r.StatusCode)
	s.Pattern = Pattern{Kind: KindRateLimiting, RateLimit: r}
}

// bookFaultInjection reads fault_injection: {abort_status_code: 503,
// abort_percentage: 10, delay_duration: 100ms, delay_percentage: 10}:
// api → payments, api's sidecar injects the faults.
func (d *decoder) bookFaultInjection(s *Scenario, knobs *node, field string) {
	m := d.fields(knobs, "pattern.fault", field, "write "+patternKey(field)+": {abort_percentage: 10, abort_status_code: 503, delay_percentage: 10, delay_duration: 100ms}",
		key{name: "abort_percentage", synonyms: []string{"abort_percent"}}, key{name: "abort_status_code"}, key{name: "delay_percentage", synonyms: []string{"delay_percent"}}, key{name: "delay_duration"})
	s.Topology = Topology{Entry: "api", Services: []Service{single("api", "payments"), single("payments")}}
	const p = "pattern.fault"
	f := &FaultPolicy{Service: "payments"}
	_, hasAbort := m["abort_percentage"]
	_, hasCode := m["abort_status_code"]
	if hasAbort || hasCode {
		f.Abort = &FaultAbort{StatusCode: 503}
		if d.require(m, knobs, p+".abort.percent", field, "abort_percentage", "the share of calls aborted, e.g. abort_percentage: 10") {
			e := m["abort_percentage"]
			f.Abort.Percent, _ = d.percent(e.val, p+".abort.percent", field+"."+e.key.Text)
		}
		if hasCode {
			f.Abort.StatusCode, _ = d.integer(m["abort_status_code"].val, p+".abort.statusCode", field+".abort_status_code")
		} else {
			d.note("%s: no abort_status_code: 503", field)
		}
	}
	_, hasDelay := m["delay_percentage"]
	_, hasDur := m["delay_duration"]
	if hasDelay || hasDur {
		f.Delay = &FaultDelay{}
		if d.require(m, knobs, p+".delay.percent", field, "delay_percentage", "the share of calls delayed, e.g. delay_percentage: 10") {
			e := m["delay_percentage"]
			f.Delay.Percent, _ = d.percent(e.val, p+".delay.percent", field+"."+e.key.Text)
		}
		if d.require(m, knobs, p+".delay.duration", field, "delay_duration", "how long a delayed call waits, e.g. delay_duration: 100ms") {
			f.Delay.Duration, _ = d.duration(m["delay_duration"].val, p+".delay.duration", field+".delay_duration")
		}
	}
	if f.Abort == nil && f.Delay == nil && !d.wrong[knobs] {
		d.fail(p, knobs, field, "give abort_percentage (and abort_status_code), delay_percentage and delay_duration, or both", "injects no fault")
	}
	d.note("%s: topology api → payments; api's sidecar injects the faults into its calls to payments", field)
	s.Pattern = Pattern{Kind: KindFaultInjection, Fault: f}
}

// bookRetryBudgets reads retry_budgets: {upstream_retries: 3,
// upstream_error_rate: 100, budget: envoy, budget_percent: 20,
// min_retry_concurrency: 3}: api → payments → currency; both hops retry in
// both phases without a cap (the baseline), the budget limits both hops in
// the after phase.
func (d *decoder) bookRetryBudgets(s *Scenario, knobs *node, field string) {
	m := d.fields(knobs, "pattern.retryBudgets", field, "write "+patternKey(field)+": {upstream_retries: 3, upstream_error_rate: 100, budget: envoy}",
		append([]key{{name: "upstream_retries"}, {name: "upstream_error_rate"}, {name: "budget", synonyms: []string{"kind"}}}, bookSpelling.keys(budgetKnobKeys...)...)...)
	currency := single("currency")
	if e, ok := m["upstream_error_rate"]; ok {
		currency.Versions[0].ErrorRate, _ = d.percent(e.val, "topology.services[2].versions[0].errorRate", field+".upstream_error_rate")
	} else {
		currency.Versions[0].ErrorRate = 100
		d.note("%s: no upstream_error_rate: currency fails every call (an outage)", field)
	}
	s.Topology = Topology{Entry: "api", Services: []Service{single("api", "payments"), single("payments", "currency"), currency}}
	d.note("%s: topology api → payments → currency, every service with a sidecar", field)
	attempts := 3
	if e, ok := m["upstream_retries"]; ok {
		attempts, _ = d.integer(e.val, "baseline.retries[0].attempts", field+".upstream_retries")
		d.ref("baseline.retries[1].attempts", e.val, field+".upstream_retries")
	} else {
		d.note("%s: no upstream_retries: 3 at each hop", field)
	}
	for _, svc := range []string{"payments", "currency"} {
		s.Baseline.Retries = append(s.Baseline.Retries, RetryPolicy{Service: svc, Attempts: attempts, RetryOn: []string{"5xx"}, BackoffBase: defaultBackoffBase})
		s.Baseline.RetryBudgets = append(s.Baseline.RetryBudgets, RetryBudgetPolicy{Service: svc, Kind: BudgetNone})
	}
	d.note("%s: baseline (both phases): api retries payments and payments retries currency up to %d times on 5xx, backoff base %s, no cap on concurrent retries", field, attempts, defaultBackoffBase)
	kind := BudgetEnvoy
	if e, ok := m["budget"]; ok {
		if v, ok := d.str(e.val, "pattern.retryBudgets[0].kind", field+"."+e.key.Text); ok {
			kind = strings.ReplaceAll(strings.ToLower(v), "-", "_")
			d.ref("pattern.retryBudgets[1].kind", e.val, field+"."+e.key.Text)
		}
	} else {
		d.note("%s: no budget: envoy", field)
	}
	b := DefaultRetryBudget("", kind)
	for _, f := range d.budgetKnobs(&b) {
		k := bookSpelling.key(f.model)
		if e, ok := m[k]; ok {
			f.read(e.val, "pattern.retryBudgets[0]."+f.model, field+"."+k)
			d.ref("pattern.retryBudgets[1]."+f.model, e.val, field+"."+k)
		}
	}
	for _, svc := range []string{"payments", "currency"} {
		bb := b
		bb.Service = svc
		s.Pattern.RetryBudgets = append(s.Pattern.RetryBudgets, bb)
	}
	s.Pattern.Kind = KindRetryBudgets
	d.note("%s: after: retry budget of kind %s on both hops", field, kind)
}
