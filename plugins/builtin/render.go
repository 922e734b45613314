package builtin

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"meshgym/dataplane"
	"meshgym/plugins"
	"meshgym/scenarios"
)

// Knob sources that are not a profile.
const (
	srcScenario = "scenario"
	srcMeshgym  = "meshgym default"
)

// renderer renders clusters under one profile and collects the knobs and
// notes of the first rendering of each upstream (every caller of an
// upstream gets the same cluster policy).
type renderer struct {
	prof   *Profile
	seen   map[string]bool
	record bool // collect knobs and notes for the cluster being rendered
	knobs  []plugins.Knob
	notes  []string
}

// from is the provenance of a profile default whose fact comes from url;
// under the book profile it is meshgym's own default.
func (r *renderer) from(url string) string {
	if r.prof.IsBook() {
		return srcMeshgym
	}
	if url == "" {
		// A default the mesh has by having no such setting (Linkerd has
		// no concurrent-retry cap): the profile's first source says so.
		url = r.prof.Sources[0]
	}
	return "profile " + r.prof.Spec() + " (" + url + ")"
}

func (r *renderer) knob(path, value, source string) {
	if !r.record {
		return
	}
	k := plugins.Knob{Path: path, Value: value, Source: source}
	if i := slices.IndexFunc(r.knobs, func(x plugins.Knob) bool { return x.Path == path }); i >= 0 {
		r.knobs[i] = k // a later setting of the same knob wins (per-try timeout)
		return
	}
	r.knobs = append(r.knobs, k)
}

func (r *renderer) note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	if r.record && !slices.Contains(r.notes, n) {
		r.notes = append(r.notes, n)
	}
}

// gap notes a scenario policy the profile's mesh has no native feature for.
func (r *renderer) gap(key string) {
	if g := r.prof.Defaults.Gaps[key]; g != "" {
		r.note("%s: %s; meshgym's sidecar applies it anyway", key, g)
	}
}

// cluster sets the policies of p that apply to calls to up, with the
// profile's defaults where p says nothing.
func (r *renderer) cluster(cl *dataplane.Cluster, up string, p scenarios.Pattern) {
	d := r.prof.Defaults
	pre := up + "."
	if d.LBPolicy != "" {
		cl.LBPolicy = d.LBPolicy
	}
	r.knob(pre+"lb_policy", cl.LBPolicy, r.from(d.LBSource))

	r.retry(cl, up, p)
	r.timeout(cl, up, p)
	r.outlier(cl, up, p)

	if sp := p.Split; sp != nil && sp.Service == up {
		cl.Routes = Routes(*sp)
		for i, rt := range cl.Routes {
			total := 0
			for _, w := range rt.Split {
				total += w.Weight
			}
			for _, w := range rt.Split {
				// As a share in percent, as the scenario writes it (the
				// sidecar's weights are integers: percent × 100).
				share := 0.0
				if total > 0 {
					share = math.Round(10000*float64(w.Weight)/float64(total)) / 100
				}
				r.knob(fmt.Sprintf("%sroutes[%d].%s.weight", pre, i, w.Version), strconv.FormatFloat(share, 'f', -1, 64)+"%", srcScenario)
			}
		}
	}
	if f := p.Fault; f != nil && f.Service == up {
		df := &dataplane.Fault{}
		if f.Abort != nil {
			df.Abort = &dataplane.FaultAbort{StatusCode: f.Abort.StatusCode, Percent: f.Abort.Percent}
			r.knob(pre+"fault.abort.status_code", strconv.Itoa(f.Abort.StatusCode), srcScenario)
			r.knob(pre+"fault.abort.percent", formatFloat(f.Abort.Percent), srcScenario)
		}
		if f.Delay != nil {
			df.Delay = &dataplane.FaultDelay{Duration: f.Delay.Duration.D(), Percent: f.Delay.Percent}
			r.knob(pre+"fault.delay.duration", dur(f.Delay.Duration.D()), srcScenario)
			r.knob(pre+"fault.delay.percent", formatFloat(f.Delay.Percent), srcScenario)
		}
		cl.Fault = df
		r.gap("fault")
	}
	r.budget(cl, up, p)
}

