// Package labview is the view of one lab: the step list (status marks from
// labs.Session.Status, locked steps dimmed), the current step's Markdown
// rendered with glamour and word-wrapped to the width, the step's answers
// (predict) or knobs (run), a status line with the feedback of the last
// action, a line that says what to do next, and a help bar with the keys
// valid now.
//
// All lab logic is labs.Session's; this package only maps keys to Session
// calls and asks the root (common messages) to run, save, observe or go
// back. It does no I/O.
package labview

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/glamour"
	"github.com/charmbracelet/glamour/ansi"
	"github.com/charmbracelet/glamour/styles"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"meshgym/labs"
	"meshgym/tui/common"
)

// Markdown styles (glamour standard style names).
const (
	// StyleASCII renders without colour or non-ASCII decoration: NO_COLOR
	// terminals and golden tests.
	StyleASCII = "ascii"
	// StyleDark is glamour's dark style, for colour terminals.
	StyleDark = "dark"
)

// listWidth is the step list's width in cells on a screen w cells wide
// (the Markdown gets the rest): 24 below 100 columns, so that at 80 the
// text has 55 columns and a step title of up to 17 characters fits
// (TestEveryEmbeddedLabFits holds the labs to that), 30 on wider screens.
func listWidth(w int) int {
	if w < 100 {
		return 24
	}
	return 30
}

// Marks explains the step list's marks (shown with the full help).
const Marks = "Marks: ✓ done  » skipped (solution)  ✗ failed  · open  - locked  ▸ you are here"

// confirm is a question waiting for y/n.
type confirm int

const (
	confirmNone confirm = iota
	confirmSolve
	confirmReset
)

// Model is one open lab.
type Model struct {
	Session *labs.Session
	// Status is the feedback line (Session errors, hints, run outcomes).
	Status string
	// StatusErr marks Status as a problem (drawn in the error style).
	StatusErr bool
	// Knob is the selected knob of a run step.
	Knob int

	confirm  confirm
	mdStyle  string
	size     common.Size
	keys     common.Keys
	styles   common.Styles
	help     help.Model
	body     viewport.Model
	rendered map[string]string // cache: style|width|markdown → rendered
	bodyKey  string
}

// New opens the view on s; mdStyle is a glamour standard style name
// (StyleASCII or StyleDark).
func New(s *labs.Session, mdStyle string) Model {
	if mdStyle == "" {
		mdStyle = StyleASCII
	}
	m := Model{Session: s, mdStyle: mdStyle, keys: common.DefaultKeys(), styles: common.DefaultStyles(),
		help: help.New(), body: viewport.New(40, 10), rendered: map[string]string{}}
	m.SetSize(common.MinWidth, common.MinHeight)
	return m
}

// SetSize lays the view out for a w×h screen.
func (m *Model) SetSize(w, h int) {
	m.size = common.Size{Width: w, Height: h}
	m.help.Width = w
	m.refresh()
}

// ShowAll toggles the full help (the ? key, handled by the root).
func (m *Model) ShowAll(on bool) { m.help.ShowAll = on; m.refresh() }

// SetStatus shows a feedback line (err marks it as a problem) and lays
// the view out again (a longer status leaves the text fewer rows).
func (m *Model) SetStatus(s string, err bool) { m.Status, m.StatusErr = s, err; m.refresh() }

// Recorded shows the outcome of a run Session.Record judged.
func (m *Model) Recorded(fb labs.Feedback) {
	right, n := 0, len(fb.Predictions)
	for _, p := range fb.Predictions {
		if p.Correct {
			right++
		}
	}
	var parts []string
	if n > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d predictions right", right, n))
	}
	if len(fb.Checks) > 0 {
		if fb.Passed {
			parts = append(parts, "every check passed: press n to continue")
		} else {
			parts = append(parts, "a check failed: change a knob and press Enter to run again (h for a hint)")
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "run recorded")
	}
	m.SetStatus("Run finished: "+strings.Join(parts, "; ")+". Press o to see the before/after view again.", len(fb.Checks) > 0 && !fb.Passed)
	m.refresh()
}

