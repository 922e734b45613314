package compare

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/muesli/termenv"

	"meshgym/labs"
	"meshgym/tui/common"
	"meshgym/tui/internal/fixture"
)

func init() { lipgloss.SetColorProfile(termenv.Ascii) }

func feedback() *labs.Feedback {
	return &labs.Feedback{Passed: true,
		Predictions: []labs.PredictionResult{{StepID: "predict", Correct: true, Line: "Right: you said about 1 in 4; the run measured 25% (200 of 800)."}},
		Checks:      []labs.CheckResult{{Passed: true, Line: "✓ No user saw a failure (0% of 800)."}}}
}

func TestCompareBody(t *testing.T) {
	m := New(fixture.Result(), feedback())
	m.SetSize(80, 60) // tall: the whole body shows
	golden.RequireEqual(t, []byte(m.View()))
}

func TestCompareNumbers(t *testing.T) {
	m := New(fixture.Result(), nil)
	m.SetSize(100, 60)
	v := m.View()
	for _, want := range []string{
		"currency_v1    █████░░░░░    400  50%    0%  ███████░░░    571  55%    0%", // counts, shares of the service, errors
		"before     2.10 ms   4.30 ms   9.90 ms",
		"PASS",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "Your run") {
		t.Error("no feedback given, yet a feedback block shows")
	}
}

func TestCompareKeys(t *testing.T) {
	m := New(fixture.Result(), feedback()) // 80×24: the body scrolls
	m2, _ := m.Update(tea.KeyMsg{Type: tea.KeyDown})
	if m2.body.YOffset != 1 {
		t.Errorf("down: offset %d, want 1", m2.body.YOffset)
	}
	_, cmd := m2.Update(tea.KeyMsg{Type: tea.KeyEsc})
	if cmd == nil {
		t.Fatal("esc gives no command")
	}
	if _, ok := cmd().(common.BackMsg); !ok {
		t.Error("esc does not go back")
	}
}

func TestStoppedRunSaysSo(t *testing.T) {
	res := fixture.Result()
	res.Error, res.After, res.Verdicts = "interrupted", nil, nil
	m := New(res, nil)
	m.SetSize(80, 60)
	v := m.View()
	for _, want := range []string{"The run stopped early: interrupted", "not measured", "not evaluated"} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
}
