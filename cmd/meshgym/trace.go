package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"meshgym/results"
	"meshgym/tracing"
)

func init() { moreCommands = append(moreCommands, newTraceCmd) }

// traceFlags are `meshgym trace`'s flags.
type traceFlags struct {
	failed, retried, slowest bool
	n                        int
	nSet                     bool // -n was given
	id                       string
	output                   string
	resultsDir               string
	width                    int
	ascii                    bool
}

// newTraceCmd is `meshgym trace [RUN]`: the waterfalls of a run's traces
// (tracing.SpansFile in its run directory).
func newTraceCmd() *cobra.Command {
	var f traceFlags
	c := &cobra.Command{
		Use:   "trace [RUN] [--failed|--retried|--slowest] [-n N] [--id TRACEID]",
		Short: "Show a run's request traces as waterfalls (retries, back-off, ejections)",
		Long: `Every run records OpenTelemetry traces of a sample of its requests (10% by
default, 'meshgym run --trace-sample') in its run directory
(traces/spans.jsonl). 'meshgym trace' prints them as waterfalls: one line per
span, from the load generator's request down through each sidecar and app
to the last upstream, so one request shows what a count cannot — which
endpoint an attempt went to, what it answered, how long the back-off was,
and when an endpoint was ejected.

Reading a waterfall:
  start, took   when the span started after the trace's start, and how long
                it took, in ms
  span          indented under its parent; the service is named where it
                changes (loadgen, api_sidecar, api, payments_sidecar …),
                then the span's name and the HTTP status it answered
  attempt 2 → currency_v1 200  backoff 25ms
                one try of a sidecar's upstream request: attempt number,
                the endpoint the load balancer chose, its status, and the
                back-off waited before it (shaded ░ in the bar)
  ⚡ ejection  ✗ timeout  ⊘ rate limited / retry budget exhausted
  ↯ fault or error injected
                events on the span, marked ◆ in its bar
  │█████     │  the span's time on a bar scaled to the whole trace

Each trace gets a header line: its ID, duration, the status the entry
answered, "retried at currency" when a sidecar retried, and its phase.
A summary follows: traces recorded, failed, retried.

Choosing traces (they combine; without one, traces in start order):
  --failed    the entry (the first server span) answered non-2xx or failed
  --retried   some span is an attempt ≥ 2
  --slowest   longest first
  -n N        how many waterfalls (default 1; 0 = all chosen); with
              --output json every chosen trace unless -n is given
  --id ID     one trace by ID or a unique start of one

The waterfall fits the terminal's width (100 columns when the output is
not a terminal; --width sets it). On a narrow terminal the tree indents
one column per level and the facts of a span that do not fit beside it
(back-off, events) go on an indented line of their own below it.

RUN is a run ID, a unique start of one, or "last" (the default); see
'meshgym results list'. A run without traces (made before tracing
existed, with --trace-sample 0, or stopped before any request was
traced) is said so on stderr with exit 0: it is a fact about that run,
not an error. Bad flags, an unknown run or trace ID, and a damaged spans
file exit 2. With NO_COLOR set (or
--ascii) the waterfall uses ASCII only.`,
		Example: `  meshgym run retries -d 10s
  meshgym trace --retried                 the first retried request of the last run
  meshgym trace --failed --slowest -n 3   the three slowest failed requests
  meshgym trace 20261129-1405 --id 4bf92f35
  meshgym trace --retried --output json | jq '.traces | length'   every retried trace`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErr("%s expects at most one RUN (got %s); see '%s --help'", c.CommandPath(), plural(len(args), "argument"), c.CommandPath())
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			ref := results.Last
			if len(args) == 1 {
				ref = args[0]
			}
			f.nSet = c.Flags().Changed("number")
			defer traceWatchInterrupt(c)()
			return runTrace(c, ref, &f)
		},
	}
	fl := c.Flags()
	fl.BoolVar(&f.failed, "failed", false, "only traces whose entry answered non-2xx or failed")
	fl.BoolVar(&f.retried, "retried", false, "only traces with a retry (an attempt ≥ 2)")
	fl.BoolVar(&f.slowest, "slowest", false, "longest traces first")
	fl.IntVarP(&f.n, "number", "n", 1, "how many waterfalls to print (0 = every chosen trace); with -o json, every chosen trace unless given")
	fl.StringVar(&f.id, "id", "", "print the trace with this ID (or a unique start of one)")
	fl.StringVarP(&f.output, "output", "o", "text", "text (waterfalls) or json (every chosen trace's spans, or the first -n)")
	fl.StringVar(&f.resultsDir, "results-dir", "", "directory of run directories (default $"+results.EnvDir+", else "+results.DefaultDir+")")
	fl.IntVar(&f.width, "width", 0, fmt.Sprintf("width of the output in columns, at most %d (default or 0: the terminal's, else 100)", tracing.MaxWidth))
	fl.BoolVar(&f.ascii, "ascii", false, "draw with ASCII only (also when NO_COLOR is set)")
	return c
}

