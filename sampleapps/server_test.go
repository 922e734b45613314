package sampleapps

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nicholasjackson/fake-service/response"
)

func newTestServer(t *testing.T, o Options) *httptest.Server {
	t.Helper()
	s, err := NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() { ts.Close(); s.CloseIdleConnections() })
	return ts
}

func get(t *testing.T, url string, hdr map[string]string) (int, response.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var r response.Response
	var raw map[string]any
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("not JSON: %q", b)
	}
	json.Unmarshal(b, &raw)
	return res.StatusCode, r, raw
}

func TestResponseShape(t *testing.T) {
	ts := newTestServer(t, Options{Name: "currency", Message: "Hello", Timing50: time.Millisecond})
	code, r, raw := get(t, ts.URL+"/rates?x=1", nil)
	if code != 200 || r.Code != 200 {
		t.Fatalf("code %d / %d", code, r.Code)
	}
	if r.Name != "currency" || r.URI != "/rates?x=1" || r.Type != "HTTP" || r.Error != "" {
		t.Fatalf("bad response %+v", r)
	}
	for _, k := range []string{"name", "uri", "type", "start_time", "end_time", "duration", "code", "body"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("field %q missing in %v", k, raw)
		}
	}
	for _, k := range []string{"error", "upstream_calls"} {
		if _, ok := raw[k]; ok {
			t.Errorf("field %q should be omitted on success: %v", k, raw)
		}
	}
	st, err1 := time.ParseInLocation(TimeFormat, r.StartTime, time.Local)
	et, err2 := time.ParseInLocation(TimeFormat, r.EndTime, time.Local)
	d, err3 := time.ParseDuration(r.Duration)
	if err1 != nil || err2 != nil || err3 != nil || et.Before(st) || d < time.Millisecond {
		t.Fatalf("timing fields %q %q %q", r.StartTime, r.EndTime, r.Duration)
	}
	if string(r.Body) != `"Hello"` {
		t.Fatalf("body %s", r.Body)
	}

	ts2 := newTestServer(t, Options{Message: `{"a":1}`})
	_, r, _ = get(t, ts2.URL, nil)
	if string(r.Body) != `{"a":1}` {
		t.Fatalf("JSON message body %s", r.Body)
	}

	res, err := http.Get(ts.URL + "/ready")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("/ready: %v %v", res, err)
	}
	res.Body.Close()
}

func TestUpstreamNestingAndHeaders(t *testing.T) {
	var seen sync.Map
	mkUp := func(name string) *httptest.Server {
		s, _ := NewServer(Options{Name: name})
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen.Store(name, r.Header.Clone())
			s.ServeHTTP(w, r)
		}))
	}
	cur := mkUp("currency")
	defer cur.Close()
	pay := newTestServer(t, Options{Name: "payments", UpstreamURIs: []string{cur.URL}})
	other := mkUp("other")
	defer other.Close()
	api := newTestServer(t, Options{Name: "api", UpstreamURIs: []string{pay.URL, other.URL + "/x"}})

	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	code, r, _ := get(t, api.URL, map[string]string{"traceparent": tp, "x-request-id": "rid-1", "Authorization": "secret"})
	if code != 200 || r.Code != 200 || r.Error != "" {
		t.Fatalf("api answered %d %+v", code, r)
	}
	p, ok := r.UpstreamCalls[pay.URL]
	if !ok || p.Name != "payments" || p.Code != 200 || p.URI != pay.URL {
		t.Fatalf("payments not nested: %+v", r.UpstreamCalls)
	}
	c, ok := p.UpstreamCalls[cur.URL]
	if !ok || c.Name != "currency" || c.Code != 200 {
		t.Fatalf("currency not nested under payments: %+v", p.UpstreamCalls)
	}
	if o := r.UpstreamCalls[other.URL+"/x"]; o.Name != "other" || o.URI != other.URL+"/x" {
		t.Fatalf("second upstream: %+v", o)
	}
	for _, name := range []string{"currency", "other"} {
		v, _ := seen.Load(name)
		h := v.(http.Header)
		if h.Get("Traceparent") != tp || h.Get("X-Request-Id") != "rid-1" {
			t.Errorf("%s did not get tracing headers: %v", name, h)
		}
		if h.Get("Authorization") != "" {
			t.Errorf("%s got a header that should not be forwarded", name)
		}
	}
}

func TestUpstreamFailureGives500(t *testing.T) {
	failing := newTestServer(t, Options{Name: "currency", ErrorRate: 1, ErrorCode: 503})
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream connect error", http.StatusBadGateway)
	}))
	defer plain.Close()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + l.Addr().String()
	l.Close()
	ok := newTestServer(t, Options{Name: "fine"})

	for _, c := range []struct {
		up       string
		code     int
		name     string
		wantBody bool
	}{
		{failing.URL, 503, "currency", false},
		{plain.URL, 502, "", true},
		{dead, -1, "", false},
	} {
		api := newTestServer(t, Options{Name: "api", UpstreamURIs: []string{ok.URL, c.up}})
		code, r, raw := get(t, api.URL, nil)
		if code != 500 || r.Code != 500 || r.Error == "" || raw["error"] == nil {
			t.Errorf("%s: got %d %+v", c.up, code, r)
			continue
		}
		u := r.UpstreamCalls[c.up]
		if u.Code != c.code || u.Name != c.name || u.Error == "" || u.URI != c.up {
			t.Errorf("%s: nested %+v", c.up, u)
		}
		if c.wantBody && len(u.Body) == 0 {
			t.Errorf("%s: non-JSON upstream body lost", c.up)
		}
		if r.UpstreamCalls[ok.URL].Code != 200 {
			t.Errorf("healthy upstream not nested: %+v", r.UpstreamCalls)
		}
	}
}

