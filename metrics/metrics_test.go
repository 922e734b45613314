package metrics

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func serve(t *testing.T, body func() string) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		fmt.Fprint(w, body())
	}))
	t.Cleanup(s.Close)
	return s.URL + "/metrics"
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestParseOTelExposition(t *testing.T) {
	samples, err := Parse(strings.NewReader(readFixture(t, "sidecar_currency.txt")))
	if err != nil {
		t.Fatal(err)
	}
	find := func(name string, labels map[string]string) (float64, bool) {
	next:
		for _, s := range samples {
			if s.Name != name {
				continue
			}
			for k, v := range labels {
				if s.Labels[k] != v {
					continue next
				}
			}
			return s.Value, true
		}
		return 0, false
	}
	if v, ok := find("meshgym_request_duration_seconds_bucket", map[string]string{"direction": "inbound", "le": "+Inf"}); !ok || v != 100 {
		t.Errorf("+Inf bucket = %v, %v", v, ok)
	}
	if v, ok := find("meshgym_request_duration_seconds_count", map[string]string{"direction": "inbound"}); !ok || v != 100 {
		t.Errorf("_count = %v, %v", v, ok)
	}
	if v, ok := find("target_info", map[string]string{"service.name": "meshgym-sidecar"}); !ok || v != 1 {
		t.Errorf("UTF-8 quoted label in target_info not parsed: %v %v", v, ok)
	}
	if v, ok := find("meshgym_requests_total", map[string]string{"attempt": "2", "otel_scope_name": "meshgym/dataplane"}); !ok || v != 25 {
		t.Errorf("counter = %v, %v", v, ok)
	}
	p, err := Parse(strings.NewReader(readFixture(t, "sidecar_payments.txt")))
	if err != nil {
		t.Fatal(err)
	}
	var sum, q99 bool
	for _, s := range p {
		sum = sum || (s.Name == "rpc_latency_seconds_sum" && s.Value == 1.5)
		q99 = q99 || (s.Name == "rpc_latency_seconds" && s.Labels["quantile"] == "0.99" && s.Value == 0.02)
	}
	if !sum || !q99 {
		t.Errorf("summary not flattened: sum %v q99 %v", sum, q99)
	}
	if _, err := Parse(strings.NewReader("this is not { prometheus\n")); err == nil {
		t.Error("want parse error")
	}
}

func TestCollectMergesTargets(t *testing.T) {
	u1 := serve(t, func() string { return readFixture(t, "sidecar_currency.txt") })
	u2 := serve(t, func() string { return readFixture(t, "sidecar_payments.txt") })
	s, err := Collect(context.Background(), []string{u1, u2})
	if err != nil {
		t.Fatal(err)
	}
	want := map[RequestCount]bool{
		{Name: "currency_v1", StatusCode: 200, Attempt: 1, Count: 75}: true,
		{Name: "currency_v1", StatusCode: 200, Attempt: 2, Count: 25}: true,
		{Name: "currency_v2", StatusCode: 500, Attempt: 1, Count: 1}:  true,
		{Name: "payments", StatusCode: 200, Attempt: 1, Count: 200}:   true,
		{Name: "payments", StatusCode: 500, Attempt: 1, Count: 3}:     true,
	}
	if len(s.Requests) != len(want) {
		t.Errorf("requests = %+v", s.Requests)
	}
	for _, r := range s.Requests {
		if !want[r] {
			t.Errorf("unexpected %+v", r)
		}
	}
	if s.Retries["currency"] != 27 {
		t.Errorf("retries = %v, want currency 27 (summed over reasons)", s.Retries)
	}
	if len(s.Upstream) != 6 {
		t.Errorf("upstream = %+v", s.Upstream)
	}
	h, ok := s.Durations["currency_v1"]
	if !ok || h.Count != 100 || len(h.Buckets) != 4 {
		t.Fatalf("inbound histogram = %+v (outbound must be excluded)", h)
	}
	// p50: rank 50 in (0.001, 0.005] holding 40..90 → 0.001 + 0.004·10/50.
	if v, _ := h.Quantile(0.5); !near(v, 0.0018) {
		t.Errorf("p50 = %g, want 0.0018", v)
	}
	if got := s.Components(); strings.Join(got, ",") != "currency_v1,currency_v2,payments" {
		t.Errorf("components %v", got)
	}

	// A dead target does not hide the others.
	s, err = Collect(context.Background(), []string{u1, "http://127.0.0.1:1/metrics"})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("want error naming the dead target, got %v", err)
	}
	if s == nil || len(s.Requests) != 2 {
		t.Errorf("partial snapshot lost: %+v", s)
	}
}

