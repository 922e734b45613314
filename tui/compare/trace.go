package compare

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"

	"meshgym/engine"
	"meshgym/tracing"
	"meshgym/tui/common"
)

// TraceKind is which traced request of a run the trace sub-view shows.
type TraceKind int

// The kinds, in the order tab cycles through them. Each shows the
// slowest trace of its kind (tracing.SortSlowest): a retried one
// (tracing.Trace.Retried: an attempt ≥ 2 somewhere), a failed one
// (tracing.Trace.Failed: the entry answered non-2xx), or the slowest of
// all.
const (
	KindRetried TraceKind = iota
	KindFailed
	KindSlowest
)

// String is "retried", "failed" or "slowest".
func (k TraceKind) String() string {
	switch k {
	case KindRetried:
		return "retried"
	case KindFailed:
		return "failed"
	}
	return "slowest"
}

// NoTraces is what the sub-view says of a run without traces.
const NoTraces = "this run recorded no traces (tracing off, or none sampled)"

// traceState is where the trace sub-view is.
type traceState int

const (
	traceClosed  traceState = iota // the before/after body shows
	traceLoading                   // waiting for SetTraces
	traceReady                     // a waterfall shows
	traceEmpty                     // the run has no traces (or they cannot be read): note says why
)

// traceView is the trace sub-view's state. traces are kept once loaded,
// so t opens it again without reading the file again.
type traceView struct {
	state  traceState
	loaded bool
	traces []tracing.Trace
	note   string // traceEmpty: what to say
	isErr  bool   // note is an error, not "no traces"
	kinds  []TraceKind
	at     int // index in kinds
	body   viewport.Model
}

// pick is the trace of kind k shown (the slowest of that kind) and how
// many traces are of that kind; ok is false when none is.
func pick(traces []tracing.Trace, k TraceKind) (t tracing.Trace, n int, ok bool) {
	var of []tracing.Trace
	switch k {
	case KindRetried:
		of = tracing.FilterRetried(traces)
	case KindFailed:
		of = tracing.FilterFailed(traces)
	default:
		of = traces
	}
	if len(of) == 0 {
		return tracing.Trace{}, 0, false
	}
	return tracing.SortSlowest(of)[0], len(of), true
}

// kindsOf are the kinds traces have, in cycle order (slowest whenever
// there is any trace).
func kindsOf(traces []tracing.Trace) []TraceKind {
	var out []TraceKind
	for _, k := range []TraceKind{KindRetried, KindFailed, KindSlowest} {
		if _, _, ok := pick(traces, k); ok {
			out = append(out, k)
		}
	}
	return out
}

// TracesRecorded reports whether res says it recorded spans
// (engine.Result.Traces with Spans > 0, and a run directory to read them
// from): then the before/after view offers t.
func TracesRecorded(res *engine.Result) bool {
	return res != nil && res.RunDir != "" && res.Traces != nil && res.Traces.Spans > 0
}

// TraceOpen reports whether the trace sub-view is on screen (loading or
// shown).
func (m Model) TraceOpen() bool { return m.trace.state != traceClosed }

// Shown is the kind and trace the sub-view shows; ok is false while it
// is closed, loading, or has nothing to show.
func (m Model) Shown() (k TraceKind, t tracing.Trace, ok bool) {
	if m.trace.state != traceReady || len(m.trace.kinds) == 0 {
		return 0, tracing.Trace{}, false
	}
	k = m.trace.kinds[m.trace.at]
	t, _, ok = pick(m.trace.traces, k)
	return k, t, ok
}

// openTrace opens the sub-view: at once when the traces are loaded (or
// there is no run directory to read), else it shows "reading" and asks
// the root to load them (common.LoadTracesMsg; no I/O here).
func (m *Model) openTrace() tea.Cmd {
	tv := &m.trace
	switch {
	case tv.loaded:
		tv.at = 0
		m.showTraces()
		return nil
	case m.Result == nil || m.Result.RunDir == "":
		tv.state, tv.note, tv.isErr = traceEmpty, NoTraces, false
		m.layoutTrace()
		return nil
	}
	tv.state = traceLoading
	m.layoutTrace()
	return common.Send(common.LoadTracesMsg{RunDir: m.Result.RunDir})
}

// SetTraces hands the view the traces read from runDir (tracing.Group of
// the spans file) or the error reading them. It is ignored unless runDir
// is the shown run's. A missing file (fs.ErrNotExist) or no traces is
// "no traces"; a damaged file (*tracing.LineError) or another error is
// said as such. The sub-view, if open, shows the default kind: retried
// if any, else failed, else the slowest.
func (m *Model) SetTraces(runDir string, traces []tracing.Trace, err error) {
	if m.Result == nil || runDir != m.Result.RunDir {
		return
	}
	tv := &m.trace
	var le *tracing.LineError
	switch {
	case err == nil || errors.Is(err, fs.ErrNotExist):
		tv.loaded, tv.traces, tv.kinds, tv.at = true, traces, kindsOf(traces), 0
	case errors.As(err, &le):
		tv.note, tv.isErr = "The run's spans file is damaged ("+err.Error()+"); its traces cannot be shown.", true
	default:
		tv.note, tv.isErr = "The run's traces could not be read: "+err.Error()+".", true
	}
	if tv.state == traceClosed {
		return
	}
	if tv.loaded {
		m.showTraces()
		return
	}
	tv.state = traceEmpty
	m.layoutTrace()
}

