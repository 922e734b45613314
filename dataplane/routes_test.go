package dataplane

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"
	"time"
)

// routeCluster has versions v1 (endpoints 0, 2, 4) and v2 (1, 3).
func routeCluster(routes ...Route) Cluster {
	return Cluster{
		Endpoints: []Endpoint{
			{Name: "v1", Address: "127.0.0.1:1"}, {Name: "v2", Address: "127.0.0.1:2"},
			{Name: "v1", Address: "127.0.0.1:3"}, {Name: "v2", Address: "127.0.0.1:4"},
			{Name: "v1", Address: "127.0.0.1:5"},
		},
		Routes: routes,
	}
}

func mustRoutes(t *testing.T, cl Cluster, rnd func() uint64) []compiledRoute {
	t.Helper()
	if err := validateClusterPolicies("c", cl); err != nil {
		t.Fatal(err)
	}
	r, _, err := compileRoutes("c", cl, nil, rnd)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func splitRoute(ws ...any) Route {
	var r Route
	for i := 0; i < len(ws); i += 2 {
		r.Split = append(r.Split, WeightedVersion{Version: ws[i].(string), Weight: ws[i+1].(int)})
	}
	return r
}

// residueSource yields 0, 1, 2, … (every residue in turn).
func residueSource() func() uint64 {
	var n uint64
	return func() uint64 { v := n; n++; return v }
}

// TestWeightedSplitExactOverResidues: random() % total over every residue
// gives each version exactly its weight, so the split is exact in
// expectation for any weights (99/1, 0/100, …); weight-0 versions never
// get a request.
func TestWeightedSplitExactOverResidues(t *testing.T) {
	cl := Cluster{Endpoints: []Endpoint{
		{Name: "a", Address: "127.0.0.1:1"}, {Name: "b", Address: "127.0.0.1:2"}, {Name: "c", Address: "127.0.0.1:3"},
	}}
	for _, ws := range [][]int{{99, 1}, {0, 100}, {100, 0}, {50, 50}, {33, 33, 34}, {1, 2, 3}, {0, 7, 0}, {3, 0, 1}} {
		r := Route{}
		for i, w := range ws {
			r.Split = append(r.Split, WeightedVersion{Version: string(rune('a' + i)), Weight: w})
		}
		cl.Routes = []Route{r}
		total := 0
		for _, w := range ws {
			total += w
		}
		rnd := residueSource()
		routes := mustRoutes(t, cl, rnd)
		const periods = 3
		got := make([]int, len(ws))
		for range periods * total {
			_, v := selectRoute(routes, &http.Request{Header: http.Header{}}, rnd)
			got[v[0]-'a']++
		}
		want := make([]int, len(ws))
		for i, w := range ws {
			want[i] = periods * w
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("weights %v: counts %v, want %v", ws, got, want)
		}
	}
}

// TestWeightedSplitSeeded: 10000 requests on a 90/10 split drawn from the
// seeded source PCG(42, 42). The counts are recorded and recomputed
// independently from the same source as random % 100 < 90.
func TestWeightedSplitSeeded(t *testing.T) {
	cl := routeCluster(splitRoute("v1", 90, "v2", 10))
	rnd := rand.New(rand.NewPCG(42, 42)).Uint64
	routes := mustRoutes(t, cl, rnd)
	const n = 10000
	counts := map[string]int{}
	for range n {
		_, v := selectRoute(routes, &http.Request{Header: http.Header{}}, rnd)
		counts[v]++
	}
	ref := rand.New(rand.NewPCG(42, 42))
	indep := 0
	for range n {
		if ref.Uint64()%100 >= 90 {
			indep++
		}
	}
	const wantV2 = 1006 // recorded for PCG(42, 42)
	if counts["v2"] != wantV2 || counts["v2"] != indep || counts["v1"] != n-wantV2 {
		t.Fatalf("counts %v, independent v2 %d; want v2 = %d", counts, indep, wantV2)
	}
}

func TestRouteMatchHeadersAndCookies(t *testing.T) {
	cl := routeCluster(
		Route{Match: &RouteMatch{Headers: map[string]string{"end-user": "jason"}}, Split: []WeightedVersion{{Version: "v2", Weight: 100}}},
		Route{Match: &RouteMatch{Cookies: map[string]string{"canary": "yes"}}, Split: []WeightedVersion{{Version: "v2", Weight: 1}}},
		Route{Match: &RouteMatch{Headers: map[string]string{"x-multi": "a,b", "host": "shop.local"}}, Split: []WeightedVersion{{Version: "v2", Weight: 5}}},
		Route{Match: &RouteMatch{Headers: map[string]string{"x-only-v1": "1"}}, Split: []WeightedVersion{{Version: "v1", Weight: 100}, {Version: "v2", Weight: 0}}},
	)
	src := &drawCounter{src: seq(3)}
	routes := mustRoutes(t, cl, src.next)
	req := func(h http.Header, host string, cookies ...*http.Cookie) *http.Request {
		r := &http.Request{Header: h, Host: host}
		for _, c := range cookies {
			r.AddCookie(c)
		}
		return r
	}
	for name, tc := range map[string]struct {
		r    *http.Request
		want string
	}{
		"header":                  {req(http.Header{"End-User": {"jason"}}, ""), "v2"},
		"header other value":      {req(http.Header{"End-User": {"Jason"}}, ""), ""},
		"no header":               {req(http.Header{}, ""), ""},
		"cookie":                  {req(http.Header{}, "", &http.Cookie{Name: "a", Value: "1"}, &http.Cookie{Name: "canary", Value: "yes"}), "v2"},
		"cookie other value":      {req(http.Header{}, "", &http.Cookie{Name: "canary", Value: "no"}), ""},
		"joined values and host":  {req(http.Header{"X-Multi": {"a", "b"}}, "shop.local"), "v2"},
		"joined values, bad host": {req(http.Header{"X-Multi": {"a", "b"}}, "other"), ""},
		"weight 0 dropped":        {req(http.Header{"X-Only-V1": {"1"}}, ""), "v1"},
	} {
		for range 100 {
			lb, v := selectRoute(routes, tc.r, src.next)
			if v != tc.want || (v == "") != (lb == nil) {
				t.Fatalf("%s: version %q, want %q", name, v, tc.want)
			}
		}
	}
	// Single-target routes draw nothing.
	if src.n != 0 {
		t.Fatalf("%d random draws for single-version routes", src.n)
	}
}

// TestVersionBalancingAndRetriesStayInVersion: within a version the
// cluster's round robin turns over the version's endpoints only, and every
// retry of a request stays on the version drawn for it.
func TestVersionBalancingAndRetriesStayInVersion(t *testing.T) {
	routes := mustRoutes(t, routeCluster(splitRoute("v1", 1, "v2", 1)), seq(0))
	lb, v := selectRoute(routes, &http.Request{Header: http.Header{}}, seq(0)) // 0 % 2 = 0 → v1
	if v != "v1" {
		t.Fatalf("version %q", v)
	}
	var picks []int
	for range 6 {
		picks = append(picks, lb.Pick())
	}
	if want := []int{0, 2, 4, 0, 2, 4}; !reflect.DeepEqual(picks, want) {
		t.Fatalf("v1 picks %v, want %v", picks, want)
	}
	lb2, v2 := selectRoute(routes, &http.Request{Header: http.Header{}}, seq(1))
	if v2 != "v2" || lb2.Pick() != 1 || lb2.Pick() != 3 || lb2.Pick() != 1 {
		t.Fatalf("v2 balancing wrong (%q)", v2)
	}
	// A request on v1 failing 5 times with previous_hosts: all attempts on v1.
	clk := newFakeClock()
	c := mustCompile(t, &RetryPolicy{NumRetries: 4, RetryOn: []string{"5xx"}, PreviousHosts: true})
	rs := c.Start(seq(0))
	fail := Outcome{StatusCode: 503}
	h := &scriptHandler{clk: clk, outcomes: []Outcome{fail, fail, fail, fail, fail}}
	res := runRouter(context.Background(), clk, lb, &rs, h)
	if res.Attempts != 5 {
		t.Fatalf("%+v", res)
	}
	for _, ep := range h.endpoints {
		if ep%2 != 0 {
			t.Fatalf("attempts went to %v; v1 is 0, 2, 4", h.endpoints)
		}
	}
}

// TestIntegrationWeightedSplit99to1: 5000 requests through the outbound
// listener on a 99/1 split land on v2 within 4σ of 50 (σ = √(5000 × 0.01
// × 0.99) ≈ 7.04); a header route sends 100 % to v2.
func TestIntegrationWeightedSplit99to1(t *testing.T) {
	if testing.Short() {
		t.Skip("5000 requests")
	}
	var hits [2]atomic.Int64
	newApp := func(i int) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			fmt.Fprintf(w, "v%d", i+1)
		}))
		t.Cleanup(s.Close)
		return s
	}
	v1, v2 := newApp(0), newApp(1)
	sc := startTestSidecar(t, "frontend", "reviews")
	putConfig(t, sc, Config{Version: 1, Clusters: map[string]Cluster{"reviews": {
		Endpoints: []Endpoint{
			{Name: "reviews_v1", Address: v1.Listener.Addr().String()},
			{Name: "reviews_v2", Address: v2.Listener.Addr().String()},
		},
		Routes: []Route{
			{Match: &RouteMatch{Headers: map[string]string{"end-user": "jason"}}, Split: []WeightedVersion{{Version: "reviews_v2", Weight: 100}}},
			{Split: []WeightedVersion{{Version: "reviews_v1", Weight: 99}, {Version: "reviews_v2", Weight: 1}}},
		},
	}}})
	url := "http://" + sc.Addrs().Outbound["reviews"] + "/"
	const n, workers = 5000, 4
	loadStatuses(t, url, n, workers)
	got := hits[1].Load()
	sigma := math.Sqrt(n * 0.01 * 0.99)
	t.Logf("v2 got %d of %d (expected 50 ± 4σ = ±%.1f)", got, n, 4*sigma)
	if hits[0].Load()+got != n || math.Abs(float64(got)-50) > 4*sigma {
		t.Fatalf("v1 %d, v2 %d of %d; v2 outside 50 ± %.1f", hits[0].Load(), got, n, 4*sigma)
	}
	before := hits[1].Load()
	for range 200 {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("End-User", "jason")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "v2" {
			t.Fatalf("jason got %q", b)
		}
	}
	if hits[1].Load()-before != 200 {
		t.Fatalf("header route: v2 got %d of 200", hits[1].Load()-before)
	}
}

