package scenarios

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// Condition is one success condition: metric[matchers] <op> value.
// Example: request_count[name=currency_v2, status_code=500] = 50% ± 0.1.
type Condition struct {
	// Text is the condition in its canonical one-line form (String()), e.g.
	// "request_count[name=currency_v2, status_code=500] = 50% ± 0.1"; how
	// the file spelled it is kept in Scenario.Notes.
	Text   string `json:"text" yaml:"text"`
	Metric string `json:"metric" yaml:"metric"` // e.g. request_count, request_duration_p50 (lower case)
	// Matchers select the series, name matchers first; none = what the load
	// generator (the end user) saw.
	Matchers []Matcher `json:"matchers,omitempty" yaml:"matchers,omitempty"`
	// Op is one of "=", "!=", "<", "<=", ">", ">=".
	Op string `json:"op" yaml:"op"`
	// Value is in the metric's base unit: seconds for durations and CPU,
	// megabytes for memory, a percentage (0–100) when Share is true,
	// otherwise a plain number (count, req/s).
	Value float64 `json:"value" yaml:"value"`
	// Share is true when the value was written with % on request_count:
	// the count is divided by the count of the same selector without its
	// status_code matcher (see docs/scenarios.md).
	Share bool `json:"share,omitempty" yaml:"share,omitempty"`
	// Unit as written: "", "ms", "s", "MB", "%".
	Unit string `json:"unit,omitempty" yaml:"unit,omitempty"`
	// Tolerance in percentage points for shares, relative percent otherwise;
	// nil when not given.
	Tolerance *float64 `json:"tolerance,omitempty" yaml:"tolerance,omitempty"`
	// Pos is where the condition is in its file (line/column, 1-based).
	Pos Position `json:"-" yaml:"-"`
}

// Matcher is one label matcher of a selector: name=payments, status_code!=200.
type Matcher struct {
	Label string `json:"label" yaml:"label"` // "name" or "status_code" ("status" is read as status_code)
	Op    string `json:"op" yaml:"op"`       // "=" or "!="
	// Value: a component name (payments, currency_v2, api_sidecar) or a
	// status code as decimal text ("200"; "0" = no response).
	Value string `json:"value" yaml:"value"`
}

// Position is a place in a scenario file.
type Position struct {
	File   string // as given to Load/LoadBytes
	Line   int    // 1-based
	Column int    // 1-based
}

// Condition metrics. A metric ending in _pNN is a percentile (p50, p90,
// p99, p999 = 99.9th).
const (
	MetricRequestCount       = "request_count"        // requests counted at the server side; plain count, or a share with %
	MetricErrorRate          = "error_rate"           // share of non-2xx answers, percent 0–100
	MetricRetriesTotal       = "retries_total"        // retries made by sidecars, count
	MetricRequestsPerSecondP = "requests_per_second"  // requests_per_second_pNN: per-second request rate percentile, req/s
	MetricRequestDurationP   = "request_duration"     // request_duration_pNN: latency percentile, seconds
	MetricCPUSecondsP        = "cpu_seconds"          // cpu_seconds_pNN: CPU seconds used per second of wall time, percentile
	MetricMemoryMax          = "memory_megabytes_max" // resident memory, maximum over the run, MB
	MetricMemoryMin          = "memory_megabytes_min" // resident memory, minimum over the run, MB
)

// Condition metrics of the policy patterns.
const (
	// MetricAmplification is the requests a component received ÷ the
	// requests the user (load generator) sent; a plain number (1 = no
	// amplification; 16 = every user request became 16 there).
	MetricAmplification = "amplification"
	// MetricEjectionsTotal counts endpoint ejections by circuit breakers
	// (outlier detection) of the selected service or version; a count.
	MetricEjectionsTotal = "ejections_total"
	// MetricCanaryWeight is the canary's weight at the end of the phase, in
	// percent (0–100): 100 after a promotion, 0 after a rollback.
	MetricCanaryWeight = "canary_weight"
)

// Labels a selector may use. "status" is read as LabelStatusCode.
const (
	LabelName       = "name"
	LabelStatusCode = "status_code"
)

