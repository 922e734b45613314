package labs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"meshgym/engine"
	"meshgym/internal/fsutil"
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
	// Judged are the predictions a run has judged, by predict step ID; an
	// answered predict step without an entry waits for the next run.
	Judged map[string]*PredictionResult `json:"judged,omitempty"`
}

// Progress is one learner's state across labs (lab name → progress).
type Progress struct {
	Labs map[string]*LabProgress `json:"labs"`
}

// Store keeps Progress in one JSON file per user:
// <user config dir>/meshgym/labs/progress.json, or $MESHGYM_LABS_PROGRESS.
// Use one Store for both Load and Save: it remembers a file Load could not
// read, and Save then refuses to replace it.
type Store struct {
	Path string

	// unreadable is why Load could not read Path (any error but
	// not-exist); while set, Save refuses to touch the file.
	unreadable error
}

// progressEnv overrides the progress file's path.
const progressEnv = "MESHGYM_LABS_PROGRESS"

// DefaultStore returns the per-user store; an error says why no config
// directory could be found.
func DefaultStore() (*Store, error) {
	if p := os.Getenv(progressEnv); p != "" {
		return &Store{Path: p}, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return nil, fmt.Errorf("no place to save lab progress: %v; set %s to a file path (e.g. %s=$HOME/.meshgym-progress.json)", err, progressEnv, progressEnv)
	}
	return &Store{Path: filepath.Join(dir, "meshgym", "labs", "progress.json")}, nil
}

// Load reads the progress; a missing file is empty progress. Decoding is
// strict: the file must be one JSON object with a "labs" key and no field
// Progress does not know (at any depth). A file that is not progress
// (corrupt, or valid JSON of another shape such as a package.json) is
// moved aside to the first free name of progress.json.bad,
// progress.json.bad.1, … and Load returns an error naming both; it is
// never overwritten in place. A file that cannot be read (permission
// denied, a directory, …) is left alone, Load returns an error naming it,
// and every later Save on this Store returns an error instead of
// replacing it. After any error the caller may go on with the empty
// progress returned beside it.
func (s *Store) Load() (*Progress, error) {
	empty := &Progress{Labs: map[string]*LabProgress{}}
	s.unreadable = nil
	data, err := readFile(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return empty, nil
	}
	if err != nil {
		s.unreadable = err
		return empty, fmt.Errorf("read lab progress %s: %v; it will not be saved over: check the file's permissions, or set %s to another file", s.Path, err, progressEnv)
	}
	p, perr := decodeProgress(data)
	if perr == nil {
		return p, nil
	}
	bad, err := fsutil.MoveAside(s.Path)
	if err != nil {
		// Not moved: Save must not replace it either.
		s.unreadable = fmt.Errorf("not valid progress (%v) and could not be moved aside (%v)", perr, err)
		return empty, fmt.Errorf("lab progress %s is not valid progress (%v) and could not be moved aside (%v); move or delete it by hand", s.Path, perr, err)
	}
	return empty, fmt.Errorf("lab progress %s is not valid progress (%v); it was moved to %s and progress starts empty", s.Path, perr, bad)
}

// decodeProgress decodes data strictly: one JSON object, a "labs" key,
// no unknown fields, nothing after it.
func decodeProgress(data []byte) (*Progress, error) {
	var p Progress
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the progress object")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, err
	}
	if _, ok := top["labs"]; !ok {
		return nil, errors.New(`no "labs" object at the top level`)
	}
	if p.Labs == nil {
		p.Labs = map[string]*LabProgress{}
	}
	return &p, nil
}

// readFile is os.ReadFile; tests replace it to fake errors root cannot
// get (permission denied).
var readFile = os.ReadFile