func (m Model) step() *labs.Step { return m.Session.Step() }

func (m Model) hasKnobs() bool {
	st := m.step()
	return st != nil && st.Kind == labs.KindRun && len(m.Session.Knobs()) > 0
}

// Update maps keys to Session calls; it returns commands that ask the
// root to save, run, observe or go back.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return m, nil
	}
	if m.confirm != confirmNone {
		return m.answer(km)
	}
	k := m.keys
	st := m.step()
	knobs := m.hasKnobs()
	var cmd tea.Cmd
	save := common.Send(common.SaveMsg{})
	switch {
	case key.Matches(km, k.Back):
		return m, common.Send(common.BackMsg{})
	case knobs && key.Matches(km, k.KnobUp):
		m.Knob = (m.Knob + len(m.Session.Knobs()) - 1) % len(m.Session.Knobs())
	case knobs && key.Matches(km, k.KnobDown):
		m.Knob = (m.Knob + 1) % len(m.Session.Knobs())
	case knobs && key.Matches(km, k.KnobLess):
		m.Session.CycleKnob(m.Knob, -1)
		m.SetStatus("", false)
		cmd = save
	case knobs && key.Matches(km, k.KnobMore):
		m.Session.CycleKnob(m.Knob, +1)
		m.SetStatus("", false)
		cmd = save
	case key.Matches(km, k.Next):
		last := m.Session.Index() == len(m.Session.Lab.Steps)-1
		if last && m.Session.Progress().Completed {
			return m, common.Send(common.BackMsg{})
		}
		if err := m.Session.Next(); err != nil {
			m.SetStatus(err.Error(), true)
		} else {
			m.SetStatus("", false)
			if last {
				m.SetStatus("Lab complete ✓ — every step of "+m.Session.Lab.Title+" is done.", false)
			}
			m.Knob = 0
			cmd = save
		}
	case key.Matches(km, k.Prev):
		if i := m.Session.Index(); i > 0 {
			if err := m.Session.Goto(i - 1); err != nil {
				m.SetStatus(err.Error(), true)
			} else {
				m.SetStatus("", false)
				m.Knob = 0
				cmd = save
			}
		} else {
			m.SetStatus("This is the first step.", false)
		}
	case st != nil && st.Kind == labs.KindPredict && key.Matches(km, k.Choose):
		i := int(km.String()[0] - '1')
		if i >= len(st.Choices) {
			m.SetStatus(fmt.Sprintf("There are %d answers: choose 1–%d.", len(st.Choices), len(st.Choices)), true)
		} else if err := m.Session.Choose(i); err != nil {
			m.SetStatus(err.Error(), true)
		} else {
			m.SetStatus("Answer saved: the next run judges it against what it measures.", false)
			cmd = save
		}
	case st != nil && st.Kind == labs.KindRun && key.Matches(km, k.Run):
		sc, err := m.Session.Scenario()
		if err != nil {
			m.SetStatus(err.Error(), true)
		} else {
			m.SetStatus("", false)
			cmd = common.Send(common.RunMsg{Scenario: sc, Settings: m.Session.Settings()})
		}
	case key.Matches(km, k.Hint):
		if h := m.Session.Hint(); h != "" {
			m.SetStatus("Hint: "+h, false)
		} else {
			m.SetStatus("This step has no hint.", false)
		}
	case st != nil && st.Kind == labs.KindRun && len(st.Solution) > 0 && key.Matches(km, k.Solve):
		m.confirm = confirmSolve
	case key.Matches(km, k.Observe):
		if m.Session.Last() == nil {
			m.SetStatus("There is no run yet: go to a run step and press Enter to run.", true)
		} else {
			cmd = common.Send(common.ObserveMsg{})
		}
	case key.Matches(km, k.Reset):
		m.confirm = confirmReset
	case key.Matches(km, k.ScrollUp):
		m.body.PageUp()
		return m, nil
	case key.Matches(km, k.ScrollDown):
		m.body.PageDown()
		return m, nil
	case !knobs && key.Matches(km, k.Up):
		m.body.ScrollUp(1)
		return m, nil
	case !knobs && key.Matches(km, k.Down):
		m.body.ScrollDown(1)
		return m, nil
	default:
		return m, nil
	}
	m.refresh()
	return m, cmd
}

