package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meshgym/engine"
	"meshgym/results"
	"meshgym/scenarios"
	"meshgym/tracing"
)

const traceRun = "20261129-140538-retries"

var traceT0 = time.Date(2026, 11, 29, 14, 5, 40, 0, time.UTC)

// traceSpans are four recorded requests: a retried one (after phase), a
// failed one (before phase, 503), a fast plain one, and an incomplete
// one whose root was not recorded.
func traceSpans() []tracing.Span {
	at := func(msec float64) time.Time { return traceT0.Add(time.Duration(msec * float64(time.Millisecond))) }
	sp := func(trace string, id, parent int, service, kind, name string, from, to float64, attrs map[string]any) tracing.Span {
		s := tracing.Span{TraceID: trace, SpanID: fmt.Sprintf("%016x", id), Service: service, Kind: kind, Name: name,
			Start: at(from), End: at(to), Attributes: attrs}
		if parent != 0 {
			s.ParentID = fmt.Sprintf("%016x", parent)
		}
		return s
	}
	code := func(c int, kv ...any) map[string]any {
		m := map[string]any{"http.response.status_code": c}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	const (
		retried = "4bf92f3577b34da6a3ce929d0e0e4736"
		failed  = "0af7651916cd43dd8448eb211c80319c"
		fast    = "0af7651916cd43dd8448eb211c8031ff"
		partial = "7c1b2d0e5f6a4b3c9d8e7f6a5b4c3d2e"
	)
	a1 := sp(retried, 14, 13, "payments_sidecar", "client", "attempt 1 currency", 2.1, 6.4,
		code(500, "meshgym.attempt", 1, "meshgym.endpoint", "currency_v2"))
	a1.Status = "error"
	a1.Events = []tracing.SpanEvent{{Name: "ejection", Time: at(6.3), Attributes: map[string]any{"meshgym.endpoint": "currency_v2"}}}
	f2 := sp(failed, 2, 1, "api_sidecar", "server", "inbound GET /", 100.2, 112, code(503))
	f2.Status = "error"
	return []tracing.Span{
		sp(retried, 1, 0, "loadgen", "client", "GET /", 0, 40, code(200, "meshgym.phase", "after")),
		sp(retried, 2, 1, "api_sidecar", "server", "inbound GET /", 0.2, 39.6, code(200)),
		sp(retried, 13, 2, "payments_sidecar", "server", "outbound currency", 1.4, 37.6, code(200)),
		a1,
		sp(retried, 16, 13, "payments_sidecar", "client", "attempt 2 currency", 31.4, 37.4,
			code(200, "meshgym.attempt", 2, "meshgym.endpoint", "currency_v1", "meshgym.backoff_ms", 25)),
		sp(failed, 1, 0, "loadgen", "client", "GET /", 100, 112.5, code(503, "meshgym.phase", "before")),
		f2,
		sp(fast, 1, 0, "loadgen", "client", "GET /", 200, 201.5, code(200)),
		sp(partial, 5, 9, "currency_v1_sidecar", "server", "inbound GET /", 300, 303, code(200)),
	}
}

// traceStore is a results store with one completed run whose spans file
// holds body (nil: no spans file); it returns the store directory.
func traceStore(t *testing.T, body []byte) string {
	t.Helper()
	return traceStoreRun(t, body, "")
}

// traceStoreRun is traceStore with the run's result.json Error (""
// = the run completed).
func traceStoreRun(t *testing.T, body []byte, runErr string) string {
	t.Helper()
	dir := resultsStore(t, "", nil)
	sc, err := scenarios.Builtin("retries")
	if err != nil {
		t.Fatal(err)
	}
	res, err := json.Marshal(&engine.Result{Scenario: sc, Source: sc.Source, Platform: "local", Mesh: "builtin", Seed: 7, Error: runErr})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, traceRun, results.ResultFile), res, 0o644); err != nil {
		t.Fatal(err)
	}
	if body != nil {
		p := filepath.Join(dir, traceRun, filepath.FromSlash(tracing.SpansFile))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func traceFile(t *testing.T, spans []tracing.Span) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, s := range spans {
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// traceCLI runs meshgym in process.
func traceCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = Main(args, &o, &e)
	return o.String(), e.String(), code
}

func TestTraceRetried(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	store := traceStore(t, traceFile(t, traceSpans()))
	out, stderr, code := traceCLI(t, "trace", "--results-dir", store, "--retried", "--width", "100")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	lines := strings.Split(out, "\n")
	if want := "trace 4bf92f3577b34da6a3ce929d0e0e4736  40.00 ms  200  retried at currency  after phase  5 spans"; lines[0] != want {
		t.Errorf("header = %q, want %q", lines[0], want)
	}
	for _, want := range []string{
		"attempt 1 → currency_v2 500  ⚡ ejection",
		"attempt 2 → currency_v1 200  backoff 25ms",
		"run " + traceRun + ": 4 traces recorded (9 spans), 1 failed, 1 retried, 1 incomplete\n  (before 1, after 1)\n",
		"shown: 1 of 1 retried traces (in start order)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The waterfall is the width asked for.
	for _, l := range lines[1:6] {
		if n := len([]rune(l)); n < 95 || n > 100 {
			t.Errorf("waterfall line %d runes wide: %q", n, l)
		}
	}
	if strings.Contains(out, "0af76519") {
		t.Errorf("--retried showed another trace:\n%s", out)
	}
}

func TestTraceNoColorIsASCII(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	store := traceStore(t, traceFile(t, traceSpans()))
	out, _, code := traceCLI(t, "trace", traceRun[:13], "--results-dir", store, "-n", "0")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for i, r := range out {
		if r > 0x7e && r != '\n' {
			t.Fatalf("non-ASCII %q at %d under NO_COLOR:\n%s", r, i, out)
		}
	}
	if !strings.Contains(out, "attempt 2 -> currency_v1 200") || strings.Contains(out, "\x1b[") {
		t.Errorf("ASCII waterfall wrong:\n%s", out)
	}
	// Without a selector, every trace in start order.
	var heads []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "trace ") {
			heads = append(heads, strings.Fields(l)[1][:8])
		}
	}
	if got := strings.Join(heads, ","); got != "4bf92f35,0af76519,0af76519,7c1b2d0e" {
		t.Errorf("traces shown %s", got)
	}
	if !strings.Contains(out, "? incomplete trace") || !strings.Contains(out, `\-currency_v1_sidecar inbound GET / 200  (parent not recorded)`) {
		t.Errorf("incomplete trace not explained:\n%s", out)
	}
}