// Family is the metric without its percentile suffix: "request_duration"
// for "request_duration_p50"; the metric itself otherwise.
func (c Condition) Family() string {
	f, _, _ := splitMetric(c.Metric)
	return f
}

// Quantile is the percentile of a _pNN metric as a fraction: p50 → 0.5,
// p99 → 0.99, p999 → 0.999. ok is false for metrics without a percentile.
func (c Condition) Quantile() (q float64, ok bool) {
	_, digits, ok := splitMetric(c.Metric)
	if !ok || digits == "" {
		return 0, false
	}
	v, err := strconv.ParseFloat("0."+digits, 64)
	if err != nil {
		return 0, false
	}
	return v, true
}

// Match returns the value of the first matcher on label with operator op,
// and whether there is one.
func (c Condition) Match(label, op string) (string, bool) {
	for _, m := range c.Matchers {
		if m.Label == label && m.Op == op {
			return m.Value, true
		}
	}
	return "", false
}

// Selector is the canonical metric[matchers] text, e.g.
// request_count[name=payments, status_code!=200].
func (c Condition) Selector() string {
	if len(c.Matchers) == 0 {
		return c.Metric
	}
	parts := make([]string, len(c.Matchers))
	for i, m := range c.Matchers {
		parts[i] = m.Label + m.Op + m.Value
	}
	return c.Metric + "[" + strings.Join(parts, ", ") + "]"
}

// ValueString is the value as the long form writes it: the operator
// (omitted for "="), the number in the unit it was written in, and the
// unit: "100%", "> 180", "< 100ms", "2000".
func (c Condition) ValueString() string {
	v := formatValue(c.Value, c.Unit)
	if c.Op == "=" || c.Op == "" {
		return v
	}
	return c.Op + " " + v
}

// String is the canonical one-line form, which ParseConditionString reads
// back: request_count[name=currency_v2, status_code=500] = 50% ± 0.1.
func (c Condition) String() string {
	op := c.Op
	if op == "" {
		op = "="
	}
	s := c.Selector() + " " + op + " " + formatValue(c.Value, c.Unit)
	if c.Tolerance != nil {
		s += " ± " + formatNumber(*c.Tolerance)
	}
	return s
}

// ParseCondition reads one success condition from its parts as a scenario
// file writes them: metric is "metric[selector]" (request_count[name=payments,
// status_code=200], request_count["name=payments_v1, status=200"],
// memory_megabytes_max[name=”payments"]), value is "[op] number[unit]"
// ("> 180", "< 100ms", "50%", "2000"; a bare value means =), tolerance is
// in percentage points for shares and relative percent otherwise (nil if
// not given). The value is converted to the metric's base unit (seconds,
// MB, percent). An error is an *Error whose Column is the 1-based rune
// position in metric (Field "condition"), value (Field "value") or
// Field "tolerance".
func ParseCondition(metric, value string, tolerance *float64) (Condition, error) {
	c, _, iss := parseCond(metric, value, tolerance)
	if iss != nil {
		return Condition{}, iss.toError()
	}
	return c, nil
}

// ParseConditionString reads a condition written on one line:
// "metric[selector] [op] value [± tolerance]", e.g.
// "request_count[name=currency_v2, status_code=500] = 50% ± 0.1" (the
// String form; "+-" may stand for "±", and a ":" may follow the selector).
// Errors are *Error with Column relative to s.
func ParseConditionString(s string) (Condition, error) {
	c, _, iss := parseCondString(s)
	if iss != nil {
		return Condition{}, iss.toError()
	}
	return c, nil
}

// ShareBase is the selector a share condition (Share true) is divided by:
//   - with a status_code matcher: the same selector without its status_code
//     matchers (request_count[name=currency_v2, status_code=500] = 50% is
//     ÷ request_count[name=currency_v2]);
//   - with only name=<version> (no status_code): all requests to that
//     version's service (request_count[name=payments_v1] = 50% is
//     ÷ request_count[name=payments]);
//   - otherwise the selector itself.
//
// Conditions that are not shares return their own matchers.
func (t Topology) ShareBase(c Condition) []Matcher {
	if !c.Share {
		return c.Matchers
	}
	var out []Matcher
	hadStatus := false
	for _, m := range c.Matchers {
		if m.Label == LabelStatusCode {
			hadStatus = true
			continue
		}
		out = append(out, m)
	}
	if !hadStatus && len(out) == 1 && out[0].Label == LabelName && out[0].Op == "=" {
		for _, s := range t.Services {
			for _, v := range s.Versions {
				if v.Name == out[0].Value && v.Name != s.Name {
					return []Matcher{{Label: LabelName, Op: "=", Value: s.Name}}
				}
			}
		}
	}
	return out
}

