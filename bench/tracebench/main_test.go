package main

import (
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"fortio.org/log"
)

// TestMain lets runBench re-execute the test binary as the app child.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "-serve" {
		os.Exit(serveApp())
	}
	log.SetLogLevelQuiet(log.Error)
	os.Exit(m.Run())
}

var traceparentRE = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$`)

func TestTraceparent(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 20000
	sampled := 0
	seen := map[string]bool{}
	for range n {
		tp, s := traceparent(r, 0.1)
		if !traceparentRE.MatchString(tp) {
			t.Fatalf("bad traceparent %q", tp)
		}
		if strings.HasPrefix(tp[3:], strings.Repeat("0", 32)) {
			t.Fatalf("all-zero trace ID: %q", tp)
		}
		if s != strings.HasSuffix(tp, "-01") {
			t.Fatalf("sampled %v but header %q", s, tp)
		}
		if seen[tp[3:35]] {
			t.Fatalf("trace ID repeated: %q", tp)
		}
		seen[tp[3:35]] = true
		if s {
			sampled++
		}
	}
	// Binomial(20000, 0.1): mean 2000, sd 42.4; ±5 sd.
	if sampled < 1788 || sampled > 2212 {
		t.Errorf("%d of %d sampled at 0.1, want about 2000", sampled, n)
	}
	for _, p := range []float64{0, 1} {
		for range 100 {
			if _, s := traceparent(r, p); s != (p == 1) {
				t.Fatalf("sample %v gave sampled=%v", p, s)
			}
		}
	}
}

func TestCountSpans(t *testing.T) {
	body := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"a","spanId":"1","parentSpanId":"0"},{"traceId":"a","spanId":"2"}]}]}]}`
	if got := countSpans([]byte(body), "application/json"); got != 2 {
		t.Errorf("countSpans = %d, want 2", got)
	}
	if got := countSpans(nil, "application/x-protobuf"); got != 0 {
		t.Errorf("empty protobuf = %d", got)
	}
}

func TestRatios(t *testing.T) {
	runs := []Run{
		{Path: "direct", Mode: "fixed", P90: 100e-6, ActualQPS: 1000},
		{Path: "off", Mode: "fixed", P50: 200e-6, P90: 300e-6, P99: 400e-6, ActualQPS: 1000, CPUPerReq: 20e-6},
		{Path: "on-10%", Mode: "fixed", P50: 220e-6, P90: 340e-6, P99: 480e-6, ActualQPS: 1000, CPUPerReq: 25e-6, Sampled: 100, Spans: 200},
		{Path: "on-100%", Mode: "fixed", P50: 300e-6, P90: 500e-6, ActualQPS: 900, Sampled: 1000, Spans: 0},
	}
	got := ratios(runs)
	if len(got) != 2 {
		t.Fatalf("%d ratios, want 2", len(got))
	}
	r := got[0]
	near := func(name string, v jsonFloat, want float64) {
		if math.Abs(float64(v)-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
	if !r.Active {
		t.Fatal("on-10% not active")
	}
	near("p50", r.P50, 1.1)
	near("p90", r.P90, 340.0/300)
	near("p99", r.P99, 1.2)
	near("added p90", r.AddedP90, 240.0/200)
	near("qps", r.QPS, 1)
	near("cpu", r.CPU, 1.25)
	// Sampled requests but no span received: tracing was not on.
	if got[1].Active || got[1].P90 != 0 {
		t.Errorf("on-100%% without spans = %+v, want inactive and no ratios", got[1])
	}
	if !math.IsInf(float64(div(1, 0)), 1) {
		t.Error("div by 0 is not +Inf")
	}
}

// TestBenchShort runs the harness end to end for a moment (fixed rate
// only): the sidecar with an OTLP endpoint exports two spans per sampled
// request (its outbound span and the attempt's) and none without.
func TestBenchShort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds meshgym-sidecar and runs 8 processes; skipped under -short")
	}
	rep, err := runBench(benchOpts{d: 400 * time.Millisecond, slice: 400 * time.Millisecond, qps: 300, conns: 4,
		sample: 0.1, modes: []string{"fixed"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pending != "" {
		t.Fatalf("pending: %s", rep.Pending)
	}
	byPath := map[string]Run{}
	for _, r := range rep.Runs {
		byPath[r.Path] = r
		if r.Count == 0 || r.Errors != 0 || r.P50 <= 0 || r.P50 > r.P99 {
			t.Errorf("%s: %+v", r.Path, r)
		}
	}
	if off := byPath["off"]; off.Sampled != 0 || off.Spans != 0 {
		t.Errorf("off path traced: %+v", off)
	}
	all := byPath["on-100%"]
	// Sampled also counts fortio's warm-up call per connection (4), which
	// its histogram leaves out.
	if all.Sampled < all.Count || all.Sampled > all.Count+4 || all.Spans != 2*all.Sampled {
		t.Errorf("on-100%%: %d requests, %d sampled, %d spans; want all sampled, 2 spans each", all.Count, all.Sampled, all.Spans)
	}
	ten := byPath["on-10%"]
	if ten.Spans != 2*ten.Sampled || ten.Sampled >= ten.Count/2 {
		t.Errorf("on-10%%: %d requests, %d sampled, %d spans", ten.Count, ten.Sampled, ten.Spans)
	}
	if len(rep.Ratios) != 2 || !rep.Ratios[0].Active || !rep.Ratios[1].Active {
		t.Errorf("ratios %+v", rep.Ratios)
	}
	var sb strings.Builder
	printReport(&sb, rep)
	if !strings.Contains(sb.String(), "on ÷ off") || strings.Contains(sb.String(), "PENDING") {
		t.Errorf("report:\n%s", sb.String())
	}
}
