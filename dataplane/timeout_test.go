package dataplane

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRouteTimeoutFiresExactly: an attempt that takes 50 ms on the fake
// clock under a 50 ms route timeout ends the request at exactly 50 ms with
// a route timeout and no retry, although the policy has 3 retries on 5xx.
func TestRouteTimeoutFiresExactly(t *testing.T) {
	clk := newFakeClock()
	c := mustCompile(t, &RetryPolicy{NumRetries: 3, RetryOn: []string{"5xx"}})
	rs := c.Start(seq(0))
	h := &scriptHandler{clk: clk, outcomes: make([]Outcome, 4), slow: map[int]time.Duration{1: 50 * time.Millisecond}}
	start := clk.Now()
	res, timedOut := runWithTimeout(context.Background(), clk, 50*time.Millisecond, NewRoundRobin(1), &rs, h)
	if !timedOut || res.Outcome.Failure != FailureCanceled || res.Attempts != 1 || len(h.retries) != 0 {
		t.Fatalf("result %+v timedOut %v retries %v; want a route timeout after 1 attempt", res, timedOut, h.retries)
	}
	if el := clk.Now().Sub(start); el != 50*time.Millisecond {
		t.Fatalf("ended at %v on the fake clock, want 50ms", el)
	}
	// 1 ns earlier the answer gets through, and the stopped timer never fires.
	rs = c.Start(seq(0))
	h = &scriptHandler{clk: clk, outcomes: []Outcome{{StatusCode: 200}}, slow: map[int]time.Duration{1: 50*time.Millisecond - 1}}
	res, timedOut = runWithTimeout(context.Background(), clk, 50*time.Millisecond, NewRoundRobin(1), &rs, h)
	if timedOut || res.Outcome.StatusCode != 200 {
		t.Fatalf("result %+v timedOut %v", res, timedOut)
	}
	clk.Advance(time.Second)
	// No timeout: runRouter as is.
	rs = c.Start(seq(0))
	h = &scriptHandler{clk: clk, outcomes: []Outcome{{StatusCode: 200}}, slow: map[int]time.Duration{1: time.Hour}}
	if res, timedOut = runWithTimeout(context.Background(), clk, 0, NewRoundRobin(1), &rs, h); timedOut || res.Outcome.StatusCode != 200 {
		t.Fatalf("no timeout: %+v %v", res, timedOut)
	}
}

// TestRouteTimeoutDuringBackoff: the route timeout firing during the
// back-off ends the request; no further attempt starts.
func TestRouteTimeoutDuringBackoff(t *testing.T) {
	for range 20 { // the back-off timer and ctx end together: either select arm must stop
		clk := newFakeClock()
		c := mustCompile(t, &RetryPolicy{NumRetries: 3, RetryOn: []string{"5xx"}, BackoffBase: 50 * time.Millisecond})
		rs := c.Start(seq(40)) // 40 ms back-off
		h := &scriptHandler{clk: clk, outcomes: []Outcome{{StatusCode: 503}, {StatusCode: 200}}}
		res, timedOut := runWithTimeout(context.Background(), clk, 30*time.Millisecond, NewRoundRobin(2), &rs, h)
		if !timedOut || len(h.endpoints) != 1 || res.Attempts != 1 {
			t.Fatalf("result %+v timedOut %v attempts %v; want a timeout and no 2nd attempt", res, timedOut, h.endpoints)
		}
	}
}

// TestPerTryAndRouteTimeoutCompose: per-try 25 ms under a 50 ms route
// timeout, every attempt hanging: attempt 1 times out at 25 ms and is
// retried at once (back-off 0), attempt 2 is cut by the route timeout at
// exactly 50 ms, which wins over its per-try timeout firing at the same
// instant: 504 route timeout, one retry.
func TestPerTryAndRouteTimeoutCompose(t *testing.T) {
	clk := newFakeClock()
	c := mustCompile(t, &RetryPolicy{NumRetries: 5, RetryOn: []string{"5xx"}, PerTryTimeout: 25 * time.Millisecond})
	c = effectivePerTry(c, 50*time.Millisecond)
	rs := c.Start(seq(0))
	slow := map[int]time.Duration{}
	for i := 1; i <= 6; i++ {
		slow[i] = 25 * time.Millisecond
	}
	h := &scriptHandler{clk: clk, outcomes: make([]Outcome, 6), slow: slow}
	start := clk.Now()
	res, timedOut := runWithTimeout(context.Background(), clk, 50*time.Millisecond, NewRoundRobin(1), &rs, h)
	if !timedOut || res.Attempts != 2 || len(h.retries) != 1 || !strings.Contains(h.retries[0], "per_try_timeout") {
		t.Fatalf("result %+v timedOut %v retries %q", res, timedOut, h.retries)
	}
	if el := clk.Now().Sub(start); el != 50*time.Millisecond {
		t.Fatalf("ended at %v, want 50ms", el)
	}
}