// ---- parser ----

type condPart int

const (
	partMetric condPart = iota
	partValue
	partTolerance
)

// condIssue is a problem in a condition, at a rune offset of one part.
type condIssue struct {
	part      condPart
	off       int
	msg, hint string
}

func (i *condIssue) field() string {
	switch i.part {
	case partValue:
		return "value"
	case partTolerance:
		return "tolerance"
	}
	return "condition"
}

func (i *condIssue) toError() *Error {
	return &Error{Line: 1, Column: i.off + 1, Field: i.field(), Msg: i.msg, Hint: i.hint}
}

func issue(part condPart, off int, hint, format string, args ...any) *condIssue {
	return &condIssue{part: part, off: off, msg: fmt.Sprintf(format, args...), hint: hint}
}

const metricHint = "metrics are request_count, error_rate, retries_total, amplification, ejections_total, canary_weight, requests_per_second_pNN, request_duration_pNN, cpu_seconds_pNN, memory_megabytes_max and memory_megabytes_min"

// splitMetric splits request_duration_p99 into ("request_duration", "99", true).
func splitMetric(m string) (family, digits string, ok bool) {
	switch m {
	case MetricRequestCount, MetricErrorRate, MetricRetriesTotal, MetricAmplification, MetricEjectionsTotal, MetricCanaryWeight, MetricMemoryMax, MetricMemoryMin:
		return m, "", true
	}
	for _, f := range []string{MetricRequestsPerSecondP, MetricRequestDurationP, MetricCPUSecondsP} {
		rest, found := strings.CutPrefix(m, f+"_p")
		if !found {
			continue
		}
		if rest == "" || len(rest) > 4 || strings.Trim(rest, "0123456789") != "" || strings.Trim(rest, "0") == "" {
			return f, "", false
		}
		return f, rest, true
	}
	return m, "", false
}

func isIdentRune(r rune) bool {
	return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
}

func isNameRune(r rune) bool {
	return isIdentRune(r) || r == '-' || r == '.'
}

// parseCondString splits "selector op value ± tol" and parses the parts.
func parseCondString(s string) (Condition, []string, *condIssue) {
	rs := []rune(s)
	i := 0
	for i < len(rs) && unicode.IsSpace(rs[i]) {
		i++
	}
	for i < len(rs) && isIdentRune(rs[i]) {
		i++
	}
	end := i
	j := i
	for j < len(rs) && unicode.IsSpace(rs[j]) {
		j++
	}
	if j < len(rs) && rs[j] == '[' {
		end = -1
		for k := len(rs) - 1; k > j; k-- {
			if rs[k] == ']' {
				end = k + 1
				break
			}
		}
		if end < 0 {
			return Condition{}, nil, issue(partMetric, j, "close the selector with ]", "selector is not closed")
		}
	}
	metric := string(rs[:end])
	rest := rs[end:]
	off := end
	// Optional ":" after the selector.
	k := 0
	for k < len(rest) && unicode.IsSpace(rest[k]) {
		k++
	}
	if k < len(rest) && rest[k] == ':' {
		k++
	}
	valueRunes := rest[k:]
	valueOff := off + k
	var tol *float64
	tolOff := 0
	// Tolerance after ± or +-.
	for t := 0; t < len(valueRunes); t++ {
		n := 0
		if valueRunes[t] == '±' {
			n = 1
		} else if valueRunes[t] == '+' && t+1 < len(valueRunes) && valueRunes[t+1] == '-' {
			n = 2
		}
		if n == 0 {
			continue
		}
		tolOff = valueOff + t + n
		for tolOff < len(rs) && unicode.IsSpace(rs[tolOff]) {
			tolOff++
		}
		ts := strings.TrimSpace(string(valueRunes[t+n:]))
		f, err := parseFloat(strings.TrimSpace(strings.TrimSuffix(ts, "%")))
		if err != nil {
			return Condition{}, nil, issue(partTolerance, tolOff, "write the tolerance as a number: ± 0.1", "tolerance %s is not a number", quote(ts))
		}
		tol = &f
		valueRunes = valueRunes[:t]
		break
	}
	c, notes, iss := parseCond(metric, string(valueRunes), tol)
	if iss != nil && iss.part == partValue {
		iss.off += valueOff
	}
	if iss != nil && iss.part == partTolerance {
		iss.off = tolOff
	}
	return c, notes, iss
}

