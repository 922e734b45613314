package sampleapps

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// parseMetrics parses a text exposition with expfmt, as a scraper would.
func parseMetrics(t *testing.T, r io.Reader) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("expfmt: %v", err)
	}
	return mfs
}

// scrapeApp GETs base+/metrics and parses it.
func scrapeApp(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(base + MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); expfmt.ResponseFormat(res.Header).FormatType() != expfmt.TypeTextPlain {
		t.Fatalf("Content-Type %q is not the text format", ct)
	}
	return parseMetrics(t, res.Body)
}

// labelKey renders a metric's labels as sorted "k=v,k=v".
func labelKey(m *dto.Metric) string {
	var l []string
	for _, p := range m.GetLabel() {
		l = append(l, p.GetName()+"="+p.GetValue())
	}
	sort.Strings(l)
	return strings.Join(l, ",")
}

// counterSeriesOf returns a counter family's series by label key.
func counterSeriesOf(t *testing.T, mf *dto.MetricFamily) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	if mf == nil {
		return out
	}
	if mf.GetType() != dto.MetricType_COUNTER {
		t.Fatalf("%s has type %v, want counter", mf.GetName(), mf.GetType())
	}
	for _, m := range mf.GetMetric() {
		out[labelKey(m)] = m.GetCounter().GetValue()
	}
	return out
}

// onlyHistogram checks the duration family holds one series labelled
// direction="inbound",name=name with the DurationBuckets bounds, and
// returns it.
func onlyHistogram(t *testing.T, mfs map[string]*dto.MetricFamily, name string) *dto.Histogram {
	t.Helper()
	mf := mfs[MetricRequestDuration]
	if mf == nil || mf.GetType() != dto.MetricType_HISTOGRAM || len(mf.GetMetric()) != 1 || mf.GetHelp() == "" {
		t.Fatalf("%s: %v", MetricRequestDuration, mf)
	}
	m := mf.GetMetric()[0]
	if got, want := labelKey(m), "direction=inbound,name="+name; got != want {
		t.Fatalf("histogram labels %q, want %q", got, want)
	}
	h := m.GetHistogram()
	var bounds []float64
	prev := uint64(0)
	for _, b := range h.GetBucket() {
		if !math.IsInf(b.GetUpperBound(), 1) {
			bounds = append(bounds, b.GetUpperBound())
		}
		if b.GetCumulativeCount() < prev {
			t.Fatalf("buckets not cumulative: %v", h.GetBucket())
		}
		prev = b.GetCumulativeCount()
	}
	if !slices.Equal(bounds, DurationBuckets) {
		t.Fatalf("bucket bounds %v, want %v", bounds, DurationBuckets)
	}
	bs := h.GetBucket()
	if len(bs) == 0 || !math.IsInf(bs[len(bs)-1].GetUpperBound(), 1) || prev != h.GetSampleCount() {
		t.Fatalf("want a last +Inf bucket equal to _count %d: %v", h.GetSampleCount(), bs)
	}
	return h
}

// cumulativeAt returns the histogram's cumulative count at bound le.
func cumulativeAt(t *testing.T, h *dto.Histogram, le float64) uint64 {
	t.Helper()
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() == le {
			return b.GetCumulativeCount()
		}
	}
	t.Fatalf("no bucket le=%v", le)
	return 0
}

