package dataplane

import (
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func bucketAdmits(b *TokenBucket, tries int) int {
	n := 0
	for range tries {
		if b.Allow() {
			n++
		}
	}
	return n
}

// TestTokenBucketExact: 50 rps, burst 5 on the fake clock admits exactly 5
// at once, then exactly rate × t.
func TestTokenBucketExact(t *testing.T) {
	ms := time.Millisecond
	clk := newFakeClock()
	b := NewTokenBucket(50, 5, clk)
	if got := bucketAdmits(b, 100); got != 5 {
		t.Fatalf("full bucket admitted %d, want the burst 5", got)
	}
	clk.Advance(100 * ms)
	if got := bucketAdmits(b, 100); got != 5 {
		t.Fatalf("after 100ms admitted %d, want 50/s × 0.1s = 5", got)
	}
	clk.Advance(19 * ms)
	if got := bucketAdmits(b, 10); got != 0 {
		t.Fatalf("after 19ms admitted %d, want 0 (one token per 20ms)", got)
	}
	clk.Advance(ms)
	if got := bucketAdmits(b, 10); got != 1 {
		t.Fatalf("after 20ms admitted %d, want 1", got)
	}
	clk.Advance(10 * time.Second)
	if b.Tokens() != 5 {
		t.Fatalf("tokens after a long idle = %d, want the burst 5", b.Tokens())
	}
	if got := bucketAdmits(b, 100); got != 5 {
		t.Fatalf("after 10s idle admitted %d, want 5 (the bucket caps at the burst)", got)
	}
	// A request every 1 ms for 2 s: 5 + ⌊1999 ms / 20 ms⌋ = 104.
	b = NewTokenBucket(50, 5, clk)
	n := 0
	for i := range 2000 {
		if i > 0 {
			clk.Advance(ms)
		}
		if b.Allow() {
			n++
		}
	}
	if n != 104 {
		t.Fatalf("2000 requests 1ms apart: admitted %d, want 104", n)
	}
}

func TestTokenBucketDefaultsAndConcurrency(t *testing.T) {
	clk := newFakeClock()
	if b := NewTokenBucket(2.5, 0, clk); b.burst != 2 || b.interval != int64(400*time.Millisecond) {
		t.Fatalf("rate 2.5: burst %d interval %v", b.burst, time.Duration(b.interval))
	}
	b := NewTokenBucket(0.5, 0, clk)
	if got := bucketAdmits(b, 5); got != 1 {
		t.Fatalf("rate 0.5 burst 1: admitted %d", got)
	}
	clk.Advance(1999 * time.Millisecond)
	if b.Allow() {
		t.Fatal("a token before 2s at 0.5/s")
	}
	clk.Advance(time.Millisecond)
	if !b.Allow() {
		t.Fatal("no token after 2s at 0.5/s")
	}
	// 8 goroutines race for a bucket of 100 at one instant: exactly 100.
	b = NewTokenBucket(1, 100, clk)
	var got atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got.Add(int64(bucketAdmits(b, 1000)))
		}()
	}
	wg.Wait()
	if got.Load() != 100 {
		t.Fatalf("concurrent admitted %d, want 100", got.Load())
	}
}

