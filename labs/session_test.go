package labs

import (
	"slices"
	"strings"
	"testing"
	"time"

	"meshgym/engine"
	"meshgym/load"
	"meshgym/metrics"
	"meshgym/scenarios"
)

// testLab is a small lab on the retries scenario: read, predict (the
// before phase's failed share at payments), run (retry.attempts), observe,
// explain; the explain step requires the run step only.
func testLab(t *testing.T) *Lab {
	t.Helper()
	l := &Lab{
		Name: "t", Title: "T", Pattern: "retries", Summary: "s", Order: 1, Minutes: 5, Scenario: "retries",
		Setup: []string{"load.duration=8s"},
		Steps: []Step{
			{ID: "read", Kind: KindRead, Title: "Read", Body: "# Read\n"},
			{ID: "guess", Kind: KindPredict, Title: "Guess", Question: "How many fail?",
				Measure: &Measure{Phase: "before", Expr: "request_count[name=payments, status_code!=200]", Share: true},
				Choices: []Choice{{Text: "almost none", Min: 0, Max: 10}, {Text: "about a quarter", Min: 10, Max: 40}, {Text: "about half or more", Min: 40, Max: 100}}},
			{ID: "run", Kind: KindRun, Title: "Run",
				Knobs:  []Knob{{Key: "retry.attempts", Label: "retries", Values: []string{"0", "1", "3"}, Default: "0"}},
				Checks: []Check{{Condition: "request_count[name=payments, status_code!=200] < 1%", Pass: "ok {{value}}", Fail: "still {{value}} failed: raise retries"}},
				Hint:   "raise it", Solution: []string{"retry.attempts=3"}},
			{ID: "look", Kind: KindObserve, Title: "Look", Body: `failed before: {{share "before" "request_count[name=payments, status_code!=200]"}}; v2 after: {{measure "after" "request_count[name=currency_v2]"}}; attempts {{knob "retry.attempts"}}`},
			{ID: "why", Kind: KindExplain, Title: "Why", Requires: []string{"run"}},
		},
	}
	if err := Validate(l); err != nil {
		t.Fatalf("test lab invalid: %v", err)
	}
	return l
}

// result builds an engine.Result by hand: payments answered ok and bad
// requests (non-200 = 500) in each phase; currency_v2 got v2 requests.
func result(beforeOK, beforeBad, afterOK, afterBad, v2 float64, notes ...string) *engine.Result {
	snap := func(ok, bad float64) *metrics.Snapshot {
		return &metrics.Snapshot{
			Requests: []metrics.RequestCount{
				{Name: "payments", StatusCode: 200, Attempt: 1, Count: ok},
				{Name: "payments", StatusCode: 500, Attempt: 1, Count: bad},
				{Name: "currency_v2", StatusCode: 200, Attempt: 1, Count: v2},
			},
			Client: load.ClientView{Count: int64(ok + bad), StatusCodes: map[int]int64{200: int64(ok), 500: int64(bad)}},
		}
	}
	res := &engine.Result{ID: "run-1",
		Before: &engine.PhaseResult{Snapshot: snap(beforeOK, beforeBad)},
		After:  &engine.PhaseResult{Snapshot: snap(afterOK, afterBad)}}
	if len(notes) > 0 {
		res.Scenario = &scenarios.Scenario{Notes: notes}
	}
	return res
}

