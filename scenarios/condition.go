package scenarios

// Condition is one success condition: metric[matchers] <op> value.
// Example: request_count[name=currency_v2, status_code=500] = 50% ± 0.1.
type Condition struct {
	// Text is the condition as the user wrote it (for reports).
	Text     string    `json:"text" yaml:"text"`
	Metric   string    `json:"metric" yaml:"metric"` // e.g. request_count, request_duration_p50
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
	Value string `json:"value" yaml:"value"`
}

// Position is a place in a scenario file.
type Position struct {
	File   string
	Line   int
	Column int
}
