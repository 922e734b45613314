package scenarios

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	yaml "github.com/goccy/go-yaml"

	"meshgym/internal/yamlnode"
)

// The long form: apiVersion/kind, explicit topology, pattern policy, load
// and conditions; keys are the model's yaml tags. Marshal writes it and
// decodeLong reads it back to the same Scenario.

func decodeLong(d *decoder, root *node) *Scenario {
	s := &Scenario{}
	m := d.fields(root, "", "", "a scenario is a mapping of keys such as apiVersion:, kind: and topology:",
		key{name: "apiVersion"}, key{name: "kind"}, key{name: "name"}, key{name: "description"}, key{name: "seed"}, key{name: "mesh"},
		key{name: "topology"}, key{name: "baseline"}, key{name: "pattern"}, key{name: "load"}, key{name: "conditions"})
	if d.require(m, root, "apiVersion", "", "apiVersion", "start the file with apiVersion: "+APIVersion) {
		if v, ok := d.str(m["apiVersion"].val, "apiVersion", "apiVersion"); ok {
			s.APIVersion = v
		}
	}
	if d.require(m, root, "kind", "", "kind", "add kind: Scenario") {
		if v, ok := d.str(m["kind"].val, "kind", "kind"); ok {
			s.Kind = v
		}
	}
	if d.require(m, root, "name", "", "name", "name the scenario, e.g. name: retries") {
		if v, ok := d.ident(m["name"].val, "name", "name"); ok {
			s.Name = v
		}
	}
	if e, ok := m["description"]; ok {
		if v, ok := d.scalar(e.val, "description", "description", "text", "write one line of text, e.g. description: the mesh retries failed calls"); ok {
			s.Description = v
		}
	}
	if e, ok := m["seed"]; ok {
		if v, ok := d.scalar(e.val, "seed", "seed", "a whole number", "write a whole number, or leave seed out to get a new one each run"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				d.fail("seed", e.val, "seed", "write a whole number, or leave seed out to get a new one each run", "expected a whole number, found %s", describe(e.val))
			}
			s.Seed = n
			d.ref("seed", e.val, "seed")
		}
	}
	if e, ok := m["mesh"]; ok {
		d.mesh(s, e)
	}
	if d.require(m, root, "topology", "", "topology", "describe the services: topology: {entry: api, services: [...]}") {
		d.longTopology(s, m["topology"].val)
	}
	if e, ok := m["baseline"]; ok {
		d.longBaseline(s, e.val)
	}
	if d.require(m, root, "pattern", "", "pattern", "name the pattern: pattern: {kind: retries, retries: [{...}]}") {
		d.longPattern(s, m["pattern"].val)
	}
	if d.require(m, root, "load", "", "load", "describe the load: load: {duration: 200s, rps: 100, connections: 10}") {
		d.longLoad(s, m["load"].val)
	}
	if e, ok := m["conditions"]; ok {
		s.Conditions = d.decodeConditions(e.val, "conditions")
	}
	return s
}

// mesh reads the top-level mesh: key (both spellings): a profile name or
// name@version, kept with its position; validate checks its syntax.
func (d *decoder) mesh(s *Scenario, e entry) {
	v, ok := d.text(e.val, "mesh", "mesh", meshHint)
	if !ok {
		return
	}
	if strings.TrimSpace(v) == "" || strings.ContainsAny(v, "\n\r") {
		d.fail("mesh", e.val, "mesh", meshHint, "must be one profile name on one line (got %q)", v)
		return
	}
	s.Mesh = strings.TrimSpace(v)
	s.MeshPos = Position{File: d.p.file, Line: e.val.At.Line, Column: e.val.At.Col}
}

