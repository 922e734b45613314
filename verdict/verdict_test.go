package verdict

import (
	"math"
	"strings"
	"testing"
	"time"

	"meshgym/load"
	"meshgym/metrics"
	"meshgym/scenarios"
)

func tol(f float64) *float64 { return &f }

func cond(metric string, op string, value float64, share bool, t *float64, ms ...string) scenarios.Condition {
	c := scenarios.Condition{Metric: metric, Op: op, Value: value, Share: share, Tolerance: t}
	for _, m := range ms { // "name=payments", "status_code!=200"
		op := "="
		if strings.Contains(m, "!=") {
			op = "!="
		}
		l, v, _ := strings.Cut(m, op)
		c.Matchers = append(c.Matchers, scenarios.Matcher{Label: l, Op: op, Value: v})
	}
	c.Text = c.Metric
	return c
}

// bookAfter is the retries exercise's reported "after" phase plus the
// canary's split, a client view and resource samples.
func bookAfter() *metrics.Snapshot {
	t0 := time.Unix(0, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	return &metrics.Snapshot{
		Requests: []metrics.RequestCount{
			{Name: "payments", StatusCode: 200, Attempt: 1, Count: 34020},
			{Name: "currency_v1", StatusCode: 200, Attempt: 1, Count: 17000},
			{Name: "currency_v1", StatusCode: 200, Attempt: 2, Count: 8559},
			{Name: "currency_v2", StatusCode: 200, Attempt: 1, Count: 8423},
			{Name: "currency_v2", StatusCode: 500, Attempt: 1, Count: 8677},
			{Name: "shop_v1", StatusCode: 200, Attempt: 1, Count: 1496},
			{Name: "shop_v2", StatusCode: 200, Attempt: 1, Count: 1504},
		},
		Retries: map[string]float64{"currency": 8677},
		Durations: map[string]metrics.Histogram{
			"shop_v1": {Count: 10, Buckets: []metrics.Bucket{{UpperBound: 0.01, Count: 2}, {UpperBound: 0.03, Count: 10}}},
			"shop_v2": {Count: 10, Buckets: []metrics.Bucket{{UpperBound: 0.01, Count: 8}, {UpperBound: 0.03, Count: 10}}},
		},
		Resources: map[string]*metrics.ResourceSeries{
			"api":         {Samples: []metrics.ResourceSample{{T: at(0), CPUSeconds: 0, RSSMB: 23.3}, {T: at(1), CPUSeconds: 1.7, RSSMB: 76.4}, {T: at(2), CPUSeconds: 3.5, RSSMB: 70}}},
			"api_sidecar": {Samples: []metrics.ResourceSample{{T: at(0), CPUSeconds: 0, RSSMB: 26.4}, {T: at(1), CPUSeconds: 0.04, RSSMB: 30.3}, {T: at(2), CPUSeconds: 0.08, RSSMB: 29}}},
		},
		RequestRates: map[string][]float64{"api": {185, 189, 192}},
		Client: load.ClientView{
			Count: 2002, Errors: 500, StatusCodes: map[int]int64{200: 1502, 500: 500},
			MinS: 0.005, MaxS: 0.2, MeanS: 0.0528, P50S: 0.02, P90S: 0.09, P99S: 0.15, P999S: 0.19,
			Histogram: []load.LatencyBucket{{StartS: 0.005, EndS: 0.03, Count: 1500}, {StartS: 0.03, EndS: 0.2, Count: 502}},
			PerSecond: []int64{100, 101, 99, 100},
		},
	}
}

func TestEvaluateTable(t *testing.T) {
	s := bookAfter()
	for _, tc := range []struct {
		name   string
		c      scenarios.Condition
		value  float64
		status Status
		reason string // substring of the judge's reason
	}{
		// request_count as a share
		{"service 200 = 100%", cond("request_count", "=", 100, true, nil, "name=payments", "status_code=200"), 100, Pass, ""},
		{"service non-200 = 0%", cond("request_count", "=", 0, true, nil, "name=payments", "status_code!=200"), 0, Pass, ""},
		{"version 500 = 0% exact", cond("request_count", "=", 0, true, nil, "name=currency_v2", "status_code=500"), 100 * 8677.0 / 17100, Fail, ""},
		{"all versions of a service", cond("request_count", "=", 100*8677.0/(25559+17100), true, tol(0.01), "name=currency", "status_code=500"), 100 * 8677.0 / (25559 + 17100), Pass, ""},
		{"status class 5xx", cond("request_count", "=", 8677, false, nil, "name=currency", "status_code=5xx"), 8677, Pass, ""},
		{"attempt matcher", cond("request_count", "=", 8559, false, nil, "name=currency_v1", "attempt=2"), 8559, Pass, ""},
		{"name-only share divides by the service", cond("request_count", "=", 50, true, nil, "name=shop_v1"), 100 * 1496.0 / 3000, Pass, "inside the 95% interval"},
		{"tolerance tighter than noise → WARN", cond("request_count", "=", 50, true, tol(0.1), "name=shop_v1"), 100 * 1496.0 / 3000,
			Warn, "tolerance ±0.1 pts is tighter than the sampling noise ±1.8 pts at n=3000 (the book's Yamane formula wants n ≥ 353 for a ±5% margin)"},
		{"tolerance wide enough", cond("request_count", "=", 50, true, tol(0.2), "name=shop_v1"), 100 * 1496.0 / 3000, Pass, ""},
		// plain counts, every comparator
		{"client count exact", cond("request_count", "=", 2000, false, nil), 2002, Fail, "target exactly 2000"},
		{"client count ± 0.1%", cond("request_count", "=", 2000, false, tol(0.1)), 2002, Pass, ""},
		{"client count ± 0.05%", cond("request_count", "=", 2000, false, tol(0.05)), 2002, Fail, ""},
		{"!= pass", cond("request_count", "!=", 2000, false, nil), 2002, Pass, ""},
		{"!= fail", cond("request_count", "!=", 2002, false, nil), 2002, Fail, ""},
		{"< pass", cond("request_count", "<", 2003, false, nil), 2002, Pass, ""},
		{"< fail at equality", cond("request_count", "<", 2002, false, nil), 2002, Fail, ""},
		{"<= pass at equality", cond("request_count", "<=", 2002, false, nil), 2002, Pass, ""},
		{"> pass", cond("request_count", ">", 2001, false, nil), 2002, Pass, ""},
		{"> fail at equality", cond("request_count", ">", 2002, false, nil), 2002, Fail, ""},
		{">= pass at equality", cond("request_count", ">=", 2002, false, nil), 2002, Pass, ""},
		{"client status code count", cond("request_count", "=", 500, false, nil, "status_code=500"), 500, Pass, ""},
		{"client status share", cond("request_count", "=", 25, true, tol(0.5), "status_code=500"), 100 * 500.0 / 2002, Pass, ""},
		// share with an ordering comparator inside the noise → WARN
		{"share < target inside CI", cond("request_count", "<", 50, true, nil, "name=currency_v2", "status_code=500"), 100 * 8677.0 / 17100, Warn, "cannot decide"},
		// latency
		{"client p50", cond("request_duration_p50", "<", 0.1, false, nil), 0.02, Pass, ""},
		{"client p99.9", cond("request_duration_p999", "<=", 0.19, false, nil), 0.19, Pass, ""},
		{"client p75 from histogram", cond("request_duration_p75", "<", 0.1, false, nil), 0.03 + 0.17*(75-100*1500.0/2002)/(100-100*1500.0/2002), Pass, ""},
		{"server p50 one version", cond("request_duration_p50", "<", 0.1, false, nil, "name=shop_v1"), 0.01 + 0.02*3/8, Pass, ""},
		{"server p50 service merges versions", cond("request_duration_p50", "<", 0.1, false, nil, "name=shop"), 0.01, Pass, ""},
		// rates, CPU, memory
		{"rps p50 of api", cond("requests_per_second_p50", ">", 180, false, nil, "name=api"), 189, Pass, ""},
		{"client rps p50", cond("requests_per_second_p50", ">=", 100, false, nil), 100, Pass, ""},
		{"cpu p50 api", cond("cpu_seconds_p50", "<", 2, false, nil, "name=api"), 1.75, Pass, ""},
		{"cpu p50 sidecar", cond("cpu_seconds_p50", "<", 1, false, nil, "name=api_sidecar"), 0.04, Pass, ""},
		{"memory max", cond("memory_megabytes_max", "<", 50, false, nil, "name=api_sidecar"), 30.3, Pass, ""},
		{"memory min", cond("memory_megabytes_min", "<", 20, false, nil, "name=api"), 23.3, Fail, ""},
		// other metrics
		{"client error rate", cond("error_rate", "<", 30, false, nil), 100 * 500.0 / 2002, Pass, ""},
		{"retries", cond("retries_total", ">", 0, false, nil, "name=currency"), 8677, Pass, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Evaluate(tc.c, s)
			if !r.Known {
				t.Fatalf("unknown: %s", r.Reason)
			}
			if math.Abs(r.Value-tc.value) > 1e-9 {
				t.Errorf("value %g, want %g", r.Value, tc.value)
			}
			st, why := Judge(tc.c, r)
			if st != tc.status || !strings.Contains(why, tc.reason) {
				t.Errorf("status %s (%s), want %s containing %q", st, why, tc.status, tc.reason)
			}
			for _, p := range []float64{r.CI[0], r.CI[1]} {
				if r.Share && (p > r.Value+1e-9 && p == r.CI[0] || p < r.Value-1e-9 && p == r.CI[1]) {
					t.Errorf("CI %v does not contain the measurement %g", r.CI, r.Value)
				}
			}
		})
	}
}