func TestSessionTransitions(t *testing.T) {
	l := testLab(t)
	s := NewSession(l, nil)
	if s.Index() != 0 || s.Step().ID != "read" {
		t.Fatalf("new session at %d %s, want 0 read", s.Index(), s.Step().ID)
	}
	wantStatus := func(want ...StepStatus) {
		t.Helper()
		for i, w := range want {
			if got := s.Status(i); got != w {
				t.Errorf("status of step %d (%s) = %s, want %s", i+1, l.Steps[i].ID, got, w)
			}
		}
	}
	wantStatus(StatusOpen, StatusLocked, StatusLocked, StatusLocked, StatusLocked)

	err := s.Goto(2)
	if err == nil || !strings.Contains(err.Error(), "step 3 “Run” is locked") || !strings.Contains(err.Error(), "step 2 “Guess”") {
		t.Errorf("Goto(2) = %v, want the lock naming step 2", err)
	}
	if err := s.Goto(9); err == nil || !strings.Contains(err.Error(), "1–5") {
		t.Errorf("Goto(9) = %v, want the range", err)
	}
	if err := s.Next(); err != nil {
		t.Fatal(err)
	}
	wantStatus(StatusDone, StatusOpen, StatusLocked)

	// predict: Next needs a choice; Choose checks the range and the kind.
	if err := s.Next(); err == nil || err.Error() != "choose an answer first (1–3)" {
		t.Errorf("Next without a choice = %v", err)
	}
	if err := s.Choose(3); err == nil || !strings.Contains(err.Error(), "choose 1–3") {
		t.Errorf("Choose(3) = %v", err)
	}
	if err := s.Choose(0); err != nil {
		t.Fatal(err)
	}
	if err := s.Choose(1); err != nil { // may change its mind before the run
		t.Fatal(err)
	}
	if s.Chosen("guess") != 1 || s.Chosen("read") != -1 {
		t.Errorf("Chosen = %d, %d; want 1, -1", s.Chosen("guess"), s.Chosen("read"))
	}
	if err := s.Next(); err != nil {
		t.Fatal(err)
	}
	if err := s.Choose(0); err == nil || !strings.Contains(err.Error(), "nothing to choose") {
		t.Errorf("Choose on a run step = %v", err)
	}

	// run: Next needs a passing run.
	if err := s.Next(); err == nil || !strings.Contains(err.Error(), "run the lab first") {
		t.Errorf("Next before a run = %v", err)
	}
	kv := s.Knobs()
	if len(kv) != 1 || kv[0].Value != "0" {
		t.Fatalf("knobs %+v, want retry.attempts at 0", kv)
	}
	sc, err := s.Scenario()
	if err != nil {
		t.Fatal(err)
	}
	if sc.Pattern.Retries[0].Attempts != 0 || time.Duration(sc.Load.Duration) != 8*time.Second {
		t.Errorf("scenario attempts %d duration %v, want 0 and 8s (setup + knob)", sc.Pattern.Retries[0].Attempts, sc.Load.Duration)
	}
	if len(sc.Conditions) != 1 || sc.Conditions[0].Text != "request_count[name=payments, status_code!=200] < 1%" {
		t.Errorf("scenario conditions %+v, want the run step's check", sc.Conditions)
	}

	fb := s.Record(result(600, 200, 610, 190, 400))
	if fb.Passed || len(fb.Checks) != 1 || fb.Checks[0].Passed {
		t.Fatalf("feedback %+v, want the check failed", fb)
	}
	if got := fb.Checks[0].Line; got != "✗ still 23.8% (190 of 800) failed: raise retries" {
		t.Errorf("check line %q", got)
	}
	if fb.Checks[0].Measured != "23.8% (190 of 800)" {
		t.Errorf("measured %q", fb.Checks[0].Measured)
	}
	if len(fb.Predictions) != 1 {
		t.Fatalf("predictions %+v, want 1", fb.Predictions)
	}
	pr := fb.Predictions[0]
	if pr.Chosen != 1 || pr.Right != 1 || !pr.Correct || pr.Measured != 25 || pr.Unit != "%" {
		t.Errorf("prediction %+v, want chosen 1 = right 1, 25%%", pr)
	}
	if pr.Line != "Right: you said about a quarter; the run measured 25% (200 of 800)." {
		t.Errorf("prediction line %q", pr.Line)
	}
	wantStatus(StatusDone, StatusDone, StatusFailed, StatusLocked, StatusLocked)
	if err := s.Next(); err == nil || !strings.Contains(err.Error(), "did not pass") {
		t.Errorf("Next after a failed run = %v", err)
	}
	if err := s.Goto(4); err == nil || !strings.Contains(err.Error(), "step 3 “Run”") {
		t.Errorf("Goto(explain) = %v, want locked by its requirement, the run step", err)
	}

	// A judged answer is final, and the next run does not judge it again.
	if err := s.Goto(1); err != nil {
		t.Fatal(err)
	}
	if err := s.Choose(0); err == nil || !strings.Contains(err.Error(), "already judged") {
		t.Errorf("Choose after judging = %v", err)
	}
	if err := s.Goto(2); err != nil {
		t.Fatal(err)
	}

	// CycleKnob wraps both ways.
	for _, c := range []struct {
		delta int
		want  string
	}{{-1, "3"}, {+1, "0"}, {+1, "1"}, {+1, "3"}, {+1, "0"}, {+1, "1"}} {
		s.CycleKnob(0, c.delta)
		if got := s.Knobs()[0].Value; got != c.want {
			t.Fatalf("after CycleKnob(0, %d): %s, want %s", c.delta, got, c.want)
		}
	}
	s.CycleKnob(5, 1) // out of range: nothing
	fb = s.Record(result(600, 200, 800, 0, 480, "--set retry.attempts=1"))
	if !fb.Passed || len(fb.Predictions) != 0 {
		t.Fatalf("feedback %+v, want passed and no prediction judged again", fb)
	}
	if fb.Checks[0].Line != "✓ ok 0% (0 of 800)" {
		t.Errorf("pass line %q", fb.Checks[0].Line)
	}
	wantStatus(StatusDone, StatusDone, StatusDone, StatusOpen, StatusOpen)
	if err := s.Next(); err != nil {
		t.Fatal(err)
	}
	if got := s.Body(3); got != "failed before: 25% (200 of 800); v2 after: 480; attempts 1" {
		t.Errorf("observe body %q", got)
	}
	if err := s.Next(); err != nil {
		t.Fatal(err)
	}
	if err := s.Next(); err != nil || !s.Progress().Completed || s.Index() != 4 {
		t.Errorf("Next on the last step: %v, completed %v at %d; want completed, staying at 5", err, s.Progress().Completed, s.Index())
	}
	if s.Progress().LastRun != "run-1" {
		t.Errorf("LastRun %q", s.Progress().LastRun)
	}

	// Reset: back to the start.
	s.Reset()
	if s.Index() != 0 || s.Chosen("guess") != -1 || s.Knobs() != nil || s.Last() != nil || s.Progress().Completed {
		t.Errorf("after Reset: at %d, chosen %d, last %v, completed %v", s.Index(), s.Chosen("guess"), s.Last(), s.Progress().Completed)
	}
	wantStatus(StatusOpen, StatusLocked)
	if got := s.Body(3); got != "failed before: —; v2 after: —; attempts —" {
		t.Errorf("body before a run %q", got)
	}
}

