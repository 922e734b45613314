package verdict

import (
	"testing"

	"meshgym/load"
	"meshgym/metrics"
	"meshgym/scenarios"
)

func TestNewFamilies(t *testing.T) {
	w := 0.0
	s := &metrics.Snapshot{
		Client: load.ClientView{Count: 100},
		Requests: []metrics.RequestCount{
			{Name: "currency_v1", StatusCode: 500, Attempt: 1, Count: 1200},
			{Name: "currency_v2", StatusCode: 500, Attempt: 1, Count: 400},
			{Name: "payments", StatusCode: 500, Attempt: 1, Count: 400},
		},
		Ejections:    map[string]float64{"payments_v2": 4, "payments_v1": 0},
		CanaryWeight: &w,
	}
	cases := []struct {
		cond string
		want float64
		ok   bool
	}{
		{"amplification[name=currency] = 16", 16, true},
		{"amplification[name=payments] = 4", 4, true},
		{"ejections_total[name=payments_v2] = 4", 4, true},
		{"ejections_total[name=payments] = 4", 4, true},
		{"canary_weight = 0", 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.cond, func(t *testing.T) {
			c, err := scenarios.ParseConditionString(tc.cond)
			if err != nil {
				t.Fatalf("parse %q: %v", tc.cond, err)
			}
			r := Evaluate(c, s)
			if r.Known != tc.ok || r.Value != tc.want {
				t.Errorf("%s: got %+v, want %v", tc.cond, r, tc.want)
			}
			if st, why := Judge(c, r); st != Pass {
				t.Errorf("%s: %s (%s)", tc.cond, st, why)
			}
		})
	}
	// A rollout that did not run cannot pass.
	c := scenarios.Condition{Metric: "canary_weight", Op: "=", Value: 100}
	if r := Evaluate(c, &metrics.Snapshot{}); r.Known {
		t.Errorf("canary_weight without a rollout: %+v", r)
	}
}