// TestIntegrationRouteVersionSkipsEjected: with outlier detection, the
// balancer of a route's version skips the version's ejected endpoints.
func TestIntegrationRouteVersionSkipsEjected(t *testing.T) {
	newApp := func(code int, body string) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
			io.WriteString(w, body)
		}))
		t.Cleanup(s.Close)
		return s.Listener.Addr().String()
	}
	sc := startTestSidecar(t, "frontend", "reviews")
	putConfig(t, sc, Config{Version: 1, Clusters: map[string]Cluster{"reviews": {
		Endpoints: []Endpoint{
			{Name: "reviews_v1", Address: newApp(500, "v1a")},
			{Name: "reviews_v2", Address: newApp(200, "v2")},
			{Name: "reviews_v1", Address: newApp(200, "v1b")},
		},
		Routes:  []Route{{Split: []WeightedVersion{{Version: "reviews_v1", Weight: 1}}}},
		Outlier: &OutlierDetection{Algorithm: OutlierBook, Consecutive5xx: 1, BaseEjectionTime: time.Minute},
	}}})
	url := "http://" + sc.Addrs().Outbound["reviews"] + "/"
	if code, body, _ := get(t, http.DefaultClient, url); code != 500 || body != "v1a" {
		t.Fatalf("first request: %d %q", code, body)
	}
	for range 10 {
		if code, body, _ := get(t, http.DefaultClient, url); code != 200 || body != "v1b" {
			t.Fatalf("after v1a's ejection: %d %q, want v1b", code, body)
		}
	}
}