// Save writes the progress atomically (temp file + rename), keeping an
// existing file's permission bits (a new file is 0600). An existing file
// that is not valid progress is moved aside (as Load does) first, so
// nothing is lost. Save returns an error without touching the file if
// Load on this Store could not read it, or if it exists but cannot be
// read now.
func (s *Store) Save(p *Progress) error {
	if s.unreadable != nil {
		return fmt.Errorf("cannot save progress: %s could not be read (%v); fix its permissions or set %s to another file", s.Path, s.unreadable, progressEnv)
	}
	if p == nil {
		p = &Progress{}
	}
	if p.Labs == nil {
		p.Labs = map[string]*LabProgress{}
	}
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("encode lab progress: %w", err)
	}
	dir := filepath.Dir(s.Path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save lab progress: %v; check that %s can be created, or set %s to another file", err, dir, progressEnv)
	}
	mode := fs.FileMode(0o600)
	old, err := readFile(s.Path)
	switch {
	case err == nil:
		if _, derr := decodeProgress(old); derr != nil {
			if _, err := fsutil.MoveAside(s.Path); err != nil {
				return fmt.Errorf("save lab progress: %s is not valid progress and could not be moved aside (%v); move it by hand", s.Path, err)
			}
		} else if fi, err := os.Stat(s.Path); err == nil {
			mode = fi.Mode().Perm()
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("cannot save progress: %s could not be read (%v); fix its permissions or set %s to another file", s.Path, err, progressEnv)
	}
	if err := fsutil.WriteAtomic(s.Path, ".progress-*.json", append(data, '\n'), mode); err != nil {
		return fmt.Errorf("save lab progress %s (in %s): %v; check the directory's permissions and free space", s.Path, dir, err)
	}
	return nil
}

// All returns the embedded labs in workshop order (Order, then Name).
// The labs are shared: do not modify them. A lab that failed to load is
// left out (Problems says why).
func All() []*Lab {
	labs, _ := embedded()
	return slices.Clone(labs)
}

// Get returns the lab called name; the error lists the lab names.
func Get(name string) (*Lab, error) {
	labs, _ := embedded()
	var names []string
	for _, l := range labs {
		if l.Name == name {
			return l, nil
		}
		names = append(names, l.Name)
	}
	return nil, fmt.Errorf("no lab %q; the labs are: %s (see `meshgym lab`)", name, strings.Join(names, ", "))
}

// Session is one learner going through one lab. It is pure state: no I/O
// (the caller runs the engine and saves progress).
type Session struct {
	Lab *Lab
	// Clock stamps LabProgress.UpdatedAt; nil is time.Now.
	Clock func() time.Time

	p    *LabProgress
	last *engine.Result
	// solving holds run steps whose solution was applied: the next
	// recorded run that passes marks them skipped instead of done.
	solving map[string]bool
}

// NewSession resumes the lab at p (nil = from the start). p is updated in
// place as the learner goes on; save it with a Store. A p whose current
// step no longer exists (the lab changed) resumes at the first step that
// is not done.
func NewSession(l *Lab, p *LabProgress) *Session {
	if p == nil {
		p = &LabProgress{}
	}
	s := &Session{Lab: l, p: p, solving: map[string]bool{}}
	if s.indexOf(p.Current) < 0 {
		p.Current = ""
		for _, st := range l.Steps {
			if !s.passed(st.ID) {
				p.Current = st.ID
				break
			}
		}
		if p.Current == "" && len(l.Steps) > 0 {
			p.Current = l.Steps[len(l.Steps)-1].ID
		}
	}
	return s
}

// Progress is the state the session updates (the p given to NewSession).
func (s *Session) Progress() *LabProgress { return s.p }

func (s *Session) indexOf(id string) int {
	for i, st := range s.Lab.Steps {
		if st.ID == id {
			return i
		}
	}
	return -1
}

func (s *Session) touch() {
	now := time.Now
	if s.Clock != nil {
		now = s.Clock
	}
	s.p.UpdatedAt = now()
}

func (s *Session) setStatus(id string, st StepStatus) {
	if s.p.Steps == nil {
		s.p.Steps = map[string]StepStatus{}
	}
	s.p.Steps[id] = st
}

// passed: the step is done or skipped.
func (s *Session) passed(id string) bool {
	st := s.p.Steps[id]
	return st == StatusDone || st == StatusSkipped
}

// missing is the first prerequisite of step i not done yet (-1: none).
func (s *Session) missing(i int) int {
	st := s.Lab.Steps[i]
	if len(st.Requires) == 0 {
		if i > 0 && !s.passed(s.Lab.Steps[i-1].ID) {
			return i - 1
		}
		return -1
	}
	for _, r := range st.Requires {
		if j := s.indexOf(r); j >= 0 && !s.passed(r) {
			return j
		}
	}
	return -1
}

