package labs

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path"
	"slices"
	"strings"
	"sync"

	yaml "github.com/goccy/go-yaml"

	"meshgym/scenarios"
)

//go:embed content
var contentFS embed.FS

// labFile is lab.yaml as written; Name comes from the folder.
type labFile struct {
	Title    string     `yaml:"title"`
	Pattern  string     `yaml:"pattern"`
	Summary  string     `yaml:"summary"`
	Order    int        `yaml:"order"`
	Minutes  int        `yaml:"minutes"`
	Scenario string     `yaml:"scenario"`
	Setup    []string   `yaml:"setup"`
	Steps    []stepFile `yaml:"steps"`
}

// stepFile is one step of lab.yaml; File names its Markdown in the folder.
type stepFile struct {
	ID       string       `yaml:"id"`
	Kind     StepKind     `yaml:"kind"`
	Title    string       `yaml:"title"`
	File     string       `yaml:"file"`
	Requires []string     `yaml:"requires"`
	Question string       `yaml:"question"`
	Measure  *measureFile `yaml:"measure"`
	Choices  []choiceFile `yaml:"choices"`
	Knobs    []knobFile   `yaml:"knobs"`
	Checks   []checkFile  `yaml:"checks"`
	Hint     string       `yaml:"hint"`
	Solution []string     `yaml:"solution"`
}

type measureFile struct {
	Phase string `yaml:"phase"`
	Expr  string `yaml:"expr"`
	Share bool   `yaml:"share"`
}

type choiceFile struct {
	Text string  `yaml:"text"`
	Min  float64 `yaml:"min"`
	Max  float64 `yaml:"max"`
}

type knobFile struct {
	Key     string   `yaml:"key"`
	Label   string   `yaml:"label"`
	Values  []string `yaml:"values"`
	Default string   `yaml:"default"`
}

type checkFile struct {
	Condition string `yaml:"condition"`
	Phase     string `yaml:"phase"`
	Pass      string `yaml:"pass"`
	Fail      string `yaml:"fail"`
}

var (
	loadOnce   sync.Once
	loaded     []*Lab
	loadErrors error
)

func embedded() ([]*Lab, error) {
	loadOnce.Do(func() {
		sub, err := fs.Sub(contentFS, "content")
		if err != nil {
			loadErrors = err
			return
		}
		loaded, loadErrors = LoadFS(sub)
	})
	return loaded, loadErrors
}

// Problems returns what is wrong with the embedded labs (nil when every
// lab loaded). All and Get leave out a lab that failed to load; the
// package's tests fail on any problem, so a release has none.
func Problems() error {
	_, err := embedded()
	return err
}

// LoadFS loads every lab of fsys: each directory NAME holding a lab.yaml
// is the lab NAME. Labs are returned in workshop order (Order, then
// Name). Labs that fail to load are left out and their problems joined in
// the error, one per line as "NAME/lab.yaml:LINE: …" (unknown fields,
// wrong types) or "NAME/lab.yaml: step ID: …" (validation).
func LoadFS(fsys fs.FS) ([]*Lab, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read labs: %w", err)
	}
	var labs []*Lab
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		l, err := LoadLab(fsys, e.Name())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		labs = append(labs, l)
	}
	sortLabs(labs)
	return labs, errors.Join(errs...)
}

