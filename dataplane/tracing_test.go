package dataplane

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"meshgym/tracing/tracelite"
)

// The sidecar changes traceparent only for sampled requests: an unsampled
// one passes through as it came, a sampled one reaches the upstream as a
// child of the attempt's span (same trace id, new parent id).
func TestTraceparentThroughOutbound(t *testing.T) {
	var mu sync.Mutex
	var got []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("traceparent"))
		mu.Unlock()
	}))
	defer up.Close()
	col := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer col.Close()
	tr, err := tracelite.New(tracelite.Config{Service: "s_sidecar", URL: col.URL + tracelite.TracesPath})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	sc, err := Start(Options{Name: "s", AdminAddr: "127.0.0.1:0", Outbound: []OutboundListener{{Service: "up", Addr: "127.0.0.1:0"}},
		ErrorLog: log.New(io.Discard, "", 0), Tracer: tr})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := sc.ApplyConfig(Config{Clusters: map[string]Cluster{"up": {Endpoints: []Endpoint{{Name: "up_v1", Address: up.Listener.Addr().String()}}}}}); err != nil {
		t.Fatal(err)
	}
	const unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
	const sampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, v := range []string{unsampled, sampled, ""} {
		req, _ := http.NewRequest("GET", "http://"+sc.Addrs().Outbound["up"]+"/", nil)
		if v != "" {
			req.Header.Set("traceparent", v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	tr.Flush(context.Background())
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 || got[0] != unsampled || got[2] != "" {
		t.Fatalf("upstream saw %q; want the unsampled header unchanged and none added", got)
	}
	child, ok := tracelite.ParseTraceparent(got[1])
	parent, _ := tracelite.ParseTraceparent(sampled)
	if !ok || !child.Sampled || child.TraceID != parent.TraceID || child.SpanID == parent.SpanID {
		t.Fatalf("sampled request reached the upstream with %q; want trace %s, a new parent id, sampled", got[1], parent.TraceID)
	}
	if st := tr.Stats(); st.Exported != 2 {
		t.Errorf("exported %d spans, want 2 (the request's and its attempt's)", st.Exported)
	}
}

func TestTraceService(t *testing.T) {
	for in, want := range map[string]string{"currency_v2": "currency_v2_sidecar", "x_sidecar": "x_sidecar"} {
		if got := TraceService(in); got != want {
			t.Errorf("TraceService(%q) = %q, want %q", in, got, want)
		}
	}
}
