package dataplane

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestEnvoyRetryBudgetMax(t *testing.T) {
	for _, tc := range []struct {
		active  int64
		percent float64
		min     int64
		want    int64
	}{
		{0, 20, 3, 3},
		{10, 20, 3, 3},   // 20 % of 10 = 2 < 3
		{20, 20, 3, 4},   // 4
		{24, 20, 3, 4},   // 4.8 truncated, as Envoy's uint64 conversion
		{25, 20, 3, 5},   // 5
		{100, 20, 3, 20}, // 20
		{100, 0, 3, 3},   // percent 0: only the minimum
		{7, 50, 1, 3},    // 3.5 → 3
		{1000, 100, 0, 1000},
		{-5, 20, 3, 3},
	} {
		if got := EnvoyRetryBudgetMax(tc.active, tc.percent, tc.min); got != tc.want {
			t.Errorf("EnvoyRetryBudgetMax(%d, %v, %d) = %d, want %d", tc.active, tc.percent, tc.min, got, tc.want)
		}
	}
}

// drawCounter counts draws of an underlying source.
type drawCounter struct {
	n   int
	src func() uint64
}

func (c *drawCounter) next() uint64 { c.n++; return c.src() }

// TestMaxRetriesCapOrder plays 20 requests whose first attempts all fail
// before any retry is decided, on a cluster with max_retries 3 and
// num_retries 3: exactly 3 get a retry slot (and keep it through their 3
// retries), 17 overflow at their first decision; 20 + 3×3 = 29 attempts.
func TestMaxRetriesCapOrder(t *testing.T) {
	c := mustCompile(t, &RetryPolicy{NumRetries: 3, RetryOn: []string{"5xx"}})
	lim := newRetryLimiter(Cluster{MaxRetries: 3})
	if lim == nil || lim.reason != OverflowMaxRetries {
		t.Fatalf("limiter %+v", lim)
	}
	src := &drawCounter{src: seq(7)}
	fail := Outcome{StatusCode: 503}
	reqs := make([]RetryState, 20)
	for i := range reqs {
		reqs[i] = c.Start(src.next)
		reqs[i].limit = lim
	}
	attempts := 20
	var granted, overflow []int
	for i := range reqs {
		switch d, _ := reqs[i].ShouldRetry(fail); d {
		case Retry:
			granted = append(granted, i)
		case RetryOverflow:
			overflow = append(overflow, i)
			// Step 3 came before step 4: the retry was used up anyway.
			if reqs[i].Remaining() != 2 {
				t.Fatalf("request %d: remaining %d after overflow, want 2", i, reqs[i].Remaining())
			}
		default:
			t.Fatalf("request %d: %v", i, d)
		}
	}
	if len(granted) != 3 || len(overflow) != 17 || lim.retries.Load() != 3 {
		t.Fatalf("granted %v, overflow %d, in flight %d; want 3, 17, 3", granted, len(overflow), lim.retries.Load())
	}
	// The back-off is drawn only for granted retries.
	if src.n != 3 {
		t.Fatalf("back-off draws = %d, want 3 (none on overflow)", src.n)
	}
	for _, i := range overflow {
		reqs[i].endRetries() // holds nothing
	}
	// Each holder's retries fail: it releases its slot and takes it again
	// (Envoy resetRetry then canCreate), until URX.
	for _, i := range granted {
		for k := 1; k <= 3; k++ {
			attempts++
			d, _ := reqs[i].ShouldRetry(fail)
			want := Retry
			if k == 3 {
				want = RetryLimitExceeded
			}
			if d != want {
				t.Fatalf("request %d retry %d: %v, want %v", i, k, d, want)
			}
			if n := lim.retries.Load(); n > 3 {
				t.Fatalf("%d retries in flight, cap 3", n)
			}
		}
		reqs[i].endRetries()
	}
	if attempts != 29 || lim.retries.Load() != 0 {
		t.Fatalf("attempts %d, in flight %d; want 29, 0", attempts, lim.retries.Load())
	}
	// Not retriable and URX leave the breaker alone.
	r := c.Start(seq(0))
	r.limit = lim
	if d, _ := r.ShouldRetry(Outcome{StatusCode: 200}); d != NoRetry || lim.retries.Load() != 0 {
		t.Fatalf("200: %v, in flight %d", d, lim.retries.Load())
	}
	c0 := mustCompile(t, &RetryPolicy{NumRetries: 0, RetryOn: []string{"5xx"}})
	r = c0.Start(seq(0))
	r.limit = lim
	for range 3 {
		lim.retries.Add(1) // breaker full
	}
	if d, _ := r.ShouldRetry(fail); d != RetryLimitExceeded {
		t.Fatalf("no retries left and breaker full: %v, want URX (step 2 before step 4)", d)
	}
}