func TestTraceFailedSlowestJSON(t *testing.T) {
	store := traceStore(t, traceFile(t, traceSpans()))
	out, stderr, code := traceCLI(t, "trace", "last", "--results-dir", store, "--failed", "--slowest", "-n", "0", "-o", "json")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	var doc traceSummary
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if doc.Run != traceRun || doc.Recorded != 4 || doc.Spans != 9 || doc.Failed != 1 || doc.Retried != 1 || doc.Selected != 1 {
		t.Errorf("summary = %+v", doc)
	}
	if len(doc.Traces) != 1 || doc.Traces[0].ID != "0af7651916cd43dd8448eb211c80319c" || doc.Traces[0].StatusCode != 503 ||
		!doc.Traces[0].Failed || doc.Traces[0].DurationMS != 12.5 || len(doc.Traces[0].Spans) != 2 || doc.Traces[0].Phase != "before" {
		t.Errorf("traces = %+v", doc.Traces)
	}
	// --slowest alone orders by duration: retried (40 ms) before failed (12.5 ms).
	out, _, _ = traceCLI(t, "trace", "--results-dir", store, "--slowest", "-n", "2", "-o", "json")
	doc = traceSummary{}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Traces) != 2 || doc.Traces[0].DurationMS != 40 || doc.Traces[1].DurationMS != 12.5 {
		t.Errorf("--slowest -n 2 = %+v (%v)", doc.Traces, err)
	}
}

func TestTraceByID(t *testing.T) {
	store := traceStore(t, traceFile(t, traceSpans()))
	out, _, code := traceCLI(t, "trace", "--results-dir", store, "--id", "7C1B", "--width", "80")
	if code != 0 || !strings.HasPrefix(out, "trace 7c1b2d0e5f6a4b3c9d8e7f6a5b4c3d2e  3.00 ms  200  1 span  incomplete\n") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	if strings.Contains(out, "shown:") {
		t.Errorf("--id output has a selection line:\n%s", out)
	}
}

