package tracing

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var wfUpdate = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it under -wfUpdate.
func wfGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *wfUpdate {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./tracing -run %s -wfUpdate to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test ./tracing -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func wfRetriedTrace(t *testing.T) Trace {
	t.Helper()
	ts := Group(wfRetriedSpans())
	if len(ts) != 1 {
		t.Fatalf("Group made %d traces, want 1", len(ts))
	}
	return ts[0]
}

func TestWaterfallGolden(t *testing.T) {
	tr := wfRetriedTrace(t)
	incomplete := Group([]Span{
		{TraceID: "aa", SpanID: "01", ParentID: "ff", Service: "payments_sidecar", Kind: "server", Name: "inbound GET /",
			Start: wfAt(1), End: wfAt(9), Attributes: wfCode(503), Status: "error",
			Events: []SpanEvent{{Name: "rate_limited", Time: wfAt(1.5)}}},
		{TraceID: "aa", SpanID: "02", ParentID: "01", Service: "payments", Kind: "server", Name: "GET /",
			Start: wfAt(2), End: wfAt(8), Events: []SpanEvent{{Name: "fault_injected", Time: wfAt(2), Attributes: map[string]any{"meshgym.kind": "delay"}},
				{Name: "timeout", Time: wfAt(7.9)}}, Status: "error", Attributes: map[string]any{AttrErrorType: "timeout"}},
		{TraceID: "aa", SpanID: "03", Service: "loadgen", Kind: "client", Name: "GET /", Start: wfAt(0), End: wfAt(10), Attributes: wfCode(503)},
	})[0]
	// An app that injected an error, on a sidecar that retried it with a
	// long back-off: the facts the newcomer saw cut at 80 columns.
	injected := Group([]Span{
		{TraceID: "bb", SpanID: "01", Service: "loadgen", Kind: "client", Name: "GET /", Start: wfAt(0), End: wfAt(60), Attributes: wfCode(200)},
		{TraceID: "bb", SpanID: "02", ParentID: "01", Service: "payments_sidecar", Kind: "server", Name: "outbound currency",
			Start: wfAt(1), End: wfAt(59), Attributes: wfCode(200, AttrCluster, "currency")},
		{TraceID: "bb", SpanID: "03", ParentID: "02", Service: "payments_sidecar", Kind: "client", Name: "attempt 1 currency",
			Start: wfAt(2), End: wfAt(6), Attributes: wfCode(503, AttrAttempt, 1.0, AttrEndpoint, "currency_v2")},
		{TraceID: "bb", SpanID: "04", ParentID: "03", Service: "currency_v2", Kind: "server", Name: "GET /", Start: wfAt(2.5), End: wfAt(5.5),
			Attributes: wfCode(503), Status: "error",
			Events: []SpanEvent{{Name: "error_injected", Time: wfAt(5.4), Attributes: map[string]any{AttrDetail: "ERROR_RATE 0.3"}}}},
		{TraceID: "bb", SpanID: "05", ParentID: "02", Service: "payments_sidecar", Kind: "client", Name: "attempt 2 currency",
			Start: wfAt(28.5), End: wfAt(58), Attributes: wfCode(200, AttrAttempt, 2.0, AttrEndpoint, "currency_v1", AttrBackoffMS, 22.5),
			Events: []SpanEvent{{Name: "timeout", Time: wfAt(50), Attributes: map[string]any{"meshgym.timeout": "per_try"}}}},
	})[0]
	for _, tc := range []struct {
		name  string
		tr    Trace
		width int
		opts  WaterfallOptions
	}{
		{"retried-120.golden", tr, 120, WaterfallOptions{}},
		{"retried-120-ascii.golden", tr, 120, WaterfallOptions{ASCII: true}},
		{"retried-80.golden", tr, 80, WaterfallOptions{}},
		{"retried-80-ascii.golden", tr, 80, WaterfallOptions{ASCII: true}},
		{"retried-48.golden", tr, 48, WaterfallOptions{}},
		{"retried-100-color.golden", tr, 100, WaterfallOptions{Color: true}},
		{"incomplete-100.golden", incomplete, 100, WaterfallOptions{}},
		{"incomplete-80.golden", incomplete, 80, WaterfallOptions{}},
		{"injected-80.golden", injected, 80, WaterfallOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := WaterfallString(tc.tr, tc.width, tc.opts)
			wfGolden(t, tc.name, got)
			var sb strings.Builder
			if err := Waterfall(&sb, tc.tr, tc.width, tc.opts); err != nil || sb.String() != got {
				t.Errorf("Waterfall wrote %q, %v; want WaterfallString's output", sb.String(), err)
			}
			if tc.opts.Color {
				return
			}
			// Every line is exactly the width (the layout fills it): the
			// header, one line per span (its times first), and
			// continuation lines (blank time columns) for facts that do
			// not fit beside the span's name.
			lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
			spanLines := 0
			for _, l := range lines[1:] {
				if !strings.HasPrefix(l, "       ") {
					spanLines++
				}
			}
			if want := len(tc.tr.Spans) + wfBoolInt(tc.tr.Root.Synthetic); spanLines != want {
				t.Errorf("%d span lines, want %d", spanLines, want)
			}
			for i, l := range lines {
				if w := textWidth(l); w != tc.width {
					t.Errorf("line %d is %d columns wide, want %d: %q", i+1, w, tc.width, l)
				}
				if tc.opts.ASCII {
					for _, r := range l {
						if r > 0x7e || (r < 0x20) {
							t.Errorf("line %d has non-ASCII %q: %q", i+1, r, l)
							break
						}
					}
				}
			}
		})
	}
}

