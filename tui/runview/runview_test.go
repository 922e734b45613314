package runview

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"meshgym/engine"
	"meshgym/tui/common"
	"meshgym/tui/internal/fixture"
)

func TestApplyEvents(t *testing.T) {
	m := New(fixture.Scenario())
	for _, ev := range fixture.Events() {
		m.Apply(ev)
	}
	if m.Phase != engine.PhaseAfter || m.Last == nil || m.Last.Requests != 300 {
		t.Fatalf("phase %s last %+v", m.Phase, m.Last)
	}
	if got := m.RPS; len(got) != 4 || got[1] != 100 || got[2] != 100 || got[3] != 100 {
		t.Errorf("rps timeline %v, want [0 100 100 100]", got)
	}
	if got := m.Errors; got[2] != 4 || got[3] != 0 {
		t.Errorf("errors timeline %v, want 4 errors in second 2", got)
	}
	if got := m.Ejections; got[2] != 1 {
		t.Errorf("ejections timeline %v, want 1 in second 2 (4.5 s − phase start 2 s)", got)
	}
	// Two retries in the same second merge into one line.
	if len(m.Events) != 2 || m.Events[0].Kind != "retry" || m.Events[0].Count != 2 || m.Events[1].Kind != "ejection" {
		t.Errorf("event lines %+v", m.Events)
	}
	if m.Totals["retry"] != 2 || m.Totals["ejection"] != 1 {
		t.Errorf("totals %v", m.Totals)
	}
	if got := m.remaining(); got != 5*time.Second {
		t.Errorf("remaining %s, want 5s", got)
	}
	// A new phase starts a new timeline.
	m.Apply(&engine.PhaseEvent{Phase: engine.PhaseBefore, Start: true, At: fixture.T0})
	if len(m.RPS) != 0 || m.Last != nil {
		t.Errorf("timeline not reset: %v", m.RPS)
	}
	if got := m.remaining(); got != 16*time.Second {
		t.Errorf("remaining at the start of before %s, want 16s (both phases)", got)
	}
}

func TestEventLinesAreBounded(t *testing.T) {
	m := New(fixture.Scenario())
	m.Apply(&engine.PhaseEvent{Phase: "after", Start: true, At: fixture.T0})
	for i := range 100 {
		m.Apply(&engine.PolicyEvent{Phase: "after", At: fixture.T0.Add(time.Duration(i) * time.Second), Kind: "retry", Endpoint: "currency_v2", Component: "payments_sidecar"})
	}
	if len(m.Events) != maxEventLines || m.Events[maxEventLines-1].Offset != 99 {
		t.Errorf("%d lines, last %+v", len(m.Events), m.Events[len(m.Events)-1])
	}
}

func TestStopKeys(t *testing.T) {
	k := func(s string) tea.KeyMsg {
		switch s {
		case "esc":
			return tea.KeyMsg{Type: tea.KeyEsc}
		case "ctrl+c":
			return tea.KeyMsg{Type: tea.KeyCtrlC}
		}
		return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
	}
	tests := []struct {
		name     string
		keys     []string
		stopping bool
		quit     *bool // nil: no StopRunMsg
	}{
		{"esc asks", []string{"esc"}, false, nil},
		{"esc then n keeps running", []string{"esc", "n"}, false, nil},
		{"esc then y stops", []string{"esc", "y"}, true, ptr(false)},
		{"ctrl+c twice stops and quits", []string{"ctrl+c", "ctrl+c"}, true, ptr(true)},
		{"ctrl+c then y quits", []string{"ctrl+c", "y"}, true, ptr(true)},
		{"other keys do nothing", []string{"x", "q"}, false, nil},
	}
	for _, tc := range tests {
		m := New(fixture.Scenario())
		var msg tea.Msg
		for _, s := range tc.keys {
			var cmd tea.Cmd
			m, cmd = m.Update(k(s))
			msg = nil
			if cmd != nil {
				msg = cmd()
			}
		}
		if m.Stopping != tc.stopping {
			t.Errorf("%s: stopping %v", tc.name, m.Stopping)
		}
		stop, ok := msg.(common.StopRunMsg)
		switch {
		case tc.quit == nil && ok:
			t.Errorf("%s: unexpected stop %+v", tc.name, stop)
		case tc.quit != nil && (!ok || stop.Quit != *tc.quit):
			t.Errorf("%s: got %#v, want StopRunMsg{Quit: %v}", tc.name, msg, *tc.quit)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestViewFits(t *testing.T) {
	for _, size := range []common.Size{{Width: 80, Height: 24}, {Width: 100, Height: 40}} {
		m := New(fixture.Scenario())
		m.SetSize(size.Width, size.Height)
		for _, ev := range fixture.Events() {
			m.Apply(ev)
		}
		v := m.View()
		if n := len(strings.Split(v, "\n")); n != size.Height {
			t.Errorf("%v: %d lines", size, n)
		}
		for _, want := range []string{"currency_v2             180       90   50.0%", "retry      payments_sidecar → currency_v2 (500) ×2", "about 5 s left"} {
			if !strings.Contains(v, want) {
				t.Errorf("%v: no %q in\n%s", size, want, v)
			}
		}
	}
}
