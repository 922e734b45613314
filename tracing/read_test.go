package tracing

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func wfSpanLines(t *testing.T, spans []Span) string {
	t.Helper()
	var b strings.Builder
	for _, s := range spans {
		j, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestReadFile(t *testing.T) {
	spans := wfRetriedSpans()[:3]
	good := wfSpanLines(t, spans)
	for _, tc := range []struct {
		name    string
		body    string
		want    int    // spans read
		wantErr string // substring of the error; "" = none
	}{
		{"complete", good, 3, ""},
		{"blank lines skipped", "\n" + good + "\n  \n", 3, ""},
		{"no final newline, last line whole", strings.TrimSuffix(good, "\n"), 3, ""},
		{"truncated last line dropped", good + good[:40], 3, ""},
		{"empty", "", 0, ""},
		{"bad line in the middle", good + "{not json\n" + good, 3, "spans.jsonl:4: not a span: invalid character"},
		{"truncated line followed by more", good + good[:40] + "\n" + good, 3, "spans.jsonl:4: not a span"},
		{"object without ids", good + `{"name":"x"}` + "\n", 3, "spans.jsonl:4: not a span: no trace_id or span_id"},
		{"huge line", good + strings.Repeat("x", maxLine+10) + "\n", 3, "spans.jsonl:4: line longer than 4 MB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "spans.jsonl")
			if err := os.WriteFile(path, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ReadFile(path)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("ReadFile: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("ReadFile error = %v, want one containing %q", err, tc.wantErr)
			}
			if len(got) != tc.want {
				t.Fatalf("read %d spans, want %d", len(got), tc.want)
			}
			if tc.wantErr == "" && tc.want == 3 {
				for i := range got {
					if got[i].SpanID != spans[i].SpanID || !got[i].Start.Equal(spans[i].Start) || StatusCode(got[i]) != StatusCode(spans[i]) {
						t.Errorf("span %d = %+v, want %+v", i, got[i], spans[i])
					}
				}
			}
		})
	}
	_, err := ReadFile(filepath.Join(t.TempDir(), "none.jsonl"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
}

// TestGroupRetried: the retried request's tree, entry, flags and order.
func TestGroupRetried(t *testing.T) {
	tr := wfRetriedTrace(t)
	if tr.ID != wfRetriedID || tr.Root.Synthetic || tr.Root.Service != "loadgen" {
		t.Fatalf("root = %+v", tr.Root.Span)
	}
	if tr.Duration != 40*time.Millisecond || !tr.Start.Equal(wfT0) {
		t.Errorf("Start, Duration = %v, %v", tr.Start, tr.Duration)
	}
	if tr.Failed || tr.StatusCode != 200 || !tr.Retried || !reflect.DeepEqual(tr.RetriedAt, []string{"currency"}) || tr.Phase != "after" {
		t.Errorf("Failed %v StatusCode %d Retried %v RetriedAt %v Phase %q", tr.Failed, tr.StatusCode, tr.Retried, tr.RetriedAt, tr.Phase)
	}
	// Walk down to the payments sidecar's outbound span: its two attempts
	// in start order, each with its server spans under it.
	var outbound *Node
	var find func(n *Node)
	find = func(n *Node) {
		if n.Name == "outbound currency" {
			outbound = n
		}
		for _, c := range n.Children {
			find(c)
		}
	}
	find(tr.Root)
	if outbound == nil || len(outbound.Children) != 2 {
		t.Fatalf("outbound currency = %+v", outbound)
	}
	a1, a2 := outbound.Children[0], outbound.Children[1]
	if a1.Name != "attempt 1 currency" || a2.Name != "attempt 2 currency" {
		t.Errorf("attempts in order: %q, %q", a1.Name, a2.Name)
	}
	if len(a1.Children) != 1 || a1.Children[0].Service != "currency_v2_sidecar" || a1.Children[0].Children[0].Service != "currency_v2" {
		t.Errorf("attempt 1 subtree wrong")
	}
	if len(a2.Children) != 1 || a2.Children[0].Service != "currency_v1_sidecar" {
		t.Errorf("attempt 2 subtree wrong")
	}
	for i := 1; i < len(tr.Spans); i++ {
		if tr.Spans[i].Start.Before(tr.Spans[i-1].Start) {
			t.Fatalf("Spans not in start order at %d", i)
		}
	}
	n := 0
	var count func(*Node)
	count = func(x *Node) {
		n++
		for _, c := range x.Children {
			count(c)
		}
	}
	count(tr.Root)
	if n != len(wfRetriedSpans()) {
		t.Errorf("tree holds %d spans, want %d", n, len(wfRetriedSpans()))
	}
}

func TestGroupIncomplete(t *testing.T) {
	s := func(trace, id, parent string, from, to float64) Span {
		return Span{TraceID: trace, SpanID: id, ParentID: parent, Service: "svc", Kind: "server", Name: "GET /", Start: wfAt(from), End: wfAt(to)}
	}
	for _, tc := range []struct {
		name      string
		spans     []Span
		synthetic bool
		top       []string // IDs under the (synthetic) root, or the root's children
		orphans   []string
		note      string
	}{
		{"complete", []Span{s("t", "a", "", 0, 5), s("t", "b", "a", 1, 4)}, false, []string{"b"}, nil, ""},
		{"orphan beside the root", []Span{s("t", "a", "", 0, 5), s("t", "c", "x", 2, 3)}, true, []string{"a", "c"}, []string{"c"},
			"incomplete trace: parent of 1 span not recorded (not sampled there, or dropped)"},
		{"no root", []Span{s("t", "c", "x", 2, 3), s("t", "d", "c", 2.5, 2.8), s("t", "e", "y", 1, 2)}, true, []string{"e", "c"}, []string{"e", "c"},
			"incomplete trace: root span not recorded; parent of 2 spans not recorded (not sampled there, or dropped)"},
		{"two roots", []Span{s("t", "a", "", 0, 5), s("t", "b", "", 1, 2)}, true, []string{"a", "b"}, nil, "incomplete trace: 2 root spans"},
		{"own parent", []Span{s("t", "a", "", 0, 5), s("t", "b", "b", 1, 2)}, true, []string{"a", "b"}, []string{"b"},
			"incomplete trace: parent of 1 span not recorded (not sampled there, or dropped)"},
		{"cycle", []Span{s("t", "a", "", 0, 5), s("t", "b", "c", 1, 2), s("t", "c", "b", 1.5, 2)}, true, []string{"a", "b"}, []string{"b"},
			"incomplete trace: parent of 1 span not recorded (not sampled there, or dropped)"},
		{"duplicate span kept once", []Span{s("t", "a", "", 0, 5), s("t", "b", "a", 1, 4), s("t", "b", "a", 1, 4)}, false, []string{"b"}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := Group(tc.spans)
			if len(ts) != 1 {
				t.Fatalf("%d traces", len(ts))
			}
			root := ts[0].Root
			if root.Synthetic != tc.synthetic || root.Note != tc.note {
				t.Fatalf("root synthetic %v note %q; want %v %q", root.Synthetic, root.Note, tc.synthetic, tc.note)
			}
			var top, orphans []string
			for _, c := range root.Children {
				top = append(top, c.SpanID)
			}
			var walk func(*Node)
			walk = func(n *Node) {
				if n.Orphan {
					orphans = append(orphans, n.SpanID)
				}
				for _, c := range n.Children {
					walk(c)
				}
			}
			walk(root)
			if !reflect.DeepEqual(top, tc.top) || !reflect.DeepEqual(orphans, tc.orphans) {
				t.Errorf("top %v orphans %v; want %v %v", top, orphans, tc.top, tc.orphans)
			}
			seen := map[string]int{}
			var all func(*Node)
			all = func(n *Node) {
				if !n.Synthetic {
					seen[n.SpanID]++
				}
				for _, c := range n.Children {
					all(c)
				}
			}
			all(root)
			for id, k := range seen {
				if k != 1 {
					t.Errorf("span %s appears %d times in the tree", id, k)
				}
			}
			if len(seen) != len(ts[0].Spans) {
				t.Errorf("tree has %d spans, trace %d", len(seen), len(ts[0].Spans))
			}
		})
	}
}

func TestClassify(t *testing.T) {
	at := func(id, parent, service, kind string, attrs map[string]any, status string) Span {
		return Span{TraceID: "t", SpanID: id, ParentID: parent, Service: service, Kind: kind, Name: "x",
			Start: wfAt(0), End: wfAt(1), Attributes: attrs, Status: status}
	}
	for _, tc := range []struct {
		name      string
		spans     []Span
		failed    bool
		code      int
		retried   bool
		retriedAt []string
	}{
		{"entry 503", []Span{at("1", "", "loadgen", "client", wfCode(503), ""), at("2", "1", "api_sidecar", "server", wfCode(503), "error")}, true, 503, false, nil},
		{"entry 200, inner 500 retried ok", []Span{
			at("1", "", "loadgen", "client", wfCode(200), ""),
			at("2", "1", "api_sidecar", "server", wfCode(200), ""),
			at("3", "2", "api_sidecar", "client", wfCode(500, AttrAttempt, 1.0, AttrEndpoint, "payments_v1"), "error"),
			at("4", "2", "api_sidecar", "client", wfCode(200, AttrAttempt, "2", AttrEndpoint, "payments_v2"), ""),
		}, false, 200, true, []string{"payments"}},
		{"entry status error without code", []Span{at("1", "", "loadgen", "client", nil, ""), at("2", "1", "api", "server", nil, "error")}, true, 0, false, nil},
		{"loadgen error, no server span", []Span{at("1", "", "loadgen", "client", map[string]any{AttrErrorType: "connect"}, "error")}, true, 0, false, nil},
		{"only the root's code", []Span{at("1", "", "loadgen", "client", wfCode(204), "")}, false, 204, false, nil},
		{"attempt 2 with cluster attribute, int64 as string (OTLP/JSON)", []Span{
			at("1", "", "payments_sidecar", "server", wfCode(200), ""),
			at("2", "1", "payments_sidecar", "client", wfCode(200, AttrAttempt, "3", AttrCluster, "currency"), ""),
		}, false, 200, true, []string{"currency"}},
		{"attempt 1 only", []Span{at("1", "", "api", "server", wfCode(200, AttrAttempt, 1.0), "")}, false, 200, false, nil},
		{"attempt not a number", []Span{at("1", "", "api", "server", wfCode(200, AttrAttempt, "two"), "")}, false, 200, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := Group(tc.spans)[0]
			if tr.Failed != tc.failed || tr.StatusCode != tc.code || tr.Retried != tc.retried || !reflect.DeepEqual(tr.RetriedAt, tc.retriedAt) {
				t.Errorf("Failed %v StatusCode %d Retried %v RetriedAt %v; want %v %d %v %v",
					tr.Failed, tr.StatusCode, tr.Retried, tr.RetriedAt, tc.failed, tc.code, tc.retried, tc.retriedAt)
			}
		})
	}
}

func TestSelectors(t *testing.T) {
	mk := func(id string, dur float64, c float64, attempt float64, start float64) []Span {
		return []Span{
			{TraceID: id, SpanID: "1", Service: "loadgen", Kind: "client", Name: "GET /", Start: wfAt(start), End: wfAt(start + dur), Attributes: wfCode(c)},
			{TraceID: id, SpanID: "2", ParentID: "1", Service: "payments_sidecar", Kind: "client", Name: "attempt currency",
				Start: wfAt(start), End: wfAt(start + dur/2), Attributes: wfCode(c, AttrAttempt, attempt, AttrEndpoint, "currency_v1")},
		}
	}
	var spans []Span
	spans = append(spans, mk("c3", 5, 200, 2, 3)...)
	spans = append(spans, mk("a1", 9, 500, 1, 1)...)
	spans = append(spans, mk("b2", 30, 503, 3, 2)...)
	spans = append(spans, mk("d4", 1, 200, 1, 4)...)
	ts := Group(spans)
	ids := func(ts []Trace) string {
		var out []string
		for _, t := range ts {
			out = append(out, t.ID)
		}
		return strings.Join(out, ",")
	}
	if got := ids(ts); got != "a1,b2,c3,d4" {
		t.Errorf("Group order %s, want by start", got)
	}
	if got := ids(FilterFailed(ts)); got != "a1,b2" {
		t.Errorf("FilterFailed = %s", got)
	}
	if got := ids(FilterRetried(ts)); got != "b2,c3" {
		t.Errorf("FilterRetried = %s", got)
	}
	if got := ids(SortSlowest(ts)); got != "b2,a1,c3,d4" {
		t.Errorf("SortSlowest = %s", got)
	}
	if got := ids(ts); got != "a1,b2,c3,d4" {
		t.Errorf("SortSlowest changed its input: %s", got)
	}
	if got := ids(SortSlowest(FilterRetried(ts))); got != "b2,c3" {
		t.Errorf("slowest retried = %s", got)
	}
	for _, tc := range []struct {
		ref     string
		want    string
		matches []string
	}{{"b2", "b2", nil}, {"B", "b2", nil}, {"z", "", nil}, {"", "", nil}} {
		tr, m, ok := Find(ts, tc.ref)
		if tr.ID != tc.want || ok != (tc.want != "") || !reflect.DeepEqual(m, tc.matches) {
			t.Errorf("Find(%q) = %q %v %v", tc.ref, tr.ID, m, ok)
		}
	}
	amb := Group(append(mk("abc1", 1, 200, 1, 0), mk("abc2", 1, 200, 1, 1)...))
	if _, m, ok := Find(amb, "abc"); ok || !reflect.DeepEqual(m, []string{"abc1", "abc2"}) {
		t.Errorf("ambiguous Find = %v %v", m, ok)
	}
}

func TestCluster(t *testing.T) {
	for _, tc := range []struct {
		s    Span
		want string
	}{
		{Span{Attributes: map[string]any{AttrCluster: "payments", AttrEndpoint: "currency_v2"}}, "payments"},
		{Span{Name: "attempt 2 currency"}, "currency"},
		{Span{Name: "attempt", Attributes: map[string]any{AttrEndpoint: "currency_v2"}}, "currency"},
		{Span{Attributes: map[string]any{AttrEndpoint: "currency_vx"}}, "currency_vx"},
		{Span{Name: "GET /"}, ""},
	} {
		if got := Cluster(tc.s); got != tc.want {
			t.Errorf("Cluster(%+v) = %q, want %q", tc.s, got, tc.want)
		}
	}
}
