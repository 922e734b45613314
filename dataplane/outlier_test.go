package dataplane

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ---- harness ---------------------------------------------------------------

// odTest is a detector on a fake clock with its events captured.
type odTest struct {
	d      *outlierDetector
	clk    *fakeClock
	start  time.Time
	events <-chan Event
}

func newODTest(t *testing.T, o OutlierDetection, policy string, rnd func() uint64, names ...string) *odTest {
	t.Helper()
	if err := validateOutlier("payments", &o); err != nil {
		t.Fatal(err)
	}
	if rnd == nil {
		rnd = func() uint64 { t.Fatal("unexpected draw from the random source"); return 0 }
	}
	clk := newFakeClock()
	hub := newEventHub(nil)
	ch, stop := hub.subscribe(EventBufferSize)
	t.Cleanup(stop)
	addrs := make([]string, len(names))
	for i := range names {
		addrs[i] = fmt.Sprintf("10.0.0.%d:80", i+1)
	}
	d := newOutlierDetector("payments", names, addrs, o, policy,
		outlierEnv{clock: clk, rand: rnd, component: "checkout_sidecar", events: hub})
	return &odTest{d: d, clk: clk, start: clk.Now(), events: ch}
}

// at moves the fake clock to start+off (never backwards).
func (x *odTest) at(off time.Duration) {
	if d := x.start.Add(off).Sub(x.clk.Now()); d > 0 {
		x.clk.Advance(d)
	}
}