func (d *decoder) longTopology(s *Scenario, n *node) {
	d.ref("topology", n, "topology")
	m := d.fields(n, "topology", "topology", "write topology: {entry: api, services: [{name: api, versions: [{name: api}]}]}", key{name: "entry"}, key{name: "services"})
	if d.require(m, n, "topology.entry", "topology", "entry", "name the service the load generator calls, e.g. entry: api") {
		if v, ok := d.ident(m["entry"].val, "topology.entry", "topology.entry"); ok {
			s.Topology.Entry = v
		}
	}
	if !d.require(m, n, "topology.services", "topology", "services", "list the services: services: [{name: api, versions: [{name: api}]}]") {
		return
	}
	items, _ := d.list(m["services"].val, "topology.services", "topology.services")
	for i, it := range items {
		path := fmt.Sprintf("topology.services[%d]", i)
		d.ref(path, it, path)
		sm := d.fields(it, path, path, "write each service as {name: payments, upstreams: [currency], versions: [{name: payments}]}", key{name: "name"}, key{name: "upstreams"}, key{name: "sidecar"}, key{name: "versions"})
		svc := Service{Sidecar: true}
		if d.require(sm, it, path+".name", path, "name", "name the service, e.g. name: payments") {
			if v, ok := d.ident(sm["name"].val, path+".name", path+".name"); ok {
				svc.Name = v
			}
		}
		if e, ok := sm["upstreams"]; ok {
			ups, _ := d.list(e.val, path+".upstreams", path+".upstreams")
			for j, u := range ups {
				upath := fmt.Sprintf("%s.upstreams[%d]", path, j)
				if v, ok := d.ident(u, upath, upath); ok {
					svc.Upstreams = append(svc.Upstreams, v)
				}
			}
		}
		if e, ok := sm["sidecar"]; ok {
			if v, ok := d.boolean(e.val, path+".sidecar", path+".sidecar"); ok {
				svc.Sidecar = v
			}
		}
		if d.require(sm, it, path+".versions", path, "versions", "list the versions, e.g. versions: [{name: "+svc.Name+"}]") {
			vs, _ := d.list(sm["versions"].val, path+".versions", path+".versions")
			for j, vn := range vs {
				svc.Versions = append(svc.Versions, d.longVersion(vn, fmt.Sprintf("%s.versions[%d]", path, j)))
			}
		}
		s.Topology.Services = append(s.Topology.Services, svc)
	}
}

func (d *decoder) longVersion(n *node, path string) Version {
	d.ref(path, n, path)
	m := d.fields(n, path, path, "write each version as {name: currency_v2, instances: 1, errorRate: 50}", key{name: "name"}, key{name: "instances"}, key{name: "weight"}, key{name: "errorRate"}, key{name: "errorCode"}, key{name: "latency"})
	v := Version{Instances: 1, ErrorCode: 500}
	if d.require(m, n, path+".name", path, "name", "name the version, e.g. name: currency_v2") {
		if s, ok := d.ident(m["name"].val, path+".name", path+".name"); ok {
			v.Name = s
		}
	}
	if e, ok := m["instances"]; ok {
		if x, ok := d.integer(e.val, path+".instances", path+".instances"); ok {
			v.Instances = x
		}
	}
	if e, ok := m["weight"]; ok {
		if x, ok := d.percent(e.val, path+".weight", path+".weight"); ok {
			v.Weight = x
		}
	}
	if e, ok := m["errorRate"]; ok {
		if x, ok := d.percent(e.val, path+".errorRate", path+".errorRate"); ok {
			v.ErrorRate = x
		}
	}
	if e, ok := m["errorCode"]; ok {
		if x, ok := d.integer(e.val, path+".errorCode", path+".errorCode"); ok {
			v.ErrorCode = x
		}
	}
	if e, ok := m["latency"]; ok {
		lp := path + ".latency"
		lm := d.fields(e.val, lp, lp, "write latency: {p50: 10ms, p90: 20ms, p99: 50ms}", key{name: "p50"}, key{name: "p90"}, key{name: "p99"})
		for _, q := range []struct {
			k string
			p *Duration
		}{{"p50", &v.Latency.P50}, {"p90", &v.Latency.P90}, {"p99", &v.Latency.P99}} {
			if e, ok := lm[q.k]; ok {
				if x, ok := d.duration(e.val, lp+"."+q.k, lp+"."+q.k); ok {
					*q.p = x
				}
			}
		}
	}
	return v
}

func (d *decoder) longPattern(s *Scenario, n *node) {
	d.ref("pattern", n, "pattern")
	m := d.fields(n, "pattern", "pattern", "write pattern: {kind: retries, retries: [{service: currency, attempts: 3, retryOn: [5xx]}]}", append([]key{{name: "kind"}}, policyKeys...)...)
	if d.require(m, n, "pattern.kind", "pattern", "kind", "one of "+strings.Join(PatternKinds, ", ")) {
		if v, ok := d.str(m["kind"].val, "pattern.kind", "pattern.kind"); ok {
			s.Pattern.Kind = v
		}
	}
	d.longPolicies(&s.Pattern, m, "pattern")
}

func (d *decoder) longBaseline(s *Scenario, n *node) {
	d.ref("baseline", n, "baseline")
	m := d.fields(n, "baseline", "baseline", "write baseline: {retries: [{service: currency, attempts: 3, retryOn: [5xx]}]} (policies active in both phases; no kind)", append([]key{{name: "kind"}}, policyKeys...)...)
	if e, ok := m["kind"]; ok {
		d.fail("baseline.kind", e.key, "baseline.kind", "remove it: the baseline holds the policies of both phases, and pattern.kind names what the after phase adds", "the baseline has no kind")
	}
	d.longPolicies(&s.Baseline, m, "baseline")
}

// policyKeys are the policy keys of pattern: and baseline:.
var policyKeys = []key{{name: "retries"}, {name: "circuitBreaker"}, {name: "split"}, {name: "sidecar"}, {name: "timeout"}, {name: "rateLimit"}, {name: "fault"}, {name: "retryBudgets"}}