// retry sets the cluster's retry policy: the scenario's (with the
// profile's defaults for the knobs it leaves out) or the profile's
// default policy.
func (r *renderer) retry(cl *dataplane.Cluster, up string, p scenarios.Pattern) {
	d := r.prof.Defaults
	pre := up + ".retry."
	if sr := p.Retry(up); sr != nil {
		cl.Retry = RetryPolicy(*sr)
		r.knob(pre+"num_retries", strconv.Itoa(cl.Retry.NumRetries), srcScenario)
		r.knob(pre+"retry_on", strings.Join(cl.Retry.RetryOn, ","), srcScenario)
		if sr.BackoffBase > 0 {
			r.knob(pre+"backoff_base", dur(cl.Retry.BackoffBase), srcScenario)
		} else {
			r.knob(pre+"backoff_base", dur(cl.Retry.BackoffBase), r.from(srcEnvoyRouter))
		}
		r.knob(pre+"backoff_max", dur(cl.Retry.BackoffMax), r.from(srcEnvoyRouter))
		if sr.PerTryTimeout > 0 {
			r.knob(pre+"per_try_timeout", dur(cl.Retry.PerTryTimeout), srcScenario)
		}
		prevSrc := srcScenario
		if !sr.PreferNewHost && d.PreviousHosts {
			cl.Retry.PreviousHosts = true
			prevSrc = r.from(d.PolicySource)
		}
		r.knob(pre+"previous_hosts", strconv.FormatBool(cl.Retry.PreviousHosts), prevSrc)
		if cl.Retry.PreviousHosts {
			hsSrc := srcMeshgym
			if d.HostSelectionMaxAttempts > 0 {
				cl.Retry.HostSelectionMaxAttempts = d.HostSelectionMaxAttempts
				hsSrc = r.from(d.PolicySource)
			}
			r.knob(pre+"host_selection_retry_max_attempts", strconv.Itoa(cl.Retry.HostSelectionMaxAttempts), hsSrc)
		}
		return
	}
	if d.Retry == nil {
		return
	}
	rp := *d.Retry
	rp.RetriableStatusCodes = slices.Clone(d.Retry.RetriableStatusCodes)
	rp.RetryOn = nil
	var dropped []string
	for _, tok := range d.Retry.RetryOn {
		if _, err := dataplane.ParseRetryOn([]string{tok}); err != nil {
			dropped = append(dropped, tok)
			continue
		}
		if tok == "retriable-status-codes" && len(rp.RetriableStatusCodes) == 0 {
			dropped = append(dropped, tok+" (no codes: matches nothing)")
			continue
		}
		rp.RetryOn = append(rp.RetryOn, tok)
	}
	cl.Retry = &rp
	src := r.from(d.RetrySource)
	r.knob(pre+"num_retries", strconv.Itoa(rp.NumRetries), src)
	r.knob(pre+"retry_on", strings.Join(d.Retry.RetryOn, ","), src)
	codes := make([]string, len(rp.RetriableStatusCodes))
	for i, c := range rp.RetriableStatusCodes {
		codes[i] = strconv.Itoa(c)
	}
	r.knob(pre+"retriable_status_codes", "["+strings.Join(codes, ",")+"]", src)
	r.knob(pre+"backoff_base", dur(rp.BackoffBase), src)
	if rp.PerTryTimeout > 0 {
		r.knob(pre+"per_try_timeout", dur(rp.PerTryTimeout), src)
	}
	r.knob(pre+"previous_hosts", strconv.FormatBool(rp.PreviousHosts), src)
	if rp.PreviousHosts {
		r.knob(pre+"host_selection_retry_max_attempts", strconv.Itoa(rp.HostSelectionMaxAttempts), src)
	}
	if len(dropped) > 0 {
		r.note("%s default retry_on %s: not applied (HTTP/2 and gRPC conditions that never occur on meshgym's HTTP/1.1 hops)", r.prof.Spec(), strings.Join(dropped, ", "))
	}
}