// drain returns the events published so far.
func (x *odTest) drain() []Event {
	var out []Event
	for {
		select {
		case e := <-x.events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// evLine is an event reduced to what the tests compare: offset from the
// start, kind, endpoint and detail.
type evLine struct {
	At       time.Duration
	Kind     string
	Endpoint string
	Detail   string
}

func (x *odTest) lines() []evLine {
	var out []evLine
	for _, e := range x.drain() {
		if e.Cluster != "payments" || e.Component != "checkout_sidecar" {
			panic(fmt.Sprintf("event %+v", e))
		}
		out = append(out, evLine{e.Time.Sub(x.start), e.Kind, e.Endpoint, e.Detail})
	}
	return out
}

// simHandler is the outbound listener's attempt handler with scripted
// upstreams: it reports each attempt to the detector as outboundCall does.
type simHandler struct {
	x        *odTest
	upstream func(ep int) Outcome
	counts   []int
	times    [][]time.Duration // attempt offsets per endpoint
}

func (h *simHandler) attempt(ctx context.Context, ep, n int) Outcome {
	if ep < 0 {
		return Outcome{Failure: FailureNoHealthyUpstream}
	}
	o := h.upstream(ep)
	h.counts[ep]++
	h.times[ep] = append(h.times[ep], h.x.clk.Now().Sub(h.x.start))
	h.x.d.reportAttempt(ctx, context.Background(), ep, o)
	return o
}

func (h *simHandler) retrying(ep, n int, o Outcome, backoff time.Duration) {}

// paced sends n requests evenly paced every `every` (the first at the
// start) through the router loop (LB = the detector) and returns the
// handler (attempts per endpoint) and what the callers got ("200", "500",
// "UH" for no healthy upstream).
func (x *odTest) paced(t *testing.T, n int, every time.Duration, retry *CompiledRetryPolicy, upstream func(ep int) Outcome) (*simHandler, map[string]int) {
	t.Helper()
	h := &simHandler{x: x, upstream: upstream, counts: make([]int, len(x.d.names)), times: make([][]time.Duration, len(x.d.names))}
	client := map[string]int{}
	for k := range n {
		x.at(time.Duration(k) * every)
		rs := retry.Start(func() uint64 { return 0 })
		res := runRouter(context.Background(), x.clk, x.d, &rs, h)
		switch res.Outcome.Failure {
		case FailureNone:
			client[fmt.Sprint(res.Outcome.StatusCode)]++
		case FailureNoHealthyUpstream:
			client["UH"]++
		default:
			client[res.Outcome.Failure.String()]++
		}
	}
	return h, client
}

// v2Fails is the book's upstream: payments_v1 never fails, payments_v2
// always answers 500.
func v2Fails(ep int) Outcome {
	if ep == 1 {
		return Outcome{StatusCode: 500}
	}
	return Outcome{StatusCode: 200}
}

func allFail(int) Outcome { return Outcome{StatusCode: 500} }

func secs(s ...float64) []time.Duration {
	out := make([]time.Duration, len(s))
	for i, v := range s {
		out[i] = time.Duration(math.Round(v*10)) * 100 * time.Millisecond
	}
	return out
}

func eventTimes(lines []evLine, kind string) []time.Duration {
	var out []time.Duration
	for _, l := range lines {
		if l.Kind == kind {
			out = append(out, l.At)
		}
	}
	return out
}

func bookCB(algo string) OutlierDetection {
	return OutlierDetection{Algorithm: algo, Consecutive5xx: 2, BaseEjectionTime: 60 * time.Second}
}

// ---- (a) the book's exercise ----------------------------------------------

// TestOutlierBookExercise is the book's circuit-breaking exercise: two
// endpoints, payments_v2 always failing, round-robin, eject after 2
// consecutive errors for 60 s, 10 req/s for 200 s. payments_v2 gets
// exactly 8 requests (the book's condition) and payments_v1 1992: it is
// ejected at 0.3 s, 60.5 s, 120.7 s and 180.9 s and returns at 60.3 s,
// 120.5 s and 180.7 s; each return costs 2 failed requests.
func TestOutlierBookExercise(t *testing.T) {
	x := newODTest(t, bookCB(OutlierBook), "", nil, "payments_v1", "payments_v2")
	h, client := x.paced(t, 2000, 100*time.Millisecond, nil, v2Fails)
	if h.counts[0] != 1992 || h.counts[1] != 8 {
		t.Errorf("payments_v1 %d, payments_v2 %d requests; want 1992 and 8", h.counts[0], h.counts[1])
	}
	if want := map[string]int{"200": 1992, "500": 8}; !reflect.DeepEqual(client, want) {
		t.Errorf("callers got %v, want %v", client, want)
	}
	if want := secs(0.1, 0.3, 60.3, 60.5, 120.5, 120.7, 180.7, 180.9); !reflect.DeepEqual(h.times[1], want) {
		t.Errorf("payments_v2 requests at %v, want %v", h.times[1], want)
	}
	lines := x.lines()
	if got, want := eventTimes(lines, EventEjection), secs(0.3, 60.5, 120.7, 180.9); !reflect.DeepEqual(got, want) {
		t.Errorf("ejections at %v, want %v", got, want)
	}
	if got, want := eventTimes(lines, EventUnejection), secs(60.3, 120.5, 180.7); !reflect.DeepEqual(got, want) {
		t.Errorf("unejections at %v, want %v", got, want)
	}
	want := evLine{300 * time.Millisecond, EventEjection, "payments_v2", "2 consecutive errors; ejected for 1m0s (time 1)"}
	if lines[0] != want {
		t.Errorf("first event %+v, want %+v", lines[0], want)
	}
	want = evLine{60300 * time.Millisecond, EventUnejection, "payments_v2", "returned after 1m0s, count reset (time 1)"}
	if lines[1] != want {
		t.Errorf("second event %+v, want %+v", lines[1], want)
	}
	if !x.d.Ejected(1) || x.d.Ejected(0) {
		t.Errorf("at the end payments_v2 should be ejected (until 240.9 s), payments_v1 not")
	}
}

// ---- (b) half-open ---------------------------------------------------------

// TestOutlierBookHalfOpen: the book's prose variant; after 60 s the
// endpoint is half-open and its single next request decides. payments_v2
// gets 2 + 1 + 1 + 1 = 5 requests, at 0.1, 0.3, 60.3, 120.3 and 180.3 s.
func TestOutlierBookHalfOpen(t *testing.T) {
	x := newODTest(t, bookCB(OutlierBookHalfOpen), "", nil, "payments_v1", "payments_v2")
	h, _ := x.paced(t, 2000, 100*time.Millisecond, nil, v2Fails)
	if h.counts[0] != 1995 || h.counts[1] != 5 {
		t.Errorf("payments_v1 %d, payments_v2 %d requests; want 1995 and 5", h.counts[0], h.counts[1])
	}
	if want := secs(0.1, 0.3, 60.3, 120.3, 180.3); !reflect.DeepEqual(h.times[1], want) {
		t.Errorf("payments_v2 requests at %v, want %v", h.times[1], want)
	}
	lines := x.lines()
	if got, want := eventTimes(lines, EventEjection), secs(0.3, 60.3, 120.3, 180.3); !reflect.DeepEqual(got, want) {
		t.Errorf("ejections at %v, want %v", got, want)
	}
	if lines[1].Detail != "half-open after 1m0s: the next outcome decides (time 1)" ||
		lines[2].Detail != "half-open request failed; ejected for 1m0s (time 2)" {
		t.Errorf("events %+v", lines[:3])
	}
}

// TestOutlierHalfOpenSuccessCloses: a success while half-open closes the
// breaker; the count then starts again from 0 (2 new errors to eject).
func TestOutlierHalfOpenSuccessCloses(t *testing.T) {
	x := newODTest(t, bookCB(OutlierBookHalfOpen), "", nil, "payments_v1", "payments_v2")
	fail := func() { x.d.Report(1, Outcome{StatusCode: 500}) }
	fail()
	fail()
	if !x.d.Ejected(1) {
		t.Fatal("not ejected after 2 errors")
	}
	x.at(60 * time.Second)
	if x.d.Ejected(1) {
		t.Fatal("still ejected after 60 s")
	}
	x.d.Report(1, Outcome{StatusCode: 200}) // closes
	fail()
	if x.d.Ejected(1) {
		t.Fatal("one error after closing ejected it; want 2")
	}
	fail()
	if !x.d.Ejected(1) {
		t.Fatal("not ejected after 2 errors")
	}
}

// ---- (c) Envoy defaults ----------------------------------------------------

// TestOutlierEnvoyDefaultsTwoHostsNeverEject: Envoy's defaults (5
// consecutive 5xx, 10 s interval, 30 s base, 10 % max ejection percent)
// with 2 hosts: 100·(0+1)/2 = 50 % > 10 %, so nothing is ever ejected and
// payments_v2 gets its round-robin half, 1000 requests, all failing.
func TestOutlierEnvoyDefaultsTwoHostsNeverEject(t *testing.T) {
	x := newODTest(t, EnvoyOutlierDefaults(), "", nil, "payments_v1", "payments_v2")
	h, client := x.paced(t, 2000, 100*time.Millisecond, nil, v2Fails)
	if h.counts[0] != 1000 || h.counts[1] != 1000 || client["500"] != 1000 {
		t.Errorf("payments_v1 %d, payments_v2 %d, callers %v; want 1000, 1000 and 1000 failures", h.counts[0], h.counts[1], client)
	}
	if ev := x.drain(); len(ev) != 0 {
		t.Errorf("events %+v, want none", ev)
	}
}

// TestOutlierEnvoyDefaultsTenHosts: with 10 hosts one ejection is 10 %,
// within the default cap: the failing host is ejected after 5 failures.
func TestOutlierEnvoyDefaultsTenHosts(t *testing.T) {
	names := make([]string, 10)
	for i := range names {
		names[i] = fmt.Sprintf("payments_v%d", i+1)
	}
	x := newODTest(t, EnvoyOutlierDefaults(), "", nil, names...)
	for range 5 {
		x.d.Report(9, Outcome{StatusCode: 500})
	}
	lines := x.lines()
	if len(lines) != 1 || lines[0].Endpoint != "payments_v10" || lines[0].Detail != "5 consecutive 5xx; ejected for 30s (time 1)" {
		t.Fatalf("events %+v", lines)
	}
	// A second host would make 20 % > 10 %: not ejected.
	for range 10 {
		x.d.Report(3, Outcome{StatusCode: 500})
	}
	if x.d.Ejected(3) {
		t.Fatal("second host ejected over max_ejection_percent")
	}
}

// ---- (d) Envoy with growing ejection times --------------------------------

func envoyCB() OutlierDetection {
	o := EnvoyOutlierDefaults()
	o.Consecutive5xx = 2
	o.MaxEjectionPercent = 100
	return o
}

// TestOutlierEnvoyExercise: the book's exercise under Envoy's algorithm
// with threshold 2 and max_ejection_percent 100 (interval 10 s, base 30 s,
// max 300 s). payments_v2 is ejected at 0.3 s for 30 s (multiplier 1),
// returned on the 40 s tick (39.7 s later); ejected at 40.3 s for 60 s,
// returned at 110 s (69.7 s); ejected at 110.3 s for 90 s, due at 200.3 s,
// after the run. It gets 6 requests, payments_v1 1994.
func TestOutlierEnvoyExercise(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*OutlierDetection)
	}{
		{"max_ejection_percent=100", func(*OutlierDetection) {}},
		{"always_eject_one_host", func(o *OutlierDetection) { o.MaxEjectionPercent, o.AlwaysEjectOneHost = 10, true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := envoyCB()
			tc.mod(&o)
			x := newODTest(t, o, "", nil, "payments_v1", "payments_v2")
			h, client := x.paced(t, 2000, 100*time.Millisecond, nil, v2Fails)
			if h.counts[0] != 1994 || h.counts[1] != 6 || client["500"] != 6 {
				t.Errorf("payments_v1 %d, payments_v2 %d, callers %v; want 1994, 6, 6 failures", h.counts[0], h.counts[1], client)
			}
			if want := secs(0.1, 0.3, 40.1, 40.3, 110.1, 110.3); !reflect.DeepEqual(h.times[1], want) {
				t.Errorf("payments_v2 requests at %v, want %v", h.times[1], want)
			}
			want := []evLine{
				{300 * time.Millisecond, EventEjection, "payments_v2", "2 consecutive 5xx; ejected for 30s (time 1)"},
				{40 * time.Second, EventUnejection, "payments_v2", "returned on interval tick after 39.7s (ejection time 30s, time 1)"},
				{40300 * time.Millisecond, EventEjection, "payments_v2", "2 consecutive 5xx; ejected for 1m0s (time 2)"},
				{110 * time.Second, EventUnejection, "payments_v2", "returned on interval tick after 1m9.7s (ejection time 1m0s, time 2)"},
				{110300 * time.Millisecond, EventEjection, "payments_v2", "2 consecutive 5xx; ejected for 1m30s (time 3)"},
			}
			if got := x.lines(); !reflect.DeepEqual(got, want) {
				t.Errorf("events\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestOutlierEnvoyMultiplierDecay drives one host through five ejections.
// The multiplier rises on each ejection (1, 2, 3) and, once the host is
// back, drops by 1 on each tick that finds it un-ejected for a whole
// interval (ticks 220 s and 230 s: 3 → 1), so the 4th ejection lasts
// 60 s (multiplier 2), and after two more healthy ticks (310 s, 320 s)
// the 5th lasts 30 s again. Real ejection times round up to the ticks:
// 39, 69, 99, 65 and 35 s.
func TestOutlierEnvoyMultiplierDecay(t *testing.T) {
	x := newODTest(t, envoyCB(), "", nil, "payments_v1", "payments_v2")
	trip := func(at float64) {
		x.at(secs(at)[0])
		x.d.Report(1, Outcome{StatusCode: 503})
		x.d.Report(1, Outcome{StatusCode: 500})
		if !x.d.Ejected(1) {
			t.Fatalf("not ejected at %vs", at)
		}
	}
	var backoffs []int64
	b := func() { x.d.mu.Lock(); backoffs = append(backoffs, x.d.hosts[1].backoff); x.d.mu.Unlock() }
	trip(1)
	b()
	trip(41)
	b()
	trip(111)
	b()
	for _, s := range []float64{219, 220, 230} {
		x.at(secs(s)[0])
		x.d.Ejected(1)
		b()
	}
	trip(235)
	b()
	for _, s := range []float64{310, 320, 330} {
		x.at(secs(s)[0])
		x.d.Ejected(1)
		b()
	}
	trip(335)
	b()
	x.at(400 * time.Second)
	x.d.Ejected(1)
	if want := []int64{1, 2, 3, 3, 2, 1, 2, 1, 0, 0, 1}; !reflect.DeepEqual(backoffs, want) {
		t.Errorf("multipliers %v, want %v", backoffs, want)
	}
	var got []string
	for _, l := range x.lines() {
		got = append(got, fmt.Sprintf("%v %s %s", l.At, l.Kind, l.Detail))
	}
	want := []string{
		"1s ejection 2 consecutive 5xx; ejected for 30s (time 1)",
		"40s unejection returned on interval tick after 39s (ejection time 30s, time 1)",
		"41s ejection 2 consecutive 5xx; ejected for 1m0s (time 2)",
		"1m50s unejection returned on interval tick after 1m9s (ejection time 1m0s, time 2)",
		"1m51s ejection 2 consecutive 5xx; ejected for 1m30s (time 3)",
		"3m30s unejection returned on interval tick after 1m39s (ejection time 1m30s, time 3)",
		"3m55s ejection 2 consecutive 5xx; ejected for 1m0s (time 4)",
		"5m0s unejection returned on interval tick after 1m5s (ejection time 1m0s, time 4)",
		"5m35s ejection 2 consecutive 5xx; ejected for 30s (time 5)",
		"6m10s unejection returned on interval tick after 35s (ejection time 30s, time 5)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events\n got %q\nwant %q", got, want)
	}
}

// TestOutlierEnvoyMaxEjectionTime: with base 30 s and max 60 s the
// multiplier stops at 3 (3·30 < 60+30 fails): ejections last 30, 60, 60,
// 60 s, and one decay (3 → 2) still leaves the max.
func TestOutlierEnvoyMaxEjectionTime(t *testing.T) {
	o := envoyCB()
	o.MaxEjectionTime = 60 * time.Second
	x := newODTest(t, o, "", nil, "payments_v1", "payments_v2")
	var details []string
	// Each trip comes 1 s after the tick that returned the host, before
	// any decay.
	for _, at := range []float64{0, 31, 101, 171} {
		x.at(secs(at)[0])
		x.d.Report(1, Outcome{StatusCode: 500})
		x.d.Report(1, Outcome{StatusCode: 500})
		for _, l := range x.lines() {
			if l.Kind == EventEjection {
				details = append(details, l.Detail)
			}
		}
	}
	want := []string{
		"2 consecutive 5xx; ejected for 30s (time 1)",
		"2 consecutive 5xx; ejected for 1m0s (time 2)",
		"2 consecutive 5xx; ejected for 1m0s (time 3)",
		"2 consecutive 5xx; ejected for 1m0s (time 4)",
	}
	if !reflect.DeepEqual(details, want) {
		t.Errorf("ejections %q, want %q", details, want)
	}
	x.d.mu.Lock()
	b := x.d.hosts[1].backoff
	x.d.mu.Unlock()
	if b != 3 {
		t.Errorf("multiplier %d, want 3 (capped)", b)
	}
}

// ---- (e) panic threshold ---------------------------------------------------

// TestOutlierPanicThreshold: both endpoints always fail (Envoy algorithm,
// threshold 2, max_ejection_percent 100). payments_v1 is ejected at 0.2 s,
// payments_v2 at 0.3 s, both return on the 40 s tick, are ejected again at
// 40.2/40.3 s for 60 s, return at 110 s and are ejected at 110.2/110.3 s.
//   - healthy_panic_threshold 50: with both ejected 0 % < 50 %, so the LB
//     ignores ejections and every request reaches an endpoint (1000 each).
//   - 0: no panic; while both are ejected requests fail with 503 "no
//     healthy upstream": 396 + 696 + 896 = 1988; 6 attempts per endpoint.
func TestOutlierPanicThreshold(t *testing.T) {
	for _, tc := range []struct {
		panic      int
		v1, v2, uh int
	}{
		{50, 1000, 1000, 0},
		{0, 6, 6, 1988},
	} {
		t.Run(fmt.Sprintf("healthy_panic_threshold=%d", tc.panic), func(t *testing.T) {
			o := envoyCB()
			o.HealthyPanicThreshold = tc.panic
			x := newODTest(t, o, "", nil, "payments_v1", "payments_v2")
			h, client := x.paced(t, 2000, 100*time.Millisecond, nil, allFail)
			if h.counts[0] != tc.v1 || h.counts[1] != tc.v2 || client["UH"] != tc.uh || client["500"] != tc.v1+tc.v2 {
				t.Errorf("payments_v1 %d, payments_v2 %d, callers %v; want %d, %d, %d no healthy upstream",
					h.counts[0], h.counts[1], client, tc.v1, tc.v2, tc.uh)
			}
			lines := x.lines()
			if got, want := eventTimes(lines, EventEjection), secs(0.2, 0.3, 40.2, 40.3, 110.2, 110.3); !reflect.DeepEqual(got, want) {
				t.Errorf("ejections at %v, want %v", got, want)
			}
			if got, want := eventTimes(lines, EventUnejection), secs(40, 40, 110, 110); !reflect.DeepEqual(got, want) {
				t.Errorf("unejections at %v, want %v", got, want)
			}
		})
	}
}

// TestOutlierPanicIsStrict: Envoy panics when healthy% < threshold. With
// 1 of 2 endpoints ejected, 50 % healthy is not below 50 (the ejected one
// gets nothing), but is below 51 (it keeps its round-robin share).
func TestOutlierPanicIsStrict(t *testing.T) {
	for _, tc := range []struct{ panic, v2 int }{{50, 6}, {51, 1000}} {
		o := envoyCB()
		o.HealthyPanicThreshold = tc.panic
		x := newODTest(t, o, "", nil, "payments_v1", "payments_v2")
		h, _ := x.paced(t, 2000, 100*time.Millisecond, nil, v2Fails)
		if h.counts[1] != tc.v2 {
			t.Errorf("panic %d: payments_v2 got %d requests, want %d", tc.panic, h.counts[1], tc.v2)
		}
	}
}

// ---- (f) consecutive gateway failures --------------------------------------

func TestOutlierGatewayFailure(t *testing.T) {
	gw := func(enforce int) OutlierDetection {
		o := envoyCB()
		o.Consecutive5xx = 5
		o.ConsecutiveGatewayFailure = 3
		o.EnforcingConsecutiveGatewayFailure = enforce
		return o
	}
	resp := func(c int) Outcome { return Outcome{StatusCode: c} }
	for _, tc := range []struct {
		name     string
		o        OutlierDetection
		outcomes []Outcome
		ejectAt  int // 1-based outcome that ejects, 0 = none
		detail   string
		code     int
	}{
		{"502 counts as gateway error", gw(100), []Outcome{resp(502), resp(502), resp(502)}, 3,
			"3 consecutive gateway errors (502/503/504); ejected for 30s (time 1)", 502},
		{"a 500 resets the gateway counter, not the 5xx one", gw(100),
			[]Outcome{resp(502), resp(502), resp(500), resp(502), resp(502)}, 5,
			"5 consecutive 5xx; ejected for 30s (time 1)", 502},
		{"gateway enforcement 0 (Envoy default) ejects only by 5xx", gw(0),
			[]Outcome{resp(504), resp(503), resp(502), resp(502), resp(502)}, 5,
			"5 consecutive 5xx; ejected for 30s (time 1)", 502},
		{"a non-5xx resets both", gw(100),
			[]Outcome{resp(502), resp(502), resp(404), resp(502), resp(502), resp(200), resp(500), resp(500), resp(500), resp(500)}, 0, "", 0},
		{"connect failure is a 503", gw(100),
			[]Outcome{{Failure: FailureConnect}, {Failure: FailureReset}, {Failure: FailureConnect}}, 3,
			"3 consecutive gateway errors (502/503/504); ejected for 30s (time 1)", 503},
		{"per-try timeout is a 504", gw(100),
			[]Outcome{{Failure: FailurePerTryTimeout}, resp(502), {Failure: FailurePerTryTimeout}}, 3,
			"3 consecutive gateway errors (502/503/504); ejected for 30s (time 1)", 504},
		{"canceled attempts are not reported", gw(100),
			[]Outcome{resp(502), resp(502), {Failure: FailureCanceled}, {Failure: FailureCanceled}}, 0, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newODTest(t, tc.o, "", nil, "payments_v1", "payments_v2")
			ejectedAt := 0
			for i, o := range tc.outcomes {
				x.d.Report(1, o)
				if ejectedAt == 0 && x.d.Ejected(1) {
					ejectedAt = i + 1
				}
			}
			if ejectedAt != tc.ejectAt {
				t.Fatalf("ejected at outcome %d, want %d", ejectedAt, tc.ejectAt)
			}
			ev := x.drain()
			if tc.ejectAt == 0 {
				if len(ev) != 0 {
					t.Fatalf("events %+v", ev)
				}
				return
			}
			if len(ev) != 1 || ev[0].Detail != tc.detail || ev[0].StatusCode != tc.code || ev[0].Endpoint != "payments_v2" {
				t.Fatalf("events %+v, want one with detail %q, status %d", ev, tc.detail, tc.code)
			}
		})
	}
}

// TestOutlierReportAttemptContexts: a failure when the client has gone
// is not reported; a failure whose attempt context ended (per-try or
// route timeout) counts as 504.
func TestOutlierReportAttemptContexts(t *testing.T) {
	o := envoyCB()
	o.Consecutive5xx = 0
	o.ConsecutiveGatewayFailure, o.EnforcingConsecutiveGatewayFailure = 2, 100
	x := newODTest(t, o, "", nil, "payments_v1", "payments_v2")
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	for range 3 {
		x.d.reportAttempt(gone, gone, 1, Outcome{Failure: FailureReset})
	}
	if x.d.Ejected(1) {
		t.Fatal("client-gone failures ejected the endpoint")
	}
	x.d.reportAttempt(gone, context.Background(), 1, Outcome{Failure: FailureReset})
	x.d.reportAttempt(gone, context.Background(), 1, Outcome{Failure: FailureReset})
	ev := x.drain()
	if len(ev) != 1 || ev[0].StatusCode != 504 {
		t.Fatalf("events %+v; want one ejection with status 504", ev)
	}
}

// ---- Envoy details ------------------------------------------------------------

// TestOutlierEqualsThresholdOnly: a counter that passes its threshold while
// the host is ejected (panic traffic) cannot fire again; the return resets
// it, so 2 new failures are needed.
func TestOutlierEqualsThresholdOnly(t *testing.T) {
	x := newODTest(t, envoyCB(), "", nil, "payments_v1", "payments_v2")
	for range 2 {
		x.d.Report(1, Outcome{StatusCode: 500})
	}
	for range 7 { // reach an ejected host (panic, in flight)
		x.d.Report(1, Outcome{StatusCode: 500})
	}
	x.d.mu.Lock()
	c := x.d.hosts[1].cons5xx
	x.d.mu.Unlock()
	if c != 7 {
		t.Errorf("counter while ejected = %d, want 7 (reset only at detection and return)", c)
	}
	x.at(40 * time.Second)
	x.d.Report(1, Outcome{StatusCode: 500})
	if x.d.Ejected(1) {
		t.Fatal("re-ejected after one failure; the return should reset the counter")
	}
	x.d.Report(1, Outcome{StatusCode: 500})
	if !x.d.Ejected(1) {
		t.Fatal("not re-ejected after 2 failures")
	}
}

// TestOutlierEnforcingDraw: enforcing 50 % draws random % 100 < 50. A
// detection that is not enforced still resets the counter (Envoy resets
// after ejectHost whatever happened).
func TestOutlierEnforcingDraw(t *testing.T) {
	o := envoyCB()
	o.EnforcingConsecutive5xx = 50
	draws := []uint64{170, 310} // 70 → not enforced, 10 → enforced
	x := newODTest(t, o, "", seq(draws...), "payments_v1", "payments_v2")
	var ejectedAfter []int
	for i := 1; i <= 4; i++ {
		x.d.Report(1, Outcome{StatusCode: 500})
		if x.d.Ejected(1) {
			ejectedAfter = append(ejectedAfter, i)
		}
	}
	if !reflect.DeepEqual(ejectedAfter, []int{4}) {
		t.Errorf("ejected after failures %v, want [4]", ejectedAfter)
	}
}

// TestOutlierMaxEjectionPercent: 3 hosts, max 34 %: 1/3 = 33.3 % may be
// ejected, 2/3 may not. always_eject_one_host with max 0: only the first.
func TestOutlierMaxEjectionPercent(t *testing.T) {
	for _, tc := range []struct {
		max    int
		always bool
	}{{34, false}, {0, true}} {
		o := envoyCB()
		o.MaxEjectionPercent, o.AlwaysEjectOneHost = tc.max, tc.always
		x := newODTest(t, o, "", nil, "a", "b", "c")
		for _, ep := range []int{0, 0, 1, 1, 1, 1} {
			x.d.Report(ep, Outcome{StatusCode: 500})
		}
		if !x.d.Ejected(0) || x.d.Ejected(1) {
			t.Errorf("max %d always %v: ejected a=%v b=%v, want only a", tc.max, tc.always, x.d.Ejected(0), x.d.Ejected(1))
		}
	}
}

// TestOutlierJitter: max_ejection_time_jitter 1 s adds random % 1001 ms.
func TestOutlierJitter(t *testing.T) {
	o := envoyCB()
	o.MaxEjectionTimeJitter = time.Second
	x := newODTest(t, o, "", seq(1001+250), "payments_v1", "payments_v2")
	x.d.Report(1, Outcome{StatusCode: 500})
	x.d.Report(1, Outcome{StatusCode: 500})
	if ev := x.drain(); len(ev) != 1 || ev[0].Detail != "2 consecutive 5xx; ejected for 30.25s (time 1)" {
		t.Fatalf("events %+v", ev)
	}
	x.at(30 * time.Second)
	if !x.d.Ejected(1) {
		t.Fatal("returned at 30 s; 30.25 s > 30 s, so the 40 s tick returns it")
	}
	x.at(40 * time.Second)
	if x.d.Ejected(1) {
		t.Fatal("not returned on the 40 s tick")
	}
}

// ---- load balancing ----------------------------------------------------------

// TestOutlierRoundRobinSkipsEjected: round-robin continues among the
// others in order; the index is shared, so when the host returns the
// sequence goes on from there.
func TestOutlierRoundRobinSkipsEjected(t *testing.T) {
	x := newODTest(t, bookCB(OutlierBook), "", nil, "a", "b", "c")
	var picks []int
	for range 4 {
		picks = append(picks, x.d.Pick())
	}
	x.d.Report(1, Outcome{StatusCode: 500})
	x.d.Report(1, Outcome{StatusCode: 500})
	for range 5 {
		picks = append(picks, x.d.Pick())
	}
	x.at(60 * time.Second)
	for range 3 {
		picks = append(picks, x.d.Pick())
	}
	// Envoy's unweightedHostPick: hosts[index++ % len(hosts)] over the
	// hosts not ejected. 0 1 2 0 | index 4..8 over [a c]: a c a c a |
	// index 9..11 over [a b c]: a b c.
	if want := []int{0, 1, 2, 0, 0, 2, 0, 2, 0, 0, 1, 2}; !reflect.DeepEqual(picks, want) {
		t.Errorf("picks %v, want %v", picks, want)
	}
}

func TestOutlierRandomAmongNotEjected(t *testing.T) {
	x := newODTest(t, bookCB(OutlierBook), LBRandom, seq(3), "a", "b", "c")
	x.d.Report(0, Outcome{StatusCode: 500})
	x.d.Report(0, Outcome{StatusCode: 500})
	// Envoy RANDOM: hosts[random % len(hosts)]. Over [b c]: 3 % 2 = 1 → c.
	if got := x.d.Pick(); got != 2 {
		t.Errorf("pick %d, want 2 (c)", got)
	}
	// Back to [a b c]: 3 % 3 = 0 → a.
	x.at(60 * time.Second)
	if got := x.d.Pick(); got != 0 {
		t.Errorf("pick %d, want 0 (a)", got)
	}
}

func TestOutlierSubsetLB(t *testing.T) {
	o := bookCB(OutlierBook)
	o.HealthyPanicThreshold = 50
	x := newODTest(t, o, "", nil, "v1", "v2", "v2", "v2")
	lb := x.d.subsetLB([]int{1, 2, 3})
	x.d.Report(2, Outcome{StatusCode: 500})
	x.d.Report(2, Outcome{StatusCode: 500})
	var picks []int
	for range 4 {
		picks = append(picks, lb.Pick())
	}
	if want := []int{1, 3, 1, 3}; !reflect.DeepEqual(picks, want) {
		t.Errorf("subset picks %v, want %v", picks, want)
	}
	for _, ep := range []int{1, 1, 3, 3} {
		x.d.Report(ep, Outcome{StatusCode: 500})
	}
	// All three ejected in the subset: panic (0 % < 50 %) over the subset.
	picks = picks[:0]
	for range 3 {
		picks = append(picks, lb.Pick())
	}
	if want := []int{1, 2, 3}; !reflect.DeepEqual(picks, want) {
		t.Errorf("subset panic picks %v, want %v", picks, want)
	}
}

// TestOutlierRetriesPickNonEjected: a retry goes through the same
// balancer, so it lands on an endpoint that is not ejected.
func TestOutlierRetriesPickNonEjected(t *testing.T) {
	x := newODTest(t, bookCB(OutlierBook), "", nil, "payments_v1", "payments_v2")
	retry := mustCompile(t, &RetryPolicy{NumRetries: 1, RetryOn: []string{"5xx"}})
	h, client := x.paced(t, 100, 100*time.Millisecond, retry, v2Fails)
	if h.counts[1] != 2 || client["200"] != 100 {
		t.Errorf("payments_v2 %d attempts, callers %v; want 2 and 100 × 200", h.counts[1], client)
	}
	if h.counts[0] != 100 {
		t.Errorf("payments_v1 %d attempts, want 100 (98 first attempts + 2 retries)", h.counts[0])
	}
}

// ---- config ----------------------------------------------------------------

func TestValidateOutlier(t *testing.T) {
	ep := []Endpoint{{Name: "payments_v1", Address: "127.0.0.1:9001"}}
	for _, tc := range []struct {
		o    OutlierDetection
		want string // "" = valid
	}{
		{EnvoyOutlierDefaults(), ""},
		{OutlierDetection{}, ""},
		{bookCB(OutlierBook), ""},
		{OutlierDetection{Algorithm: "hystrix"}, `cluster "payments": outlier.algorithm is "hystrix"; want "envoy", "book", "book_half_open" or "linkerd"`},
		{OutlierDetection{Consecutive5xx: -1}, `cluster "payments": outlier.consecutive_5xx is -1; want 0 (off) or more`},
		{OutlierDetection{ConsecutiveGatewayFailure: -2}, `outlier.consecutive_gateway_failure is -2`},
		{OutlierDetection{Algorithm: OutlierBook, BaseEjectionTime: time.Second}, `outlier.consecutive_5xx is 0; algorithm "book" needs 1 or more`},
		{OutlierDetection{Algorithm: OutlierBookHalfOpen, Consecutive5xx: 2}, `outlier.base_ejection_time is 0s; algorithm "book_half_open" needs`},
		{OutlierDetection{Interval: -time.Second}, `outlier.interval is -1s; want 0 (default) or more`},
		{OutlierDetection{BaseEjectionTime: -1}, `outlier.base_ejection_time is -1ns`},
		{OutlierDetection{MaxEjectionTimeJitter: -1}, `outlier.max_ejection_time_jitter is -1ns`},
		{OutlierDetection{BaseEjectionTime: time.Minute, MaxEjectionTime: time.Second}, `outlier.max_ejection_time 1s is below base_ejection_time 1m0s`},
		{OutlierDetection{MaxEjectionTime: time.Second}, `outlier.max_ejection_time 1s is below base_ejection_time 30s`},
		{OutlierDetection{EnforcingConsecutive5xx: 101}, `outlier.enforcing_consecutive_5xx is 101; want a percent from 0 to 100`},
		{OutlierDetection{EnforcingConsecutiveGatewayFailure: -1}, `outlier.enforcing_consecutive_gateway_failure is -1`},
		{OutlierDetection{MaxEjectionPercent: 200}, `outlier.max_ejection_percent is 200`},
		{OutlierDetection{HealthyPanicThreshold: -5}, `outlier.healthy_panic_threshold is -5`},
	} {
		o := tc.o
		c := Config{Clusters: map[string]Cluster{"payments": {Endpoints: ep, Outlier: &o}}}
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.o, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: error %v, want %q", tc.o, err, tc.want)
		case err != nil && strings.Contains(err.Error(), "\n"):
			t.Errorf("error is not one line: %q", err)
		}
	}
}

// ---- through the sidecar ----------------------------------------------------

// countingUpstream answers code and counts requests.
type countingUpstream struct {
	code int
	n    atomic.Int64
}

func (u *countingUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.n.Add(1)
	w.WriteHeader(u.code)
	io.WriteString(w, "payments")
}

func outlierSidecar(t *testing.T, clk Clock, o OutlierDetection) (*Sidecar, *countingUpstream, *countingUpstream) {
	t.Helper()
	ok, bad := &countingUpstream{code: 200}, &countingUpstream{code: 500}
	s1, s2 := httptest.NewServer(ok), httptest.NewServer(bad)
	t.Cleanup(s1.Close)
	t.Cleanup(s2.Close)
	sc, err := Start(Options{Name: "checkout_sidecar", AdminAddr: "127.0.0.1:0", Seed: 1, Clock: clk,
		Outbound: []OutboundListener{{Service: "payments", Addr: "127.0.0.1:0"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	putConfig(t, sc, Config{Version: 1, Clusters: map[string]Cluster{"payments": {
		Endpoints: []Endpoint{
			{Name: "payments_v1", Address: s1.Listener.Addr().String()},
			{Name: "payments_v2", Address: s2.Listener.Addr().String()},
		},
		Outlier: &o,
	}}})
	return sc, ok, bad
}

// TestOutlierSidecarBookExerciseFakeClock runs the book's exercise through
// the real outbound listener on a fake clock: 2000 requests paced 100 ms
// apart; exactly 8 reach payments_v2, and the metrics agree.
func TestOutlierSidecarBookExerciseFakeClock(t *testing.T) {
	if testing.Short() {
		t.Skip("2000 requests")
	}
	clk := newFakeClock()
	sc, ok, bad := outlierSidecar(t, clk, bookCB(OutlierBook))
	url := "http://" + sc.Addrs().Outbound["payments"] + "/"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	codes := map[int]int{}
	for k := range 2000 {
		if k > 0 {
			clk.Advance(100 * time.Millisecond)
		}
		code, _, _ := get(t, client, url)
		codes[code]++
	}
	if ok.n.Load() != 1992 || bad.n.Load() != 8 || codes[200] != 1992 || codes[500] != 8 {
		t.Errorf("payments_v1 %d, payments_v2 %d, callers %v; want 1992, 8", ok.n.Load(), bad.n.Load(), codes)
	}
	mfs := scrape(t, sc)
	if got := series(mfs[MetricUpstreamEjections]); got["cluster=payments,name=payments_v2"] != 4 || len(got) != 1 {
		t.Errorf("%s = %v, want 4 for payments_v2", MetricUpstreamEjections, got)
	}
	var active float64 = -1
	for _, m := range mfs[MetricUpstreamEjectionsActive].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "name" && l.GetValue() == "payments_v2" {
				active = m.GetGauge().GetValue()
			}
		}
	}
	if active != 1 {
		t.Errorf("%s{payments_v2} = %v, want 1 (ejected at 180.9 s until 240.9 s)", MetricUpstreamEjectionsActive, active)
	}
	up := series(mfs[MetricUpstreamRequests])
	if v := up["attempt=1,cluster=payments,direction=outbound,name=payments_v2,status_code=500"]; v != 8 {
		t.Errorf("upstream requests to payments_v2 = %v, want 8", v)
	}
}

// TestOutlierSidecarNoHealthyUpstream: with every endpoint ejected and
// panic mode off the caller gets Envoy's 503 "no healthy upstream".
func TestOutlierSidecarNoHealthyUpstream(t *testing.T) {
	clk := newFakeClock()
	o := bookCB(OutlierBook)
	o.Consecutive5xx = 1
	sc, _, bad := outlierSidecar(t, clk, o)
	url := "http://" + sc.Addrs().Outbound["payments"] + "/"
	// Swap payments_v1 for a failing endpoint too.
	sc2cfg, _ := sc.Config()
	cl := sc2cfg.Clusters["payments"]
	cl.Endpoints[0].Address = cl.Endpoints[1].Address
	sc2cfg.Clusters["payments"] = cl
	sc2cfg.Version = 2
	putConfig(t, sc, sc2cfg)
	for range 2 {
		if code, _, _ := get(t, http.DefaultClient, url); code != 500 {
			t.Fatalf("got %d, want the upstream's 500", code)
		}
	}
	code, body, _ := get(t, http.DefaultClient, url)
	if code != 503 || strings.TrimSpace(body) != "no healthy upstream" {
		t.Fatalf("got %d %q, want 503 no healthy upstream", code, body)
	}
	if bad.n.Load() != 2 {
		t.Errorf("upstream got %d requests, want 2", bad.n.Load())
	}
	clk.Advance(60 * time.Second)
	if code, _, _ := get(t, http.DefaultClient, url); code != 500 {
		t.Fatalf("after 60 s got %d, want the upstream again", code)
	}
}

// TestOutlierConfigPushKeepsState: a push that leaves the cluster's
// endpoints, LB policy and outlier block alone keeps the ejections; one
// that changes the outlier block starts afresh.
func TestOutlierConfigPushKeepsState(t *testing.T) {
	clk := newFakeClock()
	sc, _, _ := outlierSidecar(t, clk, bookCB(OutlierBook))
	url := "http://" + sc.Addrs().Outbound["payments"] + "/"
	for range 4 {
		get(t, http.DefaultClient, url)
	}
	det := func() *outlierDetector { return sc.fwd.cfg.Load().clusters["payments"].outlier }
	d1 := det()
	if !d1.Ejected(1) {
		t.Fatal("payments_v2 not ejected")
	}
	c, _ := sc.Config()
	c.Version = 2
	cl := c.Clusters["payments"]
	cl.Retry = &RetryPolicy{NumRetries: 1, RetryOn: []string{"5xx"}}
	c.Clusters["payments"] = cl
	putConfig(t, sc, c)
	if det() != d1 || !det().Ejected(1) {
		t.Fatal("a retry-only change dropped the outlier state")
	}
	o := *cl.Outlier
	o.BaseEjectionTime = time.Minute + time.Second
	cl.Outlier = &o
	c.Clusters["payments"] = cl
	c.Version = 3
	putConfig(t, sc, c)
	if det() == d1 || det().Ejected(1) {
		t.Fatal("a changed outlier block kept the old state")
	}
	d1.mu.Lock()
	retired := d1.retired
	d1.mu.Unlock()
	if !retired {
		t.Error("old detector not retired")
	}
}

// TestIntegrationOutlierEjectsAndReturns runs real time through the real
// outbound listener: payments_v2 always fails; with a 300 ms ejection it is
// ejected, returns, and is ejected again, and /events shows it.
func TestIntegrationOutlierEjectsAndReturns(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    OutlierDetection
	}{
		{"book", OutlierDetection{Algorithm: OutlierBook, Consecutive5xx: 2, BaseEjectionTime: 300 * time.Millisecond}},
		{"envoy", OutlierDetection{Algorithm: OutlierEnvoy, Consecutive5xx: 2, EnforcingConsecutive5xx: 100,
			Interval: 100 * time.Millisecond, BaseEjectionTime: 300 * time.Millisecond, MaxEjectionTime: 300 * time.Millisecond,
			MaxEjectionPercent: 100, HealthyPanicThreshold: 50}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sc, ok, bad := outlierSidecar(t, RealClock{}, tc.o)
			resp, err := http.Get("http://" + sc.Addrs().Admin + "/events")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var mu sync.Mutex
			var events []Event
			go func() {
				sr := bufio.NewScanner(resp.Body)
				for sr.Scan() {
					var e Event
					if json.Unmarshal(sr.Bytes(), &e) == nil && e.Cluster == "payments" {
						mu.Lock()
						events = append(events, e)
						mu.Unlock()
					}
				}
			}()
			if err := sc.fwd.events.waitSubscribers(context.Background(), 1); err != nil {
				t.Fatal(err)
			}
			seen := func() (ej, unej int, kinds []string) {
				mu.Lock()
				defer mu.Unlock()
				for _, e := range events {
					kinds = append(kinds, e.Kind)
					if e.Endpoint != "payments_v2" {
						t.Errorf("event for %s: %+v", e.Endpoint, e)
					}
					switch e.Kind {
					case EventEjection:
						ej++
					case EventUnejection:
						unej++
					}
				}
				return
			}
			url := "http://" + sc.Addrs().Outbound["payments"] + "/"
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			deadline := time.Now().Add(10 * time.Second)
			sent := 0
			for {
				if ej, unej, _ := seen(); ej >= 3 && unej >= 2 {
					break
				}
				if time.Now().After(deadline) {
					_, _, kinds := seen()
					t.Fatalf("after %d requests events %v; want 3 ejections and 2 returns", sent, kinds)
				}
				get(t, client, url)
				sent++
				time.Sleep(2 * time.Millisecond)
			}
			ej, unej, kinds := seen()
			for i, k := range kinds { // strictly alternating, starting with an ejection
				if want := []string{EventEjection, EventUnejection}[i%2]; k != want {
					t.Fatalf("events %v", kinds)
				}
			}
			// Every ejection cost 2 failures; each return let 2 more through.
			if n := bad.n.Load(); n < int64(2*ej) || n > int64(2*ej)+2 {
				t.Errorf("payments_v2 got %d requests for %d ejections", n, ej)
			}
			if ok.n.Load() < int64(sent)/2 {
				t.Errorf("payments_v1 got %d of %d requests", ok.n.Load(), sent)
			}
			// The metric counts what /events showed (events may still be in flight: ≥).
			got := series(scrape(t, sc)[MetricUpstreamEjections])["cluster=payments,name=payments_v2"]
			if got < float64(ej) {
				t.Errorf("%s = %v, want ≥ %d", MetricUpstreamEjections, got, ej)
			}
			t.Logf("%s: %d requests, payments_v2 %d, %d ejections, %d returns", tc.name, sent, bad.n.Load(), ej, unej)
		})
	}
}

// TestOutlierWithWeightedRoute: a route sending everything to version
// payments_v2 (two instances, the first failing) balances over that
// version's endpoints that are not ejected.
func TestOutlierWithWeightedRoute(t *testing.T) {
	clk := newFakeClock()
	okUp, badUp := &countingUpstream{code: 200}, &countingUpstream{code: 500}
	s1, s2 := httptest.NewServer(okUp), httptest.NewServer(badUp)
	defer s1.Close()
	defer s2.Close()
	sc, err := Start(Options{Name: "checkout_sidecar", AdminAddr: "127.0.0.1:0", Seed: 1, Clock: clk,
		Outbound: []OutboundListener{{Service: "payments", Addr: "127.0.0.1:0"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	o := bookCB(OutlierBook)
	putConfig(t, sc, Config{Version: 1, Clusters: map[string]Cluster{"payments": {
		Endpoints: []Endpoint{
			{Name: "payments_v1", Address: s1.Listener.Addr().String()},
			{Name: "payments_v2", Address: s2.Listener.Addr().String()},
			{Name: "payments_v2", Address: s1.Listener.Addr().String()},
		},
		Routes:  []Route{{Split: []WeightedVersion{{Version: "payments_v2", Weight: 100}}}},
		Outlier: &o,
	}}})
	url := "http://" + sc.Addrs().Outbound["payments"] + "/"
	codes := map[int]int{}
	for range 20 {
		code, _, _ := get(t, http.DefaultClient, url)
		codes[code]++
	}
	// Round-robin in the version: bad, ok, bad (ejected), then ok only.
	if badUp.n.Load() != 2 || codes[500] != 2 || codes[200] != 18 {
		t.Errorf("failing instance got %d requests, callers %v; want 2 and 18 × 200", badUp.n.Load(), codes)
	}
}