func TestSolveThenRecordMarksSkipped(t *testing.T) {
	l := testLab(t)
	s := NewSession(l, &LabProgress{Current: "run", Steps: map[string]StepStatus{"read": StatusDone, "guess": StatusDone}, Predictions: map[string]int{"guess": 0}})
	if s.Hint() != "raise it" {
		t.Errorf("hint %q", s.Hint())
	}
	got := s.Solve()
	if len(got) != 1 || got[0] != "retry.attempts=3" || s.Knobs()[0].Value != "3" || !s.Solving() {
		t.Fatalf("Solve = %v, knob %s, solving %v", got, s.Knobs()[0].Value, s.Solving())
	}
	if err := s.Next(); err == nil || !strings.Contains(err.Error(), "not run yet") {
		t.Errorf("Next after Solve before the run = %v", err)
	}
	fb := s.Record(result(600, 200, 800, 0, 400))
	if !fb.Passed {
		t.Fatalf("feedback %+v", fb)
	}
	if st := s.Status(2); st != StatusSkipped {
		t.Errorf("status %s, want skipped", st)
	}
	// The prediction (0: almost none) is judged wrong, naming the right one.
	if len(fb.Predictions) != 1 || fb.Predictions[0].Correct || fb.Predictions[0].Right != 1 ||
		fb.Predictions[0].Line != "You said almost none; the run measured 25% (200 of 800): about a quarter." {
		t.Errorf("predictions %+v", fb.Predictions)
	}
	if err := s.Next(); err != nil {
		t.Errorf("Next after a solved run: %v", err)
	}
	// A skipped step is a passed prerequisite.
	if s.Status(4) != StatusOpen {
		t.Errorf("explain %s, want open", s.Status(4))
	}

	// Changing a knob after Solve cancels the skip: the run counts as done.
	s2 := NewSession(l, &LabProgress{Current: "run", Steps: map[string]StepStatus{"read": StatusDone, "guess": StatusDone}})
	s2.Solve()
	s2.CycleKnob(0, -1)
	s2.Record(result(600, 200, 800, 0, 400))
	if st := s2.Status(2); st != StatusDone {
		t.Errorf("status after Solve + own change %s, want done", st)
	}
	// Solve on a step that is not a run step does nothing.
	s3 := NewSession(l, nil)
	if got := s3.Solve(); got != nil {
		t.Errorf("Solve on a read step = %v", got)
	}
}

