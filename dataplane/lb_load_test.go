package dataplane

import (
	"context"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"reflect"
	"sort"
	"testing"
	"time"
)

// Tests of the load-aware balancers (least_request, peak_ewma): the pick
// rules with scripted draws, exact Peak-EWMA arithmetic on a fake clock,
// and discrete-event simulations (fake clock, seeded source) of how
// traffic spreads when one endpoint is slow.

// noDraw is a random source that fails the test when drawn from.
func noDraw(t *testing.T) func() uint64 {
	return func() uint64 { t.Fatal("unexpected draw from the random source"); return 0 }
}

// TestLeastRequestPicksLessLoaded: Envoy's unweightedHostPickNChoices with
// scripted draws: random() % n per choice, the fewer active requests
// wins, ties keep the first drawn.
func TestLeastRequestPicksLessLoaded(t *testing.T) {
	lb := NewLeastRequest(4, 0, seq(1, 3, 2, 6, 0, 5, 3, 3))
	lb.Start(1)
	lb.Start(1)
	lb.Start(0)
	// active = [1 2 0 0]
	for _, tc := range []struct {
		want int
		why  string
	}{
		{3, "draws 1 (2 active) and 3 (0 active)"},
		{2, "draws 2 and 6%4=2: the same endpoint twice"},
		{0, "draws 0 (1 active) and 5%4=1 (2 active)"},
		{3, "draws 3 and 3"},
	} {
		if got := lb.Pick(); got != tc.want {
			t.Errorf("pick %d, want %d (%s)", got, tc.want, tc.why)
		}
	}
	lb.End(1, 0)
	lb.End(1, 0)
	lb.End(0, 0)
	// active = [0 0 0 0]: a tie keeps the first drawn.
	lb = NewLeastRequest(4, 0, seq(2, 1))
	if got := lb.Pick(); got != 2 {
		t.Errorf("tie: pick %d, want 2 (the first drawn)", got)
	}
	// choice_count 3: draws 0 (3 active), 1 (1), 2 (1) → 1, the first of
	// the tied minimum.
	lb = NewLeastRequest(3, 3, seq(0, 1, 2))
	for _, i := range []int{0, 0, 0, 1, 2} {
		lb.Start(i)
	}
	if got := lb.Pick(); got != 1 {
		t.Errorf("choice_count 3: pick %d, want 1", got)
	}
	if lb.Active(0) != 3 || lb.Active(2) != 1 {
		t.Errorf("active = %d, %d; want 3, 1", lb.Active(0), lb.Active(2))
	}
	// One endpoint: no draw.
	if got := NewLeastRequest(1, 0, noDraw(t)).Pick(); got != 0 {
		t.Errorf("single endpoint: pick %d", got)
	}
	// A subset: draws index the subset.
	lb = NewLeastRequest(5, 0, seq(0, 1))
	lb.Start(4)
	if got := lb.pickAmong([]int{4, 2}); got != 2 {
		t.Errorf("subset [4 2], draws 0 and 1: pick %d, want 2 (4 is busier)", got)
	}
}

// TestLeastRequestSeededSequence: with a seeded source the picks are the
// same on every run (pinned below), and each is the less loaded of the two
// endpoints the source draws.
func TestLeastRequestSeededSequence(t *testing.T) {
	run := func() []int {
		r := rand.New(rand.NewPCG(7, 7))
		lb := NewLeastRequest(3, 0, r.Uint64)
		lb.Start(0)
		lb.Start(0)
		lb.Start(1) // active = [2 1 0]
		out := make([]int, 12)
		for i := range out {
			out[i] = lb.Pick()
		}
		return out
	}
	got := run()
	if again := run(); !reflect.DeepEqual(got, again) {
		t.Fatalf("same seed, different picks: %v and %v", got, again)
	}
	// The same draws, compared by hand: active = [2 1 0].
	r := rand.New(rand.NewPCG(7, 7))
	active := []int{2, 1, 0}
	for i, p := range got {
		a, b := int(r.Uint64()%3), int(r.Uint64()%3)
		want := a
		if active[b] < active[a] {
			want = b
		}
		if p != want {
			t.Fatalf("pick %d = %d; draws %d, %d want %d", i, p, a, b, want)
		}
	}
	if want := []int{2, 1, 1, 1, 1, 2, 2, 2, 2, 2, 0, 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("seed 7 picks %v, want %v", got, want)
	}
}