// Complete is the next-action line once the lab is complete.
const Complete = "Lab complete ✓ — press esc (or n) to go back to the labs."

// answer handles y/n for a pending confirmation.
func (m Model) answer(km tea.KeyMsg) (Model, tea.Cmd) {
	switch {
	case key.Matches(km, m.keys.Yes):
		c := m.confirm
		m.confirm = confirmNone
		switch c {
		case confirmSolve:
			sets := m.Session.Solve()
			m.SetStatus("Solution applied: "+strings.Join(sets, ", ")+". Press Enter to run it (the step will count as skipped).", false)
		case confirmReset:
			m.Session.Reset()
			m.Knob = 0
			m.SetStatus("The lab is back at its start.", false)
		}
		m.refresh()
		return m, common.Send(common.SaveMsg{})
	case key.Matches(km, m.keys.No):
		m.confirm = confirmNone
		m.SetStatus("Nothing changed.", false)
	}
	return m, nil
}

// StyleConfig is glamour's standard style name (StyleASCII, StyleDark)
// adjusted for reading in a terminal: inline code without the padding
// spaces glamour puts around it (a background colour shows it in colour
// styles), and in the ASCII style, which cannot show bold or italics,
// emphasis without its literal "**" and "*" markers. An unknown name is
// the ASCII style.
func StyleConfig(name string) ansi.StyleConfig {
	base, ok := styles.DefaultStyles[name]
	if !ok {
		base = &styles.ASCIIStyleConfig
	}
	c := *base
	c.Code.Prefix, c.Code.Suffix = "", ""
	if name != StyleDark {
		c.Strong.BlockPrefix, c.Strong.BlockSuffix = "", ""
		c.Emph.BlockPrefix, c.Emph.BlockSuffix = "", ""
	}
	return c
}

// markdown renders md at width w with the view's glamour style (cached).
func (m Model) markdown(md string, w int) string {
	k := fmt.Sprintf("%s|%d|%s", m.mdStyle, w, md)
	if s, ok := m.rendered[k]; ok {
		return s
	}
	opts := []glamour.TermRendererOption{glamour.WithStyles(StyleConfig(m.mdStyle)), glamour.WithWordWrap(w)}
	if m.mdStyle == StyleASCII {
		opts = append(opts, glamour.WithColorProfile(termenv.Ascii))
	} else {
		opts = append(opts, glamour.WithColorProfile(lipgloss.ColorProfile()))
	}
	out := unwrapLists(md)
	if r, err := glamour.NewTermRenderer(opts...); err == nil {
		if s, err := r.Render(md); err == nil {
			out = s
		}
	}
	out = strings.Trim(out, "\n")
	// glamour pads lines to the wrap width; the padding only costs cells.
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	out = strings.Join(lines, "\n")
	m.rendered[k] = out
	return out
}

// unwrapLists joins the continuation lines of Markdown list items to
// their item: glamour keeps a list item's source line breaks, so an item
// wrapped in the source would be wrapped twice (a short line, then the
// rest). Fenced code is left alone.
func unwrapLists(md string) string {
	lines := strings.Split(md, "\n")
	var out []string
	fence, inItem := false, false
	for _, ln := range lines {
		trim := strings.TrimSpace(ln)
		if strings.HasPrefix(trim, "```") {
			fence = !fence
		}
		switch {
		case fence || trim == "":
			inItem = false
		case listItem.MatchString(ln):
			inItem = true
		case inItem && strings.HasPrefix(ln, "  "):
			out[len(out)-1] += " " + trim
			continue
		default:
			inItem = false
		}
		out = append(out, ln)
	}
	return strings.Join(out, "\n")
}

