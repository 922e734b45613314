// Package browser is the lab browser: every lab in workshop order with its
// title, summary, expected minutes and a progress mark (✓ completed,
// ◐ started, · not started). Enter opens the selected lab (a
// common.OpenLabMsg for the root); q quits.
package browser

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"meshgym/labs"
	"meshgym/tui/common"
)

// Model is the browser's state. Progress is read only (the root owns it).
type Model struct {
	Labs     []*labs.Lab
	Progress *labs.Progress
	Cursor   int
	size     common.Size
	keys     common.Keys
	styles   common.Styles
	help     help.Model
}

// New is a browser over ls (labs.All() in the program) with the learner's
// progress p (may be nil: nothing started). The cursor starts on the lab
// used last (the latest LabProgress.UpdatedAt), else on the first.
func New(ls []*labs.Lab, p *labs.Progress) Model {
	m := Model{Labs: ls, Progress: p, keys: common.DefaultKeys(), styles: common.DefaultStyles(), help: help.New()}
	m.Cursor = LastUsed(ls, p)
	m.SetSize(common.MinWidth, common.MinHeight)
	return m
}

// LastUsed is the index in ls of the lab whose progress was updated last
// (0 when none was started).
func LastUsed(ls []*labs.Lab, p *labs.Progress) int {
	best := 0
	var at time.Time
	if p == nil {
		return 0
	}
	for i, l := range ls {
		if lp := p.Labs[l.Name]; lp != nil && lp.UpdatedAt.After(at) {
			best, at = i, lp.UpdatedAt
		}
	}
	return best
}

// SetSize lays the browser out for a w×h screen.
func (m *Model) SetSize(w, h int) { m.size = common.Size{Width: w, Height: h}; m.help.Width = w }

// ShowAll toggles the full help (the ? key, handled by the root).
func (m *Model) ShowAll(on bool) { m.help.ShowAll = on }

// Selected is the lab under the cursor (nil with no labs).
func (m Model) Selected() *labs.Lab {
	if m.Cursor < 0 || m.Cursor >= len(m.Labs) {
		return nil
	}
	return m.Labs[m.Cursor]
}

// Update handles the browser's keys: ↑/↓ (k/j) move, Enter opens, q quits.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return m, nil
	}
	switch {
	case key.Matches(km, m.keys.Up):
		if m.Cursor > 0 {
			m.Cursor--
		}
	case key.Matches(km, m.keys.Down):
		if m.Cursor < len(m.Labs)-1 {
			m.Cursor++
		}
	case key.Matches(km, m.keys.Open):
		if l := m.Selected(); l != nil {
			return m, common.Send(common.OpenLabMsg{Lab: l})
		}
	case key.Matches(km, m.keys.Quit):
		return m, tea.Quit
	}
	return m, nil
}

// Mark is a lab's progress mark: ✓ completed, ◐ started, · not started.
func Mark(p *labs.Progress, name string) string {
	if p == nil || p.Labs[name] == nil {
		return "·"
	}
	lp := p.Labs[name]
	switch {
	case lp.Completed:
		return "✓"
	case lp.Current != "" || len(lp.Steps) > 0 || lp.LastRun != "":
		return "◐"
	}
	return "·"
}

// View draws the list: a title, one block of two lines per lab, what to
// do next, and the help bar.
func (m Model) View() string {
	w := max(m.size.Width, 40)
	var b strings.Builder
	b.WriteString(m.styles.Title.Render("meshgym labs") + m.styles.Subtle.Render(" · learn a service-mesh pattern by running it") + "\n\n")
	if len(m.Labs) == 0 {
		b.WriteString("No labs are built into this meshgym.\n")
	}
	hv := common.HelpView(m.help, m.helpMap())
	// Each lab takes two lines; keep the cursor visible on short screens
	// and the whole help (4 rows when open) on screen.
	rows := max((m.size.Height-6-lipgloss.Height(hv))/2, 1)
	first := 0
	if m.Cursor >= rows {
		first = m.Cursor - rows + 1
	}
	for i := first; i < len(m.Labs) && i < first+rows; i++ {
		l := m.Labs[i]
		cur := "  "
		title := fmt.Sprintf("%s %d. %s", Mark(m.Progress, l.Name), l.Order, l.Title)
		if l.Minutes > 0 {
			title += fmt.Sprintf("  (%d min)", l.Minutes)
		}
		if i == m.Cursor {
			cur = "▸ "
			title = m.styles.Selected.Render(title)
		}
		b.WriteString(cur + title + "\n")
		b.WriteString("      " + m.styles.Subtle.Render(common.Truncate(l.Summary, w-6)) + "\n")
	}
	b.WriteString("\n✓ completed  ◐ started  · not started\n")
	if l := m.Selected(); l != nil {
		b.WriteString(fmt.Sprintf("Press Enter to open %q, ↑/↓ to choose another lab, q to quit.\n", l.Title))
	}
	b.WriteString(hv)
	return b.String()
}

func (m Model) helpMap() common.HelpMap {
	return common.HelpMap{m.keys.Up, m.keys.Down, m.keys.Open, m.keys.Quit, common.HelpKey(m.help.ShowAll), m.keys.ForceQuit}
}
