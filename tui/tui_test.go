package tui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"meshgym/engine"
	"meshgym/labs"
	"meshgym/scenarios"
	"meshgym/tracing"
	"meshgym/tui/common"
	"meshgym/tui/compare"
	"meshgym/tui/internal/fixture"
)

func TestMain(m *testing.M) {
	lipgloss.SetColorProfile(termenv.Ascii)
	os.Exit(m.Run())
}

// fakeRunner emits scripted events, then returns res (or err) at once, or
// — with hold — waits until its context is cancelled (a run the learner
// stops), recording that it "tore down".
type fakeRunner struct {
	events   []engine.Event
	res      *engine.Result
	err      error
	hold     bool
	calls    atomic.Int32
	tornDown atomic.Bool
	running  chan struct{} // closed once the events are sent
	once     sync.Once
}

func (f *fakeRunner) Run(ctx context.Context, sc *scenarios.Scenario, events chan<- engine.Event) (*engine.Result, error) {
	f.calls.Add(1)
	for _, ev := range f.events {
		events <- ev
	}
	if f.running != nil {
		f.once.Do(func() { close(f.running) })
	}
	if f.hold {
		<-ctx.Done()
		time.Sleep(20 * time.Millisecond) // teardown takes a moment
		f.tornDown.Store(true)
		return nil, &engine.Error{Kind: engine.KindInterrupted, Err: ctx.Err()}
	}
	return f.res, f.err
}

type fakeSaver struct {
	calls atomic.Int32
	mu    sync.Mutex
	last  *labs.Progress
	err   error
}

func (f *fakeSaver) Save(p *labs.Progress) error {
	f.calls.Add(1)
	f.mu.Lock()
	f.last = p
	f.mu.Unlock()
	return f.err
}

type fakeResults struct {
	calls atomic.Int32
	res   *engine.Result
}

func (f *fakeResults) Load(ref string) (*engine.Result, error) {
	f.calls.Add(1)
	if f.res == nil || ref != f.res.ID {
		return nil, errors.New("no run " + ref)
	}
	return f.res, nil
}

// fakeTraces hands out fixed spans (or err) as a run's spans file.
type fakeTraces struct {
	calls atomic.Int32
	spans []tracing.Span
	err   error
	mu    sync.Mutex
	dirs  []string
}

func (f *fakeTraces) LoadSpans(runDir string) ([]tracing.Span, error) {
	f.calls.Add(1)
	f.mu.Lock()
	f.dirs = append(f.dirs, runDir)
	f.mu.Unlock()
	return f.spans, f.err
}

type fakes struct {
	runner  *fakeRunner
	saver   *fakeSaver
	results *fakeResults
	traces  *fakeTraces
}

func (f fakes) counts() [4]int32 {
	return [4]int32{f.runner.calls.Load(), f.saver.calls.Load(), f.results.calls.Load(), f.traces.calls.Load()}
}

func newModel(t *testing.T, p *labs.Progress, start string) (*Model, fakes) {
	t.Helper()
	f := fakes{
		runner:  &fakeRunner{events: fixture.Events(), res: fixture.Result()},
		saver:   &fakeSaver{},
		results: &fakeResults{res: fixture.Result()},
		traces:  &fakeTraces{spans: fixture.Spans()},
	}
	m := New(Config{
		Labs: []*labs.Lab{fixture.Lab()}, Progress: p, Start: start,
		Runner: f.runner, Saver: f.saver, Results: f.results, Traces: f.traces,
		Now: func() time.Time { return fixture.T0 },
	})
	return m, f
}

// driver feeds messages to a model the way bubbletea does, running the
// commands Update returns only after Update returned, and checks that
// Update itself never called a fake.
type driver struct {
	t *testing.T
	m *Model
	f fakes
}

func (d *driver) send(msg tea.Msg) {
	d.t.Helper()
	before := d.f.counts()
	_, cmd := d.m.Update(msg)
	if after := d.f.counts(); after != before {
		d.t.Fatalf("Update(%T %v) did I/O: runner/saver/results/traces calls %v → %v", msg, msg, before, after)
	}
	for _, out := range run(cmd) {
		if _, quit := out.(tea.QuitMsg); quit {
			continue
		}
		d.send(out)
	}
}

