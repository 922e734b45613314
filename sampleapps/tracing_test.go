package sampleapps

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"meshgym/tracing/tracelite"
)

func TestUpstreamTarget(t *testing.T) {
	for _, tc := range []struct{ uri, target, cluster string }{
		{"http://127.0.0.1:39131/#currency", "currency", "currency"},
		{"http://127.0.0.1:39131/", "127.0.0.1:39131", ""},
		{"http://[::1]:9091/", "[::1]:9091", ""},
		{"http://localhost:9091/", "localhost:9091", ""},
		{"http://currency:9090/", "currency", ""},
		{"http://currency-v1:9090/#currency", "currency", "currency"},
		{"http://127.0.0.1:1/#bad name", "127.0.0.1:1", ""},
	} {
		u, err := url.Parse(tc.uri)
		if err != nil {
			t.Fatal(err)
		}
		if target, cluster := upstreamTarget(u); target != tc.target || cluster != tc.cluster {
			t.Errorf("upstreamTarget(%s) = %q, %q; want %q, %q", tc.uri, target, cluster, tc.target, tc.cluster)
		}
	}
}

// TestClientSpanNamedAfterService: a sampled request through an app whose
// upstream URI names the service records the client span "GET currency"
// with meshgym.cluster, and the upstream receives no fragment.
func TestClientSpanNamedAfterService(t *testing.T) {
	var mu sync.Mutex
	var spans []tracelite.JSONSpan
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req tracelite.ExportRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("export: %v", err)
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				spans = append(spans, ss.Spans...)
			}
		}
		mu.Unlock()
	}))
	defer collector.Close()
	var gotURI string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotURI = r.RequestURI
		w.Write([]byte(`{"name":"currency","code":200}`))
	}))
	defer upstream.Close()

	app, err := NewServer(Options{Name: "payments", UpstreamURIs: []string{upstream.URL + "/#currency"}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := tracelite.New(tracelite.Config{Service: "payments", URL: collector.URL + "/v1/traces", BatchDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	app.SetTracer(tr)
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if gotURI != "/" {
		t.Errorf("upstream received %q, want / (the fragment is not sent)", gotURI)
	}
	mu.Lock()
	defer mu.Unlock()
	var client *tracelite.JSONSpan
	for i := range spans {
		if spans[i].Kind == 3 { // SPAN_KIND_CLIENT
			client = &spans[i]
		}
	}
	if client == nil {
		t.Fatalf("no client span among %d spans", len(spans))
	}
	if client.Name != "GET currency" {
		t.Errorf("client span name = %q, want GET currency", client.Name)
	}
	cluster := ""
	for _, kv := range client.Attributes {
		if kv.Key == "meshgym.cluster" && kv.Value.StringValue != nil {
			cluster = *kv.Value.StringValue
		}
	}
	if cluster != "currency" {
		t.Errorf("meshgym.cluster = %q, want currency", cluster)
	}
}
