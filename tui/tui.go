// Package tui is meshgym's terminal UI (bubbletea): the lab browser, the
// lab view, the live run view and the before/after view, routed by one
// root model. It runs scenarios only through engine's public API and knows
// labs only through labs.Session.
//
// Update does no I/O. Every side effect (running the engine, saving
// progress, loading the last run of a resumed lab, reading a run's traces
// for the before/after view's waterfall) goes through the small
// interfaces of Config (Runner, Saver, ResultLoader, TraceLoader) and is invoked only
// inside the tea.Cmds Update returns, so the UI never blocks: a run's
// events reach the model as messages, read from a buffered channel by a
// command that re-arms itself.
package tui

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"strings"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"meshgym/engine"
	"meshgym/labs"
	"meshgym/scenarios"
	"meshgym/tracing"
	"meshgym/tui/browser"
	"meshgym/tui/common"
	"meshgym/tui/compare"
	"meshgym/tui/labview"
	"meshgym/tui/runview"
)

// ErrRunStopped is what Run returns when the learner stopped a run and
// quit the program at once (ctrl+c during a run, then y): the run was
// torn down before Run returned. The CLI exits 130 on it, as for any
// interrupted run.
var ErrRunStopped = errors.New("the run was stopped and everything it started was torn down")

// Runner runs one scenario to the end: engine.Run with the program's
// options (entry port, mesh). It sends progress to events (buffered; the
// caller reads it) and never closes it. A cancelled ctx must make it tear
// down and return (engine.Run does).
type Runner interface {
	Run(ctx context.Context, sc *scenarios.Scenario, events chan<- engine.Event) (*engine.Result, error)
}

// Saver saves the learner's progress (labs.Store).
type Saver interface {
	Save(p *labs.Progress) error
}

// ResultLoader loads a run from the results store by ID (results.Store).
type ResultLoader interface {
	Load(ref string) (*engine.Result, error)
}

// TraceLoader reads the spans a run recorded, given its run directory
// (engine.Result.RunDir). A run without a spans file returns an error
// satisfying errors.Is(err, fs.ErrNotExist); a damaged file a
// *tracing.LineError (tracing.ReadFile's errors).
type TraceLoader interface {
	LoadSpans(runDir string) ([]tracing.Span, error)
}

// TraceLoaderFunc adapts a function to TraceLoader.
type TraceLoaderFunc func(runDir string) ([]tracing.Span, error)

// LoadSpans implements TraceLoader.
func (f TraceLoaderFunc) LoadSpans(runDir string) ([]tracing.Span, error) { return f(runDir) }

// ReadRunSpans is the default TraceLoader's function: tracing.ReadFile of
// runDir/traces/spans.jsonl (tracing.SpansFile).
func ReadRunSpans(runDir string) ([]tracing.Span, error) {
	return tracing.ReadFile(filepath.Join(runDir, filepath.FromSlash(tracing.SpansFile)))
}

// RunnerFunc adapts a function to Runner.
type RunnerFunc func(ctx context.Context, sc *scenarios.Scenario, events chan<- engine.Event) (*engine.Result, error)

// Run implements Runner.
func (f RunnerFunc) Run(ctx context.Context, sc *scenarios.Scenario, events chan<- engine.Event) (*engine.Result, error) {
	return f(ctx, sc, events)
}

// Config is what the program needs; the zero values of optional fields
// are noted.
type Config struct {
	// Labs to browse, in workshop order (labs.All()).
	Labs []*labs.Lab
	// Progress is the learner's saved progress (labs.Store.Load); nil is
	// none. The model updates it in place and saves copies through Saver.
	Progress *labs.Progress
	// Start opens this lab at once instead of the browser ("" = browser).
	Start string
	// Runner runs scenarios (required to run).
	Runner Runner
	// Saver saves progress (nil: progress is not saved).
	Saver Saver
	// Results loads a resumed lab's last run (nil: not loaded).
	Results ResultLoader
	// Traces reads a run's spans for the before/after view's trace
	// sub-view (nil: TraceLoaderFunc(ReadRunSpans), the run directory's
	// file).
	Traces TraceLoader
	// MarkdownStyle is the glamour style of step text: labview.StyleASCII
	// (NO_COLOR, tests) or labview.StyleDark; "" is ASCII.
	MarkdownStyle string
	// Context is the parent of every run's context (nil: Background).
	Context context.Context
	// Now stamps saved progress (labs.Session.Clock; nil: time.Now);
	// tests pin it.
	Now func() time.Time
}