// longPolicies reads the policy keys of pattern: or baseline: (at path).
func (d *decoder) longPolicies(pt *Pattern, m map[string]entry, path string) {
	if e, ok := m["retries"]; ok {
		items, _ := d.list(e.val, path+".retries", path+".retries")
		for i, it := range items {
			pt.Retries = append(pt.Retries, d.longRetry(it, fmt.Sprintf("%s.retries[%d]", path, i)))
		}
	}
	if e, ok := m["circuitBreaker"]; ok {
		pt.CircuitBreaker = d.longBreaker(e.val, path+".circuitBreaker")
	}
	if e, ok := m["split"]; ok {
		pt.Split = d.longSplit(e.val, path+".split")
	}
	if e, ok := m["sidecar"]; ok {
		p := path + ".sidecar"
		d.ref(p, e.val, p)
		sm := d.fields(e.val, p, p, "write sidecar: {protocol: http}", key{name: "protocol"})
		sp := &SidecarPolicy{}
		if d.require(sm, e.val, p+".protocol", p, "protocol", "protocol: http") {
			sp.Protocol, _ = d.str(sm["protocol"].val, p+".protocol", p+".protocol")
		}
		pt.Sidecar = sp
	}
	if e, ok := m["timeout"]; ok {
		p := path + ".timeout"
		d.ref(p, e.val, p)
		tm := d.fields(e.val, p, p, "write timeout: {service: payments, request: 100ms, perTry: 50ms}", key{name: "service"}, key{name: "request"}, key{name: "perTry"})
		t := &TimeoutPolicy{}
		if d.require(tm, e.val, p+".service", p, "service", "the upstream whose callers time out, e.g. service: payments") {
			t.Service, _ = d.ident(tm["service"].val, p+".service", p+".service")
		}
		d.timeoutKnobs(t, tm, p, p, "request", "perTry")
		pt.Timeout = t
	}
	if e, ok := m["rateLimit"]; ok {
		p := path + ".rateLimit"
		d.ref(p, e.val, p)
		rm := d.fields(e.val, p, p, "write rateLimit: {service: payments, requestsPerSecond: 50, burst: 10}", key{name: "service"}, key{name: "requestsPerSecond"}, key{name: "burst"}, key{name: "statusCode"})
		r := &RateLimitPolicy{StatusCode: 429}
		if d.require(rm, e.val, p+".service", p, "service", "the service whose inbound is limited, e.g. service: payments") {
			r.Service, _ = d.ident(rm["service"].val, p+".service", p+".service")
		}
		if d.require(rm, e.val, p+".requestsPerSecond", p, "requestsPerSecond", "requests per second each instance accepts, e.g. requestsPerSecond: 50") {
			r.RequestsPerSecond, _ = d.number(rm["requestsPerSecond"].val, p+".requestsPerSecond", p+".requestsPerSecond")
		}
		d.rateLimitKnobs(r, rm, p, p, longSpelling)
		pt.RateLimit = r
	}
	if e, ok := m["fault"]; ok {
		pt.Fault = d.longFault(e.val, path+".fault")
	}
	if e, ok := m["retryBudgets"]; ok {
		items, _ := d.list(e.val, path+".retryBudgets", path+".retryBudgets")
		for i, it := range items {
			pt.RetryBudgets = append(pt.RetryBudgets, d.longBudget(it, fmt.Sprintf("%s.retryBudgets[%d]", path, i)))
		}
	}
}

// defaultBurst is one second of tokens: max(1, ⌈rps⌉).
func defaultBurst(rps float64) int {
	if !(rps > 1) || !isFinite(rps) {
		return 1
	}
	if rps > 1e9 {
		return 1e9
	}
	return int(math.Ceil(rps))
}

func (d *decoder) longRetry(n *node, p string) RetryPolicy {
	d.ref(p, n, p)
	rm := d.fields(n, p, p, "write each retry policy as {service: currency, attempts: 3, retryOn: [5xx, connect-failure]}", key{name: "service"}, key{name: "attempts"}, key{name: "retryOn"}, key{name: "perTryTimeout"}, key{name: "backoffBase"}, key{name: "preferNewHost"})
	r := RetryPolicy{}
	if d.require(rm, n, p+".service", p, "service", "the upstream service whose calls are retried, e.g. service: currency") {
		r.Service, _ = d.ident(rm["service"].val, p+".service", p+".service")
	}
	if d.require(rm, n, p+".attempts", p, "attempts", "retries after the first try, e.g. attempts: 3") {
		r.Attempts, _ = d.integer(rm["attempts"].val, p+".attempts", p+".attempts")
	}
	if d.require(rm, n, p+".retryOn", p, "retryOn", "the failures retried, e.g. retryOn: [5xx, connect-failure]") {
		items, _ := d.list(rm["retryOn"].val, p+".retryOn", p+".retryOn")
		for i, it := range items {
			f := fmt.Sprintf("%s.retryOn[%d]", p, i)
			if v, ok := d.str(it, f, f); ok {
				r.RetryOn = append(r.RetryOn, v)
			}
		}
	}
	if x, ok := rm["perTryTimeout"]; ok {
		r.PerTryTimeout, _ = d.duration(x.val, p+".perTryTimeout", p+".perTryTimeout")
	}
	if x, ok := rm["backoffBase"]; ok {
		r.BackoffBase, _ = d.duration(x.val, p+".backoffBase", p+".backoffBase")
	}
	if x, ok := rm["preferNewHost"]; ok {
		r.PreferNewHost, _ = d.boolean(x.val, p+".preferNewHost", p+".preferNewHost")
	}
	return r
}