func TestDiff(t *testing.T) {
	hist := func(count float64, cum ...float64) Histogram {
		h := Histogram{Count: count, Sum: count / 100}
		for i, c := range cum {
			h.Buckets = append(h.Buckets, Bucket{UpperBound: float64(i+1) / 1000, Count: c})
		}
		return h
	}
	before := &Snapshot{
		Requests: []RequestCount{
			{Name: "a", StatusCode: 200, Attempt: 1, Count: 100},
			{Name: "b", StatusCode: 200, Attempt: 1, Count: 500}, // b restarts
			{Name: "gone", StatusCode: 200, Attempt: 1, Count: 9},
		},
		Retries:   map[string]float64{"x": 10},
		Durations: map[string]Histogram{"a": hist(10, 5, 10), "b": hist(50, 20, 50)},
	}
	after := &Snapshot{
		Requests: []RequestCount{
			{Name: "a", StatusCode: 200, Attempt: 1, Count: 160},
			{Name: "a", StatusCode: 500, Attempt: 1, Count: 4}, // new series
			{Name: "b", StatusCode: 200, Attempt: 1, Count: 30},
		},
		Retries:      map[string]float64{"x": 15, "y": 2},
		Durations:    map[string]Histogram{"a": hist(30, 12, 30), "b": hist(5, 1, 5)},
		RequestRates: map[string][]float64{"a": {1, 2}},
	}
	after.Client.Count = 64
	d := Diff(before, after)
	got := map[string]float64{}
	for _, r := range d.Requests {
		got[fmt.Sprintf("%s/%d", r.Name, r.StatusCode)] = r.Count
	}
	want := map[string]float64{"a/200": 60, "a/500": 4, "b/200": 30}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests delta %v, want %v", got, want)
	}
	if d.Retries["x"] != 5 || d.Retries["y"] != 2 {
		t.Errorf("retries %v", d.Retries)
	}
	if h := d.Durations["a"]; h.Count != 20 || h.Buckets[0].Count != 7 || h.Buckets[1].Count != 20 {
		t.Errorf("histogram delta %+v", h)
	}
	if h := d.Durations["b"]; h.Count != 5 {
		t.Errorf("restarted histogram should be taken whole: %+v", h)
	}
	if d.Client.Count != 64 || len(d.RequestRates["a"]) != 2 {
		t.Errorf("per-phase fields must come from after: %+v", d)
	}
	if Diff(nil, after).Requests[0].Count != 160 {
		t.Error("nil before: want after")
	}
}

func TestHistogramQuantile(t *testing.T) {
	h := Histogram{Count: 10, Buckets: []Bucket{{0.1, 5}, {0.2, 5}, {0.4, 9}}}
	for _, tc := range []struct{ q, want float64 }{
		{0, 0}, {0.25, 0.05}, {0.5, 0.1}, {0.7, 0.3}, {0.9, 0.4}, {0.95, 0.4} /* in +Inf: highest finite bound */, {1, 0.4},
	} {
		if v, ok := h.Quantile(tc.q); !ok || !near(v, tc.want) {
			t.Errorf("Quantile(%g) = %g, want %g", tc.q, v, tc.want)
		}
	}
	if _, ok := (Histogram{}).Quantile(0.5); ok {
		t.Error("empty: want ok=false")
	}
	m := h.Add(Histogram{Count: 2, Buckets: []Bucket{{0.1, 1}, {0.3, 2}}})
	if m.Count != 12 || len(m.Buckets) != 4 || m.Buckets[2].UpperBound != 0.3 || m.Buckets[2].Count != 7 {
		t.Errorf("Add = %+v", m)
	}
}