func sortLabs(labs []*Lab) {
	slices.SortStableFunc(labs, func(a, b *Lab) int {
		if a.Order != b.Order {
			return a.Order - b.Order
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// LoadLab reads and validates the lab in directory name of fsys
// (name/lab.yaml and the Markdown files its steps name). lab.yaml is read
// strictly: an unknown field or a wrong type is an error naming
// name/lab.yaml:LINE and the field. Validation (Validate) reports every
// problem at once.
func LoadLab(fsys fs.FS, name string) (*Lab, error) {
	file := path.Join(name, "lab.yaml")
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var lf labFile
	if err := yaml.UnmarshalWithOptions(data, &lf, yaml.DisallowUnknownField()); err != nil {
		return nil, yamlError(file, err)
	}
	l := &Lab{Name: name, Title: lf.Title, Pattern: lf.Pattern, Summary: lf.Summary, Order: lf.Order,
		Minutes: lf.Minutes, Scenario: lf.Scenario, Setup: lf.Setup}
	var errs []error
	for _, sf := range lf.Steps {
		st := Step{ID: sf.ID, Kind: sf.Kind, Title: sf.Title, Requires: sf.Requires, Question: sf.Question,
			Hint: strings.TrimSpace(sf.Hint), Solution: sf.Solution}
		if sf.File == "" {
			errs = append(errs, fmt.Errorf("%s: step %s: no file: name the step's Markdown, e.g. file: 01-problem.md", file, sf.ID))
		} else if body, err := fs.ReadFile(fsys, path.Join(name, sf.File)); err != nil {
			errs = append(errs, fmt.Errorf("%s: step %s: file %s: %w", file, sf.ID, sf.File, err))
		} else {
			st.Body = string(body)
		}
		if sf.Measure != nil {
			st.Measure = &Measure{Phase: sf.Measure.Phase, Expr: sf.Measure.Expr, Share: sf.Measure.Share}
		}
		for _, c := range sf.Choices {
			st.Choices = append(st.Choices, Choice(c))
		}
		for _, k := range sf.Knobs {
			st.Knobs = append(st.Knobs, Knob(k))
		}
		for _, c := range sf.Checks {
			st.Checks = append(st.Checks, Check(c))
		}
		l.Steps = append(l.Steps, st)
	}
	if err := Validate(l); err != nil {
		errs = append(errs, prefixLines(file, err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return l, nil
}

// yamlError words a goccy/go-yaml error as "FILE:LINE: message".
func yamlError(file string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			msg := ye.GetMessage()
			if strings.HasPrefix(msg, "unknown field") {
				msg += " (a misspelt key? the lab.yaml format is in docs/labs/README.md)"
			}
			return fmt.Errorf("%s:%d:%d: %s", file, tk.Position.Line, tk.Position.Column, msg)
		}
	}
	return fmt.Errorf("%s: %w", file, err)
}

func prefixLines(file string, err error) error {
	var out []error
	for _, line := range strings.Split(err.Error(), "\n") {
		out = append(out, fmt.Errorf("%s: %s", file, line))
	}
	return errors.Join(out...)
}

// Validate checks a lab as the loader does and reports every problem at
// once: required fields; step IDs unique and Requires naming earlier
// steps; a predict step has a question, a Measure that parses and at least
// two choices whose ranges are contiguous from 0 (0..100 for shares) so
// one choice is always right, and a run step after it that measures it; a
// run step's knob keys are Set keys (scenarios.SetKeys, VERSION = a version
// of the scenario) whose every offered value Set accepts on the lab's
// scenario with its Setup; checks and placeholders parse; a Solution only
// assigns offered values of the step's knobs and is accepted by Set.
func Validate(l *Lab) error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if l.Title == "" || l.Summary == "" || l.Pattern == "" {
		bad("title, summary and pattern are required")
	}
	if l.Order <= 0 || l.Minutes <= 0 {
		bad("order and minutes must be positive (order %d, minutes %d)", l.Order, l.Minutes)
	}
	base, err := scenarios.Builtin(l.Scenario)
	if err != nil {
		bad("scenario %q: %v", l.Scenario, err)
		return errors.Join(errs...)
	}
	for _, a := range l.Setup {
		if err := base.Set(a); err != nil {
			bad("setup %s: %v", a, err)
		}
	}
	if len(l.Steps) == 0 {
		bad("no steps")
	}
	seen := map[string]int{}
	runAfter := false
	for i := len(l.Steps) - 1; i >= 0; i-- {
		st := &l.Steps[i]
		if st.Kind == KindPredict && !runAfter {
			bad("step %s: a predict step needs a run step after it (the run that judges the answer)", st.ID)
		}
		if st.Kind == KindRun {
			runAfter = true
		}
	}
	for i := range l.Steps {
		st := &l.Steps[i]
		at := "step " + st.ID
		if st.ID == "" {
			bad("step %d: no id", i+1)
		} else if j, dup := seen[st.ID]; dup {
			bad("%s: id used twice (steps %d and %d)", at, j+1, i+1)
		}
		for _, r := range st.Requires {
			if j, ok := seen[r]; !ok || j >= i {
				bad("%s: requires %q, which is not an earlier step", at, r)
			}
		}
		seen[st.ID] = i
		if st.Title == "" {
			bad("%s: no title", at)
		}
		if err := checkPlaceholders(st.Body); err != nil {
			bad("%s: %v", at, err)
		}
		switch st.Kind {
		case KindRead, KindObserve, KindExplain:
			if st.Measure != nil || len(st.Choices) > 0 || len(st.Knobs) > 0 || len(st.Checks) > 0 || len(st.Solution) > 0 {
				bad("%s: a %s step has no measure, choices, knobs, checks or solution", at, st.Kind)
			}
		case KindPredict:
			validatePredict(st, bad)
		case KindRun:
			validateRun(l, st, bad)
		default:
			bad("%s: kind %q is not one of read, predict, run, observe, explain", at, st.Kind)
		}
	}
	return errors.Join(errs...)
}

func validatePredict(st *Step, bad func(string, ...any)) {
	at := "step " + st.ID
	if st.Question == "" {
		bad("%s: a predict step needs a question", at)
	}
	if st.Measure == nil {
		bad("%s: a predict step needs a measure: {phase, expr, share}", at)
	} else {
		if st.Measure.Phase != "before" && st.Measure.Phase != "after" {
			bad("%s: measure phase %q is not before or after", at, st.Measure.Phase)
		}
		if _, err := measureCondition(*st.Measure); err != nil {
			bad("%s: measure %q: %v", at, st.Measure.Expr, err)
		}
	}
	if len(st.Choices) < 2 {
		bad("%s: a predict step needs at least 2 choices", at)
		return
	}
	if st.Choices[0].Min > 0 {
		bad("%s: the first choice starts at %v: start it at 0 so every measured value has a choice", at, st.Choices[0].Min)
	}
	for j, c := range st.Choices {
		if c.Text == "" {
			bad("%s: choice %d has no text", at, j+1)
		}
		if !(c.Max > c.Min) {
			bad("%s: choice %d: max %v is not above min %v", at, j+1, c.Max, c.Min)
		}
		if j > 0 && c.Min != st.Choices[j-1].Max {
			bad("%s: choice %d starts at %v but choice %d ends at %v: ranges must be contiguous", at, j+1, c.Min, j, st.Choices[j-1].Max)
		}
	}
	if st.Measure != nil && st.Measure.Share && st.Choices[len(st.Choices)-1].Max < 100 {
		bad("%s: the last choice ends at %v: a share can reach 100", at, st.Choices[len(st.Choices)-1].Max)
	}
	if len(st.Knobs) > 0 || len(st.Checks) > 0 || len(st.Solution) > 0 {
		bad("%s: a predict step has no knobs, checks or solution", at)
	}
}

func validateRun(l *Lab, st *Step, bad func(string, ...any)) {
	at := "step " + st.ID
	if len(st.Checks) == 0 {
		bad("%s: a run step needs at least one check", at)
	}
	if st.Measure != nil || len(st.Choices) > 0 {
		bad("%s: a run step has no measure or choices", at)
	}
	fresh := func() *scenarios.Scenario {
		sc, err := scenarios.Builtin(l.Scenario)
		if err != nil {
			return nil
		}
		for _, a := range l.Setup {
			_ = sc.Set(a)
		}
		return sc
	}
	knobs := map[string]Knob{}
	for _, k := range st.Knobs {
		if !setKeyForm(k.Key, fresh()) {
			bad("%s: knob %q is not a Set key (%s)", at, k.Key, strings.Join(scenarios.SetKeys, ", "))
			continue
		}
		if k.Label == "" {
			bad("%s: knob %s has no label", at, k.Key)
		}
		if len(k.Values) < 2 {
			bad("%s: knob %s offers %d values: offer at least 2", at, k.Key, len(k.Values))
		}
		if !slices.Contains(k.Values, k.Default) {
			bad("%s: knob %s: default %q is not one of its values %v", at, k.Key, k.Default, k.Values)
		}
		for _, v := range k.Values {
			if sc := fresh(); sc == nil || sc.Set(k.Key+"="+v) != nil {
				err := fmt.Errorf("no scenario")
				if sc != nil {
					err = sc.Set(k.Key + "=" + v)
				}
				bad("%s: knob %s: value %q: %v", at, k.Key, v, err)
			}
		}
		knobs[k.Key] = k
	}
	for _, c := range st.Checks {
		if _, err := scenarios.ParseConditionString(c.Condition); err != nil {
			bad("%s: check %q: %v", at, c.Condition, err)
		}
		if c.Phase != "" && c.Phase != "before" && c.Phase != "after" {
			bad("%s: check %q: phase %q is not before or after", at, c.Condition, c.Phase)
		}
		if c.Pass == "" || c.Fail == "" {
			bad("%s: check %q needs pass and fail feedback", at, c.Condition)
		}
	}
	if len(st.Solution) == 0 {
		bad("%s: a run step needs a solution (assignments the learner can apply when stuck)", at)
	}
	if st.Hint == "" {
		bad("%s: a run step needs a hint", at)
	}
	sc := fresh()
	for _, a := range st.Solution {
		key, value, _ := strings.Cut(a, "=")
		k, ok := knobs[strings.TrimSpace(key)]
		if !ok {
			bad("%s: solution %s: %s is not a knob of this step", at, a, key)
			continue
		}
		if !slices.Contains(k.Values, strings.TrimSpace(value)) {
			bad("%s: solution %s: %s is not one of the offered values %v", at, a, value, k.Values)
		}
		if sc != nil {
			if err := sc.Set(a); err != nil {
				bad("%s: solution %s: %v", at, a, err)
			}
		}
	}
}

// setKeyForm reports whether key is one of scenarios.SetKeys, with VERSION
// standing for a version of sc.
func setKeyForm(key string, sc *scenarios.Scenario) bool {
	if slices.Contains(scenarios.SetKeys, key) {
		return true
	}
	ver, field, ok := strings.Cut(key, ".")
	if !ok || sc == nil {
		return false
	}
	if !slices.Contains(scenarios.SetKeys, "VERSION."+field) {
		return false
	}
	for _, svc := range sc.Topology.Services {
		for _, v := range svc.Versions {
			if v.Name == ver {
				return true
			}
		}
	}
	return false
}

// measureCondition is m as a condition: Expr with ">= 0" (">= 0%" for a
// share) appended, so verdict.Evaluate reads its value.
func measureCondition(m Measure) (scenarios.Condition, error) {
	if strings.TrimSpace(m.Expr) == "" {
		return scenarios.Condition{}, errors.New("empty expression: write a metric with matchers, e.g. request_count[name=payments, status_code!=200]")
	}
	if m.Share {
		return scenarios.ParseConditionString(m.Expr + " >= 0%")
	}
	// Durations and memory want a unit on the value; the value itself is
	// never used.
	c, err := scenarios.ParseConditionString(m.Expr + " >= 0")
	for _, unit := range []string{"s", "MB"} {
		if err == nil {
			break
		}
		if c2, err2 := scenarios.ParseConditionString(m.Expr + " >= 0" + unit); err2 == nil {
			c, err = c2, nil
		}
	}
	return c, err
}

// rightChoice is the index of the choice whose range holds v: [Min, Max),
// the last choice's Max included; -1 when none does.
func rightChoice(cs []Choice, v float64) int {
	if math.IsNaN(v) {
		return -1
	}
	for i, c := range cs {
		if v >= c.Min && (v < c.Max || (i == len(cs)-1 && v <= c.Max)) {
			return i
		}
	}
	return -1
}

// cutAssign splits "key=value", trimming both.
func cutAssign(a string) (key, value string, ok bool) {
	key, value, ok = strings.Cut(a, "=")
	return strings.TrimSpace(key), strings.TrimSpace(value), ok
}
