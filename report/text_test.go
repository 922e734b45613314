package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"meshgym/engine"
	"meshgym/load"
	"meshgym/metrics"
	"meshgym/scenarios"
	"meshgym/verdict"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fixture is a run of the retry exercise with the book's published counts
// in the after phase (payments 34020, currency_v1 25559, currency_v2
// 8423/8677) and a before phase without retries.
func fixture(t *testing.T) *engine.Result {
	t.Helper()
	sc, err := scenarios.Builtin("retries")
	if err != nil {
		t.Fatal(err)
	}
	client := func(count, errs int64) *load.Result {
		return &load.Result{Client: load.ClientView{
			Count: count, Errors: errs, StatusCodes: map[int]int64{200: count - errs, 500: errs},
			MinS: 0.0021, MaxS: 0.0634, MeanS: 0.0061, P50S: 0.0052, P90S: 0.0088, P99S: 0.031, P999S: 0.05,
			ResolutionS: 0.0001, ActualRPS: 99.9, PlannedRPS: 100, Connections: 10,
			TotalBytes: count * 1000, SizePerRequest: 1000, DurationS: 200.02, LatencyFrom: load.LatencyFromActualStart,
		}}
	}
	snap := func(cl *load.Result, reqs ...metrics.RequestCount) *metrics.Snapshot {
		return &metrics.Snapshot{Requests: reqs, Retries: map[string]float64{}, Client: cl.Client}
	}
	bl, al := client(20000, 5010), client(34020, 0)
	before := snap(bl,
		metrics.RequestCount{Name: "api", StatusCode: 200, Attempt: 1, Count: 14990},
		metrics.RequestCount{Name: "api", StatusCode: 500, Attempt: 1, Count: 5010},
		metrics.RequestCount{Name: "payments", StatusCode: 200, Attempt: 1, Count: 14990},
		metrics.RequestCount{Name: "payments", StatusCode: 500, Attempt: 1, Count: 5010},
		metrics.RequestCount{Name: "currency_v1", StatusCode: 200, Attempt: 1, Count: 10000},
		metrics.RequestCount{Name: "currency_v2", StatusCode: 200, Attempt: 1, Count: 4990},
		metrics.RequestCount{Name: "currency_v2", StatusCode: 500, Attempt: 1, Count: 5010},
	)
	after := snap(al,
		metrics.RequestCount{Name: "api", StatusCode: 200, Attempt: 1, Count: 34020},
		metrics.RequestCount{Name: "payments", StatusCode: 200, Attempt: 1, Count: 34020},
		metrics.RequestCount{Name: "currency_v1", StatusCode: 200, Attempt: 1, Count: 17010},
		metrics.RequestCount{Name: "currency_v1", StatusCode: 200, Attempt: 2, Count: 8549},
		metrics.RequestCount{Name: "currency_v2", StatusCode: 200, Attempt: 1, Count: 8423},
		metrics.RequestCount{Name: "currency_v2", StatusCode: 500, Attempt: 1, Count: 8677},
	)
	after.Retries["currency"] = 8677
	return &engine.Result{
		Scenario: sc, Source: sc.Source, Platform: "local", Seed: 42, RunDir: ".meshgym/runs/fixture",
		Mesh: "builtin", Profile: "book",
		EntryURL: "http://127.0.0.1:8200/",
		Before:   &engine.PhaseResult{Name: engine.PhaseBefore, Pattern: "off", Load: bl, Snapshot: before},
		After:    &engine.PhaseResult{Name: engine.PhaseAfter, Pattern: "retries", Load: al, Snapshot: after},
		Verdicts: verdict.EvaluateAll(sc.Conditions, before, after),
	}
}

// stoppedFixture is the retry run interrupted in the after phase: the
// before phase was measured, the after phase never completed, no verdicts.
func stoppedFixture(t *testing.T) *engine.Result {
	res := fixture(t)
	res.After, res.Verdicts, res.Passed = nil, nil, false
	res.Error = "interrupted (signal: interrupt); everything meshgym started was stopped"
	return res
}

func TestTextGolden(t *testing.T) {
	for _, tc := range []struct {
		golden string
		res    func(t *testing.T) *engine.Result
	}{
		{"retries.golden", fixture},
		{"retries-istio.golden", func(t *testing.T) *engine.Result {
			res := fixture(t)
			res.Profile = "istio@1.27"
			res.MeshNotes = []string{
				"istio@1.26 runs the semantics of istio@1.27, the newest release reproduced that is not newer",
				"Istio retries 503 only on connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
			}
			return res
		}},
		{"stopped.golden", stoppedFixture},
		{"stopped-before-any-phase.golden", func(t *testing.T) *engine.Result {
			res := stoppedFixture(t)
			res.Before = nil
			res.Error = "deploy: currency_v2 exited: exit status 3"
			return res
		}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			var buf bytes.Buffer
			Text(&buf, tc.res(t), TextOptions{})
			golden := filepath.Join("testdata", tc.golden)
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./report -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("text report differs from %s (go test ./report -update after checking):\n%s", golden, buf.String())
			}
		})
	}
}

