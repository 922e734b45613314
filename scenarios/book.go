package scenarios

import (
	"fmt"
	"strings"
	"time"
)

// The book shorthand: a deployment: block naming one pattern with its
// knobs, and a performance_test: (or performance_profile:) block. Each
// pattern expands to a fixed topology of the sample system:
//
//	retry             api → payments → currency (currency_v1 … currency_vN)
//	sidecar_proxy     api → payments
//	circuit_breaking  checkout → payments (payments_v1 … payments_vN)
//	canary            api → payments (the versions listed, with weights)

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
		if kk, _ := root.lookup(k); kk != nil {
			return true
		}
	}
	return false
}

func decodeBook(d *decoder, root *node, name string) *Scenario {
	s := &Scenario{APIVersion: APIVersion, Kind: "Scenario", Name: name}
	d.note("name: %s (from the file name; the book shorthand has no name)", name)
	m := d.fields(root, "", "", bookHint, key{name: "deployment"}, key{name: "performance_test", synonyms: []string{"performance_profile"}})
	if d.require(m, root, "pattern", "", "deployment", "name the pattern: deployment: {retry: {upstream_services: 2, upstream_retries: 3, upstream_error_rate: [0, 50]}}") {
		d.bookDeployment(s, m["deployment"])
	} else {
		d.bad["topology"] = true
	}
	if d.require(m, root, "load", "", "performance_test", "add performance_test: {duration: 200s, rps: 100, threads: 10, success_conditions: [...]}") {
		e := m["performance_test"]
		d.bookPerformance(s, e.val, e.key.text)
	}
	return s
}