// timeout sets the route timeout and the per-try timeout of up.
func (r *renderer) timeout(cl *dataplane.Cluster, up string, p scenarios.Pattern) {
	d := r.prof.Defaults
	if t := p.Timeout; t != nil && t.Service == up {
		cl.Timeout = t.Request.D()
		if t.PerTry > 0 {
			if cl.Retry == nil {
				// A per-try timeout lives in Envoy's retry policy; with no
				// retries it bounds the single attempt.
				cl.Retry = &dataplane.RetryPolicy{NumRetries: 0, RetryOn: []string{"5xx"}}
			}
			if cl.Retry.PerTryTimeout == 0 || (p.Retry(up) == nil && d.Retry != nil) {
				cl.Retry.PerTryTimeout = t.PerTry.D()
			}
			r.knob(up+".retry.per_try_timeout", dur(cl.Retry.PerTryTimeout), srcScenario)
		}
	}
	if cl.Timeout > 0 {
		r.knob(up+".timeout", dur(cl.Timeout), srcScenario)
		return
	}
	if d.RouteTimeout > 0 {
		cl.Timeout = d.RouteTimeout
		r.knob(up+".timeout", dur(cl.Timeout), r.from(d.TimeoutSource))
		return
	}
	r.knob(up+".timeout", "none", r.from(d.TimeoutSource))
}

// outlier sets the outlier detection of up: the scenario's breaker in the
// profile's family, or the profile's always-on detection.
func (r *renderer) outlier(cl *dataplane.Cluster, up string, p scenarios.Pattern) {
	d := r.prof.Defaults
	cb := p.CircuitBreaker
	if cb == nil || cb.Service != up {
		if d.AlwaysOutlier {
			od := d.OutlierDetection
			cl.Outlier = &od
			r.outlierKnobs(up, &od, scenarios.CircuitBreakerPolicy{})
			r.note("%s: %s puts outlier detection with Envoy's defaults on every upstream cluster (%s); with max_ejection_percent %d%% a cluster of fewer than %d hosts never ejects",
				up, r.prof.Spec(), d.OutlierSource, od.MaxEjectionPercent, ceilDiv(100, max(od.MaxEjectionPercent, 1)))
		}
		return
	}
	switch d.Outlier {
	case OutlierBook, "":
		cl.Outlier = Outlier(*cb)
	case OutlierEnvoy:
		if cb.Algorithm != "" && cb.Algorithm != scenarios.BreakerEnvoy {
			r.note("circuitBreaker.algorithm: %s ignored: %s ejects with Envoy's outlier detection", cb.Algorithm, r.prof.Name)
		}
		cl.Outlier = outlierFrom(d.OutlierDetection, *cb)
	case OutlierLinkerd:
		if cb.Algorithm != "" {
			r.note("circuitBreaker.algorithm: %s ignored: linkerd ejects with failure accrual (consecutive failures, then probation with one request)", cb.Algorithm)
		}
		od := d.OutlierDetection
		od.Consecutive5xx = cb.ErrorThreshold
		if cb.EjectionDuration > 0 {
			od.BaseEjectionTime = cb.EjectionDuration.D()
		}
		if cb.MaxEjectionTime > 0 {
			od.MaxEjectionTime = cb.MaxEjectionTime.D()
		}
		if od.MaxEjectionTime < od.BaseEjectionTime {
			od.MaxEjectionTime = od.BaseEjectionTime
		}
		var ignored []string
		if cb.Interval > 0 {
			ignored = append(ignored, "interval")
		}
		if cb.MaxEjectionPercent > 0 {
			ignored = append(ignored, "maxEjectionPercent")
		}
		if cb.ConsecutiveGatewayErrors > 0 {
			ignored = append(ignored, "consecutiveGatewayErrors")
		}
		if cb.HealthyPanicThreshold != nil {
			ignored = append(ignored, "healthyPanicThreshold")
		}
		if len(ignored) > 0 {
			r.note("circuitBreaker.%s ignored: linkerd's failure accrual has no such knob", strings.Join(ignored, ", "))
		}
		cl.Outlier = &od
	}
	r.outlierKnobs(up, cl.Outlier, *cb)
}

