package dataplane

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestValidatePolicies(t *testing.T) {
	base := func() Cluster {
		return Cluster{Endpoints: []Endpoint{
			{Name: "currency_v1", Address: "127.0.0.1:1"}, {Name: "currency_v2", Address: "127.0.0.1:2"},
		}}
	}
	with := func(f func(*Cluster)) Config {
		cl := base()
		f(&cl)
		return Config{Clusters: map[string]Cluster{"currency": cl}}
	}
	inbound := func(rl RateLimit) Config { return Config{Inbound: &InboundPolicy{RateLimit: &rl}} }
	w := func(v string, n int) WeightedVersion { return WeightedVersion{Version: v, Weight: n} }
	for _, tc := range []struct {
		name string
		c    Config
		want string // substring of the one-line error
	}{
		{"negative weight", with(func(c *Cluster) {
			c.Routes = []Route{{Split: []WeightedVersion{w("currency_v1", -1), w("currency_v2", 5)}}}
		}), `cluster "currency": routes[0].split[0].weight is -1`},
		{"weights sum to 0", with(func(c *Cluster) {
			c.Routes = []Route{{Split: []WeightedVersion{w("currency_v1", 0), w("currency_v2", 0)}}}
		}), `cluster "currency": routes[0].split weights sum to 0`},
		{"empty split", with(func(c *Cluster) { c.Routes = []Route{{Split: nil}} }), `routes[0].split weights sum to 0`},
		{"unknown version", with(func(c *Cluster) { c.Routes = []Route{{Split: []WeightedVersion{w("currency_v3", 1)}}} }), `cluster "currency": routes[0].split[0].version "currency_v3" matches no endpoint name`},
		{"empty version", with(func(c *Cluster) { c.Routes = []Route{{Split: []WeightedVersion{w("", 1)}}} }), `routes[0].split[0].version is empty`},
		{"huge weights", with(func(c *Cluster) {
			c.Routes = []Route{{Split: []WeightedVersion{w("currency_v1", math.MaxUint32), w("currency_v2", 1)}}}
		}), `routes[0].split weights sum above`},
		{"empty header name", with(func(c *Cluster) {
			c.Routes = []Route{{Match: &RouteMatch{Headers: map[string]string{"": "x"}}, Split: []WeightedVersion{w("currency_v1", 1)}}}
		}), `routes[0].match.headers`},
		{"negative timeout", with(func(c *Cluster) { c.Timeout = -time.Second }), `cluster "currency": timeout is -1s`},
		{"abort percent", with(func(c *Cluster) { c.Fault = &Fault{Abort: &FaultAbort{StatusCode: 503, Percent: 101}} }), `cluster "currency": fault.abort.percent is 101; want 0-100`},
		{"abort status", with(func(c *Cluster) { c.Fault = &Fault{Abort: &FaultAbort{StatusCode: 99, Percent: 1}} }), `fault.abort.status_code is 99`},
		{"delay percent", with(func(c *Cluster) { c.Fault = &Fault{Delay: &FaultDelay{Duration: time.Second, Percent: -1}} }), `cluster "currency": fault.delay.percent is -1`},
		{"delay duration", with(func(c *Cluster) { c.Fault = &Fault{Delay: &FaultDelay{Duration: -time.Second, Percent: 1}} }), `fault.delay.duration is -1s`},
		{"max_retries", with(func(c *Cluster) { c.MaxRetries = -1 }), `cluster "currency": max_retries is -1`},
		{"budget kind", with(func(c *Cluster) { c.RetryBudget = &RetryBudget{Kind: "istio"} }), `cluster "currency": retry_budget.kind is "istio"`},
		{"budget kind empty", with(func(c *Cluster) { c.RetryBudget = &RetryBudget{} }), `retry_budget.kind is ""`},
		{"budget percent", with(func(c *Cluster) { c.RetryBudget = &RetryBudget{Kind: "envoy", BudgetPercent: 150} }), `cluster "currency": retry_budget.budget_percent is 150`},
		{"min concurrency", with(func(c *Cluster) { c.RetryBudget = &RetryBudget{Kind: "envoy", MinRetryConcurrency: -1} }), `retry_budget.min_retry_concurrency is -1`},
		{"retry ratio", with(func(c *Cluster) { c.RetryBudget = &RetryBudget{Kind: "linkerd", RetryRatio: -0.1} }), `cluster "currency": retry_budget.retry_ratio is -0.1`},
		{"min rps fraction", with(func(c *Cluster) { c.RetryBudget = &RetryBudget{Kind: "linkerd", MinRetriesPerSecond: 1.5} }), `retry_budget.min_retries_per_second is 1.5`},
		{"ttl short", with(func(c *Cluster) { c.RetryBudget = &RetryBudget{Kind: "linkerd", TTL: 500 * time.Millisecond} }), `cluster "currency": retry_budget.ttl is 500ms`},
		{"ttl negative", with(func(c *Cluster) { c.RetryBudget = &RetryBudget{Kind: "linkerd", TTL: -time.Second} }), `retry_budget.ttl is -1s`},
		{"rate 0", inbound(RateLimit{}), `inbound: rate_limit.requests_per_second is 0`},
		{"rate negative", inbound(RateLimit{RequestsPerSecond: -1}), `inbound: rate_limit.requests_per_second is -1`},
		{"rate NaN", inbound(RateLimit{RequestsPerSecond: math.NaN()}), `requests_per_second is NaN`},
		{"burst", inbound(RateLimit{RequestsPerSecond: 1, Burst: -1}), `inbound: rate_limit.burst is -1`},
		{"status", inbound(RateLimit{RequestsPerSecond: 1, StatusCode: 200}), `inbound: rate_limit.status_code is 200`},
	} {
		err := tc.c.Validate()
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.ContainsAny(msg, "\r\n") {
			t.Errorf("%s: error %q, want one line containing %q", tc.name, msg, tc.want)
		}
	}
	good := with(func(c *Cluster) {
		c.Routes = []Route{
			{Match: &RouteMatch{Headers: map[string]string{"end-user": "jason"}}, Split: []WeightedVersion{w("currency_v2", 100)}},
			{Split: []WeightedVersion{w("currency_v1", 0), w("currency_v2", 100)}},
		}
		c.Timeout = time.Second
		c.Fault = &Fault{Abort: &FaultAbort{StatusCode: 503, Percent: 0}, Delay: &FaultDelay{Duration: 0, Percent: 100}}
		c.MaxRetries = 3
		c.RetryBudget = &RetryBudget{Kind: "linkerd", RetryRatio: 1000, MinRetriesPerSecond: 10, TTL: time.Minute}
	})
	good.Inbound = &InboundPolicy{RateLimit: &RateLimit{RequestsPerSecond: 0.5}}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
}

