// Package runview is the live view of a run while engine.Run works: the
// phase, elapsed and remaining time with a progress bar, requests per
// second, error rate and retries, per-service counters (the apps of
// ProgressEvent.Components, in topology order), the latest policy events
// (retries, ejections … merged per second so a burst stays readable), and
// a timeline of rps, errors and ejections per second.
//
// The model only folds engine events (Apply) into what it draws; the root
// starts the run and forwards the events. Times come from the events
// (PhaseEvent.At, ProgressEvent.Elapsed, PolicyEvent.At), never from the
// wall clock, so the view is deterministic for a given event stream.
package runview

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"meshgym/engine"
	"meshgym/scenarios"
	"meshgym/tui/common"
)

// maxEventLines is how many policy event lines the view keeps.
const maxEventLines = 4

// EventLine is one line of the policy event list: the decisions of one
// kind on one endpoint within one second of the phase, merged.
type EventLine struct {
	Offset    float64 // seconds since the phase started (whole second)
	Phase     string
	Kind      string // retry, ejection …
	Component string // the sidecar that decided
	Endpoint  string
	Status    int
	Count     int64 // decisions merged into the line
}

// Model is the live run's state.
type Model struct {
	// Scenario and Lab name the run in the header.
	Scenario string
	Pattern  string
	// Settings are the knob values of the run ("retry.attempts=0"),
	// named in the after phase's header (nil: none).
	Settings []string
	// Order is the topology's component order (apps), for the counters.
	Order []string

	Phase       string
	PhaseDetail string
	phaseStart  time.Time
	// Last is the latest progress of the measuring phase (nil before one).
	Last *engine.ProgressEvent
	// PhaseTotal is the load duration of one measuring phase.
	PhaseTotal time.Duration
	// RPS, Errors and Ejections are the current phase's per-second
	// timeline (index = second of the phase).
	RPS, Errors, Ejections []float64
	// Events are the latest policy event lines, oldest first.
	Events []EventLine
	// Totals counts policy decisions by kind in the current measuring
	// phase (the one number of retries the view shows).
	Totals map[string]int64
	// Logs holds the engine's latest note (LogEvent).
	Logs []string

	// Confirming is true while "stop the run?" waits for y/n; Stopping
	// once the run was cancelled and the engine is tearing down.
	Confirming, Stopping bool
	quitAfter            bool

	prevReq, prevErr int64
	prevElapsed      time.Duration
	size             common.Size
	keys             common.Keys
	styles           common.Styles
	help             help.Model
	barWidth         int
}

// New is the view of a run of sc.
func New(sc *scenarios.Scenario) Model {
	m := Model{Totals: map[string]int64{}, keys: common.DefaultKeys(), styles: common.DefaultStyles(), help: help.New()}
	if sc != nil {
		m.Scenario, m.Pattern = sc.Name, sc.Pattern.Kind
		m.PhaseTotal = time.Duration(sc.Load.Duration)
		for _, svc := range sc.Topology.Services {
			for _, v := range svc.Versions {
				m.Order = append(m.Order, v.Name)
			}
		}
	}
	m.SetSize(common.MinWidth, common.MinHeight)
	return m
}

// SetSize lays the view out for a w×h screen.
func (m *Model) SetSize(w, h int) {
	m.size = common.Size{Width: w, Height: h}
	m.help.Width = w
	m.barWidth = max(w-58, 10)
}

// ShowAll toggles the full help.
func (m *Model) ShowAll(on bool) { m.help.ShowAll = on }

// Apply folds one engine event into the view.
func (m *Model) Apply(ev engine.Event) {
	switch e := ev.(type) {
	case *engine.PhaseEvent:
		if !e.Start {
			return
		}
		m.Phase, m.PhaseDetail, m.phaseStart = e.Phase, e.Detail, e.At
		if e.Phase == engine.PhaseBefore || e.Phase == engine.PhaseAfter {
			m.RPS, m.Errors, m.Ejections = nil, nil, nil
			m.Last = nil
			m.Totals = map[string]int64{}
			m.Events = nil
			m.prevReq, m.prevErr, m.prevElapsed = 0, 0, 0
		}
	case *engine.ProgressEvent:
		if e.Total > 0 {
			m.PhaseTotal = e.Total
		}
		sec := second(e.Elapsed)
		if dt := (e.Elapsed - m.prevElapsed).Seconds(); dt > 0 {
			m.grow(sec)
			m.RPS[sec] = float64(e.Requests-m.prevReq) / dt
			m.Errors[sec] = float64(e.Errors-m.prevErr) / dt
			m.prevReq, m.prevErr, m.prevElapsed = e.Requests, e.Errors, e.Elapsed
		}
		m.Last = e
	case *engine.PolicyEvent:
		n := max(e.Count, 1)
		m.Totals[e.Kind] += n
		off := 0.0
		if !m.phaseStart.IsZero() && !e.At.IsZero() {
			off = float64(int(e.At.Sub(m.phaseStart).Seconds()))
		}
		if e.Kind == "ejection" {
			sec := max(int(off), 0)
			m.grow(sec)
			m.Ejections[sec] += float64(n)
		}
		// Merge a burst: one line per kind, endpoint and status a second.
		if k := len(m.Events); k > 0 {
			l := &m.Events[k-1]
			if l.Offset == off && l.Phase == e.Phase && l.Kind == e.Kind && l.Endpoint == e.Endpoint && l.Component == e.Component && l.Status == e.StatusCode {
				l.Count += n
				return
			}
		}
		m.Events = append(m.Events, EventLine{Offset: off, Phase: e.Phase, Kind: e.Kind, Component: e.Component, Endpoint: e.Endpoint, Status: e.StatusCode, Count: n})
		if len(m.Events) > maxEventLines {
			m.Events = m.Events[len(m.Events)-maxEventLines:]
		}
	case *engine.LogEvent:
		m.Logs = append(m.Logs, e.Msg)
		if len(m.Logs) > 1 {
			m.Logs = m.Logs[len(m.Logs)-1:]
		}
	}
}