func (d *decoder) longBreaker(n *node, p string) *CircuitBreakerPolicy {
	d.ref(p, n, p)
	cm := d.fields(n, p, p, "write circuitBreaker: {service: payments, errorThreshold: 2, ejectionDuration: 60s}",
		longSpelling.keys(append([]string{"service", "algorithm", "errorThreshold", "ejectionDuration"}, breakerKnobKeys...)...)...)
	cb := &CircuitBreakerPolicy{Algorithm: BreakerBook}
	if d.require(cm, n, p+".service", p, "service", "the upstream service whose endpoints are ejected, e.g. service: payments") {
		cb.Service, _ = d.ident(cm["service"].val, p+".service", p+".service")
	}
	if x, ok := cm["algorithm"]; ok {
		cb.Algorithm, _ = d.str(x.val, p+".algorithm", p+".algorithm")
	} else {
		d.note("%s: no algorithm: book (eject for exactly ejectionDuration, return with the count reset)", p)
	}
	if d.require(cm, n, p+".errorThreshold", p, "errorThreshold", "consecutive errors that eject an endpoint, e.g. errorThreshold: 2") {
		cb.ErrorThreshold, _ = d.integer(cm["errorThreshold"].val, p+".errorThreshold", p+".errorThreshold")
	}
	if d.require(cm, n, p+".ejectionDuration", p, "ejectionDuration", "how long an endpoint stays ejected, e.g. ejectionDuration: 60s") {
		cb.EjectionDuration, _ = d.duration(cm["ejectionDuration"].val, p+".ejectionDuration", p+".ejectionDuration")
	}
	d.breakerKnobs(cb, cm, p, p, longSpelling)
	return cb
}

func (d *decoder) longSplit(n *node, p string) *SplitPolicy {
	d.ref(p, n, p)
	sm := d.fields(n, p, p, "write split: {service: payments, targets: [{version: payments_v1, weight: 90}, {version: payments_v2, weight: 10}]}", key{name: "service"}, key{name: "targets"}, key{name: "match"}, key{name: "rollout"})
	sp := &SplitPolicy{}
	if d.require(sm, n, p+".service", p, "service", "the service whose versions share the traffic, e.g. service: payments") {
		sp.Service, _ = d.ident(sm["service"].val, p+".service", p+".service")
	}
	if d.require(sm, n, p+".targets", p, "targets", "list versions and weights: targets: [{version: payments_v1, weight: 90}, {version: payments_v2, weight: 10}]") {
		items, _ := d.list(sm["targets"].val, p+".targets", p+".targets")
		for i, it := range items {
			tp := fmt.Sprintf("%s.targets[%d]", p, i)
			d.ref(tp, it, tp)
			tm := d.fields(it, tp, tp, "write each target as {version: payments_v1, weight: 90}", key{name: "version"}, key{name: "weight"})
			var t WeightedTarget
			if d.require(tm, it, tp+".version", tp, "version", "name a version of "+sp.Service) {
				t.Version, _ = d.ident(tm["version"].val, tp+".version", tp+".version")
			}
			if d.require(tm, it, tp+".weight", tp, "weight", "the share of traffic in percent, e.g. weight: 50") {
				t.Weight, _ = d.percent(tm["weight"].val, tp+".weight", tp+".weight")
			}
			sp.Targets = append(sp.Targets, t)
		}
	}
	if e, ok := sm["match"]; ok {
		items, _ := d.list(e.val, p+".match", p+".match")
		for i, it := range items {
			sp.Match = append(sp.Match, d.longMatch(it, fmt.Sprintf("%s.match[%d]", p, i)))
		}
	}
	if e, ok := sm["rollout"]; ok {
		sp.Rollout = d.rollout(e.val, p+".rollout", p+".rollout", longSpelling)
	}
	return sp
}

const matchHint = "write each match as {headers: {x-canary: \"true\"}, version: payments_v2} (or cookies: {...})"