// TestMetricsScrape drives requests (a share failing through ERROR_RATE,
// some with x-envoy-attempt-count), scrapes /metrics and checks every
// series against what the client saw.
func TestMetricsScrape(t *testing.T) {
	const n = 300
	ts := newTestServer(t, Options{Name: "currency", ErrorRate: 0.3, ErrorCode: 503, Seed: 7, Timing50: 3 * time.Millisecond})

	// Before any request: the histogram is there, empty; no counter series.
	mfs := scrapeApp(t, ts.URL)
	if h := onlyHistogram(t, mfs, "currency"); h.GetSampleCount() != 0 {
		t.Fatalf("fresh histogram count %d", h.GetSampleCount())
	}
	if mf := mfs[MetricRequests]; mf != nil {
		t.Fatalf("counter series before any request: %v", mf)
	}

	// header value sent → attempt label expected
	attempts := []struct{ hdr, label string }{
		{"", "1"}, {"", "1"}, {"", "1"}, {"2", "2"}, {"3", "3"},
		{"abc", "1"}, {"0", "1"}, {"-4", "1"}, {"500", "101"},
	}
	want := map[string]float64{}
	var oks, errs int
	client := &http.Client{}
	for i := range n {
		a := attempts[i%len(attempts)]
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/rates", nil)
		if a.hdr != "" {
			req.Header.Set("x-envoy-attempt-count", a.hdr)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		switch res.StatusCode {
		case 200:
			oks++
		case 503:
			errs++
		default:
			t.Fatalf("status %d", res.StatusCode)
		}
		want[fmt.Sprintf("attempt=%s,direction=inbound,name=currency,status_code=%d", a.label, res.StatusCode)]++
		if i%50 == 0 { // reserved paths are not counted
			for _, p := range []string{"/ready", "/health", MetricsPath} {
				res, err := client.Get(ts.URL + p)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}
	}
	if oks == 0 || errs == 0 {
		t.Fatalf("want both outcomes, got %d ok, %d errors", oks, errs)
	}
	t.Logf("%d requests: %d ok, %d injected 503", n, oks, errs)

	mfs = scrapeApp(t, ts.URL)
	if len(mfs) != 2 {
		t.Errorf("families %v, want exactly %s and %s", slices.Sorted(func(yield func(string) bool) {
			for k := range mfs {
				if !yield(k) {
					return
				}
			}
		}), MetricRequests, MetricRequestDuration)
	}
	if mfs[MetricRequests].GetHelp() == "" {
		t.Error("counter has no HELP")
	}
	got := counterSeriesOf(t, mfs[MetricRequests])
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s{%s} = %v, want %v", MetricRequests, k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected series %s{%s} = %v", MetricRequests, k, v)
		}
	}

	h := onlyHistogram(t, mfs, "currency")
	if h.GetSampleCount() != n {
		t.Fatalf("histogram count %d, want %d", h.GetSampleCount(), n)
	}
	// Successes sleep at least TIMING_50 = 3 ms; injected errors answer at
	// once, so at most the errors sit at or below 2 ms.
	if fast := cumulativeAt(t, h, 0.002); fast > uint64(errs) {
		t.Errorf("%d requests <= 2ms, but only %d answered without sleeping", fast, errs)
	}
	if min := float64(oks) * 0.003; h.GetSampleSum() < min {
		t.Errorf("sum %vs < %d × 3ms", h.GetSampleSum(), oks)
	}
}

