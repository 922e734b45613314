package labs

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"meshgym/engine"
	"meshgym/metrics"
	"meshgym/scenarios"
	"meshgym/verdict"
)

// snapshot is the snapshot of phase ("before" or "after"; "" = after) of
// res, nil when the run did not measure it.
func snapshot(res *engine.Result, phase string) *metrics.Snapshot {
	if res == nil {
		return nil
	}
	p := res.After
	if phase == "before" {
		p = res.Before
	}
	if p == nil {
		return nil
	}
	return p.Snapshot
}

// Read measures m on res with verdict.Evaluate: the value is in the
// measure's unit (verdict.Unit…: % for shares, s for latencies). A value
// that could not be read has Known false and a Reason.
func Read(m Measure, res *engine.Result) verdict.Result {
	c, err := measureCondition(m)
	if err != nil {
		return verdict.Result{Reason: err.Error()}
	}
	s := snapshot(res, m.Phase)
	if s == nil {
		return verdict.Result{Reason: fmt.Sprintf("the run has no %s phase (it stopped early: see its error and run again)", phaseName(m.Phase))}
	}
	return verdict.Evaluate(c, s)
}

func phaseName(p string) string {
	if p == "" {
		return "after"
	}
	return p
}

// FormatValue renders a measured result for a learner: "24.6% (201 of
// 817)" for a share, "123ms" for a latency, "1.29×", "16.5 MB", "812";
// "—" when it is unknown.
func FormatValue(r verdict.Result) string {
	if !r.Known {
		return "—"
	}
	switch r.Unit {
	case verdict.UnitPercent:
		if r.Share || r.N > 0 {
			return fmt.Sprintf("%s%% (%s of %d)", trimFloat(r.Value, 1), trimFloat(r.Count, 0), r.N)
		}
		return trimFloat(r.Value, 1) + "%"
	case verdict.UnitSeconds:
		return formatSeconds(r.Value)
	case verdict.UnitRatio:
		return trimFloat(r.Value, 2) + "×"
	case verdict.UnitMB:
		return trimFloat(r.Value, 1) + " MB"
	case verdict.UnitRPS:
		return trimFloat(r.Value, 0) + " req/s"
	case verdict.UnitCPU:
		return trimFloat(r.Value, 2) + " cpu-s/s"
	case verdict.UnitCount:
		return trimFloat(r.Value, 0)
	}
	return trimFloat(r.Value, 2) + " " + r.Unit
}

func formatSeconds(v float64) string {
	switch a := math.Abs(v); {
	case a == 0:
		return "0ms"
	case a < 1e-3:
		return trimFloat(v*1e6, 0) + "µs"
	case a < 10e-3:
		return trimFloat(v*1e3, 2) + "ms"
	case a < 1:
		return trimFloat(v*1e3, 0) + "ms"
	}
	return trimFloat(v, 2) + "s"
}

