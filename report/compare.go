package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"meshgym/engine"
	"meshgym/plugins"
	"meshgym/scenarios"
	"meshgym/verdict"
)

// Comparison is one scenario measured under several meshes (or several
// stored runs), side by side: each condition's after-phase value per run
// and the figures that most often differ between meshes, each with the
// knobs that differ behind it.
type Comparison struct {
	Scenario   string              `json:"scenario"`
	Runs       []ComparedRun       `json:"runs"`
	Conditions []ComparedCondition `json:"conditions"`
	Figures    []ComparedFigure    `json:"figures"`
}

// ComparedRun is one column of a comparison.
type ComparedRun struct {
	Label    string   `json:"label"` // "istio@1.27"
	ID       string   `json:"id,omitempty"`
	Mesh     string   `json:"mesh"`
	Profile  string   `json:"profile,omitempty"`
	Platform string   `json:"platform"`
	Seed     int64    `json:"seed"`
	Passed   bool     `json:"passed"`
	Error    string   `json:"error,omitempty"`
	Notes    []string `json:"notes,omitempty"`
}

// ComparedCondition is one success condition across runs.
type ComparedCondition struct {
	Condition string         `json:"condition"`
	Target    string         `json:"target"`
	Cells     []ComparedCell `json:"cells"` // one per run, in Runs order
}

// ComparedCell is a condition's after-phase value in one run.
type ComparedCell struct {
	Value  string         `json:"value"`
	Status verdict.Status `json:"status"`
}

// ComparedFigure is a figure worth a learner's attention across runs
// (requests the failing version still received, amplification, time to
// eject …). Values are in Unit; NaN (JSON null) where a run has none.
type ComparedFigure struct {
	Name string `json:"name"`
	// Phase is "after" (the pattern on) or "before" (pattern off: the
	// mesh's own defaults).
	Phase  string     `json:"phase"`
	Unit   string     `json:"unit"` // "requests", "×", "s", "ms", "%"
	Values []*float64 `json:"values"`
	// Differ is set when the values differ by more than sampling noise
	// (10% and an absolute floor per unit).
	Differ bool `json:"differ"`
	// Why names the knobs that differ between the runs and bear on this
	// figure, in one line ("" when the values agree).
	Why string `json:"why,omitempty"`
}

// figure kinds and the knob path fragments that bear on them.
var (
	// Knob path fragments by figure, most telling first: the why line
	// names the first two that differ.
	outlierKnobs = []string{"max_ejection_percent", "outlier.algorithm", "consecutive_5xx", "base_ejection_time",
		"always_eject_one_host", "interval", "jitter", "max_ejection_time", "panic", "lb_policy"}
	retryKnobs = []string{"num_retries", "retry_on", "retriable_status_codes", "retry_budget", "max_retries",
		"host_selection", "previous_hosts", "per_try_timeout", "backoff"}
	errorKnobs = []string{"max_ejection_percent", "outlier.algorithm", "num_retries", "retry_on",
		"retriable_status_codes", "consecutive_5xx", "timeout", "retry_budget", "max_retries", "lb_policy"}
	latencyKnobs = []string{"timeout", "lb_policy", "num_retries", "backoff", "ewma"}
)

// Compare builds the comparison of runs of one scenario; labels name the
// columns (nil: each run's profile or mesh, else its ID).
func Compare(runs []*engine.Result, labels []string) *Comparison {
	c := &Comparison{}
	for i, r := range runs {
		if c.Scenario == "" && r.Scenario != nil {
			c.Scenario = r.Scenario.Name
		}
		label := ""
		if i < len(labels) {
			label = labels[i]
		}
		if label == "" {
			label = firstNonEmpty(r.Profile, r.Mesh, r.ID, fmt.Sprintf("run %d", i+1))
		}
		c.Runs = append(c.Runs, ComparedRun{Label: label, ID: r.ID, Mesh: r.Mesh, Profile: r.Profile,
			Platform: r.Platform, Seed: r.Seed, Passed: r.Passed, Error: r.Error, Notes: r.MeshNotes})
	}
	c.Conditions = compareConditions(runs)
	c.Figures = compareFigures(runs, c.Runs)
	return c
}

