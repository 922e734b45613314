package scenarios

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Exact problem lines (file:line:col: field: msg; hint: hint) for the
// problems a QA pass found: one line per problem, every line with a hint,
// text from the file quoted and cut.
func TestProblemLines(t *testing.T) {
	perf := "performance_test:\n  duration: 1s\n"
	// cond puts value after "    - request_count[name=payments]: " (the
	// value starts at line 6, column 37).
	cond := func(value string) string {
		return retryDeployment + perf + "  success_conditions:\n    - request_count[name=payments]: " + value + "\n"
	}
	const condField = "c.yaml:6:%d: performance_test.success_conditions[0].value: "
	at := func(col string) string { return strings.Replace(condField, "%d", col, 1) }
	const comparatorHint = "; hint: use =, !=, <, <=, >, >="
	x100 := strings.Repeat("x", 100)
	x40 := strings.Repeat("x", 40)
	tests := []struct {
		name, yaml, want string
	}{
		// 2: binary data is refused up front, not echoed.
		{"binary data", "j\x19\xff\xfe" + strings.Repeat("abc\xc3", 100),
			"c.yaml: not a text file (binary data at byte 3); hint: scenario files are YAML text (UTF-8)"},
		{"NUL byte", "deployment:\x00\n",
			"c.yaml: not a text file (binary data at byte 12); hint: scenario files are YAML text (UTF-8)"},
		{"control character", retryDeployment + "performance_test:\n  duration: \x1b[1m1s\n",
			"c.yaml:4:13: control character \"\\x1b\" in the text; hint: scenario files are plain YAML text: delete the character"},
		{"long text quoted and cut", "deployment: " + x100 + "\n" + perf,
			"c.yaml:1:13: deployment: expected a mapping with one pattern, found the text \"" + x40 + "…\"; hint: write the pattern as a key under deployment:, e.g. deployment: {retry: {upstream_services: 2, upstream_retries: 3}}; patterns are retry, sidecar_proxy, circuit_breaking (or circuit-breaking), canary, timeouts, rate_limiting, fault_injection, retry_budgets"},
		{"escaped text", "deployment: \"a\\x01b\\u00e9\"\n" + perf,
			"c.yaml:1:13: deployment: expected a mapping with one pattern, found the text \"a\\x01bé\"; hint: write the pattern as a key under deployment:, e.g. deployment: {retry: {upstream_services: 2, upstream_retries: 3}}; patterns are retry, sidecar_proxy, circuit_breaking (or circuit-breaking), canary, timeouts, rate_limiting, fault_injection, retry_budgets"},
		{"long unknown key", retryDeployment + perf + "  " + x100 + ": 1\n",
			"c.yaml:5:3: performance_test.\"" + x40 + "…\": unknown key \"" + x40 + "…\"; hint: known keys here: duration, rps, threads, success_conditions"},
		{"long key in a YAML error", "deployment:\n  " + x100 + ": 1\n  " + x100 + ": 2\n",
			"c.yaml:3:3: not valid YAML: mapping key \"" + x40 + "…\" already defined at [2:3]; hint: check indentation and quoting around the place shown; values with ': ' or '#' need quotes"},
		{"long number", retryDeployment + "performance_test:\n  duration: 1s\n  rps: " + strings.Repeat("9", 400) + "\n",
			"c.yaml:5:8: performance_test.rps: expected a number, found the text \"" + strings.Repeat("9", 40) + "…\", which is out of range; hint: write a smaller number"},
		{"many top-level keys", "a: 1\nb: 2\n" + x100 + ": 3\nd: 4\ne: 5\nf: 6\n",
			"c.yaml:1:1: not a scenario: unknown top-level keys a, b, " + x40 + "…, d, e, and 1 more; hint: a long-form file starts with apiVersion: meshgym.dev/v1alpha1 and kind: Scenario; a book file has deployment: and performance_test:"},

		// 3: numbers that cannot be held exactly; counts are whole.
		{"count above 2^53", cond("99999999999999999999999"),
			at("37") + "\"99999999999999999999999\" is out of range (at most 9007199254740992); hint: larger numbers cannot be compared exactly; write at most 9007199254740992"},
		{"count 2^53+1", cond("9007199254740993"),
			at("37") + "\"9007199254740993\" is out of range (at most 9007199254740992); hint: larger numbers cannot be compared exactly; write at most 9007199254740992"},
		{"fraction hidden by rounding", cond("4503599627370496.5"),
			at("37") + "a count must be a whole number (got 4503599627370496.5); hint: a count is a whole number; write 50% for a share"},
		{"fractional retries_total", retryDeployment + perf + "  success_conditions:\n    - retries_total: 2.5\n",
			"c.yaml:6:22: performance_test.success_conditions[0].value: a count must be a whole number (got 2.5); hint: retries_total is a count of retries: write a whole number such as 500"},
		{"retries_total with a unit", retryDeployment + perf + "  success_conditions:\n    - retries_total: 5%\n",
			"c.yaml:6:23: performance_test.success_conditions[0].value: % does not fit retries_total; hint: retries_total takes a count of retries (500)"},

		// 4: a name listed twice in a canary is one problem.
		{"canary version twice", "deployment:\n  canary:\n    upstreams:\n      - {name: payments_v1, weight: 50}\n      - {name: payments_v1, weight: 50}\n" + perf,
			"c.yaml:5:16: deployment.canary.upstreams[1].name: payments_v1 listed twice; hint: list each version once"},
		{"canary version twice, weights differ", "deployment:\n  canary:\n    upstreams:\n      - {name: payments_v1, weight: 60}\n      - {name: payments_v1, weight: 40}\n" + perf,
			"c.yaml:5:16: deployment.canary.upstreams[1].name: payments_v1 listed twice; hint: list each version once"},

		// 5: a block of the wrong type is one problem, with a hint.
		{"retry not a mapping", "deployment: {retry: 5}\n" + perf,
			"c.yaml:1:21: deployment.retry: expected a mapping, found the number 5; hint: write retry: {upstream_services: 2, upstream_retries: 3, upstream_error_rate: [0, 50]}"},
		{"circuit-breaking not a mapping", "deployment:\n  circuit-breaking: [2]\n" + perf,
			"c.yaml:2:21: deployment.circuit-breaking: expected a mapping, found a list; hint: write circuit-breaking: {upstream_services: 2, upstream_error_rate: [0, 100], error_threshold: 2, ejection_duration: 60s}"},
		{"performance_test not a mapping", retryDeployment + "performance_test: 5\n",
			"c.yaml:3:19: performance_test: expected a mapping, found the number 5; hint: write performance_test: {duration: 200s, rps: 100, threads: 10}"},
		{"canary upstream not a mapping", "deployment:\n  canary:\n    upstreams: [payments_v1]\n" + perf,
			"c.yaml:3:17: deployment.canary.upstreams[0]: expected a mapping, found the text \"payments_v1\"; hint: write each upstream as {name: payments_v1, weight: 90}"},
		{"scalar without a hint before", "deployment:\n  retry: {upstream_services: [2], upstream_retries: 3}\n" + perf,
			"c.yaml:2:30: deployment.retry.upstream_services: expected a whole number, found a list; hint: write a whole number such as 3"},

		// 6: condition values.
		{"comparator ~", cond("\"~ 5\""), at("38") + "unknown comparator \"~\"" + comparatorHint},
		{"comparator =>", cond("\"=> 5\""), at("38") + "unknown comparator \"=>\"; hint: did you mean >=? use =, !=, <, <=, >, >="},
		{"comparator <>", cond("\"<> 5\""), at("38") + "unknown comparator \"<>\"; hint: did you mean !=? use =, !=, <, <=, >, >="},
		{"full-width =", cond("\"＝ 5\""), at("38") + "unknown comparator \"＝\"; hint: did you mean =? use =, !=, <, <=, >, >="},
		{"two comparisons", cond("\"= 5 = 6\""),
			at("42") + "unexpected text after the value: \"= 6\"; hint: a value is one comparator and one number, e.g. \"< 100ms\"; write another condition for another comparison"},
		{"text after a unit", cond("\"< 5% or so\""),
			at("43") + "unexpected text after the value: \"or so\"; hint: a value is one comparator and one number, e.g. \"< 100ms\"; write another condition for another comparison"},
		{"hex", cond("\"= 0x10\""), at("40") + "not a number: \"0x10\"; hint: write plain decimal numbers, e.g. 16"},
		{"hex unquoted", cond("0x10"), at("37") + "not a number: \"0x10\"; hint: write plain decimal numbers, e.g. 16"},
		{"underscores", cond("\"= 1_000\""), at("40") + "not a number: \"1_000\"; hint: write plain decimal numbers, e.g. 1000"},
		{"one-line form", retryDeployment + perf + "  success_conditions:\n    - 'request_count[name=payments] => 5'\n",
			"c.yaml:6:37: performance_test.success_conditions[0]: unknown comparator \"=>\"; hint: did you mean >=? use =, !=, <, <=, >, >="},

		// 7: what was found where a pattern was expected; durations too long.
		{"deployment is text", "deployment: \"text\"\n" + perf,
			"c.yaml:1:13: deployment: expected a mapping with one pattern, found the text \"text\"; hint: write the pattern as a key under deployment:, e.g. deployment: {retry: {upstream_services: 2, upstream_retries: 3}}; patterns are retry, sidecar_proxy, circuit_breaking (or circuit-breaking), canary, timeouts, rate_limiting, fault_injection, retry_budgets"},
		{"duration beyond time.Duration", retryDeployment + "performance_test:\n  duration: 9223372036854775807s\n",
			"c.yaml:4:13: performance_test.duration: duration 9223372036854775807s is too long (at most 168h); hint: durations are at most 168h (a week)"},
		{"duration above 168h", retryDeployment + "performance_test:\n  duration: 200h\n",
			"c.yaml:4:13: performance_test.duration: duration 200h is too long (at most 168h); hint: durations are at most 168h (a week)"},
		{"ejection duration beyond time.Duration", "deployment:\n  circuit_breaking: {upstream_services: 2, error_threshold: 2, ejection_duration: 99999999999h}\n" + perf,
			"c.yaml:2:83: deployment.circuit_breaking.ejection_duration: duration 99999999999h is too long (at most 168h); hint: durations are at most 168h (a week)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := LoadBytes("c.yaml", []byte(tt.yaml))
			if err == nil || s != nil {
				t.Fatalf("accepted:\n%s", tt.yaml)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// Values at the limits still load.
func TestProblemLinesAccepted(t *testing.T) {
	for _, item := range []string{
		"- request_count[name=payments]: 9007199254740992",
		"- retries_total: {value: \"<= 3\"}",
		"- 'request_count[name=payments] >= 017'", // leading zero: still decimal
		"- request_duration_p50: 100ms",
	} {
		y := retryDeployment + "performance_test:\n  duration: 168h\n  success_conditions:\n  " + item + "\n"
		if _, err := LoadBytes("ok.yaml", []byte(y)); err != nil {
			t.Errorf("%s: %v", item, err)
		}
	}
}

func TestParseConditionComparators(t *testing.T) {
	for _, tt := range []struct {
		value string
		col   int
		want  string // Error()
	}{
		{"~ 5", 1, `1:1: value: unknown comparator "~"; hint: use =, !=, <, <=, >, >=`},
		{" => 5", 2, `1:2: value: unknown comparator "=>"; hint: did you mean >=? use =, !=, <, <=, >, >=`},
		{"＝5", 1, `1:1: value: unknown comparator "＝"; hint: did you mean =? use =, !=, <, <=, >, >=`},
		{"= 5 = 6", 5, `1:5: value: unexpected text after the value: "= 6"; hint: a value is one comparator and one number, e.g. "< 100ms"; write another condition for another comparison`},
		{"0b101", 1, `1:1: value: not a number: "0b101"; hint: write plain decimal numbers, e.g. 5`},
		{"1e30", 1, `1:1: value: "1e30" is out of range (at most 9007199254740992); hint: larger numbers cannot be compared exactly; write at most 9007199254740992`},
	} {
		_, err := ParseCondition("request_count", tt.value, nil)
		if err == nil {
			t.Errorf("%q accepted", tt.value)
			continue
		}
		if got := err.Error(); got != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.value, got, tt.want)
		}
	}
}

// Load refuses what is not a regular file without reading it.
func TestLoadNotRegular(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(dir)
	if want := dir + ": not a regular file (a directory); hint: give the path of a scenario file"; err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	if err := CheckFile(dir); err == nil || !strings.Contains(err.Error(), "a directory") {
		t.Errorf("CheckFile(dir) = %v", err)
	}

	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte(strings.Repeat("#", MaxFileSize+1)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(big)
	if want := big + ": file is too large (131073 bytes; at most 131072); hint: scenario files are a few kilobytes of plain YAML"; err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}

	ok := filepath.Join(dir, "ok.yaml")
	if err := os.WriteFile(ok, []byte(retryDeployment+"performance_test: {duration: 1s}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckFile(ok); err != nil {
		t.Errorf("CheckFile(regular file) = %v", err)
	}
	if _, err := Load(ok); err != nil {
		t.Errorf("Load(regular file) = %v", err)
	}
}
