package dataplane

import (
	"context"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestFaultDrawsPerMillion: percent p aborts when random % 1e6 < p × 1e4.
func TestFaultDrawsPerMillion(t *testing.T) {
	cf := compileFault(&Fault{Abort: &FaultAbort{StatusCode: 503, Percent: 30}, Delay: &FaultDelay{Duration: time.Second, Percent: 0.1}})
	for _, tc := range []struct {
		v     uint64
		abort bool
	}{{0, true}, {299_999, true}, {300_000, false}, {999_999, false}, {1_000_000, true}, {1_299_999, true}} {
		if code, ok := cf.drawAbort(seq(tc.v)); ok != tc.abort || (ok && code != 503) {
			t.Errorf("abort draw %d: %v %d, want %v", tc.v, ok, code, tc.abort)
		}
	}
	for _, tc := range []struct {
		v     uint64
		delay bool
	}{{999, true}, {1000, false}} { // 0.1 % = 1000 per million
		if d, ok := cf.drawDelay(seq(tc.v)); ok != tc.delay || (ok && d != time.Second) {
			t.Errorf("delay draw %d: %v %v, want %v", tc.v, ok, d, tc.delay)
		}
	}
	if compileFault(&Fault{}) != nil || compileFault(nil) != nil {
		t.Fatal("empty fault compiled")
	}
	none := compileFault(&Fault{Abort: &FaultAbort{StatusCode: 500, Percent: 0}})
	all := compileFault(&Fault{Abort: &FaultAbort{StatusCode: 500, Percent: 100}})
	for v := uint64(0); v < 3_000_000; v += 99_991 {
		if _, ok := none.drawAbort(seq(v)); ok {
			t.Fatal("0 % aborted")
		}
		if _, ok := all.drawAbort(seq(v)); !ok {
			t.Fatal("100 % did not abort")
		}
	}
}

// TestFaultDelayAndAbortIndependent: 10000 requests with delay 50 % and
// abort 30 % drawn from PCG(7, 7), delay first: the counts are recorded
// and recomputed independently; both ≈ 15 % (independence).
func TestFaultDelayAndAbortIndependent(t *testing.T) {
	cf := compileFault(&Fault{Abort: &FaultAbort{StatusCode: 503, Percent: 30}, Delay: &FaultDelay{Duration: time.Millisecond, Percent: 50}})
	rnd := rand.New(rand.NewPCG(7, 7)).Uint64
	var delayed, aborted, both int
	for range 10000 {
		_, d := cf.drawDelay(rnd)
		_, a := cf.drawAbort(rnd)
		if d {
			delayed++
		}
		if a {
			aborted++
		}
		if d && a {
			both++
		}
	}
	ref := rand.New(rand.NewPCG(7, 7))
	var rd, ra, rb int
	for range 10000 {
		d := ref.Uint64()%1_000_000 < 500_000
		a := ref.Uint64()%1_000_000 < 300_000
		if d {
			rd++
		}
		if a {
			ra++
		}
		if d && a {
			rb++
		}
	}
	got, want := []int{delayed, aborted, both}, []int{rd, ra, rb}
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(got, []int{5062, 2995, 1530}) {
		t.Fatalf("delayed/aborted/both = %v, independent %v, recorded [5062 2995 1530]", got, want)
	}
}

func TestFaultDelayWaitsOnClock(t *testing.T) {
	clk := newFakeClock()
	start := clk.Now()
	waitDelay(context.Background(), clk, 100*time.Millisecond)
	waitDelay(context.Background(), clk, 0)
	if !reflect.DeepEqual(clk.waits, []time.Duration{100 * time.Millisecond}) || clk.Now().Sub(start) != 100*time.Millisecond {
		t.Fatalf("waits %v", clk.waits)
	}
}

func TestEventGate(t *testing.T) {
	clk := newFakeClock()
	var g eventGate
	if n := g.note(clk.Now()); n != 1 {
		t.Fatalf("first event stands for %d", n)
	}
	for range 99 {
		clk.Advance(10 * time.Millisecond)
		if n := g.note(clk.Now()); n != 0 {
			t.Fatalf("event within the interval (%d)", n)
		}
	}
	clk.Advance(10 * time.Millisecond) // 1 s after the first
	if n := g.note(clk.Now()); n != 100 {
		t.Fatalf("second event stands for %d, want 100", n)
	}
}

// TestIntegrationFaultAbort30: abort 30 % with 503 on a cluster that
// retries 5xx: about 30 % of 2000 requests get 503 "fault filter abort"
// (within 4σ ≈ 82), none of them reaches the upstream or is retried.
func TestIntegrationFaultAbort30(t *testing.T) {
	var hits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	sc := startTestSidecar(t, "api", "currency")
	events, stop := sc.fwd.events.subscribe(EventBufferSize)
	defer stop()
	putConfig(t, sc, Config{Version: 1, Clusters: map[string]Cluster{"currency": {
		Endpoints: []Endpoint{{Name: "currency_v1", Address: up.Listener.Addr().String()}},
		Retry:     &RetryPolicy{NumRetries: 3, RetryOn: []string{"5xx"}, BackoffBase: time.Millisecond},
		Fault:     &Fault{Abort: &FaultAbort{StatusCode: 503, Percent: 30}},
	}}})
	url := "http://" + sc.Addrs().Outbound["currency"] + "/"
	const n, workers = 2000, 4
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	var next, aborts, oks atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= n {
				code, body, _ := get(t, client, url)
				switch {
				case code == 503 && strings.TrimSpace(body) == "fault filter abort":
					aborts.Add(1)
				case code == 200:
					oks.Add(1)
				default:
					t.Errorf("got %d %q", code, body)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	sigma := math.Sqrt(n * 0.3 * 0.7)
	t.Logf("%d of %d aborted (600 ± 4σ = ±%.0f); upstream saw %d", aborts.Load(), n, 4*sigma, hits.Load())
	if aborts.Load()+oks.Load() != n || math.Abs(float64(aborts.Load())-600) > 4*sigma {
		t.Fatalf("aborts %d, oks %d", aborts.Load(), oks.Load())
	}
	if hits.Load() != oks.Load() {
		t.Fatalf("upstream saw %d requests for %d non-aborted", hits.Load(), oks.Load())
	}
	mfs := scrape(t, sc)
	if got := series(mfs[MetricFaults])["cluster=currency,kind=abort"]; got != float64(aborts.Load()) {
		t.Fatalf("%s = %v, want %d", MetricFaults, got, aborts.Load())
	}
	var attempts float64
	for _, v := range series(mfs[MetricUpstreamRequests]) {
		attempts += v
	}
	if attempts != float64(oks.Load()) || len(series(mfs[MetricUpstreamRetries])) != 0 {
		t.Fatalf("attempts %v for %d non-aborted, retries %v", attempts, oks.Load(), series(mfs[MetricUpstreamRetries]))
	}
	// Gated events: at most one per second, their counts add up.
	var nev, sum int64
	for len(events) > 0 {
		if e := <-events; e.Kind == EventFaultAbort {
			nev++
			sum += e.Count
			if e.Cluster != "currency" || e.StatusCode != 503 {
				t.Fatalf("event %+v", e)
			}
		}
	}
	pending := sc.fwd.cfg.Load().clusters["currency"].pol.fault.eventGates[faultAbort].pending.Load()
	if nev < 1 || nev > int64(elapsed/FaultEventInterval)+1 || sum+pending != aborts.Load() {
		t.Fatalf("%d fault_abort events for %d aborts (counts %d + pending %d) in %v", nev, aborts.Load(), sum, pending, elapsed)
	}
	// The configured status is used.
	putConfig(t, sc, Config{Version: 2, Clusters: map[string]Cluster{"currency": {
		Endpoints: []Endpoint{{Name: "currency_v1", Address: up.Listener.Addr().String()}},
		Fault:     &Fault{Abort: &FaultAbort{StatusCode: 418, Percent: 100}},
	}}})
	before := hits.Load()
	for range 10 {
		if code, _, _ := get(t, client, url); code != 418 {
			t.Fatalf("got %d, want 418", code)
		}
	}
	if hits.Load() != before {
		t.Fatal("aborted requests reached the upstream")
	}
}

// TestIntegrationFaultDelayAndRouteTimeout: the delay runs before the
// router, so it does not count against the route timeout (Envoy arms the
// route timeout in the router, after the fault filter): a 60 ms delay with
// a 30 ms route timeout and a fast upstream answers 200 after ≥ 60 ms; a
// 20 ms delay before a 100 ms upstream under a 50 ms route timeout answers
// 504 after about 20 + 50 ms.
func TestIntegrationFaultDelayAndRouteTimeout(t *testing.T) {
	slow := atomic.Bool{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slow.Load() {
			select {
			case <-time.After(100 * time.Millisecond):
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	sc := startTestSidecar(t, "api", "currency")
	push := func(v int64, delay, timeout time.Duration) {
		putConfig(t, sc, Config{Version: v, Clusters: map[string]Cluster{"currency": {
			Endpoints: []Endpoint{{Name: "currency_v1", Address: up.Listener.Addr().String()}},
			Fault:     &Fault{Delay: &FaultDelay{Duration: delay, Percent: 100}},
			Timeout:   timeout,
		}}})
	}
	url := "http://" + sc.Addrs().Outbound["currency"] + "/"
	push(1, 60*time.Millisecond, 30*time.Millisecond)
	start := time.Now()
	code, _, _ := get(t, http.DefaultClient, url)
	el := time.Since(start)
	if code != 200 || el < 60*time.Millisecond {
		t.Fatalf("delay 60ms, timeout 30ms: %d after %v; want 200 after ≥ 60ms", code, el)
	}
	slow.Store(true)
	push(2, 20*time.Millisecond, 50*time.Millisecond)
	start = time.Now()
	code, _, _ = get(t, http.DefaultClient, url)
	el2 := time.Since(start)
	t.Logf("delay 60ms + timeout 30ms: 200 after %v; delay 20ms + timeout 50ms + 100ms upstream: %d after %v", el, code, el2)
	if code != 504 || el2 < 70*time.Millisecond || el2 > 150*time.Millisecond {
		t.Fatalf("got %d after %v; want 504 after about 70ms", code, el2)
	}
	mfs := scrape(t, sc)
	if got := series(mfs[MetricFaults])["cluster=currency,kind=delay"]; got != 2 {
		t.Fatalf("%s = %v", MetricFaults, series(mfs[MetricFaults]))
	}
	if got := series(mfs[MetricRouteTimeouts])["cluster=currency"]; got != 1 {
		t.Fatalf("%s = %v", MetricRouteTimeouts, got)
	}
}