func (d *decoder) longMatch(n *node, p string) MatchRoute {
	d.ref(p, n, p)
	mm := d.fields(n, p, p, matchHint, key{name: "headers"}, key{name: "cookies"}, key{name: "version"})
	var mr MatchRoute
	mr.Headers = d.stringMap(mm, "headers", p, p)
	mr.Cookies = d.stringMap(mm, "cookies", p, p)
	if d.require(mm, n, p+".version", p, "version", "the version matching requests go to, e.g. version: payments_v2") {
		mr.Version, _ = d.ident(mm["version"].val, p+".version", p+".version")
	}
	return mr
}

// stringMap reads m[k] as a mapping of names to text values; nil when
// absent or empty. p is the model path of m, field as written.
func (d *decoder) stringMap(m map[string]entry, k, p, field string) map[string]string {
	e, ok := m[k]
	if !ok {
		return nil
	}
	mp := p + "." + k
	mf := field + "." + fieldKey(e.key.Text)
	d.ref(mp, e.val, mf)
	if e.val.Kind == yamlnode.Null {
		return nil
	}
	if e.val.Kind != yamlnode.Map {
		d.fail(mp, e.val, mf, "write "+k+": {name: value}", "expected a mapping, found %s", describe(e.val))
		return nil
	}
	var out map[string]string
	for i, kn := range e.val.Keys {
		kp, kf := mp+"."+fieldKey(kn.Text), mf+"."+fieldKey(kn.Text)
		v, ok := d.scalar(e.val.Vals[i], kp, kf, "text", "write the value as text, e.g. \"true\"")
		if !ok {
			continue
		}
		v, _ = stripTypographic(v)
		if out == nil {
			out = map[string]string{}
		}
		name := kn.Text
		if _, dup := out[name]; dup {
			d.fail(kp, kn, kf, "keep one of them", "%s given twice", quote(name))
			continue
		}
		out[name] = v
		d.ref(kp, kn, kf)
	}
	return out
}

func (d *decoder) longFault(n *node, p string) *FaultPolicy {
	d.ref(p, n, p)
	fm := d.fields(n, p, p, "write fault: {service: payments, abort: {statusCode: 503, percent: 10}, delay: {duration: 100ms, percent: 10}}", key{name: "service"}, key{name: "abort"}, key{name: "delay"})
	f := &FaultPolicy{}
	if d.require(fm, n, p+".service", p, "service", "the upstream whose callers inject faults, e.g. service: payments") {
		f.Service, _ = d.ident(fm["service"].val, p+".service", p+".service")
	}
	if e, ok := fm["abort"]; ok {
		ap := p + ".abort"
		d.ref(ap, e.val, ap)
		am := d.fields(e.val, ap, ap, "write abort: {statusCode: 503, percent: 10}", key{name: "statusCode"}, key{name: "percent"})
		a := &FaultAbort{StatusCode: 503}
		if x, ok := am["statusCode"]; ok {
			a.StatusCode, _ = d.integer(x.val, ap+".statusCode", ap+".statusCode")
		} else {
			d.note("%s: no statusCode: 503", ap)
		}
		if d.require(am, e.val, ap+".percent", ap, "percent", "the share of requests aborted, e.g. percent: 10") {
			a.Percent, _ = d.percent(am["percent"].val, ap+".percent", ap+".percent")
		}
		f.Abort = a
	}
	if e, ok := fm["delay"]; ok {
		dp := p + ".delay"
		d.ref(dp, e.val, dp)
		dm := d.fields(e.val, dp, dp, "write delay: {duration: 100ms, percent: 10}", key{name: "duration"}, key{name: "percent"})
		dl := &FaultDelay{}
		if d.require(dm, e.val, dp+".duration", dp, "duration", "how long a delayed request waits, e.g. duration: 100ms") {
			dl.Duration, _ = d.duration(dm["duration"].val, dp+".duration", dp+".duration")
		}
		if d.require(dm, e.val, dp+".percent", dp, "percent", "the share of requests delayed, e.g. percent: 10") {
			dl.Percent, _ = d.percent(dm["percent"].val, dp+".percent", dp+".percent")
		}
		f.Delay = dl
	}
	return f
}