func TestTraceNoSpans(t *testing.T) {
	missing := traceStore(t, nil)
	out, stderr, code := traceCLI(t, "trace", "--results-dir", missing)
	want := "run " + traceRun + " recorded no traces: it ran before tracing existed, or with --trace-sample 0\n"
	if code != 0 || out != "" || stderr != want {
		t.Errorf("missing file: exit %d, stdout %q, stderr %q; want 0, nothing, %q", code, out, stderr, want)
	}
	out, _, code = traceCLI(t, "trace", "--results-dir", missing, "-o", "json")
	var doc traceSummary
	if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil || doc.Traces == nil || len(doc.Traces) != 0 || doc.Note == "" {
		t.Errorf("missing file, json: exit %d, %v, %s", code, err, out)
	}
	empty := traceStore(t, []byte{})
	_, stderr, code = traceCLI(t, "trace", "--results-dir", empty, "--retried")
	if code != 0 || !strings.Contains(stderr, "recorded no spans (traces/spans.jsonl is empty: no request was sampled)") {
		t.Errorf("empty file: exit %d, stderr %q", code, stderr)
	}
	// A truncated last line (the run was cut off) is not an error.
	body := traceFile(t, traceSpans())
	cut := traceStore(t, append(body, `{"trace_id":"ab","span_id":"cd","na`...))
	if _, stderr, code := traceCLI(t, "trace", "--results-dir", cut); code != 0 || stderr != "" {
		t.Errorf("truncated last line: exit %d, stderr %q", code, stderr)
	}
}

func TestTraceBadInput(t *testing.T) {
	store := traceStore(t, traceFile(t, traceSpans()))
	damaged := traceStore(t, []byte("{\"trace_id\":\"a\",\"span_id\":\"b\"}\nnot json\n{}\n"))
	for _, tc := range []struct {
		name string
		args []string
		want string // stderr after "meshgym: "
	}{
		{"output", []string{"--output", "xml"}, `--output: unknown format "xml"; use text or json`},
		{"negative n", []string{"-n", "-1"}, "-n must be 0 (all) or more, not -1"},
		{"id with selector", []string{"--id", "4bf9", "--failed"}, "--id picks one trace; leave out --failed, --retried and --slowest"},
		{"two runs", []string{"a", "b"}, "meshgym trace expects at most one RUN (got 2 arguments); see 'meshgym trace --help'"},
		{"unknown run", []string{"2025"}, `no run "2025" in ` + store + "; recent runs: " + traceRun + " (see 'meshgym results list')"},
		{"unknown trace", []string{"--id", "ffff"}, `no trace "ffff" in run ` + traceRun + " (4 recorded; the slowest: 4bf92f3577b34da6a3ce929d0e0e4736, 0af7651916cd43dd8448eb211c80319c, 7c1b2d0e5f6a4b3c9d8e7f6a5b4c3d2e and 1 more)"},
		{"ambiguous trace", []string{"--id", "0af"}, `trace "0af" is ambiguous in run ` + traceRun + ": it matches 0af7651916cd43dd8448eb211c80319c, 0af7651916cd43dd8448eb211c8031ff; give more of the ID"},
		{"unknown flag", []string{"--retry"}, "unknown flag: --retry; see 'meshgym trace --help'"},
		{"width too wide", []string{"--width", "1001"}, "--width 1001: at most 1000"},
		{"width max int", []string{"--width", "9223372036854775807"}, "--width 9223372036854775807: at most 1000"},
		{"width max int32", []string{"--width", "2147483647"}, "--width 2147483647: at most 1000"},
		{"width negative", []string{"--width", "-1"}, "--width -1: at least 0 (0: the terminal's width)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := traceCLI(t, append([]string{"trace", "--results-dir", store}, tc.args...)...)
			if code != exitUsage || out != "" {
				t.Errorf("exit %d, stdout %q; want 2 and nothing", code, out)
			}
			oneErrLine(t, tc.name, stderr, tc.want)
		})
	}
	out, stderr, code := traceCLI(t, "trace", "--results-dir", damaged)
	path := filepath.Join(damaged, traceRun, "traces", "spans.jsonl")
	if code != exitUsage || out != "" {
		t.Errorf("damaged: exit %d, stdout %q", code, out)
	}
	oneErrLine(t, "damaged", stderr, "run "+traceRun+": damaged spans file: "+path+":2: not a span: invalid character 'o' in literal null (expecting 'u')")
}

func TestTraceHelp(t *testing.T) {
	out, _, code := traceCLI(t, "trace", "--help")
	for _, want := range []string{"attempt 2 → currency_v1 200  backoff 25ms", "meshgym trace --retried", "--trace-sample 0", "exit 0",
		"with\n              --output json every chosen trace unless -n is given", "100 columns when the output is\nnot a terminal"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("help lacks %q (exit %d)", want, code)
		}
	}
	if strings.Contains(out, "-sample -1") {
		t.Errorf("help still says --trace-sample -1 turns tracing off")
	}
}