// trimFloat formats v with at most digits decimals, without trailing zeros.
func trimFloat(v float64, digits int) string {
	s := strconv.FormatFloat(v, 'f', digits, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// placeholder matches {{measure "PHASE" "EXPR"}} (a plain value),
// {{share "PHASE" "EXPR"}} (request_count as a share) and
// {{knob "KEY"}} (the value the last run used).
var placeholder = regexp.MustCompile(`\{\{\s*(measure|share|knob)((?:\s+"[^"]*")+)\s*\}\}`)

var quoted = regexp.MustCompile(`"([^"]*)"`)

type hole struct {
	kind string // measure, share, knob
	args []string
}

func parseHole(m []string) (hole, error) {
	h := hole{kind: m[1]}
	for _, q := range quoted.FindAllStringSubmatch(m[2], -1) {
		h.args = append(h.args, q[1])
	}
	switch h.kind {
	case "knob":
		if len(h.args) != 1 {
			return h, fmt.Errorf("placeholder %s: write {{knob \"retry.attempts\"}}", m[0])
		}
	default:
		if len(h.args) != 2 || (h.args[0] != "before" && h.args[0] != "after") {
			return h, fmt.Errorf("placeholder %s: write {{%s \"after\" \"request_count[name=currency_v2]\"}}", m[0], h.kind)
		}
		if _, err := measureCondition(Measure{Phase: h.args[0], Expr: h.args[1], Share: h.kind == "share"}); err != nil {
			return h, fmt.Errorf("placeholder %s: %v", m[0], err)
		}
	}
	return h, nil
}

// checkPlaceholders reports the first placeholder of body that does not
// parse, and any "{{" left that is not a placeholder.
func checkPlaceholders(body string) error {
	for _, m := range placeholder.FindAllStringSubmatch(body, -1) {
		if _, err := parseHole(m); err != nil {
			return err
		}
	}
	if rest := placeholder.ReplaceAllString(body, ""); strings.Contains(rest, "{{") {
		i := strings.Index(rest, "{{")
		end := min(len(rest), i+40)
		return fmt.Errorf("%q is not a placeholder: use {{measure \"after\" \"EXPR\"}}, {{share \"after\" \"EXPR\"}} or {{knob \"KEY\"}}", rest[i:end])
	}
	return nil
}

// fill replaces body's placeholders with fn's text for each.
func fill(body string, fn func(h hole) string) string {
	return placeholder.ReplaceAllStringFunc(body, func(s string) string {
		m := placeholder.FindStringSubmatch(s)
		h, err := parseHole(m)
		if err != nil {
			return s
		}
		return fn(h)
	})
}

// knobInRun is the value key had in the run's scenario ("—" if unknown):
// the last "--set key=value" note, else the scenario's own value for the
// knobs that have one.
func knobInRun(res *engine.Result, key string) string {
	if res == nil || res.Scenario == nil {
		return "—"
	}
	for i := len(res.Scenario.Notes) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(res.Scenario.Notes[i], "--set "+key+"="); ok {
			return v
		}
	}
	return "—"
}

// judgeCheck judges one check on res.
func judgeCheck(c Check, res *engine.Result) CheckResult {
	out := CheckResult{Check: c, Measured: "—"}
	cond, err := scenarios.ParseConditionString(c.Condition)
	if err != nil {
		out.Line = fmt.Sprintf("✗ the lab's check %q does not parse (%v): this is a bug in the lab; press s to apply its solution and report it", c.Condition, err)
		return out
	}
	s := snapshot(res, c.Phase)
	var r verdict.Result
	if s == nil {
		r = verdict.Result{Reason: fmt.Sprintf("the run has no %s phase: it stopped early; run again", phaseName(c.Phase))}
	} else {
		r = verdict.Evaluate(cond, s)
	}
	st, reason := verdict.Judge(cond, r)
	out.Measured = FormatValue(r)
	switch {
	case !r.Known:
		out.Line = fmt.Sprintf("✗ %s: not measured (%s)", cond.Text, r.Reason)
	case st == verdict.Pass:
		out.Passed = true
		out.Line = "✓ " + withMeasured(c.Pass, out.Measured)
	case st == verdict.Warn:
		// The sample cannot tell the target from the measurement: the
		// engine does not fail a run on it, and neither does a lab.
		out.Passed = true
		out.Line = "✓ " + withMeasured(c.Pass, out.Measured) + " — too close to call at this sample size (" + reason + ")"
	default:
		out.Line = "✗ " + withMeasured(c.Fail, out.Measured)
	}
	return out
}

// withMeasured puts the measured value into text at {{value}}, or after it.
func withMeasured(text, measured string) string {
	if strings.Contains(text, "{{value}}") {
		return strings.ReplaceAll(text, "{{value}}", measured)
	}
	return strings.TrimRight(text, ". ") + " (measured " + measured + ")."
}

// judgePrediction judges predict step st (answered chosen) on res.
// known is false when the measure could not be read (then the answer
// waits for another run).
func judgePrediction(st *Step, chosen int, res *engine.Result) (pr PredictionResult, known bool) {
	pr = PredictionResult{StepID: st.ID, Chosen: chosen, Right: -1}
	r := Read(*st.Measure, res)
	pr.Unit = r.Unit
	said := "nothing"
	if chosen >= 0 && chosen < len(st.Choices) {
		said = st.Choices[chosen].Text
	}
	if !r.Known {
		pr.Line = fmt.Sprintf("You said %s; the run could not measure it (%s), so this answer waits for the next run.", said, r.Reason)
		return pr, false
	}
	pr.Measured = r.Value
	pr.Right = rightChoice(st.Choices, r.Value)
	pr.Correct = pr.Right == chosen && chosen >= 0
	m := FormatValue(r)
	switch {
	case pr.Correct:
		pr.Line = fmt.Sprintf("Right: you said %s; the run measured %s.", said, m)
	case pr.Right >= 0:
		pr.Line = fmt.Sprintf("You said %s; the run measured %s: %s.", said, m, st.Choices[pr.Right].Text)
	default:
		pr.Line = fmt.Sprintf("You said %s; the run measured %s, outside every choice.", said, m)
	}
	return pr, true
}
