package scenarios

import (
	"fmt"
	"maps"
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
	if s.Mesh != "" && !validMeshSpec(s.Mesh) {
		c.add("mesh", meshHint, "%s is not a mesh profile: write a name or name@version", quote(s.Mesh))
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
	if p.Kind == "" {
		c.add("pattern.kind", "one of "+strings.Join(PatternKinds, ", "), "must not be empty")
	} else if need, ok := kindPolicy[p.Kind]; !ok {
		hint := "one of " + strings.Join(PatternKinds, ", ")
		if sug := suggest(p.Kind, PatternKinds); sug != "" {
			hint = "did you mean " + sug + "? " + hint
		}
		c.add("pattern.kind", hint, "unknown pattern %s", quote(p.Kind))
	} else if !policySet(p, need) {
		c.add("pattern", "add pattern."+need, "pattern %s needs %s", clip(p.Kind), need)
	}
	if p.Sidecar != nil && p.Kind != KindSidecarProxy && p.Kind != "" && kindPolicy[p.Kind] != "" {
		c.add("pattern.sidecar", "remove it, or set pattern.kind to sidecar_proxy", "sidecar does not belong to pattern %s", clip(p.Kind))
	}
	c.policies(t, p, "pattern")
	b := s.Baseline
	if b.Kind != "" {
		c.add("baseline.kind", "remove it: the baseline holds the policies of both phases, and pattern.kind names what the after phase adds", "the baseline has no kind")
	}
	if b.Sidecar != nil {
		c.add("baseline.sidecar", "the sidecar pattern changes the deployment: set it in pattern", "sidecar does not belong in the baseline")
	}
	if b.Split != nil && b.Split.Rollout != nil {
		c.add("baseline.split.rollout", "a rollout is what the after phase does: move the split to pattern", "rollout does not belong in the baseline")
	}
	c.policies(t, b, "baseline")
	// Policies that meet in a phase.
	for _, after := range []bool{false, true} {
		ph := s.Phase(after)
		if tp := ph.Timeout; tp != nil && tp.PerTry > 0 {
			if r := ph.Retry(tp.Service); r != nil && r.PerTryTimeout > 0 && r.PerTryTimeout != tp.PerTry {
				c.add(c.where(s, "timeout", after)+".perTry", "give the per-try timeout once, in timeout.perTry or in the retry policy's perTryTimeout", "%s differs from the retry policy's perTryTimeout %s for %s", tp.PerTry, r.PerTryTimeout, clip(tp.Service))
			}
		}
		for _, bg := range ph.RetryBudgets {
			if bg.Kind == BudgetNone || ph.Retry(bg.Service) != nil {
				continue
			}
			path := ""
			if i := slices.IndexFunc(s.Pattern.RetryBudgets, func(x RetryBudgetPolicy) bool { return x.Service == bg.Service }); after && i >= 0 {
				path = fmt.Sprintf("pattern.retryBudgets[%d].service", i)
			} else {
				path = fmt.Sprintf("baseline.retryBudgets[%d].service", slices.IndexFunc(s.Baseline.RetryBudgets, func(x RetryBudgetPolicy) bool { return x.Service == bg.Service }))
			}
			if !slices.ContainsFunc(c.out, func(v violation) bool { return v.path == path }) {
				c.add(path, "add a retry policy for "+clip(bg.Service)+" in pattern.retries or baseline.retries", "no retry policy for %s to limit", clip(bg.Service))
			}
		}
	}
}

// where names the part of s (pattern or baseline) whose policy of the
// given key is in force in a phase.
func (c *checker) where(s *Scenario, key string, after bool) string {
	if after && (key == "" || policySet(s.Pattern, key)) {
		return "pattern." + key
	}
	if key == "" {
		return "baseline"
	}
	return "baseline." + key
}

// kindPolicy is the policy key each pattern kind needs.
var kindPolicy = map[string]string{
	KindRetries: "retries", KindSidecarProxy: "sidecar", KindCircuitBreaking: "circuitBreaker", KindCanary: "split",
	KindTimeouts: "timeout", KindRateLimiting: "rateLimit", KindFaultInjection: "fault", KindRetryBudgets: "retryBudgets",
}

func policySet(p Pattern, k string) bool {
	switch k {
	case "retries":
		return len(p.Retries) > 0
	case "sidecar":
		return p.Sidecar != nil
	case "circuitBreaker":
		return p.CircuitBreaker != nil
	case "split":
		return p.Split != nil
	case "timeout":
		return p.Timeout != nil
	case "rateLimit":
		return p.RateLimit != nil
	case "fault":
		return p.Fault != nil
	case "retryBudgets":
		return len(p.RetryBudgets) > 0
	}
	return false
}

// Limits of policy values.
const (
	maxPercentIncrease = 1000      // MaxLatencyIncrease
	maxMinRequests     = 1_000_000 // RolloutPolicy.MinRequests
	maxBurst           = 1_000_000
	maxRetryRatio      = 100
)

// policies checks the policies of p (the pattern or the baseline, at root).
func (c *checker) policies(t Topology, p Pattern, root string) {
	seen := map[string]int{}
	for i, r := range p.Retries {
		pp := fmt.Sprintf("%s.retries[%d]", root, i)
		if _, ok := c.policyService(t, pp+".service", r.Service); ok {
			if j, dup := seen[r.Service]; dup {
				c.add(pp+".service", "one retry policy per service: merge it with the other", "%s already has a retry policy (%s.retries[%d])", clip(r.Service), root, j)
			}
			seen[r.Service] = i
		}
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
		c.breaker(t, cb, root+".circuitBreaker")
	}
	if sp := p.Split; sp != nil {
		c.split(t, sp, root+".split")
	}
	if sc := p.Sidecar; sc != nil {
		if !slices.Contains(SidecarProtocols, sc.Protocol) {
			c.add(root+".sidecar.protocol", "one of "+strings.Join(SidecarProtocols, ", "), "unknown protocol %s", quote(sc.Protocol))
		}
	}
	if tp := p.Timeout; tp != nil {
		pp := root + ".timeout"
		c.policyService(t, pp+".service", tp.Service)
		switch {
		case tp.Request < 0:
			c.add(pp+".request", "the whole request's time limit, e.g. 100ms; 0 means none", "must be ≥ 0 (got %s)", tp.Request)
		case tp.PerTry < 0:
			c.add(pp+".perTry", "each attempt's time limit, e.g. 50ms; 0 means none", "must be ≥ 0 (got %s)", tp.PerTry)
		case tp.Request == 0 && tp.PerTry == 0:
			c.add(pp, "give request (e.g. request: 100ms), perTry, or both", "sets no timeout")
		case tp.Request > 0 && tp.PerTry >= tp.Request:
			c.add(pp+".perTry", "the request timeout covers every attempt: make perTry shorter than request ("+tp.Request.String()+"), e.g. a third of it for 2 retries", "per-try timeout %s is not below the request timeout %s", tp.PerTry, tp.Request)
		}
	}
	if rl := p.RateLimit; rl != nil {
		pp := root + ".rateLimit"
		if rl.Service == "" {
			c.add(pp+".service", "name the service whose inbound is limited", "must not be empty")
		} else if _, ok := findService(t, rl.Service); !ok && len(t.Services) > 0 {
			c.add(pp+".service", "one of "+strings.Join(serviceNames(t), ", "), "unknown service %s", quote(rl.Service))
		}
		switch {
		case !isFinite(rl.RequestsPerSecond) || rl.RequestsPerSecond <= 0:
			c.add(pp+".requestsPerSecond", "the requests per second each instance accepts, e.g. 50; leave the pattern out for no limit", "must be > 0 (got %s)", formatNumber(rl.RequestsPerSecond))
		case rl.RequestsPerSecond > maxRPS:
			c.add(pp+".requestsPerSecond", "a limit above the load never applies", "must be at most %s (got %s)", formatNumber(maxRPS), formatNumber(rl.RequestsPerSecond))
		}
		if rl.Burst < 1 || rl.Burst > maxBurst {
			c.add(pp+".burst", "the requests accepted at once after a quiet spell, e.g. 10", "must be from 1 to %d (got %d)", maxBurst, rl.Burst)
		}
		if rl.StatusCode < 400 || rl.StatusCode > 599 {
			c.add(pp+".statusCode", "the answer to a limited request: 429 (Envoy, Linkerd) or 503", "must be an HTTP error status from 400 to 599 (got %d)", rl.StatusCode)
		}
	}
	if f := p.Fault; f != nil {
		pp := root + ".fault"
		c.policyService(t, pp+".service", f.Service)
		if f.Abort == nil && f.Delay == nil {
			c.add(pp, "add abort: {statusCode: 503, percent: 10}, delay: {duration: 100ms, percent: 10}, or both", "injects nothing")
		}
		if a := f.Abort; a != nil {
			if a.StatusCode < 400 || a.StatusCode > 599 {
				c.add(pp+".abort.statusCode", "an HTTP error status such as 503", "must be from 400 to 599 (got %d)", a.StatusCode)
			}
			c.percent(pp+".abort.percent", "percent", a.Percent)
		}
		if dl := f.Delay; dl != nil {
			if dl.Duration <= 0 {
				c.add(pp+".delay.duration", "how long a delayed request waits, e.g. 100ms", "must be > 0 (got %s)", dl.Duration)
			}
			c.percent(pp+".delay.percent", "percent", dl.Percent)
		}
	}
	seen = map[string]int{}
	for i, bg := range p.RetryBudgets {
		c.budget(t, bg, fmt.Sprintf("%s.retryBudgets[%d]", root, i), root, i, seen)
	}
}

func (c *checker) breaker(t Topology, cb *CircuitBreakerPolicy, pp string) {
	c.policyService(t, pp+".service", cb.Service)
	if !slices.Contains(BreakerAlgorithms, cb.Algorithm) {
		hint := "one of " + strings.Join(BreakerAlgorithms, ", ")
		if sug := suggest(cb.Algorithm, BreakerAlgorithms); sug != "" {
			hint = "did you mean " + sug + "? " + hint
		}
		c.add(pp+".algorithm", hint, "unknown algorithm %s", quote(cb.Algorithm))
	}
	if cb.ErrorThreshold < 1 || cb.ErrorThreshold > maxErrThreshold {
		c.add(pp+".errorThreshold", "consecutive errors that eject an endpoint, e.g. 2", "must be from 1 to %d (got %d)", maxErrThreshold, cb.ErrorThreshold)
	}
	if cb.EjectionDuration <= 0 {
		c.add(pp+".ejectionDuration", "how long an endpoint stays out, e.g. 60s", "must be > 0 (got %s)", cb.EjectionDuration)
	}
	if cb.Algorithm != BreakerEnvoy {
		for _, k := range []struct {
			name string
			set  bool
		}{{"interval", cb.Interval != 0}, {"maxEjectionPercent", cb.MaxEjectionPercent != 0}, {"maxEjectionTime", cb.MaxEjectionTime != 0},
			{"consecutiveGatewayErrors", cb.ConsecutiveGatewayErrors != 0}, {"healthyPanicThreshold", cb.HealthyPanicThreshold != nil}} {
			if k.set {
				c.add(pp+"."+k.name, "remove it, or set algorithm: envoy", "%s belongs to algorithm envoy, not %s", k.name, clip(cb.Algorithm))
			}
		}
		return
	}
	if cb.Interval < 0 {
		c.add(pp+".interval", "the outlier detection sweep, e.g. 10s; leave it out for the mesh's default", "must be ≥ 0 (got %s)", cb.Interval)
	}
	c.percent(pp+".maxEjectionPercent", "maxEjectionPercent", cb.MaxEjectionPercent)
	switch {
	case cb.MaxEjectionTime < 0:
		c.add(pp+".maxEjectionTime", "the longest ejection, e.g. 300s; leave it out for the mesh's default", "must be ≥ 0 (got %s)", cb.MaxEjectionTime)
	case cb.MaxEjectionTime > 0 && cb.EjectionDuration > 0 && cb.MaxEjectionTime < cb.EjectionDuration:
		c.add(pp+".maxEjectionTime", "the ejection time grows from ejectionDuration up to maxEjectionTime: make it at least "+cb.EjectionDuration.String(), "%s is below ejectionDuration %s", cb.MaxEjectionTime, cb.EjectionDuration)
	}
	if cb.ConsecutiveGatewayErrors < 0 || cb.ConsecutiveGatewayErrors > maxErrThreshold {
		c.add(pp+".consecutiveGatewayErrors", "consecutive 502/503/504 that eject an endpoint; 0 = off", "must be from 0 to %d (got %d)", maxErrThreshold, cb.ConsecutiveGatewayErrors)
	}
	if cb.HealthyPanicThreshold != nil {
		c.percent(pp+".healthyPanicThreshold", "healthyPanicThreshold", *cb.HealthyPanicThreshold)
	}
}

func (c *checker) split(t Topology, sp *SplitPolicy, pp string) {
	svc, ok := c.policyService(t, pp+".service", sp.Service)
	var vs []string
	for _, v := range svc.Versions {
		vs = append(vs, v.Name)
	}
	if len(sp.Targets) == 0 {
		c.add(pp+".targets", "list the versions and their weights", "no targets")
	}
	sum := 0.0
	seen := map[string]bool{}
	for i, tg := range sp.Targets {
		tp := fmt.Sprintf("%s.targets[%d]", pp, i)
		if ok && !slices.Contains(vs, tg.Version) {
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
					c.add(fmt.Sprintf("topology.services[%d].versions[%d].weight", serviceIndex(t, svc.Name), j), "give the weight in one place ("+pp+")", "weight %s differs from %s's %s", formatNumber(v.Weight), pp, formatNumber(tg.Weight))
				}
			}
		}
	}
	for i, m := range sp.Match {
		mp := fmt.Sprintf("%s.match[%d]", pp, i)
		if len(m.Headers) == 0 && len(m.Cookies) == 0 {
			c.add(mp, "give headers: {x-canary: \"true\"} or cookies: {...}; requests that match nothing follow the weights", "matches no header or cookie")
		}
		for _, k := range slices.Sorted(maps.Keys(m.Headers)) {
			if !isToken(k) {
				c.add(mp+".headers", "header names are letters, digits and - such as x-canary", "%s is not a header name", quote(k))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(m.Cookies)) {
			if !isToken(k) {
				c.add(mp+".cookies", "cookie names are letters, digits, - and _ such as canary", "%s is not a cookie name", quote(k))
			}
		}
		if m.Version == "" {
			c.add(mp+".version", "name the version matching requests go to", "must not be empty")
		} else if ok && !slices.Contains(vs, m.Version) {
			hint := "one of " + strings.Join(vs, ", ")
			if sug := suggest(m.Version, vs); sug != "" {
				hint = "did you mean " + sug + "? " + hint
			}
			c.add(mp+".version", hint, "%s is not a version of %s", quote(m.Version), clip(sp.Service))
		}
	}
	if r := sp.Rollout; r != nil {
		rp := pp + ".rollout"
		var names []string
		for _, tg := range sp.Targets {
			names = append(names, tg.Version)
		}
		switch {
		case !slices.Contains(names, r.Canary):
			hint := "one of the split's targets: " + strings.Join(names, ", ")
			if sug := suggest(r.Canary, names); sug != "" {
				hint = "did you mean " + sug + "? " + hint
			}
			c.add(rp+".canary", hint, "%s is not among the split's targets", quote(r.Canary))
		case len(sp.Targets) < 2:
			c.add(pp+".targets", "a rollout moves weight from the other versions to the canary: list them too", "a rollout needs at least 2 targets (got %d)", len(sp.Targets))
		}
		if !isFinite(r.StepWeight) || r.StepWeight <= 0 || r.StepWeight > 100 {
			c.add(rp+".stepWeight", "the weight added per step, e.g. 10", "must be above 0 and at most 100 (got %s)", formatNumber(r.StepWeight))
		}
		if !isFinite(r.MaxWeight) || r.MaxWeight <= 0 || r.MaxWeight > 100 {
			c.add(rp+".maxWeight", "the weight at which the canary is promoted, e.g. 100 or 50", "must be above 0 and at most 100 (got %s)", formatNumber(r.MaxWeight))
		}
		c.percent(rp+".maxErrorRate", "maxErrorRate", r.MaxErrorRate)
		if !isFinite(r.MaxLatencyIncrease) || r.MaxLatencyIncrease < 0 || r.MaxLatencyIncrease > maxPercentIncrease {
			c.add(rp+".maxLatencyIncrease", "how much slower (p99) the canary may be, in percent, e.g. 10", "must be from 0 to %d (got %s)", maxPercentIncrease, formatNumber(r.MaxLatencyIncrease))
		}
		if r.MinRequests < 1 || r.MinRequests > maxMinRequests {
			c.add(rp+".minRequests", "canary answers a step needs before it is judged, e.g. 385 (Yamane, ±5%)", "must be from 1 to %d (got %d)", maxMinRequests, r.MinRequests)
		}
		if r.MaxStepDuration <= 0 {
			c.add(rp+".maxStepDuration", "the longest a step may wait for minRequests, e.g. 60s", "must be > 0 (got %s)", r.MaxStepDuration)
		}
	}
}