// page is the view on screen.
type page int

const (
	pageBrowser page = iota
	pageLab
	pageRun
	pageCompare
)

// Internal messages.
type (
	runEventsMsg struct {
		id     int
		events []engine.Event
		closed bool
	}
	runDoneMsg struct {
		id  int
		res *engine.Result
		err error
	}
	savedMsg   struct{ err error }
	lastRunMsg struct {
		lab string
		id  string
		res *engine.Result
		err error
	}
	// tracesMsg carries the traces read for request seq (stale ones are
	// dropped).
	tracesMsg struct {
		seq    int
		runDir string
		traces []tracing.Trace
		err    error
	}
)

// Model is the root model: it routes messages to the view on screen and
// turns the views' requests into commands.
type Model struct {
	cfg  Config
	page page
	size common.Size
	full bool // full help shown

	browser browser.Model
	lab     *labview.Model
	run     *runview.Model
	cmp     *compare.Model

	session  *labs.Session
	feedback *labs.Feedback // of session.Last()

	// The run in progress (runID 0: none).
	runID    int
	nextID   int
	events   chan engine.Event
	cancel   context.CancelFunc
	stopping bool
	quitting bool
	// stoppedQuit: the program quit because the learner stopped a run.
	stoppedQuit bool

	runs  *tracker
	saves *saveState
	// traceSeq numbers trace loads; only the latest one's answer is used.
	traceSeq int
}

// New builds the root model (no I/O: the progress is already loaded).
func New(cfg Config) *Model {
	if cfg.Progress == nil {
		cfg.Progress = &labs.Progress{}
	}
	if cfg.Progress.Labs == nil {
		cfg.Progress.Labs = map[string]*labs.LabProgress{}
	}
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MarkdownStyle == "" {
		cfg.MarkdownStyle = labview.StyleASCII
	}
	if cfg.Traces == nil {
		cfg.Traces = TraceLoaderFunc(ReadRunSpans)
	}
	m := &Model{cfg: cfg, browser: browser.New(cfg.Labs, cfg.Progress), runs: &tracker{}, saves: &saveState{}}
	m.size = common.Size{Width: common.MinWidth, Height: common.MinHeight}
	m.browser.SetSize(m.size.Width, m.size.Height)
	if cfg.Start != "" {
		for i, l := range cfg.Labs {
			if l.Name == cfg.Start {
				m.browser.Cursor = i
				m.openLab(l)
			}
		}
	}
	return m
}

// Init loads the last run of a lab opened at start.
func (m *Model) Init() tea.Cmd { return m.loadLastCmd() }

// Page names the view on screen: "browser", "lab", "run" or "compare".
func (m *Model) Page() string {
	return [...]string{"browser", "lab", "run", "compare"}[m.page]
}

// Session is the open lab's session (nil in the browser).
func (m *Model) Session() *labs.Session { return m.session }

// Running reports whether a run is in progress.
func (m *Model) Running() bool { return m.runID != 0 }