// second is the timeline index of a progress report at elapsed: the
// second that just ended (reports come about once a second, a little
// early or late: 0.98 s and 1.02 s both close second 0).
func second(elapsed time.Duration) int {
	return max(int(math.Round(elapsed.Seconds()))-1, 0)
}

// grow makes the timeline long enough for second sec.
func (m *Model) grow(sec int) {
	for len(m.RPS) <= sec {
		m.RPS = append(m.RPS, 0)
		m.Errors = append(m.Errors, 0)
		m.Ejections = append(m.Ejections, 0)
	}
}

// Update handles the keys of a running run: esc (back to the lab) and
// ctrl+c (quit) ask "stop the run?"; y (or ctrl+c again) confirms and
// asks the root to cancel the run (common.StopRunMsg), n or esc keeps it.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	km, ok := msg.(tea.KeyMsg)
	if !ok || m.Stopping {
		return m, nil
	}
	if m.Confirming {
		switch {
		case key.Matches(km, m.keys.Yes) || km.String() == "ctrl+c":
			m.Confirming, m.Stopping = false, true
			return m, common.Send(common.StopRunMsg{Quit: m.quitAfter || km.String() == "ctrl+c"})
		case key.Matches(km, m.keys.No):
			m.Confirming, m.quitAfter = false, false
		}
		return m, nil
	}
	if key.Matches(km, m.keys.Stop) {
		m.Confirming = true
		m.quitAfter = km.String() == "ctrl+c"
	}
	return m, nil
}

// remaining is the expected time left in the run: the rest of this
// phase, plus the after phase while the before phase runs.
func (m Model) remaining() time.Duration {
	var d time.Duration
	switch m.Phase {
	case engine.PhaseDeploy, "":
		d = 2 * m.PhaseTotal
	case engine.PhaseBefore:
		d = m.PhaseTotal
		if m.Last != nil {
			d = m.PhaseTotal - m.Last.Elapsed
		}
		d += m.PhaseTotal
	case engine.PhaseAfter:
		d = m.PhaseTotal
		if m.Last != nil {
			d = m.PhaseTotal - m.Last.Elapsed
		}
	}
	return max(d, 0)
}

// leftText says how much of the run is left: the rest of this phase and
// the phases after it, or what comes next when this phase is measured.
func (m Model) leftText() string {
	left := m.remaining()
	switch {
	case m.Phase == engine.PhaseBefore && m.Last != nil && m.Last.Elapsed >= m.PhaseTotal:
		return fmt.Sprintf("after phase next (%.0f s)", left.Seconds())
	case m.Phase == engine.PhaseAfter && m.Last != nil && m.Last.Elapsed >= m.PhaseTotal:
		return "measured; judging"
	case m.Phase == engine.PhaseTeardown:
		return "measured; tearing down"
	}
	return fmt.Sprintf("about %.0f s left", left.Seconds())
}

// phaseText says what the phase does in words.
func (m Model) phaseText() string {
	switch m.Phase {
	case "":
		return "starting"
	case engine.PhaseDeploy:
		return "deploying the sample system"
	case engine.PhaseBefore:
		return "before phase: measuring with the pattern off"
	case engine.PhaseAfter:
		if len(m.Settings) > 0 {
			return "after phase: the lab's " + m.Pattern + " policy (" + strings.Join(m.Settings, ", ") + ")"
		}
		return "after phase: measuring with " + m.Pattern + " on"
	case engine.PhaseTeardown:
		return "tearing down"
	}
	return m.Phase
}