var listItem = regexp.MustCompile(`^\s*([-*+]|\d+\.)\s`)

// bodyWidth is the Markdown column's width.
func (m Model) bodyWidth() int { return max(m.size.Width-listWidth(m.size.Width)-1, 20) }

// refresh re-renders the body into the viewport for the current step and
// size (the Markdown column's height depends on the answers or knobs).
func (m *Model) refresh() {
	if m.Session == nil || m.step() == nil {
		return
	}
	w := m.bodyWidth()
	h := max(m.size.Height-1-len(m.interaction())-m.footerHeight(), 3)
	i := m.Session.Index()
	md := m.Session.Body(i)
	k := fmt.Sprintf("%d|%d|%s", i, w, md)
	content := m.markdown(md, w)
	// A text taller than its rows keeps the last row for "↓ more below".
	if lipgloss.Height(content) > h {
		h--
	}
	m.body.Width, m.body.Height = w, max(h, 2)
	if k != m.bodyKey {
		m.body.SetContent(content)
		m.body.GotoTop()
		m.bodyKey = k
	}
}

// scrolls reports whether the step's text is taller than its rows.
func (m Model) scrolls() bool { return m.body.TotalLineCount() > m.body.Height }

// scrollLine is the row under a text taller than its rows: more below,
// or how to get back up.
func (m Model) scrollLine() string {
	switch {
	case !m.scrolls():
		return ""
	case !m.body.AtBottom():
		return m.styles.Subtle.Render("↓ more below (pgdn)")
	}
	return m.styles.Subtle.Render("↑ end of the text (pgup scrolls back)")
}

// footerHeight counts the status, next-action and help lines.
func (m Model) footerHeight() int {
	return len(m.statusLines()) + 1 + lipgloss.Height(m.helpView())
}

// helpView is the help bar: the keys that matter now on one line, or
// every key and the marks' legend with the full help (?).
func (m Model) helpView() string {
	if m.help.ShowAll && m.confirm == confirmNone {
		return m.styles.Subtle.Render(common.Truncate(Marks, m.size.Width)) + "\n" + common.HelpView(m.help, m.fullHelp())
	}
	return common.HelpView(m.help, m.helpMap())
}

// statusLines are the status line, word-wrapped to at most 3 rows (a
// hint may be long), styled; one empty row when there is nothing to say.
func (m Model) statusLines() []string {
	s := m.styles
	st, style := m.Status, s.Status
	switch {
	case m.confirm == confirmSolve:
		st = "Apply the solution for you? The step will count as skipped. (y/n)"
	case m.confirm == confirmReset:
		st = "Reset this lab to its start? Your answers and knob values are lost. (y/n)"
	case m.StatusErr:
		style = s.Error
	}
	lines := common.Wrap(st, m.size.Width, 3)
	if len(lines) == 0 {
		return []string{""}
	}
	for i, l := range lines {
		lines[i] = style.Render(l)
	}
	return lines
}

// interaction is the block under the Markdown: the question and answers
// of a predict step, the knobs of a run step.
func (m Model) interaction() []string {
	st := m.step()
	w := m.bodyWidth()
	var out []string
	switch st.Kind {
	case labs.KindPredict:
		out = append(out, "")
		for _, l := range common.Wrap(st.Question, w, 2) {
			out = append(out, m.styles.Title.Render(l))
		}
		chosen := m.Session.Chosen(st.ID)
		for i, c := range st.Choices {
			mark := "( )"
			if i == chosen {
				mark = "(•)"
			}
			line := common.Truncate(fmt.Sprintf("%s %d. %s", mark, i+1, c.Text), w)
			if i == chosen {
				line = m.styles.Selected.Render(line)
			}
			out = append(out, line)
		}
	case labs.KindRun:
		kv := m.Session.Knobs()
		if len(kv) == 0 {
			break
		}
		out = append(out, "", m.styles.Title.Render("Knobs"))
		lw := 0
		for _, k := range kv {
			lw = max(lw, len([]rune(k.Knob.Label)))
		}
		lw = min(lw, w/2)
		for i, k := range kv {
			cur := "  "
			if i == m.Knob {
				cur = "▸ "
			}
			line := fmt.Sprintf("%s%s  ‹ %s ›", cur, common.Pad(k.Knob.Label, lw), k.Value)
			// The offered values when they fit (←/→ cycles them anyway).
			if vals := "  (" + strings.Join(k.Knob.Values, " ") + ")"; lipgloss.Width(line+vals) <= w {
				line += m.styles.Subtle.Render(vals)
			}
			line = common.Truncate(line, w)
			if i == m.Knob {
				line = m.styles.Selected.Render(line)
			}
			out = append(out, line)
		}
	}
	return out
}