// Index is the current step's index in Lab.Steps.
func (s *Session) Index() int { return max(0, s.indexOf(s.p.Current)) }

// Step is the current step.
func (s *Session) Step() *Step { return &s.Lab.Steps[s.Index()] }

// Status tells where step i stands.
func (s *Session) Status(i int) StepStatus {
	if i < 0 || i >= len(s.Lab.Steps) {
		return StatusLocked
	}
	if st, ok := s.p.Steps[s.Lab.Steps[i].ID]; ok && st != "" && st != StatusOpen && st != StatusLocked {
		return st
	}
	if s.missing(i) >= 0 {
		return StatusLocked
	}
	return StatusOpen
}

func (s *Session) stepName(i int) string {
	return fmt.Sprintf("step %d “%s”", i+1, s.Lab.Steps[i].Title)
}

// Goto moves to step i; the error (for the learner, one line) names the
// prerequisite not done yet.
func (s *Session) Goto(i int) error {
	if i < 0 || i >= len(s.Lab.Steps) {
		return fmt.Errorf("there is no step %d: this lab has steps 1–%d", i+1, len(s.Lab.Steps))
	}
	if j := s.missing(i); j >= 0 {
		return fmt.Errorf("%s is locked: finish %s first", s.stepName(i), s.stepName(j))
	}
	s.p.Current = s.Lab.Steps[i].ID
	s.touch()
	return nil
}

// Next completes the current step when it can be completed (read, observe
// and explain: always; predict: once a choice is made; run: once a run
// passed its checks or the solution was applied and run) and moves to the
// next one. At the last step it marks the lab completed and stays. The
// error says what is missing ("choose an answer first (1–3)").
func (s *Session) Next() error {
	i := s.Index()
	st := &s.Lab.Steps[i]
	switch st.Kind {
	case KindPredict:
		if s.Chosen(st.ID) < 0 {
			return fmt.Errorf("choose an answer first (1–%d)", len(st.Choices))
		}
		s.setStatus(st.ID, StatusDone)
	case KindRun:
		if !s.passed(st.ID) {
			switch {
			case s.solving[st.ID]:
				return errors.New("the solution is set but not run yet: run the lab to see its numbers, then go on")
			case s.p.Steps[st.ID] == StatusFailed:
				return errors.New("the last run did not pass this step's checks: change a knob and run again (h for a hint, s for the solution)")
			default:
				return errors.New("run the lab first: this step is done when a run passes its checks")
			}
		}
	default:
		s.setStatus(st.ID, StatusDone)
	}
	s.touch()
	if i == len(s.Lab.Steps)-1 {
		s.p.Completed = true
		return nil
	}
	s.p.Current = s.Lab.Steps[i+1].ID
	return nil
}

// Choose records the answer of the current predict step (0-based index).
// An answer a run has judged can no longer change (Reset starts over).
func (s *Session) Choose(choice int) error {
	st := s.Step()
	if st.Kind != KindPredict {
		return fmt.Errorf("this step (%s) asks no question: there is nothing to choose", st.Kind)
	}
	if choice < 0 || choice >= len(st.Choices) {
		return fmt.Errorf("there is no answer %d: choose 1–%d", choice+1, len(st.Choices))
	}
	if j := s.p.Judged[st.ID]; j != nil {
		return fmt.Errorf("a run already judged this answer (%s); press r to reset the lab and answer again", j.Line)
	}
	if s.p.Predictions == nil {
		s.p.Predictions = map[string]int{}
	}
	s.p.Predictions[st.ID] = choice
	s.touch()
	return nil
}

// Chosen is the answer recorded for predict step id, or -1.
func (s *Session) Chosen(id string) int {
	if c, ok := s.p.Predictions[id]; ok {
		return c
	}
	return -1
}

// Judged is the judgement of predict step id by a run (nil before).
func (s *Session) Judged(id string) *PredictionResult { return s.p.Judged[id] }

