package scenarios

import (
	"errors"
	"reflect"
	"testing"
)

func ptr(f float64) *float64 { return &f }

func TestParseCondition(t *testing.T) {
	tests := []struct {
		metric, value string
		tol           *float64
		want          Condition
	}{
		{"request_count[name=payments, status_code=200]", "100%", nil, Condition{Metric: "request_count",
			Matchers: []Matcher{{"name", "=", "payments"}, {"status_code", "=", "200"}}, Op: "=", Value: 100, Share: true, Unit: "%"}},
		{`request_count["name=payments_v1, status=200"]`, "1992", nil, Condition{Metric: "request_count",
			Matchers: []Matcher{{"name", "=", "payments_v1"}, {"status_code", "=", "200"}}, Op: "=", Value: 1992}},
		{`request_count[status_code!=200, name=”payments"]`, "0%", nil, Condition{Metric: "request_count",
			Matchers: []Matcher{{"name", "=", "payments"}, {"status_code", "!=", "200"}}, Op: "=", Value: 0, Share: true, Unit: "%"}},
		{"request_count[name=currency_v2 status_code=500]", "50%", ptr(0.1), Condition{Metric: "request_count",
			Matchers: []Matcher{{"name", "=", "currency_v2"}, {"status_code", "=", "500"}}, Op: "=", Value: 50, Share: true, Unit: "%", Tolerance: ptr(0.1)}},
		{`requests_per_second_p50[name="api"]`, "> 180", nil, Condition{Metric: "requests_per_second_p50",
			Matchers: []Matcher{{"name", "=", "api"}}, Op: ">", Value: 180}},
		{"request_duration_p50", "100ms", nil, Condition{Metric: "request_duration_p50", Op: "=", Value: 0.1, Unit: "ms"}},
		{"request_duration_p99[name=payments_v1]", "< 1.5s", nil, Condition{Metric: "request_duration_p99",
			Matchers: []Matcher{{"name", "=", "payments_v1"}}, Op: "<", Value: 1.5, Unit: "s"}},
		{"memory_megabytes_max[name=api_sidecar]", "< 50MB", nil, Condition{Metric: "memory_megabytes_max",
			Matchers: []Matcher{{"name", "=", "api_sidecar"}}, Op: "<", Value: 50, Unit: "MB"}},
		{"memory_megabytes_min[name=api]", "<=100", nil, Condition{Metric: "memory_megabytes_min",
			Matchers: []Matcher{{"name", "=", "api"}}, Op: "<=", Value: 100}},
		{"cpu_seconds_p50[name=api]", "< 2", nil, Condition{Metric: "cpu_seconds_p50",
			Matchers: []Matcher{{"name", "=", "api"}}, Op: "<", Value: 2}},
		{"cpu_seconds_p90", ">= 500ms", nil, Condition{Metric: "cpu_seconds_p90", Op: ">=", Value: 0.5, Unit: "ms"}},
		{"error_rate", "!= 1", nil, Condition{Metric: "error_rate", Op: "!=", Value: 1, Unit: "%"}},
		{"retries_total[name=payments_sidecar]", "≤ 10", nil, Condition{Metric: "retries_total",
			Matchers: []Matcher{{"name", "=", "payments_sidecar"}}, Op: "<=", Value: 10}},
		{"  REQUEST_COUNT [ name = payments ] ", " “50%” ", nil, Condition{Metric: "request_count",
			Matchers: []Matcher{{"name", "=", "payments"}}, Op: "=", Value: 50, Share: true, Unit: "%"}},
		{"amplification[name=currency]", "< 2", nil, Condition{Metric: "amplification",
			Matchers: []Matcher{{"name", "=", "currency"}}, Op: "<", Value: 2}},
		{"amplification[name=payments]", "0.9", ptr(3), Condition{Metric: "amplification",
			Matchers: []Matcher{{"name", "=", "payments"}}, Op: "=", Value: 0.9, Tolerance: ptr(3)}},
		{"ejections_total[name=payments_v2]", "4", nil, Condition{Metric: "ejections_total",
			Matchers: []Matcher{{"name", "=", "payments_v2"}}, Op: "=", Value: 4}},
		{"canary_weight", "100", nil, Condition{Metric: "canary_weight", Op: "=", Value: 100, Unit: "%"}},
		{"canary_weight[name=payments_v2]", "0%", nil, Condition{Metric: "canary_weight",
			Matchers: []Matcher{{"name", "=", "payments_v2"}}, Op: "=", Value: 0, Unit: "%"}},
	}
	for _, tt := range tests {
		t.Run(tt.metric+" "+tt.value, func(t *testing.T) {
			got, err := ParseCondition(tt.metric, tt.value, tt.tol)
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Text = tt.want.String()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\n got %+v\nwant %+v", got, tt.want)
			}
			back, err := ParseConditionString(got.String())
			if err != nil || !reflect.DeepEqual(back, got) {
				t.Errorf("String round trip: %q → %+v, %v", got.String(), back, err)
			}
		})
	}
}