func runTrace(c *cobra.Command, ref string, f *traceFlags) error {
	if f.output != "text" && f.output != "json" {
		return usageErr("--output: unknown format %q; use text or json", f.output)
	}
	if f.n < 0 {
		return usageErr("-n must be 0 (all) or more, not %d", f.n)
	}
	if f.width < 0 {
		return usageErr("--width %d: at least 0 (0: the terminal's width)", f.width)
	}
	if f.width > tracing.MaxWidth {
		return usageErr("--width %d: at most %d", f.width, tracing.MaxWidth)
	}
	if f.id != "" && (f.failed || f.retried || f.slowest) {
		return usageErr("--id picks one trace; leave out --failed, --retried and --slowest")
	}
	store := results.Open(f.resultsDir)
	id, err := store.Resolve(ref)
	if err != nil {
		return resultsStoreErr(err)
	}
	path := filepath.Join(store.Path(id), filepath.FromSlash(tracing.SpansFile))
	spans, err := tracing.ReadFile(path)
	var lineErr *tracing.LineError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		msg := fmt.Sprintf("run %s recorded no traces: it ran before tracing existed, or with --trace-sample 0", id)
		if stopped := traceStopped(store, id); stopped != "" {
			msg = stopped
		}
		return traceNothing(c, f, id, path, msg)
	case errors.As(err, &lineErr):
		return usageErr("run %s: damaged spans file: %v", id, err)
	case err != nil:
		return &exitError{code: exitPlatform, err: fmt.Errorf("run %s: read spans: %w", id, err)}
	}
	traces := tracing.Group(spans)
	if len(traces) == 0 {
		msg := fmt.Sprintf("run %s recorded no spans (%s is empty: no request was sampled)", id, tracing.SpansFile)
		if stopped := traceStopped(store, id); stopped != "" {
			msg = stopped
		}
		return traceNothing(c, f, id, path, msg)
	}

	chosen, what := traces, "traces"
	if f.id != "" {
		t, matches, ok := tracing.Find(traces, f.id)
		if !ok {
			if len(matches) > 0 {
				return usageErr("trace %q is ambiguous in run %s: it matches %s; give more of the ID", f.id, id, listCut(matches, 4))
			}
			var ids []string
			for _, t := range tracing.SortSlowest(traces) {
				ids = append(ids, t.ID)
			}
			return usageErr("no trace %q in run %s (%d recorded; the slowest: %s)", f.id, id, len(traces), listCut(ids, 3))
		}
		chosen, what = []tracing.Trace{t}, "trace"
	} else {
		var words []string
		if f.failed {
			chosen = tracing.FilterFailed(chosen)
			words = append(words, "failed")
		}
		if f.retried {
			chosen = tracing.FilterRetried(chosen)
			words = append(words, "retried")
		}
		if f.slowest {
			chosen = tracing.SortSlowest(chosen)
		}
		if len(words) > 0 {
			what = strings.Join(words, " and ") + " traces"
		}
	}
	shown := chosen
	// -o json returns every chosen trace unless -n is given.
	if f.n > 0 && len(shown) > f.n && (f.output != "json" || f.nSet) {
		shown = shown[:f.n]
	}

	out := &resultsOut{w: c.OutOrStdout()}
	sum := traceSummarize(id, path, spans, traces)
	if f.output == "json" {
		sum.Selected = len(chosen)
		sum.Traces = []traceJSON{}
		for _, t := range shown {
			sum.Traces = append(sum.Traces, traceToJSON(t))
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			return out.fail(err)
		}
		return out.fail(nil)
	}

	color := isTTY(c.OutOrStdout()) && os.Getenv("NO_COLOR") == ""
	opts := tracing.WaterfallOptions{ASCII: f.ascii || os.Getenv("NO_COLOR") != "", Color: color}
	width := traceWidth(c.OutOrStdout(), f.width)
	for _, t := range shown {
		for _, head := range t.HeadlineLines(width) {
			if color {
				head = "\x1b[1m" + head + "\x1b[0m"
			}
			fmt.Fprintln(out, head)
		}
		if err := tracing.Waterfall(out, t, width, opts); err != nil {
			return out.fail(err)
		}
		fmt.Fprintln(out)
	}
	println := func(s string) {
		for _, l := range tracing.WrapText(s, width, "  ") {
			fmt.Fprintln(out, l)
		}
	}
	// The summary breaks between its parts only.
	for i, l := range tracing.WrapText(strings.Join(sum.parts(), "  "), width, "  ") {
		if i > 0 {
			l = "  " + strings.ReplaceAll(l[2:], "  ", " ")
		} else {
			l = strings.ReplaceAll(l, "  ", " ")
		}
		fmt.Fprintln(out, l)
	}
	switch {
	case len(chosen) == 0:
		println(fmt.Sprintf("no %s among them", what))
	case f.id == "":
		order := "in start order"
		if f.slowest {
			order = "slowest first"
		}
		l := fmt.Sprintf("shown: %d of %d %s (%s)", len(shown), len(chosen), what, order)
		if len(shown) < len(chosen) {
			l += "; -n N shows more, --id ID one of them"
		}
		println(l)
	}
	return out.fail(nil)
}