func TestPerTryNotBelowRouteIsIgnored(t *testing.T) {
	p := mustCompile(t, &RetryPolicy{NumRetries: 1, RetryOn: []string{"5xx"}, PerTryTimeout: 100 * time.Millisecond})
	if q := effectivePerTry(p, 100*time.Millisecond); q == p || q.PerTryTimeout != 0 || p.PerTryTimeout != 100*time.Millisecond {
		t.Fatalf("per-try = route: %+v (original %v)", q, p.PerTryTimeout)
	}
	if q := effectivePerTry(p, 101*time.Millisecond); q != p {
		t.Fatal("per-try below the route timeout changed")
	}
	if q := effectivePerTry(p, 0); q != p {
		t.Fatal("no route timeout changed the per-try timeout")
	}
	rc, err := compileConfig(Config{Clusters: map[string]Cluster{"c": {
		Endpoints: []Endpoint{{Name: "c1", Address: "127.0.0.1:1"}},
		Retry:     &RetryPolicy{NumRetries: 1, RetryOn: []string{"5xx"}, PerTryTimeout: 2 * time.Second},
		Timeout:   time.Second,
	}}}, newFakeClock(), seq(0))
	if err != nil {
		t.Fatal(err)
	}
	if cr := rc.clusters["c"]; cr.retry.PerTryTimeout != 0 || rc.cfg.Clusters["c"].Retry.PerTryTimeout != 2*time.Second {
		t.Fatalf("compiled per-try %v (config keeps %v)", cr.retry.PerTryTimeout, rc.cfg.Clusters["c"].Retry.PerTryTimeout)
	}
}

// TestIntegrationRouteTimeout: an upstream answering in 200 ms behind a
// 50 ms route timeout: the caller gets 504 "upstream request timeout" after
// about 50 ms, one attempt only (the 5xx retry policy does not retry a
// route timeout), counted in meshgym_route_timeouts_total.
func TestIntegrationRouteTimeout(t *testing.T) {
	var n atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		select {
		case <-time.After(200 * time.Millisecond):
		case <-r.Context().Done():
		}
	}))
	defer up.Close()
	sc := startTestSidecar(t, "api", "currency")
	events, stop := sc.fwd.events.subscribe(16)
	defer stop()
	putConfig(t, sc, Config{Version: 1, Clusters: map[string]Cluster{"currency": {
		Endpoints: []Endpoint{{Name: "currency_v1", Address: up.Listener.Addr().String()}},
		Retry:     &RetryPolicy{NumRetries: 3, RetryOn: []string{"5xx"}, BackoffBase: time.Millisecond},
		Timeout:   50 * time.Millisecond,
	}}})
	start := time.Now()
	code, body, _ := get(t, http.DefaultClient, "http://"+sc.Addrs().Outbound["currency"]+"/")
	el := time.Since(start)
	t.Logf("504 after %v", el)
	if code != 504 || strings.TrimSpace(body) != "upstream request timeout" {
		t.Fatalf("got %d %q", code, body)
	}
	if el < 50*time.Millisecond || el > 150*time.Millisecond {
		t.Fatalf("answered after %v, want about 50ms", el)
	}
	if n.Load() != 1 {
		t.Fatalf("upstream saw %d attempts, want 1", n.Load())
	}
	mfs := scrape(t, sc)
	if got := series(mfs[MetricRouteTimeouts])["cluster=currency"]; got != 1 {
		t.Fatalf("%s = %v", MetricRouteTimeouts, got)
	}
	if got := series(mfs[MetricUpstreamRetries]); len(got) != 0 {
		t.Fatalf("retries %v", got)
	}
	for len(events) > 0 {
		if e := <-events; e.Kind == EventRouteTimeout {
			if e.Cluster != "currency" || e.StatusCode != 504 || e.Attempt != 1 {
				t.Fatalf("event %+v", e)
			}
			return
		}
	}
	t.Fatal("no route_timeout event")
}

// TestIntegrationPerTryUnderRouteTimeout: per-try 30 ms under a 100 ms
// route timeout with a hanging upstream: attempts are cut at 30 ms and
// retried until the route timeout answers 504 at about 100 ms.
func TestIntegrationPerTryUnderRouteTimeout(t *testing.T) {
	up, n := hangingUpstream(t)
	sc := startTestSidecar(t, "api", "currency")
	putConfig(t, sc, Config{Version: 1, Clusters: map[string]Cluster{"currency": {
		Endpoints: []Endpoint{{Name: "currency_v1", Address: up.Listener.Addr().String()}},
		Retry: &RetryPolicy{NumRetries: 10, RetryOn: []string{"5xx"}, PerTryTimeout: 30 * time.Millisecond,
			BackoffBase: time.Millisecond},
		Timeout: 100 * time.Millisecond,
	}}})
	start := time.Now()
	code, _, _ := get(t, http.DefaultClient, "http://"+sc.Addrs().Outbound["currency"]+"/")
	el := time.Since(start)
	mfs := scrape(t, sc)
	perTry := series(mfs[MetricUpstreamRetries])["cluster=currency,reason=per_try_timeout"]
	t.Logf("504 after %v; %d attempts, %v per-try timeouts retried", el, n.Load(), perTry)
	if code != 504 || el < 100*time.Millisecond || el > 250*time.Millisecond {
		t.Fatalf("got %d after %v", code, el)
	}
	if n.Load() < 2 || n.Load() > 4 || perTry < 1 {
		t.Fatalf("%d attempts, %v per-try retries; want 2-4 attempts of 30ms in 100ms", n.Load(), perTry)
	}
	if got := series(mfs[MetricRouteTimeouts])["cluster=currency"]; got != 1 {
		t.Fatalf("%s = %v", MetricRouteTimeouts, got)
	}
}