func (c *checker) budget(t Topology, bg RetryBudgetPolicy, pp, root string, i int, seen map[string]int) {
	if _, ok := c.policyService(t, pp+".service", bg.Service); ok {
		if j, dup := seen[bg.Service]; dup {
			c.add(pp+".service", "one retry budget per service", "%s already has a retry budget (%s.retryBudgets[%d])", clip(bg.Service), root, j)
		}
		seen[bg.Service] = i
	}
	if !slices.Contains(BudgetKinds, bg.Kind) {
		hint := "one of " + strings.Join(BudgetKinds, ", ")
		if sug := suggest(bg.Kind, BudgetKinds); sug != "" {
			hint = "did you mean " + sug + "? " + hint
		}
		c.add(pp+".kind", hint, "unknown kind %s", quote(bg.Kind))
		return
	}
	for _, f := range []struct {
		name, kind string
		set        bool
	}{
		{"budgetPercent", BudgetEnvoy, bg.BudgetPercent != 0}, {"minRetryConcurrency", BudgetEnvoy, bg.MinRetryConcurrency != 0},
		{"retryRatio", BudgetLinkerd, bg.RetryRatio != 0}, {"minRetriesPerSecond", BudgetLinkerd, bg.MinRetriesPerSecond != 0}, {"ttl", BudgetLinkerd, bg.TTL != 0},
		{"maxConcurrentRetries", BudgetMaxRetries, bg.MaxConcurrentRetries != 0},
	} {
		if f.set && f.kind != bg.Kind {
			c.add(pp+"."+f.name, "remove it, or set kind: "+f.kind, "%s belongs to kind %s, not %s", f.name, f.kind, bg.Kind)
		}
	}
	switch bg.Kind {
	case BudgetEnvoy:
		switch {
		case !isFinite(bg.BudgetPercent) || bg.BudgetPercent < 0:
			c.add(pp+".budgetPercent", "the share of active requests that may be retries, e.g. 20", "must be ≥ 0 (got %s)", formatNumber(bg.BudgetPercent))
		case bg.BudgetPercent > 100:
			c.add(pp+".budgetPercent", "a budget is a share of the active requests, at most 100% (Envoy's default is 20)", "must be ≤ 100%% (got %s%%)", formatNumber(bg.BudgetPercent))
		}
		if bg.MinRetryConcurrency < 0 || bg.MinRetryConcurrency > maxConnections {
			c.add(pp+".minRetryConcurrency", "retries in flight always allowed, e.g. 3", "must be from 0 to %d (got %d)", maxConnections, bg.MinRetryConcurrency)
		}
	case BudgetLinkerd:
		if !isFinite(bg.RetryRatio) || bg.RetryRatio < 0 || bg.RetryRatio > maxRetryRatio {
			c.add(pp+".retryRatio", "retries per request, e.g. 0.2 (one retry per five requests)", "must be from 0 to %d (got %s)", maxRetryRatio, formatNumber(bg.RetryRatio))
		}
		if !isFinite(bg.MinRetriesPerSecond) || bg.MinRetriesPerSecond < 0 || bg.MinRetriesPerSecond > maxRPS {
			c.add(pp+".minRetriesPerSecond", "retries per second always allowed, e.g. 10", "must be ≥ 0 (got %s)", formatNumber(bg.MinRetriesPerSecond))
		}
		if bg.TTL <= 0 {
			c.add(pp+".ttl", "the window requests and retries are counted over, e.g. 10s", "must be > 0 (got %s)", bg.TTL)
		}
	case BudgetMaxRetries:
		if bg.MaxConcurrentRetries < 1 || bg.MaxConcurrentRetries > maxConnections {
			c.add(pp+".maxConcurrentRetries", "retries in flight at most, e.g. 3 (Envoy's default); kind: none lifts the cap", "must be from 1 to %d (got %d)", maxConnections, bg.MaxConcurrentRetries)
		}
	}
}