func TestParseConditionErrors(t *testing.T) {
	tests := []struct {
		metric, value string
		tol           *float64
		field         string
		col           int
		msg           string
	}{
		{"", "1", nil, "condition", 1, "expected a metric name"},
		{"request_total", "1", nil, "condition", 1, `unknown metric "request_total"`},
		{"request_duration_p", "1ms", nil, "condition", 1, "unknown metric"},
		{"request_duration_p0", "1ms", nil, "condition", 1, "unknown metric"},
		{"request_count name=a", "1", nil, "condition", 15, `unexpected "n" after the metric name`},
		{"request_count[name=a", "1", nil, "condition", 21, "selector is not closed"},
		{"request_count[=a]", "1", nil, "condition", 15, `expected a label, found "="`},
		{"request_count[host=a]", "1", nil, "condition", 15, `unknown label "host"`},
		{"request_count[name~a]", "1", nil, "condition", 19, "expected = or != after name"},
		{"request_count[name=]", "1", nil, "condition", 20, "no value after name="},
		{`request_count[name="a]`, "1", nil, "condition", 20, "quote not closed"},
		{"request_count[name=a/b]", "1", nil, "condition", 20, `name "a/b" has the character "/"`},
		{"request_count[status_code=2000]", "1", nil, "condition", 27, "status_code must be a number"},
		{"request_count[name=a, name=b]", "1", nil, "condition", 23, "name= given twice"},
		{"request_count", "", nil, "value", 1, "no value"},
		{"request_count", ">", nil, "value", 2, "expected a number"},
		{"request_count", "-1", nil, "value", 1, "value must be ≥ 0"},
		{"request_count", "1 kb", nil, "value", 2, `unknown unit "kb"`},
		{"request_count", "1ms", nil, "value", 2, "ms does not fit request_count"},
		{"request_count", "101%", nil, "value", 1, "share must be ≤ 100%"},
		{"request_count", "1.5", nil, "value", 1, "a count must be a whole number"},
		{"request_duration_p50", "100", nil, "value", 4, "needs a unit"},
		{"requests_per_second_p50", "100%", nil, "value", 4, "% does not fit requests_per_second_p50"},
		{"memory_megabytes_max", "1s", nil, "value", 2, "s does not fit memory_megabytes_max"},
		{"error_rate", "150%", nil, "value", 1, "error rate must be ≤ 100%"},
		{"request_count", "1e999", nil, "value", 1, "out of range"},
		{"request_count", "50%", ptr(-1), "tolerance", 1, "tolerance must be ≥ 0"},
		{"request_count", "50%", ptr(101), "tolerance", 1, "tolerance must be ≤ 100"},
	}
	for _, tt := range tests {
		t.Run(tt.metric+" "+tt.value, func(t *testing.T) {
			_, err := ParseCondition(tt.metric, tt.value, tt.tol)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T), want *Error", err, err)
			}
			if e.Field != tt.field || e.Column != tt.col || !contains(e.Msg, tt.msg) || e.Hint == "" {
				t.Errorf("got field %q col %d msg %q hint %q; want %q col %d msg containing %q", e.Field, e.Column, e.Msg, e.Hint, tt.field, tt.col, tt.msg)
			}
		})
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestParseConditionString(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"request_count[name=currency_v2, status_code=500] = 50% ± 0.1", "request_count[name=currency_v2, status_code=500] = 50% ± 0.1"},
		{"request_count[name=currency_v2, status_code=500] 50% +- 0.1%", "request_count[name=currency_v2, status_code=500] = 50% ± 0.1"},
		{"request_duration_p50: 100ms", "request_duration_p50 = 100ms"},
		{"request_duration_p50 < 0.25s", "request_duration_p50 < 0.25s"},
		{`request_count["name=payments_v1, status=200"]: 1992`, "request_count[name=payments_v1, status_code=200] = 1992"},
	} {
		c, err := ParseConditionString(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if c.String() != tt.want || c.Text != tt.want {
			t.Errorf("%q: got %q", tt.in, c.String())
		}
	}
	for _, tt := range []struct {
		in    string
		field string
		col   int
	}{
		{"request_count[name=a = 5", "condition", 14},
		{"request_count = 5 ± x", "tolerance", 21},
		{"request_count = 5 ± -1", "tolerance", 21},
		{"request_count = x", "value", 17},
	} {
		_, err := ParseConditionString(tt.in)
		var e *Error
		if !errors.As(err, &e) || e.Field != tt.field || e.Column != tt.col {
			t.Errorf("%q: got %+v, want field %s col %d", tt.in, e, tt.field, tt.col)
		}
	}
}