// TestMetricsTextFormat checks the exposition byte by byte where the
// sidecar's client_golang output sets the convention: family order, label
// order, le formatting, _sum/_count, and escaping of the name.
func TestMetricsTextFormat(t *testing.T) {
	m := newAppMetrics(`we"ird\na` + "\nme")
	m.observe(503, 1, 2*time.Millisecond)
	m.observe(200, 10, 40*time.Microsecond)
	m.observe(200, 2, 50*time.Microsecond) // on the bound: le is inclusive
	m.observe(200, 1, time.Minute)
	m.observe(200, 1, 100*time.Microsecond)
	text := string(m.appendText(nil))

	const lbl = `direction="inbound",name="we\"ird\\na\nme"`
	for _, line := range []string{
		"# HELP meshgym_request_duration_seconds ",
		"# TYPE meshgym_request_duration_seconds histogram\n",
		`meshgym_request_duration_seconds_bucket{` + lbl + `,le="5e-05"} 2` + "\n",
		`meshgym_request_duration_seconds_bucket{` + lbl + `,le="0.0001"} 3` + "\n",
		`meshgym_request_duration_seconds_bucket{` + lbl + `,le="0.002"} 4` + "\n",
		`meshgym_request_duration_seconds_bucket{` + lbl + `,le="30"} 4` + "\n",
		`meshgym_request_duration_seconds_bucket{` + lbl + `,le="+Inf"} 5` + "\n",
		`meshgym_request_duration_seconds_sum{` + lbl + `} 60.00219` + "\n",
		`meshgym_request_duration_seconds_count{` + lbl + `} 5` + "\n",
		"# TYPE meshgym_requests_total counter\n",
	} {
		if !strings.Contains(text, line) {
			t.Errorf("missing %q in:\n%s", line, text)
		}
	}
	// Series in label order: attempt "1" < "10" < "2" as strings.
	var counters []string
	for l := range strings.Lines(text) {
		if strings.HasPrefix(l, MetricRequests+"{") {
			counters = append(counters, l)
		}
	}
	wantLines := []string{
		`meshgym_requests_total{attempt="1",` + lbl + `,status_code="200"} 2` + "\n",
		`meshgym_requests_total{attempt="1",` + lbl + `,status_code="503"} 1` + "\n",
		`meshgym_requests_total{attempt="10",` + lbl + `,status_code="200"} 1` + "\n",
		`meshgym_requests_total{attempt="2",` + lbl + `,status_code="200"} 1` + "\n",
	}
	if !slices.Equal(counters, wantLines) {
		t.Errorf("counter lines\n%q\nwant\n%q", counters, wantLines)
	}
	if i, j := strings.Index(text, MetricRequestDuration), strings.Index(text, MetricRequests+" "); i > j {
		t.Error("families not sorted by name")
	}

	// And a scraper reads the escaped name back.
	mfs := parseMetrics(t, strings.NewReader(text))
	onlyHistogram(t, mfs, "we\"ird\\na\nme")
	if got := counterSeriesOf(t, mfs[MetricRequests]); len(got) != 4 {
		t.Errorf("parsed %v", got)
	}
}

// TestMetricsStatusZeroAndReserved: a request whose client went away counts
// as status_code="0"; /metrics takes GET and HEAD only.
func TestMetricsStatusZeroAndReserved(t *testing.T) {
	s, err := NewServer(Options{Name: "api", Timing50: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)
	req.Header.Set(AttemptCountHeader, "2")
	done := make(chan struct{})
	go func() { s.ServeHTTP(httptest.NewRecorder(), req); close(done) }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	<-done

	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, MetricsPath, nil))
	if rec.Code != 200 || rec.Header().Get("Content-Length") != strconv.Itoa(rec.Body.Len()) {
		t.Fatalf("GET /metrics: %d %v", rec.Code, rec.Header())
	}
	mfs := parseMetrics(t, rec.Body)
	got := counterSeriesOf(t, mfs[MetricRequests])
	if len(got) != 1 || got["attempt=2,direction=inbound,name=api,status_code=0"] != 1 {
		t.Fatalf("series %v", got)
	}
	if h := onlyHistogram(t, mfs, "api"); h.GetSampleCount() != 1 {
		t.Fatalf("histogram count %d", h.GetSampleCount())
	}

	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, MetricsPath, nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") == "" {
		t.Fatalf("POST /metrics: %d %v", rec.Code, rec.Header())
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	res, err := http.Head(ts.URL + MetricsPath)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("HEAD /metrics: %v %v", res, err)
	}
	res.Body.Close()
}

// TestMetricsConcurrent observes from many goroutines while scraping; every
// scrape must parse and be self-consistent, the last one exact. Run with
// -race.
func TestMetricsConcurrent(t *testing.T) {
	m := newAppMetrics("c")
	const workers, per = 8, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				status := []int{200, 503, 429}[i%3]
				m.observe(status, 1+(w+i)%4, time.Duration(i)*time.Microsecond)
			}
		})
	}
	stop := make(chan struct{})
	scraped := make(chan [][]byte)
	go func() {
		var texts [][]byte
		for {
			select {
			case <-stop:
				scraped <- texts
				return
			default:
			}
			texts = append(texts, m.appendText(nil))
		}
	}()
	wg.Wait()
	close(stop)
	texts := <-scraped
	t.Logf("%d scrapes during %d observations", len(texts), workers*per)
	for _, text := range texts {
		mfs := parseMetrics(t, bytes.NewReader(text))
		h := onlyHistogram(t, mfs, "c")
		if last := h.GetBucket()[len(h.GetBucket())-1]; last.GetCumulativeCount() != h.GetSampleCount() {
			t.Fatalf("+Inf %d != count %d", last.GetCumulativeCount(), h.GetSampleCount())
		}
	}

	mfs := parseMetrics(t, bytes.NewReader(m.appendText(nil)))
	var total float64
	got := counterSeriesOf(t, mfs[MetricRequests])
	for _, v := range got {
		total += v
	}
	if len(got) != 12 || total != workers*per {
		t.Fatalf("%d series totalling %v, want 12 totalling %d", len(got), total, workers*per)
	}
	if h := onlyHistogram(t, mfs, "c"); h.GetSampleCount() != workers*per {
		t.Fatalf("histogram count %d", h.GetSampleCount())
	}
}

