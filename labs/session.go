package labs

// CONTRACT FILE: the signatures below are the API the TUI codes against.
// The bodies are being written by the labs work; none may stay a stub.

import (
	"time"

	"meshgym/engine"
	"meshgym/scenarios"
)

// StepStatus is where a step stands for the learner.
type StepStatus string

// Step statuses.
const (
	StatusLocked  StepStatus = "locked"  // a prerequisite is not done
	StatusOpen    StepStatus = "open"    // may be done now
	StatusDone    StepStatus = "done"    // completed (a run step: its checks passed)
	StatusSkipped StepStatus = "skipped" // the learner asked for the solution
	StatusFailed  StepStatus = "failed"  // a run step whose last run failed a check
)

// LabProgress is one learner's saved state in one lab.
type LabProgress struct {
	Current     string                `json:"current"`               // step ID
	Steps       map[string]StepStatus `json:"steps,omitempty"`       // step ID → done/skipped/failed
	Knobs       map[string]string     `json:"knobs,omitempty"`       // knob key → chosen value
	Predictions map[string]int        `json:"predictions,omitempty"` // predict step ID → chosen index
	// LastRun is the results-store ID of the lab's last run ("" if none);
	// a resumed lab reloads it so observe/explain steps still show numbers.
	LastRun   string    `json:"last_run,omitempty"`
	Completed bool      `json:"completed,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Progress is one learner's state across labs (lab name → progress).
type Progress struct {
	Labs map[string]*LabProgress `json:"labs"`
}

// Store keeps Progress in one JSON file per user:
// <user config dir>/meshgym/labs/progress.json, or $MESHGYM_LABS_PROGRESS.
type Store struct {
	Path string
}

// DefaultStore returns the per-user store; an error says why no config
// directory could be found.
func DefaultStore() (*Store, error) { panic("labs: DefaultStore not implemented yet") }

// Load reads the progress; a missing file is empty progress. A file that
// cannot be read as progress is an error naming it (and is never
// overwritten by Save: it is moved aside to progress.json.bad first).
func (s *Store) Load() (*Progress, error) { panic("labs: Load not implemented yet") }

// Save writes the progress atomically (temp file + rename).
func (s *Store) Save(p *Progress) error { panic("labs: Save not implemented yet") }

// All returns the embedded labs in workshop order (Order, then Name).
func All() []*Lab { panic("labs: All not implemented yet") }

// Get returns the lab called name; the error lists the lab names.
func Get(name string) (*Lab, error) { panic("labs: Get not implemented yet") }

// Session is one learner going through one lab. It is pure state: no I/O
// (the caller runs the engine and saves progress).
type Session struct {
	Lab *Lab
}

// NewSession resumes the lab at p (nil = from the start). p is updated in
// place as the learner goes on; save it with a Store.
func NewSession(l *Lab, p *LabProgress) *Session { panic("labs: NewSession not implemented yet") }

// Index is the current step's index in Lab.Steps.
func (s *Session) Index() int { panic("labs: not implemented yet") }

// Step is the current step.
func (s *Session) Step() *Step { panic("labs: not implemented yet") }

// Status tells where step i stands.
func (s *Session) Status(i int) StepStatus { panic("labs: not implemented yet") }

// Goto moves to step i; the error (for the learner, one line) names the
// prerequisite not done yet.
func (s *Session) Goto(i int) error { panic("labs: not implemented yet") }

// Next completes the current step when it can be completed (read, observe
// and explain: always; predict: once a choice is made; run: once a run
// passed its checks or the solution was applied) and moves to the next
// one. The error says what is missing ("choose an answer first (1–3)").
func (s *Session) Next() error { panic("labs: not implemented yet") }

// Choose records the answer of the current predict step (0-based index).
func (s *Session) Choose(choice int) error { panic("labs: not implemented yet") }

// Chosen is the answer recorded for predict step id, or -1.
func (s *Session) Chosen(id string) int { panic("labs: not implemented yet") }

// KnobValue is a knob of the current run step with its chosen value.
type KnobValue struct {
	Knob  Knob
	Value string
}

// Knobs lists the current run step's knobs and their values.
func (s *Session) Knobs() []KnobValue { panic("labs: not implemented yet") }

// CycleKnob moves knob i of the current step to the next (delta +1) or
// previous (-1) offered value.
func (s *Session) CycleKnob(i, delta int) { panic("labs: not implemented yet") }

// Scenario builds the scenario to run now: the lab's built-in scenario,
// its Setup, then the knob values chosen so far. Errors are the learner's
// to read (they say the probable cause and what to do).
func (s *Session) Scenario() (*scenarios.Scenario, error) { panic("labs: not implemented yet") }

// Record judges a finished run: every predict step answered since the last
// run against the measured numbers, and the current run step's checks.
// It marks steps done or failed and remembers res for observe/explain.
func (s *Session) Record(res *engine.Result) Feedback { panic("labs: not implemented yet") }

// Last is the last recorded run (nil before the first).
func (s *Session) Last() *engine.Result { panic("labs: not implemented yet") }

// SetLast restores the last run of a resumed lab without judging it.
func (s *Session) SetLast(res *engine.Result) { panic("labs: not implemented yet") }

// Hint is the current step's hint ("" when it has none).
func (s *Session) Hint() string { panic("labs: not implemented yet") }

// Solve applies the current run step's solution to the knobs and marks
// the step skipped once its run is recorded; it returns the assignments.
func (s *Session) Solve() []string { panic("labs: not implemented yet") }

// Reset puts the lab back to its start (knobs, answers, statuses).
func (s *Session) Reset() { panic("labs: not implemented yet") }

// Body is step i's Markdown with placeholders filled from the last run
// ("—" before there is one).
func (s *Session) Body(i int) string { panic("labs: not implemented yet") }

// Feedback is what Record found.
type Feedback struct {
	Checks      []CheckResult      `json:"checks,omitempty"`
	Predictions []PredictionResult `json:"predictions,omitempty"`
	// Passed is true when every check of the run step held.
	Passed bool `json:"passed"`
}

// CheckResult is one check judged on the run.
type CheckResult struct {
	Check    Check  `json:"check"`
	Passed   bool   `json:"passed"`
	Measured string `json:"measured"` // "0.0% (0 of 812)"
	Line     string `json:"line"`     // the Pass or Fail feedback with the number
}

// PredictionResult is one prediction judged on the run.
type PredictionResult struct {
	StepID   string  `json:"step_id"`
	Chosen   int     `json:"chosen"`
	Right    int     `json:"right"` // the choice whose range holds the measured value (-1: none)
	Measured float64 `json:"measured"`
	Unit     string  `json:"unit"`
	Correct  bool    `json:"correct"`
	Line     string  `json:"line"` // "You said about half; the run measured 24.6% (201 of 817): about a quarter."
}
