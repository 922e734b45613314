// Package compare is the before/after view of a finished run: what the
// learner's run found (labs.Feedback: predictions and checks), the requests
// each component received in both phases as horizontal bars with counts
// and shares, the client's latency percentiles p50/p90/p99 side by side,
// and the scenario's condition table with PASS/FAIL verdicts
// (verdict.Verdict). It reads engine.Result's public fields only, the same
// numbers report.Text prints.
//
// Its trace sub-view (key t) draws one traced request of the run as the
// waterfall `meshgym trace` prints (tracing.WaterfallString): a retried
// one if any, else a failed one, else the slowest; tab cycles the kinds.
// The view never reads the spans file itself: t asks the root with
// common.LoadTracesMsg and the root hands the traces back with SetTraces.
package compare

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"

	"meshgym/engine"
	"meshgym/labs"
	"meshgym/load"
	"meshgym/metrics"
	"meshgym/tracing"
	"meshgym/tui/common"
	"meshgym/verdict"
)

// barWidth is the width of one phase's bar, in cells.
const barWidth = 10

// Model is the before/after view of one run.
type Model struct {
	Result   *engine.Result
	Feedback *labs.Feedback // nil when the run was not judged by a lab
	// Next says what to do after looking ("" = go back to the lab and
	// continue); the root sets it from the lab step's status.
	Next string
	// Waterfall is how the trace sub-view draws (the root sets ASCII and
	// no colour under NO_COLOR); the zero value is Unicode, no colour.
	Waterfall tracing.WaterfallOptions
	size      common.Size
	keys      common.Keys
	styles    common.Styles
	help      help.Model
	body      viewport.Model
	trace     traceView
}

// New shows res with the lab's feedback fb (may be nil).
func New(res *engine.Result, fb *labs.Feedback) Model {
	m := Model{Result: res, Feedback: fb, keys: common.DefaultKeys(), styles: common.DefaultStyles(), help: help.New(), body: viewport.New(80, 20), trace: traceView{body: viewport.New(80, 20)}}
	m.SetSize(common.MinWidth, common.MinHeight)
	return m
}

// SetSize lays the view out for a w×h screen.
func (m *Model) SetSize(w, h int) {
	m.size = common.Size{Width: w, Height: h}
	m.help.Width = w
	m.body.Width = w
	m.body.Height = max(h-1-m.footerHeight(), 3)
	m.body.SetContent(m.content())
	m.layoutTrace()
}

// ShowAll toggles the full help.
func (m *Model) ShowAll(on bool) { m.help.ShowAll = on; m.SetSize(m.size.Width, m.size.Height) }

func (m Model) footerHeight() int {
	return len(m.nextLines(true)) + len(strings.Split(common.HelpView(m.help, m.helpMap()), "\n"))
}

// nextLines say what to do next (Next, or go back to the lab), after
// "↓ more below" while the body scrolls; at most 2 rows.
func (m Model) nextLines(more bool) []string {
	next := "Press esc to go back to the lab."
	if m.Next != "" {
		next = m.Next
	}
	if more {
		next = "↓ more below (pgdn) · " + next
	}
	return common.Wrap(next, m.size.Width, 2)
}

func (m Model) helpMap() common.HelpMap {
	up := key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓ pgup/pgdn", "scroll"))
	trace := key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "trace"))
	trace.SetEnabled(TracesRecorded(m.Result))
	back := key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back to the lab"))
	return common.HelpMap{up, trace, back, m.keys.Help, m.keys.ForceQuit}
}

// Update scrolls (↑/↓, pgup/pgdn), opens the trace sub-view with t (its
// keys: tab/n next kind, esc back here) and goes back with esc (or q, o,
// backspace). It does no I/O: t returns a command yielding
// common.LoadTracesMsg the first time.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return m, nil
	}
	if m.TraceOpen() {
		return m.updateTrace(km)
	}
	switch km.String() {
	case "esc", "q", "o", "backspace":
		return m, common.Send(common.BackMsg{})
	case "t":
		cmd := m.openTrace()
		return m, cmd
	default:
		scroll(&m.body, km.String())
	}
	return m, nil
}

