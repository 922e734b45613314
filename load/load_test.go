package load

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

func checkPercentiles(t *testing.T, c ClientView) {
	t.Helper()
	ps := []float64{c.P50S, c.P90S, c.P99S, c.P999S}
	prev := c.MinS
	for i, p := range ps {
		if p < c.MinS || p > c.MaxS {
			t.Errorf("percentile #%d = %g outside [min %g, max %g]", i, p, c.MinS, c.MaxS)
		}
		if p < prev {
			t.Errorf("percentiles not ordered: %v (min %g)", ps, c.MinS)
		}
		prev = p
	}
	for _, q := range []float64{0, 0.01, 0.5, 0.75, 0.95, 0.999, 1} {
		v, ok := c.Quantile(q)
		if !ok || v < c.MinS || v > c.MaxS {
			t.Errorf("Quantile(%g) = %g,%v outside [%g,%g]", q, v, ok, c.MinS, c.MaxS)
		}
	}
}

func TestRunCountsAndStatusMix(t *testing.T) {
	var n atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%4 == 0 {
			w.WriteHeader(http.StatusInternalServerError)
		}
		_, _ = w.Write([]byte("hello"))
	})
	res, err := Run(context.Background(), Spec{URL: srv.URL, RPS: 400, Connections: 4, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Client
	served := n.Load()
	if c.Count+c.WarmupRequests != served {
		t.Errorf("client count %d + warm-up %d != server count %d", c.Count, c.WarmupRequests, served)
	}
	var sum int64
	for _, v := range c.StatusCodes {
		sum += v
	}
	if sum != c.Count {
		t.Errorf("status codes sum %d != count %d", sum, c.Count)
	}
	share := float64(c.StatusCodes[500]) / float64(c.Count)
	if math.Abs(share-0.25) > 0.02 {
		t.Errorf("500 share = %.3f, want ≈ 0.25 (%v)", share, c.StatusCodes)
	}
	if c.Errors != c.StatusCodes[500] {
		t.Errorf("errors %d != 500s %d", c.Errors, c.StatusCodes[500])
	}
	if c.LatencyFrom != "actual-start" || c.ResolutionS != 1e-4 {
		t.Errorf("latency_from %q resolution %g", c.LatencyFrom, c.ResolutionS)
	}
	if c.SizePerRequest <= 0 || c.TotalBytes <= 0 {
		t.Errorf("sizes: %g per request, %d total", c.SizePerRequest, c.TotalBytes)
	}
	checkPercentiles(t, c)
	if _, err := json.Marshal(res); err != nil {
		t.Errorf("result does not serialise: %v", err)
	}
	t.Logf("count %d codes %v rps %.1f p50 %s p99 %s max %s", c.Count, c.StatusCodes, c.ActualRPS,
		fmtSeconds(c.P50S), fmtSeconds(c.P99S), fmtSeconds(c.MaxS))
}

func TestRunAchievesRate(t *testing.T) {
	if testing.Short() {
		t.Skip("2 s of load")
	}
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {})
	var mu sync.Mutex
	var progress []Progress
	res, err := Run(context.Background(), Spec{
		URL: srv.URL, RPS: 200, Connections: 4, Duration: 2 * time.Second,
		Progress: func(p Progress) { mu.Lock(); progress = append(progress, p); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Client
	if math.Abs(c.ActualRPS-200)/200 > 0.10 {
		t.Errorf("actual %.1f rps, want 200 ± 10%%", c.ActualRPS)
	}
	if math.Abs(float64(c.Count)-400)/400 > 0.10 {
		t.Errorf("count %d, want 400 ± 10%%", c.Count)
	}
	if c.FellBehind {
		t.Errorf("fell behind: %s", c.FellBehindReason)
	}
	checkPercentiles(t, c)
	mu.Lock()
	defer mu.Unlock()
	if len(progress) < 2 || !progress[len(progress)-1].Done {
		t.Fatalf("progress calls: %+v", progress)
	}
	if last := progress[len(progress)-1]; last.Requests != c.Count {
		t.Errorf("last progress %d requests, result %d", last.Requests, c.Count)
	}
	var sum int64
	for _, x := range c.PerSecond {
		sum += x
	}
	if len(c.PerSecond) != 2 || sum > c.Count || sum < c.Count*9/10 {
		t.Errorf("per second %v (count %d)", c.PerSecond, c.Count)
	}
	t.Logf("actual %.2f rps, count %d, per second %v, progress %d calls", c.ActualRPS, c.Count, c.PerSecond, len(progress))
}

func TestRunCancelReturnsPartial(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(700*time.Millisecond, cancel)
	start := time.Now()
	res, err := Run(ctx, Spec{URL: srv.URL, RPS: 100, Connections: 2, Duration: 30 * time.Second})
	took := time.Since(start)
	if took > 1700*time.Millisecond { // 0.7 s of load + ≤ 1 s to stop
		t.Errorf("cancel took %s after the cancel", took-700*time.Millisecond)
	}
	if err == nil || res == nil {
		t.Fatalf("want partial result and error, got %v, %v", res, err)
	}
	c := res.Client
	if !c.Aborted || c.Count < 30 || c.Count > 120 {
		t.Errorf("aborted %v count %d (want ≈ 70)", c.Aborted, c.Count)
	}
	checkPercentiles(t, c)
	t.Logf("stopped %s after cancel with %d requests: %v", took-700*time.Millisecond, c.Count, err)
}

func TestRunCancelledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, Spec{URL: "http://127.0.0.1:1"}); err == nil {
		t.Fatal("want error")
	}
}

func TestFellBehindWhenConnectionsCannotCarryRate(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { time.Sleep(20 * time.Millisecond) })
	// 1 connection × 1/20ms = 50 rps < 200 planned.
	res, err := Run(context.Background(), Spec{URL: srv.URL, RPS: 200, Connections: 1, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Client
	if !c.FellBehind || c.CapacityRPS > 60 {
		t.Errorf("fell behind %v capacity %.1f reason %q", c.FellBehind, c.CapacityRPS, c.FellBehindReason)
	}
	t.Log(c.FellBehindReason)
}

func TestSocketErrorsCount(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	u := srv.URL
	srv.Close() // nothing listens now
	res, err := Run(context.Background(), Spec{URL: u, RPS: 20, Connections: 1, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Client
	if c.Count == 0 || c.Errors != c.Count || c.StatusCodes[SocketErrorCode] != c.Count {
		t.Errorf("count %d errors %d codes %v", c.Count, c.Errors, c.StatusCodes)
	}
}

func TestSpecNormalizeAndValidate(t *testing.T) {
	s := Spec{URL: "http://x"}.Normalize()
	if s.Connections != DefaultConnections || s.Duration != DefaultDuration || s.Resolution != DefaultResolution || s.Bursty {
		t.Errorf("defaults: %+v", s)
	}
	for _, bad := range []Spec{{}, {URL: "ftp://x"}, {URL: "http://x", RPS: -1}, {URL: "http://"}} {
		if err := bad.Normalize().Validate(); err == nil {
			t.Errorf("%+v: want error", bad)
		}
	}
}

func TestQuantileClamped(t *testing.T) {
	// A histogram whose buckets reach beyond min and max must still give
	// percentiles inside [min, max].
	c := ClientView{Count: 4, MinS: 0.0012, MaxS: 0.0049, Histogram: []LatencyBucket{
		{StartS: 0.001, EndS: 0.002, Count: 1}, {StartS: 0.002, EndS: 0.003, Count: 2}, {StartS: 0.004, EndS: 0.006, Count: 1},
	}}
	checkPercentiles(t, ClientView{Count: 4, MinS: 0.0012, MaxS: 0.0049, P50S: c.clamp(0.0025), P90S: c.clamp(0.0055), P99S: c.clamp(0.0059), P999S: c.clamp(0.006), Histogram: c.Histogram})
	if v, _ := c.Quantile(0.999); v != 0.0049 {
		t.Errorf("p99.9 = %g, want clamped to max 0.0049", v)
	}
	if v, _ := c.Quantile(0); v != 0.0012 {
		t.Errorf("p0 = %g, want min", v)
	}
	if _, ok := (ClientView{}).Quantile(0.5); ok {
		t.Error("empty view: want ok=false")
	}
}

func TestTTYProgressNonTerminal(t *testing.T) {
	var b strings.Builder
	f := TTYProgress(&b)
	f(Progress{Elapsed: 1500 * time.Millisecond, Total: 30 * time.Second, Requests: 150, Errors: 2, RPS: 100})
	f(Progress{Elapsed: 30 * time.Second, Total: 30 * time.Second, Requests: 3000, Done: true})
	want := "load    1s/30s  150 req  2 err  100.0 req/s\nload   30s/30s  3000 req  0 err  0.0 req/s  done\n"
	if b.String() != want {
		t.Errorf("got %q", b.String())
	}
}

// TestExactModeDeadline: a rate the server cannot serve stops at the
// deadline (duration + 5 s) and says the generator fell behind, instead of
// running until every planned request was sent.
func TestExactModeDeadline(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 6 s")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond)
	}))
	defer srv.Close()
	start := time.Now()
	res, err := Run(context.Background(), Spec{URL: srv.URL, RPS: 1000, Connections: 2, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 8*time.Second {
		t.Errorf("run took %s; want it cut at about 6 s", el)
	}
	c := res.Client
	if !c.FellBehind || !strings.Contains(c.FellBehindReason, "stopped at the deadline") || c.Count >= 1000 {
		t.Errorf("fell behind %v (%q), count %d", c.FellBehind, c.FellBehindReason, c.Count)
	}
}

// Percentiles are exact over every call, not interpolated in fortio's
// histogram (whose buckets are 100 ms wide between 100 and 300 ms): with
// half the calls taking 120 ms and half 250 ms, p50 is a 120 ms call and
// p90 a 250 ms one.
func TestPercentilesAreExact(t *testing.T) {
	var n atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			time.Sleep(250 * time.Millisecond)
		} else {
			time.Sleep(120 * time.Millisecond)
		}
	})
	res, err := Run(context.Background(), Spec{URL: srv.URL, RPS: 20, Connections: 10, Duration: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Client
	if !c.Exact || c.Count != 40 {
		t.Fatalf("exact %v count %d, want exact over 40 calls", c.Exact, c.Count)
	}
	if c.P50S < 0.120 || c.P50S > 0.150 {
		t.Errorf("p50 = %.4fs, want one of the 120 ms calls", c.P50S)
	}
	if c.P90S < 0.250 || c.P90S > 0.290 {
		t.Errorf("p90 = %.4fs, want one of the 250 ms calls", c.P90S)
	}
}

func TestNearestRank(t *testing.T) {
	xs := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tt := range []struct{ p, want float64 }{{50, 5}, {90, 9}, {99, 10}, {99.9, 10}, {10, 1}, {0, 1}} {
		if got := nearestRank(xs, tt.p); got != tt.want {
			t.Errorf("p%g = %g, want %g", tt.p, got, tt.want)
		}
	}
}
