package common

import (
	"testing"

	"github.com/charmbracelet/bubbles/key"

	"meshgym/labs"
)

func TestBar(t *testing.T) {
	tests := []struct {
		name   string
		v, max float64
		w      int
		want   string
	}{
		{"empty scale", 5, 0, 4, "░░░░"},
		{"zero", 0, 10, 4, "░░░░"},
		{"half", 5, 10, 4, "██░░"},
		{"full", 10, 10, 4, "████"},
		{"tiny but not nothing", 0.1, 100, 4, "█░░░"},
		{"over the scale is clamped", 20, 10, 4, "████"},
	}
	for _, tc := range tests {
		if got := Bar(tc.v, tc.max, tc.w); got != tc.want {
			t.Errorf("%s: Bar(%g, %g, %d) = %q, want %q", tc.name, tc.v, tc.max, tc.w, got, tc.want)
		}
	}
}

func TestSparkline(t *testing.T) {
	tests := []struct {
		vs   []float64
		w    int
		want string
	}{
		{nil, 5, ""},
		{[]float64{0, 0}, 5, "  "},
		{[]float64{1, 2, 4, 8}, 5, "▁▂▄█"},
		{[]float64{8, 1, 8}, 2, "▁█"}, // only the last w values
	}
	for _, tc := range tests {
		if got := Sparkline(tc.vs, tc.w); got != tc.want {
			t.Errorf("Sparkline(%v, %d) = %q, want %q", tc.vs, tc.w, got, tc.want)
		}
	}
}

func TestTruncateWrapPad(t *testing.T) {
	if got := Truncate("abcdef", 4); got != "abc…" {
		t.Errorf("Truncate = %q", got)
	}
	if got := Pad("ab", 4); got != "ab  " {
		t.Errorf("Pad = %q", got)
	}
	lines := Wrap("one two three four five six", 9, 2)
	if len(lines) != 2 || lines[0] != "one two" {
		t.Errorf("Wrap = %q", lines)
	}
}

func TestFullHelpLeavesOutDisabledKeys(t *testing.T) {
	k := DefaultKeys()
	h := HelpMap{k.Next, On(k.Run, false), k.Prev, k.Hint, k.Back, k.Help}
	cols := h.FullHelp()
	n := 0
	for _, c := range cols {
		for _, b := range c {
			if !b.Enabled() {
				t.Errorf("disabled %v in the full help", b.Help())
			}
			n++
		}
	}
	if n != 5 || len(cols) != 2 {
		t.Errorf("full help %d keys in %d columns, want 5 in 2", n, len(cols))
	}
	var _ key.Binding = k.Run
}

func TestMark(t *testing.T) {
	for st, want := range map[labs.StepStatus]string{labs.StatusDone: "✓", labs.StatusSkipped: "»", labs.StatusFailed: "✗", labs.StatusLocked: "-", labs.StatusOpen: "·"} {
		if got := Mark(st); got != want {
			t.Errorf("Mark(%s) = %s, want %s", st, got, want)
		}
	}
}