// scroll moves vp for a scrolling key (↑/↓ k/j, pgup/pgdn b/f/space,
// home/end g/G); other keys do nothing.
func scroll(vp *viewport.Model, k string) {
	switch k {
	case "up", "k":
		vp.ScrollUp(1)
	case "down", "j":
		vp.ScrollDown(1)
	case "pgup", "b":
		vp.HalfPageUp()
	case "pgdown", " ", "f":
		vp.HalfPageDown()
	case "home", "g":
		vp.GotoTop()
	case "end", "G":
		vp.GotoBottom()
	}
}

// View draws the header, the scrolling body and the footer.
func (m Model) View() string {
	if m.TraceOpen() {
		return m.traceScreen()
	}
	s := m.styles
	title := "Before / after"
	if r := m.Result; r != nil && r.Scenario != nil {
		title += " · " + r.Scenario.Name
		if r.ID != "" {
			title += " · run " + r.ID
		}
	}
	var b strings.Builder
	b.WriteString(s.Title.Render(common.Truncate(title, m.size.Width)) + "\n")
	body := m.body.View()
	b.WriteString(body + "\n")
	lines := m.nextLines(!m.body.AtBottom())
	// Keep the layout's height when the scroll note goes away.
	for len(lines) < len(m.nextLines(true)) {
		lines = append(lines, "")
	}
	b.WriteString(strings.Join(lines, "\n") + "\n")
	b.WriteString(common.HelpView(m.help, m.helpMap()))
	return b.String()
}

// content is the scrolling body.
func (m Model) content() string {
	res := m.Result
	if res == nil {
		return "No run to show yet."
	}
	s := m.styles
	w := m.size.Width
	var out []string
	add := func(l ...string) { out = append(out, l...) }
	if res.Error != "" {
		add(s.Error.Render(common.Truncate("The run stopped early: "+res.Error, w)), "")
	}
	if fb := m.Feedback; fb != nil && (len(fb.Predictions) > 0 || len(fb.Checks) > 0) {
		add(s.Title.Render("Your run"))
		for _, p := range fb.Predictions {
			add(common.Wrap(mark(p.Correct, s)+" "+p.Line, w, 3)...)
		}
		for _, c := range fb.Checks {
			line := c.Line
			if !strings.HasPrefix(line, "✓") && !strings.HasPrefix(line, "✗") {
				line = mark(c.Passed, s) + " " + line
			}
			add(common.Wrap(line, w, 3)...)
		}
		add("")
	}
	add(m.traffic()...)
	add("")
	add(m.latency()...)
	add("")
	add(m.conditions()...)
	return strings.Join(out, "\n")
}

func mark(ok bool, s common.Styles) string {
	if ok {
		return s.Pass.Render("✓")
	}
	return s.Fail.Render("✗")
}

func snap(p *engine.PhaseResult) *metrics.Snapshot {
	if p == nil {
		return nil
	}
	return p.Snapshot
}

func client(p *engine.PhaseResult) *load.ClientView {
	if p == nil || p.Load == nil {
		return nil
	}
	return &p.Load.Client
}

// count sums the inbound requests of a component (or a whole service)
// and those not answered 2xx.
func count(s *metrics.Snapshot, name string) (total, errs float64) {
	if s == nil {
		return 0, 0
	}
	for _, r := range s.Requests {
		if metrics.MatchName(name, r.Name) {
			total += r.Count
			if r.StatusCode < 200 || r.StatusCode > 299 {
				errs += r.Count
			}
		}
	}
	return total, errs
}