// traceExit ends the process when `meshgym trace` is interrupted; tests
// replace it.
var traceExit = os.Exit

// traceWatchInterrupt makes Ctrl-C and SIGTERM (which cancel c's context,
// a signal.NotifyContext) end `meshgym trace` at once: "meshgym:
// interrupted" on stderr and exit 130 through traceExit. trace holds no
// resources to release, and its work (drawing a large trace, reading a
// spans file that is a FIFO) does not watch the context. The returned
// func stops the watch; call it before the context is cancelled for
// another reason (Main's stop on return).
func traceWatchInterrupt(c *cobra.Command) (stop func()) {
	ctx := c.Context()
	if ctx == nil {
		return func() {}
	}
	done := make(chan struct{})
	errw := c.ErrOrStderr()
	go func() {
		select {
		case <-ctx.Done():
			select {
			case <-done: // trace finished first; the cancel is Main's stop
				return
			default:
			}
			fmt.Fprintln(errw, "meshgym: interrupted")
			traceExit(exitInterrupted)
		case <-done:
		}
	}()
	return func() { close(done) }
}

// traceStopped is the message for a run without spans whose result.json
// says it stopped early (interrupted, or failed before or while
// measuring): "run ID stopped before any request was traced (why)"; ""
// when it completed or its result cannot be read.
func traceStopped(store *results.Store, id string) string {
	res, err := store.Load(id)
	if err != nil || res.Error == "" {
		return ""
	}
	return fmt.Sprintf("run %s stopped before any request was traced (%s)", id, oneLine(res.Error))
}

// traceNothing reports a run without spans: msg on stderr (exit 0); with
// --output json, also the summary with no traces on stdout.
func traceNothing(c *cobra.Command, f *traceFlags, id, path, msg string) error {
	if f.id != "" {
		return usageErr("no trace %q: %s", f.id, msg)
	}
	fmt.Fprintln(c.ErrOrStderr(), msg)
	if f.output != "json" {
		return nil
	}
	out := &resultsOut{w: c.OutOrStdout()}
	sum := traceSummarize(id, path, nil, nil)
	sum.Traces = []traceJSON{}
	sum.Note = msg
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return out.fail(enc.Encode(sum))
}