// showTraces shows the loaded traces (or says there are none).
func (m *Model) showTraces() {
	tv := &m.trace
	if len(tv.kinds) == 0 {
		tv.state, tv.note, tv.isErr = traceEmpty, NoTraces, false
	} else {
		tv.state = traceReady
	}
	m.layoutTrace()
	tv.body.GotoTop()
}

// updateTrace handles a key while the sub-view is open: tab/n next kind,
// shift+tab previous, scroll, esc (q, backspace, t) back to the
// before/after body.
func (m Model) updateTrace(km tea.KeyMsg) (Model, tea.Cmd) {
	tv := &m.trace
	switch km.String() {
	case "esc", "q", "backspace", "t":
		tv.state = traceClosed
		m.SetSize(m.size.Width, m.size.Height)
	case "tab", "n":
		if tv.state == traceReady && len(tv.kinds) > 1 {
			tv.at = (tv.at + 1) % len(tv.kinds)
			m.layoutTrace()
			tv.body.GotoTop()
		}
	case "shift+tab":
		if tv.state == traceReady && len(tv.kinds) > 1 {
			tv.at = (tv.at + len(tv.kinds) - 1) % len(tv.kinds)
			m.layoutTrace()
			tv.body.GotoTop()
		}
	default:
		scroll(&tv.body, km.String())
	}
	return m, nil
}

// traceHeader is the sub-view's lines above the waterfall: what is shown
// and how many of each kind, then the trace's headline.
func (m Model) traceHeader() []string {
	tv := m.trace
	w := m.size.Width
	if tv.state != traceReady {
		return nil
	}
	k := tv.kinds[tv.at]
	t, _, _ := pick(tv.traces, k)
	_, nr, _ := pick(tv.traces, KindRetried)
	_, nf, _ := pick(tv.traces, KindFailed)
	what := "the slowest request"
	if k != KindSlowest {
		what = "the slowest " + k.String() + " request"
	}
	counts := fmt.Sprintf("%d retried, %d failed of %d traced", nr, nf, len(tv.traces))
	out := common.Wrap("Showing "+what+" · "+counts, w, 2)
	for _, l := range t.HeadlineLines(w) {
		out = append(out, m.styles.Subtle.Render(l))
	}
	return out
}

// traceContent is the scrolling part: the waterfall, or what to say.
func (m Model) traceContent() string {
	tv := m.trace
	w := m.size.Width
	switch tv.state {
	case traceLoading:
		return "Reading the run's traces…"
	case traceEmpty:
		if tv.isErr {
			return strings.Join(common.Wrap(m.styles.Error.Render(tv.note), w, 6), "\n")
		}
		lines := common.Wrap("Nothing to show: "+tv.note+".", w, 3)
		lines = append(lines, "", m.styles.Subtle.Render(common.Truncate("Press esc to go back to the before/after view.", w)))
		return strings.Join(lines, "\n")
	case traceReady:
		t, _, _ := pick(tv.traces, tv.kinds[tv.at])
		return strings.TrimRight(tracing.WaterfallString(t, w, m.Waterfall), "\n")
	}
	return ""
}

// layoutTrace sizes the sub-view's viewport and fills it.
func (m *Model) layoutTrace() {
	tv := &m.trace
	tv.body.Width = m.size.Width
	tv.body.Height = max(m.size.Height-1-len(m.traceHeader())-m.traceFooterHeight(), 3)
	tv.body.SetContent(m.traceContent())
}

func (m Model) traceFooterHeight() int {
	return len(m.traceNote(true)) + len(strings.Split(common.HelpView(m.help, m.traceHelpMap()), "\n"))
}

// traceNote is the line under the waterfall: the scroll note while more
// is below, and what tab shows next.
func (m Model) traceNote(more bool) []string {
	tv := m.trace
	note := "esc: back to the before/after view"
	if tv.state == traceReady && len(tv.kinds) > 1 {
		next := tv.kinds[(tv.at+1)%len(tv.kinds)]
		what := "the slowest request"
		if next != KindSlowest {
			what = "a " + next.String() + " request"
		}
		note = "tab: " + what + " · " + note
	}
	if more {
		note = "↓ more below (pgdn) · " + note
	}
	return common.Wrap(note, m.size.Width, 2)
}

func (m Model) traceHelpMap() common.HelpMap {
	up := key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓ pgup/pgdn", "scroll"))
	next := key.NewBinding(key.WithKeys("tab", "n"), key.WithHelp("tab/n", "next kind"))
	next.SetEnabled(m.trace.state == traceReady && len(m.trace.kinds) > 1)
	back := key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back"))
	return common.HelpMap{up, next, back, m.keys.Help, m.keys.ForceQuit}
}

// traceScreen draws the sub-view: title, header, waterfall, footer.
func (m Model) traceScreen() string {
	s := m.styles
	tv := m.trace
	title := "Trace of a request"
	if tv.state == traceReady {
		title += " · " + tv.kinds[tv.at].String()
	}
	if r := m.Result; r != nil && r.ID != "" {
		title += " · run " + r.ID
	}
	var b strings.Builder
	b.WriteString(s.Title.Render(common.Truncate(title, m.size.Width)) + "\n")
	for _, l := range m.traceHeader() {
		b.WriteString(l + "\n")
	}
	b.WriteString(tv.body.View() + "\n")
	lines := m.traceNote(!tv.body.AtBottom())
	for len(lines) < len(m.traceNote(true)) {
		lines = append(lines, "")
	}
	b.WriteString(strings.Join(lines, "\n") + "\n")
	b.WriteString(common.HelpView(m.help, m.traceHelpMap()))
	return b.String()
}