// TestPeakEWMAPicksLowerCost: Linkerd's gen_pair draws two distinct
// endpoints (a = r1 % n, b = r2 % (n-1), +1 when b ≥ a) and takes a unless
// b's cost is strictly lower.
func TestPeakEWMAPicksLowerCost(t *testing.T) {
	clk := newFakeClock()
	p := NewPeakEWMA(3, nil, clk, seq(1, 1, 2, 0, 0, 1))
	p.Start(2) // cost(2) = 30 ms × 2
	// draws 1, 1 → a = 1, b = 1 ≥ 1 → 2: costs 30 vs 60 ms → 1.
	if got := p.Pick(); got != 1 {
		t.Errorf("pick %d, want 1", got)
	}
	// draws 2, 0 → a = 2, b = 0: 60 vs 30 ms → 0.
	if got := p.Pick(); got != 0 {
		t.Errorf("pick %d, want 0", got)
	}
	// draws 0, 1 → a = 0, b = 1 % 2 = 1 ≥ a → 2: 30 vs 60 ms → 0.
	if got := p.Pick(); got != 0 {
		t.Errorf("pick %d, want 0", got)
	}
	p.End(2, 0)
	// Equal costs: the first drawn (a).
	p2 := NewPeakEWMA(3, nil, clk, seq(2, 0))
	if got := p2.Pick(); got != 2 {
		t.Errorf("tie: pick %d, want 2 (a)", got)
	}
	if got := NewPeakEWMA(1, nil, clk, noDraw(t)).Pick(); got != 0 {
		t.Errorf("single endpoint: pick %d", got)
	}
	if got := p2.pickAmong([]int{1}); got != 1 {
		t.Errorf("subset of one: pick %d", got)
	}
}

// TestPeakEWMAEstimate checks tower's RttEstimate arithmetic on a fake
// clock: a slower RTT is taken at once (the peak), reading the cost
// decays the estimate by e^(-Δ/τ), a faster RTT is blended with weight
// 1 - e^(-Δ/τ), and the cost is estimate × (pending + 1).
func TestPeakEWMAEstimate(t *testing.T) {
	const ms = float64(time.Millisecond)
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9*want+1 {
			t.Errorf("%s = %.6f ms, want %.6f ms", what, got/ms, want/ms)
		}
	}
	clk := newFakeClock()
	p := NewPeakEWMA(2, nil, clk, seq(0))
	near("initial cost", p.Cost(0), 30*ms)
	p.Start(0)
	near("cost with one pending", p.Cost(0), 60*ms)
	clk.Advance(500 * time.Millisecond)
	p.End(0, 500*time.Millisecond)
	if est, pending := p.Estimate(0); est != 500*time.Millisecond || pending != 0 {
		t.Fatalf("after a 500 ms answer: estimate %v pending %d, want 500ms at once (peak) and 0", est, pending)
	}
	// τ later the estimate has fallen to 500 ms × e^-1.
	clk.Advance(10 * time.Second)
	near("cost after τ", p.Cost(0), 500*ms*math.Exp(-1))
	// Another τ, then a 10 ms answer: blend of the decayed estimate and 10 ms.
	clk.Advance(10 * time.Second)
	p.Start(0)
	p.End(0, 10*time.Millisecond)
	d := math.Exp(-1)
	want := 500*ms*d*d + 10*ms*(1-d)
	est, _ := p.Estimate(0)
	near("estimate after a faster answer", float64(est), want)
	// An endpoint never used (20.5 s so far): its default decays too
	// (tower default_decay).
	near("untouched endpoint after 20.5 s", p.Cost(1), 30*ms*math.Exp(-2.05))
	// Custom config: default RTT 100 ms, τ 1 s.
	q := NewPeakEWMA(1, &EWMAConfig{DefaultRTT: 100 * time.Millisecond, Decay: time.Second}, clk, seq(0))
	clk.Advance(time.Second)
	near("custom default after τ", q.Cost(0), 100*ms*math.Exp(-1))
	// A default RTT below 1 ms is raised to 1 ms (linkerd2-proxy MIN_DEFAULT_RTT).
	r := NewPeakEWMA(1, &EWMAConfig{DefaultRTT: time.Microsecond}, clk, seq(0))
	near("floored default", r.Cost(0), 1*ms)
}

// flow is a discrete-event simulation of one balancer on a fake clock:
// requests arrive every `every`; a request picked onto endpoint i takes
// latency(i); tracked balancers hear Start and End at the simulated times.
type flow struct {
	clk     *fakeClock
	lb      LoadBalancer
	tr      Tracker
	latency func(i int) time.Duration
	counts  []int
}

func (f *flow) run(n int, every time.Duration) {
	type done struct {
		at time.Time
		ep int
		rt time.Duration
	}
	var pending []done
	start := f.clk.Now()
	for k := range n {
		arrive := start.Add(time.Duration(k) * every)
		// Finish what ends before this arrival, in time order.
		sort.Slice(pending, func(i, j int) bool { return pending[i].at.Before(pending[j].at) })
		for len(pending) > 0 && !pending[0].at.After(arrive) {
			d := pending[0]
			pending = pending[1:]
			f.clk.Advance(d.at.Sub(f.clk.Now()))
			if f.tr != nil {
				f.tr.End(d.ep, d.rt)
			}
		}
		f.clk.Advance(arrive.Sub(f.clk.Now()))
		ep := f.lb.Pick()
		f.counts[ep]++
		if f.tr != nil {
			f.tr.Start(ep)
		}
		rt := f.latency(ep)
		pending = append(pending, done{arrive.Add(rt), ep, rt})
	}
}