func TestEnvoyBudgetAdmission(t *testing.T) {
	c := mustCompile(t, &RetryPolicy{NumRetries: 5, RetryOn: []string{"5xx"}})
	lim := newRetryLimiter(Cluster{MaxRetries: 1, RetryBudget: &RetryBudget{Kind: BudgetEnvoy}}) // budget overrides max_retries
	if lim.kind != limitEnvoyBudget || lim.budgetPercent != 20 || lim.minConcurrency != 3 {
		t.Fatalf("defaults: %+v", lim)
	}
	fail := Outcome{StatusCode: 500}
	start := func() *RetryState { r := c.Start(seq(0)); r.limit = lim; return &r }
	// 19 other attempts in flight + the one decided = 20 active → max(3, 4) = 4.
	lim.active.Store(19)
	var rs []*RetryState
	for i := range 5 {
		r := start()
		d, _ := r.ShouldRetry(fail)
		want := Retry
		if i == 4 {
			want = RetryOverflow
		}
		if d != want {
			t.Fatalf("request %d with 20 active: %v, want %v", i, d, want)
		}
		rs = append(rs, r)
	}
	// Load drops to 10 active → max(3, 2) = 3 while 4 retries are in
	// flight: a holder deciding again releases its slot and then finds
	// 3 ≥ 3, so it overflows (Envoy decrements before canCreate).
	lim.active.Store(9)
	if d, _ := rs[0].ShouldRetry(fail); d != RetryOverflow {
		t.Fatalf("holder with shrunk budget: %v, want overflow", d)
	}
	if lim.retries.Load() != 3 {
		t.Fatalf("in flight %d, want 3", lim.retries.Load())
	}
	// 100 active, percent 50 → 50.
	lim2 := newRetryLimiter(Cluster{RetryBudget: &RetryBudget{Kind: BudgetEnvoy, BudgetPercent: 50, MinRetryConcurrency: 1}})
	lim2.active.Store(99)
	n := 0
	for range 60 {
		r := c.Start(seq(0))
		r.limit = lim2
		if d, _ := r.ShouldRetry(fail); d == Retry {
			n++
		}
	}
	if n != 50 {
		t.Fatalf("granted %d with 100 active at 50%%, want 50", n)
	}
}

func TestTPSBudgetConstruction(t *testing.T) {
	clk := newFakeClock()
	for _, tc := range []struct {
		ratio                 float32
		minRPS                uint32
		ttl                   time.Duration
		dep, wd, reserve, win int64
	}{
		{0.2, 10, 10 * time.Second, 1, 5, 500, int64(time.Second)}, // Linkerd defaults
		{0.3, 1, 10 * time.Second, 1, 3, 30, int64(time.Second)},   // 1/0.3 = 3.33 → 3
		{0.6, 1, 10 * time.Second, 1, 1, 10, int64(time.Second)},   // 1/0.6 = 1.67 → 1: ratio 1
		{1, 0, time.Second, 1, 1, 0, int64(100 * time.Millisecond)},
		{2, 3, 2500 * time.Millisecond, 1000, 500, 3000, int64(250 * time.Millisecond)}, // ⌊2.5 s⌋ = 2
		{0, 5, time.Second, 0, 1, 5, int64(100 * time.Millisecond)},
	} {
		b := newTPSBudget(tc.ttl, tc.minRPS, tc.ratio, clk)
		if b.depositAmt != tc.dep || b.wdAmt != tc.wd || b.reserve != tc.reserve || int64(b.window) != tc.win {
			t.Errorf("ratio %v min %d ttl %v: deposit %d withdraw %d reserve %d window %v; want %d %d %d %v",
				tc.ratio, tc.minRPS, tc.ttl, b.depositAmt, b.wdAmt, b.reserve, b.window, tc.dep, tc.wd, tc.reserve, time.Duration(tc.win))
		}
	}
}