// traceSummary is the --output json document (and the text summary).
type traceSummary struct {
	Run       string `json:"run"`
	SpansFile string `json:"spans_file"`
	// Recorded counts the traces in the file, Spans their spans; Failed
	// and Retried count the recorded traces with those flags.
	Recorded int `json:"traces_recorded"`
	Spans    int `json:"spans"`
	Failed   int `json:"failed"`
	Retried  int `json:"retried"`
	// Incomplete counts traces with a span whose parent is missing.
	Incomplete int `json:"incomplete"`
	// Phases counts the recorded traces per phase, when the spans say.
	Phases map[string]int `json:"phases,omitempty"`
	// Selected counts the traces the flags chose; Traces are those shown
	// (at most -n).
	Selected int         `json:"selected"`
	Traces   []traceJSON `json:"traces"`
	Note     string      `json:"note,omitempty"`
}

// traceJSON is one trace in the JSON output.
type traceJSON struct {
	ID         string         `json:"trace_id"`
	Start      time.Time      `json:"start"`
	DurationMS float64        `json:"duration_ms"`
	StatusCode int            `json:"status_code,omitempty"`
	Failed     bool           `json:"failed"`
	Retried    bool           `json:"retried"`
	RetriedAt  []string       `json:"retried_at,omitempty"`
	Phase      string         `json:"phase,omitempty"`
	Incomplete bool           `json:"incomplete,omitempty"`
	Spans      []tracing.Span `json:"spans"`
}

func traceToJSON(t tracing.Trace) traceJSON {
	return traceJSON{ID: t.ID, Start: t.Start, DurationMS: float64(t.Duration) / float64(time.Millisecond),
		StatusCode: t.StatusCode, Failed: t.Failed, Retried: t.Retried, RetriedAt: t.RetriedAt, Phase: t.Phase,
		Incomplete: t.Root != nil && t.Root.Synthetic, Spans: t.Spans}
}

func traceSummarize(id, path string, spans []tracing.Span, traces []tracing.Trace) *traceSummary {
	s := &traceSummary{Run: id, SpansFile: path, Recorded: len(traces), Spans: len(spans)}
	for _, t := range traces {
		if t.Failed {
			s.Failed++
		}
		if t.Retried {
			s.Retried++
		}
		if t.Root != nil && t.Root.Synthetic {
			s.Incomplete++
		}
		if t.Phase != "" {
			if s.Phases == nil {
				s.Phases = map[string]int{}
			}
			s.Phases[t.Phase]++
		}
	}
	return s
}

// parts is the text summary ("run ID: 412 traces recorded (4120 spans),
// 18 failed, 37 retried") in the pieces a narrow terminal may break it
// between: "run ID: 412 traces recorded (4120 spans),", "18 failed,",
// "37 retried", "(before 206, after 206)".
func (s *traceSummary) parts() []string {
	out := []string{fmt.Sprintf("run %s: %s recorded (%s),", s.Run, plural(s.Recorded, "trace"), plural(s.Spans, "span")),
		fmt.Sprintf("%d failed,", s.Failed), fmt.Sprintf("%d retried", s.Retried)}
	if s.Incomplete > 0 {
		out[2] += ","
		out = append(out, fmt.Sprintf("%d incomplete", s.Incomplete))
	}
	if len(s.Phases) > 0 {
		var parts []string
		for _, p := range []string{"before", "after"} {
			if n, ok := s.Phases[p]; ok {
				parts = append(parts, fmt.Sprintf("%s %d", p, n))
			}
		}
		var other []string
		for p := range s.Phases {
			if p != "before" && p != "after" {
				other = append(other, p)
			}
		}
		sort.Strings(other)
		for _, p := range other {
			parts = append(parts, fmt.Sprintf("%s %d", oneLine(p), s.Phases[p]))
		}
		out = append(out, "("+strings.Join(parts, ", ")+")")
	}
	return out
}

// listCut is the first n of list joined with ", ", and "and K more".
func listCut(list []string, n int) string {
	if len(list) <= n {
		return strings.Join(list, ", ")
	}
	return strings.Join(list[:n], ", ") + fmt.Sprintf(" and %d more", len(list)-n)
}

// traceWidth is the output's width: the flag, else the terminal's (when
// w is one), else tracing.DefaultWidth.
func traceWidth(w io.Writer, flag int) int {
	if flag > 0 {
		return flag
	}
	if ew, ok := w.(*errWriter); ok {
		w = ew.w
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			return min(cols, tracing.MaxWidth)
		}
	}
	return tracing.DefaultWidth
}