// nextAction says in words what to do now.
func (m Model) nextAction() string {
	st := m.step()
	last := m.Session.Index() == len(m.Session.Lab.Steps)-1
	cont := "Press n to continue."
	if last {
		cont = "This is the last step: press n to finish the lab, esc to go back to the labs."
		if m.Session.Progress().Completed {
			return Complete
		}
	}
	switch st.Kind {
	case labs.KindPredict:
		if c := m.Session.Chosen(st.ID); c >= 0 {
			return fmt.Sprintf("You chose %d (1–%d to change it). %s", c+1, len(st.Choices), cont)
		}
		return fmt.Sprintf("Choose 1–%d, then press n.", len(st.Choices))
	case labs.KindRun:
		switch m.Session.Status(m.Session.Index()) {
		case labs.StatusDone, labs.StatusSkipped:
			return "The checks passed. " + cont + " (Enter runs again.)"
		}
		what := "Press Enter to run"
		if m.hasKnobs() {
			what = "Choose values with ↑/↓ and ←/→, then press Enter to run"
		}
		return fmt.Sprintf("%s (about %s).", what, m.estimate())
	case labs.KindObserve:
		if m.Session.Last() == nil {
			return "There is no run yet: press p to go back to the run step."
		}
		return "Press o for the before/after view of your last run, then n to continue."
	}
	return cont
}

// estimate is the expected wall time of a run: both phases plus about
// 5 s to start and stop the sample system.
func (m Model) estimate() string {
	sc, err := m.Session.Scenario()
	if err != nil || sc == nil {
		return "a minute"
	}
	d := 2*time.Duration(sc.Load.Duration) + 5*time.Second
	return fmt.Sprintf("%.0f s", d.Seconds())
}

// scrollKey is the key that scrolls the text now ("pgdn more" while
// there is more below, "pgup up" at the end), disabled when it all fits.
func (m Model) scrollKey() key.Binding {
	switch {
	case !m.scrolls():
		return common.On(m.keys.ScrollDown, false)
	case !m.body.AtBottom():
		return key.NewBinding(key.WithKeys("pgdown"), key.WithHelp("pgdn", "more"))
	}
	return key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup", "up"))
}

// helpMap is the keys that matter now, most important first; the short
// help bar shows as many as fit (at 80 columns: all of them) and ? shows
// the rest (fullHelp).
func (m Model) helpMap() common.HelpMap {
	k := m.keys
	if m.confirm != confirmNone {
		return common.HelpMap{k.Yes, k.No}
	}
	st := m.step()
	if st == nil {
		return common.HelpMap{k.Back, k.ForceQuit}
	}
	help := common.HelpKey(m.help.ShowAll)
	hint := common.On(k.Hint, m.Session.Hint() != "")
	switch st.Kind {
	case labs.KindRun:
		solve := common.On(k.Solve, len(st.Solution) > 0)
		if m.hasKnobs() {
			return common.HelpMap{k.Run, k.KnobUp, k.KnobLess, hint, solve, m.scrollKey(), help}
		}
		return common.HelpMap{k.Run, k.Next, k.Prev, hint, solve, m.scrollKey(), help}
	case labs.KindPredict:
		return common.HelpMap{common.ChooseKey(len(st.Choices)), k.Next, k.Prev, m.scrollKey(), hint, k.Back, help}
	}
	last := m.Session.Index() == len(m.Session.Lab.Steps)-1
	if last && m.Session.Progress().Completed {
		return common.HelpMap{k.Back, m.scrollKey(), common.On(k.Observe, m.Session.Last() != nil), help}
	}
	return common.HelpMap{k.Next, k.Prev, m.scrollKey(), common.On(k.Observe, m.Session.Last() != nil && st.Kind == labs.KindObserve), k.Back, help}
}

