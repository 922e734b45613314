package smp

import (
	"testing"
	"time"

	"meshgym/engine"
	"meshgym/load"
	"meshgym/metrics"
	"meshgym/verdict"
)

func TestFromResult(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 14, 5, 38, 0, time.UTC)
	phase := func(name, pattern string, errs int64, cpu0 float64) *engine.PhaseResult {
		cv := load.ClientView{Count: 2000, Errors: errs, StatusCodes: map[int]int64{200: 2000 - errs, 500: errs},
			MinS: 0.0011, MaxS: 0.0634, MeanS: 0.0061, P50S: 0.0052, P90S: 0.0088, P99S: 0.031, P999S: 0.05,
			ActualRPS: 99.9, PlannedRPS: 100, Connections: 10, DurationS: 20.02}
		res := map[string]*metrics.ResourceSeries{
			"payments": {Samples: []metrics.ResourceSample{{T: t0, CPUSeconds: cpu0, RSSMB: 11}, {T: t0.Add(time.Second), CPUSeconds: cpu0 + 0.25, RSSMB: 12.5}, {T: t0.Add(2 * time.Second), CPUSeconds: cpu0 + 0.75, RSSMB: 12}}},
			"api":      {Samples: []metrics.ResourceSample{{T: t0, CPUSeconds: 5, RSSMB: 9}, {T: t0.Add(time.Second), CPUSeconds: 0.1, RSSMB: 8}}}, // restarted
		}
		return &engine.PhaseResult{Name: name, Pattern: pattern, Started: t0, Ended: t0.Add(20 * time.Second),
			Load: &load.Result{Client: cv}, Snapshot: &metrics.Snapshot{Client: cv, Resources: res}}
	}
	r := &engine.Result{ID: "20261129-140538-retries", Source: "builtin:retries", Platform: "local", Mesh: "builtin", Profile: "istio@1.27",
		Seed: 42, EntryURL: "http://127.0.0.1:8200/", Passed: false,
		Before: phase(engine.PhaseBefore, "off", 500, 1), After: phase(engine.PhaseAfter, "retries", 0, 3),
		Verdicts: []verdict.Verdict{{Status: verdict.Pass}, {Status: verdict.Fail}, {Status: verdict.Warn}, {Status: verdict.Pass}}}
	doc := FromResult(r)
	if len(doc.Results) != 2 || doc.Source != "builtin:retries" || doc.SMPVersion != SpecVersion {
		t.Fatalf("doc = %+v", doc)
	}
	b, a := doc.Results[0], doc.Results[1]
	if b.ID != "20261129-140538-retries/before" || a.ID != "20261129-140538-retries/after" || b.Labels["phase"] != "before" ||
		a.Labels["pattern"] != "retries" || a.Labels["seed"] != "42" {
		t.Errorf("ids/labels: %q %v / %q %v", b.ID, b.Labels, a.ID, a.Labels)
	}
	want := Latencies{Min: 1.1, Average: 6.1, P50: 5.2, P90: 8.8, P99: 31, Max: 63.4}
	if b.LatenciesMs != want || b.Meshgym.P999Ms != 50 {
		t.Errorf("latencies = %+v, p999 %g", b.LatenciesMs, b.Meshgym.P999Ms)
	}
	if b.Meshgym.StatusCodes["500"] != 500 || b.Meshgym.StatusCodes["200"] != 1500 || a.Meshgym.StatusCodes["500"] != 0 || b.Meshgym.Errors != 500 {
		t.Errorf("status codes: before %v after %v", b.Meshgym.StatusCodes, a.Meshgym.StatusCodes)
	}
	if b.ActualQPS != 99.9 || b.RequestedQPS != 100 || b.Connections != 10 || b.Duration != "20.02s" || b.EndpointURL != r.EntryURL ||
		b.Mesh == nil || *b.Mesh != (Component{Name: "builtin", Version: "istio@1.27"}) || !b.StartTime.Equal(t0) {
		t.Errorf("before = %+v", b)
	}
	comps := a.Meshgym.Components
	if len(comps) != 2 || comps[0].Name != "api" || comps[0].CPUSeconds != 0.1 || comps[0].MemoryMBMax != 9 ||
		comps[1].Name != "payments" || comps[1].CPUSeconds != 0.75 || comps[1].MemoryMBMax != 12.5 || comps[1].Samples != 3 {
		t.Errorf("components = %+v", comps)
	}
	if b.Meshgym.Verdicts != nil || a.Meshgym.Verdicts == nil || *a.Meshgym.Verdicts != (VerdictCounts{Passed: false, Pass: 2, Fail: 1, Warn: 1}) {
		t.Errorf("verdicts: before %v after %+v", b.Meshgym.Verdicts, a.Meshgym.Verdicts)
	}
	// A run that stopped before measuring has no results (but a valid document).
	if d := FromResult(&engine.Result{Source: "x", Error: "deploy failed"}); d.Results == nil || len(d.Results) != 0 {
		t.Errorf("empty run: %+v", d)
	}
}
