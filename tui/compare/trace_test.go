package compare

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"meshgym/tracing"
	"meshgym/tui/common"
	"meshgym/tui/internal/fixture"
)

func press(k string) tea.KeyMsg {
	switch k {
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "shift+tab":
		return tea.KeyMsg{Type: tea.KeyShiftTab}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

// spansWithout drops the traces whose IDs are given.
func spansWithout(ids ...string) []tracing.Span {
	var out []tracing.Span
	for _, s := range fixture.Spans() {
		keep := true
		for _, id := range ids {
			keep = keep && s.TraceID != id
		}
		if keep {
			out = append(out, s)
		}
	}
	return out
}

// opened is the before/after view of the traced fixture run at w×h with
// t pressed and the traces (or err) handed back as the root would.
func opened(t *testing.T, w, h int, spans []tracing.Span, err error) Model {
	t.Helper()
	m := New(fixture.TracedResult(), nil)
	m.Waterfall = tracing.WaterfallOptions{ASCII: true}
	m.SetSize(w, h)
	m, cmd := m.Update(press("t"))
	if cmd == nil {
		t.Fatal("t asks nothing of the root")
	}
	msg, ok := cmd().(common.LoadTracesMsg)
	if !ok || msg.RunDir != m.Result.RunDir {
		t.Fatalf("t yields %#v, want LoadTracesMsg{%q}", msg, m.Result.RunDir)
	}
	var traces []tracing.Trace
	if err == nil {
		traces = tracing.Group(spans)
	}
	m.SetTraces(msg.RunDir, traces, err)
	return m
}

func TestTraceKindsCycle(t *testing.T) {
	tests := []struct {
		name  string
		spans []tracing.Span
		want  []string // kind shown then after each tab, "kind:traceID"
	}{
		{"retried, failed and slow", fixture.Spans(), []string{
			"retried:" + fixture.RetriedTraceID, "failed:" + fixture.FailedTraceID, "slowest:" + fixture.SlowTraceID, "retried:" + fixture.RetriedTraceID}},
		{"no retried request", spansWithout(fixture.RetriedTraceID), []string{
			"failed:" + fixture.FailedTraceID, "slowest:" + fixture.SlowTraceID, "failed:" + fixture.FailedTraceID}},
		{"neither retried nor failed", spansWithout(fixture.RetriedTraceID, fixture.FailedTraceID), []string{
			"slowest:" + fixture.SlowTraceID, "slowest:" + fixture.SlowTraceID}},
		// The retried request is also the slowest here.
		{"retried only", spansWithout(fixture.FailedTraceID, fixture.SlowTraceID), []string{
			"retried:" + fixture.RetriedTraceID, "slowest:" + fixture.RetriedTraceID, "retried:" + fixture.RetriedTraceID}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := opened(t, 80, 24, tc.spans, nil)
			for i, want := range tc.want {
				if i > 0 {
					k := "tab"
					if i%2 == 0 {
						k = "n"
					}
					m, _ = m.Update(press(k))
				}
				kind, tr, ok := m.Shown()
				if got := fmt.Sprintf("%s:%s", kind, tr.ID); !ok || got != want {
					t.Fatalf("step %d: shows %s (ok %v), want %s", i, got, ok, want)
				}
				if v := m.View(); !strings.Contains(v, "trace "+tr.ID) {
					t.Fatalf("step %d: the headline of %s is not on screen:\n%s", i, tr.ID, v)
				}
			}
			if len(tc.want) > 2 {
				m, _ = m.Update(press("shift+tab"))
				if kind, _, _ := m.Shown(); kind.String()+":" != tc.want[len(tc.want)-2][:len(kind.String())+1] {
					t.Errorf("shift+tab shows %s, want back to %s", kind, tc.want[len(tc.want)-2])
				}
			}
		})
	}
}

func TestTraceNothingToShow(t *testing.T) {
	tests := []struct {
		name  string
		spans []tracing.Span
		err   error
		want  string
	}{
		{"no spans file", nil, fmt.Errorf("open x: %w", fs.ErrNotExist), NoTraces},
		{"empty spans file", nil, nil, NoTraces},
		{"damaged spans file", nil, &tracing.LineError{File: "spans.jsonl", Line: 3, Reason: "not JSON"}, "spans file is damaged (spans.jsonl:3: not JSON)"},
		{"unreadable", nil, errors.New("permission denied"), "could not be read: permission denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := opened(t, 80, 24, tc.spans, tc.err)
			if _, _, ok := m.Shown(); ok {
				t.Fatal("a trace is shown")
			}
			if !m.TraceOpen() {
				t.Fatal("the sub-view closed")
			}
			v := m.View()
			if !strings.Contains(strings.ReplaceAll(v, "\n", " "), tc.want) {
				t.Errorf("view lacks %q:\n%s", tc.want, v)
			}
			if strings.Contains(v, "tab/n") {
				t.Errorf("tab offered with nothing to cycle:\n%s", v)
			}
		})
	}
}

// A run with no run directory says so at once, asking the root nothing.
func TestTraceWithoutRunDir(t *testing.T) {
	res := fixture.Result()
	res.RunDir = ""
	m := New(res, nil)
	m, cmd := m.Update(press("t"))
	if cmd != nil {
		t.Errorf("t asks the root to load traces of a run without a directory: %#v", cmd())
	}
	if v := m.View(); !strings.Contains(v, NoTraces) {
		t.Errorf("view:\n%s", v)
	}
}