func TestResumeFromProgress(t *testing.T) {
	l := testLab(t)
	cases := []struct {
		name string
		p    *LabProgress
		at   string
		knob string
	}{
		{"current kept", &LabProgress{Current: "look", Steps: map[string]StepStatus{"read": StatusDone, "guess": StatusDone, "run": StatusSkipped}, Knobs: map[string]string{"retry.attempts": "3"}}, "look", ""},
		{"unknown step: first not done", &LabProgress{Current: "gone", Steps: map[string]StepStatus{"read": StatusDone}}, "guess", ""},
		{"knob value no longer offered: default", &LabProgress{Current: "run", Steps: map[string]StepStatus{"read": StatusDone, "guess": StatusDone}, Knobs: map[string]string{"retry.attempts": "7"}}, "run", "0"},
		{"knob value kept", &LabProgress{Current: "run", Steps: map[string]StepStatus{"read": StatusDone, "guess": StatusDone}, Knobs: map[string]string{"retry.attempts": "1"}}, "run", "1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := NewSession(l, c.p)
			if s.Step().ID != c.at {
				t.Errorf("resumed at %s, want %s", s.Step().ID, c.at)
			}
			if c.knob != "" && s.Knobs()[0].Value != c.knob {
				t.Errorf("knob %s, want %s", s.Knobs()[0].Value, c.knob)
			}
		})
	}
	// The observe step of a resumed lab uses the knob values of the run
	// step before it, and SetLast restores numbers without judging.
	s := NewSession(l, cases[0].p)
	sc, err := s.Scenario()
	if err != nil {
		t.Fatal(err)
	}
	if sc.Pattern.Retries[0].Attempts != 3 {
		t.Errorf("attempts %d, want 3 from the progress", sc.Pattern.Retries[0].Attempts)
	}
	s.SetLast(result(600, 200, 800, 0, 480))
	if s.Last() == nil || s.Judged("guess") != nil || !strings.Contains(s.Body(3), "25% (200 of 800)") {
		t.Errorf("SetLast: body %q, judged %v", s.Body(3), s.Judged("guess"))
	}
}

func TestRecordIncompleteRun(t *testing.T) {
	l := testLab(t)
	s := NewSession(l, &LabProgress{Current: "run", Steps: map[string]StepStatus{"read": StatusDone, "guess": StatusDone}, Predictions: map[string]int{"guess": 1}})
	if fb := s.Record(nil); fb.Passed || len(fb.Checks) != 0 {
		t.Errorf("Record(nil) = %+v", fb)
	}
	res := result(600, 200, 0, 0, 0)
	res.After = nil
	res.Error = "interrupted"
	fb := s.Record(res)
	if fb.Passed || fb.Checks[0].Passed || !strings.Contains(fb.Checks[0].Line, "no after phase") {
		t.Errorf("feedback %+v, want the check failed naming the missing phase", fb)
	}
	// The before phase was measured, so the prediction is judged.
	if len(fb.Predictions) != 1 || !fb.Predictions[0].Correct {
		t.Errorf("predictions %+v", fb.Predictions)
	}
	if s.Status(2) != StatusFailed {
		t.Errorf("status %s, want failed", s.Status(2))
	}
}

func TestRightChoice(t *testing.T) {
	cs := []Choice{{Min: 0, Max: 5}, {Min: 5, Max: 35}, {Min: 35, Max: 100}}
	for _, c := range []struct {
		v    float64
		want int
	}{{0, 0}, {4.99, 0}, {5, 1}, {34.9, 1}, {35, 2}, {100, 2}, {100.1, -1}, {-1, -1}} {
		if got := rightChoice(cs, c.v); got != c.want {
			t.Errorf("rightChoice(%v) = %d, want %d", c.v, got, c.want)
		}
	}
}

func TestSettingsNameTheKnobsInForce(t *testing.T) {
	l, err := Get("retries")
	if err != nil {
		t.Fatal(err)
	}
	p := &LabProgress{Current: "run-cost", Knobs: map[string]string{"retry.attempts": "1"}}
	s := NewSession(l, p)
	if got, want := s.Settings(), []string{"retry.attempts=1", "currency_v2.errorRate=50"}; !slices.Equal(got, want) {
		t.Errorf("Settings %v, want %v", got, want)
	}
}