// TestTPSBudgetTowerCases are tower's own tps_budget.rs tests on the fake
// clock.
func TestTPSBudgetTowerCases(t *testing.T) {
	ms := time.Millisecond
	t.Run("empty", func(t *testing.T) {
		b := newTPSBudget(time.Second, 0, 1.0, newFakeClock())
		if b.withdraw() {
			t.Fatal("withdrew from an empty budget")
		}
	})
	t.Run("leaky", func(t *testing.T) {
		clk := newFakeClock()
		b := newTPSBudget(time.Second, 0, 1.0, clk)
		b.deposit()
		clk.Advance(3 * time.Second)
		if b.withdraw() {
			t.Fatal("a deposit older than the TTL still counts")
		}
	})
	t.Run("slots", func(t *testing.T) {
		clk := newFakeClock()
		b := newTPSBudget(time.Second, 0, 0.5, clk)
		b.deposit()
		b.deposit()
		clk.Advance(901 * ms)
		if !b.withdraw() {
			t.Fatal("900ms later, the deposits should still be valid")
		}
		clk.Advance(2001 * ms)
		b.deposit()
		clk.Advance(301 * ms)
		b.deposit()
		clk.Advance(801 * ms)
		b.deposit()
		if !b.withdraw() {
			t.Fatal("the 2nd and 3rd deposits should allow a withdrawal")
		}
		if b.withdraw() {
			t.Fatal("only one withdrawal of 2 from a balance of 2")
		}
	})
	t.Run("reserve", func(t *testing.T) {
		b := newTPSBudget(time.Second, 5, 1.0, newFakeClock())
		for i := range 5 {
			if !b.withdraw() {
				t.Fatalf("withdrawal %d refused", i+1)
			}
		}
		if b.withdraw() {
			t.Fatal("6th withdrawal allowed from a reserve of 5")
		}
	})
}

// TestLinkerdBudgetArithmetic: Linkerd defaults (ratio 0.2, 10/s, 10 s):
// 100 retries from the reserve, then one retry per 5 outcomes not retried;
// a retry ages out of the window after the TTL.
func TestLinkerdBudgetArithmetic(t *testing.T) {
	clk := newFakeClock()
	c := mustCompile(t, &RetryPolicy{NumRetries: 1, RetryOn: []string{"5xx"}})
	lim := newRetryLimiter(Cluster{MaxRetries: 2, RetryBudget: &RetryBudget{Kind: BudgetLinkerd}})
	rc := &runtimeConfig{clusters: map[string]*clusterRuntime{"c": {pol: &clusterPolicy{limiter: lim,
		limitCfg: limitConfig{hasBudget: true, budget: RetryBudget{Kind: BudgetLinkerd}}}}}}
	attachPolicies(rc, nil, clk)
	if lim.tps == nil || lim.tps.reserve != 500 || lim.tps.wdAmt != 5 {
		t.Fatalf("budget %+v", lim.tps)
	}
	decide := func(o Outcome) Decision {
		r := c.Start(seq(0))
		r.limit = lim
		d, _ := r.ShouldRetry(o)
		r.endRetries()
		return d
	}
	fail, ok := Outcome{StatusCode: 503}, Outcome{StatusCode: 200}
	granted := 0
	for decide(fail) == Retry {
		granted++
		if granted > 1000 {
			t.Fatal("no limit")
		}
	}
	if granted != 100 {
		t.Fatalf("retries from the reserve = %d, want 10/s × 10 s = 100", granted)
	}
	for range 4 {
		decide(ok) // deposits 1 each
	}
	if d := decide(fail); d != RetryOverflow {
		t.Fatalf("after 4 successes: %v, want overflow (withdraw needs 5)", d)
	}
	decide(ok)
	if d := decide(fail); d != Retry {
		t.Fatalf("after 5 successes: %v, want retry", d)
	}
	if d := decide(fail); d != RetryOverflow {
		t.Fatalf("%v, want overflow", d)
	}
	// After the TTL every withdrawal and deposit has aged out: the reserve
	// allows 100 again.
	clk.Advance(10*time.Second + time.Millisecond)
	granted = 0
	for decide(fail) == Retry {
		granted++
	}
	if granted != 100 {
		t.Fatalf("after the TTL: %d retries, want 100", granted)
	}
}

