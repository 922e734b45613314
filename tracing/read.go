package tracing

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Attribute names the reader and the waterfall look at. The http.* and
// server.* names are OpenTelemetry's HTTP semantic conventions
// (https://opentelemetry.io/docs/specs/semconv/http/http-spans/); the
// meshgym.* ones are meshgym's own.
const (
	AttrStatusCode = "http.response.status_code" // int, the HTTP status answered
	AttrErrorType  = "error.type"                // string, e.g. "timeout" when no status
	AttrAttempt    = "meshgym.attempt"           // int, 1-based attempt number of an upstream try
	AttrEndpoint   = "meshgym.endpoint"          // string, the endpoint tried, e.g. "currency_v2"
	AttrBackoffMS  = "meshgym.backoff_ms"        // number, back-off waited before this attempt, ms
	AttrCluster    = "meshgym.cluster"           // string, the upstream service of an attempt, e.g. "currency"
	AttrPhase      = "meshgym.phase"             // string, "before" or "after" when the recorder sets it
	AttrServerAddr = "server.address"            // string, the upstream host an attempt went to
	AttrDetail     = "meshgym.detail"            // string, an event's explanation (e.g. why an ejection)
)

// maxLine bounds one line of a spans file (4 MB): a span is well under
// 10 KB, so a longer line is damage, reported with its line number.
const maxLine = 4 << 20

// ReadFile reads a spans file (SpansFile in a run directory: one JSON
// Span per line) in file order. Blank lines are skipped. A last line
// without its newline that does not parse is a write the recorder did not
// finish (the run was cut off) and is dropped silently; any other line
// that does not parse is a *LineError naming "path:line". A missing file is
// an error that satisfies errors.Is(err, fs.ErrNotExist).
func ReadFile(path string) ([]Span, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f, path)
}

// LineError is a line of a spans file that is not a span (damaged or
// not a spans file); Error() is "file:line: reason".
type LineError struct {
	File   string
	Line   int // 1-based
	Reason string
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason) }

// Read is ReadFile on a reader; name is used in errors ("name:line: …").
// A line that is not a span is a *LineError; a read error is returned
// wrapped with the line it stopped at.
func Read(r io.Reader, name string) ([]Span, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var spans []Span
	for lineNo := 1; ; lineNo++ {
		line, complete, err := readLine(br)
		if errors.Is(err, errLineTooLong) {
			return spans, &LineError{File: name, Line: lineNo, Reason: err.Error()}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return spans, fmt.Errorf("%s:%d: %w", name, lineNo, err)
		}
		if len(line) == 0 && errors.Is(err, io.EOF) {
			return spans, nil
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			var s Span
			if jerr := json.Unmarshal(t, &s); jerr != nil {
				if !complete {
					return spans, nil // a truncated last line
				}
				return spans, &LineError{File: name, Line: lineNo, Reason: "not a span: " + oneLine(jerr.Error())}
			}
			if s.TraceID == "" || s.SpanID == "" {
				if !complete {
					return spans, nil
				}
				return spans, &LineError{File: name, Line: lineNo, Reason: "not a span: no trace_id or span_id"}
			}
			spans = append(spans, s)
		}
		if errors.Is(err, io.EOF) {
			return spans, nil
		}
	}
}

var errLineTooLong = fmt.Errorf("line longer than %d MB: not a spans file", maxLine>>20)