// parseCond parses a condition from its parts; notes say how quirks were read.
func parseCond(metric, value string, tol *float64) (Condition, []string, *condIssue) {
	var c Condition
	var notes []string
	rs := []rune(metric)
	i := 0
	for i < len(rs) && unicode.IsSpace(rs[i]) {
		i++
	}
	start := i
	for i < len(rs) && isIdentRune(rs[i]) {
		i++
	}
	name := strings.ToLower(string(rs[start:i]))
	if name == "" {
		return c, nil, issue(partMetric, start, metricHint, "expected a metric name such as request_count")
	}
	family, _, ok := splitMetric(name)
	if !ok {
		hint := metricHint
		if sug := suggest(name, []string{"request_count", "error_rate", "retries_total", "amplification", "ejections_total", "canary_weight", "requests_per_second_p50", "request_duration_p50", "request_duration_p99", "cpu_seconds_p50", "memory_megabytes_max", "memory_megabytes_min"}); sug != "" {
			hint = "did you mean " + sug + "? " + hint
		}
		return c, nil, issue(partMetric, start, hint, "unknown metric %s", quote(name))
	}
	if name != string(rs[start:i]) {
		notes = append(notes, "metric name lower-cased")
	}
	c.Metric = name
	for i < len(rs) && unicode.IsSpace(rs[i]) {
		i++
	}
	if i < len(rs) {
		if rs[i] != '[' {
			return c, nil, issue(partMetric, i, "write labels in brackets: request_count[name=payments, status_code=200]", "unexpected %q after the metric name", string(rs[i]))
		}
		closeAt := -1
		for k := len(rs) - 1; k > i; k-- {
			if rs[k] == ']' {
				closeAt = k
				break
			}
			if !unicode.IsSpace(rs[k]) {
				break
			}
		}
		if closeAt < 0 {
			return c, nil, issue(partMetric, len(rs), "close the selector with ]", "selector is not closed")
		}
		ms, mnotes, iss := parseMatchers(rs[i+1:closeAt], i+1)
		if iss != nil {
			return Condition{}, nil, iss
		}
		// Canonical order: name matchers first, then status_code.
		sort.SliceStable(ms, func(a, b int) bool { return ms[a].Label == LabelName && ms[b].Label != LabelName })
		c.Matchers = ms
		notes = append(notes, mnotes...)
	}

	vnotes, iss := parseValue(&c, family, value)
	if iss != nil {
		return Condition{}, nil, iss
	}
	notes = append(notes, vnotes...)

	if tol != nil {
		t := *tol
		switch {
		case math.IsNaN(t) || math.IsInf(t, 0):
			return Condition{}, nil, issue(partTolerance, 0, "write the tolerance as a number such as 0.1", "tolerance must be a number")
		case t < 0:
			return Condition{}, nil, issue(partTolerance, 0, "a tolerance is a distance either side of the value: write it without a sign", "tolerance must be ≥ 0 (got %s)", formatNumber(t))
		case c.Share && t > 100:
			return Condition{}, nil, issue(partTolerance, 0, "a share's tolerance is in percentage points (0–100)", "tolerance must be ≤ 100 (got %s)", formatNumber(t))
		}
		c.Tolerance = &t
		if c.Share || c.Unit == "%" {
			notes = append(notes, "tolerance "+formatNumber(t)+" read as ± "+formatNumber(t)+" percentage points")
		} else {
			notes = append(notes, "tolerance "+formatNumber(t)+" read as ± "+formatNumber(t)+"% of the value")
		}
	}
	c.Text = c.String()
	return c, notes, nil
}