// TestLeastRequestStuckEndpoint: five endpoints, one stuck (its requests
// never end within the run), 2000 requests 1 ms apart answered in 3 ms
// elsewhere. Round-robin sends the stuck one 1/5 of the traffic; least
// request sends it a request only when both draws land on it (1/25):
// about 4 %, ≪ 1/5.
func TestLeastRequestStuckEndpoint(t *testing.T) {
	latency := func(i int) time.Duration {
		if i == 0 {
			return time.Hour
		}
		return 3 * time.Millisecond
	}
	r := rand.New(rand.NewPCG(1, 2))
	lr := NewLeastRequest(5, 0, r.Uint64)
	f := &flow{clk: newFakeClock(), lb: lr, tr: lr, latency: latency, counts: make([]int, 5)}
	f.run(2000, time.Millisecond)
	t.Logf("least_request counts %v", f.counts)
	if stuck := f.counts[0]; stuck < 40 || stuck > 120 {
		t.Errorf("least_request: stuck endpoint got %d of 2000 (counts %v); want about 80 (1/25)", stuck, f.counts)
	}
	if lr.Active(0) != int64(f.counts[0]) {
		t.Errorf("stuck endpoint active %d, want %d (none ended)", lr.Active(0), f.counts[0])
	}
	rr := &flow{clk: newFakeClock(), lb: NewRoundRobin(5), latency: latency, counts: make([]int, 5)}
	rr.run(2000, time.Millisecond)
	if rr.counts[0] != 400 {
		t.Errorf("round_robin: stuck endpoint got %d, want 400", rr.counts[0])
	}
}

// TestPeakEWMAShiftsAwayFromSlow: three endpoints, one answering in
// 200 ms and two in 2 ms, 3000 requests 5 ms apart. Once the slow one has
// answered, its estimate is 200 ms against ≤ 30 ms elsewhere and it is
// picked only while its cost is lower, which happens rarely: far below
// the 1/3 round-robin would give. least_request sees only active counts:
// the slow endpoint holds about 40 requests, so it wins only when both
// draws land on it, about 1/9.
func TestPeakEWMAShiftsAwayFromSlow(t *testing.T) {
	latency := func(i int) time.Duration {
		if i == 2 {
			return 200 * time.Millisecond
		}
		return 2 * time.Millisecond
	}
	clk := newFakeClock()
	pe := NewPeakEWMA(3, nil, clk, rand.New(rand.NewPCG(3, 4)).Uint64)
	f := &flow{clk: clk, lb: pe, tr: pe, latency: latency, counts: make([]int, 3)}
	f.run(3000, 5*time.Millisecond)
	t.Logf("peak_ewma counts %v", f.counts)
	if slow := f.counts[2]; slow > 60 {
		t.Errorf("peak_ewma: slow endpoint got %d of 3000 (counts %v); want ≤ 2%%", slow, f.counts)
	}
	slowCost, fastCost := pe.Cost(2), max(pe.Cost(0), pe.Cost(1))
	if slowCost < 3*fastCost {
		t.Errorf("costs: slow %v ms, fast ≤ %v ms; want the slow one well above", slowCost/1e6, fastCost/1e6)
	}
	lr := NewLeastRequest(3, 0, rand.New(rand.NewPCG(3, 4)).Uint64)
	g := &flow{clk: newFakeClock(), lb: lr, tr: lr, latency: latency, counts: make([]int, 3)}
	g.run(3000, 5*time.Millisecond)
	if slow := g.counts[2]; slow < 200 || slow > 450 || slow < 5*f.counts[2] {
		t.Errorf("least_request: slow endpoint got %d of 3000 (peak_ewma %d); want about 1/9 = 333", slow, f.counts[2])
	}
}

// latencyHandler answers every attempt after latency(ep) on the fake
// clock (sequential requests through runRouter).
type latencyHandler struct {
	clk     *fakeClock
	latency func(ep int) time.Duration
	counts  []int
}

func (h *latencyHandler) attempt(ctx context.Context, ep, n int) Outcome {
	h.counts[ep]++
	h.clk.Advance(h.latency(ep))
	return Outcome{StatusCode: 200}
}

func (h *latencyHandler) retrying(ep, n int, o Outcome, backoff time.Duration) {}