// outlierKnobs records the effective outlier knobs of od; cb is the
// scenario's breaker (zero when the profile put the detection there).
func (r *renderer) outlierKnobs(up string, od *dataplane.OutlierDetection, cb scenarios.CircuitBreakerPolicy) {
	pre := up + ".outlier."
	prof := r.from(r.prof.Defaults.OutlierSource)
	pick := func(set bool) string {
		if set {
			return srcScenario
		}
		return prof
	}
	alg := od.Algorithm
	if alg == "" {
		alg = dataplane.OutlierEnvoy
	}
	r.knob(pre+"algorithm", alg, pick(r.prof.IsBook() && cb.Service != ""))
	r.knob(pre+"consecutive_5xx", strconv.Itoa(od.Consecutive5xx), pick(cb.ErrorThreshold > 0))
	r.knob(pre+"base_ejection_time", dur(od.BaseEjectionTime), pick(cb.EjectionDuration > 0))
	if alg == scenarios.BreakerBook || alg == scenarios.BreakerBookHalfOpen {
		return
	}
	r.knob(pre+"max_ejection_time", dur(od.MaxEjectionTime), pick(cb.MaxEjectionTime > 0))
	if alg == dataplane.OutlierLinkerd {
		r.knob(pre+"jitter_ratio", formatFloat(od.JitterRatio), prof)
		return
	}
	r.knob(pre+"interval", dur(od.Interval), pick(cb.Interval > 0))
	r.knob(pre+"max_ejection_percent", strconv.Itoa(od.MaxEjectionPercent), pick(cb.MaxEjectionPercent > 0))
	r.knob(pre+"healthy_panic_threshold", strconv.Itoa(od.HealthyPanicThreshold), pick(cb.HealthyPanicThreshold != nil))
	if od.AlwaysEjectOneHost {
		r.knob(pre+"always_eject_one_host", "true", prof)
	}
	if od.EnforcingConsecutiveGatewayFailure > 0 {
		r.knob(pre+"consecutive_gateway_failure", strconv.Itoa(od.ConsecutiveGatewayFailure), pick(cb.ConsecutiveGatewayErrors > 0))
	}
}

// budget sets the scenario's retry budget of up, else the profile's
// budget (Linkerd) or its max_retries cap.
func (r *renderer) budget(cl *dataplane.Cluster, up string, p scenarios.Pattern) {
	d := r.prof.Defaults
	pre := up + "."
	if b := p.RetryBudget(up); b != nil {
		switch b.Kind {
		case scenarios.BudgetEnvoy:
			cl.RetryBudget = &dataplane.RetryBudget{Kind: "envoy", BudgetPercent: b.BudgetPercent, MinRetryConcurrency: b.MinRetryConcurrency}
			r.knob(pre+"retry_budget", fmt.Sprintf("envoy %s%% min %d", formatFloat(b.BudgetPercent), b.MinRetryConcurrency), srcScenario)
		case scenarios.BudgetLinkerd:
			cl.RetryBudget = &dataplane.RetryBudget{Kind: "linkerd", RetryRatio: b.RetryRatio,
				MinRetriesPerSecond: b.MinRetriesPerSecond, TTL: b.TTL.D()}
			r.knob(pre+"retry_budget", fmt.Sprintf("linkerd ratio %s min %s/s ttl %s", formatFloat(b.RetryRatio), formatFloat(b.MinRetriesPerSecond), b.TTL), srcScenario)
		case scenarios.BudgetMaxRetries:
			cl.MaxRetries = b.MaxConcurrentRetries
			r.knob(pre+"max_retries", strconv.Itoa(cl.MaxRetries), srcScenario)
		case scenarios.BudgetNone:
			r.knob(pre+"max_retries", "unlimited", srcScenario)
		}
		r.gap("retryBudget:" + b.Kind)
		return
	}
	if d.RetryBudget != nil && p.Retry(up) != nil {
		rb := *d.RetryBudget
		cl.RetryBudget = &rb
		r.knob(pre+"retry_budget", fmt.Sprintf("linkerd ratio %s min %s/s ttl %s", formatFloat(rb.RetryRatio), formatFloat(rb.MinRetriesPerSecond), dur(rb.TTL)), r.from(d.PolicySource))
		r.note("%s: %s limits retries with a retry budget (ServiceProfile model), not only a count", up, r.prof.Spec())
		return
	}
	if d.MaxRetries > 0 {
		cl.MaxRetries = d.MaxRetries
		r.knob(pre+"max_retries", strconv.Itoa(cl.MaxRetries), r.from(d.MaxRetriesSource))
		return
	}
	if !r.prof.IsBook() {
		r.knob(pre+"max_retries", "unlimited", r.from(d.MaxRetriesSource))
	}
}

// dur writes a duration as scenario files do ("15s", "25ms").
func dur(d time.Duration) string { return scenarios.Duration(d).String() }

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func ceilDiv(a, b int) int { return (a + b - 1) / b }
