package labs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

//go:generate go test . -run TestDocsUpToDate -update

// WriteDocs writes one Markdown page per embedded lab, dir/NAME.md, and
// the index dir/README.md, from the same Markdown and lab.yaml the TUI
// shows, so the two never diverge. Placeholders that the TUI fills from
// the learner's run are shown as what they will measure; predict steps
// list their choices without an answer (the answer depends on the run).
// It creates dir if needed; errors name the file.
func WriteDocs(dir string) error {
	if err := Problems(); err != nil {
		return fmt.Errorf("the embedded labs do not load, no docs written:\n%w", err)
	}
	files := DocPages(All())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	return nil
}

// DocPages renders the pages WriteDocs writes, by file name: NAME.md per
// lab and README.md.
func DocPages(labs []*Lab) map[string][]byte {
	out := map[string][]byte{"README.md": docIndex(labs)}
	for _, l := range labs {
		out[l.Name+".md"] = docPage(l)
	}
	return out
}

const generated = "<!-- Generated from labs/content by `go generate ./labs`; edit the lab, not this page. -->\n\n"

func docIndex(labs []*Lab) []byte {
	var b bytes.Buffer
	b.WriteString(generated)
	b.WriteString("# Guided labs\n\n")
	b.WriteString("One lab per pattern, in workshop order. Each lab is a short sequence of\n")
	b.WriteString("steps: read the problem, predict a number, change a knob and run, look at\n")
	b.WriteString("the before/after view, and the explanation. Predictions are judged against\n")
	b.WriteString("the numbers the learner's own run measures, never against a fixed answer.\n\n")
	b.WriteString("Open the lab browser with `meshgym` (no arguments, on a terminal), or one\n")
	b.WriteString("lab with `meshgym lab NAME`. The instructor's guide is\n")
	b.WriteString("[docs/workshop.md](../workshop.md).\n\n")
	b.WriteString("| # | lab | pattern | minutes | what it teaches |\n|---|---|---|---|---|\n")
	total := 0
	for _, l := range labs {
		total += l.Minutes
		fmt.Fprintf(&b, "| %d | [%s](%s.md) | %s | %d | %s |\n", l.Order, l.Title, l.Name, l.Pattern, l.Minutes, cell(l.Summary))
	}
	fmt.Fprintf(&b, "\nAll labs: about %d minutes (%s).\n", total, hours(total))
	b.WriteString(authoring)
	return b.Bytes()
}