func TestQuantileType7(t *testing.T) {
	xs := []float64{4, 1, 3, 2}
	for _, tc := range []struct{ q, want float64 }{{0, 1}, {0.5, 2.5}, {0.25, 1.75}, {1, 4}} {
		if v, _ := Quantile(xs, tc.q); !near(v, tc.want) {
			t.Errorf("Quantile(%g) = %g, want %g", tc.q, v, tc.want)
		}
	}
	if xs[0] != 4 {
		t.Error("input was sorted in place")
	}
}

func TestMatchName(t *testing.T) {
	for _, tc := range []struct {
		sel, name string
		want      bool
	}{
		{"payments", "payments", true},
		{"payments", "payments_v1", true},
		{"payments", "payments_v2", true},
		{"payments", "paymentsx", false},
		{"payments", "payments_sidecar", false},
		{"payments", "payments_v1_sidecar", false},
		{"payments_v1", "payments_v1", true},
		{"payments_v1", "payments_v2", false},
		{"payments_sidecar", "payments_sidecar", true},
		{"payments_sidecar", "payments_v2_sidecar", true},
		{"payments_sidecar", "payments", false},
		{"api_sidecar", "api_sidecar", true},
	} {
		if got := MatchName(tc.sel, tc.name); got != tc.want {
			t.Errorf("MatchName(%q, %q) = %v", tc.sel, tc.name, got)
		}
	}
	for in, want := range map[string]string{"currency_v1": "currency", "currency": "currency", "order_svc_v12": "order_svc", "v1": "v1"} {
		if got := ServiceOf(in); got != want {
			t.Errorf("ServiceOf(%q) = %q", in, got)
		}
	}
}

func TestResourceHelpers(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	s := &Snapshot{Resources: map[string]*ResourceSeries{
		"api":         {Samples: []ResourceSample{{at(0), 10, 20}, {at(1), 10.5, 30}, {at(2), 11.5, 25}, {at(3), 11.7, 22}}},
		"api_sidecar": {Samples: []ResourceSample{{at(0), 1, 5}, {at(1), 1.1, 6}}},
		"payments_v1": {Samples: []ResourceSample{{at(0), 0, 40}, {at(1), 1, 41}}},
		"payments_v2": {Samples: []ResourceSample{{at(0), 0, 50}, {at(1), 0.5, 52}}},
	}}
	// api per second: 0.5, 1.0, 0.2 → p50 0.5; sidecar excluded.
	if v, n, ok := s.CPUSecondsQuantile("api", 0.5); !ok || n != 3 || !near(v, 0.5) {
		t.Errorf("cpu p50 = %g n=%d ok=%v", v, n, ok)
	}
	if v, _, _ := s.CPUSecondsQuantile("api_sidecar", 0.5); !near(v, 0.1) {
		t.Errorf("sidecar cpu p50 = %g", v)
	}
	if v, _, _ := s.CPUSecondsQuantile("payments", 0.5); !near(v, 1.5) {
		t.Errorf("payments (v1+v2) cpu = %g, want 1.5", v)
	}
	if v, n, _ := s.MemoryMBMax("api"); v != 30 || n != 4 {
		t.Errorf("mem max %g n=%d", v, n)
	}
	if v, _, _ := s.MemoryMBMin("payments"); v != 90 {
		t.Errorf("payments mem min %g, want 90 (summed per tick)", v)
	}
	if _, _, ok := s.MemoryMBMax("nope"); ok {
		t.Error("unknown component: want ok=false")
	}
	s.RequestRates = map[string][]float64{"payments_v1": {10, 20, 30}, "payments_v2": {1, 2, 3}}
	if v, n, _ := s.RequestsPerSecondQuantile("payments", 0.5); v != 22 || n != 3 {
		t.Errorf("rps p50 = %g n=%d", v, n)
	}
}

func TestSamplerOnThisProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("samples for 2 s")
	}
	s := NewSampler(map[string]int32{"self": int32(os.Getpid())}, 250*time.Millisecond)
	s.Start(context.Background())
	deadline := time.Now().Add(1200 * time.Millisecond)
	x := 0.0
	for time.Now().Before(deadline) { // keep one core busy
		x += math.Sqrt(float64(len(os.Args)) + x)
	}
	series := s.Stop()["self"]
	if series == nil || len(series.Samples) < 4 || series.Gone || series.Errors != 0 {
		t.Fatalf("series = %+v", series)
	}
	first, last := series.Samples[0], series.Samples[len(series.Samples)-1]
	if last.CPUSeconds-first.CPUSeconds < 0.5 || last.RSSMB <= 1 {
		t.Errorf("cpu %g→%g rss %g MB", first.CPUSeconds, last.CPUSeconds, last.RSSMB)
	}
	snap := &Snapshot{Resources: map[string]*ResourceSeries{"self": series}}
	p50, _, _ := snap.CPUSecondsQuantile("self", 0.5)
	if p50 < 0.5 || p50 > 1.5 {
		t.Errorf("busy-loop cpu p50 = %g per second, want ≈ 1", p50)
	}
	t.Logf("%d samples, cpu p50 %.2f s/s, rss %.1f MB, x=%g", len(series.Samples), p50, last.RSSMB, x)
}

func TestSamplerRecordsDeadProcessAsGone(t *testing.T) {
	cmd := exec.Command("sleep", "0.3")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	s := NewSampler(map[string]int32{"short": int32(cmd.Process.Pid), "never": 1 << 30}, 100*time.Millisecond)
	s.Start(context.Background())
	_ = cmd.Wait()
	time.Sleep(400 * time.Millisecond)
	all := s.Stop()
	if sh := all["short"]; !sh.Gone || len(sh.Samples) == 0 || sh.Errors != 0 {
		t.Errorf("short-lived process: %+v", sh)
	}
	if nv := all["never"]; !nv.Gone || len(nv.Samples) != 0 || nv.Errors != 0 {
		t.Errorf("non-existent pid: %+v", nv)
	}
}

func TestRecorderRates(t *testing.T) {
	start := time.Now()
	var scrapes atomic.Int64
	u := serve(t, func() string {
		scrapes.Add(1)
		n := 100 * time.Since(start).Seconds() // 100 req/s for payments_v1
		return fmt.Sprintf("# TYPE meshgym_requests_total counter\n"+
			"meshgym_requests_total{direction=\"inbound\",name=\"payments_v1\",status_code=\"200\",attempt=\"1\"} %g\n"+
			"meshgym_requests_total{direction=\"inbound\",name=\"payments_v2\",status_code=\"200\",attempt=\"1\"} 7\n", n)
	})
	r := NewRecorder([]string{u}, 100*time.Millisecond)
	r.Start(context.Background())
	time.Sleep(650 * time.Millisecond)
	rates := r.Stop()
	v1, v2 := rates["payments_v1"], rates["payments_v2"]
	if len(v1) < 4 || len(v1) != len(v2) {
		t.Fatalf("rates %v", rates)
	}
	snap := &Snapshot{RequestRates: rates}
	p50, _, _ := snap.RequestsPerSecondQuantile("payments_v1", 0.5)
	if math.Abs(p50-100) > 15 {
		t.Errorf("p50 = %.1f req/s, want ≈ 100 (rates %v)", p50, v1)
	}
	if q, _, _ := snap.RequestsPerSecondQuantile("payments_v2", 0.5); q != 0 {
		t.Errorf("constant counter: rate %g", q)
	}
	if n, err := r.Err(); n != 0 || err != nil {
		t.Errorf("errors %d %v", n, err)
	}
}