// parseMatchers reads the inside of [...]: label op value, separated by
// commas or spaces; quotes (straight or typographic) around values or
// around the whole list are accepted. off is the rune offset of rs[0].
func parseMatchers(rs []rune, off int) ([]Matcher, []string, *condIssue) {
	var out []Matcher
	var notes []string
	seenQuoteSep, seenSpaceSep := false, false
	i := 0
	for {
		sawComma, sawQuote := false, false
		for i < len(rs) && (unicode.IsSpace(rs[i]) || rs[i] == ',' || isQuote(rs[i])) {
			if rs[i] == ',' {
				sawComma = true
			}
			if isQuote(rs[i]) {
				sawQuote = true
			}
			i++
		}
		if i >= len(rs) {
			break
		}
		if sawQuote {
			seenQuoteSep = true
		}
		if len(out) > 0 && !sawComma && !sawQuote {
			seenSpaceSep = true
		}
		start := i
		for i < len(rs) && isIdentRune(rs[i]) {
			i++
		}
		label := strings.ToLower(string(rs[start:i]))
		if label == "" {
			return nil, nil, issue(partMetric, off+i, "write label=value, e.g. name=payments", "expected a label, found %q", string(rs[i]))
		}
		switch label {
		case LabelName, LabelStatusCode:
		case "status", "code":
			notes = append(notes, label+" read as status_code")
			label = LabelStatusCode
		default:
			hint := "labels are name and status_code (status is read as status_code)"
			if s := suggest(label, []string{LabelName, LabelStatusCode}); s != "" {
				hint = "did you mean " + s + "? " + hint
			}
			return nil, nil, issue(partMetric, off+start, hint, "unknown label %s", quote(label))
		}
		for i < len(rs) && unicode.IsSpace(rs[i]) {
			i++
		}
		op := ""
		switch {
		case i+1 < len(rs) && rs[i] == '!' && rs[i+1] == '=':
			op, i = "!=", i+2
		case i+1 < len(rs) && rs[i] == '=' && rs[i+1] == '=':
			op, i = "=", i+2
		case i < len(rs) && rs[i] == '=':
			op, i = "=", i+1
		case i < len(rs) && rs[i] == '≠':
			op, i = "!=", i+1
		default:
			return nil, nil, issue(partMetric, off+i, "write label=value or label!=value", "expected = or != after %s", label)
		}
		for i < len(rs) && unicode.IsSpace(rs[i]) {
			i++
		}
		vstart := i
		var val string
		if i < len(rs) && isQuote(rs[i]) {
			i++
			q := i
			for i < len(rs) && !isQuote(rs[i]) {
				i++
			}
			if i >= len(rs) {
				return nil, nil, issue(partMetric, off+vstart, "close the quote", "quote not closed")
			}
			val = strings.TrimSpace(string(rs[q:i]))
			if isTypographicQuote(rs[vstart]) || isTypographicQuote(rs[i]) {
				notes = append(notes, "typographic quotes around "+val+" removed")
			}
			i++
		} else {
			for i < len(rs) && !unicode.IsSpace(rs[i]) && rs[i] != ',' && !isQuote(rs[i]) {
				i++
			}
			val = string(rs[vstart:i])
		}
		if val == "" {
			return nil, nil, issue(partMetric, off+vstart, "write a value after "+label+op, "no value after %s%s", label, op)
		}
		switch label {
		case LabelStatusCode:
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 || n > 999 || len(val) > 3 {
				return nil, nil, issue(partMetric, off+vstart, "write a status code such as 200 or 500 (0 = no response)", "status_code must be a number from 0 to 999, not %s", quote(val))
			}
			val = strconv.Itoa(n)
		case LabelName:
			for _, r := range val {
				if !isNameRune(r) {
					return nil, nil, issue(partMetric, off+vstart, "names are words such as payments, currency_v2 or api_sidecar", "name %s has the character %q", quote(val), string(r))
				}
			}
		}
		for _, m := range out {
			if m.Label == label && m.Op == "=" && op == "=" {
				return nil, nil, issue(partMetric, off+start, "keep one "+label+"= matcher", "%s= given twice", label)
			}
		}
		out = append(out, Matcher{Label: label, Op: op, Value: val})
	}
	if seenQuoteSep {
		notes = append(notes, "quotes around the matchers ignored")
	}
	if seenSpaceSep {
		notes = append(notes, "matchers separated by a space read as separate matchers")
	}
	return out, notes, nil
}