func compareConditions(runs []*engine.Result) []ComparedCondition {
	var out []ComparedCondition
	index := map[string]int{}
	for ri, r := range runs {
		for _, v := range r.Verdicts {
			key := v.Condition.Text
			i, ok := index[key]
			if !ok {
				i = len(out)
				index[key] = i
				cells := make([]ComparedCell, len(runs))
				for k := range cells {
					cells[k] = ComparedCell{Value: "-", Status: verdict.NA}
				}
				out = append(out, ComparedCondition{Condition: key, Target: target(v.Condition), Cells: cells})
			}
			out[i].Cells[ri] = ComparedCell{Value: value(v.After), Status: v.Status}
		}
	}
	return out
}

func compareFigures(runs []*engine.Result, cols []ComparedRun) []ComparedFigure {
	figs := phaseFigures(runs, cols, engine.PhaseAfter)
	return append(figs, phaseFigures(runs, cols, engine.PhaseBefore)...)
}

// phaseOf returns a run's phase and the knobs in force in it.
func phaseOf(r *engine.Result, phase string) (*engine.PhaseResult, []plugins.Knob) {
	if phase == engine.PhaseBefore {
		return r.Before, r.BeforeKnobs
	}
	return r.After, r.Knobs
}

// phaseFigures computes the figures of one phase. The before phase (pattern
// off) gets the figures the mesh's own defaults move: failing-version
// requests, calls per request (default retries) and client errors.
func phaseFigures(runs []*engine.Result, cols []ComparedRun, phase string) []ComparedFigure {
	before := phase == engine.PhaseBefore
	var figs []ComparedFigure
	add := func(name, unit string, frags []string, get func(p *engine.PhaseResult) (float64, bool)) {
		f := ComparedFigure{Name: name, Phase: phase, Unit: unit, Values: make([]*float64, len(runs))}
		found := false
		for i, r := range runs {
			p, _ := phaseOf(r, phase)
			if p == nil {
				continue
			}
			if v, ok := get(p); ok {
				f.Values[i] = &v
				found = true
			}
		}
		if !found {
			return
		}
		f.Differ = differ(f.Values, unit)
		if f.Differ {
			f.Why = why(runs, cols, phase, relevant(runs, phase, frags))
		}
		figs = append(figs, f)
	}
	// Versions that fail by design: what reached them is what the pattern
	// (or the mesh's defaults) could not keep away.
	if sc := firstScenario(runs); sc != nil {
		for _, s := range sc.Topology.Services {
			for _, v := range s.Versions {
				if v.ErrorRate <= 0 {
					continue
				}
				name := v.Name
				add(fmt.Sprintf("requests reaching %s (fails %g%%)", name, v.ErrorRate), "requests", errorKnobs,
					func(p *engine.PhaseResult) (float64, bool) {
						if p.Snapshot == nil {
							return 0, false
						}
						n, _ := countOf(p.Snapshot, name)
						return n, true
					})
			}
		}
		for _, s := range sc.Topology.Services {
			if s.Name == sc.Topology.Entry {
				continue
			}
			names := make([]string, 0, len(s.Versions))
			for _, v := range s.Versions {
				names = append(names, v.Name)
			}
			add(fmt.Sprintf("calls to %s per client request", s.Name), "×", retryKnobs,
				func(p *engine.PhaseResult) (float64, bool) {
					c := clientOf(p)
					if p.Snapshot == nil || c == nil || c.Count == 0 {
						return 0, false
					}
					var n float64
					for _, name := range names {
						k, _ := countOf(p.Snapshot, name)
						n += k
					}
					return n / float64(c.Count), true
				})
		}
	}
	add("client errors", "%", errorKnobs, func(p *engine.PhaseResult) (float64, bool) {
		c := clientOf(p)
		if c == nil || c.Count == 0 {
			return 0, false
		}
		return 100 * float64(c.Errors) / float64(c.Count), true
	})
	if before {
		return figs
	}
	add("ejections", "ejections", outlierKnobs, func(p *engine.PhaseResult) (float64, bool) {
		if p.Snapshot == nil {
			return 0, false
		}
		var n float64
		for _, v := range p.Snapshot.Ejections {
			n += v
		}
		return n, true
	})
	add("time to first ejection", "s", outlierKnobs, func(p *engine.PhaseResult) (float64, bool) {
		for _, e := range p.Ejections {
			if e.Kind == "ejection" {
				return e.At.Sub(p.Started).Seconds(), true
			}
		}
		return 0, false
	})
	add("client p99 latency", "ms", latencyKnobs, func(p *engine.PhaseResult) (float64, bool) {
		c := clientOf(p)
		if c == nil || c.Count == 0 {
			return 0, false
		}
		return c.P99S * 1000, true
	})
	return figs
}