func TestTraceLoadingThenStaleAndCached(t *testing.T) {
	m := New(fixture.TracedResult(), nil)
	m, cmd := m.Update(press("t"))
	if cmd == nil || !m.TraceOpen() {
		t.Fatal("t neither loads nor opens")
	}
	if v := m.View(); !strings.Contains(v, "Reading the run's traces") {
		t.Errorf("no loading note:\n%s", v)
	}
	m.SetTraces("some/other/run", tracing.Group(fixture.Spans()), nil)
	if _, _, ok := m.Shown(); ok {
		t.Fatal("traces of another run were taken")
	}
	m.SetTraces(m.Result.RunDir, tracing.Group(fixture.Spans()), nil)
	if k, _, ok := m.Shown(); !ok || k != KindRetried {
		t.Fatalf("after SetTraces: %v %v, want retried", k, ok)
	}
	m, _ = m.Update(press("tab"))
	m, cmd = m.Update(press("esc"))
	if cmd != nil || m.TraceOpen() {
		t.Fatalf("esc in the sub-view: open %v, cmd %v; want back to the before/after body", m.TraceOpen(), cmd != nil)
	}
	if v := m.View(); !strings.Contains(v, "Before / after") {
		t.Errorf("esc does not show the before/after body:\n%s", v)
	}
	m, cmd = m.Update(press("t"))
	if cmd != nil {
		t.Error("t again reloads the traces")
	}
	if k, _, ok := m.Shown(); !ok || k != KindRetried {
		t.Errorf("reopened on %v, want the default kind (retried)", k)
	}
	m, _ = m.Update(press("esc")) // closes the sub-view
	_, cmd = m.Update(press("esc"))
	if cmd == nil {
		t.Fatal("esc on the body gives no command")
	}
	if _, ok := cmd().(common.BackMsg); !ok {
		t.Error("esc on the body does not go back to the lab")
	}
}

func TestTraceViewFitsAndDraws(t *testing.T) {
	tests := []struct {
		w, h  int
		ascii bool
		want  []string
		never []string
	}{
		{80, 24, true, []string{`\-attempt 2 -> currency_v1 200`, "! ejection", "Showing the slowest retried request · 1 retried, 1 failed of 3 traced"}, []string{"└", "│", "█"}},
		{120, 40, true, []string{"backoff 25ms", "retried at currency"}, []string{"└", "\x1b["}},
		{100, 30, false, []string{"└", "⚡"}, []string{"\x1b["}},
		{60, 20, true, []string{"attempt 1 -> currency_v2"}, nil},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%dx%d ascii=%v", tc.w, tc.h, tc.ascii), func(t *testing.T) {
			m := New(fixture.TracedResult(), nil)
			m.Waterfall = tracing.WaterfallOptions{ASCII: tc.ascii}
			m.SetSize(tc.w, tc.h)
			m, _ = m.Update(press("t"))
			m.SetTraces(m.Result.RunDir, tracing.Group(fixture.Spans()), nil)
			v := m.View()
			lines := strings.Split(v, "\n")
			if len(lines) > tc.h {
				t.Errorf("%d lines on a %d-line screen:\n%s", len(lines), tc.h, v)
			}
			for _, l := range lines {
				if lipgloss.Width(l) > tc.w {
					t.Errorf("line wider than %d: %q", tc.w, l)
				}
			}
			all := v
			for range 40 { // the whole waterfall, scrolled through
				m, _ = m.Update(press("down"))
				all += m.View()
			}
			for _, s := range tc.want {
				if !strings.Contains(all, s) {
					t.Errorf("view lacks %q:\n%s", s, v)
				}
			}
			for _, s := range tc.never {
				if strings.Contains(all, s) {
					t.Errorf("view has %q:\n%s", s, v)
				}
			}
		})
	}
}

func TestTraceScrolls(t *testing.T) {
	m := opened(t, 80, 20, fixture.Spans(), nil) // 17 waterfall lines, 14 rows for them
	if !strings.Contains(m.View(), "↓ more below") {
		t.Fatalf("no scroll note:\n%s", m.View())
	}
	m, _ = m.Update(press("down"))
	if m.trace.body.YOffset != 1 {
		t.Errorf("down: offset %d, want 1", m.trace.body.YOffset)
	}
	m, _ = m.Update(press("tab"))
	if m.trace.body.YOffset != 0 {
		t.Errorf("tab keeps offset %d, want the top of the next waterfall", m.trace.body.YOffset)
	}
	if m.body.YOffset != 0 {
		t.Error("keys in the sub-view scrolled the before/after body")
	}
}

// t is in the key line only when the run recorded traces.
func TestTraceKeyInKeyLine(t *testing.T) {
	tests := []struct {
		name   string
		traced bool
		want   bool
	}{{"traced run", true, true}, {"run without traces", false, false}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := fixture.Result()
			if tc.traced {
				res = fixture.TracedResult()
			}
			m := New(res, nil)
			m.SetSize(80, 24)
			lines := strings.Split(m.View(), "\n")
			last := lines[len(lines)-1]
			if got := strings.Contains(last, "t trace"); got != tc.want {
				t.Errorf("key line %q: t trace shown %v, want %v", last, got, tc.want)
			}
			if !strings.Contains(last, "ctrl+c quit") {
				t.Errorf("key line %q lost ctrl+c at 80 columns", last)
			}
		})
	}
}
