package scenarios

import (
	"fmt"
	"strings"
)

// Policy knobs read the same way in both spellings: the book shorthand
// (snake_case keys, written at a field under deployment:) and the long form
// (camelCase keys, written at the model path itself).

// spelling is how a file spells the keys of a policy.
type spelling int

const (
	longSpelling spelling = iota // camelCase: the model's yaml tags
	bookSpelling                 // snake_case
)

// key is the key written for the model's (camelCase) key k.
func (sp spelling) key(k string) string {
	if sp == longSpelling {
		return k
	}
	var b strings.Builder
	for _, r := range k {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// keys are the keys written for the model's keys ks.
func (sp spelling) keys(ks ...string) []key {
	out := make([]key, len(ks))
	for i, k := range ks {
		out[i] = key{name: sp.key(k)}
	}
	return out
}

// rollout reads rollout: {canary: payments_v2, stepWeight: 10, maxWeight:
// 100, maxErrorRate: 5, maxLatencyIncrease: 10, minRequests: 385,
// maxStepDuration: 60s} at model path p, written at field.
func (d *decoder) rollout(n *node, p, field string, sp spelling) *RolloutPolicy {
	d.ref(p, n, field)
	rm := d.fields(n, p, field, "write rollout: {canary: payments_v2, "+sp.key("stepWeight")+": 10}",
		sp.keys("canary", "stepWeight", "maxWeight", "maxErrorRate", "maxLatencyIncrease", "minRequests", "maxStepDuration")...)
	r := DefaultRollout("")
	if d.require(rm, n, p+".canary", field, "canary", "the version rolled out, e.g. canary: payments_v2") {
		r.Canary, _ = d.ident(rm["canary"].val, p+".canary", field+".canary")
	}
	var defaulted []string
	for _, f := range []struct {
		model string
		v     *float64
	}{{"stepWeight", &r.StepWeight}, {"maxWeight", &r.MaxWeight}, {"maxErrorRate", &r.MaxErrorRate}, {"maxLatencyIncrease", &r.MaxLatencyIncrease}} {
		k := sp.key(f.model)
		if e, ok := rm[k]; ok {
			*f.v, _ = d.percent(e.val, p+"."+f.model, field+"."+k)
		} else {
			defaulted = append(defaulted, k+" "+formatNumber(*f.v)+"%")
		}
	}
	minReq, maxStep := sp.key("minRequests"), sp.key("maxStepDuration")
	if e, ok := rm[minReq]; ok {
		r.MinRequests, _ = d.integer(e.val, p+".minRequests", field+"."+minReq)
	} else if sp == bookSpelling {
		defaulted = append(defaulted, fmt.Sprintf("%s %d (Yamane, ±5%%)", minReq, r.MinRequests))
	} else {
		defaulted = append(defaulted, fmt.Sprintf("%s %d", minReq, r.MinRequests))
	}
	if e, ok := rm[maxStep]; ok {
		r.MaxStepDuration, _ = d.duration(e.val, p+".maxStepDuration", field+"."+maxStep)
	} else {
		defaulted = append(defaulted, maxStep+" "+r.MaxStepDuration.String())
	}
	if len(defaulted) > 0 {
		d.note("%s: defaults %s", field, strings.Join(defaulted, ", "))
	}
	return &r
}

// breakerKnobKeys are the circuit breaker's optional knobs (model keys).
var breakerKnobKeys = []string{"interval", "maxEjectionPercent", "maxEjectionTime", "consecutiveGatewayErrors", "healthyPanicThreshold"}

// breakerKnobs reads the circuit breaker's optional knobs from m (model
// path p, written at field).
func (d *decoder) breakerKnobs(cb *CircuitBreakerPolicy, m map[string]entry, p, field string, sp spelling) {
	at := func(model string) (*node, string, string, bool) {
		e, ok := m[sp.key(model)]
		return e.val, p + "." + model, field + "." + sp.key(model), ok
	}
	if n, q, f, ok := at("interval"); ok {
		cb.Interval, _ = d.duration(n, q, f)
	}
	if n, q, f, ok := at("maxEjectionPercent"); ok {
		cb.MaxEjectionPercent, _ = d.percent(n, q, f)
	}
	if n, q, f, ok := at("maxEjectionTime"); ok {
		cb.MaxEjectionTime, _ = d.duration(n, q, f)
	}
	if n, q, f, ok := at("consecutiveGatewayErrors"); ok {
		cb.ConsecutiveGatewayErrors, _ = d.integer(n, q, f)
	}
	if n, q, f, ok := at("healthyPanicThreshold"); ok {
		if v, ok := d.percent(n, q, f); ok {
			cb.HealthyPanicThreshold = &v
		}
	}
}

// rateLimitKnobs reads burst (defaulting to one second of tokens) and
// statusCode from m (model path p, written at field).
func (d *decoder) rateLimitKnobs(r *RateLimitPolicy, m map[string]entry, p, field string, sp spelling) {
	if e, ok := m["burst"]; ok {
		r.Burst, _ = d.integer(e.val, p+".burst", field+".burst")
	} else {
		r.Burst = defaultBurst(r.RequestsPerSecond)
		d.note("%s: no burst: %d (one second of tokens)", field, r.Burst)
	}
	sc := sp.key("statusCode")
	if e, ok := m[sc]; ok {
		r.StatusCode, _ = d.integer(e.val, p+".statusCode", field+"."+sc)
	}
}

// timeoutKnobs reads the request and per-try timeouts from m under the
// keys req and perTry (model path p, written at field).
func (d *decoder) timeoutKnobs(t *TimeoutPolicy, m map[string]entry, p, field, req, perTry string) {
	if e, ok := m[req]; ok {
		t.Request, _ = d.duration(e.val, p+".request", field+"."+req)
	}
	if e, ok := m[perTry]; ok {
		t.PerTry, _ = d.duration(e.val, p+".perTry", field+"."+perTry)
	}
}

// budgetKnobKeys are the model keys of budgetKnobs.
var budgetKnobKeys = []string{"budgetPercent", "minRetryConcurrency", "retryRatio", "minRetriesPerSecond", "ttl", "maxConcurrentRetries"}

// budgetKnob is a knob of a retry budget: its model key, the budget kind it
// belongs to, how it is read and how its default is shown.
type budgetKnob struct {
	model, kind string
	read        func(n *node, path, field string)
	shown       func() string
}

// budgetKnobs are the knobs of retry budget b, in the order they are read.
func (d *decoder) budgetKnobs(b *RetryBudgetPolicy) []budgetKnob {
	return []budgetKnob{
		{"budgetPercent", BudgetEnvoy, func(n *node, q, f string) { b.BudgetPercent, _ = d.percent(n, q, f) }, func() string { return formatNumber(b.BudgetPercent) + "%" }},
		{"minRetryConcurrency", BudgetEnvoy, func(n *node, q, f string) { b.MinRetryConcurrency, _ = d.integer(n, q, f) }, func() string { return fmt.Sprint(b.MinRetryConcurrency) }},
		{"retryRatio", BudgetLinkerd, func(n *node, q, f string) { b.RetryRatio, _ = d.number(n, q, f) }, func() string { return formatNumber(b.RetryRatio) }},
		{"minRetriesPerSecond", BudgetLinkerd, func(n *node, q, f string) { b.MinRetriesPerSecond, _ = d.number(n, q, f) }, func() string { return formatNumber(b.MinRetriesPerSecond) }},
		{"ttl", BudgetLinkerd, func(n *node, q, f string) { b.TTL, _ = d.duration(n, q, f) }, func() string { return b.TTL.String() }},
		{"maxConcurrentRetries", BudgetMaxRetries, func(n *node, q, f string) { b.MaxConcurrentRetries, _ = d.integer(n, q, f) }, func() string { return fmt.Sprint(b.MaxConcurrentRetries) }},
	}
}