// TestAdminConfigPolicies: the policy blocks survive PUT/GET /config, and
// a bad one is a one-line 400.
func TestAdminConfigPolicies(t *testing.T) {
	sc := startTestSidecar(t, "api", "currency")
	admin := "http://" + sc.Addrs().Admin
	c := Config{Version: 4, Inbound: &InboundPolicy{RateLimit: &RateLimit{RequestsPerSecond: 50, Burst: 5, StatusCode: 429}},
		Clusters: map[string]Cluster{"currency": {
			Name: "currency",
			Endpoints: []Endpoint{
				{Name: "currency_v1", Address: "127.0.0.1:9"}, {Name: "currency_v2", Address: "127.0.0.1:10"},
			},
			Routes: []Route{
				{Match: &RouteMatch{Headers: map[string]string{"end-user": "jason"}, Cookies: map[string]string{"c": "1"}},
					Split: []WeightedVersion{{Version: "currency_v2", Weight: 100}}},
				{Split: []WeightedVersion{{Version: "currency_v1", Weight: 90}, {Version: "currency_v2", Weight: 10}}},
			},
			Timeout:     2 * time.Second,
			Fault:       &Fault{Abort: &FaultAbort{StatusCode: 503, Percent: 12.5}, Delay: &FaultDelay{Duration: time.Second, Percent: 1}},
			MaxRetries:  3,
			RetryBudget: &RetryBudget{Kind: "envoy", BudgetPercent: 25, MinRetryConcurrency: 2},
		}}}
	putConfig(t, sc, c)
	_, body, _ := get(t, http.DefaultClient, admin+"/config")
	var back Config
	if err := json.Unmarshal([]byte(body), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("GET /config = %+v\nwant %+v", back, c)
	}
	req, _ := http.NewRequest(http.MethodPut, admin+"/config",
		strings.NewReader(`{"clusters":{"currency":{"endpoints":[{"name":"a","address":"127.0.0.1:1"}],"routes":[{"split":[{"version":"b","weight":1}]}]}}}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || strings.Count(strings.TrimSpace(string(msg)), "\n") != 0 || !strings.Contains(string(msg), `routes[0].split[0].version "b"`) {
		t.Fatalf("%d %q", resp.StatusCode, msg)
	}
}
