package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"meshgym/engine"
	"meshgym/load"
	"meshgym/metrics"
	"meshgym/plugins"
	"meshgym/scenarios"
	"meshgym/verdict"
)

func compareRun(t *testing.T, profile string, v2 float64, ejections float64, maxEject string, seed int64) *engine.Result {
	t.Helper()
	sc := &scenarios.Scenario{Name: "circuit-breaking", Topology: scenarios.Topology{Entry: "checkout", Services: []scenarios.Service{
		{Name: "checkout", Versions: []scenarios.Version{{Name: "checkout"}}},
		{Name: "payments", Versions: []scenarios.Version{{Name: "payments_v1"}, {Name: "payments_v2", ErrorRate: 100}}},
	}}}
	cond, err := scenarios.ParseCondition("request_count[name=payments_v2, status_code!=200]", "8", nil)
	if err != nil {
		t.Fatal(err)
	}
	started := time.Unix(1000, 0)
	snap := &metrics.Snapshot{
		Requests: []metrics.RequestCount{
			{Name: "checkout", StatusCode: 200, Attempt: 1, Count: 2000 - v2},
			{Name: "checkout", StatusCode: 500, Attempt: 1, Count: v2},
			{Name: "payments_v1", StatusCode: 200, Attempt: 1, Count: 2000 - v2},
			{Name: "payments_v2", StatusCode: 500, Attempt: 1, Count: v2},
		},
		Ejections: map[string]float64{"payments_v2": ejections},
		Client:    load.ClientView{Count: 2000, Errors: int64(v2), P99S: 0.004},
	}
	res := &engine.Result{Scenario: sc, Mesh: "builtin", Profile: profile, Seed: seed, Platform: "local",
		After: &engine.PhaseResult{Started: started, Snapshot: snap, Load: &load.Result{Client: snap.Client}},
		Knobs: []plugins.Knob{
			{Path: "payments.outlier.max_ejection_percent", Value: maxEject, Source: "profile " + profile + " (https://example)"},
			{Path: "payments.outlier.consecutive_5xx", Value: "2", Source: "scenario"},
		},
	}
	if ejections > 0 {
		res.After.Ejections = []engine.PolicyEvent{{Kind: "ejection", At: started.Add(1500 * time.Millisecond)}}
	}
	res.Verdicts = verdict.EvaluateAll([]scenarios.Condition{cond}, nil, snap)
	res.Passed = res.Verdicts[0].Status == verdict.Pass
	return res
}