// TestWaterfallNarrowKeepsFacts: at 80 and 64 columns the facts a
// learner reads are whole (at MinWidth, wrapped at spaces) — attempt, endpoint,
// status, back-off, events — and nothing is cut with an ellipsis; the bar
// keeps at least a fifth of 80 columns.
func TestWaterfallNarrowKeepsFacts(t *testing.T) {
	for _, width := range []int{80, 64, MinWidth} {
		got := WaterfallString(wfRetriedTrace(t), width, WaterfallOptions{})
		for _, want := range []string{"attempt 1 → currency_v2 500", "⚡ ejection", "attempt 2 → currency_v1 200", "backoff 25ms",
			"currency_v1_sidecar inbound GET / 200", "payments_sidecar outbound currency 200"} {
			if width == MinWidth {
				// So deep a tree so narrow wraps names at spaces: every
				// word is there, none cut.
				for _, w := range strings.Fields(want) {
					if !strings.Contains(got, w) {
						t.Errorf("width %d: %q of %q is missing in\n%s", width, w, want, got)
					}
				}
				continue
			}
			if !strings.Contains(got, want) {
				t.Errorf("width %d: %q is not whole in\n%s", width, want, got)
			}
		}
		if strings.Contains(got, "…") {
			t.Errorf("width %d: something was cut:\n%s", width, got)
		}
		hdr := strings.SplitN(got, "\n", 2)[0]
		if width == 80 {
			bar := hdr[strings.Index(hdr, "│")+len("│") : strings.LastIndex(hdr, "│")]
			if n := textWidth(bar); n < 16 {
				t.Errorf("width 80: the bar is %d columns, want at least 16:\n%s", n, got)
			}
		}
	}
}

