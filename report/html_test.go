package report

import (
	"bytes"
	"html/template"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"meshgym/engine"
	"meshgym/metrics"
)

// htmlFixture is the retry fixture of the text report with what the HTML
// page adds: an ID, mesh and profile, start times, a timeline with
// ejections in the after phase (none in the before phase), a component
// and a description with markup in them, and an early-stop error.
func htmlFixture(t *testing.T) *engine.Result {
	res := fixture(t)
	t0 := time.Date(2026, 11, 29, 14, 5, 38, 0, time.UTC)
	res.ID = "20261129-140538-retries"
	res.Mesh, res.Profile = "builtin", "istio@1.27"
	res.Versions = map[string]string{"meshgym": "v0.1.0", "plugin": "builtin 1"}
	res.Before.Started, res.Before.Ended = t0, t0.Add(200*time.Second)
	res.After.Started, res.After.Ended = t0.Add(201*time.Second), t0.Add(401*time.Second)
	for i := 0; i < 6; i++ {
		tp := engine.TimelinePoint{Offset: float64(i), RPS: 100, ErrorsPerSecond: float64(i % 3)}
		if i == 3 {
			tp.Ejections = 1
		}
		res.After.Timeline = append(res.After.Timeline, tp)
	}
	res.Scenario.Description = `Retries <script>alert("x")</script> & friends`
	res.After.Snapshot.Requests = append(res.After.Snapshot.Requests,
		metrics.RequestCount{Name: `evil<img src=x onerror=alert(1)>`, StatusCode: 503, Attempt: 1, Count: 7})
	res.Passed = true
	return res
}

func TestHTMLGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := HTML(&buf, htmlFixture(t)); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "retries.html.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./report -run HTML -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("HTML differs from %s (run go test ./report -run HTML -update and review the diff)", golden)
	}
}

func TestHTMLContent(t *testing.T) {
	res := htmlFixture(t)
	var buf bytes.Buffer
	if err := HTML(&buf, res); err != nil {
		t.Fatal(err)
	}
	page := buf.String()

	// One row per verdict, with its condition, status and target.
	if n := strings.Count(page, `<tr class="verdict">`); n != len(res.Verdicts) || n == 0 {
		t.Errorf("%d verdict rows, want %d", n, len(res.Verdicts))
	}
	for _, v := range res.Verdicts {
		if !strings.Contains(page, "<code>"+escape(v.Condition.Text)+"</code>") {
			t.Errorf("no row for %q", v.Condition.Text)
		}
		if !strings.Contains(page, escape(target(v.Condition))) {
			t.Errorf("no target %q", target(v.Condition))
		}
	}
	// One <svg> per plot: traffic, latency, and the after phase's timeline;
	// the before phase says it has none.
	if n := strings.Count(page, "<svg "); n != 3 {
		t.Errorf("%d <svg> elements, want 3", n)
	}
	if strings.Count(page, "no timeline recorded") != 1 {
		t.Error("the before phase should say: no timeline recorded")
	}
	if !strings.Contains(page, `stroke-dasharray`) || !strings.Contains(page, "3s: 1 ejection(s)") {
		t.Error("no ejection mark in the timeline")
	}
	for _, want := range []string{"builtin · istio@1.27", ">PASS<", "seed <b>42</b>", "20261129-140538-retries",
		"p99.9", "client (load generator)", "currency_v2", "2026-11-29 14:05:38 UTC"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Everything from the run is escaped.
	for _, bad := range []string{"<script>", "<img"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains unescaped %q", bad)
		}
	}
	if !strings.Contains(page, "&lt;script&gt;") || !strings.Contains(page, "evil&lt;img") {
		t.Error("escaped markup missing")
	}
	if strings.Contains(page, "ZgotmplZ") {
		t.Error("html/template rejected a value (ZgotmplZ)")
	}
	// Self-contained: nothing loaded from anywhere.
	ext := regexp.MustCompile(`(?i)(src|href|xlink:href)\s*=\s*["']?\s*(https?:)?//|<script|<link|@import|url\(`)
	if m := ext.FindString(page); m != "" {
		t.Errorf("page loads something: %q", m)
	}
}

func TestHTMLEmptyRun(t *testing.T) {
	res := fixture(t)
	res.Before, res.After, res.Verdicts = nil, nil, nil
	res.Error = "deploy: currency_v2 exited: <boom>"
	var buf bytes.Buffer
	if err := HTML(&buf, res); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{">ERROR<", "The run stopped early", "&lt;boom&gt;", "no timeline recorded", "No requests were counted", "No latency was measured", "Not evaluated: the run stopped early (the scenario has 6 success conditions)"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<svg ") {
		t.Error("a run without phases has no plots")
	}
}

func TestNiceScale(t *testing.T) {
	for _, tc := range []struct{ max, top, step float64 }{
		{0, 1, 0.25}, {31, 40, 10}, {63.4, 80, 20}, {0.8, 0.8, 0.2}, {100, 100, 25}, {7, 8, 2},
	} {
		top, step := niceScale(tc.max)
		if math.Abs(top-tc.top) > 1e-9 || math.Abs(step-tc.step) > 1e-9 {
			t.Errorf("niceScale(%g) = %g, %g; want %g, %g", tc.max, top, step, tc.top, tc.step)
		}
	}
}

func escape(s string) string {
	var b bytes.Buffer
	templateEscape(&b, s)
	return b.String()
}

func templateEscape(b *bytes.Buffer, s string) { template.HTMLEscape(b, []byte(s)) }
