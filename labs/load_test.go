package labs

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

var update = flag.Bool("update", false, "rewrite docs/labs from the embedded labs")

// TestEmbeddedLabs loads every embedded lab and validates it: a broken
// lab fails here, not in a classroom.
func TestEmbeddedLabs(t *testing.T) {
	if err := Problems(); err != nil {
		t.Fatalf("embedded labs:\n%v", err)
	}
	labs := All()
	var names, patterns []string
	for _, l := range labs {
		names = append(names, l.Name)
		patterns = append(patterns, l.Pattern)
	}
	want := []string{"sidecar-proxy", "retries", "circuit-breaking", "timeouts", "canary", "rate-limiting", "fault-injection", "retry-budgets"}
	for _, w := range want {
		if !slices.Contains(names, w) {
			t.Errorf("no lab %s (have %v)", w, names)
		}
	}
	for i := 1; i < len(labs); i++ {
		if labs[i-1].Order > labs[i].Order {
			t.Errorf("All not in workshop order: %s (%d) before %s (%d)", labs[i-1].Name, labs[i-1].Order, labs[i].Name, labs[i].Order)
		}
	}
	if u := slices.Compact(slices.Sorted(slices.Values(patterns))); len(u) != len(patterns) {
		t.Errorf("two labs teach one pattern: %v", patterns)
	}
	l, err := Get("retries")
	if err != nil || l.Name != "retries" {
		t.Fatalf("Get(retries) = %v, %v", l, err)
	}
	if _, err := Get("nope"); err == nil || !strings.Contains(err.Error(), "retries") {
		t.Errorf("Get(nope) = %v, want the list of labs", err)
	}
}

// TestRetriesLabStartsFailing: the retries lab's run step starts with no
// retries, so the learner must change the knob to pass.
func TestRetriesLabStartsFailing(t *testing.T) {
	l, err := Get("retries")
	if err != nil {
		t.Fatal(err)
	}
	s := NewSession(l, &LabProgress{Current: "run-retries"})
	if kv := s.Knobs(); len(kv) != 1 || kv[0].Knob.Key != "retry.attempts" || kv[0].Value != "0" {
		t.Fatalf("knobs %+v, want retry.attempts starting at 0", kv)
	}
	sc, err := s.Scenario()
	if err != nil {
		t.Fatal(err)
	}
	if a := sc.Pattern.Retries[0].Attempts; a != 0 {
		t.Errorf("attempts %d, want 0", a)
	}
	// A run at the starting value: a quarter of the users' requests fail.
	fb := s.Record(result(600, 200, 600, 200, 400))
	if fb.Passed {
		t.Errorf("the starting knobs pass: %+v", fb)
	}
}

// labFS is a minimal valid lab "x" with its lab.yaml replaced by yaml.
func labFS(yaml string) fstest.MapFS {
	return fstest.MapFS{
		"x/lab.yaml": {Data: []byte(yaml)},
		"x/read.md":  {Data: []byte("# Read\n")},
		"x/run.md":   {Data: []byte("# Run\n")},
	}
}

const goodLab = `title: X
pattern: retries
summary: s
order: 1
minutes: 5
scenario: retries
setup: [load.duration=8s]
steps:
  - id: read
    kind: read
    title: Read
    file: read.md
  - id: guess
    kind: predict
    title: Guess
    file: read.md
    question: q?
    measure: {phase: before, expr: "request_count[status_code!=200]", share: true}
    choices:
      - {text: a, min: 0, max: 50}
      - {text: b, min: 50, max: 100}
  - id: run
    kind: run
    title: Run
    file: run.md
    knobs:
      - {key: retry.attempts, label: retries, values: ["0", "3"], default: "0"}
      - {key: currency_v2.errorRate, label: errors, values: ["50", "100"], default: "50"}
    checks:
      - {condition: "request_count[status_code!=200] < 1%", pass: ok, fail: no}
    hint: h
    solution: [retry.attempts=3]
`

