package load

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"meshgym/tracing/tracelite"
)

// spanSink is a fake OTLP/HTTP JSON endpoint that keeps the trace ids.
type spanSink struct {
	mu  sync.Mutex
	ids map[string]string // trace id → span name
}

func (s *spanSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req tracelite.ExportRequest
	b, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				s.ids[sp.TraceID] = sp.Name
			}
		}
	}
}

func TestTracingSamplesAFraction(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 2000 requests")
	}
	var sampled, unsampled atomic.Int64
	var mu sync.Mutex
	headerIDs := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.Header.Get("traceparent")
		if v == "" {
			unsampled.Add(1)
			return
		}
		sc, ok := tracelite.ParseTraceparent(v)
		if !ok || !sc.Sampled {
			t.Errorf("bad traceparent %q", v)
			return
		}
		sampled.Add(1)
		mu.Lock()
		headerIDs[sc.TraceID.String()] = true
		mu.Unlock()
	}))
	defer srv.Close()
	sink := &spanSink{ids: map[string]string{}}
	col := httptest.NewServer(sink)
	defer col.Close()

	run := func(tr *Tracing) *Result {
		t.Helper()
		sampled.Store(0)
		unsampled.Store(0)
		res, err := Run(context.Background(), Spec{URL: srv.URL + "/", RPS: 2000, Connections: 4, Duration: 500 * time.Millisecond, Tracing: tr})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	tracer, err := tracelite.New(tracelite.Config{Service: "loadgen", URL: col.URL + tracelite.TracesPath})
	if err != nil {
		t.Fatal(err)
	}
	res := run(&Tracing{Sample: 0.1, Tracer: tracer, Seed: 7})
	if err := tracer.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	n, k := res.Client.Count, sampled.Load()
	if n != 1000 || k+unsampled.Load() != n {
		t.Fatalf("%d requests (%d sampled, %d not); want 1000", n, k, unsampled.Load())
	}
	// Binomial(1000, 0.1): mean 100, sd 9.5; ±4.7 sd.
	if k < 55 || k > 145 {
		t.Errorf("%d of 1000 requests traced at sample 0.1; want 55..145", k)
	}
	sink.mu.Lock()
	if len(sink.ids) != int(k) {
		t.Errorf("%d root spans exported for %d traced requests", len(sink.ids), k)
	}
	for id := range headerIDs {
		if sink.ids[id] != "GET /" {
			t.Errorf("trace %s sent but its root span is %q", id, sink.ids[id])
			break
		}
	}
	sink.mu.Unlock()

	for _, tr := range []*Tracing{{Sample: -1, Tracer: tracer}, {Sample: 0.5}, nil} {
		res = run(tr)
		if sampled.Load() != 0 || res.Client.Count != 1000 {
			t.Errorf("tracing %+v: %d of %d requests traced, want none", tr, sampled.Load(), res.Client.Count)
		}
	}
}

func TestTracingSampledDraws(t *testing.T) {
	lt := newLoadTracer(&Tracing{Sample: 0.25, Seed: 3}, Spec{URL: "http://h:1/x", Connections: 2})
	k := 0
	for range 10000 {
		if lt.sampled(0) {
			k++
		}
	}
	// Binomial(10000, 0.25): sd 43.
	if k < 2300 || k > 2700 {
		t.Fatalf("%d of 10000 sampled at 0.25", k)
	}
	if lt.path != "/x" {
		t.Fatalf("path %q", lt.path)
	}
}