// Update routes msg; it never does I/O or blocks.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.resize(msg.Width, msg.Height)
		return m, nil
	case tea.KeyMsg:
		return m, m.key(msg)
	case common.OpenLabMsg:
		m.openLab(msg.Lab)
		return m, m.loadLastCmd()
	case common.BackMsg:
		switch m.page {
		case pageCompare:
			m.page = pageLab
		case pageLab:
			m.page, m.lab, m.session, m.feedback = pageBrowser, nil, nil, nil
		}
		return m, nil
	case common.SaveMsg:
		return m, m.saveCmd()
	case common.ObserveMsg:
		if m.session != nil && m.session.Last() != nil {
			m.openCompare(m.session.Last(), m.feedback)
		}
		return m, nil
	case common.LoadTracesMsg:
		return m, m.loadTracesCmd(msg.RunDir)
	case tracesMsg:
		if msg.seq == m.traceSeq && m.cmp != nil {
			m.cmp.SetTraces(msg.runDir, msg.traces, msg.err)
		}
		return m, nil
	case common.RunMsg:
		return m, m.startRun(msg.Scenario, msg.Settings)
	case common.StopRunMsg:
		if m.runID != 0 && m.cancel != nil {
			m.cancel()
			m.stopping = true
			m.quitting = m.quitting || msg.Quit
		}
		return m, nil
	case runEventsMsg:
		if msg.id != m.runID || m.run == nil {
			return m, nil
		}
		for _, ev := range msg.events {
			m.run.Apply(ev)
		}
		if msg.closed {
			return m, nil
		}
		return m, listen(msg.id, m.events)
	case runDoneMsg:
		return m, m.runDone(msg)
	case savedMsg:
		if msg.err != nil && m.lab != nil {
			m.lab.SetStatus("Your progress could not be saved ("+msg.err.Error()+"); it lives only in this session. Check that the file is writable, or set MESHGYM_LABS_PROGRESS to another file.", true)
		}
		return m, nil
	case lastRunMsg:
		if m.session != nil && m.session.Lab.Name == msg.lab && m.session.Last() == nil {
			if msg.err != nil {
				if m.lab != nil {
					m.lab.SetStatus("The last run of this lab ("+msg.id+") could not be loaded: "+msg.err.Error()+". Run again to see numbers.", true)
				}
			} else if msg.res != nil {
				m.session.SetLast(msg.res)
				if m.lab != nil {
					m.lab.SetSize(m.size.Width, m.size.Height)
				}
			}
		}
		return m, nil
	}
	return m, nil
}

// key handles the global keys (ctrl+c, ?) and passes the rest on.
func (m *Model) key(km tea.KeyMsg) tea.Cmd {
	if km.String() == "?" && !(m.page == pageRun && m.run != nil && m.run.Confirming) {
		m.full = !m.full
		m.browser.ShowAll(m.full)
		if m.lab != nil {
			m.lab.ShowAll(m.full)
		}
		if m.cmp != nil {
			m.cmp.ShowAll(m.full)
		}
		if m.run != nil {
			m.run.ShowAll(m.full)
		}
		return nil
	}
	if km.String() == "ctrl+c" && m.page != pageRun {
		return tea.Quit
	}
	var cmd tea.Cmd
	switch m.page {
	case pageBrowser:
		m.browser, cmd = m.browser.Update(km)
	case pageLab:
		var lv labview.Model
		lv, cmd = m.lab.Update(km)
		m.lab = &lv
	case pageRun:
		var rv runview.Model
		rv, cmd = m.run.Update(km)
		m.run = &rv
	case pageCompare:
		var c compare.Model
		c, cmd = m.cmp.Update(km)
		m.cmp = &c
	}
	return m.resolve(cmd)
}

// resolve handles a component's command at once. Components return only
// pure commands (a message for the root, or tea.Quit), never I/O, so
// running one here is safe; doing it now, not later, means keys typed
// ahead (a fast typist, tmux send-keys) reach the view they were meant
// for instead of the one being left.
func (m *Model) resolve(cmd tea.Cmd) tea.Cmd {
	if cmd == nil {
		return nil
	}
	msg := cmd()
	switch msg.(type) {
	case nil:
		return nil
	case tea.QuitMsg:
		return tea.Quit
	}
	_, next := m.Update(msg)
	return next
}

func (m *Model) resize(w, h int) {
	m.size = common.Size{Width: w, Height: h}
	m.browser.SetSize(w, h)
	if m.lab != nil {
		m.lab.SetSize(w, h)
	}
	if m.run != nil {
		m.run.SetSize(w, h)
	}
	if m.cmp != nil {
		m.cmp.SetSize(w, h)
	}
}