func (d *decoder) bookDeployment(s *Scenario, e entry) {
	const patterns = "retry, sidecar_proxy, circuit_breaking (or circuit-breaking), canary"
	dep := e.val
	if dep.kind == kScalar || dep.kind == kSeq {
		hint := "write the pattern as a key under deployment:, e.g. deployment: {retry: {upstream_services: 2, upstream_retries: 3}}; patterns are " + patterns
		d.fail("pattern", dep, "deployment", hint, "expected a mapping with one pattern, found %s", dep.describe())
		d.bad["topology"] = true
		return
	}
	if dep.kind != kMap || len(dep.keys) == 0 {
		d.fail("pattern", dep, "deployment", "name one pattern under deployment: "+patterns, "deployment names no pattern")
		d.bad["topology"] = true
		return
	}
	if len(dep.keys) > 1 {
		d.fail("pattern", dep.keys[1], "deployment."+fieldKey(dep.keys[1].text), "one scenario applies one pattern: write a file per pattern", "deployment names %d patterns (%s and %s)", len(dep.keys), clip(dep.keys[0].text), clip(dep.keys[1].text))
		d.bad["topology"] = true
		return
	}
	k, knobs := dep.keys[0], dep.vals[0]
	field := "deployment." + fieldKey(k.text)
	d.ref("pattern", k, field)
	d.ref("pattern.kind", k, field)
	norm := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(k.text)), "-", "_")
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
	default:
		hint := "patterns are " + patterns
		if sug := suggest(norm, []string{"retry", "sidecar_proxy", "circuit_breaking", "canary"}); sug != "" {
			hint = "did you mean " + sug + "? " + hint
		}
		d.fail("pattern", k, field, hint, "unknown pattern %s", quote(k.text))
		d.bad["topology"] = true
		return
	}
	if k.text != kind {
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
		switch e.val.kind {
		case kSeq:
			for i, it := range e.val.items {
				path := fmt.Sprintf("%s[%d].errorRate", vpath, i)
				v, ok := d.percent(it, path, fmt.Sprintf("%s[%d]", rfield, i))
				if !ok {
					return nil, false
				}
				rates = append(rates, v)
				rateNodes = append(rateNodes, it)
			}
		case kScalar:
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
			d.fail(vpath, e.val, rfield, "write one error rate per version, in percent: [0, 50]", "expected a list of percentages, found %s", e.val.describe())
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
	m := d.fields(knobs, "pattern.retry", field, "write "+patternKey(field)+": {upstream_services: 2, upstream_retries: 3, upstream_error_rate: [0, 50]}", key{name: "upstream_services"}, key{name: "upstream_retries"}, key{name: "upstream_error_rate"})
	versions, ok := d.bookUpstreams(m, knobs, field, "currency", 2)
	if !ok {
		d.bad["topology"] = true
	}
	currency := Service{Name: "currency", Sidecar: true, Versions: versions}
	s.Topology = Topology{Entry: "api", Services: []Service{single("api", "payments"), single("payments", "currency"), currency}}
	d.note("%s: topology api → payments → currency, every service with a sidecar", field)
	r := &RetryPolicy{Service: "currency", RetryOn: append([]string(nil), defaultRetryOn...), PreferNewHost: true, BackoffBase: defaultBackoffBase}
	if d.require(m, knobs, "pattern.retry.attempts", field, "upstream_retries", "how many times the mesh retries a failed call, e.g. upstream_retries: 3") {
		if n, ok := d.integer(m["upstream_retries"].val, "pattern.retry.attempts", field+".upstream_retries"); ok {
			r.Attempts = n
			d.note("%s.upstream_retries: %d read as up to %d retries after the first try", field, n, n)
		}
	}
	d.note("%s: payments retries calls to currency on %s, preferring a host not tried yet, backoff base %s (meshgym's defaults; the book file does not set them)", field, strings.Join(r.RetryOn, ", "), r.BackoffBase)
	s.Pattern = Pattern{Kind: KindRetries, Retry: r}
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
	m := d.fields(knobs, "pattern.circuitBreaker", field, "write "+patternKey(field)+": {upstream_services: 2, upstream_error_rate: [0, 100], error_threshold: 2, ejection_duration: 60s}", key{name: "upstream_services"}, key{name: "upstream_error_rate"}, key{name: "error_threshold"}, key{name: "ejection_duration"})
	versions, ok := d.bookUpstreams(m, knobs, field, "payments", 1)
	if !ok {
		d.bad["topology"] = true
	}
	s.Topology = Topology{Entry: "checkout", Services: []Service{single("checkout", "payments"), {Name: "payments", Sidecar: true, Versions: versions}}}
	d.note("%s: topology checkout → payments, every service with a sidecar", field)
	cb := &CircuitBreakerPolicy{Service: "payments"}
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
	d.note("%s: an endpoint is ejected after %d consecutive errors for %s, then returns with its count reset", field, cb.ErrorThreshold, cb.EjectionDuration)
	s.Pattern = Pattern{Kind: KindCircuitBreaking, CircuitBreaker: cb}
}

func (d *decoder) bookCanary(s *Scenario, knobs *node, field string) {
	m := d.fields(knobs, "pattern.split", field, "write "+patternKey(field)+": {upstreams: [{name: payments_v1, weight: 90}, {name: payments_v2, weight: 10}]}", key{name: "upstreams"})
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
			um := d.fields(it, tpath, ifield, "write each upstream as {name: payments_v1, weight: 90}", key{name: "name"}, key{name: "weight"}, key{name: "instances"}, key{name: "error_rate"})
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
	s.Pattern = Pattern{Kind: KindCanary, Split: split}
}

func (d *decoder) bookPerformance(s *Scenario, perf *node, pfield string) {
	m := d.fields(perf, "load", pfield, "write "+pfield+": {duration: 200s, rps: 100, threads: 10}",
		key{name: "duration"},
		key{name: "rps", synonyms: []string{"qps"}},
		key{name: "threads", synonyms: []string{"connections"}},
		key{name: "success_conditions"})
	if d.require(m, perf, "load.duration", pfield, "duration", "how long each phase runs, e.g. duration: 200s") {
		if v, ok := d.duration(m["duration"].val, "load.duration", pfield+"."+m["duration"].key.text); ok {
			s.Load.Duration = v
		}
	}
	if e, ok := m["rps"]; ok {
		if v, ok := d.number(e.val, "load.rps", pfield+"."+e.key.text); ok {
			s.Load.RPS = v
			if v == 0 {
				d.note("%s.%s: 0 read as as fast as possible", pfield, e.key.text)
			} else {
				d.note("%s.%s: %s read as %s requests per second in total", pfield, e.key.text, e.val.text, formatNumber(v))
			}
		}
	} else {
		d.note("%s: no rps: as fast as possible (rps 0)", pfield)
	}
	if e, ok := m["threads"]; ok {
		if v, ok := d.integer(e.val, "load.connections", pfield+"."+e.key.text); ok {
			s.Load.Connections = v
			if e.key.text == "threads" {
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