func TestMissingDataFails(t *testing.T) {
	s := bookAfter()
	for _, c := range []scenarios.Condition{
		cond("request_count", "=", 100, true, nil, "name=nope", "status_code=200"),
		cond("request_count", "=", 5, false, nil, "name=nope"),
		cond("request_duration_p50", "<", 1, false, nil, "name=payments"), // no histogram
		cond("request_duration_p50", "<", 1, false, nil, "name=shop", "status_code=200"),
		cond("cpu_seconds_p50", "<", 1, false, nil),
		cond("cpu_seconds_p50", "<", 1, false, nil, "name=payments"),
		cond("memory_megabytes_max", "<", 1, false, nil, "name=payments"),
		cond("requests_per_second_p50", ">", 1, false, nil, "name=payments"),
		cond("request_count", "=", 1, false, nil, "name=api", "color=red"),
		cond("request_fun", "=", 1, false, nil),
	} {
		r := Evaluate(c, s)
		st, why := Judge(c, r)
		if r.Known || st != Fail || why == "" {
			t.Errorf("%s%v: known %v status %s reason %q", c.Metric, c.Matchers, r.Known, st, why)
		}
	}
	empty := &metrics.Snapshot{}
	r := Evaluate(cond("request_count", "=", 1, false, nil), empty)
	if r.Known || !strings.Contains(r.Reason, "no requests") {
		t.Errorf("empty client: %+v", r)
	}
	r = Evaluate(cond("request_count", "=", 1, false, nil, "name=api"), empty)
	if !strings.Contains(r.Reason, "scrape targets") {
		t.Errorf("empty snapshot reason: %q", r.Reason)
	}
}

