package labview

import (
	"fmt"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"meshgym/labs"
	"meshgym/tui/common"
	"meshgym/tui/internal/fixture"
)

func press(k string) tea.KeyMsg {
	switch k {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "left":
		return tea.KeyMsg{Type: tea.KeyLeft}
	case "right":
		return tea.KeyMsg{Type: tea.KeyRight}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

// at returns a view at step id (earlier steps done).
func at(t *testing.T, id string) (Model, *labs.LabProgress) {
	t.Helper()
	l := fixture.Lab()
	p := &labs.LabProgress{Current: id, Steps: map[string]labs.StepStatus{}, Predictions: map[string]int{}}
	for _, st := range l.Steps {
		if st.ID == id {
			break
		}
		p.Steps[st.ID] = labs.StatusDone
		if st.Kind == labs.KindPredict {
			p.Predictions[st.ID] = 1
		}
	}
	return New(labs.NewSession(l, p), StyleASCII), p
}

func TestLabViewKeys(t *testing.T) {
	tests := []struct {
		name, step string
		keys       []string
		wantStep   string
		wantMsg    any // type of the last command's message (nil: none)
		wantStatus string
		check      func(t *testing.T, m Model, p *labs.LabProgress)
	}{
		{name: "n reads on", step: "problem", keys: []string{"n"}, wantStep: "predict", wantMsg: common.SaveMsg{}},
		{name: "→ reads on", step: "problem", keys: []string{"right"}, wantStep: "predict", wantMsg: common.SaveMsg{}},
		{name: "p goes back", step: "predict", keys: []string{"p"}, wantStep: "problem", wantMsg: common.SaveMsg{}},
		{name: "p on the first step", step: "problem", keys: []string{"p"}, wantStep: "problem", wantStatus: "first step"},
		{name: "n needs an answer", step: "predict", keys: []string{"n"}, wantStep: "predict", wantStatus: "choose an answer first"},
		{name: "a number answers", step: "predict", keys: []string{"3"}, wantStep: "predict", wantMsg: common.SaveMsg{}, wantStatus: "Answer saved",
			check: func(t *testing.T, m Model, p *labs.LabProgress) {
				if p.Predictions["predict"] != 2 {
					t.Errorf("prediction %d, want 2", p.Predictions["predict"])
				}
			}},
		{name: "a number out of range", step: "predict", keys: []string{"7"}, wantStep: "predict", wantStatus: "choose 1–3"},
		{name: "→ changes the knob on a run step", step: "run", keys: []string{"right"}, wantStep: "run", wantMsg: common.SaveMsg{},
			check: func(t *testing.T, m Model, p *labs.LabProgress) {
				if v := m.Session.Knobs()[0].Value; v != "1" {
					t.Errorf("knob %s, want 1", v)
				}
			}},
		{name: "- wraps the knob", step: "run", keys: []string{"-"}, wantStep: "run", wantMsg: common.SaveMsg{},
			check: func(t *testing.T, m Model, p *labs.LabProgress) {
				if v := m.Session.Knobs()[0].Value; v != "3" {
					t.Errorf("knob %s, want 3", v)
				}
			}},
		{name: "n on a run step not run yet", step: "run", keys: []string{"n"}, wantStep: "run", wantStatus: "run the lab first"},
		{name: "enter runs", step: "run", keys: []string{"enter"}, wantStep: "run", wantMsg: common.RunMsg{}},
		{name: "enter does not run a read step", step: "problem", keys: []string{"enter"}, wantStep: "problem"},
		{name: "h shows the hint", step: "run", keys: []string{"h"}, wantStep: "run", wantStatus: "Hint: At 0"},
		{name: "s asks, n keeps", step: "run", keys: []string{"s", "n"}, wantStep: "run", wantStatus: "Nothing changed"},
		{name: "s asks, y solves", step: "run", keys: []string{"s", "y"}, wantStep: "run", wantMsg: common.SaveMsg{}, wantStatus: "retry.attempts=3",
			check: func(t *testing.T, m Model, p *labs.LabProgress) {
				if v := m.Session.Knobs()[0].Value; v != "3" {
					t.Errorf("knob after the solution %s, want 3", v)
				}
			}},
		{name: "r asks, y resets", step: "run", keys: []string{"r", "y"}, wantStep: "problem", wantMsg: common.SaveMsg{}, wantStatus: "back at its start"},
		{name: "o without a run", step: "observe", keys: []string{"o"}, wantStep: "observe", wantStatus: "no run yet"},
		{name: "esc goes back", step: "predict", keys: []string{"esc"}, wantStep: "predict", wantMsg: common.BackMsg{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, p := at(t, tc.step)
			var msg tea.Msg
			for _, k := range tc.keys {
				var cmd tea.Cmd
				m, cmd = m.Update(press(k))
				msg = nil
				if cmd != nil {
					msg = cmd()
				}
			}
			if got := m.Session.Step().ID; got != tc.wantStep {
				t.Errorf("step %s, want %s", got, tc.wantStep)
			}
			if tc.wantMsg == nil && msg != nil {
				t.Errorf("unexpected %T", msg)
			}
			if tc.wantMsg != nil && (msg == nil || typeName(msg) != typeName(tc.wantMsg)) {
				t.Errorf("message %T, want %T", msg, tc.wantMsg)
			}
			if !strings.Contains(m.Status, tc.wantStatus) {
				t.Errorf("status %q, want it to contain %q", m.Status, tc.wantStatus)
			}
			if tc.check != nil {
				tc.check(t, m, p)
			}
		})
	}
}

func typeName(v any) string {
	return strings.TrimPrefix(strings.TrimPrefix(fmtType(v), "*"), "common.")
}

func fmtType(v any) string {
	switch v.(type) {
	case common.SaveMsg:
		return "save"
	case common.RunMsg:
		return "run"
	case common.BackMsg:
		return "back"
	case common.ObserveMsg:
		return "observe"
	}
	return "other"
}

func TestLabViewFitsAndSaysWhatNext(t *testing.T) {
	for _, size := range []common.Size{{Width: 80, Height: 24}, {Width: 120, Height: 40}} {
		for _, step := range []string{"problem", "predict", "run", "observe", "explain"} {
			m, _ := at(t, step)
			m.SetSize(size.Width, size.Height)
			v := m.View()
			lines := strings.Split(v, "\n")
			if len(lines) > size.Height {
				t.Errorf("%s at %v: %d lines", step, size, len(lines))
			}
			for _, l := range lines {
				if w := lipgloss.Width(l); w > size.Width {
					t.Errorf("%s at %v: a line of %d cells: %q", step, size, w, l)
				}
			}
			want := map[string]string{"problem": "Press n", "predict": "Choose 1–3", "run": "press Enter to run (about 21 s)", "observe": "There is no run yet", "explain": "press n to finish"}[step]
			if !strings.Contains(v, want) {
				t.Errorf("%s at %v: no %q in\n%s", step, size, want, v)
			}
		}
	}
}

func TestLockedStepsAreMarked(t *testing.T) {
	m, _ := at(t, "problem")
	v := m.View()
	if !strings.Contains(v, "- 3 Turn retries on") || !strings.Contains(v, "▸ · 1 The problem") {
		t.Errorf("step list:\n%s", v)
	}
}

func TestRecordedFeedbackLine(t *testing.T) {
	m, _ := at(t, "run")
	m.Recorded(labs.Feedback{Passed: false, Checks: []labs.CheckResult{{Passed: false}}, Predictions: []labs.PredictionResult{{Correct: true}}})
	if !m.StatusErr || !strings.Contains(m.Status, "1 of 1 predictions right") || !strings.Contains(m.Status, "a check failed") {
		t.Errorf("status %q err %v", m.Status, m.StatusErr)
	}
}

// Every embedded lab's every step renders within 80×24 and says what to
// do next.
func TestEveryEmbeddedLabFits(t *testing.T) {
	for _, l := range labs.All() {
		for i := range l.Steps {
			p := &labs.LabProgress{Current: l.Steps[i].ID}
			m := New(labs.NewSession(l, p), StyleASCII)
			m.SetSize(80, 24)
			v := m.View()
			lines := strings.Split(v, "\n")
			if len(lines) > 24 {
				t.Errorf("%s step %d: %d lines", l.Name, i+1, len(lines))
			}
			for _, line := range lines {
				if w := lipgloss.Width(line); w > 80 {
					t.Errorf("%s step %d: a line of %d cells: %q", l.Name, i+1, w, line)
				}
			}
			if m.nextAction() == "" {
				t.Errorf("%s step %d: no next action", l.Name, i+1)
			}
			// Nothing is cut: step titles, knob lines and the key line fit.
			for _, line := range lines[1 : len(lines)-1] {
				if strings.Contains(line, "…") && !strings.Contains(line, "waiting") {
					t.Errorf("%s step %d: a cut line %q", l.Name, i+1, line)
				}
			}
			keys := lines[len(lines)-1]
			if strings.Contains(keys, "…") || !strings.Contains(keys, "? more keys") {
				t.Errorf("%s step %d: key line %q", l.Name, i+1, keys)
			}
			if st := l.Steps[i]; st.Kind == labs.KindRun {
				for _, want := range []string{"enter run", "↑/↓ knob", "←/→ value", "h hint", "s solution"} {
					if !strings.Contains(keys, want) {
						t.Errorf("%s step %d: key line %q lacks %q", l.Name, i+1, keys, want)
					}
				}
			}
			if st := l.Steps[i]; st.Kind == labs.KindPredict && !strings.Contains(keys, fmt.Sprintf("1–%d answer", len(st.Choices))) {
				t.Errorf("%s step %d: key line %q does not offer 1–%d", l.Name, i+1, keys, len(st.Choices))
			}
			// Text taller than its rows says so and scrolls to its end.
			if m.scrolls() {
				if !strings.Contains(v, "↓ more below (pgdn)") || !strings.Contains(keys, "pgdn more") {
					t.Errorf("%s step %d: the text scrolls but the view does not say so:\n%s", l.Name, i+1, v)
				}
				for range 20 {
					m, _ = m.Update(tea.KeyMsg{Type: tea.KeyPgDown})
				}
				if !m.body.AtBottom() || strings.Contains(m.View(), "more below") {
					t.Errorf("%s step %d: pgdn does not reach the end:\n%s", l.Name, i+1, m.View())
				}
			}
		}
	}
}

func TestScrollKeys(t *testing.T) {
	l := fixture.Lab()
	l.Steps[0].Body = "# The problem\n\n" + strings.Repeat("A line of the problem that goes on.\n\n", 30) + "THE END\n"
	m := New(labs.NewSession(l, nil), StyleASCII)
	m.SetSize(80, 24)
	v := m.View()
	if !strings.Contains(v, "↓ more below (pgdn)") || strings.Contains(v, "THE END") {
		t.Fatalf("a long text does not say there is more:\n%s", v)
	}
	for _, k := range []tea.KeyMsg{{Type: tea.KeyDown}, {Type: tea.KeyRunes, Runes: []rune("j")}, {Type: tea.KeyPgDown}, {Type: tea.KeySpace}} {
		before := m.body.YOffset
		m, _ = m.Update(k)
		if m.body.YOffset <= before {
			t.Errorf("%s did not scroll down (offset %d → %d)", k, before, m.body.YOffset)
		}
	}
	for range 10 {
		m, _ = m.Update(tea.KeyMsg{Type: tea.KeyPgDown})
	}
	if v := m.View(); !strings.Contains(v, "THE END") || !strings.Contains(v, "pgup up") {
		t.Errorf("at the end:\n%s", v)
	}
	m, _ = m.Update(tea.KeyMsg{Type: tea.KeyPgUp})
	if !strings.Contains(m.View(), "↓ more below") {
		t.Errorf("pgup did not scroll back")
	}
}

func TestFinishingTheLab(t *testing.T) {
	m, p := at(t, "explain")
	m, cmd := m.Update(press("n"))
	if !p.Completed || !strings.Contains(m.Status, "Lab complete ✓") || m.nextAction() != Complete || cmd == nil {
		t.Fatalf("n on the last step: completed %v status %q", p.Completed, m.Status)
	}
	if v := m.View(); !strings.Contains(v, "Lab complete ✓") || !strings.Contains(v, "✓ 5 Why") {
		t.Errorf("no completion shown:\n%s", v)
	}
	_, cmd = m.Update(press("n"))
	if cmd == nil {
		t.Fatal("n on a completed lab does nothing")
	}
	if _, ok := cmd().(common.BackMsg); !ok {
		t.Errorf("n on a completed lab: %T, want BackMsg", cmd())
	}
}

func TestFullHelpShowsTheMarks(t *testing.T) {
	m, _ := at(t, "run")
	m.ShowAll(true)
	v := m.View()
	for _, want := range []string{"✓ done", "✗ failed", "- locked", "r", "reset lab", "close help", "▸ retries per call"} {
		if !strings.Contains(v, want) {
			t.Errorf("full help lacks %q:\n%s", want, v)
		}
	}
	if n := len(strings.Split(v, "\n")); n > 24 {
		t.Errorf("%d lines", n)
	}
}

// A long status (a run stopped, a hint) leaves the knobs on screen.
func TestLongStatusKeepsTheKnobs(t *testing.T) {
	m, _ := at(t, "run")
	m.SetStatus("The run was stopped and everything it started was torn down; nothing was judged. Press Enter to run again. "+strings.Repeat("More words. ", 12), false)
	if v := m.View(); !strings.Contains(v, "▸ retries per call  ‹ 0 ›") {
		t.Errorf("the knob row is gone:\n%s", v)
	}
}

func TestMarkdownHasNoLiteralMarkersOrPadding(t *testing.T) {
	md := "one name: `currency_v1` is **healthy** and *flaky*"
	for _, style := range []string{StyleASCII, StyleDark} {
		m := New(labs.NewSession(fixture.Lab(), nil), style)
		got := ansi.Strip(m.markdown(md, 60))
		if !strings.Contains(got, "one name: currency_v1 is healthy and flaky") {
			t.Errorf("%s: %q", style, got)
		}
	}
}

func TestUnwrapLists(t *testing.T) {
	md := "Text\nmore text.\n\n- an item that\n  goes on: {{x}}\n  and on.\n- next\n  - nested\n\n```\n- code\n  stays\n```\n"
	want := "Text\nmore text.\n\n- an item that goes on: {{x}} and on.\n- next\n  - nested\n\n```\n- code\n  stays\n```\n"
	if got := unwrapLists(md); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