// View draws the live run.
func (m Model) View() string {
	s := m.styles
	w := m.size.Width
	var lines []string
	add := func(l ...string) { lines = append(lines, l...) }
	add(s.Title.Render(common.Truncate(fmt.Sprintf("Running %s · %s", m.Scenario, m.phaseText()), w)))

	elapsed, pct := time.Duration(0), 0.0
	if m.Last != nil {
		elapsed = m.Last.Elapsed
		if m.PhaseTotal > 0 {
			pct = min(float64(elapsed)/float64(m.PhaseTotal), 1)
		}
	}
	add(fmt.Sprintf("%s %3.0f%%  %.0f s / %.0f s of this phase · %s", common.Bar(pct, 1, m.barWidth), 100*pct, min(elapsed, m.PhaseTotal).Seconds(), m.PhaseTotal.Seconds(), m.leftText()))
	if p := m.Last; p != nil {
		rate := 0.0
		if p.Requests > 0 {
			rate = 100 * float64(p.Errors) / float64(p.Requests)
		}
		add(fmt.Sprintf("%.1f req/s   %d requests   %d errors (%.1f%%)", p.RPS, p.Requests, p.Errors, rate) + s.Subtle.Render("   load generator, live"))
	} else {
		add(s.Subtle.Render("waiting for the first measurements…"))
	}
	// The engine's notes (a port taken …) on their own line.
	note := ""
	for _, l := range m.Logs {
		note = s.Subtle.Render(common.Truncate("note: "+l, w))
	}
	add(note)

	// Per-service counters.
	add(s.Subtle.Render(common.Truncate("Each component as the services counted it (a scrape each second):", w)))
	add(s.Title.Render(fmt.Sprintf("%-16s %10s %8s %7s", "component", "requests", "errors", "error%")))
	names := m.components()
	for _, n := range names {
		var c struct{ req, errs float64 }
		if m.Last != nil {
			cc := m.Last.Components[n]
			c.req, c.errs = cc.Requests, cc.Errors
		}
		rate := "—"
		if c.req > 0 {
			rate = fmt.Sprintf("%.1f%%", 100*c.errs/c.req)
		}
		add(fmt.Sprintf("%-16s %10.0f %8.0f %7s", common.Truncate(n, 16), c.req, c.errs, rate))
	}
	add("")

	// Timeline: every row has the same number of marks (one a second).
	tw := max(w-24, 10)
	add(s.Title.Render("Timeline") + s.Subtle.Render(" (one mark a second, this phase)"))
	add(fmt.Sprintf("  %-9s %s %s", "rps", common.Sparkline(m.RPS, tw), peak(m.RPS)))
	add(fmt.Sprintf("  %-9s %s %s", "errors/s", common.Sparkline(m.Errors, tw), peak(m.Errors)))
	add(fmt.Sprintf("  %-9s %s %s", "ejections", common.Sparkline(m.Ejections, tw), peak(m.Ejections)))
	add("")

	// Policy events.
	add(s.Title.Render("Policy events this phase") + s.Subtle.Render(" "+totalsText(m.Totals)))
	if len(m.Events) == 0 {
		add(s.Subtle.Render("  none yet (retries and ejections show here as they happen)"))
	}
	for _, e := range m.Events {
		l := fmt.Sprintf("  %-6s %4.0fs  %-10s %s → %s", e.Phase, e.Offset, e.Kind, e.Component, e.Endpoint)
		if e.Status != 0 {
			l += fmt.Sprintf(" (%d)", e.Status)
		}
		if e.Count > 1 {
			l += fmt.Sprintf(" ×%d", e.Count)
		}
		add(common.Truncate(l, w))
	}

	var foot []string
	switch {
	case m.Stopping:
		foot = append(foot, s.Status.Render("Stopping: tearing down everything the run started…"))
	case m.Confirming:
		foot = append(foot, s.Status.Render("Stop the run? Nothing is judged and everything it started is torn down. (y/n)"))
	default:
		foot = append(foot, "The run goes on by itself; the before/after view opens when it ends.")
	}
	hm := common.HelpMap{m.keys.Stop, m.keys.ForceQuit, common.HelpKey(m.help.ShowAll)}
	if m.Confirming {
		hm = common.HelpMap{m.keys.Yes, m.keys.No}
	}
	if m.Stopping {
		hm = nil
	}
	foot = append(foot, common.HelpView(m.help, hm))
	// Keep the footer on screen: drop body lines that do not fit.
	room := m.size.Height - lipgloss.Height(strings.Join(foot, "\n"))
	if len(lines) > room {
		lines = lines[:max(room, 0)]
	}
	for len(lines) < room {
		lines = append(lines, "")
	}
	return strings.Join(append(lines, foot...), "\n")
}

// components are the apps to count, in topology order (sidecars left
// out), then any other app the events named.
func (m Model) components() []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range m.Order {
		seen[n] = true
		out = append(out, n)
	}
	if m.Last != nil {
		var extra []string
		for n := range m.Last.Components {
			if !seen[n] && !strings.HasSuffix(n, "_sidecar") {
				extra = append(extra, n)
			}
		}
		sort.Strings(extra)
		out = append(out, extra...)
	}
	return out
}

func peak(vs []float64) string {
	mx := 0.0
	for _, v := range vs {
		mx = max(mx, v)
	}
	return fmt.Sprintf("max %.0f", mx)
}

func totalsText(t map[string]int64) string {
	if len(t) == 0 {
		return ""
	}
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, t[k]))
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