// TestTextMeshAndRepeat: the header names the mesh and profile; the repeat
// hint carries --mesh for any profile but the default book one.
func TestTextMeshAndRepeat(t *testing.T) {
	for _, tc := range []struct {
		mesh, profile string
		header, hint  string
	}{
		{"builtin", "book", "· mesh builtin, profile book ·", "(repeat with --seed 42 -d 3m20s)"},
		{"builtin", "", "· mesh builtin ·", "(repeat with --seed 42 -d 3m20s)"},
		{"builtin", "envoy@1.26", "· mesh builtin, profile envoy@1.26 ·", "(repeat with --seed 42 --mesh envoy@1.26 -d 3m20s)"},
		{"linkerd-lab", "", "· mesh linkerd-lab ·", "(repeat with --seed 42 --mesh linkerd-lab -d 3m20s)"},
		{"", "", "(builtin:retries) · platform local", "(repeat with --seed 42 -d 3m20s)"},
		{"docker", "", "(builtin:retries) · platform docker", "(repeat with --seed 42 -d 3m20s --platform docker)"},
	} {
		res := fixture(t)
		res.Mesh, res.Profile = tc.mesh, tc.profile
		if tc.mesh == "docker" {
			res.Mesh, res.Platform = "", "docker"
		}
		var buf bytes.Buffer
		Text(&buf, res, TextOptions{})
		out := buf.String()
		if !strings.Contains(out, tc.header) || !strings.Contains(out, tc.hint) {
			t.Errorf("mesh %q profile %q: want %q and %q in\n%s", tc.mesh, tc.profile, tc.header, tc.hint, out[:300])
		}
		if strings.Contains(out, "Mesh notes") {
			t.Errorf("a run without notes prints a Mesh notes block")
		}
	}
}

// TestTextStoppedRun: a run that stopped early says so and why at the top,
// shows only the phase it measured, and calls its conditions not evaluated.
func TestTextStoppedRun(t *testing.T) {
	var buf bytes.Buffer
	Text(&buf, stoppedFixture(t), TextOptions{})
	out := buf.String()
	head := strings.SplitN(out, "\n\n", 3)
	if !strings.Contains(head[0], "STOPPED EARLY: interrupted (signal: interrupt)") ||
		!strings.Contains(head[0], "measured: the before phase only") {
		t.Errorf("the header does not say the run stopped and why:\n%s", out)
	}
	for _, bad := range []string{"no success conditions", "histogram resolution 0µs", "After (retries)", "AFTER", "PASS", "—"} {
		if strings.Contains(out, bad) {
			t.Errorf("report contains %q:\n%s", bad, out)
		}
	}
	for _, want := range []string{"Before (pattern off)", "Results: not evaluated: the run stopped early (the scenario has 6 success conditions)",
		"request_count[name=payments, status_code=200] = 100%", "20000 (200: 14990, 500: 5010)"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}

	res := stoppedFixture(t)
	res.Before = nil
	buf.Reset()
	Text(&buf, res, TextOptions{})
	out = buf.String()
	for _, bad := range []string{"Summary:", "Traffic", "histogram resolution", "no success conditions"} {
		if strings.Contains(out, bad) {
			t.Errorf("a run that measured nothing prints %q:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, "measured: nothing") {
		t.Errorf("report lacks 'measured: nothing':\n%s", out)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	if err := JSON(&buf, fixture(t)); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Seed     int64 `json:"seed"`
		Verdicts []struct {
			Status string `json:"status"`
			After  struct {
				Value float64 `json:"value"`
			} `json:"after"`
		} `json:"verdicts"`
	}
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Seed != 42 || len(back.Verdicts) != 6 {
		t.Fatalf("seed %d, %d verdicts", back.Seed, len(back.Verdicts))
	}
	// currency_v2 500 share: 8677 / (8423+8677) = 50.74%.
	if v := back.Verdicts[5].After.Value; v < 50.73 || v > 50.75 {
		t.Errorf("currency_v2 500 share = %v, want 50.74", v)
	}
}

// Exact percentiles are said to be exact, not given a histogram resolution.
func TestTextSaysPercentilesAreExact(t *testing.T) {
	res := fixture(t)
	res.Before.Load.Client.Exact, res.After.Load.Client.Exact = true, true
	var buf bytes.Buffer
	Text(&buf, res, TextOptions{})
	if out := buf.String(); !strings.Contains(out, "percentiles exact over every request") || strings.Contains(out, "histogram resolution") {
		t.Errorf("report does not say the percentiles are exact:\n%s", out)
	}
}