func (d *decoder) longBudget(n *node, p string) RetryBudgetPolicy {
	d.ref(p, n, p)
	bm := d.fields(n, p, p, "write each retry budget as {service: currency, kind: envoy, budgetPercent: 20, minRetryConcurrency: 3}",
		longSpelling.keys(append([]string{"service", "kind"}, budgetKnobKeys...)...)...)
	var b RetryBudgetPolicy
	if d.require(bm, n, p+".kind", p, "kind", "one of "+strings.Join(BudgetKinds, ", ")) {
		if k, ok := d.str(bm["kind"].val, p+".kind", p+".kind"); ok {
			b = DefaultRetryBudget("", k)
		}
	}
	if d.require(bm, n, p+".service", p, "service", "the upstream whose callers' retries are limited, e.g. service: currency") {
		b.Service, _ = d.ident(bm["service"].val, p+".service", p+".service")
	}
	var defaulted []string
	for _, f := range d.budgetKnobs(&b) {
		if x, ok := bm[f.model]; ok {
			f.read(x.val, p+"."+f.model, p+"."+f.model)
		} else if b.Kind == f.kind {
			defaulted = append(defaulted, f.model+" "+f.shown())
		}
	}
	if len(defaulted) > 0 {
		d.note("%s: defaults %s", p, strings.Join(defaulted, ", "))
	}
	return b
}

func (d *decoder) longLoad(s *Scenario, n *node) {
	d.ref("load", n, "load")
	m := d.fields(n, "load", "load", "write load: {duration: 200s, rps: 100, connections: 10}", key{name: "duration"}, key{name: "rps"}, key{name: "connections"})
	if d.require(m, n, "load.duration", "load", "duration", "how long each phase runs, e.g. duration: 200s") {
		s.Load.Duration, _ = d.duration(m["duration"].val, "load.duration", "load.duration")
	}
	if d.require(m, n, "load.rps", "load", "rps", "total requests per second; 0 = as fast as possible") {
		s.Load.RPS, _ = d.number(m["rps"].val, "load.rps", "load.rps")
	}
	if d.require(m, n, "load.connections", "load", "connections", "concurrent connections, e.g. connections: 10") {
		s.Load.Connections, _ = d.integer(m["connections"].val, "load.connections", "load.connections")
	}
}

// ---- Marshal ----

// num is a float64 written in its shortest form (50, not 50.0).
type num float64

// MarshalYAML writes the number without a trailing .0.
func (n num) MarshalYAML() ([]byte, error) { return []byte(formatNumber(float64(n))), nil }

// longDoc is the long form's layout: the model with numbers written plainly,
// short lists in flow style and conditions as {condition, value, tolerance}.
type longDoc struct {
	APIVersion  string          `yaml:"apiVersion"`
	Kind        string          `yaml:"kind"`
	Name        string          `yaml:"name"`
	Description string          `yaml:"description,omitempty"`
	Seed        int64           `yaml:"seed,omitempty"`
	Mesh        string          `yaml:"mesh,omitempty"`
	Topology    longTopology    `yaml:"topology"`
	Baseline    *longPattern    `yaml:"baseline,omitempty"`
	Pattern     longPattern     `yaml:"pattern"`
	Load        longLoad        `yaml:"load"`
	Conditions  []longCondition `yaml:"conditions,omitempty"`
}

type longTopology struct {
	Entry    string        `yaml:"entry"`
	Services []longService `yaml:"services"`
}

type longService struct {
	Name      string        `yaml:"name"`
	Upstreams []string      `yaml:"upstreams,omitempty,flow"`
	Sidecar   bool          `yaml:"sidecar"`
	Versions  []longVersion `yaml:"versions"`
}

type longVersion struct {
	Name      string   `yaml:"name"`
	Instances int      `yaml:"instances"`
	Weight    num      `yaml:"weight,omitempty"`
	ErrorRate num      `yaml:"errorRate"`
	ErrorCode int      `yaml:"errorCode,omitempty"`
	Latency   *Latency `yaml:"latency,omitempty"`
}

type longPattern struct {
	Kind           string         `yaml:"kind,omitempty"`
	Retries        []longRetry    `yaml:"retries,omitempty"`
	CircuitBreaker *longBreaker   `yaml:"circuitBreaker,omitempty"`
	Split          *longSplit     `yaml:"split,omitempty"`
	Sidecar        *SidecarPolicy `yaml:"sidecar,omitempty"`
	Timeout        *TimeoutPolicy `yaml:"timeout,omitempty"`
	RateLimit      *longRateLimit `yaml:"rateLimit,omitempty"`
	Fault          *longFault     `yaml:"fault,omitempty"`
	RetryBudgets   []longBudget   `yaml:"retryBudgets,omitempty"`
}

type longRetry struct {
	Service       string   `yaml:"service"`
	Attempts      int      `yaml:"attempts"`
	RetryOn       []string `yaml:"retryOn,flow"`
	PerTryTimeout Duration `yaml:"perTryTimeout,omitempty"`
	BackoffBase   Duration `yaml:"backoffBase,omitempty"`
	PreferNewHost bool     `yaml:"preferNewHost"`
}

