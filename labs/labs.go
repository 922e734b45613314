// Package labs holds meshgym's guided labs: one per pattern, each a folder
// of Markdown steps and a small YAML file (lab.yaml) embedded in the binary,
// and the pure logic of a learner going through one (Session): prerequisites,
// predictions checked against the run's measured numbers, checks, hints,
// solutions, reset, and progress saved per user. The TUI (package tui) and
// the docs generator render labs; neither decides anything about them.
//
// A lab runs a built-in scenario (package scenarios) with the lab's setup
// and the learner's knob values applied through scenarios.Scenario.Set, on
// the engine's public API. Nothing here does terminal I/O.
package labs

import (
	"meshgym/scenarios"
)

// StepKind is what a step asks of the learner.
type StepKind string

// Step kinds, in the order a lab usually uses them.
const (
	// KindRead shows the problem and the idea in plain words.
	KindRead StepKind = "read"
	// KindPredict asks a question with choices about the next run; the
	// answer is judged against that run's measured numbers (Choice ranges).
	KindPredict StepKind = "predict"
	// KindRun lets the learner change knobs (error rate, retries,
	// threshold, weight) and run the scenario; Checks judge the run.
	KindRun StepKind = "run"
	// KindObserve shows the before/after view of the last run.
	KindObserve StepKind = "observe"
	// KindExplain says why the numbers came out as they did, with the mesh
	// semantics behind them; its Markdown may quote measured values.
	KindExplain StepKind = "explain"
)

// Lab is one guided lab, as embedded (labs/content/NAME/lab.yaml + steps).
type Lab struct {
	// Name is the folder name and what `meshgym lab NAME` takes: "retries".
	Name string `json:"name"`
	// Title is shown in the browser: "Retries".
	Title string `json:"title"`
	// Pattern is the scenarios pattern kind the lab teaches ("retries").
	Pattern string `json:"pattern"`
	// Summary is one line for the browser and `meshgym lab` listings.
	Summary string `json:"summary"`
	// Order places the lab in the workshop sequence (1 first).
	Order int `json:"order"`
	// Minutes is the expected time for a newcomer, for the workshop guide.
	Minutes int `json:"minutes"`
	// Scenario is the built-in scenario the lab runs ("retries").
	Scenario string `json:"scenario"`
	// Setup are scenarios.Set assignments applied on entering the lab, on
	// top of the scenario (e.g. "load.duration=8s"); they keep lab runs
	// short and set the exercise's starting point.
	Setup []string `json:"setup,omitempty"`
	// Steps in order.
	Steps []Step `json:"steps"`
}

// Step is one step of a lab.
type Step struct {
	ID    string   `json:"id"`    // unique in its lab: "predict-failures"
	Kind  StepKind `json:"kind"`  // read, predict, run, observe, explain
	Title string   `json:"title"` // short, for the step list
	// Body is the step's Markdown (from its .md file). In explain steps,
	// {{measure "after" "request_count[name=currency_v2]"}}-style
	// placeholders are filled from the last run by Session.Body.
	Body string `json:"body"`
	// Requires lists step IDs that must be done first; empty means the
	// previous step.
	Requires []string `json:"requires,omitempty"`

	// Predict steps.
	Question string   `json:"question,omitempty"`
	Measure  *Measure `json:"measure,omitempty"`
	Choices  []Choice `json:"choices,omitempty"`

	// Run steps.
	Knobs  []Knob  `json:"knobs,omitempty"`
	Checks []Check `json:"checks,omitempty"`

	// Hint is shown on request; Solution (scenarios.Set assignments) is
	// applied for the learner when they ask for it, and the step is then
	// marked as solved by skipping.
	Hint     string   `json:"hint,omitempty"`
	Solution []string `json:"solution,omitempty"`
}

// Measure is one number read from a run: a metric with matchers in the
// condition language of scenario files (without operator or value), on the
// before or after phase. Example: {Phase: "before", Expr:
// "request_count[name=payments, status_code!=200]", Share: true} is the
// share of payments' requests that failed without the pattern.
type Measure struct {
	Phase string `json:"phase"` // "before" or "after"
	Expr  string `json:"expr"`  // e.g. "request_count[name=currency_v2]"
	// Share reads request_count as a percentage (as "%" does in conditions).
	Share bool `json:"share,omitempty"`
}

// Choice is one answer of a predict step. It is right when the measured
// value is in [Min, Max) (units of the measure: % for shares, s for
// latencies, × for amplification, MB, req/s, counts); the last choice
// also holds its Max (100% for a share). The loader requires a step's
// choices to be contiguous from 0, so exactly one is right.
type Choice struct {
	Text string  `json:"text"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
}

// Knob is a setting the learner may change in a run step: a scenarios.Set
// key and the values offered (the TUI cycles through them).
type Knob struct {
	Key     string   `json:"key"`     // "retry.attempts", "currency_v2.errorRate"
	Label   string   `json:"label"`   // "retries per request"
	Values  []string `json:"values"`  // offered values, as Set reads them: "0", "1", "3"
	Default string   `json:"default"` // one of Values; the value on entering
}

// Check is a success condition of a run step, in the condition language
// of scenario files ("request_count[name=payments, status_code!=200] < 1%"),
// judged on Phase ("after" by default).
type Check struct {
	Condition string `json:"condition"`
	Phase     string `json:"phase,omitempty"`
	// Pass and Fail are the feedback lines shown when it holds or not;
	// Fail says what to try next.
	Pass string `json:"pass,omitempty"`
	Fail string `json:"fail,omitempty"`
}

// compile-time use of scenarios, which Session builds on.
var _ = scenarios.KindRetries
