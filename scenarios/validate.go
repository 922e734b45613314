package scenarios

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Limits that keep a scenario runnable on a laptop.
const (
	maxVersions     = 20  // versions of one service
	maxInstances    = 100 // instances in a whole topology
	maxServices     = 20  // services in a topology
	maxConnections  = 10000
	maxRPS          = 1e6
	maxRetries      = 10
	maxErrThreshold = 1000
)

// RetryOnValues are the retryOn conditions a RetryPolicy may name (Envoy's
// x-envoy-retry-on values).
var RetryOnValues = []string{"5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "retriable-4xx", "refused-stream", "retriable-status-codes", "envoy-ratelimited"}

// SidecarProtocols are the protocols a SidecarPolicy may name.
var SidecarProtocols = []string{"http", "grpc", "tcp"}

// violation is a problem with a Scenario's value at a model path such as
// "load.rps" or "topology.services[2].versions[1].errorRate". A secondary
// violation is not reported when another one is at the same place in the
// file (the book's canary writes a version and a split target in one
// place: a name listed twice is one problem, not two).
type violation struct {
	path, msg, hint string
	secondary       bool
}

// Validate checks s as the loaders do (use it after changing a loaded
// scenario, e.g. with --set). Problems are returned as Errors whose Field is
// the model path ("load.rps") and whose File is s.Source.
func (s *Scenario) Validate() error {
	p := &problems{file: s.Source}
	for _, v := range validate(s) {
		p.add(pos{}, v.path, v.hint, "%s", v.msg)
	}
	return p.err()
}

type checker struct{ out []violation }

func (c *checker) add(path, hint, format string, args ...any) {
	c.out = append(c.out, violation{path: path, msg: fmt.Sprintf(format, args...), hint: hint})
}

// addSecondary adds a violation that gives way to another at its place.
func (c *checker) addSecondary(path, hint, format string, args ...any) {
	c.add(path, hint, format, args...)
	c.out[len(c.out)-1].secondary = true
}

func validate(s *Scenario) []violation {
	c := &checker{}
	if s.APIVersion != APIVersion {
		c.add("apiVersion", "write apiVersion: "+APIVersion, "unknown apiVersion %s", quote(s.APIVersion))
	}
	if s.Kind != "Scenario" {
		c.add("kind", "write kind: Scenario", "kind must be Scenario (got %s)", quote(s.Kind))
	}
	if s.Name == "" {
		c.add("name", "name the scenario, e.g. name: retries", "must not be empty")
	}
	split := ""
	if s.Pattern.Split != nil {
		split = s.Pattern.Split.Service
	}
	names := c.topology(s.Topology, split)
	c.pattern(s, names)
	c.load(s.Load)
	c.conditions(s, names)
	return c.out
}

// componentNames are the names a condition's name= may use: services,
// versions, and <service|version>_sidecar for services with sidecars.
type componentNames map[string]bool

// topology checks the services; the weights of service split are checked
// against the pattern's split instead (one message, not two).
func (c *checker) topology(t Topology, split string) componentNames {
	names := componentNames{}
	services := map[string]int{}
	versions := map[string]string{} // version → service
	if len(t.Services) == 0 {
		c.add("topology.services", "list at least one service", "no services")
		return names
	}
	if len(t.Services) > maxServices {
		c.add("topology.services", "a sample system has a few services", "%d services; at most %d", len(t.Services), maxServices)
	}
	instances := 0
	for i, svc := range t.Services {
		p := fmt.Sprintf("topology.services[%d]", i)
		if svc.Name == "" {
			c.add(p+".name", "name the service", "must not be empty")
		} else if j, dup := services[svc.Name]; dup {
			c.add(p+".name", "give each service its own name", "service %s is also topology.services[%d]", quote(svc.Name), j)
		} else {
			services[svc.Name] = i
		}
		names[svc.Name] = true
		if svc.Sidecar {
			names[svc.Name+"_sidecar"] = true
		}
		if len(svc.Versions) == 0 {
			c.add(p+".versions", "give the service at least one version, e.g. versions: [{name: "+svc.Name+"}]", "no versions")
		}
		if len(svc.Versions) > maxVersions {
			c.add(p+".versions", "each version runs as its own processes", "%d versions; at most %d", len(svc.Versions), maxVersions)
		}
		weighted, sum := false, 0.0
		for j, v := range svc.Versions {
			vp := fmt.Sprintf("%s.versions[%d]", p, j)
			if v.Name == "" {
				c.add(vp+".name", "name the version, e.g. "+svc.Name+"_v1", "must not be empty")
			} else if other, dup := versions[v.Name]; dup {
				c.addSecondary(vp+".name", "version names are unique across the topology: they name components in conditions", "version %s is also a version of %s", quote(v.Name), clip(other))
			} else {
				versions[v.Name] = svc.Name
			}
			names[v.Name] = true
			if svc.Sidecar {
				names[v.Name+"_sidecar"] = true
			}
			if v.Instances < 1 {
				c.add(vp+".instances", "run at least one instance", "must be ≥ 1 (got %d)", v.Instances)
			}
			instances += max(v.Instances, 0)
			c.percent(vp+".errorRate", "error rate", v.ErrorRate)
			if v.ErrorCode < 100 || v.ErrorCode > 599 {
				c.add(vp+".errorCode", "an HTTP status such as 500 or 503", "must be an HTTP status from 100 to 599 (got %d)", v.ErrorCode)
			}
			if v.Weight != 0 {
				weighted = true
			}
			c.percent(vp+".weight", "weight", v.Weight)
			sum += v.Weight
			for _, l := range []struct {
				k string
				d Duration
			}{{"p50", v.Latency.P50}, {"p90", v.Latency.P90}, {"p99", v.Latency.P99}} {
				if l.d < 0 {
					c.add(vp+".latency."+l.k, "a service time is ≥ 0", "must be ≥ 0 (got %s)", l.d)
				}
			}
		}
		if weighted && svc.Name != split && (!isFinite(sum) || math.Abs(sum-100) > 1e-9) {
			c.add(p+".versions", "make the weights add up to 100, e.g. 90 and 10", "weights of %s add up to %s, not 100", clip(svc.Name), formatNumber(sum))
		}
	}
	if instances > maxInstances {
		c.add("topology.services", "fewer instances: every instance is a process or a container", "%d instances in all; at most %d", instances, maxInstances)
	}
	for name, svc := range versions {
		if i, clash := services[name]; clash && svc != name {
			c.add(fmt.Sprintf("topology.services[%d].name", i), "rename the version or the service", "%s is both a service and a version of %s", quote(name), clip(svc))
		}
	}
	if t.Entry == "" {
		c.add("topology.entry", "name the service the load generator calls", "must not be empty")
	} else if _, ok := services[t.Entry]; !ok {
		c.add("topology.entry", "one of "+strings.Join(serviceNames(t), ", "), "unknown service %s", quote(t.Entry))
	}
	for i, svc := range t.Services {
		for j, u := range svc.Upstreams {
			up := fmt.Sprintf("topology.services[%d].upstreams[%d]", i, j)
			if _, ok := services[u]; !ok {
				c.add(up, "one of "+strings.Join(serviceNames(t), ", "), "unknown service %s", quote(u))
			} else if u == svc.Name {
				c.add(up, "a service cannot call itself", "%s calls itself", clip(u))
			}
		}
	}
	if cyc := findCycle(t, services); cyc != "" {
		c.add("topology.services", "services call their upstreams on every request: a loop never ends", "services call each other in a loop: %s", cyc)
	}
	return names
}

func serviceNames(t Topology) []string {
	var out []string
	for _, s := range t.Services {
		if s.Name != "" && !slices.Contains(out, s.Name) {
			out = append(out, s.Name)
		}
	}
	return out
}

// findCycle returns "a → b → a" when the upstream graph has a loop.
func findCycle(t Topology, idx map[string]int) string {
	state := make([]int, len(t.Services)) // 0 new, 1 on stack, 2 done
	var stack []string
	var visit func(i int) string
	visit = func(i int) string {
		state[i] = 1
		stack = append(stack, t.Services[i].Name)
		for _, u := range t.Services[i].Upstreams {
			j, ok := idx[u]
			if !ok || u == t.Services[i].Name {
				continue
			}
			if state[j] == 1 {
				start := slices.Index(stack, u)
				loop := append(slices.Clone(stack[start:]), u)
				for i, name := range loop {
					loop[i] = clip(name)
				}
				return strings.Join(loop, " → ")
			}
			if state[j] == 0 {
				if c := visit(j); c != "" {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = 2
		return ""
	}
	for i := range t.Services {
		if state[i] == 0 {
			if c := visit(i); c != "" {
				return c
			}
		}
	}
	return ""
}

func isFinite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func (c *checker) percent(path, what string, v float64) {
	switch {
	case !isFinite(v):
		c.add(path, "write a percentage from 0 to 100", "%s must be a number", what)
	case v < 0:
		c.add(path, "write a percentage from 0 to 100", "%s must be ≥ 0 (got %s)", what, formatNumber(v))
	case v > 100:
		c.add(path, "percentages are written 50 or 50%, not as fractions; at most 100", "%s must be ≤ 100%% (got %s%%)", what, formatNumber(v))
	}
}

// upstreamOf reports whether service is called by some service.
func upstreamOf(t Topology, service string) bool {
	for _, s := range t.Services {
		if slices.Contains(s.Upstreams, service) {
			return true
		}
	}
	return false
}

func findService(t Topology, name string) (Service, bool) {
	for _, s := range t.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

func (c *checker) policyService(t Topology, path, name string) (Service, bool) {
	if name == "" {
		c.add(path, "name the upstream service the pattern applies to", "must not be empty")
		return Service{}, false
	}
	svc, ok := findService(t, name)
	if !ok {
		if len(t.Services) > 0 {
			c.add(path, "one of "+strings.Join(serviceNames(t), ", "), "unknown service %s", quote(name))
		}
		return Service{}, false
	}
	if !upstreamOf(t, name) {
		c.add(path, "the pattern applies to calls into a service: name a service that another one calls", "no service calls %s", clip(name))
	}
	return svc, true
}

func (c *checker) pattern(s *Scenario, _ componentNames) {
	p := s.Pattern
	t := s.Topology
	want := map[string]bool{}
	switch p.Kind {
	case KindRetries:
		want["retry"] = true
	case KindSidecarProxy:
		want["sidecar"] = true
	case KindCircuitBreaking:
		want["circuitBreaker"] = true
	case KindCanary:
		want["split"] = true
	case "":
		c.add("pattern.kind", "one of "+strings.Join(PatternKinds, ", "), "must not be empty")
	default:
		hint := "one of " + strings.Join(PatternKinds, ", ")
		if sug := suggest(p.Kind, PatternKinds); sug != "" {
			hint = "did you mean " + sug + "? " + hint
		}
		c.add("pattern.kind", hint, "unknown pattern %s", quote(p.Kind))
	}
	for _, x := range []struct {
		key string
		set bool
	}{{"retry", p.Retry != nil}, {"circuitBreaker", p.CircuitBreaker != nil}, {"split", p.Split != nil}, {"sidecar", p.Sidecar != nil}} {
		if x.set && !want[x.key] && len(want) > 0 {
			c.add("pattern."+x.key, "remove it, or set pattern.kind to match", "%s does not belong to pattern %s", x.key, clip(p.Kind))
		}
		if !x.set && want[x.key] {
			c.add("pattern", "add pattern."+x.key, "pattern %s needs %s", clip(p.Kind), x.key)
		}
	}
	if r := p.Retry; r != nil {
		const pp = "pattern.retry"
		c.policyService(t, pp+".service", r.Service)
		if r.Attempts < 0 || r.Attempts > maxRetries {
			c.add(pp+".attempts", fmt.Sprintf("retries after the first try, from 0 to %d", maxRetries), "must be from 0 to %d (got %d)", maxRetries, r.Attempts)
		}
		if len(r.RetryOn) == 0 {
			c.add(pp+".retryOn", "e.g. retryOn: [5xx, connect-failure]", "must name at least one failure to retry")
		}
		for i, on := range r.RetryOn {
			if !slices.Contains(RetryOnValues, on) {
				hint := "one of " + strings.Join(RetryOnValues, ", ")
				if sug := suggest(on, RetryOnValues); sug != "" {
					hint = "did you mean " + sug + "? " + hint
				}
				c.add(fmt.Sprintf("%s.retryOn[%d]", pp, i), hint, "unknown retryOn %s", quote(on))
			}
		}
		if r.PerTryTimeout < 0 {
			c.add(pp+".perTryTimeout", "0 means no per-try timeout", "must be ≥ 0 (got %s)", r.PerTryTimeout)
		}
		if r.BackoffBase < 0 {
			c.add(pp+".backoffBase", "0 means no backoff", "must be ≥ 0 (got %s)", r.BackoffBase)
		}
	}
	if cb := p.CircuitBreaker; cb != nil {
		const pp = "pattern.circuitBreaker"
		c.policyService(t, pp+".service", cb.Service)
		if cb.ErrorThreshold < 1 || cb.ErrorThreshold > maxErrThreshold {
			c.add(pp+".errorThreshold", "consecutive errors that eject an endpoint, e.g. 2", "must be from 1 to %d (got %d)", maxErrThreshold, cb.ErrorThreshold)
		}
		if cb.EjectionDuration <= 0 {
			c.add(pp+".ejectionDuration", "how long an endpoint stays out, e.g. 60s", "must be > 0 (got %s)", cb.EjectionDuration)
		}
	}
	if sp := p.Split; sp != nil {
		const pp = "pattern.split"
		svc, ok := c.policyService(t, pp+".service", sp.Service)
		if len(sp.Targets) == 0 {
			c.add(pp+".targets", "list the versions and their weights", "no targets")
		}
		sum := 0.0
		seen := map[string]bool{}
		for i, tg := range sp.Targets {
			tp := fmt.Sprintf("%s.targets[%d]", pp, i)
			if ok && !slices.ContainsFunc(svc.Versions, func(v Version) bool { return v.Name == tg.Version }) {
				var vs []string
				for _, v := range svc.Versions {
					vs = append(vs, v.Name)
				}
				c.add(tp+".version", "one of "+strings.Join(vs, ", "), "%s is not a version of %s", quote(tg.Version), clip(sp.Service))
			}
			if seen[tg.Version] {
				c.add(tp+".version", "list each version once", "%s listed twice", clip(tg.Version))
			}
			seen[tg.Version] = true
			c.percent(tp+".weight", "weight", tg.Weight)
			sum += tg.Weight
		}
		if len(sp.Targets) > 0 && (!isFinite(sum) || math.Abs(sum-100) > 1e-9) {
			c.add(pp+".targets", "make the weights add up to 100, e.g. 90 and 10", "weights add up to %s, not 100", formatNumber(sum))
		}
		if ok {
			for _, tg := range sp.Targets {
				if targetCount(sp, tg.Version) > 1 {
					continue // listed twice: reported above
				}
				for j, v := range svc.Versions {
					if v.Name == tg.Version && v.Weight != 0 && v.Weight != tg.Weight {
						c.add(fmt.Sprintf("topology.services[%d].versions[%d].weight", serviceIndex(t, svc.Name), j), "give the weight in one place (pattern.split)", "weight %s differs from pattern.split's %s", formatNumber(v.Weight), formatNumber(tg.Weight))
					}
				}
			}
		}
	}
	if sc := p.Sidecar; sc != nil {
		if !slices.Contains(SidecarProtocols, sc.Protocol) {
			c.add("pattern.sidecar.protocol", "one of "+strings.Join(SidecarProtocols, ", "), "unknown protocol %s", quote(sc.Protocol))
		}
	}
}

// targetCount is how many targets of sp name version.
func targetCount(sp *SplitPolicy, version string) int {
	n := 0
	for _, t := range sp.Targets {
		if t.Version == version {
			n++
		}
	}
	return n
}

func serviceIndex(t Topology, name string) int {
	for i, s := range t.Services {
		if s.Name == name {
			return i
		}
	}
	return -1
}

func (c *checker) load(l LoadSpec) {
	switch {
	case l.Duration <= 0:
		c.add("load.duration", "how long each phase runs, e.g. 200s", "must be > 0 (got %s)", l.Duration)
	case l.Duration.D() > maxDuration:
		c.add("load.duration", "each phase runs once before and once after the pattern", "must be at most %s (got %s)", Duration(maxDuration), l.Duration)
	case l.Duration.D() < time.Second:
		c.add("load.duration", "give the load at least a second, e.g. 30s", "must be at least 1s (got %s)", l.Duration)
	}
	switch {
	case !isFinite(l.RPS):
		c.add("load.rps", "use 0 for as fast as possible", "must be a number")
	case l.RPS < 0:
		c.add("load.rps", "use 0 for as fast as possible", "must be ≥ 0 (got %s)", formatNumber(l.RPS))
	case l.RPS > maxRPS:
		c.add("load.rps", "use 0 for as fast as possible", "must be at most %s (got %s)", formatNumber(maxRPS), formatNumber(l.RPS))
	}
	if l.Connections < 1 || l.Connections > maxConnections {
		c.add("load.connections", "concurrent connections, e.g. 10", "must be from 1 to %d (got %d)", maxConnections, l.Connections)
	}
}

func (c *checker) conditions(s *Scenario, names componentNames) {
	var known []string
	for n := range names {
		known = append(known, n)
	}
	slices.Sort(known)
	for i, cond := range s.Conditions {
		p := fmt.Sprintf("conditions[%d]", i)
		if _, _, ok := splitMetric(cond.Metric); !ok {
			c.add(p, metricHint, "unknown metric %s", quote(cond.Metric))
		}
		if !slices.Contains([]string{"=", "!=", "<", "<=", ">", ">="}, cond.Op) {
			c.add(p, "operators are = != < <= > >=", "unknown operator %s", quote(cond.Op))
		}
		for _, m := range cond.Matchers {
			if m.Label == LabelName && len(names) > 0 && !names[m.Value] {
				hint := "names here: " + strings.Join(known, ", ")
				if sug := suggest(m.Value, known); sug != "" {
					hint = "did you mean " + sug + "? " + hint
				}
				c.add(p, hint, "name=%s is not a service, version or sidecar of this topology", clip(m.Value))
			}
		}
		if cond.Tolerance != nil && (*cond.Tolerance < 0 || !isFinite(*cond.Tolerance)) {
			c.add(p, "a tolerance is ≥ 0", "tolerance must be ≥ 0")
		}
		if !isFinite(cond.Value) || cond.Value < 0 {
			c.add(p, "metrics are never negative", "value must be ≥ 0")
		}
	}
}