// relevant drops knob kinds that cannot explain a difference in this
// phase: retry knobs when no run retried, timeouts longer than every
// request of every run took.
func relevant(runs []*engine.Result, phase string, frags []string) []string {
	retried := false
	slowest := 0.0
	for _, r := range runs {
		p, _ := phaseOf(r, phase)
		if p == nil {
			continue
		}
		if p.PolicyEvents["retry"] > 0 || (p.Snapshot != nil && sumValues(p.Snapshot.Retries) > 0) {
			retried = true
		}
		if c := clientOf(p); c != nil {
			slowest = max(slowest, c.MaxS)
		}
	}
	timeoutMatters := false
	for _, r := range runs {
		_, knobs := phaseOf(r, phase)
		for _, k := range knobs {
			if !strings.Contains(k.Path, "timeout") {
				continue
			}
			if d, err := time.ParseDuration(k.Value); err == nil && d.Seconds() <= slowest*1.05 {
				timeoutMatters = true
			}
		}
	}
	var out []string
	for _, f := range frags {
		switch {
		case !retried && slices.Contains(retryKnobs, f) && f != "per_try_timeout":
			continue
		case !timeoutMatters && strings.Contains(f, "timeout"):
			continue
		}
		out = append(out, f)
	}
	return out
}

func sumValues(m map[string]float64) float64 {
	var n float64
	for _, v := range m {
		n += v
	}
	return n
}

// differ reports whether values differ beyond noise: more than 10% of
// the largest and more than an absolute floor for the unit.
func differ(vals []*float64, unit string) bool {
	floor := map[string]float64{"requests": 5, "×": 0.05, "%": 1, "ejections": 0.5, "s": 1, "ms": 5}[unit]
	lo, hi := math.Inf(1), math.Inf(-1)
	seen := 0
	for _, v := range vals {
		if v == nil {
			continue
		}
		seen++
		lo, hi = min(lo, *v), max(hi, *v)
	}
	if seen < 2 {
		// One run has the figure and another not (e.g. an ejection time):
		// that is a difference when there are several runs.
		return seen == 1 && len(vals) > 1
	}
	return hi-lo > floor && hi-lo > 0.1*math.Max(math.Abs(hi), math.Abs(lo))
}