// isToken reports whether s is an HTTP token (header or cookie name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 126 || r <= 32 || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
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
		c.familyRules(s, cond, p)
		if cond.Tolerance != nil && (*cond.Tolerance < 0 || !isFinite(*cond.Tolerance)) {
			c.add(p, "a tolerance is ≥ 0", "tolerance must be ≥ 0")
		}
		if !isFinite(cond.Value) || cond.Value < 0 {
			c.add(p, "metrics are never negative", "value must be ≥ 0")
		}
	}
}

// familyRules checks what a metric family needs of its selector and of the
// scenario.
func (c *checker) familyRules(s *Scenario, cond Condition, p string) {
	_, hasStatus := cond.Match(LabelStatusCode, "=")
	_, hasNotStatus := cond.Match(LabelStatusCode, "!=")
	name, hasName := cond.Match(LabelName, "=")
	switch cond.Family() {
	case MetricAmplification:
		if !hasName {
			c.add(p, "name the component, e.g. amplification[name=currency] < 2 (the user's own amplification is 1)", "amplification needs name=")
		}
	case MetricEjectionsTotal:
		if hasStatus || hasNotStatus {
			c.add(p, "select by name only, e.g. ejections_total[name=payments_v2]", "ejections_total has no status_code")
		}
	case MetricCanaryWeight:
		if hasStatus || hasNotStatus {
			c.add(p, "write canary_weight = 100 (promoted) or canary_weight = 0 (rolled back)", "canary_weight has no status_code")
		}
		sp := s.Pattern.Split
		if sp == nil || sp.Rollout == nil {
			c.add(p, "add pattern.split.rollout: {canary: ...}; without a rollout no weight moves", "canary_weight needs a rollout")
			return
		}
		if hasName && name != sp.Rollout.Canary && name != sp.Service {
			c.add(p, "name the rollout's canary ("+clip(sp.Rollout.Canary)+") or leave name out", "name=%s is not the rollout's canary", clip(name))
		}
	}
}

// meshHint says how to write mesh:.
const meshHint = "name a semantics profile, optionally with a release: mesh: istio or mesh: istio@1.23 (`meshgym plugin list` shows them)"

// validMeshSpec reports whether s is a profile name (lower-case letters,
// digits, - and _, starting with a letter), optionally followed by
// @version (numbers separated by dots, e.g. 1.23).
func validMeshSpec(s string) bool {
	name, ver, hasVer := strings.Cut(s, "@")
	if name == "" || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	if !hasVer {
		return true
	}
	for _, part := range strings.Split(ver, ".") {
		if part == "" || strings.Trim(part, "0123456789") != "" {
			return false
		}
	}
	return true
}
