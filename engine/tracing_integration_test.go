package engine_test

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"

	"meshgym/engine"
	"meshgym/tracing"
)

// checkRetriedTrace asserts issue 8's "done when" on a real run of the
// retries scenario at the default sampling: the span file holds an
// after-phase trace whose payments sidecar sent attempt 1 to currency_v2
// (500) and attempt 2 to currency_v1 (200), under the load generator's
// root span.
func checkRetriedTrace(t *testing.T, res *engine.Result) {
	t.Helper()
	tr := res.Traces
	if tr == nil || tr.Spans == 0 || tr.Sample != engine.DefaultTraceSample {
		t.Fatalf("traces summary %+v; want spans at the default sample", tr)
	}
	f, err := os.Open(tr.File)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	byTrace := map[string][]tracing.Span{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		var s tracing.Span
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("span line: %v", err)
		}
		byTrace[s.TraceID] = append(byTrace[s.TraceID], s)
		n++
	}
	if int64(n) != tr.Spans {
		t.Errorf("%d span lines, summary says %d", n, tr.Spans)
	}
	for _, spans := range byTrace {
		var root, a1, a2 *tracing.Span
		for i := range spans {
			s := &spans[i]
			switch {
			case s.Service == engine.LoadgenService && s.ParentID == "" && s.Attributes[tracing.AttrPhase] == "after":
				root = s
			case s.Service == "payments_sidecar" && s.Kind == "client" && s.Attributes[tracing.AttrAttempt] == float64(1):
				a1 = s
			case s.Service == "payments_sidecar" && s.Kind == "client" && s.Attributes[tracing.AttrAttempt] == float64(2):
				a2 = s
			}
		}
		if root == nil || a1 == nil || a2 == nil {
			continue
		}
		if a1.Attributes[tracing.AttrEndpoint] == "currency_v2" && a1.Attributes[tracing.AttrStatusCode] == float64(500) &&
			a2.Attributes[tracing.AttrEndpoint] == "currency_v1" && a2.Attributes[tracing.AttrStatusCode] == float64(200) {
			if _, ok := a2.Attributes[tracing.AttrBackoffMS]; !ok {
				t.Errorf("attempt 2 has no %s", tracing.AttrBackoffMS)
			}
			return
		}
	}
	kinds := map[string]int{}
	for _, spans := range byTrace {
		for _, s := range spans {
			kinds[s.Service+"/"+s.Kind+"/"+s.Name]++
		}
	}
	t.Logf("spans by service/kind/name: %v", kinds)
	t.Errorf("no after-phase trace with attempt 1 → currency_v2 500 and attempt 2 → currency_v1 200 among %d traces", len(byTrace))
}
