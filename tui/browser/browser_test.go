package browser

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"meshgym/labs"
	"meshgym/tui/common"
	"meshgym/tui/internal/fixture"
)

func twoLabs() []*labs.Lab {
	a := fixture.Lab()
	b := fixture.Lab()
	b.Name, b.Title, b.Order = "canary", "Canary", 4
	return []*labs.Lab{a, b}
}

func TestBrowserKeys(t *testing.T) {
	tests := []struct {
		name       string
		keys       []tea.KeyMsg
		wantCursor int
		wantMsg    tea.Msg
	}{
		{"down moves", []tea.KeyMsg{{Type: tea.KeyDown}}, 1, nil},
		{"j moves", []tea.KeyMsg{{Type: tea.KeyRunes, Runes: []rune("j")}}, 1, nil},
		{"down stops at the end", []tea.KeyMsg{{Type: tea.KeyDown}, {Type: tea.KeyDown}}, 1, nil},
		{"up stops at the top", []tea.KeyMsg{{Type: tea.KeyUp}}, 0, nil},
		{"enter opens the selected lab", []tea.KeyMsg{{Type: tea.KeyDown}, {Type: tea.KeyEnter}}, 1, common.OpenLabMsg{}},
		{"q quits", []tea.KeyMsg{{Type: tea.KeyRunes, Runes: []rune("q")}}, 0, tea.QuitMsg{}},
	}
	for _, tc := range tests {
		m := New(twoLabs(), nil)
		var last tea.Msg
		for _, k := range tc.keys {
			var cmd tea.Cmd
			m, cmd = m.Update(k)
			last = nil
			if cmd != nil {
				last = cmd()
			}
		}
		if m.Cursor != tc.wantCursor {
			t.Errorf("%s: cursor %d, want %d", tc.name, m.Cursor, tc.wantCursor)
		}
		switch want := tc.wantMsg.(type) {
		case nil:
			if last != nil {
				t.Errorf("%s: unexpected %T", tc.name, last)
			}
		case common.OpenLabMsg:
			got, ok := last.(common.OpenLabMsg)
			if !ok || got.Lab.Name != "canary" {
				t.Errorf("%s: got %#v, want OpenLabMsg{canary}", tc.name, last)
			}
			_ = want
		case tea.QuitMsg:
			if _, ok := last.(tea.QuitMsg); !ok {
				t.Errorf("%s: got %T, want QuitMsg", tc.name, last)
			}
		}
	}
}

func TestBrowserMarks(t *testing.T) {
	p := &labs.Progress{Labs: map[string]*labs.LabProgress{
		"retries": {Completed: true},
		"canary":  {Current: "predict"},
	}}
	v := New(twoLabs(), p).View()
	for _, want := range []string{"✓ 2. Retries", "◐ 4. Canary", "Press Enter to open \"Retries\""} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	if got := Mark(p, "sidecar"); got != "·" {
		t.Errorf("not started: %s", got)
	}
}