// TestTraceStoppedRun: a run interrupted before any request was traced
// says so (whether the receiver created the spans file or not), instead
// of "no request was sampled".
func TestTraceStoppedRun(t *testing.T) {
	const why = "interrupted (signal: interrupt); everything meshgym started was stopped"
	for name, body := range map[string][]byte{"empty file": {}, "no file": nil} {
		store := traceStoreRun(t, body, why)
		out, stderr, code := traceCLI(t, "trace", "--results-dir", store)
		want := "run " + traceRun + " stopped before any request was traced (" + why + ")\n"
		if code != 0 || out != "" || stderr != want {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 0, nothing, %q", name, code, out, stderr, want)
		}
	}
	// A stopped run with spans shows them as usual.
	store := traceStoreRun(t, traceFile(t, traceSpans()), why)
	if out, stderr, code := traceCLI(t, "trace", "--results-dir", store, "--retried"); code != 0 || stderr != "" || !strings.Contains(out, "attempt 2") {
		t.Errorf("stopped run with spans: exit %d, stderr %q:\n%s", code, stderr, out)
	}
}

// TestTraceJSONAll: -o json without -n returns every chosen trace; -n
// still limits it.
func TestTraceJSONAll(t *testing.T) {
	store := traceStore(t, traceFile(t, traceSpans()))
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, 4},
		{[]string{"--failed"}, 1},
		{[]string{"-n", "2"}, 2},
		{[]string{"-n", "1"}, 1},
		{[]string{"-n", "0"}, 4},
	} {
		out, stderr, code := traceCLI(t, append([]string{"trace", "--results-dir", store, "-o", "json"}, tc.args...)...)
		var doc traceSummary
		if err := json.Unmarshal([]byte(out), &doc); code != 0 || stderr != "" || err != nil {
			t.Fatalf("%v: exit %d, stderr %q, %v", tc.args, code, stderr, err)
		}
		if len(doc.Traces) != tc.want {
			t.Errorf("-o json %v: %d traces, want %d", tc.args, len(doc.Traces), tc.want)
		}
	}
	// Text output still shows one waterfall by default.
	out, _, _ := traceCLI(t, "trace", "--results-dir", store)
	if !strings.Contains(out, "shown: 1 of 4 traces (in start order)") {
		t.Errorf("text default:\n%s", out)
	}
}

// TestTraceWidth80: at --width 80 no line of the output is wider than
// 80 columns (headline and summary wrap), and the attempt lines are
// whole.
func TestTraceWidth80(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	store := traceStore(t, traceFile(t, traceSpans()))
	out, _, code := traceCLI(t, "trace", "--results-dir", store, "--retried", "--width", "80")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, l := range strings.Split(out, "\n") {
		if n := len([]rune(l)) + strings.Count(l, "⚡"); n > 80 {
			t.Errorf("line of %d columns: %q", n, l)
		}
	}
	for _, want := range []string{"attempt 1 → currency_v2 500", "⚡ ejection", "attempt 2 → currency_v1 200", "backoff 25ms",
		"run " + traceRun + ": 4 traces recorded (9 spans), 1 failed, 1 retried,\n  1 incomplete (before 1, after 1)\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "…") {
		t.Errorf("something was cut:\n%s", out)
	}
}

// TestTraceWidthDefault: not a terminal and no --width: 100 columns,
// whatever $COLUMNS says.
func TestTraceWidthDefault(t *testing.T) {
	t.Setenv("COLUMNS", "60")
	var b bytes.Buffer
	if got := traceWidth(&b, 0); got != 100 {
		t.Errorf("traceWidth = %d, want 100", got)
	}
	if got := traceWidth(&b, 72); got != 72 {
		t.Errorf("traceWidth(--width 72) = %d", got)
	}
}

// TestTraceWidthBounds: --width 1000 draws every line 1000 columns wide
// (the widest allowed), --width 0 is the default width (ASCII: one
// column per byte).
func TestTraceWidthBounds(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	store := traceStore(t, traceFile(t, traceSpans()))
	for _, tc := range []struct {
		flag string
		want int
	}{{"1000", 1000}, {"0", tracing.DefaultWidth}} {
		out, stderr, code := traceCLI(t, "trace", "--results-dir", store, "--retried", "--ascii", "--width", tc.flag)
		if code != 0 || stderr != "" {
			t.Fatalf("--width %s: exit %d, stderr %q", tc.flag, code, stderr)
		}
		wf := strings.SplitN(out, "\n\n", 2)[0] // headline and waterfall
		lines := strings.Split(wf, "\n")[1:]
		if len(lines) < 3 {
			t.Fatalf("--width %s: no waterfall:\n%s", tc.flag, out)
		}
		for _, l := range lines {
			if w := len(l); w != tc.want {
				t.Errorf("--width %s: line is %d columns, want %d: %q", tc.flag, w, tc.want, l)
			}
		}
	}
}