func (d *driver) keys(ks ...string) {
	d.t.Helper()
	for _, k := range ks {
		d.send(keyMsg(k))
	}
}

func keyMsg(k string) tea.KeyMsg {
	switch k {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "left":
		return tea.KeyMsg{Type: tea.KeyLeft}
	case "right":
		return tea.KeyMsg{Type: tea.KeyRight}
	case "pgdown":
		return tea.KeyMsg{Type: tea.KeyPgDown}
	case "pgup":
		return tea.KeyMsg{Type: tea.KeyPgUp}
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

// run executes cmd (and batches) and returns the messages, in order.
func run(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	msg := cmd()
	if b, ok := msg.(tea.BatchMsg); ok {
		var out []tea.Msg
		for _, c := range b {
			out = append(out, run(c)...)
		}
		return out
	}
	if msg == nil {
		return nil
	}
	return []tea.Msg{msg}
}

func TestWalkThroughTheLab(t *testing.T) {
	m, f := newModel(t, nil, "")
	d := &driver{t: t, m: m, f: f}
	d.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	if m.Page() != "browser" {
		t.Fatalf("starts on %s, want browser", m.Page())
	}
	d.keys("enter")
	if m.Page() != "lab" || m.Session().Step().ID != "problem" {
		t.Fatalf("enter: page %s", m.Page())
	}
	d.keys("n")
	if id := m.Session().Step().ID; id != "predict" {
		t.Fatalf("n: step %s, want predict", id)
	}
	d.keys("n") // no answer yet
	if id := m.Session().Step().ID; id != "predict" || !m.lab.StatusErr || !strings.Contains(m.lab.Status, "choose an answer") {
		t.Fatalf("n without an answer: step %s, status %q", id, m.lab.Status)
	}
	d.keys("2", "n")
	if id := m.Session().Step().ID; id != "run" {
		t.Fatalf("2 n: step %s, want run", id)
	}
	d.keys("right", "right") // retry.attempts 0 → 1 → 3
	if v := m.Session().Knobs()[0].Value; v != "3" {
		t.Fatalf("knob after → →: %s, want 3", v)
	}
	saves := f.saver.calls.Load()
	if saves == 0 {
		t.Fatal("progress was never saved")
	}
	f.saver.mu.Lock()
	if got := f.saver.last.Labs["retries"].Knobs["retry.attempts"]; got != "3" {
		t.Errorf("saved knob %q, want 3", got)
	}
	f.saver.mu.Unlock()
	d.keys("enter") // run: the fake runner returns the synthetic result
	if f.runner.calls.Load() != 1 {
		t.Fatalf("runner calls %d, want 1", f.runner.calls.Load())
	}
	if m.Page() != "compare" {
		t.Fatalf("after the run: page %s, want compare", m.Page())
	}
	if m.feedback == nil || !m.feedback.Passed || len(m.feedback.Predictions) != 1 || !m.feedback.Predictions[0].Correct {
		t.Fatalf("feedback %+v: want the check passed and prediction 2 (about 1 in 4) right", m.feedback)
	}
	if got := m.cfg.Progress.Labs["retries"].LastRun; got != fixture.Result().ID {
		t.Errorf("LastRun %q, want %q", got, fixture.Result().ID)
	}
	d.keys("esc")
	if m.Page() != "lab" {
		t.Fatalf("esc from before/after: %s", m.Page())
	}
	d.keys("n", "o")
	if m.Page() != "compare" {
		t.Fatalf("o on the observe step: %s", m.Page())
	}
	d.keys("esc", "n", "n")
	if !m.cfg.Progress.Labs["retries"].Completed {
		t.Fatal("the lab is not completed after its last step")
	}
	d.keys("esc")
	if m.Page() != "browser" || !strings.Contains(m.View(), "✓ 2. Retries") {
		t.Fatalf("back in the browser the lab is not marked completed:\n%s", m.View())
	}
}

func TestUpdateDoesNoIOForAnyKey(t *testing.T) {
	keys := []string{"up", "down", "left", "right", "pgup", "pgdown", "n", "p", "1", "2", "3", "9", "+", "-", "h", "s", "y", "r", "n", "o", "t", "tab", "?", "?", "x", "esc"}
	for _, start := range []string{"", "retries"} {
		m, f := newModel(t, nil, start)
		d := &driver{t: t, m: m, f: f}
		d.send(tea.WindowSizeMsg{Width: 100, Height: 30})
		for _, k := range keys {
			d.send(keyMsg(k)) // driver fails the test if Update did I/O
		}
		// Every message type the root knows, including stale ones.
		d.send(runEventsMsg{id: 99, events: fixture.Events()})
		d.send(runDoneMsg{id: 99})
		d.send(savedMsg{err: errors.New("disk full")})
		d.send(lastRunMsg{lab: "retries", id: "x", err: errors.New("gone")})
		d.send(common.LoadTracesMsg{RunDir: "x"})
		d.send(tracesMsg{seq: 99, runDir: "x", err: errors.New("gone")})
	}
	// The before/after view of a traced run, and its trace sub-view:
	// every key there, and the loads t starts, go through commands.
	m, f := newModel(t, nil, "retries")
	f.runner.res = fixture.TracedResult()
	d := &driver{t: t, m: m, f: f}
	d.keys("n", "2", "n", "enter")
	if m.Page() != "compare" {
		t.Fatalf("page %s, want compare", m.Page())
	}
	for _, k := range append([]string{"t", "tab", "n", "down", "pgdown", "esc", "t"}, keys...) {
		d.send(keyMsg(k))
	}
	d.send(tracesMsg{seq: m.traceSeq, runDir: fixture.Result().RunDir, traces: tracing.Group(fixture.Spans())})
	if f.traces.calls.Load() == 0 {
		t.Error("t never loaded the traces (through a command)")
	}
}

// t on the before/after view of a traced run loads its spans once (in a
// command, from its run directory), shows a retried request, tab cycles
// the kinds, esc goes back to before/after, esc again to the lab.
func TestTraceOfARequest(t *testing.T) {
	m, f := newModel(t, nil, "retries")
	f.runner.res = fixture.TracedResult()
	d := &driver{t: t, m: m, f: f}
	d.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	d.keys("n", "2", "n", "enter")
	if v := m.View(); m.Page() != "compare" || !strings.Contains(v, "t trace") {
		t.Fatalf("page %s; the key line offers no t:\n%s", m.Page(), v)
	}
	d.keys("t")
	if got := f.traces.calls.Load(); got != 1 || f.traces.dirs[0] != fixture.Result().RunDir {
		t.Fatalf("loads %d from %v, want 1 from %s", got, f.traces.dirs, fixture.Result().RunDir)
	}
	kind, tr, ok := m.cmp.Shown()
	if m.Page() != "compare" || !ok || kind != compare.KindRetried || tr.ID != fixture.RetriedTraceID {
		t.Fatalf("t shows %v %s (ok %v) on page %s, want the retried request", kind, tr.ID, ok, m.Page())
	}
	v := m.View()
	for _, want := range []string{"Trace of a request · retried", `\-attempt 2 -> currency_v1 200`} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	d.keys("tab")
	if kind, tr, _ := m.cmp.Shown(); kind != compare.KindFailed || tr.ID != fixture.FailedTraceID {
		t.Errorf("tab shows %v %s, want the failed request", kind, tr.ID)
	}
	d.keys("n")
	if kind, tr, _ := m.cmp.Shown(); kind != compare.KindSlowest || tr.ID != fixture.SlowTraceID {
		t.Errorf("n shows %v %s, want the slowest request", kind, tr.ID)
	}
	d.keys("esc")
	if m.Page() != "compare" || m.cmp.TraceOpen() || !strings.Contains(m.View(), "Before / after") {
		t.Fatalf("esc from the trace: page %s, trace open %v", m.Page(), m.cmp.TraceOpen())
	}
	d.keys("t", "esc", "esc")
	if f.traces.calls.Load() != 1 {
		t.Errorf("t again read the spans again (%d loads)", f.traces.calls.Load())
	}
	if m.Page() != "lab" {
		t.Errorf("esc esc: page %s, want lab", m.Page())
	}
	// An answer to an older load is dropped.
	d.keys("o")
	seq := m.traceSeq
	d.send(tracesMsg{seq: seq - 1, runDir: fixture.Result().RunDir, traces: tracing.Group(fixture.Spans())})
	if m.cmp.TraceOpen() {
		t.Error("a stale answer opened the trace")
	}
}

// The default TraceLoader reads RunDir/traces/spans.jsonl; a run with no
// such file says plainly that it recorded no traces.
func TestDefaultTraceLoader(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "traces"), 0o755); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, s := range fixture.Spans() {
		line, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(filepath.Join(dir, "traces", "spans.jsonl"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	spans, err := ReadRunSpans(dir)
	if err != nil || len(spans) != len(fixture.Spans()) {
		t.Fatalf("ReadRunSpans: %d spans, %v; want %d", len(spans), err, len(fixture.Spans()))
	}
	_, err = ReadRunSpans(t.TempDir())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadRunSpans of a run without traces: %v, want fs.ErrNotExist", err)
	}

	for _, tc := range []struct {
		dir, want string
	}{{dir, "Trace of a request · retried"}, {t.TempDir(), compare.NoTraces}} {
		m, f := newModel(t, nil, "retries")
		cfg := m.cfg
		cfg.Traces = nil // the default loader
		m = New(cfg)
		res := fixture.TracedResult()
		res.RunDir = tc.dir
		f.runner.res = res
		d := &driver{t: t, m: m, f: f}
		d.keys("n", "2", "n", "enter", "t")
		if v := m.View(); !strings.Contains(v, tc.want) {
			t.Errorf("run dir %s: view lacks %q:\n%s", tc.dir, tc.want, v)
		}
	}
}

func TestResumedLabLoadsItsLastRunInACommand(t *testing.T) {
	p := &labs.Progress{Labs: map[string]*labs.LabProgress{"retries": {Current: "observe", LastRun: fixture.Result().ID,
		Steps: map[string]labs.StepStatus{"problem": labs.StatusDone, "predict": labs.StatusDone, "run": labs.StatusDone}}}}
	m, f := newModel(t, p, "retries")
	cmd := m.Init()
	if f.results.calls.Load() != 0 {
		t.Fatal("Init loaded the run itself")
	}
	d := &driver{t: t, m: m, f: f}
	for _, msg := range run(cmd) {
		d.send(msg)
	}
	if f.results.calls.Load() != 1 || m.Session().Last() == nil {
		t.Fatalf("last run not restored (loads %d)", f.results.calls.Load())
	}
	d.keys("o")
	if m.Page() != "compare" {
		t.Fatalf("o after resume: %s", m.Page())
	}
}

func TestStopTheRunWaitsForTeardown(t *testing.T) {
	m, f := newModel(t, nil, "retries")
	f.runner.hold = true
	f.runner.running = make(chan struct{})
	d := &driver{t: t, m: m, f: f}
	d.keys("n", "1", "n")
	_, cmd := m.Update(keyMsg("enter"))
	if m.Page() != "run" || !m.Running() {
		t.Fatalf("enter on the run step: page %s running %v", m.Page(), m.Running())
	}
	msgs := make(chan tea.Msg, 10)
	go func() {
		for _, msg := range run(cmd) {
			msgs <- msg
		}
	}()
	<-f.runner.running
	// esc asks; y stops.
	m.Update(keyMsg("esc"))
	if !m.run.Confirming {
		t.Fatal("esc during a run did not ask to stop it")
	}
	_, stop := m.Update(keyMsg("y"))
	for _, msg := range run(stop) {
		m.Update(msg)
	}
	if !strings.Contains(m.View(), "tearing down") {
		t.Fatalf("no teardown notice:\n%s", m.View())
	}
	// The run returns only after teardown; then the lab view says so.
	var done bool
	for !done {
		select {
		case msg := <-msgs:
			if _, ok := msg.(runDoneMsg); ok {
				done = true
				if !f.runner.tornDown.Load() {
					t.Fatal("runDone before teardown")
				}
			}
			m.Update(msg)
		case <-time.After(5 * time.Second):
			t.Fatal("the run never returned after stop")
		}
	}
	if m.Page() != "lab" || !strings.Contains(m.lab.Status, "stopped") {
		t.Fatalf("after stop: page %s status %q", m.Page(), m.lab.Status)
	}
	// The long status leaves the knob row on screen.
	if v := m.View(); !strings.Contains(v, "▸ retries per call  ‹ 0 ›") {
		t.Errorf("after esc → y the knob row is gone:\n%s", v)
	}
	if m.stoppedQuit {
		t.Error("esc → y marked the program as quitting")
	}
}

// ctrl+c → y during a run tears it down, then quits and reports the
// stop (Run returns ErrRunStopped: the CLI exits 130).
func TestCtrlCDuringARunQuitsAfterTeardown(t *testing.T) {
	m, f := newModel(t, nil, "retries")
	f.runner.hold = true
	f.runner.running = make(chan struct{})
	d := &driver{t: t, m: m, f: f}
	d.keys("n", "1", "n")
	_, cmd := m.Update(keyMsg("enter"))
	msgs := make(chan tea.Msg, 10)
	go func() {
		for _, msg := range run(cmd) {
			msgs <- msg
		}
	}()
	<-f.runner.running
	m.Update(keyMsg("ctrl+c"))
	_, stop := m.Update(keyMsg("y"))
	for _, msg := range run(stop) {
		m.Update(msg)
	}
	for {
		select {
		case msg := <-msgs:
			_, next := m.Update(msg)
			if _, ok := msg.(runDoneMsg); ok {
				if next == nil {
					t.Fatal("no quit after the run was torn down")
				}
				if _, quit := next().(tea.QuitMsg); !quit || !m.stoppedQuit || !f.runner.tornDown.Load() {
					t.Fatalf("quit %T stoppedQuit %v tornDown %v", next(), m.stoppedQuit, f.runner.tornDown.Load())
				}
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the run never returned")
		}
	}
}

func TestHelpDuringARun(t *testing.T) {
	m, f := newModel(t, nil, "retries")
	f.runner.hold = true
	d := &driver{t: t, m: m, f: f}
	d.keys("n", "1", "n")
	m.Update(keyMsg("enter"))
	if m.Page() != "run" {
		t.Fatalf("page %s", m.Page())
	}
	m.Update(keyMsg("?"))
	if v := m.View(); !strings.Contains(v, "close help") {
		t.Errorf("? during a run shows no help:\n%s", v)
	}
	m.Update(keyMsg("?"))
	if v := m.View(); !strings.Contains(v, "? more keys") {
		t.Errorf("? again does not close it:\n%s", v)
	}
	m.Shutdown()
}

func TestBrowserOpensOnTheLabUsedLast(t *testing.T) {
	a, b := fixture.Lab(), fixture.Lab()
	b.Name, b.Title, b.Order = "canary", "Canary", 5
	p := &labs.Progress{Labs: map[string]*labs.LabProgress{
		"retries": {Current: "run", UpdatedAt: fixture.T0},
		"canary":  {Current: "predict", UpdatedAt: fixture.T0.Add(time.Hour)},
	}}
	m := New(Config{Labs: []*labs.Lab{a, b}, Progress: p})
	if got := m.browser.Selected().Name; got != "canary" {
		t.Errorf("cursor on %s, want canary (used last)", got)
	}
}

// After a run that failed a check, the before/after view says what to do
// instead of "n to continue".
func TestBeforeAfterOfAFailedStep(t *testing.T) {
	m, f := newModel(t, nil, "retries")
	d := &driver{t: t, m: m, f: f}
	bad := fixture.Result()
	bad.After = bad.Before // the after phase fails as before: 25% of users
	f.runner.res = bad
	d.keys("n", "2", "n", "enter")
	if m.Page() != "compare" {
		t.Fatalf("page %s", m.Page())
	}
	v := m.View()
	if strings.Contains(v, "n to continue") || !strings.Contains(v, "press esc, change retry.attempts") {
		t.Errorf("before/after of a failed step:\n%s", v)
	}
}

func TestShutdownWaitsForARunningEngine(t *testing.T) {
	m, f := newModel(t, nil, "retries")
	f.runner.hold = true
	f.runner.running = make(chan struct{})
	cmd := m.startRun(fixture.Scenario(), nil)
	go run(cmd)
	<-f.runner.running
	m.Shutdown()
	if !f.runner.tornDown.Load() {
		t.Fatal("Shutdown returned before the run tore down")
	}
}

func TestExplainRunErrors(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{errors.New("listen tcp 127.0.0.1:8200: bind: address already in use"), "--port 0"},
		{&engine.Error{Kind: engine.KindInput, Err: errors.New("retry.attempts: bad")}, "press r to reset"},
		{&engine.Error{Kind: engine.KindInterrupted, Err: context.Canceled}, "interrupted"},
		{&engine.Error{Kind: engine.KindPlatform, Err: errors.New("currency_v2 exited")}, "The logs are in .meshgym/runs/x"},
	}
	for _, tc := range tests {
		got := Explain(tc.err, &engine.Result{RunDir: ".meshgym/runs/x"})
		if !strings.Contains(got, tc.want) {
			t.Errorf("Explain(%v) = %q, want it to contain %q", tc.err, got, tc.want)
		}
	}
}

func TestRunErrorShowsCauseInLabView(t *testing.T) {
	m, f := newModel(t, nil, "retries")
	f.runner.res, f.runner.err = nil, errors.New("entry port 8200 is taken")
	d := &driver{t: t, m: m, f: f}
	d.keys("n", "2", "n", "enter")
	if m.Page() != "lab" || !strings.Contains(m.lab.Status, "--port 0") {
		t.Fatalf("page %s status %q", m.Page(), m.lab.Status)
	}
}

// ---- golden screens (teatest drives the whole program at 80×24)

func screen(t *testing.T, runner *fakeRunner, keys []string, waitFor string) string {
	t.Helper()
	m, _ := newModel(t, nil, "")
	if runner != nil {
		m.cfg.Runner = runner
	}
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
	for _, k := range keys {
		tm.Send(keyMsg(k))
	}
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(waitFor)) },
		teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Model)
	t.Cleanup(final.Shutdown)
	return final.View()
}