// A mesh's metric names map onto meshgym's before the snapshot is built,
// so conditions on request_count read an Envoy-named family.
func TestMappingRenamesFamiliesAndLabels(t *testing.T) {
	samples := []Sample{
		{Name: "istio_requests_total", Labels: map[string]string{"destination_workload": "payments_v1", "response_code": "200", "direction": "inbound"}, Value: 7},
		{Name: "istio_request_duration_milliseconds_bucket", Labels: map[string]string{"le": "5"}, Value: 3},
		{Name: "istio_requests_total_extra", Value: 1},
		{Name: "other", Value: 2},
	}
	m := Mapping{
		{From: "istio_requests", To: "meshgym_requests", Labels: map[string]string{"destination_workload": "name", "response_code": "status_code"}},
		{From: "istio_request_duration_milliseconds", To: "meshgym_request_duration"},
	}
	got := m.Apply(samples)
	if got[0].Name != "meshgym_requests_total" || got[0].Labels["name"] != "payments_v1" || got[0].Labels["status_code"] != "200" || got[0].Labels["direction"] != "inbound" {
		t.Errorf("renamed counter = %+v", got[0])
	}
	if _, ok := got[0].Labels["destination_workload"]; ok {
		t.Errorf("old label kept: %+v", got[0].Labels)
	}
	if got[1].Name != "meshgym_request_duration_bucket" || got[1].Labels["le"] != "5" {
		t.Errorf("renamed bucket = %+v", got[1])
	}
	if got[2].Name != "istio_requests_total_extra" || got[3].Name != "other" {
		t.Errorf("unrelated samples renamed: %+v %+v", got[2], got[3])
	}
	snap := FromSamples(m.Apply([]Sample{{Name: "istio_requests_total", Labels: map[string]string{"destination_workload": "payments_v1", "response_code": "200", "direction": "inbound", "attempt": "1"}, Value: 7}}))
	if len(snap.Requests) != 1 || snap.Requests[0].Name != "payments_v1" || snap.Requests[0].Count != 7 {
		t.Errorf("snapshot of mapped samples: %+v", snap.Requests)
	}
}

// Live per-component counts are what was answered since Start, split into
// errors (not 2xx) and the rest.
func TestRecorderCounts(t *testing.T) {
	var n atomic.Int64
	u := serve(t, func() string {
		k := n.Add(1) * 10 // each scrape 10 more of each
		return fmt.Sprintf("# TYPE meshgym_requests_total counter\n"+
			"meshgym_requests_total{direction=\"inbound\",name=\"currency_v2\",status_code=\"200\",attempt=\"1\"} %d\n"+
			"meshgym_requests_total{direction=\"inbound\",name=\"currency_v2\",status_code=\"500\",attempt=\"1\"} %d\n", 100+k, 50+k)
	})
	r := NewRecorder([]string{u}, 50*time.Millisecond)
	if got := r.Counts(); len(got) != 0 {
		t.Fatalf("before Start: %v", got)
	}
	r.Start(context.Background())
	time.Sleep(180 * time.Millisecond)
	r.Stop()
	scrapes := float64(n.Load())
	c := r.Counts()["currency_v2"]
	// Baseline at the first scrape: 110 + 60; last: 100+10s + 50+10s.
	if want := 20 * (scrapes - 1); c.Requests != want || c.Errors != want/2 {
		t.Errorf("counts after %v scrapes = %+v, want requests %v errors %v", scrapes, c, want, want/2)
	}
	if scrapes < 3 {
		t.Errorf("only %v scrapes", scrapes)
	}
}

// A real mesh's proxy reports the same family client-side and
// server-side and does not know meshgym's names: Where keeps the
// server-side samples, and the target's labels name the component.
func TestMappingWhereAndTargetLabels(t *testing.T) {
	body := "# TYPE istio_requests_total counter\n" +
		"istio_requests_total{reporter=\"destination\",response_code=\"200\",destination_workload=\"currency-v1\"} 30\n" +
		"istio_requests_total{reporter=\"destination\",response_code=\"503\",destination_workload=\"currency-v1\"} 10\n" +
		"istio_requests_total{reporter=\"source\",response_code=\"200\",destination_workload=\"other\"} 99\n" +
		"# TYPE unrelated_total counter\nunrelated_total 5\n"
	u1 := serve(t, func() string { return body })
	u2 := serve(t, func() string { return body })
	m := Mapping{{From: "istio_requests", To: "meshgym_requests", Labels: map[string]string{"response_code": "status_code"}, Where: map[string]string{"reporter": "destination"}}}
	snap, err := CollectTargets(context.Background(), []Target{
		{URL: u1, Labels: map[string]string{"name": "currency_v1"}},
		{URL: u2, Labels: map[string]string{"name": "currency_v2"}},
	}, m)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, r := range snap.Requests {
		got[fmt.Sprintf("%s/%d", r.Name, r.StatusCode)] += r.Count
	}
	want := map[string]float64{"currency_v1/200": 30, "currency_v1/503": 10, "currency_v2/200": 30, "currency_v2/503": 10}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("request counts = %v, want %v (client-side samples dropped, names from the targets)", got, want)
	}
}