// readLine returns the next line without its newline; complete is false
// for a last line that had no newline. err is io.EOF at the end of input
// (with the unterminated last line, if any), or an error for a line
// longer than maxLine.
func readLine(br *bufio.Reader) (line []byte, complete bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxLine {
			return nil, false, errLineTooLong
		}
		switch {
		case err == nil:
			return line[:len(line)-1], true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return line, false, err
		}
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Node is one span in a trace's tree, with its children ordered by start
// time (then span ID).
type Node struct {
	Span
	Children []*Node
	// Synthetic is true for a root Group made up because the trace has
	// no single recorded root (see Note); its Span has only TraceID,
	// Start and End (the extent of the trace).
	Synthetic bool
	// Note says, on a synthetic root, why it exists; "" otherwise.
	Note string
	// Orphan is true for a span whose parent span was not recorded (the
	// parent's component did not sample it, or dropped it before export),
	// hung under the synthetic root.
	Orphan bool
}

// Trace is one trace's spans as a tree.
type Trace struct {
	// ID is the trace ID (32 lower-case hex digits).
	ID string
	// Root is the tree: the recorded root span (no parent), or a
	// synthetic root holding every span whose parent is missing, when
	// there is not exactly one root or some span is an orphan.
	Root *Node
	// Spans are the trace's spans ordered by start time (duplicates of a
	// span ID, an exporter's retried batch, kept once).
	Spans []Span
	// Start is the earliest span start; Duration runs from Start to the
	// latest span end (for a complete trace, the root span's duration:
	// the load generator's view of the request).
	Start    time.Time
	Duration time.Duration
	// StatusCode is the HTTP status the entry answered (see Failed); 0
	// when no span carries one.
	StatusCode int
	// Failed is true when the entry — the first server span from the
	// root, the first hop that answered the load generator — answered a
	// non-2xx status or has status "error", or when the root span itself
	// (the load generator's request) has status "error" or a non-2xx code.
	Failed bool
	// Retried is true when any span has meshgym.attempt ≥ 2.
	Retried bool
	// RetriedAt lists the upstream services (clusters) where an attempt
	// ≥ 2 was made, e.g. ["currency"], in order of first retry.
	RetriedAt []string
	// Phase is the meshgym.phase attribute of the root span ("before",
	// "after"), "" when the recorder did not set one.
	Phase string
}

// Group splits spans into traces and builds each trace's tree. Traces
// are ordered by start time (then ID). A span whose parent is not among
// the trace's spans (not sampled by the parent's component, dropped, or
// its parent ID equal to its own), or that is caught in a parent cycle,
// is hung under a synthetic root with a note, together with the recorded
// root(s).
func Group(spans []Span) []Trace {
	byTrace := map[string][]Span{}
	var order []string
	seen := map[[2]string]bool{}
	for _, s := range spans {
		k := [2]string{s.TraceID, s.SpanID}
		if seen[k] {
			continue
		}
		seen[k] = true
		if _, ok := byTrace[s.TraceID]; !ok {
			order = append(order, s.TraceID)
		}
		byTrace[s.TraceID] = append(byTrace[s.TraceID], s)
	}
	traces := make([]Trace, 0, len(order))
	for _, id := range order {
		traces = append(traces, build(id, byTrace[id]))
	}
	sort.SliceStable(traces, func(i, j int) bool {
		if !traces[i].Start.Equal(traces[j].Start) {
			return traces[i].Start.Before(traces[j].Start)
		}
		return traces[i].ID < traces[j].ID
	})
	return traces
}

func spanLess(a, b Span) bool {
	if !a.Start.Equal(b.Start) {
		return a.Start.Before(b.Start)
	}
	return a.SpanID < b.SpanID
}

func build(id string, spans []Span) Trace {
	sort.SliceStable(spans, func(i, j int) bool { return spanLess(spans[i], spans[j]) })
	t := Trace{ID: id, Spans: spans}
	nodes := make(map[string]*Node, len(spans))
	for i := range spans {
		nodes[spans[i].SpanID] = &Node{Span: spans[i]}
	}
	var roots, orphans []*Node
	for i := range spans {
		n := nodes[spans[i].SpanID]
		p := n.ParentID
		switch parent, ok := nodes[p]; {
		case p == "":
			roots = append(roots, n)
		case !ok || p == n.SpanID:
			n.Orphan = true
			orphans = append(orphans, n)
		default:
			parent.Children = append(parent.Children, n) // spans are in start order
		}
	}
	// Spans in a parent cycle are reachable from no root: break the
	// cycle at its earliest span and hang it as an orphan.
	reached := map[*Node]bool{}
	var walk func(n *Node)
	walk = func(n *Node) {
		if reached[n] {
			return
		}
		reached[n] = true
		for _, c := range n.Children {
			walk(c)
		}
	}
	for _, n := range roots {
		walk(n)
	}
	for _, n := range orphans {
		walk(n)
	}
	for i := range spans {
		n := nodes[spans[i].SpanID]
		if reached[n] {
			continue
		}
		if parent := nodes[n.ParentID]; parent != nil {
			parent.Children = removeNode(parent.Children, n)
		}
		n.Orphan = true
		orphans = append(orphans, n)
		walk(n)
	}

	t.Start, t.Duration = extent(spans)
	if len(roots) == 1 && len(orphans) == 0 {
		t.Root = roots[0]
	} else {
		top := append(roots, orphans...)
		sort.SliceStable(top, func(i, j int) bool { return spanLess(top[i].Span, top[j].Span) })
		note := "incomplete trace: "
		switch {
		case len(roots) > 1:
			note += fmt.Sprintf("%d root spans", len(roots))
		case len(roots) == 0:
			note += "root span not recorded"
		}
		if len(orphans) > 0 {
			if len(roots) != 1 {
				note += "; "
			}
			note += fmt.Sprintf("parent of %s not recorded (not sampled there, or dropped)", plural(len(orphans), "span"))
		}
		t.Root = &Node{
			Span:      Span{TraceID: id, Name: "(incomplete trace)", Start: t.Start, End: t.Start.Add(t.Duration)},
			Children:  top,
			Synthetic: true,
			Note:      note,
		}
	}
	classify(&t)
	return t
}

func removeNode(list []*Node, n *Node) []*Node {
	out := list[:0]
	for _, c := range list {
		if c != n {
			out = append(out, c)
		}
	}
	return out
}

func extent(spans []Span) (time.Time, time.Duration) {
	if len(spans) == 0 {
		return time.Time{}, 0
	}
	start, end := spans[0].Start, spans[0].End
	for _, s := range spans {
		if s.Start.Before(start) {
			start = s.Start
		}
		if s.End.After(end) {
			end = s.End
		}
	}
	if end.Before(start) {
		end = start
	}
	return start, end.Sub(start)
}

// classify sets StatusCode, Failed, Retried, RetriedAt and Phase.
func classify(t *Trace) {
	root := t.Root
	if !root.Synthetic {
		t.Phase, _ = attrString(root.Attributes, AttrPhase)
	} else {
		for _, c := range root.Children {
			if p, ok := attrString(c.Attributes, AttrPhase); ok {
				t.Phase = p
				break
			}
		}
	}
	// The entry: breadth-first, the first server span.
	var entry *Node
	queue := []*Node{root}
	for len(queue) > 0 && entry == nil {
		n := queue[0]
		queue = queue[1:]
		if !n.Synthetic && n.Kind == "server" {
			entry = n
		}
		queue = append(queue, n.Children...)
	}
	if entry != nil {
		t.StatusCode = StatusCode(entry.Span)
		t.Failed = spanFailed(entry.Span)
	}
	if !root.Synthetic {
		if t.StatusCode == 0 {
			t.StatusCode = StatusCode(root.Span)
		}
		t.Failed = t.Failed || spanFailed(root.Span)
	}
	for _, s := range t.Spans {
		if a, ok := attrInt(s.Attributes, AttrAttempt); ok && a >= 2 {
			t.Retried = true
			if c := Cluster(s); c != "" && !contains(t.RetriedAt, c) {
				t.RetriedAt = append(t.RetriedAt, c)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// spanFailed: a non-2xx status code, or status "error".
func spanFailed(s Span) bool {
	if s.Status == "error" {
		return true
	}
	c := StatusCode(s)
	return c != 0 && (c < 200 || c > 299)
}

// StatusCode is a span's http.response.status_code, 0 when it has none.
func StatusCode(s Span) int {
	c, _ := attrInt(s.Attributes, AttrStatusCode)
	return int(c)
}

// Cluster is the upstream service an attempt span went to: its
// meshgym.cluster attribute, else the last word of a span name such as
// "attempt 2 currency", else its endpoint with a trailing version
// ("_v2") removed; "" when none of those is there.
func Cluster(s Span) string {
	if c, ok := attrString(s.Attributes, AttrCluster); ok && c != "" {
		return c
	}
	if f := strings.Fields(s.Name); len(f) == 3 && f[0] == "attempt" {
		return f[2]
	}
	if e, ok := attrString(s.Attributes, AttrEndpoint); ok && e != "" {
		if i := strings.LastIndex(e, "_v"); i > 0 {
			if _, err := strconv.Atoi(e[i+2:]); err == nil {
				return e[:i]
			}
		}
		return e
	}
	return ""
}

// attrInt reads an integer attribute as JSON decoding leaves it (a
// float64), or as OTLP/JSON writes an int64 (a decimal string).
func attrInt(attrs map[string]any, key string) (int64, bool) {
	switch v := attrs[key].(type) {
	case float64:
		if v != math.Trunc(v) || math.IsInf(v, 0) {
			return 0, false
		}
		return int64(v), true
	case int:
		return int64(v), true
	case int64:
		return v, true
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// attrFloat reads a number attribute (see attrInt).
func attrFloat(attrs map[string]any, key string) (float64, bool) {
	switch v := attrs[key].(type) {
	case float64:
		return v, !math.IsNaN(v) && !math.IsInf(v, 0)
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

func attrString(attrs map[string]any, key string) (string, bool) {
	switch v := attrs[key].(type) {
	case string:
		return v, true
	case float64, int, int64, json.Number, bool:
		return fmt.Sprint(v), true
	}
	return "", false
}

// FilterFailed returns the traces whose Failed is true, in order.
func FilterFailed(traces []Trace) []Trace {
	return filter(traces, func(t Trace) bool { return t.Failed })
}

// FilterRetried returns the traces whose Retried is true, in order.
func FilterRetried(traces []Trace) []Trace {
	return filter(traces, func(t Trace) bool { return t.Retried })
}

func filter(traces []Trace, keep func(Trace) bool) []Trace {
	var out []Trace
	for _, t := range traces {
		if keep(t) {
			out = append(out, t)
		}
	}
	return out
}

// SortSlowest returns a copy of traces ordered by Duration, longest
// first (ties keep their order).
func SortSlowest(traces []Trace) []Trace {
	out := append([]Trace(nil), traces...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Duration > out[j].Duration })
	return out
}

// Find returns the trace whose ID is id or starts with it (case
// insensitive). ok is false when none matches; matches lists the IDs
// when the prefix names more than one (then the trace is zero).
func Find(traces []Trace, id string) (t Trace, matches []string, ok bool) {
	id = strings.ToLower(strings.TrimSpace(id))
	if id == "" {
		return Trace{}, nil, false
	}
	var found []Trace
	for _, x := range traces {
		if x.ID == id {
			return x, nil, true
		}
		if strings.HasPrefix(x.ID, id) {
			found = append(found, x)
		}
	}
	if len(found) == 1 {
		return found[0], nil, true
	}
	for _, x := range found {
		matches = append(matches, x.ID)
	}
	return Trace{}, matches, false
}