type longBreaker struct {
	Service                  string   `yaml:"service"`
	Algorithm                string   `yaml:"algorithm"`
	ErrorThreshold           int      `yaml:"errorThreshold"`
	EjectionDuration         Duration `yaml:"ejectionDuration"`
	Interval                 Duration `yaml:"interval,omitempty"`
	MaxEjectionPercent       num      `yaml:"maxEjectionPercent,omitempty"`
	MaxEjectionTime          Duration `yaml:"maxEjectionTime,omitempty"`
	ConsecutiveGatewayErrors int      `yaml:"consecutiveGatewayErrors,omitempty"`
	HealthyPanicThreshold    *num     `yaml:"healthyPanicThreshold,omitempty"`
}

type longSplit struct {
	Service string       `yaml:"service"`
	Targets []longTarget `yaml:"targets"`
	Match   []longMatch  `yaml:"match,omitempty"`
	Rollout *longRollout `yaml:"rollout,omitempty"`
}

type longTarget struct {
	Version string `yaml:"version"`
	Weight  num    `yaml:"weight"`
}

type longMatch struct {
	Headers map[string]string `yaml:"headers,omitempty,flow"`
	Cookies map[string]string `yaml:"cookies,omitempty,flow"`
	Version string            `yaml:"version"`
}

type longRollout struct {
	Canary             string   `yaml:"canary"`
	StepWeight         num      `yaml:"stepWeight"`
	MaxWeight          num      `yaml:"maxWeight"`
	MaxErrorRate       num      `yaml:"maxErrorRate"`
	MaxLatencyIncrease num      `yaml:"maxLatencyIncrease"`
	MinRequests        int      `yaml:"minRequests"`
	MaxStepDuration    Duration `yaml:"maxStepDuration"`
}

type longRateLimit struct {
	Service           string `yaml:"service"`
	RequestsPerSecond num    `yaml:"requestsPerSecond"`
	Burst             int    `yaml:"burst"`
	StatusCode        int    `yaml:"statusCode"`
}

type longFault struct {
	Service string          `yaml:"service"`
	Abort   *longFaultAbort `yaml:"abort,omitempty"`
	Delay   *longFaultDelay `yaml:"delay,omitempty"`
}

type longFaultAbort struct {
	StatusCode int `yaml:"statusCode"`
	Percent    num `yaml:"percent"`
}

type longFaultDelay struct {
	Duration Duration `yaml:"duration"`
	Percent  num      `yaml:"percent"`
}

// longBudget writes the fields of the budget's kind always (a 0 there is
// meant) and the others only when set (validation refuses them).
type longBudget struct {
	Service              string    `yaml:"service"`
	Kind                 string    `yaml:"kind"`
	BudgetPercent        *num      `yaml:"budgetPercent,omitempty"`
	MinRetryConcurrency  *int      `yaml:"minRetryConcurrency,omitempty"`
	RetryRatio           *num      `yaml:"retryRatio,omitempty"`
	MinRetriesPerSecond  *num      `yaml:"minRetriesPerSecond,omitempty"`
	TTL                  *Duration `yaml:"ttl,omitempty"`
	MaxConcurrentRetries *int      `yaml:"maxConcurrentRetries,omitempty"`
}

type longLoad struct {
	Duration    Duration `yaml:"duration"`
	RPS         num      `yaml:"rps"`
	Connections int      `yaml:"connections"`
}

type longCondition struct {
	Condition string `yaml:"condition"`
	Value     string `yaml:"value"`
	Tolerance *num   `yaml:"tolerance,omitempty"`
}

// Marshal writes s in the long form (what `meshgym explain` prints).
// Loading the result gives s back (Source, Notes and condition positions
// aside).
func Marshal(s *Scenario) ([]byte, error) {
	if s == nil {
		return nil, fmt.Errorf("marshal scenario: nil scenario")
	}
	doc := longDoc{
		APIVersion:  s.APIVersion,
		Kind:        s.Kind,
		Name:        s.Name,
		Description: s.Description,
		Seed:        s.Seed,
		Mesh:        s.Mesh,
		Topology:    longTopology{Entry: s.Topology.Entry},
		Load:        longLoad{Duration: s.Load.Duration, RPS: num(s.Load.RPS), Connections: s.Load.Connections},
	}
	if doc.APIVersion == "" {
		doc.APIVersion = APIVersion
	}
	if doc.Kind == "" {
		doc.Kind = "Scenario"
	}
	for _, svc := range s.Topology.Services {
		ls := longService{Name: svc.Name, Upstreams: svc.Upstreams, Sidecar: svc.Sidecar}
		for _, v := range svc.Versions {
			lv := longVersion{Name: v.Name, Instances: v.Instances, Weight: num(v.Weight), ErrorRate: num(v.ErrorRate), ErrorCode: v.ErrorCode}
			if v.Latency != (Latency{}) {
				l := v.Latency
				lv.Latency = &l
			}
			ls.Versions = append(ls.Versions, lv)
		}
		doc.Topology.Services = append(doc.Topology.Services, ls)
	}
	doc.Pattern = marshalPattern(s.Pattern)
	if !s.Baseline.IsZero() {
		b := marshalPattern(s.Baseline)
		doc.Baseline = &b
	}
	for _, c := range s.Conditions {
		lc := longCondition{Condition: c.Selector(), Value: c.ValueString()}
		if c.Tolerance != nil {
			t := num(*c.Tolerance)
			lc.Tolerance = &t
		}
		doc.Conditions = append(doc.Conditions, lc)
	}
	out, err := yaml.MarshalWithOptions(doc, yaml.Indent(2), yaml.IndentSequence(true))
	if err != nil {
		return nil, fmt.Errorf("marshal scenario %s: %w", s.Name, err)
	}
	return out, nil
}