// openLab starts (or resumes) a lab's session.
func (m *Model) openLab(l *labs.Lab) {
	lp := m.cfg.Progress.Labs[l.Name]
	if lp == nil {
		lp = &labs.LabProgress{}
		m.cfg.Progress.Labs[l.Name] = lp
	}
	m.session = labs.NewSession(l, lp)
	m.session.Clock = m.cfg.Now
	m.feedback = nil
	lv := labview.New(m.session, m.cfg.MarkdownStyle)
	lv.SetSize(m.size.Width, m.size.Height)
	lv.ShowAll(m.full)
	m.lab, m.page = &lv, pageLab
}

// View draws the page on screen, clipped to the terminal.
func (m *Model) View() string {
	var v string
	switch m.page {
	case pageBrowser:
		v = m.browser.View()
	case pageLab:
		v = m.lab.View()
	case pageRun:
		v = m.run.View()
	case pageCompare:
		v = m.cmp.View()
	}
	return lipgloss.NewStyle().MaxHeight(m.size.Height).MaxWidth(m.size.Width).Render(v)
}

// ---- runs

// progressOf is the open lab's progress (nil in the browser).
func (m *Model) progressOf() *labs.LabProgress {
	if m.session == nil {
		return nil
	}
	return m.cfg.Progress.Labs[m.session.Lab.Name]
}

// startRun switches to the live view and returns the commands that run
// the engine and forward its events.
// settings ("retry.attempts=0") name the knobs in the live view's header.
func (m *Model) startRun(sc *scenarios.Scenario, settings []string) tea.Cmd {
	if m.runID != 0 || sc == nil || m.cfg.Runner == nil {
		if m.cfg.Runner == nil && m.lab != nil {
			m.lab.SetStatus("This program cannot run scenarios (no runner).", true)
		}
		return nil
	}
	m.nextID++
	m.runID = m.nextID
	ctx, cancel := context.WithCancel(m.cfg.Context)
	m.cancel, m.stopping = cancel, false
	m.events = make(chan engine.Event, 256)
	rv := runview.New(sc)
	rv.Settings = settings
	rv.SetSize(m.size.Width, m.size.Height)
	rv.ShowAll(m.full)
	m.run, m.page = &rv, pageRun
	return tea.Batch(runCmd(m.runs, m.cfg.Runner, ctx, sc, m.runID, m.events), listen(m.runID, m.events))
}

// runCmd runs the engine in the command's goroutine and closes events
// when it returned (the engine never closes it).
func runCmd(t *tracker, r Runner, ctx context.Context, sc *scenarios.Scenario, id int, events chan engine.Event) tea.Cmd {
	return func() tea.Msg {
		defer close(events)
		if !t.begin() {
			return runDoneMsg{id: id, err: context.Canceled}
		}
		defer t.end()
		res, err := r.Run(ctx, sc, events)
		return runDoneMsg{id: id, res: res, err: err}
	}
}

// maxBatch bounds the events one message carries.
const maxBatch = 512

// listen waits for the next events of run id and returns them as one
// message (a burst of retries becomes one update, not hundreds).
func listen(id int, events <-chan engine.Event) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-events
		if !ok {
			return runEventsMsg{id: id, closed: true}
		}
		batch := []engine.Event{ev}
		for len(batch) < maxBatch {
			select {
			case ev, ok := <-events:
				if !ok {
					return runEventsMsg{id: id, events: batch, closed: true}
				}
				batch = append(batch, ev)
			default:
				return runEventsMsg{id: id, events: batch}
			}
		}
		return runEventsMsg{id: id, events: batch}
	}
}