func TestLoadValidation(t *testing.T) {
	if _, err := LoadFS(labFS(goodLab)); err != nil {
		t.Fatalf("good lab: %v", err)
	}
	cases := []struct {
		name, old, new string
		want           string
	}{
		{"unknown field names file and line", "    hint: h\n", "    hint: h\n    hints: x\n", `x/lab.yaml:32:5: unknown field "hints"`},
		{"wrong type", "order: 1", "order: first", "x/lab.yaml:4:"},
		{"duplicate id", "id: guess", "id: read", `step read: id used twice`},
		{"requires a later step", "    file: read.md\n  - id: guess", "    file: read.md\n    requires: [run]\n  - id: guess", `requires "run", which is not an earlier step`},
		{"gap between choices", "{text: b, min: 50", "{text: b, min: 60", "choice 2 starts at 60 but choice 1 ends at 50"},
		{"share not covered to 100", "min: 50, max: 100", "min: 50, max: 90", "a share can reach 100"},
		{"one choice", "      - {text: b, min: 50, max: 100}\n", "", "at least 2 choices"},
		{"no measure", `    measure: {phase: before, expr: "request_count[status_code!=200]", share: true}` + "\n", "", "needs a measure"},
		{"measure does not parse", `expr: "request_count[status_code!=200]", share`, `expr: "request_count[[", share`, `measure "request_count[["`},
		{"bad phase", "phase: before", "phase: during", `measure phase "during"`},
		{"knob key not a Set key", "key: retry.attempts", "key: retry.tries", `knob "retry.tries" is not a Set key`},
		{"knob version unknown", "key: currency_v2.errorRate", "key: currency_v9.errorRate", `knob "currency_v9.errorRate" is not a Set key`},
		{"knob value refused", `values: ["50", "100"]`, `values: ["50", "150"]`, `knob currency_v2.errorRate: value "150"`},
		{"default not offered", `values: ["0", "3"], default: "0"`, `values: ["0", "3"], default: "1"`, `default "1" is not one of its values`},
		{"check does not parse", `condition: "request_count[status_code!=200] < 1%"`, `condition: "request_count < lots"`, `check "request_count < lots"`},
		{"solution not a knob", "solution: [retry.attempts=3]", "solution: [load.rps=10]", "load.rps is not a knob of this step"},
		{"solution value not offered", "solution: [retry.attempts=3]", "solution: [retry.attempts=2]", "2 is not one of the offered values"},
		{"no solution", "    solution: [retry.attempts=3]\n", "", "needs a solution"},
		{"setup refused", "setup: [load.duration=8s]", "setup: [load.duration=fast]", "setup load.duration=fast"},
		{"unknown scenario", "scenario: retries", "scenario: nope", `scenario "nope"`},
		{"bad kind", "kind: read", "kind: watch", `kind "watch"`},
		{"missing file", "file: run.md", "file: nope.md", "file nope.md"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(goodLab, c.old) {
				t.Fatalf("fixture lacks %q", c.old)
			}
			src := strings.Replace(goodLab, c.old, c.new, 1)
			_, err := LoadFS(labFS(src))
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "x/lab.yaml") {
				t.Errorf("error %v does not start with the file", err)
			}
		})
	}
	// A predict step as the last step can never be judged.
	src := goodLab + `  - id: late
    kind: predict
    title: Late
    file: read.md
    question: q?
    measure: {phase: after, expr: "amplification[name=currency]"}
    choices:
      - {text: a, min: 0, max: 2}
      - {text: b, min: 2, max: 100}
`
	if _, err := LoadFS(labFS(src)); err == nil || !strings.Contains(err.Error(), "step late: a predict step needs a run step after it") {
		t.Errorf("late predict: %v", err)
	}
	// Placeholders are checked at load time.
	fs := labFS(goodLab)
	fs["x/read.md"] = &fstest.MapFile{Data: []byte(`{{share "later" "request_count"}}`)}
	if _, err := LoadFS(fs); err == nil || !strings.Contains(err.Error(), "placeholder") {
		t.Errorf("bad placeholder: %v", err)
	}
	fs["x/read.md"] = &fstest.MapFile{Data: []byte(`{{ value }}`)}
	if _, err := LoadFS(fs); err == nil || !strings.Contains(err.Error(), "is not a placeholder") {
		t.Errorf("stray braces: %v", err)
	}
}

// TestDocsUpToDate fails when docs/labs differs from what WriteDocs
// produces; -update rewrites it (go generate ./labs does the same).
func TestDocsUpToDate(t *testing.T) {
	dir := filepath.Join("..", "docs", "labs")
	if *update {
		if err := WriteDocs(dir); err != nil {
			t.Fatal(err)
		}
	}
	pages := DocPages(All())
	for name, want := range pages {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v (run go test ./labs -run TestDocsUpToDate -update)", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("docs/labs/%s is out of date: run go test ./labs -run TestDocsUpToDate -update", name)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if _, ok := pages[e.Name()]; !ok {
			t.Errorf("docs/labs/%s is not generated from any lab: remove it", e.Name())
		}
	}
	// The pages never reveal an answer: no choice is marked, and the
	// placeholders say what the run will measure.
	for _, l := range All() {
		page := string(pages[l.Name+".md"])
		if strings.Contains(page, "{{") {
			t.Errorf("%s.md has an unfilled placeholder", l.Name)
		}
		for _, st := range l.Steps {
			if !strings.Contains(page, st.Title) {
				t.Errorf("%s.md lacks step %q", l.Name, st.Title)
			}
		}
	}
}

// A learner following a lab from the CLI carries each earlier run step's
// solution into later commands, so every command can pass.
func TestCLISettingsCarrySolutions(t *testing.T) {
	l, err := Get("retries")
	if err != nil {
		t.Fatal(err)
	}
	idx := map[string]int{}
	for i, st := range l.Steps {
		idx[st.ID] = i
	}
	tests := []struct {
		step string
		want []string
	}{
		{"problem", []string{"load.duration=8s"}},
		{"run-retries", []string{"load.duration=8s", "retry.attempts=0"}},
		{"run-cost", []string{"load.duration=8s", "retry.attempts=3", "currency_v2.errorRate=50"}},
		{"explain", []string{"load.duration=8s", "retry.attempts=3", "currency_v2.errorRate=50"}},
	}
	for _, tc := range tests {
		if got := l.CLISettings(idx[tc.step]); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.step, got, tc.want)
		}
	}
	body := l.PlainBody(idx["explain"])
	if strings.Contains(body, "{{") || !strings.Contains(body, "(measured in your run)") || !strings.Contains(body, "`retry.attempts` = 3") {
		t.Errorf("plain explain body:\n%s", body)
	}
}

// Step titles fit the TUI's step list at 80 columns (17 cells) and knob
// labels do not repeat their key.
func TestTitlesAndLabelsAreShort(t *testing.T) {
	for _, l := range All() {
		for _, st := range l.Steps {
			if n := len([]rune(st.Title)); n > 17 {
				t.Errorf("%s: step %s title %q has %d characters: at most 17 fit the step list at 80 columns", l.Name, st.ID, st.Title, n)
			}
			for _, k := range st.Knobs {
				if n := len([]rune(k.Label)); n > 26 || strings.Contains(k.Label, k.Key) {
					t.Errorf("%s: knob %s label %q: keep it under 27 characters, without the key", l.Name, k.Key, k.Label)
				}
			}
		}
	}
}