// fullHelp is every key valid on this step (the ? view).
func (m Model) fullHelp() common.HelpMap {
	k := m.keys
	st := m.step()
	knobs := m.hasKnobs()
	isRun := st.Kind == labs.KindRun
	next, prev := k.Next, k.Prev
	if knobs {
		next = key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "next"))
		prev = key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "back"))
	}
	scroll := key.NewBinding(key.WithKeys("pgup", "pgdown"), key.WithHelp("pgup/pgdn", "scroll"))
	if !knobs {
		scroll = key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓ pgup/pgdn", "scroll"))
	}
	return common.HelpMap{
		common.On(common.ChooseKey(len(st.Choices)), st.Kind == labs.KindPredict),
		common.On(k.Run, isRun),
		common.On(k.KnobUp, knobs),
		common.On(k.KnobLess, knobs),
		next, prev, scroll, k.Back,
		common.On(k.Hint, m.Session.Hint() != ""),
		common.On(k.Solve, isRun && len(st.Solution) > 0),
		common.On(key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "before/after")), m.Session.Last() != nil),
		k.Reset, k.ForceQuit, common.HelpKey(true),
	}
}

// View draws the lab.
func (m Model) View() string {
	if m.Session == nil || m.step() == nil {
		return "This lab has no steps.\n"
	}
	s := m.styles
	lab := m.Session.Lab
	i := m.Session.Index()
	st := m.step()
	header := fmt.Sprintf("%s · step %d of %d · %s", lab.Title, i+1, len(lab.Steps), st.Kind)
	header = s.Title.Render(common.Truncate(header, m.size.Width))

	// Left: the step list.
	midH := max(m.size.Height-1-m.footerHeight(), 3)
	var list []string
	for j, step := range lab.Steps {
		status := m.Session.Status(j)
		cur := " "
		if j == i {
			cur = "▸"
		}
		line := common.Pad(fmt.Sprintf("%s %s %d %s", cur, common.Mark(status), j+1, step.Title), listWidth(m.size.Width)-1)
		switch {
		case j == i:
			line = s.Selected.Render(line)
		case status == labs.StatusLocked:
			line = s.Dim.Render(line)
		}
		list = append(list, line)
	}
	first := 0
	if i >= midH {
		first = i - midH + 1
	}
	list = list[first:min(len(list), first+midH)]
	left := lipgloss.NewStyle().Width(listWidth(m.size.Width)).Render(strings.Join(list, "\n"))

	right := m.body.View()
	if sl := m.scrollLine(); sl != "" {
		right += "\n" + sl
	}
	if in := m.interaction(); len(in) > 0 {
		right += "\n" + strings.Join(in, "\n")
	}
	mid := lipgloss.JoinHorizontal(lipgloss.Top, left, " ", right)
	mid = lipgloss.NewStyle().MaxHeight(midH).Render(mid)

	var b strings.Builder
	b.WriteString(header + "\n")
	b.WriteString(mid + "\n")
	if pad := midH - lipgloss.Height(mid); pad > 0 {
		b.WriteString(strings.Repeat("\n", pad))
	}
	b.WriteString(strings.Join(m.statusLines(), "\n") + "\n")
	b.WriteString(common.Truncate(m.nextAction(), m.size.Width) + "\n")
	b.WriteString(m.helpView())
	return b.String()
}
