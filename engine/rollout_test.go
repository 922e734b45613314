package engine

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRolloutSteps(t *testing.T) {
	rs := rolloutSpec{stepWeight: 20, maxW: 100, minRequests: 200, maxStep: 30 * time.Second,
		maxErrorRate: 5, maxLatencyIncrease: 10}
	if got, want := rs.stepWeights(), []float64{20, 40, 60, 80, 100}; !slices.Equal(got, want) {
		t.Errorf("steps %v, want %v", got, want)
	}
	rs.stepWeight, rs.maxW = 30, 100
	if got, want := rs.stepWeights(), []float64{30, 60, 90, 100}; !slices.Equal(got, want) {
		t.Errorf("steps %v, want %v", got, want)
	}
	// 200 canary requests at 100 req/s × 20% = 20 req/s → 10 s.
	if d := rs.stepDuration(100, 20); d != 10*time.Second {
		t.Errorf("duration at 20%% = %s, want 10s", d)
	}
	if d := rs.stepDuration(100, 100); d != 2*time.Second {
		t.Errorf("duration at 100%% = %s, want 2s", d)
	}
	if d := rs.stepDuration(1, 1); d != 30*time.Second {
		t.Errorf("duration is not capped: %s", d)
	}
	if d := rs.stepDuration(0, 50); d != 30*time.Second {
		t.Errorf("as fast as possible should use the cap: %s", d)
	}
}

func TestRolloutJudge(t *testing.T) {
	rs := rolloutSpec{maxErrorRate: 5, maxLatencyIncrease: 10, minRequests: 100}
	cases := []struct {
		name string
		st   RolloutStep
		want string
		why  string
	}{
		{"healthy", RolloutStep{CanaryRequests: 200, CanaryErrors: 4, CanaryErrorRate: 2, BaselineP99: 0.010, CanaryP99: 0.011}, "advance", "≤ 5.0%"},
		{"errors", RolloutStep{CanaryRequests: 200, CanaryErrors: 40, CanaryErrorRate: 20, BaselineP99: 0.010, CanaryP99: 0.010}, "rollback", "above 5.0%"},
		{"slow", RolloutStep{CanaryRequests: 200, BaselineP99: 0.010, CanaryP99: 0.020}, "rollback", "above the baseline"},
		{"within slack", RolloutStep{CanaryRequests: 200, BaselineP99: 0.001, CanaryP99: 0.0025}, "advance", ""},
		{"no traffic", RolloutStep{}, "rollback", "no request"},
		{"small sample", RolloutStep{CanaryRequests: 50, BaselineP99: 0.01, CanaryP99: 0.01}, "advance", "only 50 of the 100"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.st
			rs.judge(&st)
			if st.Decision != tc.want || !strings.Contains(st.Reason, tc.why) {
				t.Errorf("decision %q (%s), want %q containing %q", st.Decision, st.Reason, tc.want, tc.why)
			}
		})
	}
}
