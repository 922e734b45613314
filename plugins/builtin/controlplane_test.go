package builtin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"meshgym/dataplane"
	"meshgym/sandbox"
	"meshgym/scenarios"
)

type fakeEndpoints map[string][]sandbox.Endpoint

func (f fakeEndpoints) Endpoints(s string) []sandbox.Endpoint { return f[s] }

func retriesScenario(t *testing.T) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.Builtin("retries")
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

var eps = fakeEndpoints{
	"api":      {{Name: "api", Address: "127.0.0.1:8200"}},
	"payments": {{Name: "payments", Address: "127.0.0.1:9001"}},
	"currency": {{Name: "currency_v1", Address: "127.0.0.1:9002"}, {Name: "currency_v2", Address: "127.0.0.1:9003"}},
}

func TestRenderPatternOffAndOn(t *testing.T) {
	sc := retriesScenario(t)
	cp := New()
	off, err := cp.Render(sc.Topology, eps, sc.Phase(false))
	if err != nil {
		t.Fatal(err)
	}
	cur := off["payments"].Clusters["currency"]
	if cur.Retry != nil || len(cur.Endpoints) != 2 || cur.LBPolicy != "round_robin" {
		t.Fatalf("pattern off: %+v", cur)
	}
	if _, ok := off["currency"]; !ok || len(off["currency"].Clusters) != 0 {
		t.Errorf("currency sidecars should get an empty cluster set: %+v", off["currency"])
	}
	on, err := cp.Render(sc.Topology, eps, sc.Phase(true))
	if err != nil {
		t.Fatal(err)
	}
	if on["payments"].Version <= off["payments"].Version {
		t.Errorf("config version did not increase: %d then %d", off["payments"].Version, on["payments"].Version)
	}
	r := on["payments"].Clusters["currency"].Retry
	want := &dataplane.RetryPolicy{NumRetries: 3, RetryOn: []string{"5xx", "connect-failure"},
		BackoffBase: 25 * time.Millisecond, BackoffMax: 250 * time.Millisecond,
		PreviousHosts: true, HostSelectionMaxAttempts: 1}
	gb, _ := json.Marshal(r)
	wb, _ := json.Marshal(want)
	if string(gb) != string(wb) {
		t.Errorf("retry policy\n got %s\nwant %s", gb, wb)
	}
	if on["api"].Clusters["payments"].Retry != nil {
		t.Error("api → payments must not retry: the pattern names currency only")
	}
}

func TestRenderErrors(t *testing.T) {
	sc := retriesScenario(t)
	if _, err := New().Render(sc.Topology, fakeEndpoints{}, scenarios.Pattern{}); err == nil || !strings.Contains(err.Error(), "no endpoints") {
		t.Errorf("missing endpoints: %v", err)
	}
	if _, err := New().Render(sc.Topology, eps, scenarios.Pattern{Kind: "teleport"}); err == nil || !strings.Contains(err.Error(), "not implemented") {
		t.Errorf("unsupported pattern: %v", err)
	}
}

