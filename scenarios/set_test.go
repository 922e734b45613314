package scenarios

import (
	"strings"
	"testing"
	"time"
)

func TestSet(t *testing.T) {
	cases := []struct {
		set   string
		check func(s *Scenario) bool
		err   string
	}{
		{"currency_v2.errorRate=30", func(s *Scenario) bool { return s.version("currency_v2").ErrorRate == 30 }, ""},
		{"currency_v2.errorRate=30%", func(s *Scenario) bool { return s.version("currency_v2").ErrorRate == 30 }, ""},
		{"currency_v1.latency.p50=20ms", func(s *Scenario) bool { return s.version("currency_v1").Latency.P50.D() == 20*time.Millisecond }, ""},
		{"load.rps=50", func(s *Scenario) bool { return s.Load.RPS == 50 }, ""},
		{"load.duration=3s", func(s *Scenario) bool { return s.Load.Duration.D() == 3*time.Second }, ""},
		{"retry.attempts=1", func(s *Scenario) bool { return s.Pattern.Retries[0].Attempts == 1 }, ""},
		{"retry.preferNewHost=false", func(s *Scenario) bool { return !s.Pattern.Retries[0].PreferNewHost }, ""},
		{"currency_v2.errorRate=150", nil, "100"},
		{"currency_v2.errorRate=lots", nil, `"lots" is not a number`},
		{"load.connections=0", nil, "connections"},
		{"load.duration=soon", nil, "a duration"},
		{"nosuch.errorRate=3", nil, "unknown key"},
		{"currency_v2.colour=red", nil, "unknown field"},
		{"novalue", nil, "want KEY=VALUE"},
		{"timeout.request=1s", nil, "has no timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.set, func(t *testing.T) {
			s, err := Builtin("retries")
			if err != nil {
				t.Fatal(err)
			}
			err = s.Set(tc.set)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("Set(%q) = %v, want one line containing %q", tc.set, err, tc.err)
				}
				return
			}
			if err != nil || !tc.check(s) {
				t.Fatalf("Set(%q) = %v; value not applied", tc.set, err)
			}
		})
	}
}

// Set on the policy patterns' built-ins.
func TestSetPolicies(t *testing.T) {
	cases := []struct {
		builtin, set string
		check        func(s *Scenario) bool
		err          string
	}{
		{"retry-budgets", "retry.attempts=2", func(s *Scenario) bool { return s.Baseline.Retries[0].Attempts == 2 }, ""},
		{"timeouts", "retry.attempts=0", func(s *Scenario) bool { return s.Pattern.Retries[0].Attempts == 0 }, ""},
		{"timeouts", "timeout.request=200ms", func(s *Scenario) bool { return s.Pattern.Timeout.Request.D() == 200*time.Millisecond }, ""},
		{"timeouts", "timeout.perTry=100ms", nil, "not below the request timeout"},
		{"circuit-breaking-envoy", "circuitBreaker.interval=10s", func(s *Scenario) bool { return s.Pattern.CircuitBreaker.Interval.D() == 10*time.Second }, ""},
		{"circuit-breaking", "circuitBreaker.algorithm=book_half_open", func(s *Scenario) bool { return s.Pattern.CircuitBreaker.Algorithm == BreakerBookHalfOpen }, ""},
		{"circuit-breaking", "circuitBreaker.interval=1s", nil, "belongs to algorithm envoy"},
		{"rate-limiting", "rateLimit.requestsPerSecond=20", func(s *Scenario) bool { return s.Pattern.RateLimit.RequestsPerSecond == 20 }, ""},
		{"rate-limiting", "rateLimit.requestsPerSecond=0", nil, "must be > 0"},
		{"canary", "retry.attempts=1", nil, "has no retry policy"},
		{"circuit-breaking", "circuitBreaker.errorThreshold=3", func(s *Scenario) bool { return s.Pattern.CircuitBreaker.ErrorThreshold == 3 }, ""},
		{"circuit-breaking", "circuitBreaker.errorThreshold=0", nil, "errorThreshold"},
		{"circuit-breaking", "circuitBreaker.ejectionDuration=5s", func(s *Scenario) bool { return s.Pattern.CircuitBreaker.EjectionDuration.D() == 5*time.Second }, ""},
		{"canary", "split.payments_v2.weight=30", func(s *Scenario) bool {
			return s.Pattern.Split.Targets[0].Weight+s.Pattern.Split.Targets[1].Weight == 100 && weightOf(s, "payments_v2") == 30
		}, ""},
		{"canary", "split.payments_v3.weight=30", nil, "this split has split.payments_v1.weight, split.payments_v2.weight"},
		{"canary", "split.payments_v2.weight=130", nil, "not a weight from 0 to 100"},
		{"retries", "split.payments_v2.weight=30", nil, "has no traffic split"},
		{"fault-injection", "fault.abortPercent=50", func(s *Scenario) bool { return s.Pattern.Fault.Abort.Percent == 50 }, ""},
		{"fault-injection", "fault.delayPercent=0", func(s *Scenario) bool { return s.Pattern.Fault.Delay.Percent == 0 }, ""},
		{"fault-injection", "fault.abortPercent=x", nil, "is not a number"},
		{"retries", "fault.abortPercent=5", nil, "has no fault injection"},
		{"retry-budgets", "retryBudget.budgetPercent=50", func(s *Scenario) bool {
			return len(s.Pattern.RetryBudgets) == 2 && s.Pattern.RetryBudgets[0].BudgetPercent == 50 && s.Pattern.RetryBudgets[1].BudgetPercent == 50
		}, ""},
		{"retries", "retryBudget.budgetPercent=50", nil, "has no retry budget"},
	}
	for _, tc := range cases {
		t.Run(tc.builtin+" "+tc.set, func(t *testing.T) {
			s, err := Builtin(tc.builtin)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Set(tc.set)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("Set(%q) = %v, want one line containing %q", tc.set, err, tc.err)
				}
				return
			}
			if err != nil || !tc.check(s) {
				t.Fatalf("Set(%q) = %v; value not applied", tc.set, err)
			}
		})
	}
}

func weightOf(s *Scenario, version string) float64 {
	for _, t := range s.Pattern.Split.Targets {
		if t.Version == version {
			return t.Weight
		}
	}
	return -1
}