func TestConditionHelpers(t *testing.T) {
	c, err := ParseCondition("request_duration_p999[name=api]", "< 1s", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Family() != MetricRequestDurationP {
		t.Errorf("family %q", c.Family())
	}
	if q, ok := c.Quantile(); !ok || q != 0.999 {
		t.Errorf("quantile %v %v", q, ok)
	}
	if v, ok := c.Match(LabelName, "="); !ok || v != "api" {
		t.Errorf("match %q %v", v, ok)
	}
	if _, ok := c.Match(LabelStatusCode, "="); ok {
		t.Error("status_code matched")
	}
	rc, _ := ParseCondition("request_count", "5", nil)
	if _, ok := rc.Quantile(); ok || rc.Family() != MetricRequestCount {
		t.Error("request_count has no quantile")
	}
	for in, want := range map[string]float64{"p50": 0.5, "p90": 0.9, "p99": 0.99, "p5": 0.5} {
		c, err := ParseCondition("cpu_seconds_"+in, "1", nil)
		if q, _ := c.Quantile(); err != nil || q != want {
			t.Errorf("%s: %v %v", in, q, err)
		}
	}
}

func TestShareBase(t *testing.T) {
	s := mustBuiltin(t, "retries")
	topo := s.Topology
	topo.Services = append(topo.Services, Service{Name: "shop", Versions: []Version{{Name: "shop_v1"}, {Name: "shop_v2"}}})
	tests := []struct{ metric, value, want string }{
		{"request_count[name=currency_v2, status_code=500]", "50%", "request_count[name=currency_v2]"},
		{"request_count[name=payments, status_code!=200]", "0%", "request_count[name=payments]"},
		{"request_count[name=shop_v1]", "50%", "request_count[name=shop]"},
		{"request_count[name=payments]", "100%", "request_count[name=payments]"},
		{"request_count[status_code=200]", "99%", "request_count"},
		{"request_count[name=shop_v1, status_code=200]", "2000", "request_count[name=shop_v1, status_code=200]"},
	}
	for _, tt := range tests {
		c, err := ParseCondition(tt.metric, tt.value, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := Condition{Metric: c.Metric, Matchers: topo.ShareBase(c)}.Selector()
		if got != tt.want {
			t.Errorf("%s %s: base %q, want %q", tt.metric, tt.value, got, tt.want)
		}
	}
}