// KnobValue is a knob of the current run step with its chosen value.
type KnobValue struct {
	Knob  Knob
	Value string
}

func (s *Session) knobValue(k Knob) string {
	if v, ok := s.p.Knobs[k.Key]; ok && slices.Contains(k.Values, v) {
		return v
	}
	return k.Default
}

// Knobs lists the current run step's knobs and their values (nil on
// other steps).
func (s *Session) Knobs() []KnobValue {
	var out []KnobValue
	for _, k := range s.Step().Knobs {
		out = append(out, KnobValue{Knob: k, Value: s.knobValue(k)})
	}
	return out
}

// CycleKnob moves knob i of the current step to the next (delta +1) or
// previous (-1) offered value, wrapping around. A knob out of range does
// nothing. Changing a knob after Solve cancels the pending skip.
func (s *Session) CycleKnob(i, delta int) {
	st := s.Step()
	if i < 0 || i >= len(st.Knobs) || len(st.Knobs[i].Values) == 0 {
		return
	}
	k := st.Knobs[i]
	n := len(k.Values)
	j := slices.Index(k.Values, s.knobValue(k))
	j = ((j+delta)%n + n) % n
	if s.p.Knobs == nil {
		s.p.Knobs = map[string]string{}
	}
	s.p.Knobs[k.Key] = k.Values[j]
	delete(s.solving, st.ID)
	s.touch()
}

// runStep is the run step whose knobs and checks are in force: the
// current step if it is a run step, else the last run step before it,
// else the first one after it (-1: the lab has none).
func (s *Session) runStep() int {
	i := s.Index()
	for j := i; j >= 0; j-- {
		if s.Lab.Steps[j].Kind == KindRun {
			return j
		}
	}
	for j := i + 1; j < len(s.Lab.Steps); j++ {
		if s.Lab.Steps[j].Kind == KindRun {
			return j
		}
	}
	return -1
}

// Scenario builds the scenario to run now: the lab's built-in scenario,
// its Setup, then the knob values of every run step up to the one in
// force (the current run step, or the last one before the current step),
// chosen or default. Its conditions are replaced by that run step's
// checks, so the before/after view judges what the lab judges. Errors are
// the learner's to read (they say the probable cause and what to do).
func (s *Session) Scenario() (*scenarios.Scenario, error) {
	sc, err := scenarios.Builtin(s.Lab.Scenario)
	if err != nil {
		return nil, fmt.Errorf("lab %s: its scenario %q does not load (%v): this meshgym build is broken; reinstall it or run `meshgym list`", s.Lab.Name, s.Lab.Scenario, err)
	}
	for _, a := range s.Lab.Setup {
		if err := sc.Set(a); err != nil {
			return nil, fmt.Errorf("lab %s: its setup %s is refused (%v): this is a bug in the lab; report it", s.Lab.Name, a, err)
		}
	}
	r := s.runStep()
	for j := 0; j <= r; j++ {
		for _, k := range s.Lab.Steps[j].Knobs {
			v := s.knobValue(k)
			if err := sc.Set(k.Key + "=" + v); err != nil {
				return nil, fmt.Errorf("knob %s = %s is refused (%v); pick another value, or press r to reset the lab", k.Label, v, err)
			}
		}
	}
	if r >= 0 {
		var conds []scenarios.Condition
		for _, c := range s.Lab.Steps[r].Checks {
			cond, err := scenarios.ParseConditionString(c.Condition)
			if err != nil {
				return nil, fmt.Errorf("lab %s: check %q does not parse (%v): this is a bug in the lab; report it", s.Lab.Name, c.Condition, err)
			}
			conds = append(conds, cond)
		}
		sc.Conditions = conds
	}
	return sc, nil
}

// Settings are the knob assignments the scenario built by Scenario uses,
// "KEY=VALUE" in step order (every knob of the run steps up to the one in
// force, chosen or default); nil when the lab has no run step.
func (s *Session) Settings() []string {
	var out []string
	r := s.runStep()
	for j := 0; j <= r; j++ {
		for _, k := range s.Lab.Steps[j].Knobs {
			out = append(out, k.Key+"="+s.knobValue(k))
		}
	}
	return out
}