// TestErrorRateAccuracy checks the injected share against the configured
// rate: within 4 standard deviations of a binomial over n decisions.
func TestErrorRateAccuracy(t *testing.T) {
	const n = 20000
	for _, rate := range []float64{0, 0.1, 0.3, 0.5, 1} {
		e := newErrorSampler(rate, 42, "currency")
		var seq []bool
		k := 0
		for range n {
			b := e.inject()
			seq = append(seq, b)
			if b {
				k++
			}
		}
		got := float64(k) / n
		sd := math.Sqrt(rate * (1 - rate) / n)
		t.Logf("rate %.2f: observed %.4f over %d (4σ = %.4f)", rate, got, n, 4*sd)
		if math.Abs(got-rate) > 4*sd {
			t.Errorf("rate %v: observed %v, outside 4σ=%v", rate, got, 4*sd)
		}
		e2 := newErrorSampler(rate, 42, "currency")
		for i := range n {
			if e2.inject() != seq[i] {
				t.Fatalf("rate %v: sequence with the same seed differs at %d", rate, i)
			}
		}
	}
	a, b := newErrorSampler(0.5, 1, "api"), newErrorSampler(0.5, 1, "payments")
	same := 0
	for range 1000 {
		if a.inject() == b.inject() {
			same++
		}
	}
	if same > 600 || same < 400 {
		t.Errorf("streams for different names look correlated: %d/1000 equal", same)
	}
}

// TestErrorRateOverHTTP drives concurrent requests and checks the share of
// injected status codes.
func TestErrorRateOverHTTP(t *testing.T) {
	const n, rate = 4000, 0.3
	ts := newTestServer(t, Options{Name: "currency", ErrorRate: rate, ErrorCode: 503, Seed: 9})
	var errs, oks atomic.Int64
	var wg sync.WaitGroup
	jobs := make(chan struct{})
	for range 16 {
		wg.Go(func() {
			for range jobs {
				res, err := http.Get(ts.URL)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				switch res.StatusCode {
				case 503:
					errs.Add(1)
				case 200:
					oks.Add(1)
				default:
					t.Errorf("status %d", res.StatusCode)
				}
			}
		})
	}
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	got := float64(errs.Load()) / n
	sd := math.Sqrt(rate * (1 - rate) / n)
	t.Logf("HTTP: %d/%d errors = %.4f (want %.2f ± %.4f)", errs.Load(), n, got, rate, 4*sd)
	if math.Abs(got-rate) > 4*sd || errs.Load()+oks.Load() != n {
		t.Errorf("observed %v, want %v ± %v", got, rate, 4*sd)
	}
}

func TestInjectedErrorShapeAndDelay(t *testing.T) {
	ts := newTestServer(t, Options{Name: "c", ErrorRate: 1, ErrorCode: 418})
	code, r, _ := get(t, ts.URL, nil)
	if code != 418 || r.Code != 418 || r.Error != msgInjected {
		t.Fatalf("got %d %+v", code, r)
	}
	ts = newTestServer(t, Options{Name: "c", ErrorRate: 1, ErrorType: ErrorTypeDelay, ErrorDelay: 50 * time.Millisecond})
	start := time.Now()
	code, r, _ = get(t, ts.URL, nil)
	if el := time.Since(start); code != 500 || r.Error != msgDelay || el < 50*time.Millisecond {
		t.Fatalf("delay error: %d %+v after %v", code, r, el)
	}
}

func TestRateLimit(t *testing.T) {
	ts := newTestServer(t, Options{Name: "c", RateLimitRPS: 5})
	var codes []int
	for range 10 {
		c, _, _ := get(t, ts.URL, nil)
		codes = append(codes, c)
	}
	if n := len(slices.DeleteFunc(slices.Clone(codes), func(c int) bool { return c != 429 })); n < 4 {
		t.Fatalf("expected about 5 of 10 burst requests limited, codes %v", codes)
	}
}

// TestLatencyP50 measures the client-side median with TIMING_50=20ms.
func TestLatencyP50(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	ts := newTestServer(t, Options{Name: "c", Timing50: 20 * time.Millisecond})
	const n = 200
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 10 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= n {
					return
				}
				st := time.Now()
				res, err := http.Get(ts.URL)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				lat[i] = time.Since(st)
			}
		})
	}
	wg.Wait()
	slices.Sort(lat)
	p50, p99 := lat[n/2], lat[n*99/100]
	t.Logf("TIMING_50=20ms: p50 %v, p99 %v, min %v, max %v over %d requests", p50, p99, lat[0], lat[n-1], n)
	if p50 < 20*time.Millisecond || p50 > 30*time.Millisecond {
		t.Fatalf("p50 %v outside [20ms, 30ms]", p50)
	}
}

func TestClientCancelStopsSleep(t *testing.T) {
	s, _ := NewServer(Options{Timing50: 10 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { s.ServeHTTP(rec, req); close(done) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("handler kept sleeping after the client went away")
	}
}

func TestServeStopsOnContext(t *testing.T) {
	s, _ := NewServer(Options{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ctx, l) }()
	code, _, _ := get(t, "http://"+l.Addr().String(), nil)
	if code != 200 {
		t.Fatalf("code %d", code)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Serve did not return")
	}
}
