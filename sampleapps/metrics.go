package sampleapps

import (
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Prometheus names of the app's own metrics, served at GET /metrics. They
// are exactly the sidecar's inbound series (meshgym/dataplane's
// MetricRequests and MetricRequestDuration, same names, labels and buckets),
// so one scraper reads "requests counted at the server side of each
// component" from the sidecar's admin listener or, without a sidecar, from
// the app itself.
const (
	// MetricRequests counts requests served, labels direction="inbound",
	// name (Options.Name), status_code (the status answered, 0 when the
	// client went away first) and attempt (the x-envoy-attempt-count
	// received, "1" when absent or invalid, at most 101). GET /metrics,
	// /ready and /health are not counted.
	MetricRequests = "meshgym_requests_total"
	// MetricRequestDuration is a histogram in seconds of the requests
	// counted by MetricRequests, labels direction="inbound" and name, with
	// the buckets [DurationBuckets].
	MetricRequestDuration = "meshgym_request_duration_seconds"
)

// MetricsPath is the path of the Prometheus text exposition; like /ready and
// /health it is reserved and not passed to the sample service's flow.
const MetricsPath = "/metrics"

// AttemptCountHeader is Envoy's x-envoy-attempt-count request header, the
// source of the attempt label (the same header as meshgym/dataplane's
// AttemptCountHeader).
const AttemptCountHeader = "X-Envoy-Attempt-Count"

// DurationBuckets are the bucket bounds of MetricRequestDuration, in
// seconds. They are a copy of meshgym/dataplane's DurationBuckets
// (dataplane/telemetry.go), which is not imported so that the app stays
// lean; change both together (TestDurationBucketsMatchDataplane compares
// them).
var DurationBuckets = []float64{
	0.00005, 0.000075, 0.0001, 0.00015, 0.0002, 0.0003, 0.0005, 0.00075,
	0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008, 0.01,
	0.012, 0.014, 0.016, 0.018, 0.02, 0.022, 0.025, 0.03, 0.035, 0.04, 0.05,
	0.06, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75,
	1, 1.5, 2, 2.5, 5, 10, 30,
}

// maxAttemptLabel bounds the attempt label's cardinality, as the sidecar
// does: larger values (from a misbehaving client header) count as this.
const maxAttemptLabel = 101

// metricsContentType is the text exposition format, version 0.0.4.
const metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

const (
	helpRequests = "Requests received by the component (counted by the app itself: no sidecar)."
	helpDuration = "Duration of requests served by the app, in seconds."
)

// appMetrics is the app's hand-written exporter: atomic counters by
// (status, attempt) and one fixed-bucket histogram, written in the
// Prometheus text format. It exists instead of the OpenTelemetry SDK or
// client_golang because the app's memory is what the sidecar scenarios
// measure.
//
// Hot path ([appMetrics.observe]): the counter of a (status, attempt) pair
// is found with one lookup in a copy-on-write map read through an atomic
// pointer (no lock, no shared write besides the counter itself); its label
// set is rendered once, when the pair is first seen. Nothing is allocated
// per request in steady state.
type appMetrics struct {
	series atomic.Pointer[map[uint32]*counterSeries]

	mu     sync.Mutex       // serialises adding series
	sorted []*counterSeries // by labels (the exposition order); replaced, not modified, under mu

	name      string // escaped label value
	histLabel string // `direction="inbound",name="…"`

	boundsNS []int64         // DurationBuckets in nanoseconds
	le       []string        // DurationBuckets formatted, then "+Inf"
	buckets  []atomic.Uint64 // per bucket, not cumulative; last is +Inf
	sumNS    atomic.Int64    // sum of observed durations
}

// counterSeries is one meshgym_requests_total series.
type counterSeries struct {
	labels string // `{attempt="1",direction="inbound",name="…",status_code="200"}`
	n      atomic.Uint64
}

func newAppMetrics(name string) *appMetrics {
	m := &appMetrics{
		name:     escapeLabelValue(name),
		boundsNS: make([]int64, len(DurationBuckets)),
		le:       make([]string, len(DurationBuckets)+1),
		buckets:  make([]atomic.Uint64, len(DurationBuckets)+1),
	}
	m.histLabel = `direction="inbound",name="` + m.name + `"`
	for i, b := range DurationBuckets {
		m.boundsNS[i] = int64(math.Round(b * 1e9))
		m.le[i] = formatFloat(b)
	}
	m.le[len(DurationBuckets)] = "+Inf"
	empty := map[uint32]*counterSeries{}
	m.series.Store(&empty)
	return m
}

// attemptOf returns the attempt label of r: its x-envoy-attempt-count when
// it is a positive integer, else 1.
func attemptOf(r *http.Request) int {
	if v := r.Header[AttemptCountHeader]; len(v) > 0 {
		if a, err := strconv.Atoi(v[0]); err == nil && a > 0 {
			return a
		}
	}
	return 1
}

// observe counts one request answered with status (0 = no answer) at the
// given attempt, which took d.
func (m *appMetrics) observe(status, attempt int, d time.Duration) {
	if status < 0 || status > 999 {
		status = 0
	}
	if attempt < 1 {
		attempt = 1
	} else if attempt > maxAttemptLabel {
		attempt = maxAttemptLabel
	}
	key := uint32(status)<<8 | uint32(attempt)
	c := (*m.series.Load())[key]
	if c == nil {
		c = m.add(key, status, attempt)
	}
	c.n.Add(1)

	ns := int64(d)
	if ns < 0 {
		ns = 0
	}
	// Few bounds: a linear scan beats a binary search's branches. A bucket
	// holds d <= its bound ("le").
	i := 0
	for i < len(m.boundsNS) && ns > m.boundsNS[i] {
		i++
	}
	m.buckets[i].Add(1)
	m.sumNS.Add(ns)
}

// add creates the series of (status, attempt) once; it is the slow path of
// the first request of each pair.
func (m *appMetrics) add(key uint32, status, attempt int) *counterSeries {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.series.Load()
	if c := old[key]; c != nil {
		return c
	}
	c := &counterSeries{labels: `{attempt="` + strconv.Itoa(attempt) +
		`",direction="inbound",name="` + m.name +
		`",status_code="` + strconv.Itoa(status) + `"}`}
	next := make(map[uint32]*counterSeries, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[key] = c
	// Sorting the whole label string sorts by attempt, then status_code, as
	// strings (the closing quote sorts before any digit), which is the
	// order client_golang gives the sidecar's series.
	i, _ := slices.BinarySearchFunc(m.sorted, c.labels, func(s *counterSeries, l string) int {
		return strings.Compare(s.labels, l)
	})
	// Copy on write too: a scrape may be reading the old slice.
	m.sorted = slices.Concat(m.sorted[:i:i], []*counterSeries{c}, m.sorted[i:])
	m.series.Store(&next)
	return c
}

// appendText appends the text exposition of every series to b: the
// families sorted by name, each with # HELP and # TYPE, series sorted by
// label set. The histogram's _count is its +Inf bucket (the sum of the
// buckets read), so a scrape racing requests stays self-consistent; _sum
// may include a request or two more or fewer.
func (m *appMetrics) appendText(b []byte) []byte {
	b = append(b, "# HELP "+MetricRequestDuration+" "+helpDuration+"\n"...)
	b = append(b, "# TYPE "+MetricRequestDuration+" histogram\n"...)
	var cum uint64
	for i := range m.buckets {
		cum += m.buckets[i].Load()
		b = append(b, MetricRequestDuration+"_bucket{"...)
		b = append(b, m.histLabel...)
		b = append(b, `,le="`...)
		b = append(b, m.le[i]...)
		b = append(b, `"} `...)
		b = strconv.AppendUint(b, cum, 10)
		b = append(b, '\n')
	}
	b = append(b, MetricRequestDuration+"_sum{"...)
	b = append(b, m.histLabel...)
	b = append(b, "} "...)
	b = strconv.AppendFloat(b, float64(m.sumNS.Load())/1e9, 'g', -1, 64)
	b = append(b, '\n')
	b = append(b, MetricRequestDuration+"_count{"...)
	b = append(b, m.histLabel...)
	b = append(b, "} "...)
	b = strconv.AppendUint(b, cum, 10)
	b = append(b, '\n')

	m.mu.Lock()
	sorted := m.sorted // never modified in place
	m.mu.Unlock()
	if len(sorted) > 0 { // like client_golang, no family without series
		b = append(b, "# HELP "+MetricRequests+" "+helpRequests+"\n"...)
		b = append(b, "# TYPE "+MetricRequests+" counter\n"...)
		for _, c := range sorted {
			b = append(b, MetricRequests...)
			b = append(b, c.labels...)
			b = append(b, ' ')
			b = strconv.AppendUint(b, c.n.Load(), 10)
			b = append(b, '\n')
		}
	}
	return b
}

// ServeHTTP serves the text exposition on GET and HEAD.
func (m *appMetrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	b := m.appendText(make([]byte, 0, 4096))
	h := w.Header()
	h.Set("Content-Type", metricsContentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(b)
	}
}

// formatFloat formats f as the text format (and client_golang) does.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// escapeLabelValue escapes a label value for the text format (backslash,
// double quote and line feed) and makes it valid UTF-8.
func escapeLabelValue(v string) string {
	v = strings.ToValidUTF8(v, "\uFFFD")
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}