func TestEvaluateAll(t *testing.T) {
	before := bookAfter()
	before.Requests = []metrics.RequestCount{
		{Name: "payments", StatusCode: 200, Attempt: 1, Count: 750},
		{Name: "payments", StatusCode: 500, Attempt: 1, Count: 250},
	}
	after := bookAfter()
	conds := []scenarios.Condition{
		cond("request_count", "=", 100, true, nil, "name=payments", "status_code=200"),
		cond("request_count", "=", 0, true, nil, "name=payments", "status_code!=200"),
	}
	vs := EvaluateAll(conds, before, after)
	if len(vs) != 2 {
		t.Fatal(len(vs))
	}
	for _, v := range vs {
		if v.BeforeStatus != Fail || v.Status != Pass {
			t.Errorf("%s: before %s after %s (%s)", v.Condition.Text, v.BeforeStatus, v.Status, v.Reason)
		}
	}
	if vs[0].Before.Value != 75 || vs[0].After.Value != 100 || vs[0].After.N != 34020 {
		t.Errorf("values: %+v / %+v", vs[0].Before, vs[0].After)
	}
	vs = EvaluateAll(conds, nil, after)
	if vs[0].BeforeStatus != NA || vs[0].Status != Pass {
		t.Errorf("nil before: %+v", vs[0])
	}
	vs = EvaluateAll(conds, before, nil)
	if vs[0].Status != NA {
		t.Errorf("nil after: %+v", vs[0])
	}
}

func TestShareBaseOption(t *testing.T) {
	s := bookAfter()
	c := cond("request_count", "=", 50, true, tol(1), "name=shop_v1")
	o := Options{ShareBase: func(scenarios.Condition) []scenarios.Matcher {
		return []scenarios.Matcher{{Label: "name", Op: "=", Value: "shop_v1"}}
	}}
	if r := o.Evaluate(c, s); r.Value != 100 {
		t.Errorf("custom base: %g", r.Value)
	}
}

func TestWilson(t *testing.T) {
	for _, tc := range []struct{ x, n, lo, hi float64 }{
		{50, 100, 0.4038, 0.5962},
		{0, 10, 0, 0.2775},
		{10, 10, 0.7225, 1},
		{1, 3000, 0.0000589, 0.001887},
		{1496, 3000, 0.48079, 0.51655},
	} {
		lo, hi := Wilson95(tc.x, tc.n)
		if math.Abs(lo-tc.lo) > 5e-5 || math.Abs(hi-tc.hi) > 5e-5 {
			t.Errorf("Wilson95(%g/%g) = [%.6f, %.6f], want [%g, %g]", tc.x, tc.n, lo, hi, tc.lo, tc.hi)
		}
	}
	if lo, hi := Wilson95(0, 0); lo != 0 || hi != 1 {
		t.Errorf("n=0: [%g,%g]", lo, hi)
	}
}

func TestYamane(t *testing.T) {
	if n := Yamane(10000, 0.05); math.Abs(n-384.615) > 1e-3 {
		t.Errorf("Yamane(10000) = %g, want 384.6", n)
	}
	if n := Yamane(4810, 0.05); math.Ceil(n) != 370 {
		t.Errorf("Yamane(4810) = %g, want ⌈⌉ 370", n)
	}
	if Yamane(0, 0.05) != 0 {
		t.Error("N=0")
	}
}