// TestRateLimitStateKeptAcrossPushes: a push that leaves the rate limit
// unchanged keeps the bucket (no refill); changing it makes a new one.
func TestRateLimitStateKeptAcrossPushes(t *testing.T) {
	clk := newFakeClock()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer app.Close()
	sc, err := Start(Options{Name: "currency_v1", AdminAddr: "127.0.0.1:0", InboundAddr: "127.0.0.1:0",
		AppAddr: app.Listener.Addr().String(), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	c := Config{Version: 1, Inbound: &InboundPolicy{RateLimit: &RateLimit{RequestsPerSecond: 1, Burst: 3}}}
	if err := sc.ApplyConfig(c); err != nil {
		t.Fatal(err)
	}
	b := sc.fwd.cfg.Load().inbound.bucket
	bucketAdmits(b, 2)
	c.Version = 2
	if err := sc.ApplyConfig(c); err != nil {
		t.Fatal(err)
	}
	if nb := sc.fwd.cfg.Load().inbound.bucket; nb != b || nb.Tokens() != 1 {
		t.Fatalf("bucket replaced or refilled by an unrelated push (tokens %d)", nb.Tokens())
	}
	c.Version, c.Inbound.RateLimit.Burst = 3, 4
	if err := sc.ApplyConfig(c); err != nil {
		t.Fatal(err)
	}
	if nb := sc.fwd.cfg.Load().inbound.bucket; nb == b || nb.Tokens() != 4 {
		t.Fatalf("changed rate limit kept the old bucket")
	}
	if got, _ := sc.Config(); got.Inbound == nil || got.Inbound.RateLimit.Burst != 4 {
		t.Fatalf("GET config lost the inbound policy: %+v", got.Inbound)
	}
}

// TestIntegrationInboundRateLimit: 50 rps, burst 5 in front of the app,
// requests sent at 100/s for 1 s: about 5 + 50 × T are admitted and the
// rest (about 45 %) get 429 with x-envoy-ratelimited, without reaching the
// app, counted in meshgym_requests_total and meshgym_ratelimited_total.
func TestIntegrationInboundRateLimit(t *testing.T) {
	var appHits atomic.Int64
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		appHits.Add(1)
		io.WriteString(w, "ok")
	}))
	defer app.Close()
	sc, err := Start(Options{Name: "currency_v1", AdminAddr: "127.0.0.1:0", InboundAddr: "127.0.0.1:0", AppAddr: app.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	putConfig(t, sc, Config{Version: 1, Inbound: &InboundPolicy{RateLimit: &RateLimit{RequestsPerSecond: 50, Burst: 5}}})
	url := "http://" + sc.Addrs().Inbound + "/"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var ok, limited int
	start := time.Now()
	var last time.Time
	for time.Since(start) < time.Second {
		last = time.Now()
		code, body, h := get(t, client, url)
		switch code {
		case 200:
			ok++
		case 429:
			limited++
			if h.Get("X-Envoy-Ratelimited") != "true" || strings.TrimSpace(body) != "local_rate_limited" {
				t.Fatalf("429 without the header or body: %v %q", h, body)
			}
		default:
			t.Fatalf("got %d", code)
		}
		<-tick.C
	}
	span := last.Sub(start).Seconds()
	total := ok + limited
	want := 5 + 50*span
	share, wantShare := float64(limited)/float64(total), 1-want/float64(total)
	t.Logf("%d requests over %.3fs: %d admitted (5 + 50×T = %.1f), 429 share %.3f (expected %.3f)", total, span, ok, want, share, wantShare)
	// Upper bound: burst + rate × elapsed (+1 for the token in progress).
	// Lower bound: the same minus tokens wasted if the client stalled.
	if float64(ok) > want+1 || float64(ok) < 50*span-1 || math.Abs(share-wantShare) > 0.06 {
		t.Errorf("admitted %d of %d, want about %.1f", ok, total, want)
	}
	if appHits.Load() != int64(ok) {
		t.Errorf("app saw %d requests, %d were admitted", appHits.Load(), ok)
	}
	mfs := scrape(t, sc)
	reqs := series(mfs[MetricRequests])
	if reqs["attempt=1,direction=inbound,name=currency_v1,status_code=429"] != float64(limited) ||
		reqs["attempt=1,direction=inbound,name=currency_v1,status_code=200"] != float64(ok) {
		t.Errorf("%s = %v; want %d 429 and %d 200", MetricRequests, reqs, limited, ok)
	}
	if got := series(mfs[MetricRateLimited])["name=currency_v1"]; got != float64(limited) {
		t.Errorf("%s = %v, want %d", MetricRateLimited, got, limited)
	}
}

// TestIntegration429RetriedOnlyWithRetriableStatusCodes: a caller retries
// the callee's rate-limit 429 only under retriable-status-codes with 429;
// 5xx, gateway-error, reset and retriable-4xx (409 only) leave it alone.
func TestIntegration429RetriedOnlyWithRetriableStatusCodes(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer app.Close()
	callee, err := Start(Options{Name: "currency_v1", AdminAddr: "127.0.0.1:0", InboundAddr: "127.0.0.1:0", AppAddr: app.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer callee.Close()
	// One token, then one per 1000 s: everything after the first request is 429.
	putConfig(t, callee, Config{Version: 1, Inbound: &InboundPolicy{RateLimit: &RateLimit{RequestsPerSecond: 0.001, Burst: 1}}})
	caller := startTestSidecar(t, "frontend", "currency")
	url := "http://" + caller.Addrs().Outbound["currency"] + "/"
	push := func(v int64, p *RetryPolicy) {
		putConfig(t, caller, Config{Version: v, Clusters: map[string]Cluster{"currency": {
			Endpoints: []Endpoint{{Name: "currency_v1", Address: callee.Addrs().Inbound}}, Retry: p}}})
	}
	push(1, nil)
	if code, _, _ := get(t, http.DefaultClient, url); code != 200 {
		t.Fatalf("first request: %d", code)
	}
	push(2, &RetryPolicy{NumRetries: 3, RetryOn: []string{"5xx", "gateway-error", "reset", "retriable-4xx"}, BackoffBase: time.Millisecond})
	if code, _, _ := get(t, http.DefaultClient, url); code != 429 {
		t.Fatalf("got %d, want 429", code)
	}
	in := series(scrape(t, callee)[MetricRequests])
	if in["attempt=1,direction=inbound,name=currency_v1,status_code=429"] != 1 || in["attempt=2,direction=inbound,name=currency_v1,status_code=429"] != 0 {
		t.Fatalf("without retriable-status-codes the callee saw %v; want one 429 attempt", in)
	}
	push(3, &RetryPolicy{NumRetries: 2, RetryOn: []string{"retriable-status-codes"}, RetriableStatusCodes: []int{429}, BackoffBase: time.Millisecond})
	if code, _, _ := get(t, http.DefaultClient, url); code != 429 {
		t.Fatalf("got %d, want 429", code)
	}
	in = series(scrape(t, callee)[MetricRequests])
	for a, want := range map[string]float64{"1": 2, "2": 1, "3": 1} {
		if got := in["attempt="+a+",direction=inbound,name=currency_v1,status_code=429"]; got != want {
			t.Errorf("callee 429s with attempt %s = %v, want %v (all: %v)", a, got, want, in)
		}
	}
	mfs := scrape(t, caller)
	if r := series(mfs[MetricUpstreamRetries])["cluster=currency,reason=status_code"]; r != 2 {
		t.Errorf("caller retries %v, want 2", r)
	}
	if u := series(mfs[MetricUpstreamRetryLimitExceeded])["cluster=currency"]; u != 1 {
		t.Errorf("caller URX %v, want 1", u)
	}
	if got := series(scrape(t, callee)[MetricRateLimited])["name=currency_v1"]; got != 4 {
		t.Errorf("callee rate-limited %v, want 4", got)
	}
}