// parseValue reads "[op] number[unit]" into c.Op, c.Value, c.Unit, c.Share.
func parseValue(c *Condition, family, value string) ([]string, *condIssue) {
	var notes []string
	rs := []rune(value)
	// Trim spaces and any quote characters around the value.
	lo, hi := 0, len(rs)
	for lo < hi && (unicode.IsSpace(rs[lo]) || isQuote(rs[lo])) {
		if isQuote(rs[lo]) {
			notes = append(notes, "quotes around the value removed")
		}
		lo++
	}
	for hi > lo && (unicode.IsSpace(rs[hi-1]) || isQuote(rs[hi-1])) {
		hi--
	}
	if lo >= hi {
		return nil, issue(partValue, 0, "write a value such as \"> 180\", \"< 100ms\", 2000 or 50%", "no value")
	}
	i := lo
	// The comparator: the symbols before the number ("" means =).
	op := "="
	j := i
	for j < hi && isComparatorRune(rs[j]) {
		j++
	}
	if j > i {
		sym := string(rs[i:j])
		known, ok := comparators[sym]
		if !ok {
			hint := "use =, !=, <, <=, >, >="
			if slip, ok := comparatorSlips[sym]; ok {
				hint = "did you mean " + slip + "? " + hint
			}
			return nil, issue(partValue, i, hint, "unknown comparator %s", quote(sym))
		}
		op, i = known, j
	}
	for i < hi && unicode.IsSpace(rs[i]) {
		i++
	}
	numStart := i
	if iss := plainNumber(rs[numStart:hi], numStart); iss != nil {
		return nil, iss
	}
	if i < hi && (rs[i] == '+' || rs[i] == '-') {
		i++
	}
	digits := 0
	for i < hi && rs[i] >= '0' && rs[i] <= '9' {
		i++
		digits++
	}
	if i < hi && rs[i] == '.' {
		i++
		for i < hi && rs[i] >= '0' && rs[i] <= '9' {
			i++
			digits++
		}
	}
	if digits > 0 && i < hi && (rs[i] == 'e' || rs[i] == 'E') {
		j := i + 1
		if j < hi && (rs[j] == '+' || rs[j] == '-') {
			j++
		}
		if j < hi && rs[j] >= '0' && rs[j] <= '9' {
			for j < hi && rs[j] >= '0' && rs[j] <= '9' {
				j++
			}
			i = j
		}
	}
	if digits == 0 {
		return nil, issue(partValue, numStart, "write a number after the operator, e.g. \"> 180\" or \"< 100ms\"", "expected a number in %s", quote(strings.TrimSpace(value)))
	}
	numText := string(rs[numStart:i])
	num, err := strconv.ParseFloat(numText, 64)
	above, fraction := false, num != math.Trunc(num)
	if err == nil && math.Abs(num) >= maxExact/2 && math.Abs(num) <= maxExact {
		// float64 rounds to whole numbers here: look at the digits.
		above, fraction = exactly(numText)
	}
	if err != nil || math.IsInf(num, 0) || math.IsNaN(num) || math.Abs(num) > maxExact || above {
		return nil, issue(partValue, numStart, "larger numbers cannot be compared exactly; write at most "+formatNumber(maxExact), "%s is out of range (at most %s)", quote(numText), formatNumber(maxExact))
	}
	// wrote is the number as written, for messages.
	wrote := formatNumber(num)
	if fraction && num == math.Trunc(num) {
		wrote = clip(numText)
	}
	unitStart := i
	for i < hi && unicode.IsSpace(rs[i]) {
		i++
	}
	unitEnd := i
	for unitEnd < hi && (unicode.IsLetter(rs[unitEnd]) || rs[unitEnd] == '%') {
		unitEnd++
	}
	unitRaw := string(rs[i:unitEnd])
	unit := ""
	switch strings.ToLower(unitRaw) {
	case "":
	case "%":
		unit = "%"
	case "ms":
		unit = "ms"
	case "s", "sec", "secs":
		unit = "s"
	case "mb":
		unit = "MB"
	default:
		return nil, issue(partValue, unitStart, "units are ms, s, MB and %", "unknown unit %s", quote(unitRaw))
	}
	rest := unitEnd
	for rest < hi && unicode.IsSpace(rs[rest]) {
		rest++
	}
	if rest < hi {
		return nil, issue(partValue, rest, "a value is one comparator and one number, e.g. \"< 100ms\"; write another condition for another comparison", "unexpected text after the value: %s", quote(string(rs[rest:hi])))
	}
	if unit != "" && unitRaw != unit {
		notes = append(notes, unitRaw+" read as "+unit)
	}
	if num < 0 {
		return nil, issue(partValue, numStart, "metrics are never negative", "value must be ≥ 0 (got %s)", formatNumber(num))
	}
	c.Op = op
	c.Unit = unit
	badUnit := func(allowed string) *condIssue {
		u := unit
		if u == "" {
			u = "a bare number"
		}
		return issue(partValue, unitStart, c.Metric+" takes "+allowed, "%s does not fit %s", u, c.Metric)
	}
	switch family {
	case MetricRequestCount:
		switch unit {
		case "%":
			if num > 100 {
				return nil, issue(partValue, numStart, "a share is between 0% and 100%", "share must be ≤ 100%% (got %s%%)", formatNumber(num))
			}
			c.Share = true
			c.Value = num
			notes = append(notes, formatNumber(num)+"% read as a share")
		case "":
			if fraction {
				return nil, issue(partValue, numStart, "a count is a whole number; write 50% for a share", "a count must be a whole number (got %s)", wrote)
			}
			c.Value = num
			notes = append(notes, formatNumber(num)+" read as a count of requests")
		default:
			return nil, badUnit("a count (2000) or a share (50%)")
		}
	case MetricErrorRate, MetricCanaryWeight:
		// Percent metrics: 0–100, a bare number is a percent.
		what, label, example := "an error rate", "error rate", "1"
		if c.Family() == MetricCanaryWeight {
			what, label, example = "a weight", "canary weight", "100"
		}
		if unit != "" && unit != "%" {
			return nil, badUnit("a percent (" + example + "% or " + example + ")")
		}
		if num > 100 {
			return nil, issue(partValue, numStart, what+" is between 0% and 100%", "%s must be ≤ 100%% (got %s)", label, formatNumber(num))
		}
		if unit == "" {
			notes = append(notes, formatNumber(num)+" read as "+formatNumber(num)+"% (a bare number is a percent)")
		}
		c.Unit = "%"
		c.Value = num
	case MetricRetriesTotal, MetricEjectionsTotal:
		// Count metrics: whole numbers without a unit.
		what, example := "retries", "500"
		if c.Family() == MetricEjectionsTotal {
			what, example = "ejections", "4"
		}
		if unit != "" {
			return nil, badUnit("a count of " + what + " (" + example + ")")
		}
		if fraction {
			return nil, issue(partValue, numStart, c.Family()+" is a count of "+what+": write a whole number such as "+example, "a count must be a whole number (got %s)", wrote)
		}
		c.Value = num
	case MetricAmplification:
		if unit != "" {
			return nil, badUnit("a plain number: requests received per request sent (2, not 200%)")
		}
		c.Value = num
	case MetricRequestsPerSecondP:
		if unit != "" {
			return nil, badUnit("a plain number")
		}
		c.Value = num
	case MetricRequestDurationP:
		switch unit {
		case "ms":
			c.Value = num / 1000
		case "s":
			c.Value = num
		default:
			return nil, issue(partValue, unitStart, "durations need a unit: write 100ms or 0.1s", "%s needs a unit (ms or s)", c.Metric)
		}
	case MetricCPUSecondsP:
		switch unit {
		case "ms":
			c.Value = num / 1000
		case "s":
			c.Value = num
		case "":
			c.Value = num
			notes = append(notes, formatNumber(num)+" read as "+formatNumber(num)+" CPU seconds")
		default:
			return nil, badUnit("seconds (2, 2s or 500ms)")
		}
	case MetricMemoryMax, MetricMemoryMin:
		switch unit {
		case "MB":
			c.Value = num
		case "":
			c.Value = num
			notes = append(notes, formatNumber(num)+" read as "+formatNumber(num)+" MB")
		default:
			return nil, badUnit("megabytes (100MB or 100)")
		}
	}
	return notes, nil
}