func hours(min int) string {
	if min < 60 {
		return fmt.Sprintf("%d min", min)
	}
	return fmt.Sprintf("%dh%02d", min/60, min%60)
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func docPage(l *Lab) []byte {
	var b bytes.Buffer
	b.WriteString(generated)
	fmt.Fprintf(&b, "# Lab %d: %s\n\n", l.Order, l.Title)
	fmt.Fprintf(&b, "%s.\n\n", strings.TrimRight(l.Summary, "."))
	fmt.Fprintf(&b, "- Open it: `meshgym lab %s`\n", l.Name)
	fmt.Fprintf(&b, "- Pattern: %s; scenario: `%s` (`meshgym run %s` runs it from the CLI)\n", l.Pattern, l.Scenario, l.Scenario)
	fmt.Fprintf(&b, "- Time: about %d minutes\n", l.Minutes)
	if len(l.Setup) > 0 {
		fmt.Fprintf(&b, "- Setup on entering the lab: `%s`\n", strings.Join(l.Setup, "`, `"))
	}
	b.WriteString("\n## Steps\n\n")
	for i, st := range l.Steps {
		fmt.Fprintf(&b, "%d. [%s](#step-%d) (%s)\n", i+1, st.Title, i+1, st.Kind)
	}
	for i, st := range l.Steps {
		fmt.Fprintf(&b, "\n<a id=\"step-%d\"></a>\n\n## Step %d: %s (%s)\n\n", i+1, i+1, st.Title, st.Kind)
		if len(st.Requires) > 0 {
			fmt.Fprintf(&b, "*Requires: %s.*\n\n", strings.Join(st.Requires, ", "))
		}
		body := demote(docPlaceholders(dropTitle(st.Body)))
		b.WriteString(body)
		b.WriteString("\n")
		switch st.Kind {
		case KindPredict:
			fmt.Fprintf(&b, "\n**Question:** %s\n\n", st.Question)
			for j, c := range st.Choices {
				fmt.Fprintf(&b, "%d. %s\n", j+1, c.Text)
			}
			fmt.Fprintf(&b, "\n*Judged on the next run: %s, %s phase.*\n", measureText(*st.Measure), st.Measure.Phase)
		case KindRun:
			b.WriteString("\n**Knobs** (`meshgym run " + l.Scenario + " --set KEY=VALUE` does the same from the CLI):\n\n")
			b.WriteString("| knob | key | values | starts at |\n|---|---|---|---|\n")
			for _, k := range st.Knobs {
				fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", cell(k.Label), k.Key, strings.Join(k.Values, ", "), k.Default)
			}
			b.WriteString("\n**Checks** (the step is done when every check holds):\n\n")
			for _, c := range st.Checks {
				ph := c.Phase
				if ph == "" {
					ph = "after"
				}
				fmt.Fprintf(&b, "- `%s` (%s phase)\n", c.Condition, ph)
			}
			fmt.Fprintf(&b, "\nFrom the CLI: `meshgym run %s --set %s` (it judges the scenario's own conditions, the book's, not these checks).\n", l.Scenario, strings.Join(l.CLISettings(i), " --set "))
			if st.Hint != "" {
				fmt.Fprintf(&b, "\n<details><summary>Hint</summary>\n\n%s\n\n</details>\n", st.Hint)
			}
			if len(st.Solution) > 0 {
				fmt.Fprintf(&b, "\n<details><summary>Solution</summary>\n\n`%s`\n\n</details>\n", strings.Join(st.Solution, "`, `"))
			}
		}
	}
	return b.Bytes()
}

func measureText(m Measure) string {
	if m.Share {
		return "`" + m.Expr + "` as a share"
	}
	return "`" + m.Expr + "`"
}

// docPlaceholders shows each placeholder as what it will measure.
func docPlaceholders(body string) string {
	return fill(body, func(h hole) string {
		switch h.kind {
		case "knob":
			return "*‹your " + h.args[0] + "›*"
		case "share":
			return "*‹share " + h.args[1] + ", " + h.args[0] + "›*"
		}
		return "*‹" + h.args[1] + ", " + h.args[0] + "›*"
	})
}

// demote turns each Markdown heading of body one level down (# → ###), so
// a step's headings sit under the page's "## Step" heading; fenced code
// is left alone.
func demote(body string) string {
	lines := strings.Split(body, "\n")
	fence := false
	for i, ln := range lines {
		if strings.HasPrefix(ln, "```") {
			fence = !fence
		}
		if !fence && strings.HasPrefix(ln, "#") {
			lines[i] = "##" + ln
		}
	}
	return strings.Join(lines, "\n")
}

// dropTitle removes body's leading "# heading" line: the page shows the
// step's title as its heading already.
func dropTitle(body string) string {
	body = strings.TrimSpace(body)
	if strings.HasPrefix(body, "# ") {
		_, rest, _ := strings.Cut(body, "\n")
		return strings.TrimSpace(rest)
	}
	return body
}

const authoring = `
## Writing a lab

A lab is a folder ` + "`labs/content/NAME/`" + ` with a ` + "`lab.yaml`" + ` and one Markdown
file per step. ` + "`go test ./labs`" + ` loads and validates every lab (unknown keys are
errors with the file and line), and runs each one end to end unless ` + "`-short`" + `;
` + "`go generate ./labs`" + ` rewrites these pages.

` + "```yaml" + `
title: Retries                 # shown in the browser
pattern: retries               # the pattern taught
summary: one line
order: 2                       # place in the workshop
minutes: 15                    # for a newcomer
scenario: retries              # a built-in scenario (meshgym list)
setup: [load.duration=8s]      # --set assignments applied on entering
steps:
  - id: problem                # unique in the lab
    kind: read                 # read | predict | run | observe | explain
    title: The problem
    file: 01-problem.md
    requires: []               # earlier step IDs; default: the previous step
  - id: predict-failures
    kind: predict
    title: "Predict: failures"
    file: 02-predict.md
    question: "What share of the requests will fail?"
    measure: {phase: before, expr: "request_count[status_code!=200]", share: true}
    choices:                   # [min, max), contiguous from 0 (to 100 for a share)
      - {text: "under 5%", min: 0, max: 5}
      - {text: "5% or more", min: 5, max: 100}
  - id: run-retries
    kind: run
    title: Turn retries on
    file: 03-run.md
    knobs:                     # --set keys; every value must be accepted
      - {key: retry.attempts, label: "retries", values: ["0", "3"], default: "0"}
    checks:                    # the condition language of scenario files
      - condition: "request_count[status_code!=200] < 1%"
        phase: after           # default after
        pass: "Only {{value}} failed."
        fail: "{{value}} failed: raise the retries and run again."
    hint: "…"
    solution: [retry.attempts=3]
` + "```" + `

A predict step is judged on the next run's measured number, so a predict
step needs a run step after it. In Markdown, ` + "`{{measure \"after\" \"EXPR\"}}`" + `,
` + "`{{share \"after\" \"EXPR\"}}`" + ` and ` + "`{{knob \"KEY\"}}`" + ` are filled from the
learner's last run.
`

// CLISettings are the scenarios.Set assignments of a CLI run at step i
// when the lab is followed without the TUI (`meshgym run SCENARIO --set
// …`): the lab's Setup, then every knob of the run steps up to step i —
// at its Solution value for run steps before i (the values that pass
// them, so a later step's command can pass too), and at its Default for
// step i itself (the exercise's starting point). After the last run
// step, that step's solution values are used. Keys appear once, in step
// order; a knob overrides a Setup assignment of the same key.
func (l *Lab) CLISettings(i int) []string {
	var order []string
	val := map[string]string{}
	set := func(k, v string) {
		if _, ok := val[k]; !ok {
			order = append(order, k)
		}
		val[k] = v
	}
	for _, a := range l.Setup {
		if k, v, ok := cutAssign(a); ok {
			set(k, v)
		}
	}
	for j := 0; j <= i && j < len(l.Steps); j++ {
		st := &l.Steps[j]
		if st.Kind != KindRun {
			continue
		}
		sol := map[string]string{}
		if j < i {
			for _, a := range st.Solution {
				if k, v, ok := cutAssign(a); ok {
					sol[k] = v
				}
			}
		}
		for _, k := range st.Knobs {
			v, ok := sol[k.Key]
			if !ok {
				v = k.Default
			}
			set(k.Key, v)
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+val[k])
	}
	return out
}

// PlainBody is step i's Markdown for a reader without a run (`meshgym lab
// NAME` piped): measured placeholders read "(measured in your run)", and
// {{knob "KEY"}} the value CLISettings(i) gives KEY ("the scenario's
// value" when the lab does not set it).
func (l *Lab) PlainBody(i int) string {
	if i < 0 || i >= len(l.Steps) {
		return ""
	}
	vals := map[string]string{}
	for _, a := range l.CLISettings(i) {
		k, v, _ := cutAssign(a)
		vals[k] = v
	}
	return fill(l.Steps[i].Body, func(h hole) string {
		if h.kind == "knob" {
			if v, ok := vals[h.args[0]]; ok {
				return v
			}
			return "(the scenario's value)"
		}
		return "(measured in your run)"
	})
}