// traffic is the requests each component received: count and a bar to a
// common scale per phase, the component's share of its service's requests
// (services with several versions) and its error share.
func (m Model) traffic() []string {
	res := m.Result
	s := m.styles
	if res.Scenario == nil {
		return nil
	}
	before, after := snap(res.Before), snap(res.After)
	type row struct {
		name, svc string
		versions  int
	}
	var rows []row
	for _, svc := range res.Scenario.Topology.Services {
		for _, v := range svc.Versions {
			rows = append(rows, row{v.Name, svc.Name, len(svc.Versions)})
		}
	}
	scale := 0.0
	for _, r := range rows {
		for _, sn := range []*metrics.Snapshot{before, after} {
			t, _ := count(sn, r.name)
			scale = max(scale, t)
		}
	}
	cell := func(sn *metrics.Snapshot, r row) string {
		if sn == nil {
			return common.Pad("—", barWidth+19)
		}
		t, e := count(sn, r.name)
		share := ""
		if r.versions > 1 {
			if st, _ := count(sn, r.svc); st > 0 {
				share = fmt.Sprintf("%.0f%%", 100*t/st)
			}
		}
		errs := "—"
		if t > 0 {
			errs = fmt.Sprintf("%.0f%%", 100*e/t)
		}
		return fmt.Sprintf("%s %6.0f %4s %5s", common.Bar(t, scale, barWidth), t, share, errs)
	}
	out := []string{
		s.Title.Render("Requests each component received") + s.Subtle.Render(" (share = of its service; err = not 2xx)"),
		fmt.Sprintf("%-14s %-29s  %-29s", "", "BEFORE (pattern off)", "AFTER ("+res.Scenario.Pattern.Kind+")"),
		s.Subtle.Render(fmt.Sprintf("%-14s %s  %s", "component", hdr(), hdr())),
	}
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%-14s %s  %s", common.Truncate(r.name, 14), cell(before, r), cell(after, r)))
	}
	return out
}

func hdr() string { return fmt.Sprintf("%-10s %6s %4s %5s", "", "count", "share", "err") }

// latency is the client's p50/p90/p99 (and the error share it saw) in
// both phases.
func (m Model) latency() []string {
	res := m.Result
	out := []string{m.styles.Title.Render("Client latency") + m.styles.Subtle.Render(" (what the load generator saw)"),
		fmt.Sprintf("  %-8s %9s %9s %9s %9s %9s", "", "p50", "p90", "p99", "req/s", "errors")}
	for _, ph := range []struct {
		name string
		p    *engine.PhaseResult
	}{{"before", res.Before}, {"after", res.After}} {
		c := client(ph.p)
		if c == nil {
			out = append(out, fmt.Sprintf("  %-8s %9s", ph.name, "not measured"))
			continue
		}
		errs := "0%"
		if c.Count > 0 {
			errs = fmt.Sprintf("%.1f%%", 100*float64(c.Errors)/float64(c.Count))
		}
		out = append(out, fmt.Sprintf("  %-8s %9s %9s %9s %9.1f %9s", ph.name, ms(c.P50S), ms(c.P90S), ms(c.P99S), c.ActualRPS, errs))
	}
	return out
}

// ms formats seconds as milliseconds.
func ms(s float64) string {
	switch {
	case s >= 1:
		return fmt.Sprintf("%.2f s", s)
	case s >= 0.01:
		return fmt.Sprintf("%.1f ms", s*1000)
	}
	return fmt.Sprintf("%.2f ms", s*1000)
}

// conditions is the condition table: each condition measured before and
// after, and the verdict (decided on after).
func (m Model) conditions() []string {
	res := m.Result
	s := m.styles
	out := []string{s.Title.Render("Conditions") + s.Subtle.Render(" (the verdict is decided on the after phase)")}
	if len(res.Verdicts) == 0 {
		if res.Scenario != nil && len(res.Scenario.Conditions) > 0 && res.Error != "" {
			return append(out, "  not evaluated: the run stopped early")
		}
		return append(out, "  the scenario has no success conditions")
	}
	cw := max(m.size.Width-2-10-10-8-3, 20)
	for _, v := range res.Verdicts {
		st := string(v.Status)
		switch v.Status {
		case verdict.Pass:
			st = s.Pass.Render(st)
		case verdict.Fail:
			st = s.Fail.Render(st)
		case verdict.Warn:
			st = s.Warn.Render(st)
		}
		text := v.Condition.Text
		if text == "" {
			text = v.Condition.Metric
		}
		out = append(out, fmt.Sprintf("  %s %9s %9s  %s", common.Pad(text, cw), value(v.Before), value(v.After), st))
	}
	return out
}

// value formats a measured value in its unit ("n/a" when missing).
func value(r verdict.Result) string {
	if !r.Known {
		return "n/a"
	}
	switch r.Unit {
	case verdict.UnitPercent:
		return fmt.Sprintf("%.1f%%", r.Value)
	case verdict.UnitSeconds:
		return ms(r.Value)
	case verdict.UnitRatio:
		return fmt.Sprintf("%.2f×", r.Value)
	}
	return fmt.Sprintf("%g", r.Value)
}