// maxExact is the largest number a condition value may have: every whole
// number up to it is a float64 exactly (2^53), so no count is rounded.
const maxExact = 1 << 53

// exactly reads a decimal number of magnitude 2^52–2^53 without rounding:
// whether it is above 2^53 and whether it has a fraction.
func exactly(text string) (above, fraction bool) {
	r, ok := new(big.Rat).SetString(text)
	if !ok {
		return false, false
	}
	r.Abs(r)
	return r.Cmp(new(big.Rat).SetInt64(maxExact)) > 0, !r.IsInt()
}

// comparators are the operators a condition value may start with.
var comparators = map[string]string{
	"=": "=", "==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=",
	"≤": "<=", "≥": ">=", "≠": "!=",
}

// comparatorSlips are unknown comparators whose meaning is plain.
var comparatorSlips = map[string]string{
	"=>": ">=", "=<": "<=", "<>": "!=", "=!": "!=", "/=": "!=", "=/=": "!=", "===": "=",
	"＝": "=", "＜": "<", "＞": ">", "！＝": "!=", "≦": "<=", "≧": ">=", "⩽": "<=", "⩾": ">=",
}

// isComparatorRune reports whether r may be part of a comparator: a symbol
// that cannot start a number, a unit or a quote.
func isComparatorRune(r rune) bool {
	return !unicode.IsSpace(r) && !unicode.IsLetter(r) && !unicode.IsDigit(r) && !isQuote(r) && !strings.ContainsRune("+-._%", r)
}