func marshalPattern(p Pattern) longPattern {
	lp := longPattern{Kind: p.Kind, Sidecar: p.Sidecar, Timeout: p.Timeout}
	for _, r := range p.Retries {
		lr := longRetry{Service: r.Service, Attempts: r.Attempts, RetryOn: r.RetryOn, PerTryTimeout: r.PerTryTimeout, BackoffBase: r.BackoffBase, PreferNewHost: r.PreferNewHost}
		if lr.RetryOn == nil {
			lr.RetryOn = []string{}
		}
		lp.Retries = append(lp.Retries, lr)
	}
	if cb := p.CircuitBreaker; cb != nil {
		lb := &longBreaker{Service: cb.Service, Algorithm: cb.Algorithm, ErrorThreshold: cb.ErrorThreshold, EjectionDuration: cb.EjectionDuration,
			Interval: cb.Interval, MaxEjectionPercent: num(cb.MaxEjectionPercent), MaxEjectionTime: cb.MaxEjectionTime, ConsecutiveGatewayErrors: cb.ConsecutiveGatewayErrors}
		if cb.HealthyPanicThreshold != nil {
			v := num(*cb.HealthyPanicThreshold)
			lb.HealthyPanicThreshold = &v
		}
		lp.CircuitBreaker = lb
	}
	if sp := p.Split; sp != nil {
		ls := &longSplit{Service: sp.Service, Targets: []longTarget{}}
		for _, t := range sp.Targets {
			ls.Targets = append(ls.Targets, longTarget{Version: t.Version, Weight: num(t.Weight)})
		}
		for _, m := range sp.Match {
			ls.Match = append(ls.Match, longMatch{Headers: m.Headers, Cookies: m.Cookies, Version: m.Version})
		}
		if r := sp.Rollout; r != nil {
			ls.Rollout = &longRollout{Canary: r.Canary, StepWeight: num(r.StepWeight), MaxWeight: num(r.MaxWeight), MaxErrorRate: num(r.MaxErrorRate),
				MaxLatencyIncrease: num(r.MaxLatencyIncrease), MinRequests: r.MinRequests, MaxStepDuration: r.MaxStepDuration}
		}
		lp.Split = ls
	}
	if r := p.RateLimit; r != nil {
		lp.RateLimit = &longRateLimit{Service: r.Service, RequestsPerSecond: num(r.RequestsPerSecond), Burst: r.Burst, StatusCode: r.StatusCode}
	}
	if f := p.Fault; f != nil {
		lf := &longFault{Service: f.Service}
		if f.Abort != nil {
			lf.Abort = &longFaultAbort{StatusCode: f.Abort.StatusCode, Percent: num(f.Abort.Percent)}
		}
		if f.Delay != nil {
			lf.Delay = &longFaultDelay{Duration: f.Delay.Duration, Percent: num(f.Delay.Percent)}
		}
		lp.Fault = lf
	}
	for _, b := range p.RetryBudgets {
		lb := longBudget{Service: b.Service, Kind: b.Kind}
		pn := func(v float64, mine bool) *num {
			if v == 0 && !mine {
				return nil
			}
			n := num(v)
			return &n
		}
		pi := func(v int, mine bool) *int {
			if v == 0 && !mine {
				return nil
			}
			return &v
		}
		lb.BudgetPercent = pn(b.BudgetPercent, b.Kind == BudgetEnvoy)
		lb.MinRetryConcurrency = pi(b.MinRetryConcurrency, b.Kind == BudgetEnvoy)
		lb.RetryRatio = pn(b.RetryRatio, b.Kind == BudgetLinkerd)
		lb.MinRetriesPerSecond = pn(b.MinRetriesPerSecond, b.Kind == BudgetLinkerd)
		if b.TTL != 0 || b.Kind == BudgetLinkerd {
			t := b.TTL
			lb.TTL = &t
		}
		lb.MaxConcurrentRetries = pi(b.MaxConcurrentRetries, b.Kind == BudgetMaxRetries)
		lp.RetryBudgets = append(lp.RetryBudgets, lb)
	}
	return lp
}