// TestWaterfallASCIITree: ASCII trees use "+-" and "\-" for branches and
// "| " for the line running past, so a branch never looks like a
// continuation.
func TestWaterfallASCIITree(t *testing.T) {
	got := WaterfallString(wfRetriedTrace(t), 120, WaterfallOptions{ASCII: true})
	for _, want := range []string{"+-attempt 1 -> currency_v2 500", "\\-attempt 2 -> currency_v1 200", "| \\-currency_v2_sidecar inbound GET / 500"} {
		if !strings.Contains(got, want) {
			t.Errorf("ASCII tree lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "|-") || strings.Contains(got, "`-") {
		t.Errorf("ASCII tree uses |- or `- branches:\n%s", got)
	}
}

func wfBoolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestWaterfallContent asserts the parts a learner reads, independent of
// the layout: the failed attempt on currency_v2 with its ejection, the
// back-off, the successful attempt on currency_v1, and the bars' scale.
func TestWaterfallContent(t *testing.T) {
	got := WaterfallString(wfRetriedTrace(t), 160, WaterfallOptions{})
	lines := strings.Split(got, "\n")
	find := func(sub string) string {
		t.Helper()
		for _, l := range lines {
			if strings.Contains(l, sub) {
				return l
			}
		}
		t.Fatalf("no line contains %q in\n%s", sub, got)
		return ""
	}
	a1 := find("attempt 1 → currency_v2 500")
	if !strings.Contains(a1, "⚡ ejection (consecutive 5xx)") {
		t.Errorf("attempt 1 line lacks the ejection and its detail (room enough at 160): %q", a1)
	}
	// The outbound span's back-off event is marked in its bar but not
	// repeated in words (attempt 2's row says it).
	out := find("payments_sidecar outbound currency 200")
	if strings.Contains(out, "backoff") || !strings.Contains(out, "◆") {
		t.Errorf("outbound line: %q", out)
	}
	// A server span's meshgym.attempt (the attempt count it received) is
	// not drawn as an upstream attempt.
	if l := find("currency_v1_sidecar"); !strings.Contains(l, "currency_v1_sidecar inbound GET / 200") {
		t.Errorf("inbound span of attempt 2: %q", l)
	}
	a2 := find("attempt 2 → currency_v1 200")
	if !strings.Contains(a2, "backoff 25ms") {
		t.Errorf("attempt 2 line lacks the back-off: %q", a2)
	}
	if !strings.HasPrefix(strings.TrimSpace(a2), "31.40ms  6.00ms") {
		t.Errorf("attempt 2 offset/duration: %q", a2)
	}
	// The bar of attempt 2: back-off shading right before its fill.
	if !strings.Contains(a2, "░█") || strings.Index(a2, "░") > strings.Index(a2, "█") {
		t.Errorf("attempt 2 bar does not show the back-off before the attempt: %q", a2)
	}
	// The root bar fills the whole timeline.
	root := lines[1]
	bar := root[strings.Index(root, "│")+len("│") : strings.LastIndex(root, "│")]
	if strings.Trim(bar, "█") != "" {
		t.Errorf("root bar %q is not full", bar)
	}
	// Service shown only where it changes: the attempt lines (same
	// service as their parent) carry none.
	if strings.Contains(a2, "payments_sidecar attempt") {
		t.Errorf("attempt line repeats its parent's service: %q", a2)
	}
	if !strings.Contains(find("currency_v2_sidecar"), "inbound GET / 500") {
		t.Errorf("currency_v2_sidecar line: %q", find("currency_v2_sidecar"))
	}
}

func TestWaterfallSanitizes(t *testing.T) {
	tr := Group([]Span{{TraceID: "ab", SpanID: "01", Service: "evil\x1b[31m", Kind: "server", Name: "GET /\nx",
		Start: wfAt(0), End: wfAt(1)}})[0]
	got := WaterfallString(tr, 80, WaterfallOptions{})
	if strings.Contains(got, "\x1b") || strings.Count(got, "\n") != 2 {
		t.Errorf("control characters reached the output: %q", got)
	}
}

func TestWaterfallWriteError(t *testing.T) {
	want := errors.New("disk full")
	if err := Waterfall(wfFailWriter{want}, wfRetriedTrace(t), 100, WaterfallOptions{}); !errors.Is(err, want) {
		t.Errorf("Waterfall = %v, want %v", err, want)
	}
}

type wfFailWriter struct{ err error }

func (f wfFailWriter) Write([]byte) (int, error) { return 0, f.err }

func TestHeadline(t *testing.T) {
	tr := wfRetriedTrace(t)
	want := "trace 4bf92f3577b34da6a3ce929d0e0e4736  40.00 ms  200  retried at currency  after phase  16 spans"
	if got := tr.Headline(); got != want {
		t.Errorf("Headline = %q, want %q", got, want)
	}
	failed := Group([]Span{{TraceID: "cd", SpanID: "01", Service: "api_sidecar", Kind: "server", Name: "GET /",
		Start: wfAt(0), End: wfAt(2.5), Attributes: wfCode(503)}})[0]
	if got, want := failed.Headline(), "trace cd  2.50 ms  503 failed  1 span"; got != want {
		t.Errorf("Headline = %q, want %q", got, want)
	}
}

func TestRuneWidth(t *testing.T) {
	for s, want := range map[string]int{"abc": 3, "⚡": 2, "█░│├└→…": 7, "日本": 4, "e\u0301": 1} {
		if got := textWidth(s); got != want {
			t.Errorf("textWidth(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestHeadlineLinesFit(t *testing.T) {
	tr := wfRetriedTrace(t)
	got := tr.HeadlineLines(80)
	want := []string{
		"trace 4bf92f3577b34da6a3ce929d0e0e4736  40.00 ms  200  retried at currency",
		"  after phase  16 spans",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("HeadlineLines(80) = %q, want %q", got, want)
	}
	if got := tr.HeadlineLines(120); len(got) != 1 || got[0] != tr.Headline() {
		t.Errorf("HeadlineLines(120) = %q, want the one-line headline", got)
	}
	// A summary without double spaces breaks at spaces; a word longer
	// than the width stays whole on its own line.
	s := "run 20261129-140538-retries: 412 traces recorded (4120 spans), 18 failed, 37 retried, 2 incomplete (before 206, after 206)"
	lines := WrapText(s, 80, "  ")
	if len(lines) != 2 || strings.Join(strings.Fields(strings.Join(lines, " ")), " ") != s {
		t.Errorf("WrapText = %q", lines)
	}
	for _, l := range lines {
		if textWidth(l) > 80 {
			t.Errorf("line %q is wider than 80", l)
		}
	}
	if got := WrapText("a "+strings.Repeat("x", 30)+" b", 10, "  "); strings.Join(got, "|") != "a|  "+strings.Repeat("x", 30)+"|  b" {
		t.Errorf("long word: %q", got)
	}
}

// wfChain is one trace of n spans, each the parent of the next.
func wfChain(n int) Trace {
	spans := make([]Span, n)
	for i := range spans {
		spans[i] = Span{TraceID: "cc", SpanID: fmt.Sprintf("%016x", i+1), Service: "svc", Kind: "server", Name: "GET /",
			Start: wfAt(float64(i) / 1000), End: wfAt(10)}
		if i > 0 {
			spans[i].ParentID = fmt.Sprintf("%016x", i)
		}
	}
	return Group(spans)[0]
}

func TestWaterfallDepthCapped(t *testing.T) {
	const n = 3000
	tr := wfChain(n)
	for _, opts := range []WaterfallOptions{{}, {ASCII: true}} {
		lines := strings.Split(strings.TrimSuffix(WaterfallString(tr, 120, opts), "\n"), "\n")
		if len(lines) != n+1 { // header + one per span
			t.Fatalf("ascii=%v: %d lines, want %d", opts.ASCII, len(lines), n+1)
		}
		marker := "…"
		if opts.ASCII {
			marker = "."
		}
		for i, l := range lines {
			if w := textWidth(l); w != 120 {
				t.Fatalf("ascii=%v: line %d is %d columns, want 120: %q", opts.ASCII, i, w, l)
			}
		}
		// Line i draws the span at depth i-1. The deepest rows draw as the
		// first one beyond MaxDepth+1 levels does: the same tree prefix,
		// with the marker standing for the levels beyond.
		prefix := func(l string) string { // between the took column and the name
			return strings.SplitN(l[:strings.Index(l, "GET /")], "ms  ", 3)[2]
		}
		last, firstDeep, lastShallow := prefix(lines[n]), prefix(lines[MaxDepth+3]), prefix(lines[MaxDepth+2])
		if last != firstDeep || !strings.Contains(last, marker) {
			t.Errorf("ascii=%v: deepest row's prefix %q, want %q with %q", opts.ASCII, last, firstDeep, marker)
		}
		if strings.Contains(lastShallow, marker) {
			t.Errorf("ascii=%v: row at depth %d is marked deep: %q", opts.ASCII, MaxDepth+1, lines[MaxDepth+2])
		}
	}
}

func TestWaterfallWidthCapped(t *testing.T) {
	tr := wfRetriedTrace(t)
	for _, w := range []int{MaxWidth + 1, 1 << 40, int(^uint(0) >> 1)} {
		for i, l := range strings.Split(strings.TrimSuffix(WaterfallString(tr, w, WaterfallOptions{}), "\n"), "\n") {
			if got := textWidth(l); got != MaxWidth {
				t.Fatalf("width %d: line %d is %d columns, want MaxWidth %d", w, i, got, MaxWidth)
			}
		}
	}
}
