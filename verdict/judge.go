package verdict

import (
	"fmt"
	"math"
	"strconv"

	"meshgym/metrics"
	"meshgym/scenarios"
)

// Status is a condition's outcome.
type Status string

// Statuses.
const (
	// Pass: the measured value meets the condition.
	Pass Status = "PASS"
	// Fail: it does not, or the data it needs is missing.
	Fail Status = "FAIL"
	// Warn: a share misses the condition, but the target lies inside the
	// 95% Wilson interval of the measurement: the sample is too small (or
	// the tolerance too tight) to decide.
	Warn Status = "WARN"
	// NA: the phase was not measured (no snapshot).
	NA Status = "N/A"
)

// Verdict is one condition judged on the before and after phases. Status
// (and Reason) are decided on After; BeforeStatus shows how the system
// fared without the pattern.
type Verdict struct {
	Condition    scenarios.Condition `json:"condition"`        // as parsed
	Before       Result              `json:"before"`           // measured without the pattern
	After        Result              `json:"after"`            // measured with the pattern
	Status       Status              `json:"status"`           // decided on After
	Reason       string              `json:"reason,omitempty"` // why, with measured value, target and noise
	BeforeStatus Status              `json:"before_status"`    // the same judgement on Before
}

// EvaluateAll evaluates every condition on both phases with the default
// Options. A nil before (or after) snapshot gives N/A for that phase.
func EvaluateAll(conds []scenarios.Condition, before, after *metrics.Snapshot) []Verdict {
	return Options{}.EvaluateAll(conds, before, after)
}

// EvaluateAll evaluates every condition on both phases.
func (o Options) EvaluateAll(conds []scenarios.Condition, before, after *metrics.Snapshot) []Verdict {
	out := make([]Verdict, 0, len(conds))
	for _, c := range conds {
		v := Verdict{Condition: c, Status: NA, BeforeStatus: NA}
		if before != nil {
			v.Before = o.Evaluate(c, before)
			v.BeforeStatus, _ = Judge(c, v.Before)
		} else {
			v.Before = unknown("before phase not measured")
		}
		if after != nil {
			v.After = o.Evaluate(c, after)
			v.Status, v.Reason = Judge(c, v.After)
		} else {
			v.After = unknown("after phase not measured")
			v.Reason = v.After.Reason
		}
		out = append(out, v)
	}
	return out
}

// Judge compares a measured result with its condition.
//
// Comparators are =, !=, <, <=, >, >=. For = (and !=) a tolerance widens
// equality: |measured − target| ≤ tolerance, in percentage points for
// shares and in percent of the target for plain numbers. Without a
// tolerance, = is exact for plain numbers and for the shares 0% and 100%;
// for any other share it means "the target lies inside the 95% Wilson
// interval of the measurement" — the default tolerance is the sampling
// noise. Tolerances are ignored by <, <=, >, >=.
//
// Sample-size rule: when a share misses its condition but the target lies
// inside the 95% Wilson interval, the sample cannot tell the two apart, so
// the status is WARN with a reason naming the noise, n and Yamane's n,
// rather than a silent FAIL. Data that is missing fails with the reason.
func Judge(c scenarios.Condition, r Result) (Status, string) {
	if !r.Known {
		return Fail, r.Reason
	}
	m, t := r.Value, c.Value
	unit := r.Unit
	tolAbs, hasTol := tolerance(c, r)
	var ok bool
	var how string
	switch c.Op {
	case "=", "":
		switch {
		case hasTol:
			ok = math.Abs(m-t) <= tolAbs+eps(t)
			how = fmt.Sprintf("target %s ± %s", fmtVal(t, unit), fmtVal(tolAbs, unitOfTol(r)))
		case r.Share && t != 0 && t != 100:
			ok = t >= r.CI[0]-eps(t) && t <= r.CI[1]+eps(t)
			how = fmt.Sprintf("target %s inside the 95%% interval [%s, %s] at n=%d", fmtVal(t, unit), fmtVal(r.CI[0], unit), fmtVal(r.CI[1], unit), r.N)
		default:
			ok = math.Abs(m-t) <= eps(t)
			how = "target exactly " + fmtVal(t, unit)
		}
	case "!=":
		if hasTol {
			ok = math.Abs(m-t) > tolAbs+eps(t)
		} else {
			ok = math.Abs(m-t) > eps(t)
		}
		how = "target ≠ " + fmtVal(t, unit)
	case "<":
		ok, how = m < t, "target < "+fmtVal(t, unit)
	case "<=":
		ok, how = m <= t+eps(t), "target ≤ "+fmtVal(t, unit)
	case ">":
		ok, how = m > t, "target > "+fmtVal(t, unit)
	case ">=":
		ok, how = m >= t-eps(t), "target ≥ "+fmtVal(t, unit)
	default:
		return Fail, fmt.Sprintf("unknown comparator %q", c.Op)
	}
	measured := "measured " + fmtVal(m, unit)
	if r.Share {
		measured += fmt.Sprintf(" (%s/%d)", strconv.FormatFloat(r.Count, 'f', -1, 64), r.N)
	}
	if ok {
		return Pass, measured + ", " + how
	}
	if r.Share && c.Op != "!=" && t >= r.CI[0]-eps(t) && t <= r.CI[1]+eps(t) {
		yam := int(math.Ceil(r.Yamane))
		if hasTol && tolAbs < r.Noise {
			return Warn, fmt.Sprintf("%s, %s: tolerance ±%s pts is tighter than the sampling noise ±%s pts at n=%d (the book's Yamane formula wants n ≥ %d for a ±5%% margin)",
				measured, how, fmtNum(round(tolAbs, 3)), fmtNum(round(r.Noise, 1)), r.N, yam)
		}
		if !hasTol || c.Op != "=" {
			return Warn, fmt.Sprintf("%s, %s: %s lies inside the 95%% interval [%s, %s] at n=%d, so the sample cannot decide (the book's Yamane formula wants n ≥ %d for a ±5%% margin)",
				measured, how, fmtVal(t, unit), fmtVal(r.CI[0], unit), fmtVal(r.CI[1], unit), r.N, yam)
		}
	}
	return Fail, measured + ", " + how
}

// tolerance returns the condition's tolerance in the result's unit.
func tolerance(c scenarios.Condition, r Result) (float64, bool) {
	if c.Tolerance == nil {
		return 0, false
	}
	tol := math.Abs(*c.Tolerance)
	if r.Share {
		return tol, true // percentage points
	}
	return tol / 100 * math.Abs(c.Value), true // relative percent of the target
}

func unitOfTol(r Result) string {
	if r.Share {
		return " pts"
	}
	return r.Unit
}

// eps absorbs floating-point noise in comparisons.
func eps(t float64) float64 { return 1e-9 * math.Max(1, math.Abs(t)) }

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// fmtVal renders a value in its unit for reasons: 50%, 12.3ms, 2000.
func fmtVal(v float64, unit string) string {
	switch unit {
	case UnitPercent:
		return fmtNum(round(v, 3)) + "%"
	case " pts":
		return fmtNum(round(v, 3)) + " pts"
	case UnitSeconds:
		switch a := math.Abs(v); {
		case a == 0:
			return "0s"
		case a < 1e-3:
			return fmtNum(round(v*1e6, 1)) + "µs"
		case a < 1:
			return fmtNum(round(v*1e3, 3)) + "ms"
		}
		return fmtNum(round(v, 3)) + "s"
	case UnitCount:
		return fmtNum(round(v, 3))
	}
	return fmtNum(round(v, 3)) + " " + unit
}