// runDone judges a finished run, or explains why it did not finish.
func (m *Model) runDone(msg runDoneMsg) tea.Cmd {
	if msg.id != m.runID {
		return nil
	}
	stopped := m.stopping
	m.runID, m.cancel, m.stopping, m.events = 0, nil, false, nil
	if m.quitting {
		m.stoppedQuit = stopped
		return tea.Quit
	}
	m.page = pageLab
	if m.lab == nil || m.session == nil {
		m.page = pageBrowser
		return nil
	}
	if stopped {
		m.lab.SetStatus("The run was stopped and everything it started was torn down; nothing was judged. Press Enter to run again.", false)
		return nil
	}
	if msg.err != nil {
		m.lab.SetStatus(Explain(msg.err, msg.res), true)
		return nil
	}
	fb := m.session.Record(msg.res) // also remembers msg.res.ID as LastRun
	m.feedback = &fb
	m.lab.Recorded(fb)
	m.openCompare(msg.res, &fb)
	return m.saveCmd()
}

// openCompare shows the before/after view of res. Its waterfalls are
// ASCII without colour when the step text is (NO_COLOR, tests).
func (m *Model) openCompare(res *engine.Result, fb *labs.Feedback) {
	c := compare.New(res, fb)
	c.Next = m.afterCompare()
	ascii := m.cfg.MarkdownStyle == labview.StyleASCII
	c.Waterfall = tracing.WaterfallOptions{ASCII: ascii, Color: !ascii}
	c.SetSize(m.size.Width, m.size.Height)
	c.ShowAll(m.full)
	m.cmp, m.page = &c, pageCompare
}

// loadTracesCmd reads the spans of the run in runDir through the
// TraceLoader and groups them into traces, in the command's goroutine.
func (m *Model) loadTracesCmd(runDir string) tea.Cmd {
	m.traceSeq++
	seq, l := m.traceSeq, m.cfg.Traces
	return func() tea.Msg {
		spans, err := l.LoadSpans(runDir)
		var traces []tracing.Trace
		if err == nil {
			traces = tracing.Group(spans)
		}
		return tracesMsg{seq: seq, runDir: runDir, traces: traces, err: err}
	}
}

// afterCompare is the before/after view's line on what to do next: go
// on when the current step is done (or is not a run step), else change a
// knob and run again.
func (m *Model) afterCompare() string {
	if m.session == nil {
		return ""
	}
	s := m.session
	st := s.Step()
	if st.Kind != labs.KindRun {
		return "Press esc to go back to the lab, then n to continue."
	}
	switch s.Status(s.Index()) {
	case labs.StatusDone, labs.StatusSkipped:
		return "Press esc to go back to the lab, then n to continue."
	}
	var keys []string
	for _, k := range st.Knobs {
		keys = append(keys, k.Key)
	}
	if len(keys) == 0 {
		return "The step is not done: press esc and run again (h there for a hint)."
	}
	return "The step is not done: press esc, change " + strings.Join(keys, " or ") + ", and run again (h for a hint)."
}

// Explain turns a run error into what the learner reads: the error, its
// probable cause and what to do.
func Explain(err error, res *engine.Result) string {
	msg := strings.TrimSpace(err.Error())
	low := strings.ToLower(msg)
	var ee *engine.Error
	switch {
	case strings.Contains(low, "address already in use") || (strings.Contains(low, "port") && (strings.Contains(low, "taken") || strings.Contains(low, "in use"))):
		return "The run could not start: " + msg + ". Probable cause: another program uses the entry port. Quit (ctrl+c) and start meshgym again with --port 0 to use any free port."
	case errors.As(err, &ee) && ee.Kind == engine.KindInterrupted, errors.Is(err, context.Canceled):
		return "The run was interrupted; nothing was judged. Press Enter to run again."
	case errors.As(err, &ee) && ee.Kind == engine.KindInput:
		return "The lab's settings were refused: " + msg + ". Choose other knob values, or press r to reset the lab."
	}
	where := ""
	if res != nil && res.RunDir != "" {
		where = " The logs are in " + res.RunDir + "."
	}
	return "The run failed: " + msg + ". Probable cause: the sample system could not start or a component died." + where + " Press Enter to try again; if it fails again, try 'meshgym run " + scenarioName(res) + "' in a shell to see every message."
}

