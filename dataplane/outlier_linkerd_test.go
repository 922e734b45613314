package dataplane

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Tests of the "linkerd" outlier algorithm (Linkerd's consecutive failure
// accrual) on the fake clock, of its penalty arithmetic, and of the new
// config fields (lb_choice_count, ewma, jitter_ratio).

// half is a random source whose uniform draw is exactly 0.5.
func half() uint64 { return 1 << 63 }

func linkerdCB(failures int, minP, maxP time.Duration) OutlierDetection {
	return OutlierDetection{Algorithm: OutlierLinkerd, Consecutive5xx: failures, BaseEjectionTime: minP, MaxEjectionTime: maxP}
}

// TestLinkerdPenalty: linkerd/exp-backoff's base = min × 2^n capped at max,
// plus uniform × ratio of base with the whole seconds and the sub-second
// part truncated separately, capped at max − base.
func TestLinkerdPenalty(t *testing.T) {
	for _, tc := range []struct {
		iter     int
		min, max time.Duration
		ratio    float64
		rnd      uint64
		want     time.Duration
	}{
		{0, time.Second, time.Minute, 0.5, 1 << 63, time.Second},               // 1 × 0.25 truncates to 0 s
		{1, time.Second, time.Minute, 0.5, math.MaxUint64, 2 * time.Second},    // 2 × 0.4999… → 0 s
		{2, time.Second, time.Minute, 0.5, math.MaxUint64, 5 * time.Second},    // 4 × 0.4999… → 1 s
		{3, time.Second, time.Minute, 0.5, math.MaxUint64, 11 * time.Second},   // 8 × 0.4999… → 3 s
		{6, time.Second, time.Minute, 0.5, 0, time.Minute},                     // 64 s capped at 60 s
		{5, time.Second, time.Minute, 0.5, math.MaxUint64, 47 * time.Second},   // 32 s + 15 s (15.99 truncated)
		{5, time.Second, time.Minute, 1, math.MaxUint64, time.Minute},          // 32 s + 31 s, capped at max − base = 28 s
		{2, 1500 * time.Millisecond, time.Minute, 1, 1 << 63, 9 * time.Second}, // base 6 s: 6 × 0.5 = 3 s; sub-second 0
		{0, 1500 * time.Millisecond, time.Minute, 1, 1 << 63, 1500*time.Millisecond + 250*time.Millisecond},
		{100, time.Second, 8 * time.Second, 0.5, 1 << 63, 8 * time.Second}, // huge iteration: max
		{0, time.Second, time.Minute, 0, 0, time.Second},                   // no jitter, no draw
	} {
		drawn := false
		got := linkerdPenalty(tc.iter, tc.min, tc.max, tc.ratio, func() uint64 { drawn = true; return tc.rnd })
		if got != tc.want {
			t.Errorf("iter %d min %v max %v ratio %v: %v, want %v", tc.iter, tc.min, tc.max, tc.ratio, got, tc.want)
		}
		if tc.ratio == 0 && drawn {
			t.Errorf("ratio 0 drew from the random source")
		}
	}
}

// TestLinkerdAccrualExactThreshold: with the defaults (0 fields) the
// endpoint is unavailable exactly at the 7th consecutive failure; a
// success in between resets the count.
func TestLinkerdAccrualExactThreshold(t *testing.T) {
	x := newODTest(t, OutlierDetection{Algorithm: OutlierLinkerd}, "", half, "a", "b")
	fail, ok := Outcome{StatusCode: 503}, Outcome{StatusCode: 200}
	for range 6 {
		x.d.Report(1, fail)
	}
	x.d.Report(1, ok)
	for range 6 {
		x.d.Report(1, fail)
	}
	if x.d.Ejected(1) {
		t.Fatal("unavailable after 6 consecutive failures")
	}
	x.d.Report(1, Outcome{Failure: FailureConnect}) // no response counts as a failure
	if !x.d.Ejected(1) {
		t.Fatal("available after the 7th consecutive failure")
	}
	want := []evLine{{0, EventEjection, "b", "7 consecutive failures; unavailable for 1s (time 1)"}}
	if got := x.lines(); !reflect.DeepEqual(got, want) {
		t.Errorf("events %+v, want %+v", got, want)
	}
	if x.d.panicThreshold != 0 || x.d.max != time.Minute || x.d.jitterRatio != 0.5 {
		t.Errorf("defaults: panic %d, max %v, jitter %v; want 0, 1m, 0.5", x.d.panicThreshold, x.d.max, x.d.jitterRatio)
	}
}

// TestLinkerdAccrualPenaltyDoubles: one always-failing endpoint, 2
// failures to trip, penalty 1 s doubling up to 8 s, jitter 0.5 with a
// uniform draw of 0.5 (a quarter of the base, whole seconds truncated):
// penalties 1 s, 2 s, 5 s (4 + 1), 8 s, 8 s. Requests every 100 ms: each
// probation lets exactly one request through; every other request gets
// no healthy upstream (503: Linkerd has no panic mode).
func TestLinkerdAccrualPenaltyDoubles(t *testing.T) {
	x := newODTest(t, linkerdCB(2, time.Second, 8*time.Second), "", half, "payments_v1")
	h, client := x.paced(t, 260, 100*time.Millisecond, nil, allFail)
	if want := secs(0, 0.1, 1.1, 3.1, 8.1, 16.1, 24.1); !reflect.DeepEqual(h.times[0], want) {
		t.Errorf("upstream requests at %v, want %v", h.times[0], want)
	}
	if want := map[string]int{"500": 7, "UH": 253}; !reflect.DeepEqual(client, want) {
		t.Errorf("callers got %v, want %v", client, want)
	}
	lines := x.lines()
	var details []string
	for _, l := range lines {
		if l.Kind == EventEjection {
			details = append(details, l.Detail)
		}
	}
	want := []string{
		"2 consecutive failures; unavailable for 1s (time 1)",
		"probation request failed; unavailable for 2s (time 2)",
		"probation request failed; unavailable for 5s (time 3)",
		"probation request failed; unavailable for 8s (time 4)",
		"probation request failed; unavailable for 8s (time 5)",
		"probation request failed; unavailable for 8s (time 6)",
	}
	if !reflect.DeepEqual(details, want) {
		t.Errorf("ejections:\n%s\nwant:\n%s", strings.Join(details, "\n"), strings.Join(want, "\n"))
	}
	if got, want := eventTimes(lines, EventUnejection), secs(1.1, 3.1, 8.1, 16.1, 24.1); !reflect.DeepEqual(got, want) {
		t.Errorf("probations at %v, want %v", got, want)
	}
}

// TestLinkerdProbationOneRequest: on probation exactly one request is
// handed out, even when its outcome is slow to come; a success makes the
// endpoint available with its count reset and the next penalty back at
// the minimum.
func TestLinkerdProbationOneRequest(t *testing.T) {
	x := newODTest(t, linkerdCB(2, time.Second, time.Minute), "", half, "a", "b", "c")
	x.d.Report(1, Outcome{StatusCode: 500})
	x.d.Report(1, Outcome{StatusCode: 500})
	x.at(time.Second)
	var picks []int
	for range 9 {
		picks = append(picks, x.d.Pick()) // no outcome reported yet
	}
	if n := count(picks, 1); n != 1 {
		t.Fatalf("on probation b was picked %d times in %v, want exactly once", n, picks)
	}
	x.d.Report(1, Outcome{StatusCode: 200})
	picks = picks[:0]
	for range 9 {
		picks = append(picks, x.d.Pick())
	}
	if n := count(picks, 1); n != 3 {
		t.Errorf("after a successful probation b got %d of 9 round-robin picks %v, want 3", n, picks)
	}
	// Count reset: one failure does not trip it; two do, for the min penalty.
	x.d.Report(1, Outcome{StatusCode: 500})
	if x.d.Ejected(1) {
		t.Fatal("tripped by 1 failure after the reset")
	}
	x.d.Report(1, Outcome{StatusCode: 500})
	lines := x.lines()
	want := []evLine{
		{0, EventEjection, "b", "2 consecutive failures; unavailable for 1s (time 1)"},
		{time.Second, EventUnejection, "b", "on probation after 1s: one request goes through and its outcome decides (time 1)"},
		{time.Second, EventProbation, "b", "probation request succeeded: available, failure count reset (time 1)"},
		{time.Second, EventEjection, "b", "2 consecutive failures; unavailable for 1s (time 2)"},
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("events\n%+v\nwant\n%+v", lines, want)
	}
	// Outcomes while unavailable are ignored (Linkerd drops them).
	x.d.Report(1, Outcome{StatusCode: 200})
	x.at(1500 * time.Millisecond)
	if !x.d.Ejected(1) {
		t.Error("a success while unavailable ended the penalty")
	}
}

func count(picks []int, ep int) int {
	n := 0
	for _, p := range picks {
		if p == ep {
			n++
		}
	}
	return n
}

// TestLinkerdProbeReleased: a probation request that is never made (a
// previous_hosts re-pick discarded it) or ends without an outcome
// (cancelled, client gone) frees the probation for the next request.
func TestLinkerdProbeReleased(t *testing.T) {
	x := newODTest(t, linkerdCB(1, time.Second, time.Minute), "", half, "a", "b")
	x.d.Report(0, Outcome{StatusCode: 500})
	x.at(time.Second)
	probe := func() {
		t.Helper()
		if got := x.d.Pick(); got != 0 {
			t.Fatalf("pick %d, want a (round-robin turn 0, on probation)", got)
		}
		if got := x.d.Pick(); got != 1 {
			t.Fatalf("pick %d, want b: a's one request is out", got)
		}
		x.d.rr = [2]uint64{} // next round starts at a again
	}
	probe()
	x.d.Report(0, Outcome{Failure: FailureCanceled})
	probe()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	x.d.reportAttempt(ctx, ctx, 0, Outcome{Failure: FailureReset}) // the client went away
	probe()
	// PickHost with previous_hosts: the retry's first pick lands on a,
	// already tried, so it is re-picked and a's probation is handed back.
	rs := mustCompile(t, &RetryPolicy{NumRetries: 1, RetryOn: []string{"5xx"}, PreviousHosts: true}).Start(seq(0))
	x.d.releasePick(0)
	rs.markAttempted(0)
	x.d.rr = [2]uint64{}
	if got := rs.PickHost(x.d); got != 1 {
		t.Fatalf("PickHost = %d, want b after the re-pick", got)
	}
	x.d.rr = [2]uint64{}
	probe()
}

// TestLinkerdWithLoadBalancer: with a load-aware balancer the detector
// chooses with it among the available endpoints only.
func TestLinkerdWithLoadBalancer(t *testing.T) {
	x := newODTest(t, linkerdCB(1, time.Second, time.Minute), LBLeastRequest, half, "a", "b", "c")
	lr := NewLeastRequest(3, 0, seq(0, 1, 2, 0, 1, 1))
	x.d.load = lr
	lr.Start(1)
	x.d.Report(0, Outcome{StatusCode: 500})
	var picks []int
	for range 6 {
		picks = append(picks, x.d.Pick())
	}
	// Candidates [b c]: draws (0,1) → b vs c → c (b busier); (2%2=0, 0) → b, b;
	// (1, 1) → c, c.
	if want := []int{2, 1, 2, 2, 1, 2}; !reflect.DeepEqual(picks, want) {
		t.Errorf("picks %v, want %v", picks, want)
	}
	if trackerOf(x.d) != Tracker(lr) {
		t.Error("the detector does not hand attempts to its balancer")
	}
}

// TestLinkerdSidecarNoHealthyUpstream: through the real outbound listener
// on a fake clock, both endpoints failing and tripping at 1 failure: once
// both are unavailable the caller gets 503 "no healthy upstream"; after
// the 1 s penalty each gets one probation request, fails, and is out for
// 2 s; the ejection metrics count every trip.
func TestLinkerdSidecarNoHealthyUpstream(t *testing.T) {
	clk := newFakeClock()
	o := linkerdCB(1, time.Second, time.Minute)
	sc, _, bad := outlierSidecar(t, clk, o)
	c, _ := sc.Config()
	cl := c.Clusters["payments"]
	cl.Endpoints[0].Address = cl.Endpoints[1].Address // both fail
	c.Clusters["payments"], c.Version = cl, 2
	putConfig(t, sc, c)
	url := "http://" + sc.Addrs().Outbound["payments"] + "/"
	var codes []int
	send := func() {
		code, body, _ := get(t, http.DefaultClient, url)
		if code == 503 && strings.TrimSpace(body) != "no healthy upstream" {
			t.Fatalf("503 %q", body)
		}
		codes = append(codes, code)
	}
	send()
	send()
	send()
	clk.Advance(time.Second)
	send()
	send()
	send()
	clk.Advance(time.Second)
	send()
	if want := []int{500, 500, 503, 500, 500, 503, 503}; !reflect.DeepEqual(codes, want) {
		t.Errorf("callers got %v, want %v", codes, want)
	}
	if bad.n.Load() != 4 {
		t.Errorf("upstream got %d requests, want 4", bad.n.Load())
	}
	mfs := scrape(t, sc)
	if got := series(mfs[MetricUpstreamEjections]); got["cluster=payments,name=payments_v1"] != 2 || got["cluster=payments,name=payments_v2"] != 2 {
		t.Errorf("%s = %v, want 2 per endpoint", MetricUpstreamEjections, got)
	}
	for _, m := range mfs[MetricUpstreamEjectionsActive].GetMetric() {
		if v := m.GetGauge().GetValue(); v != 1 {
			t.Errorf("%s %v = %v, want 1", MetricUpstreamEjectionsActive, m.GetLabel(), v)
		}
	}
}

// TestConfigJSONNewFields: lb_choice_count, ewma and jitter_ratio keep
// their JSON names and survive a round trip, also through PUT/GET /config.
func TestConfigJSONNewFields(t *testing.T) {
	eps := []Endpoint{{Name: "a", Address: "127.0.0.1:1"}, {Name: "b", Address: "127.0.0.1:2"}}
	o := LinkerdAccrualDefaults()
	o.JitterRatio = 0.25
	c := Config{Version: 3, Clusters: map[string]Cluster{
		"currency": {Name: "currency", Endpoints: eps, LBPolicy: LBLeastRequest, LBChoiceCount: 3},
		"payments": {Name: "payments", Endpoints: eps, LBPolicy: LBPeakEWMA,
			EWMA: &EWMAConfig{DefaultRTT: 50 * time.Millisecond, Decay: 5 * time.Second}, Outlier: &o},
	}}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, frag := range []string{`"lb_policy":"least_request","lb_choice_count":3`, `"lb_policy":"peak_ewma"`,
		`"ewma":{"default_rtt":50000000,"decay":5000000000}`, `"algorithm":"linkerd"`, `"jitter_ratio":0.25`} {
		if !strings.Contains(string(b), frag) {
			t.Errorf("JSON lacks %s: %s", frag, b)
		}
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("round trip:\n%+v\nwant\n%+v", back, c)
	}
	if err := back.Validate(); err != nil {
		t.Fatal(err)
	}
	sc := startTestSidecar(t, "api", "currency", "payments")
	putConfig(t, sc, c)
	got, _ := sc.Config()
	if !reflect.DeepEqual(got, c) {
		t.Errorf("GET /config:\n%+v\nwant\n%+v", got, c)
	}
	rc := sc.fwd.cfg.Load()
	if _, ok := rc.clusters["currency"].lb.(*LeastRequest); !ok {
		t.Errorf("currency balancer %T", rc.clusters["currency"].lb)
	}
	if d := rc.clusters["payments"].outlier; d == nil || d.load != rc.clusters["payments"].load || d.load == nil {
		t.Error("payments: the detector does not use the cluster's peak_ewma balancer")
	}
}

// TestLoadBalancerStateKeptAcrossPush: a push that keeps a cluster's
// endpoints and balancer spec keeps the balancer (its active counts and
// estimates); one that changes the spec starts afresh.
func TestLoadBalancerStateKeptAcrossPush(t *testing.T) {
	sc := startTestSidecar(t, "api", "currency")
	cl := Cluster{Endpoints: []Endpoint{{Name: "a", Address: "127.0.0.1:1"}, {Name: "b", Address: "127.0.0.1:2"}},
		LBPolicy: LBPeakEWMA, Routes: []Route{{Split: []WeightedVersion{{Version: "a", Weight: 1}, {Version: "b", Weight: 1}}}}}
	push := func(v int64) loadPicker {
		putConfig(t, sc, Config{Version: v, Clusters: map[string]Cluster{"currency": cl}})
		cr := sc.fwd.cfg.Load().clusters["currency"]
		for _, vl := range cr.pol.versions {
			if vl.load != cr.load {
				t.Fatalf("version %v does not use the cluster's balancer", vl.idx)
			}
		}
		return cr.load
	}
	first := push(1)
	cl.Timeout = time.Second
	if push(2) != first {
		t.Error("a timeout-only push replaced the balancer")
	}
	cl.EWMA = &EWMAConfig{Decay: time.Second}
	if push(3) == first {
		t.Error("a changed ewma block kept the balancer")
	}
}

// TestValidateLoadBalancing: the new fields' ranges, one line each.
func TestValidateLoadBalancing(t *testing.T) {
	ep := []Endpoint{{Name: "payments_v1", Address: "127.0.0.1:9001"}}
	nan := math.NaN()
	for _, tc := range []struct {
		cl   Cluster
		want string // "" = valid
	}{
		{Cluster{LBPolicy: LBLeastRequest}, ""},
		{Cluster{LBPolicy: LBLeastRequest, LBChoiceCount: 2}, ""},
		{Cluster{LBPolicy: LBLeastRequest, LBChoiceCount: 5}, ""},
		{Cluster{LBPolicy: LBPeakEWMA}, ""},
		{Cluster{LBPolicy: LBPeakEWMA, EWMA: &EWMAConfig{DefaultRTT: time.Millisecond, Decay: time.Second}}, ""},
		{Cluster{LBPolicy: "ring_hash"}, `cluster "payments": unknown lb_policy "ring_hash" (want "round_robin", "random", "least_request" or "peak_ewma")`},
		{Cluster{LBPolicy: LBLeastRequest, LBChoiceCount: 1}, `lb_choice_count is 1; want 0 (default 2) or 2-1024`},
		{Cluster{LBPolicy: LBLeastRequest, LBChoiceCount: -3}, `lb_choice_count is -3`},
		{Cluster{LBPolicy: LBLeastRequest, LBChoiceCount: 5000}, `lb_choice_count is 5000`},
		{Cluster{LBChoiceCount: 2}, `lb_choice_count is set but lb_policy is ""; it applies to "least_request" only`},
		{Cluster{LBPolicy: LBLeastRequest, EWMA: &EWMAConfig{}}, `ewma is set but lb_policy is "least_request"`},
		{Cluster{LBPolicy: LBPeakEWMA, EWMA: &EWMAConfig{Decay: -time.Second}}, `ewma.decay is -1s; want 0 (default 10s) or more`},
		{Cluster{LBPolicy: LBPeakEWMA, EWMA: &EWMAConfig{DefaultRTT: -1}}, `ewma.default_rtt is -1ns; want 0 (default 30ms) or more`},
		{Cluster{Outlier: &OutlierDetection{Algorithm: OutlierLinkerd}}, ""},
		{Cluster{Outlier: ptr(LinkerdAccrualDefaults())}, ""},
		{Cluster{Outlier: &OutlierDetection{Algorithm: OutlierLinkerd, JitterRatio: 100}}, ""},
		{Cluster{Outlier: &OutlierDetection{Algorithm: OutlierLinkerd, JitterRatio: 100.5}}, `outlier.jitter_ratio is 100.5; want 0 (default 0.5) to 100`},
		{Cluster{Outlier: &OutlierDetection{Algorithm: OutlierLinkerd, JitterRatio: -0.1}}, `outlier.jitter_ratio is -0.1`},
		{Cluster{Outlier: &OutlierDetection{Algorithm: OutlierLinkerd, JitterRatio: nan}}, `outlier.jitter_ratio is NaN`},
		{Cluster{Outlier: &OutlierDetection{JitterRatio: 0.5}}, `outlier.jitter_ratio is 0.5 but algorithm is ""; it applies to "linkerd" only`},
		{Cluster{Outlier: &OutlierDetection{Algorithm: OutlierLinkerd, BaseEjectionTime: 2 * time.Minute}}, `outlier.base_ejection_time (min penalty) 2m0s exceeds max_ejection_time (max penalty) 1m0s`},
		{Cluster{Outlier: &OutlierDetection{Algorithm: OutlierLinkerd, Consecutive5xx: -1}}, `outlier.consecutive_5xx is -1`},
		{Cluster{Outlier: &OutlierDetection{Algorithm: OutlierLinkerd, MaxEjectionTime: -time.Second}}, `outlier.max_ejection_time is -1s`},
	} {
		cl := tc.cl
		cl.Endpoints = ep
		c := Config{Clusters: map[string]Cluster{"payments": cl}}
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.cl, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: error %v, want %q", tc.cl, err, tc.want)
		case err != nil && strings.Contains(err.Error(), "\n"):
			t.Errorf("error is not one line: %q", err)
		}
	}
}

func ptr[T any](v T) *T { return &v }