func TestPush(t *testing.T) {
	var got dataplane.Config
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut || r.URL.Path != "/config" {
			http.Error(w, "bad", http.StatusNotFound)
			return
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &got); err != nil || len(got.Clusters) == 0 {
			http.Error(w, "config: clusters must not be empty", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	cp := New()
	cfg := dataplane.Config{Version: 1, Clusters: map[string]dataplane.Cluster{"currency": {Name: "currency"}}}
	if err := cp.Push(context.Background(), srv.URL, cfg); err != nil {
		t.Fatal(err)
	}
	if got.Version != 1 {
		t.Errorf("pushed version %d", got.Version)
	}
	err := cp.Push(context.Background(), srv.URL, dataplane.Config{})
	if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "clusters must not be empty") {
		t.Errorf("rejected push: %v", err)
	}
}

func TestRenderPolicies(t *testing.T) {
	topo := scenarios.Topology{Entry: "api", Services: []scenarios.Service{
		{Name: "api", Upstreams: []string{"payments"}, Sidecar: true, Versions: []scenarios.Version{{Name: "api", Instances: 1}}},
		{Name: "payments", Sidecar: true, Versions: []scenarios.Version{{Name: "payments_v1", Instances: 1}, {Name: "payments_v2", Instances: 1}}},
	}}
	eps := fakeEndpoints{
		"api":      {{Name: "api", Address: "127.0.0.1:8200"}},
		"payments": {{Name: "payments_v1", Address: "127.0.0.1:9001"}, {Name: "payments_v2", Address: "127.0.0.1:9002"}},
	}
	half := 0.0
	p := scenarios.Pattern{
		Kind:           scenarios.KindCanary,
		CircuitBreaker: &scenarios.CircuitBreakerPolicy{Service: "payments", Algorithm: scenarios.BreakerEnvoy, ErrorThreshold: 2, EjectionDuration: scenarios.Duration(60 * time.Second), MaxEjectionPercent: 100, HealthyPanicThreshold: &half},
		Split: &scenarios.SplitPolicy{Service: "payments",
			Targets: []scenarios.WeightedTarget{{Version: "payments_v1", Weight: 99}, {Version: "payments_v2", Weight: 1}},
			Match:   []scenarios.MatchRoute{{Headers: map[string]string{"x-canary": "1"}, Version: "payments_v2"}}},
		Timeout:      &scenarios.TimeoutPolicy{Service: "payments", Request: scenarios.Duration(100 * time.Millisecond), PerTry: scenarios.Duration(40 * time.Millisecond)},
		RateLimit:    &scenarios.RateLimitPolicy{Service: "payments", RequestsPerSecond: 50, Burst: 10, StatusCode: 429},
		Fault:        &scenarios.FaultPolicy{Service: "payments", Abort: &scenarios.FaultAbort{StatusCode: 503, Percent: 10}},
		RetryBudgets: []scenarios.RetryBudgetPolicy{{Service: "payments", Kind: scenarios.BudgetMaxRetries, MaxConcurrentRetries: 3}},
	}
	cfgs, err := New().Render(topo, eps, p)
	if err != nil {
		t.Fatal(err)
	}
	cl := cfgs["api"].Clusters["payments"]
	if o := cl.Outlier; o == nil || o.Algorithm != "envoy" || o.Consecutive5xx != 2 || o.BaseEjectionTime != time.Minute ||
		o.MaxEjectionPercent != 100 || o.HealthyPanicThreshold != 0 || o.Interval != 10*time.Second || o.MaxEjectionTime != 300*time.Second {
		t.Errorf("outlier %+v", cl.Outlier)
	}
	if len(cl.Routes) != 2 || cl.Routes[0].Match.Headers["x-canary"] != "1" || cl.Routes[0].Split[0].Version != "payments_v2" ||
		cl.Routes[1].Split[0].Weight != 9900 || cl.Routes[1].Split[1].Weight != 100 {
		t.Errorf("routes %+v", cl.Routes)
	}
	if cl.Timeout != 100*time.Millisecond || cl.Retry == nil || cl.Retry.PerTryTimeout != 40*time.Millisecond || cl.Retry.NumRetries != 0 {
		t.Errorf("timeout %v, retry %+v", cl.Timeout, cl.Retry)
	}
	if cl.Fault == nil || cl.Fault.Abort.StatusCode != 503 || cl.Fault.Abort.Percent != 10 || cl.Fault.Delay != nil {
		t.Errorf("fault %+v", cl.Fault)
	}
	if cl.MaxRetries != 3 || cl.RetryBudget != nil {
		t.Errorf("max retries %d, budget %+v", cl.MaxRetries, cl.RetryBudget)
	}
	if in := cfgs["payments"].Inbound; in == nil || in.RateLimit.RequestsPerSecond != 50 || in.RateLimit.Burst != 10 {
		t.Errorf("payments inbound %+v", in)
	}
	if cfgs["api"].Inbound != nil {
		t.Errorf("api must not be rate limited: %+v", cfgs["api"].Inbound)
	}
	for svc, cfg := range cfgs {
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s: rendered config is invalid: %v", svc, err)
		}
	}
	// The book's breaker: fixed ejection, no percent cap.
	book := Outlier(scenarios.CircuitBreakerPolicy{Service: "payments", ErrorThreshold: 2, EjectionDuration: scenarios.Duration(time.Minute)})
	if book.Algorithm != "book" || book.Consecutive5xx != 2 || book.BaseEjectionTime != time.Minute {
		t.Errorf("book breaker %+v", book)
	}
}