func TestGoldenBrowser(t *testing.T) {
	golden.RequireEqual(t, []byte(screen(t, nil, nil, "not started")))
}

func TestGoldenLabReadStep(t *testing.T) {
	golden.RequireEqual(t, []byte(screen(t, nil, []string{"enter"}, "step 1 of 5")))
}

func TestGoldenLabPredictStep(t *testing.T) {
	golden.RequireEqual(t, []byte(screen(t, nil, []string{"enter", "n", "2"}, "You chose 2")))
}

func TestGoldenLabRunStep(t *testing.T) {
	golden.RequireEqual(t, []byte(screen(t, nil, []string{"enter", "n", "2", "n", "down", "right"}, "‹ 1 ›")))
}

func TestGoldenHelp(t *testing.T) {
	golden.RequireEqual(t, []byte(screen(t, nil, []string{"enter", "?"}, "reset lab")))
}

func TestGoldenLiveRun(t *testing.T) {
	r := &fakeRunner{events: fixture.Events(), hold: true}
	golden.RequireEqual(t, []byte(screen(t, r, []string{"enter", "n", "2", "n", "enter"}, "ejection")))
}

func TestGoldenBeforeAfter(t *testing.T) {
	r := &fakeRunner{events: fixture.Events(), res: fixture.Result()}
	golden.RequireEqual(t, []byte(screen(t, r, []string{"enter", "n", "2", "n", "right", "right", "enter"}, "Before / after")))
}

// TestGoldenTrace is the trace sub-view at 80×24: t on the before/after
// view of a traced run, with a fake TraceLoader handing out the fixture's
// retried, failed and slow requests (the retried one shows).
func TestGoldenTrace(t *testing.T) {
	m, f := newModel(t, nil, "")
	f.runner.res = fixture.TracedResult()
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
	wait := func(s string) {
		t.Helper()
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(s)) },
			teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
	}
	for _, k := range []string{"enter", "n", "2", "n", "right", "right", "enter"} {
		tm.Send(keyMsg(k))
	}
	wait("Before / after")
	tm.Send(keyMsg("t"))
	wait("Trace of a request")
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Model)
	t.Cleanup(final.Shutdown)
	if _, tr, ok := final.cmp.Shown(); !ok || tr.ID != fixture.RetriedTraceID {
		t.Fatalf("shows %s (ok %v), want the retried request", tr.ID, ok)
	}
	golden.RequireEqual(t, []byte(final.View()))
}
