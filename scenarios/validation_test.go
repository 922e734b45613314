package scenarios

import (
	"strings"
	"testing"
)

// The policy patterns' validation: each edit of a built-in file gives
// exactly these problems (file:line:col: field: message; hint: hint).
func TestPolicyValidation(t *testing.T) {
	tests := []struct {
		name, builtin, old, new string
		want                    []string
	}{
		{"weights not summing to 100", "canary", "weight: 50\n", "weight: 60\n",
			[]string{`v.yaml:46:7: pattern.split.targets: weights add up to 110, not 100; hint: make the weights add up to 100, e.g. 90 and 10`}},
		{"weights 99/1 are fine", "canary", "weight: 50\n      - version: payments_v2\n        weight: 50", "weight: 99\n      - version: payments_v2\n        weight: 1", nil},
		{"weights 0/100 are fine", "canary", "weight: 50\n      - version: payments_v2\n        weight: 50", "weight: 0\n      - version: payments_v2\n        weight: 100", nil},
		{"weight above 100", "canary", "weight: 50\n      - version: payments_v2\n        weight: 50", "weight: -10\n      - version: payments_v2\n        weight: 110",
			[]string{
				`v.yaml:47:17: pattern.split.targets[0].weight: weight must be ≥ 0 (got -10); hint: write a percentage from 0 to 100`,
				`v.yaml:49:17: pattern.split.targets[1].weight: weight must be ≤ 100% (got 110%); hint: percentages are written 50 or 50%, not as fractions; at most 100`}},
		{"negative request timeout", "timeouts", "request: 100ms", "request: -100ms",
			[]string{`v.yaml:62:14: pattern.timeout.request: must be ≥ 0 (got -100ms); hint: the whole request's time limit, e.g. 100ms; 0 means none`}},
		{"per-try not below request", "timeouts", "perTry: 50ms", "perTry: 100ms",
			[]string{`v.yaml:63:13: pattern.timeout.perTry: per-try timeout 100ms is not below the request timeout 100ms; hint: the request timeout covers every attempt: make perTry shorter than request (100ms), e.g. a third of it for 2 retries`}},
		{"no timeout at all", "timeouts", "    request: 100ms\n    perTry: 50ms\n", "",
			[]string{`v.yaml:61:5: pattern.timeout: sets no timeout; hint: give request (e.g. request: 100ms), perTry, or both`}},
		{"per-try given twice", "timeouts", "      preferNewHost: true", "      preferNewHost: true\n      perTryTimeout: 40ms",
			[]string{`v.yaml:63:13: pattern.timeout.perTry: 50ms differs from the retry policy's perTryTimeout 40ms for currency; hint: give the per-try timeout once, in timeout.perTry or in the retry policy's perTryTimeout`}},
		{"timeout service not in topology", "timeouts", "    service: currency\n    request", "    service: curency\n    request",
			[]string{`v.yaml:61:14: pattern.timeout.service: unknown service "curency"; hint: one of api, payments, currency`}},
		{"breaker with retries", "circuit-breaking", "    ejectionDuration: 60s\n", "    ejectionDuration: 60s\n  retries:\n    - {service: payments, attempts: 2, retryOn: [5xx], preferNewHost: true}\n", nil},
		{"breaker threshold 0", "circuit-breaking", "errorThreshold: 2", "errorThreshold: 0",
			[]string{`v.yaml:46:21: pattern.circuitBreaker.errorThreshold: must be from 1 to 1000 (got 0); hint: consecutive errors that eject an endpoint, e.g. 2`}},
		{"negative ejection", "circuit-breaking", "ejectionDuration: 60s", "ejectionDuration: -60s",
			[]string{`v.yaml:47:23: pattern.circuitBreaker.ejectionDuration: must be > 0 (got -60s); hint: how long an endpoint stays out, e.g. 60s`}},
		{"unknown algorithm", "circuit-breaking", "    algorithm: book\n", "    algorithm: envoi\n",
			[]string{`v.yaml:45:16: pattern.circuitBreaker.algorithm: unknown algorithm "envoi"; hint: did you mean envoy? one of book, book_half_open, envoy`}},
		{"envoy knob with the book's algorithm", "circuit-breaking", "ejectionDuration: 60s", "ejectionDuration: 60s\n    maxEjectionPercent: 100",
			[]string{`v.yaml:48:25: pattern.circuitBreaker.maxEjectionPercent: maxEjectionPercent belongs to algorithm envoy, not book; hint: remove it, or set algorithm: envoy`}},
		{"max ejection percent above 100", "circuit-breaking-envoy", "maxEjectionPercent: 100", "maxEjectionPercent: 150",
			[]string{`v.yaml:59:25: pattern.circuitBreaker.maxEjectionPercent: maxEjectionPercent must be ≤ 100% (got 150%); hint: percentages are written 50 or 50%, not as fractions; at most 100`}},
		{"max ejection time below the base", "circuit-breaking-envoy", "maxEjectionTime: 300s", "maxEjectionTime: 30s",
			[]string{`v.yaml:60:22: pattern.circuitBreaker.maxEjectionTime: 30s is below ejectionDuration 60s; hint: the ejection time grows from ejectionDuration up to maxEjectionTime: make it at least 60s`}},
		{"rate limit of 0", "rate-limiting", "requestsPerSecond: 50", "requestsPerSecond: 0",
			[]string{`v.yaml:34:24: pattern.rateLimit.requestsPerSecond: must be > 0 (got 0); hint: the requests per second each instance accepts, e.g. 50; leave the pattern out for no limit`}},
		{"negative rate limit", "rate-limiting", "requestsPerSecond: 50", "requestsPerSecond: -5",
			[]string{`v.yaml:34:24: pattern.rateLimit.requestsPerSecond: must be > 0 (got -5); hint: the requests per second each instance accepts, e.g. 50; leave the pattern out for no limit`}},
		{"burst of 0", "rate-limiting", "burst: 10", "burst: 0",
			[]string{`v.yaml:35:12: pattern.rateLimit.burst: must be from 1 to 1000000 (got 0); hint: the requests accepted at once after a quiet spell, e.g. 10`}},
		{"rate limit status 200", "rate-limiting", "statusCode: 429", "statusCode: 200",
			[]string{`v.yaml:36:17: pattern.rateLimit.statusCode: must be an HTTP error status from 400 to 599 (got 200); hint: the answer to a limited request: 429 (Envoy, Linkerd) or 503`}},
		{"fault percent above 100", "fault-injection", "percent: 10\n    delay", "percent: 110\n    delay",
			[]string{`v.yaml:39:16: pattern.fault.abort.percent: percent must be ≤ 100% (got 110%); hint: percentages are written 50 or 50%, not as fractions; at most 100`}},
		{"fault delay of 0", "fault-injection", "duration: 100ms", "duration: 0s",
			[]string{`v.yaml:41:17: pattern.fault.delay.duration: must be > 0 (got 0s); hint: how long a delayed request waits, e.g. 100ms`}},
		{"fault without abort or delay", "fault-injection", "    abort:\n      statusCode: 503\n      percent: 10\n    delay:\n      duration: 100ms\n      percent: 10\n", "",
			[]string{`v.yaml:36:5: pattern.fault: injects nothing; hint: add abort: {statusCode: 503, percent: 10}, delay: {duration: 100ms, percent: 10}, or both`}},
		{"fault on the entry", "fault-injection", "    service: payments\n    abort", "    service: api\n    abort",
			[]string{`v.yaml:36:14: pattern.fault.service: no service calls api; hint: the pattern applies to calls into a service: name a service that another one calls`}},
		{"budget above 100%", "retry-budgets", "budgetPercent: 20\n      minRetryConcurrency: 3\n    - service: currency", "budgetPercent: 120\n      minRetryConcurrency: 3\n    - service: currency",
			[]string{`v.yaml:74:22: pattern.retryBudgets[0].budgetPercent: must be ≤ 100% (got 120%); hint: a budget is a share of the active requests, at most 100% (Envoy's default is 20)`}},
		{"budget knob of another kind", "retry-budgets", "budgetPercent: 20\n      minRetryConcurrency: 3\n    - service: currency", "budgetPercent: 20\n      minRetryConcurrency: 3\n      ttl: 10s\n    - service: currency",
			[]string{`v.yaml:76:12: pattern.retryBudgets[0].ttl: ttl belongs to kind linkerd, not envoy; hint: remove it, or set kind: linkerd`}},
		{"unknown budget kind", "retry-budgets", "kind: envoy\n      budgetPercent: 20\n      minRetryConcurrency: 3\n    - service: currency", "kind: envoys\n    - service: currency",
			[]string{`v.yaml:73:13: pattern.retryBudgets[0].kind: unknown kind "envoys"; hint: did you mean envoy? one of envoy, linkerd, max_retries, none`}},
		{"two budgets for one service", "retry-budgets", "    - service: currency\n      kind: envoy", "    - service: payments\n      kind: envoy",
			[]string{`v.yaml:76:16: pattern.retryBudgets[1].service: payments already has a retry budget (pattern.retryBudgets[0]); hint: one retry budget per service`}},
		{"budget without retries", "retry-budgets", "    - service: currency\n      attempts: 3\n      retryOn: [5xx]\n      backoffBase: 25ms\n      preferNewHost: false\n", "",
			// The baseline's budgets are kind none: they need no retries.
			[]string{
				`v.yaml:71:16: pattern.retryBudgets[1].service: no retry policy for currency to limit; hint: add a retry policy for currency in pattern.retries or baseline.retries`}},
		{"max_retries of 0", "retry-budgets", "kind: envoy\n      budgetPercent: 20\n      minRetryConcurrency: 3\n    - service: currency", "kind: max_retries\n      maxConcurrentRetries: 0\n    - service: currency",
			[]string{`v.yaml:74:29: pattern.retryBudgets[0].maxConcurrentRetries: must be from 1 to 10000 (got 0); hint: retries in flight at most, e.g. 3 (Envoy's default); kind: none lifts the cap`}},
		{"baseline with a kind", "retry-budgets", "baseline:\n", "baseline:\n  kind: retries\n",
			[]string{`v.yaml:53:3: baseline.kind: the baseline has no kind; hint: remove it: the baseline holds the policies of both phases, and pattern.kind names what the after phase adds`}},
		{"match naming an unknown version", "canary-rollout", "    rollout:", "    match:\n      - headers: {x-canary: \"true\"}\n        version: payments_v3\n    rollout:",
			[]string{`v.yaml:65:18: pattern.split.match[0].version: "payments_v3" is not a version of payments; hint: did you mean payments_v1? one of payments_v1, payments_v2`}},
		{"match without headers or cookies", "canary-rollout", "    rollout:", "    match:\n      - version: payments_v2\n    rollout:",
			[]string{`v.yaml:64:9: pattern.split.match[0]: matches no header or cookie; hint: give headers: {x-canary: "true"} or cookies: {...}; requests that match nothing follow the weights`}},
		{"rollout canary not in the split", "canary-rollout", "canary: payments_v2", "canary: payments_v3",
			[]string{`v.yaml:64:15: pattern.split.rollout.canary: "payments_v3" is not among the split's targets; hint: did you mean payments_v1? one of the split's targets: payments_v1, payments_v2`}},
		{"step weight 0", "canary-rollout", "stepWeight: 10", "stepWeight: 0",
			[]string{`v.yaml:65:19: pattern.split.rollout.stepWeight: must be above 0 and at most 100 (got 0); hint: the weight added per step, e.g. 10`}},
		{"error limit above 100", "canary-rollout", "maxErrorRate: 5", "maxErrorRate: 105",
			[]string{`v.yaml:67:21: pattern.split.rollout.maxErrorRate: maxErrorRate must be ≤ 100% (got 105%); hint: percentages are written 50 or 50%, not as fractions; at most 100`}},
		{"min requests 0", "canary-rollout", "minRequests: 385", "minRequests: 0",
			[]string{`v.yaml:69:20: pattern.split.rollout.minRequests: must be from 1 to 1000000 (got 0); hint: canary answers a step needs before it is judged, e.g. 385 (Yamane, ±5%)`}},
		{"rollout in the baseline", "canary-rollout", "        weight: 0\npattern:", "        weight: 0\n    rollout: {canary: payments_v2}\npattern:",
			[]string{`v.yaml:54:15: baseline.split.rollout: rollout does not belong in the baseline; hint: a rollout is what the after phase does: move the split to pattern`}},
		{"canary_weight without a rollout", "canary", "conditions:\n", "conditions:\n  - condition: canary_weight\n    value: \"100\"\n",
			[]string{`v.yaml:55:5: conditions[0]: canary_weight needs a rollout; hint: add pattern.split.rollout: {canary: ...}; without a rollout no weight moves`}},
		{"canary_weight above 100", "canary-rollout", `value: "100"`, `value: "120"`,
			[]string{`v.yaml:77:13: conditions[0].value: canary weight must be ≤ 100% (got 120); hint: a weight is between 0% and 100%`}},
		{"amplification without a name", "retry-budgets", "amplification[name=currency]", "amplification",
			[]string{`v.yaml:85:5: conditions[0]: amplification needs name=; hint: name the component, e.g. amplification[name=currency] < 2 (the user's own amplification is 1)`}},
		{"amplification as a percent", "retry-budgets", `value: "< 6"`, `value: "< 600%"`,
			[]string{`v.yaml:86:18: conditions[0].value: % does not fit amplification; hint: amplification takes a plain number: requests received per request sent (2, not 200%)`}},
		{"ejections as a fraction", "circuit-breaking-envoy", `value: "3"`, `value: "2.5"`,
			[]string{`v.yaml:76:13: conditions[4].value: a count must be a whole number (got 2.5); hint: ejections_total is a count of ejections: write a whole number such as 4`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := readFile(t, "builtin/"+tt.builtin+".yaml")
			edited := strings.Replace(base, tt.old, tt.new, 1)
			if edited == base {
				t.Fatal("edit changed nothing")
			}
			_, err := LoadBytes("v.yaml", []byte(edited))
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// Problems in meshgym's shorthand for the patterns the book does not print.
func TestShorthandErrors(t *testing.T) {
	const perf = "performance_test: {duration: 10s, rps: 10}\n"
	tests := []struct{ name, file, want string }{
		{"fault injecting nothing", "deployment:\n  fault_injection: {}\n" + perf,
			`s.yaml:2:20: deployment.fault_injection: injects no fault; hint: give abort_percentage (and abort_status_code), delay_percentage and delay_duration, or both`},
		{"fault abort without a percentage", "deployment:\n  fault_injection: {abort_status_code: 503}\n" + perf,
			`s.yaml:2:21: deployment.fault_injection: missing abort_percentage; hint: the share of calls aborted, e.g. abort_percentage: 10`},
		{"fault percentage above 100", "deployment:\n  fault_injection: {delay_percentage: 120, delay_duration: 100ms}\n" + perf,
			`s.yaml:2:39: deployment.fault_injection.delay_percentage: percent must be ≤ 100% (got 120%); hint: percentages are written 50 or 50%, not as fractions; at most 100`},
		{"timeouts without a timeout", "deployment:\n  timeouts: {upstream_services: 2}\n" + perf,
			`s.yaml:2:14: deployment.timeouts: missing request_timeout; hint: the time limit of a whole call, e.g. request_timeout: 100ms`},
		{"latencies do not match the versions", "deployment:\n  timeouts: {upstream_services: 2, upstream_latency: [10ms], request_timeout: 100ms}\n" + perf,
			`s.yaml:2:54: deployment.timeouts.upstream_latency: gives 1 latencies for 2 versions; hint: give one latency per upstream version: [10ms, 300ms]`},
		{"per try not below request", "deployment:\n  timeouts: {upstream_services: 2, request_timeout: 100ms, per_try_timeout: 200ms}\n" + perf,
			`s.yaml:2:77: deployment.timeouts.per_try_timeout: per-try timeout 200ms is not below the request timeout 100ms; hint: the request timeout covers every attempt: make perTry shorter than request (100ms), e.g. a third of it for 2 retries`},
		{"rate limit missing", "deployment:\n  rate_limiting: {burst: 10}\n" + perf,
			`s.yaml:2:19: deployment.rate_limiting: missing requests_per_second; hint: the requests per second payments accepts, e.g. requests_per_second: 50`},
		{"rate limit 0", "deployment:\n  rate_limiting: {rps: 0}\n" + perf,
			`s.yaml:2:24: deployment.rate_limiting.rps: must be > 0 (got 0); hint: the requests per second each instance accepts, e.g. 50; leave the pattern out for no limit`},
		{"unknown budget", "deployment:\n  retry_budgets: {budget: istio}\n" + perf,
			`s.yaml:2:27: deployment.retry_budgets.budget: unknown kind "istio"; hint: one of envoy, linkerd, max_retries, none`},
		{"budget above 100%", "deployment:\n  retry_budgets: {budget_percent: 150%}\n" + perf,
			`s.yaml:2:35: deployment.retry_budgets.budget_percent: must be ≤ 100% (got 150%); hint: a budget is a share of the active requests, at most 100% (Envoy's default is 20)`},
		{"rollout of an unknown canary", "deployment:\n  canary:\n    upstreams: [{name: payments_v1, weight: 100}, {name: payments_v2, weight: 0}]\n    rollout: {canary: payments_v9}\n" + perf,
			`s.yaml:4:23: deployment.canary.rollout.canary: "payments_v9" is not among the split's targets; hint: did you mean payments_v1? one of the split's targets: payments_v1, payments_v2`},
		{"match of an unknown version", "deployment:\n  canary:\n    upstreams: [{name: payments_v1, weight: 100}, {name: payments_v2, weight: 0}]\n    match: [{headers: {x-canary: \"1\"}, name: payments_v9}]\n" + perf,
			`s.yaml:4:46: deployment.canary.match[0].name: "payments_v9" is not a version of payments; hint: did you mean payments_v1? one of payments_v1, payments_v2`},
		{"breaker algorithm", "deployment:\n  circuit_breaking: {upstream_services: 2, error_threshold: 2, ejection_duration: 60s, algorithm: half_open}\n" + perf,
			`s.yaml:2:99: deployment.circuit_breaking.algorithm: unknown algorithm "half_open"; hint: one of book, book_half_open, envoy`},
		{"envoy knob on the book's breaker", "deployment:\n  circuit_breaking: {upstream_services: 2, error_threshold: 2, ejection_duration: 60s, interval: 1s}\n" + perf,
			`s.yaml:2:98: deployment.circuit_breaking.interval: interval belongs to algorithm envoy, not book; hint: remove it, or set algorithm: envoy`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadBytes("s.yaml", []byte(tt.file))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
