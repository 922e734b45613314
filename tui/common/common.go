// Package common holds what every TUI component shares: the styles, the key
// bindings, the messages components send to the root model, and small text
// helpers (bars, sparklines, truncation). It does no I/O and knows nothing
// about how a run is started or progress is saved: components ask the root
// for that with the messages below, and the root does it in tea.Cmds.
package common

import (
	"fmt"
	"math"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"meshgym/labs"
	"meshgym/scenarios"
)

// Size is a component's area in terminal cells.
type Size struct{ Width, Height int }

// MinWidth and MinHeight are the smallest screen the views are laid out
// for (80×24, the target); smaller screens are clipped.
const (
	MinWidth  = 80
	MinHeight = 24
)

// Messages components send to the root model (by returning a tea.Cmd that
// yields them). The root turns them into routing and side effects.
type (
	// OpenLabMsg asks the root to open a lab (from the browser).
	OpenLabMsg struct{ Lab *labs.Lab }
	// BackMsg asks the root to go back one level (lab → browser,
	// before/after → lab).
	BackMsg struct{}
	// RunMsg asks the root to run a scenario for the open lab (built by
	// labs.Session.Scenario from the lab's setup and the chosen knobs).
	RunMsg struct {
		Scenario *scenarios.Scenario
		// Settings are the knob values it runs with ("retry.attempts=0",
		// labs.Session.Settings), for the live view's header.
		Settings []string
	}
	// SaveMsg says the learner's progress changed and should be saved.
	SaveMsg struct{}
	// ObserveMsg asks the root to show the before/after view of the lab's
	// last run.
	ObserveMsg struct{}
	// StopRunMsg asks the root to cancel the run in progress; Quit quits
	// the program once the engine has torn everything down.
	StopRunMsg struct{ Quit bool }
	// LoadTracesMsg asks the root to read the traces a run recorded in
	// its run directory (RunDir/traces/spans.jsonl, tracing.SpansFile)
	// and hand them to the before/after view (compare.Model.SetTraces).
	LoadTracesMsg struct{ RunDir string }
)

// Send returns a tea.Cmd that yields msg (the way components talk to the
// root without touching it).
func Send(msg tea.Msg) tea.Cmd { return func() tea.Msg { return msg } }

// Styles are the lipgloss styles of every view. They carry no colour that
// matters for meaning (marks and words say it too), so a NO_COLOR terminal
// (lipgloss's Ascii profile) loses nothing.
type Styles struct {
	Title, Subtle, Dim, Selected, Pass, Fail, Warn, Key, Status, Error, Box lipgloss.Style
}

// DefaultStyles are the styles of every view.
func DefaultStyles() Styles {
	return Styles{
		Title:    lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("12")),
		Subtle:   lipgloss.NewStyle().Foreground(lipgloss.Color("245")),
		Dim:      lipgloss.NewStyle().Faint(true),
		Selected: lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("14")),
		Pass:     lipgloss.NewStyle().Foreground(lipgloss.Color("10")),
		Fail:     lipgloss.NewStyle().Foreground(lipgloss.Color("9")),
		Warn:     lipgloss.NewStyle().Foreground(lipgloss.Color("11")),
		Key:      lipgloss.NewStyle().Bold(true),
		Status:   lipgloss.NewStyle().Foreground(lipgloss.Color("11")),
		Error:    lipgloss.NewStyle().Foreground(lipgloss.Color("9")).Bold(true),
		Box:      lipgloss.NewStyle().Border(lipgloss.NormalBorder()).Padding(0, 1),
	}
}

// Truncate cuts s (which may hold ANSI styles) to at most w cells,
// ending in "…" when cut.
func Truncate(s string, w int) string {
	if w <= 0 {
		return ""
	}
	return ansi.Truncate(s, w, "…")
}

// Wrap word-wraps s to w cells and keeps at most n lines (the last one
// ends in "…" when more were cut).
func Wrap(s string, w, n int) []string {
	if s == "" {
		return nil
	}
	lines := strings.Split(ansi.Wrap(s, max(w, 1), ""), "\n")
	if len(lines) > n {
		lines = lines[:n]
		lines[n-1] = Truncate(lines[n-1]+" …", w)
	}
	return lines
}

// Pad pads (or truncates) s to exactly w cells.
func Pad(s string, w int) string {
	s = Truncate(s, w)
	if n := lipgloss.Width(s); n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s
}

// Bar is a horizontal bar of w cells for value v on a scale of max:
// "█████░░░░░". A zero max gives an empty bar.
func Bar(v, max float64, w int) string {
	if w <= 0 {
		return ""
	}
	n := 0
	if max > 0 && v > 0 {
		n = int(math.Round(v / max * float64(w)))
		if n == 0 {
			n = 1 // something is not nothing
		}
		n = min(n, w)
	}
	return strings.Repeat("█", n) + strings.Repeat("░", w-n)
}

var sparks = []rune("▁▂▃▄▅▆▇█")

// Sparkline draws vs (one value per second) as block characters scaled to
// the largest value; only the last w values are drawn. Zero is a space so
// that "nothing happened" reads as empty.
func Sparkline(vs []float64, w int) string {
	if len(vs) > w {
		vs = vs[len(vs)-w:]
	}
	max := 0.0
	for _, v := range vs {
		max = math.Max(max, v)
	}
	var b strings.Builder
	for _, v := range vs {
		switch {
		case v <= 0 || max <= 0:
			b.WriteRune(' ')
		default:
			i := int(math.Ceil(v/max*float64(len(sparks)))) - 1
			b.WriteRune(sparks[max0(min(i, len(sparks)-1))])
		}
	}
	return b.String()
}

func max0(i int) int {
	if i < 0 {
		return 0
	}
	return i
}

// Seconds formats a duration in seconds as "12.0 s" (the run views' unit).
func Seconds(s float64) string { return fmt.Sprintf("%.0f s", s) }

// Mark is the step list's mark for a status: ✓ done, » skipped (solution
// applied), ✗ failed, · open, - locked (locked steps are dimmed too); the
// current step's ▸ is drawn by the caller.
func Mark(st labs.StepStatus) string {
	switch st {
	case labs.StatusDone:
		return "✓"
	case labs.StatusSkipped:
		return "»"
	case labs.StatusFailed:
		return "✗"
	case labs.StatusLocked:
		return "-"
	}
	return "·"
}