// why names, in one line, the two most telling knobs (by the order of
// frags) whose values differ between the runs.
func why(runs []*engine.Result, cols []ComparedRun, phase string, frags []string) string {
	type diff struct {
		path string
		rank int
		vals []string
		src  []string
	}
	byPath := map[string]*diff{}
	var diffs []*diff
	for i, r := range runs {
		_, knobs := phaseOf(r, phase)
		for _, k := range knobs {
			rank := rankOf(k.Path, frags)
			if rank < 0 {
				continue
			}
			d, ok := byPath[k.Path]
			if !ok {
				d = &diff{path: k.Path, rank: rank, vals: make([]string, len(runs)), src: make([]string, len(runs))}
				byPath[k.Path] = d
				diffs = append(diffs, d)
			}
			d.vals[i], d.src[i] = k.Value, k.Source
		}
	}
	diffs = slices.DeleteFunc(diffs, func(d *diff) bool {
		for _, v := range d.vals[1:] {
			if v != d.vals[0] {
				return false
			}
		}
		return true
	})
	slices.SortStableFunc(diffs, func(a, b *diff) int { return a.rank - b.rank })
	var parts []string
	for _, d := range diffs {
		var each []string
		for i, v := range d.vals {
			if v == "" {
				v = "unset"
			}
			each = append(each, cols[i].Label+" "+v+sourceTag(d.src[i]))
		}
		part := d.path + ": " + strings.Join(each, ", ")
		if strings.HasSuffix(d.path, ".max_ejection_percent") {
			part += capNote(runs, cols, d.path, d.vals)
		}
		parts = append(parts, part)
		if len(parts) == 2 {
			break
		}
	}
	if len(parts) == 0 {
		if seedsDiffer(runs) {
			return "no knob differs: the runs used different seeds, so this is sampling noise"
		}
		return "no knob differs: timing noise between runs"
	}
	return strings.Join(parts, "; ")
}

// capNote says which runs' ejection cap forbids even one ejection: Envoy
// ejects only while 100·(ejected+1)/hosts ≤ max_ejection_percent
// (outlier_detection_impl.cc), so 10% of fewer than 10 hosts is none.
func capNote(runs []*engine.Result, cols []ComparedRun, path string, vals []string) string {
	sc := firstScenario(runs)
	if sc == nil {
		return ""
	}
	service, _, _ := strings.Cut(path, ".")
	hosts := 0
	for _, s := range sc.Topology.Services {
		if s.Name == service {
			for _, v := range s.Versions {
				hosts += max(v.Instances, 1)
			}
		}
	}
	if hosts == 0 {
		return ""
	}
	var none []string
	for i, v := range vals {
		var pct float64
		if _, err := fmt.Sscan(v, &pct); err == nil && 100/float64(hosts) > pct && !ejectsOne(runs[i], service) {
			none = append(none, cols[i].Label)
		}
	}
	if len(none) == 0 {
		return ""
	}
	return fmt.Sprintf(" — with %d %s hosts, %s may eject none", hosts, service, strings.Join(none, " and "))
}

// ejectsOne reports whether a run's outlier detection always ejects one
// host (always_eject_one_host, or Envoy before 1.27).
func ejectsOne(r *engine.Result, service string) bool {
	for _, k := range r.Knobs {
		if k.Path == service+".outlier.always_eject_one_host" && k.Value == "true" {
			return true
		}
	}
	return false
}

// rankOf is the index of the first fragment of frags in path, -1 if none.
func rankOf(path string, frags []string) int {
	p := strings.ToLower(path)
	for i, f := range frags {
		if strings.Contains(p, f) {
			return i
		}
	}
	return -1
}

// sourceTag abbreviates a knob's source for the why line.
func sourceTag(s string) string {
	switch {
	case s == "" || s == "scenario":
		return ""
	case strings.HasPrefix(s, "profile "):
		f := strings.Fields(s)
		if len(f) >= 2 {
			return " (" + f[1] + " default)"
		}
	}
	return " (" + s + ")"
}

func seedsDiffer(runs []*engine.Result) bool {
	for _, r := range runs[1:] {
		if r.Seed != runs[0].Seed {
			return true
		}
	}
	return false
}