// TestIntegrationMaxRetriesStorm: 20 concurrent requests to an endpoint
// that always fails, num_retries 3, max_retries 3. The first attempts are
// held until all 20 have arrived, then fail together; retries take 200 ms.
// So the 20 first failures are decided while the three slot holders are
// busy: exactly 3 requests retry (3 times each), 17 overflow (UO) at once
// and get the upstream's original 503. Exact bound: attempts = 20 + 3×3 =
// 29, and never more than 3 retries in flight.
func TestIntegrationMaxRetriesStorm(t *testing.T) {
	const n = 20
	var firsts, retries, inRetry, maxInRetry atomic.Int32
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(AttemptCountHeader) == "1" {
			if firsts.Add(1) == n {
				close(release)
			}
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
		} else {
			retries.Add(1)
			cur := inRetry.Add(1)
			for {
				m := maxInRetry.Load()
				if cur <= m || maxInRetry.CompareAndSwap(m, cur) {
					break
				}
			}
			time.Sleep(200 * time.Millisecond)
			inRetry.Add(-1)
		}
		w.WriteHeader(503)
		io.WriteString(w, "upstream says no")
	}))
	defer up.Close()
	sc := startTestSidecar(t, "api", "currency")
	events, stop := sc.fwd.events.subscribe(EventBufferSize)
	defer stop()
	putConfig(t, sc, Config{Version: 1, Clusters: map[string]Cluster{"currency": {
		Endpoints:  []Endpoint{{Name: "currency_v1", Address: up.Listener.Addr().String()}},
		Retry:      &RetryPolicy{NumRetries: 3, RetryOn: []string{"5xx"}, BackoffBase: time.Millisecond},
		MaxRetries: 3,
	}}})
	url := "http://" + sc.Addrs().Outbound["currency"] + "/"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	var wg sync.WaitGroup
	bodies := make([]string, n)
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(url)
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			codes[i], bodies[i] = resp.StatusCode, string(b)
		}()
	}
	wg.Wait()
	for i := range n {
		if codes[i] != 503 || bodies[i] != "upstream says no" {
			t.Errorf("request %d: %d %q, want the upstream's 503", i, codes[i], bodies[i])
		}
	}
	mfs := scrape(t, sc)
	var attempts float64
	for _, v := range series(mfs[MetricUpstreamRequests]) {
		attempts += v
	}
	overflow := series(mfs[MetricUpstreamRetryOverflow])["cluster=currency,reason=max_retries"]
	retried := series(mfs[MetricUpstreamRetries])["cluster=currency,reason=status_code"]
	urx := series(mfs[MetricUpstreamRetryLimitExceeded])["cluster=currency"]
	t.Logf("attempts %v (upstream saw %d first + %d retries), retries %v, overflow %v, URX %v, max retries in flight at the upstream %d",
		attempts, firsts.Load(), retries.Load(), retried, overflow, urx, maxInRetry.Load())
	if attempts != 29 || firsts.Load() != n || retries.Load() != 9 {
		t.Errorf("attempts = %v (%d + %d), want 20 + 3×3 = 29", attempts, firsts.Load(), retries.Load())
	}
	if retried != 9 || overflow != 17 || urx != 3 {
		t.Errorf("retries %v, overflow %v, URX %v; want 9, 17, 3", retried, overflow, urx)
	}
	if maxInRetry.Load() > 3 {
		t.Errorf("%d retries in flight at once, cap 3", maxInRetry.Load())
	}
	got := 0
	for len(events) > 0 {
		e := <-events
		if e.Kind == EventRetryOverflow {
			got++
			if e.Cluster != "currency" || e.Detail != OverflowMaxRetries || e.StatusCode != 503 || e.Attempt != 1 {
				t.Errorf("overflow event %+v", e)
			}
		}
	}
	if got != 17 {
		t.Errorf("%d retry_overflow events, want 17", got)
	}
}

// TestIntegrationLinkerdBudgetStorm: the Linkerd budget with 1 retry/s of
// reserve over a 10 s TTL (ratio 0.2) and failures only (no deposits)
// allows exactly 10 retries whatever the concurrency and order: 20 failing
// requests with 3 retries each make 20 + 10 attempts.
func TestIntegrationLinkerdBudgetStorm(t *testing.T) {
	var hits atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(500)
	}))
	defer up.Close()
	sc := startTestSidecar(t, "api", "currency")
	putConfig(t, sc, Config{Version: 1, Clusters: map[string]Cluster{"currency": {
		Endpoints:   []Endpoint{{Name: "currency_v1", Address: up.Listener.Addr().String()}},
		Retry:       &RetryPolicy{NumRetries: 3, RetryOn: []string{"5xx"}, BackoffBase: time.Millisecond},
		RetryBudget: &RetryBudget{Kind: BudgetLinkerd, RetryRatio: 0.2, MinRetriesPerSecond: 1, TTL: 10 * time.Second},
	}}})
	url := "http://" + sc.Addrs().Outbound["currency"] + "/"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 20}}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, _, _ := get(t, client, url); code != 500 {
				t.Errorf("got %d", code)
			}
		}()
	}
	wg.Wait()
	mfs := scrape(t, sc)
	overflow := series(mfs[MetricUpstreamRetryOverflow])["cluster=currency,reason=budget"]
	urx := series(mfs[MetricUpstreamRetryLimitExceeded])["cluster=currency"]
	retried := series(mfs[MetricUpstreamRetries])["cluster=currency,reason=status_code"]
	// Every request ends refused by the budget (UO) or out of retries (URX).
	if hits.Load() != 30 || retried != 10 || overflow+urx != 20 {
		t.Fatalf("upstream saw %d attempts, retries %v, overflow %v + URX %v; want 30, 10, 20", hits.Load(), retried, overflow, urx)
	}
}

func ExampleEnvoyRetryBudgetMax() {
	for _, active := range []int64{5, 20, 100} {
		fmt.Println(active, EnvoyRetryBudgetMax(active, DefaultBudgetPercent, DefaultMinRetryConcurrency))
	}
	// Output:
	// 5 3
	// 20 4
	// 100 20
}