// TestObserveAllocatesNothing guards the hot path: after a (status,
// attempt) pair was seen once, counting it and reading its attempt header
// allocate nothing.
func TestObserveAllocatesNothing(t *testing.T) {
	m := newAppMetrics("currency")
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set(AttemptCountHeader, "3")
	m.observe(200, 3, time.Millisecond)
	if a := testing.AllocsPerRun(1000, func() {
		m.observe(200, attemptOf(req), 3*time.Millisecond)
	}); a != 0 {
		t.Fatalf("observe allocates %v per request", a)
	}
}

// TestDurationBucketsMatchDataplane compares the copied DurationBuckets with
// dataplane's, read from its source (importing dataplane would link the
// OTel SDK into the app and tie this test to that package building).
func TestDurationBucketsMatchDataplane(t *testing.T) {
	path := filepath.Join("..", "dataplane", "telemetry.go")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("dataplane source not found: %v", err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), path, src, 0)
	if err != nil {
		t.Skipf("dataplane source does not parse: %v", err)
	}
	var theirs []float64
	found := false
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || vs.Names[0].Name != "DurationBuckets" || len(vs.Values) != 1 {
			return true
		}
		cl, ok := vs.Values[0].(*ast.CompositeLit)
		if !ok {
			t.Fatalf("dataplane.DurationBuckets is not a literal")
		}
		found = true
		for _, e := range cl.Elts {
			lit, ok := e.(*ast.BasicLit)
			if !ok {
				t.Fatalf("dataplane.DurationBuckets element %T is not a number literal", e)
			}
			v, err := strconv.ParseFloat(lit.Value, 64)
			if err != nil {
				t.Fatal(err)
			}
			theirs = append(theirs, v)
		}
		return false
	})
	if !found {
		t.Fatalf("no DurationBuckets in %s", path)
	}
	if !slices.Equal(theirs, DurationBuckets) {
		t.Fatalf("DurationBuckets %v differ from dataplane's %v", DurationBuckets, theirs)
	}
}

// BenchmarkMetricsObserve is the per-request cost of the app's metrics
// (attempt header, counter lookup, histogram).
func BenchmarkMetricsObserve(b *testing.B) {
	m := newAppMetrics("currency")
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set(AttemptCountHeader, "2")
	b.ReportAllocs()
	for b.Loop() {
		m.observe(200, attemptOf(req), 3*time.Millisecond)
	}
}

// BenchmarkMetricsObserveParallel is the same under contention, spread over
// a few (status, attempt) series.
func BenchmarkMetricsObserveParallel(b *testing.B) {
	m := newAppMetrics("currency")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.observe([]int{200, 200, 200, 503}[i&3], 1, time.Duration(i&1023)*time.Microsecond)
			i++
		}
	})
}

// BenchmarkMetricsScrape is the cost of one /metrics exposition.
func BenchmarkMetricsScrape(b *testing.B) {
	m := newAppMetrics("currency")
	for s := range []int{200, 503, 429, 0} {
		for a := 1; a <= 3; a++ {
			m.observe([]int{200, 503, 429, 0}[s], a, time.Millisecond)
		}
	}
	buf := make([]byte, 0, 8192)
	b.ReportAllocs()
	for b.Loop() {
		buf = m.appendText(buf[:0])
	}
}