// plainNumber refuses a number written other than in plain decimals:
// 0x10, 0o17, 0b101, 1_000. rs starts at the number; off is its offset.
func plainNumber(rs []rune, off int) *condIssue {
	end := 0
	for end < len(rs) && (end == 0 && (rs[end] == '+' || rs[end] == '-') || isIdentRune(rs[end]) || rs[end] == '.') {
		end++
	}
	word := string(rs[:end])
	w := strings.TrimLeft(word, "+-")
	lead := w[:len(w)-len(strings.TrimLeft(w, "0123456789_."))]
	prefixed := len(w) >= 2 && w[0] == '0' && strings.ContainsRune("xXoObB", rune(w[1]))
	if !prefixed && !(strings.Contains(lead, "_") && strings.ContainsAny(lead, "0123456789")) {
		return nil
	}
	hint := "write plain decimal numbers such as 100"
	if v, err := strconv.ParseInt(word, 0, 64); err == nil {
		hint = "write plain decimal numbers, e.g. " + strconv.FormatInt(v, 10)
	} else if f, err := strconv.ParseFloat(word, 64); err == nil && !math.IsInf(f, 0) {
		hint = "write plain decimal numbers, e.g. " + formatNumber(f)
	}
	return issue(partValue, off, hint, "not a number: %s", quote(word))
}

// formatNumber writes f in the shortest form that reads back the same.
func formatNumber(f float64) string {
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// formatValue writes a base-unit value in the unit it was written in.
func formatValue(v float64, unit string) string {
	switch unit {
	case "ms":
		return formatScaled(v, 1000) + "ms"
	case "":
		return formatNumber(v)
	}
	return formatNumber(v) + unit
}

// formatScaled writes v·k with as few digits as read back to v (÷ k).
func formatScaled(v, k float64) string {
	s := strconv.FormatFloat(v*k, 'f', -1, 64)
	if f, err := strconv.ParseFloat(s, 64); err == nil && f/k == v {
		return s
	}
	for prec := 0; prec <= 20; prec++ {
		t := strconv.FormatFloat(v*k, 'f', prec, 64)
		if f, err := strconv.ParseFloat(t, 64); err == nil && f/k == v {
			return t
		}
	}
	return s
}

// suggest returns the candidate closest to s (edit distance ≤ 3), or "".
func suggest(s string, candidates []string) string {
	best, bestD := "", 4
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return 99
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
