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
	// A report at 1 s closes second 0: the timeline starts at once.
	if got := m.RPS; len(got) != 3 || got[0] != 100 || got[1] != 100 || got[2] != 100 {
		t.Errorf("rps timeline %v, want [100 100 100]", got)
	}
	if got := m.Errors; got[1] != 4 || got[2] != 0 {
		t.Errorf("errors timeline %v, want 4 errors in second 1 (the report at 2 s)", got)
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
	// A new phase starts a new timeline and new counts.
	m.Apply(&engine.PhaseEvent{Phase: engine.PhaseBefore, Start: true, At: fixture.T0})
	if len(m.RPS) != 0 || m.Last != nil || len(m.Totals) != 0 || len(m.Events) != 0 {
		t.Errorf("phase not reset: rps %v totals %v events %v", m.RPS, m.Totals, m.Events)
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
		for _, want := range []string{"currency_v2             180       90   50.0%", "retry      payments_sidecar → currency_v2 (500) ×2", "about 5 s left",
			"\nnote: entry service on 127.0.0.1:8200\n", "as the services counted it", "Policy events this phase (ejection 1, retry 2)"} {
			if !strings.Contains(v, want) {
				t.Errorf("%v: no %q in\n%s", size, want, v)
			}
		}
	}
}

// Report jitter (0.98 s, 2.03 s …) never shifts a row: every timeline row
// has as many marks as seconds reported, starting at second 0.
func TestTimelineRowsAlign(t *testing.T) {
	for _, elapsed := range [][]float64{{0.98, 1.97, 3.02}, {1.02, 2.01, 2.99}} {
		m := New(fixture.Scenario())
		m.Apply(&engine.PhaseEvent{Phase: engine.PhaseAfter, Start: true, At: fixture.T0})
		for i, e := range elapsed {
			m.Apply(&engine.ProgressEvent{Phase: "after", Elapsed: time.Duration(e * float64(time.Second)), Total: 8 * time.Second, Requests: int64(100 * (i + 1)), Errors: int64(i)})
		}
		if len(m.RPS) != 3 || m.RPS[0] == 0 || len(m.Errors) != 3 {
			t.Errorf("elapsed %v: rps %v errors %v", elapsed, m.RPS, m.Errors)
		}
		// The "max" column is the same on every row.
		col := map[int]bool{}
		for _, l := range strings.Split(m.View(), "\n") {
			for _, row := range []string{"  rps ", "  errors/s ", "  ejections "} {
				if strings.HasPrefix(l, row) {
					col[len([]rune(l[:strings.Index(l, " max ")]))] = true
				}
			}
		}
		if len(col) != 1 || !col[2+9+1+3] {
			t.Errorf("elapsed %v: the rows' max columns %v, want one at %d:\n%s", elapsed, col, 2+9+1+3, m.View())
		}
	}
}

func TestHeaderAndTimeLeft(t *testing.T) {
	tests := []struct {
		name     string
		phase    string
		elapsed  time.Duration
		settings []string
		want     []string
		not      string
	}{
		{"the after phase names the knobs", engine.PhaseAfter, 3 * time.Second, []string{"retry.attempts=0"},
			[]string{"after phase: the lab's retries policy (retry.attempts=0)", "about 5 s left"}, "with retries on"},
		{"without knobs the pattern is on", engine.PhaseAfter, 3 * time.Second, nil,
			[]string{"measuring with retries on"}, ""},
		{"the before phase at 100% says what comes next", engine.PhaseBefore, 8 * time.Second, nil,
			[]string{"100%  8 s / 8 s of this phase · after phase next (8 s)"}, "about 8 s left"},
		{"the after phase at 100% is measured", engine.PhaseAfter, 8 * time.Second, nil,
			[]string{"100%  8 s / 8 s of this phase · measured; judging"}, "left"},
	}
	for _, tc := range tests {
		m := New(fixture.Scenario())
		m.Settings = tc.settings
		m.Apply(&engine.PhaseEvent{Phase: tc.phase, Start: true, At: fixture.T0})
		m.Apply(&engine.ProgressEvent{Phase: tc.phase, Elapsed: tc.elapsed, Total: 8 * time.Second, Requests: 100})
		v := m.View()
		for _, w := range tc.want {
			if !strings.Contains(v, w) {
				t.Errorf("%s: no %q in\n%s", tc.name, w, v)
			}
		}
		if tc.not != "" && strings.Contains(v, tc.not) {
			t.Errorf("%s: %q in\n%s", tc.name, tc.not, v)
		}
	}
}

func TestHelpToggles(t *testing.T) {
	m := New(fixture.Scenario())
	if v := m.View(); !strings.Contains(v, "? more keys") {
		t.Fatalf("no ? in the key line:\n%s", v)
	}
	m.ShowAll(true)
	if v := m.View(); !strings.Contains(v, "close help") || len(strings.Split(v, "\n")) != 24 {
		t.Errorf("full help:\n%s", v)
	}
}