// TestRouterTracksAttempts: runRouter reports each attempt to a tracked
// balancer with the attempt's duration on the injected clock, also through
// a route version and through outlier detection, so the balancer sees the
// slow endpoint and avoids it.
func TestRouterTracksAttempts(t *testing.T) {
	clk := newFakeClock()
	slowOn := func(ep int) time.Duration {
		if ep == 1 {
			return 100 * time.Millisecond
		}
		return time.Millisecond
	}
	pe := NewPeakEWMA(3, nil, clk, rand.New(rand.NewPCG(5, 6)).Uint64)
	od := newOutlierDetector("c", []string{"a", "b", "c"}, []string{"x:1", "x:2", "x:3"},
		OutlierDetection{Algorithm: OutlierLinkerd}, LBPeakEWMA, outlierEnv{clock: clk, rand: seq(0)})
	od.load = pe
	for _, tc := range []struct {
		name string
		lb   LoadBalancer
	}{
		{"cluster", pe},
		{"version", &versionLB{load: pe, idx: []int{0, 1, 2}}},
		{"outlier", od},
		{"outlier subset", od.subsetLB([]int{0, 1, 2})},
	} {
		h := &latencyHandler{clk: clk, latency: slowOn, counts: make([]int, 3)}
		for range 200 {
			rs := (*CompiledRetryPolicy)(nil).Start(nil)
			runRouter(context.Background(), clk, tc.lb, &rs, h)
		}
		est, pending := pe.Estimate(1)
		if pending != 0 || est < 50*time.Millisecond {
			t.Errorf("%s: endpoint b estimate %v pending %d; want its 100 ms answers seen, nothing pending", tc.name, est, pending)
		}
		if h.counts[1] > 10 {
			t.Errorf("%s: slow endpoint got %d of 200 (counts %v)", tc.name, h.counts[1], h.counts)
		}
	}
	if trackerOf(NewRoundRobin(2)) != nil || trackerOf(NewRandom(2, seq(0))) != nil || trackerOf(&versionLB{inner: NewRoundRobin(1), idx: []int{0}}) != nil {
		t.Error("round_robin / random are tracked")
	}
}

// TestRouterHotPathAllocs: the router loop allocates nothing per request
// for round_robin and random (unchanged hot path), nor for the load-aware
// balancers.
func TestRouterHotPathAllocs(t *testing.T) {
	clk := newFakeClock()
	h := &latencyHandler{clk: clk, latency: func(int) time.Duration { return 0 }, counts: make([]int, 4)}
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 1))
	for _, lb := range []LoadBalancer{NewRoundRobin(4), NewRandom(4, r.Uint64), NewLeastRequest(4, 0, r.Uint64), NewPeakEWMA(4, nil, clk, r.Uint64)} {
		allocs := testing.AllocsPerRun(200, func() {
			rs := (*CompiledRetryPolicy)(nil).Start(nil)
			runRouter(ctx, clk, lb, &rs, h)
		})
		if allocs != 0 {
			t.Errorf("%T: %v allocations per request, want 0", lb, allocs)
		}
	}
}

// TestIntegrationLeastRequestAvoidsStuck runs least_request through the
// real outbound listener (real clock): of five endpoints one hangs (each
// of its requests ends at the 300 ms route timeout), the others answer at
// once. 300 requests from 8 workers: the hanging endpoint holds active
// requests, so it is picked only when both draws land on it (about 1/25),
// far below round-robin's 1/5.
func TestIntegrationLeastRequestAvoidsStuck(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time load")
	}
	hang, hung := hangingUpstream(t)
	fast := &countingUpstream{code: 200}
	eps := []Endpoint{{Name: "currency_stuck", Address: hang.Listener.Addr().String()}}
	for range 4 {
		s := httptest.NewServer(fast)
		t.Cleanup(s.Close)
		eps = append(eps, Endpoint{Name: "currency_fast", Address: s.Listener.Addr().String()})
	}
	sc := startTestSidecar(t, "api", "currency")
	putConfig(t, sc, Config{Version: 1, Clusters: map[string]Cluster{"currency": {
		Endpoints: eps, LBPolicy: LBLeastRequest, Timeout: 300 * time.Millisecond}}})
	codes := loadStatuses(t, "http://"+sc.Addrs().Outbound["currency"]+"/", 300, 8)
	stuck := int64(hung.Load())
	if stuck > 30 || codes[504] != stuck || codes[200] != 300-stuck {
		t.Errorf("hanging endpoint got %d of 300 requests (callers %v); want ≤ 30 (about 1/25), each a 504", stuck, codes)
	}
	if lr := sc.fwd.cfg.Load().clusters["currency"].lb.(*LeastRequest); lr.Active(0) != 0 || lr.Active(1) != 0 {
		t.Errorf("active after the run: %d, %d; want 0", lr.Active(0), lr.Active(1))
	}
}