func TestCompareFindsTheFailingVersionAndSaysWhy(t *testing.T) {
	book := compareRun(t, "book", 8, 4, "100", 7)
	istio := compareRun(t, "istio@1.27", 1000, 0, "10", 7)
	c := Compare([]*engine.Result{book, istio}, nil)

	if got := []string{c.Runs[0].Label, c.Runs[1].Label}; got[0] != "book" || got[1] != "istio@1.27" {
		t.Fatalf("labels = %v", got)
	}
	if len(c.Conditions) != 1 || c.Conditions[0].Cells[0].Status != verdict.Pass || c.Conditions[0].Cells[1].Status != verdict.Fail {
		t.Fatalf("conditions = %+v", c.Conditions)
	}
	fig := func(name string) ComparedFigure {
		for _, f := range c.Figures {
			if f.Name == name {
				return f
			}
		}
		t.Fatalf("no figure %q in %+v", name, c.Figures)
		return ComparedFigure{}
	}
	f := fig("requests reaching payments_v2 (fails 100%)")
	if *f.Values[0] != 8 || *f.Values[1] != 1000 || !f.Differ {
		t.Errorf("failing-version figure = %v %v differ=%v", *f.Values[0], *f.Values[1], f.Differ)
	}
	wantWhy := "payments.outlier.max_ejection_percent: book 100 (book default), istio@1.27 10 (istio@1.27 default) — with 2 payments hosts, istio@1.27 may eject none"
	if f.Why != wantWhy {
		t.Errorf("why = %q\nwant  %q", f.Why, wantWhy)
	}
	if tte := fig("time to first ejection"); tte.Values[0] == nil || *tte.Values[0] != 1.5 || tte.Values[1] != nil || !tte.Differ {
		t.Errorf("time to first ejection = %+v", tte)
	}
	// The same calls per client request in both: not a difference.
	if calls := fig("calls to payments per client request"); calls.Differ || calls.Why != "" {
		t.Errorf("calls figure = %+v", calls)
	}

	var buf bytes.Buffer
	CompareText(&buf, c, false)
	out := buf.String()
	for _, want := range []string{"circuit-breaking compared across 2 runs", "BOOK", "ISTIO@1.27",
		"Why they differ:", "requests reaching payments_v2 (fails 100%), client errors, ejections, time to first ejection differ — payments.outlier.max_ejection_percent",
		"RESULT", "PASS", "FAIL"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
}

func TestCompareSameKnobsBlamesNoise(t *testing.T) {
	a := compareRun(t, "book", 8, 4, "100", 1)
	b := compareRun(t, "book", 60, 4, "100", 2)
	c := Compare([]*engine.Result{a, b}, []string{"run A", "run B"})
	for _, f := range c.Figures {
		if strings.HasPrefix(f.Name, "requests reaching") {
			if !f.Differ || !strings.Contains(f.Why, "different seeds") {
				t.Errorf("figure = %+v", f)
			}
			return
		}
	}
	t.Fatal("no failing-version figure")
}

// The before phase (pattern off) shows what each mesh's own defaults do:
// istio@1.23 retries an app's 503 by default, current istio does not, and
// the why line names the default that differs.
func TestCompareBeforePhaseShowsMeshDefaults(t *testing.T) {
	mk := func(profile string, errors int64, retries int64, codes string) *engine.Result {
		r := compareRun(t, profile, 8, 4, "100", 9)
		snap := &metrics.Snapshot{
			Requests: []metrics.RequestCount{{Name: "payments_v2", StatusCode: 503, Attempt: 1, Count: 500 + float64(retries)}},
			Client:   load.ClientView{Count: 1000, Errors: errors, MaxS: 0.05},
		}
		r.Before = &engine.PhaseResult{Snapshot: snap, Load: &load.Result{Client: snap.Client},
			PolicyEvents: map[string]int64{"retry": retries}}
		r.BeforeKnobs = []plugins.Knob{
			{Path: "payments.retry.retriable_status_codes", Value: codes, Source: "profile " + profile + " (https://x)"},
			{Path: "payments.retry.num_retries", Value: "2", Source: "profile " + profile + " (https://x)"},
			{Path: "payments.timeout", Value: "none", Source: "profile " + profile + " (https://x)"},
		}
		return r
	}
	c := Compare([]*engine.Result{mk("istio@1.23", 3, 480, "[503]"), mk("istio@1.27", 500, 0, "[]")}, nil)
	var errs *ComparedFigure
	for i, f := range c.Figures {
		if f.Phase == engine.PhaseBefore && f.Name == "client errors" {
			errs = &c.Figures[i]
		}
	}
	if errs == nil {
		t.Fatalf("no before-phase client errors figure: %+v", c.Figures)
	}
	if *errs.Values[0] != 0.3 || *errs.Values[1] != 50 || !errs.Differ {
		t.Errorf("before client errors = %v %v", *errs.Values[0], *errs.Values[1])
	}
	want := "payments.retry.retriable_status_codes: istio@1.23 [503] (istio@1.23 default), istio@1.27 [] (istio@1.27 default)"
	if errs.Why != want {
		t.Errorf("why = %q\nwant  %q", errs.Why, want)
	}
	var buf bytes.Buffer
	CompareText(&buf, c, false)
	for _, w := range []string{"BEFORE (pattern off: each mesh's defaults)", "client errors (before)"} {
		if !strings.Contains(buf.String(), w) {
			t.Errorf("text lacks %q:\n%s", w, buf.String())
		}
	}
}
