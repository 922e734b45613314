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
	off, err := cp.Render(sc.Topology, eps, nil)
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
	on, err := cp.Render(sc.Topology, eps, &sc.Pattern)
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
	if _, err := New().Render(sc.Topology, fakeEndpoints{}, nil); err == nil || !strings.Contains(err.Error(), "no endpoints") {
		t.Errorf("missing endpoints: %v", err)
	}
	if _, err := New().Render(sc.Topology, eps, &scenarios.Pattern{Kind: "canary"}); err == nil || !strings.Contains(err.Error(), "not implemented") {
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