func firstScenario(runs []*engine.Result) *scenarios.Scenario {
	for _, r := range runs {
		if r.Scenario != nil {
			return r.Scenario
		}
	}
	return nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// CompareText prints a comparison as tables: conditions, then figures with
// the reason for each difference.
func CompareText(w io.Writer, c *Comparison, useColour bool) {
	fmt.Fprintf(w, "%s compared across %d runs\n\n", c.Scenario, len(c.Runs))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"CONDITION", "TARGET"}
	for _, r := range c.Runs {
		head = append(head, strings.ToUpper(r.Label))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, cond := range c.Conditions {
		row := []string{cond.Condition, cond.Target}
		for _, cell := range cond.Cells {
			row = append(row, colour(fmt.Sprintf("%s %s", cell.Value, cell.Status), cell.Status, useColour))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	res := []string{"RESULT", ""}
	for _, r := range c.Runs {
		switch {
		case r.Error != "":
			res = append(res, "ERROR")
		case r.Passed:
			res = append(res, "PASS")
		default:
			res = append(res, "FAIL")
		}
	}
	fmt.Fprintln(tw, strings.Join(res, "\t"))
	tw.Flush()

	for _, ph := range []struct{ phase, title string }{
		{engine.PhaseAfter, "AFTER (pattern on)"},
		{engine.PhaseBefore, "BEFORE (pattern off: each mesh's defaults)"},
	} {
		var figs []ComparedFigure
		for _, f := range c.Figures {
			if f.Phase == ph.phase {
				figs = append(figs, f)
			}
		}
		if len(figs) == 0 {
			continue
		}
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		head = []string{ph.title}
		for _, r := range c.Runs {
			head = append(head, strings.ToUpper(r.Label))
		}
		fmt.Fprintln(tw, strings.Join(head, "\t"))
		for _, f := range figs {
			row := []string{f.Name}
			for _, v := range f.Values {
				row = append(row, figureText(v, f.Unit))
			}
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		tw.Flush()
	}
	// One line per reason: figures that differ for the same knobs share it.
	var whys []string
	var order []string
	names := map[string][]string{}
	for _, f := range c.Figures {
		if !f.Differ {
			continue
		}
		name := f.Name
		if f.Phase == engine.PhaseBefore {
			name += " (before)"
		}
		if _, ok := names[f.Why]; !ok {
			order = append(order, f.Why)
		}
		names[f.Why] = append(names[f.Why], name)
	}
	for _, w := range order {
		verb := "differs"
		if len(names[w]) > 1 {
			verb = "differ"
		}
		whys = append(whys, fmt.Sprintf("  %s %s — %s", strings.Join(names[w], ", "), verb, w))
	}
	if len(whys) > 0 {
		fmt.Fprintln(w, "\nWhy they differ:")
		for _, l := range whys {
			fmt.Fprintln(w, l)
		}
	}
	for _, r := range c.Runs {
		if r.Error != "" {
			fmt.Fprintf(w, "\n%s stopped early: %s\n", r.Label, r.Error)
		}
	}
	notes := false
	for _, r := range c.Runs {
		for _, n := range r.Notes {
			if !notes {
				fmt.Fprintln(w, "\nMesh notes:")
				notes = true
			}
			fmt.Fprintf(w, "  %s: %s\n", r.Label, n)
		}
	}
}

func figureText(v *float64, unit string) string {
	if v == nil {
		return "-"
	}
	switch unit {
	case "requests", "ejections":
		return fmt.Sprintf("%.0f", *v)
	case "×":
		return fmt.Sprintf("%.2f×", *v)
	case "%":
		return fmt.Sprintf("%.1f%%", *v)
	case "s":
		return (time.Duration(*v * float64(time.Second))).Round(100 * time.Millisecond).String()
	case "ms":
		return fmt.Sprintf("%.1f ms", *v)
	}
	return fmt.Sprintf("%g %s", *v, unit)
}

// CompareJSON writes the comparison as indented JSON.
func CompareJSON(w io.Writer, c *Comparison) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}