func scenarioName(res *engine.Result) string {
	if res != nil && res.Scenario != nil && res.Scenario.Name != "" {
		return res.Scenario.Name
	}
	return "retries"
}

// ---- progress

// saveCmd saves a copy of the progress (the model keeps changing the
// original while the command runs).
func (m *Model) saveCmd() tea.Cmd {
	if m.cfg.Saver == nil {
		return nil
	}
	p := cloneProgress(m.cfg.Progress)
	seq := m.saves.next()
	s, st := m.cfg.Saver, m.saves
	return func() tea.Msg {
		return savedMsg{err: st.save(seq, func() error { return s.Save(p) })}
	}
}

// loadLastCmd loads the open lab's last run from the results store, so a
// resumed lab's observe and explain steps show numbers.
func (m *Model) loadLastCmd() tea.Cmd {
	lp := m.progressOf()
	if lp == nil || lp.LastRun == "" || m.cfg.Results == nil || m.session.Last() != nil {
		return nil
	}
	r, name, id := m.cfg.Results, m.session.Lab.Name, lp.LastRun
	return func() tea.Msg {
		res, err := r.Load(id)
		return lastRunMsg{lab: name, id: id, res: res, err: err}
	}
}

func cloneProgress(p *labs.Progress) *labs.Progress {
	out := &labs.Progress{Labs: make(map[string]*labs.LabProgress, len(p.Labs))}
	for k, lp := range p.Labs {
		c := *lp
		c.Steps = maps.Clone(lp.Steps)
		c.Knobs = maps.Clone(lp.Knobs)
		c.Predictions = maps.Clone(lp.Predictions)
		if lp.Judged != nil {
			c.Judged = make(map[string]*labs.PredictionResult, len(lp.Judged))
			for id, j := range lp.Judged {
				if j != nil {
					jc := *j
					c.Judged[id] = &jc
				}
			}
		}
		out.Labs[k] = &c
	}
	return out
}

// saveState orders saves: a save older than one already written is
// skipped (commands run concurrently).
type saveState struct {
	mu        sync.Mutex
	seq, done int
}

func (s *saveState) next() int { s.mu.Lock(); defer s.mu.Unlock(); s.seq++; return s.seq }

func (s *saveState) save(seq int, f func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq <= s.done {
		return nil
	}
	s.done = seq
	return f()
}

// tracker counts runs in progress so that Run can wait for their
// teardown after the program ended; once shut down, no run starts.
type tracker struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func (t *tracker) begin() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	return true
}

func (t *tracker) end() { t.wg.Done() }

func (t *tracker) shutdown() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.wg.Wait()
}

// Shutdown cancels the run in progress (if any) and waits until every
// run the model started has returned from the Runner (the engine tore
// everything down). Call it after the program ended.
func (m *Model) Shutdown() {
	if m.cancel != nil {
		m.cancel()
	}
	m.runs.shutdown()
}

// Run runs the TUI on the terminal until the learner quits or ctx ends
// (SIGINT/SIGTERM), then cancels any run in progress and waits for its
// teardown before returning. opts are added to the program's options
// (alt screen and ctx come first). A cancelled ctx returns
// tea.ErrProgramKilled.
func Run(ctx context.Context, cfg Config, opts ...tea.ProgramOption) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cfg.Context = ctx
	// Ask the terminal for its background now, before the program reads
	// the keyboard: lipgloss asks (OSC 11) the first time an adaptive
	// colour renders, and inside the program the answer would race with
	// the key reader (a 5 s stall) and be terminal I/O inside View.
	lipgloss.HasDarkBackground()
	m := New(cfg)
	p := tea.NewProgram(m, append([]tea.ProgramOption{tea.WithAltScreen(), tea.WithContext(ctx)}, opts...)...)
	_, err := p.Run()
	cancel()
	m.Shutdown()
	if err == nil && m.stoppedQuit {
		return ErrRunStopped
	}
	return err
}