// Record judges a finished run: every predict step answered since the last
// run against the measured numbers, and the checks of the run step in
// force (see Scenario). When that is the current step it is marked done
// (skipped after Solve) if every check held, else failed — a step once
// done stays done when later runs explore other knob values. Record
// remembers res for observe/explain and its ID as LastRun. A nil res
// (the run did not start) judges nothing.
func (s *Session) Record(res *engine.Result) Feedback {
	var fb Feedback
	if res == nil {
		return fb
	}
	s.last = res
	s.p.LastRun = res.ID
	for i := range s.Lab.Steps {
		st := &s.Lab.Steps[i]
		c := s.Chosen(st.ID)
		if st.Kind != KindPredict || c < 0 || s.p.Judged[st.ID] != nil || st.Measure == nil {
			continue
		}
		pr, known := judgePrediction(st, c, res)
		if s.p.Judged == nil {
			s.p.Judged = map[string]*PredictionResult{}
		}
		if known {
			s.p.Judged[st.ID] = &pr
		}
		fb.Predictions = append(fb.Predictions, pr)
	}
	if r := s.runStep(); r >= 0 {
		st := &s.Lab.Steps[r]
		fb.Passed = true
		for _, c := range st.Checks {
			cr := judgeCheck(c, res)
			fb.Checks = append(fb.Checks, cr)
			fb.Passed = fb.Passed && cr.Passed
		}
		if res.Error != "" {
			fb.Passed = false
		}
		if r == s.Index() {
			switch {
			case fb.Passed && s.solving[st.ID]:
				s.setStatus(st.ID, StatusSkipped)
				delete(s.solving, st.ID)
			case fb.Passed:
				if s.p.Steps[st.ID] != StatusSkipped {
					s.setStatus(st.ID, StatusDone)
				}
			case !s.passed(st.ID):
				s.setStatus(st.ID, StatusFailed)
			}
		}
	}
	s.touch()
	return fb
}

// Last is the last recorded run (nil before the first).
func (s *Session) Last() *engine.Result { return s.last }

// SetLast restores the last run of a resumed lab without judging it.
func (s *Session) SetLast(res *engine.Result) { s.last = res }

// Hint is the current step's hint ("" when it has none).
func (s *Session) Hint() string { return s.Step().Hint }

// Solve applies the current run step's solution to the knobs and marks
// the step skipped once its run is recorded; it returns the assignments
// (nil on a step that is not a run step).
func (s *Session) Solve() []string {
	st := s.Step()
	if st.Kind != KindRun || len(st.Solution) == 0 {
		return nil
	}
	if s.p.Knobs == nil {
		s.p.Knobs = map[string]string{}
	}
	for _, a := range st.Solution {
		k, v, _ := strings.Cut(a, "=")
		s.p.Knobs[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if !s.passed(st.ID) {
		s.solving[st.ID] = true
	}
	s.touch()
	return slices.Clone(st.Solution)
}

// Solving reports whether the current step's solution is applied and
// waits for a run.
func (s *Session) Solving() bool { return s.solving[s.Step().ID] }

// Reset puts the lab back to its start (knobs, answers, statuses).
func (s *Session) Reset() {
	*s.p = LabProgress{}
	if len(s.Lab.Steps) > 0 {
		s.p.Current = s.Lab.Steps[0].ID
	}
	s.last = nil
	s.solving = map[string]bool{}
	s.touch()
}

// Body is step i's Markdown with placeholders filled from the last run
// ("—" before there is one): {{measure "PHASE" "EXPR"}} a value such as
// "1035" or "123ms", {{share "PHASE" "EXPR"}} a share such as "24.6% (201
// of 817)", {{knob "KEY"}} the value the last run used.
func (s *Session) Body(i int) string {
	if i < 0 || i >= len(s.Lab.Steps) {
		return ""
	}
	return fill(s.Lab.Steps[i].Body, func(h hole) string {
		if s.last == nil {
			return "—"
		}
		if h.kind == "knob" {
			return knobInRun(s.last, h.args[0])
		}
		return FormatValue(Read(Measure{Phase: h.args[0], Expr: h.args[1], Share: h.kind == "share"}, s.last))
	})
}

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
