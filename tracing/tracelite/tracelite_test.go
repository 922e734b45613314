package tracelite

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
)

func TestParseTraceparent(t *testing.T) {
	for _, tc := range []struct {
		name, v string
		ok      bool
		sampled bool
	}{
		{"sampled", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true, true},
		{"not sampled", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", true, false},
		{"other flags with sampled bit", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03", true, true},
		{"future version, longer", "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what", true, true},
		{"version 00 too long", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", false, false},
		{"version ff", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false, false},
		{"zero trace id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", false, false},
		{"zero span id", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false, false},
		{"upper case", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", false, false},
		{"short", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1", false, false},
		{"empty", "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, ok := ParseTraceparent(tc.v)
			if ok != tc.ok || sc.Sampled != tc.sampled {
				t.Fatalf("ParseTraceparent(%q) = %+v, %v; want ok %v sampled %v", tc.v, sc, ok, tc.ok, tc.sampled)
			}
			if ok && tc.v[:2] == "00" {
				want := tc.v[:53] + "00"
				if sc.Sampled {
					want = tc.v[:53] + "01"
				}
				if got := sc.Traceparent(); got != want {
					t.Errorf("round trip %q, want %q", got, want)
				}
			}
		})
	}
}

func TestParseTraceparentAllocatesNothing(t *testing.T) {
	v := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	if n := testing.AllocsPerRun(100, func() { ParseTraceparent(v) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// The header is OpenTelemetry's: propagation.TraceContext reads what
// tracelite writes, and the other way round.
func TestTraceparentInteropWithOTel(t *testing.T) {
	tr, err := New(Config{Service: "x", URL: "http://127.0.0.1:1/v1/traces"})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	sp := tr.StartSpan(SpanContext{}, "root", KindClient, time.Now())
	h := http.Header{}
	h.Set("traceparent", sp.Context().Traceparent())
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier(h))
	// Re-inject what OTel extracted: the same header comes out.
	out := http.Header{}
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(out))
	if out.Get("traceparent") != h.Get("traceparent") {
		t.Fatalf("OTel re-injected %q, want %q", out.Get("traceparent"), h.Get("traceparent"))
	}
	got, ok := ParseTraceparent(out.Get("traceparent"))
	if !ok || got != sp.Context() {
		t.Fatalf("parsed %+v %v, want %+v", got, ok, sp.Context())
	}
}

func TestStartSpanParenting(t *testing.T) {
	tr := &Tracer{service: "s", exp: &exporter{cfg: Config{MaxQueue: 10}}}
	root := tr.StartSpan(SpanContext{}, "root", KindClient, time.Now())
	child := tr.StartSpan(root.Context(), "child", KindServer, time.Now())
	if !root.TraceID.IsValid() || root.ParentID.IsValid() {
		t.Fatalf("root %+v", root)
	}
	if child.TraceID != root.TraceID || child.ParentID != root.SpanID || child.SpanID == root.SpanID {
		t.Fatalf("child %+v of root %+v", child, root)
	}
	var nilTracer *Tracer
	if s := nilTracer.StartSpan(root.Context(), "x", KindServer, time.Now()); s != nil {
		t.Fatal("nil tracer started a span")
	}
	var nilSpan *Span
	nilSpan.AddEvent("e", time.Now())
	nilSpan.SetAttr(String("k", "v"))
	nilSpan.StatusAttrs(500, "")
	nilSpan.End(time.Now()) // no panic
}

func TestStatusAttrs(t *testing.T) {
	for _, tc := range []struct {
		kind    Kind
		code    int
		errType string
		status  int
		wantErr string
	}{
		{KindServer, 200, "", StatusUnset, ""},
		{KindServer, 404, "", StatusUnset, ""},
		{KindClient, 404, "", StatusError, "404"},
		{KindServer, 503, "", StatusError, "503"},
		{KindClient, 0, "connect_failure", StatusError, "connect_failure"},
	} {
		s := &Span{Kind: tc.kind}
		s.StatusAttrs(tc.code, tc.errType)
		gotErr := ""
		for _, a := range s.Attrs {
			if a.Key == "error.type" {
				gotErr = a.Value().(string)
			}
		}
		if s.Status != tc.status || gotErr != tc.wantErr {
			t.Errorf("%v %d: status %d error.type %q; want %d %q", tc.kind, tc.code, s.Status, gotErr, tc.status, tc.wantErr)
		}
	}
}

// collector is a fake OTLP/HTTP JSON endpoint.
type collector struct {
	mu    sync.Mutex
	reqs  []ExportRequest
	ctype string
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var req ExportRequest
	if err := json.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	c.mu.Lock()
	c.reqs = append(c.reqs, req)
	c.ctype = r.Header.Get("Content-Type")
	c.mu.Unlock()
}

func TestExportOTLPJSON(t *testing.T) {
	c := &collector{}
	srv := httptest.NewServer(c)
	defer srv.Close()
	tr, err := FromEnv("currency_v1", func(k string) string {
		if k == EnvEndpoint {
			return srv.URL + "/"
		}
		return ""
	})
	if err != nil || tr == nil {
		t.Fatalf("FromEnv: %v %v", tr, err)
	}
	t0 := time.Unix(1700000000, 5)
	sp := tr.StartSpan(SpanContext{}, "GET /", KindServer, t0, HTTPAttrs("GET", "/", "127.0.0.1:8080")...)
	sp.SetAttr(Int("meshgym.attempt", 2), Float("meshgym.backoff_ms", 12.5), Bool("b", true))
	sp.AddEvent("ejection", t0.Add(time.Millisecond), String("meshgym.endpoint", "currency_v2"))
	sp.StatusAttrs(500, "")
	sp.End(t0.Add(2 * time.Millisecond))
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := tr.Stats(); st.Exported != 1 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.reqs) != 1 || c.ctype != "application/json" {
		t.Fatalf("%d requests, content type %q", len(c.reqs), c.ctype)
	}
	rs := c.reqs[0].ResourceSpans[0]
	if v := rs.Resource.Attributes[0]; v.Key != "service.name" || *v.Value.StringValue != "currency_v1" {
		t.Fatalf("resource %+v", rs.Resource)
	}
	js := rs.ScopeSpans[0].Spans[0]
	if js.TraceID != sp.TraceID.String() || js.Kind != int(KindServer) || uint64(js.StartTimeUnixNano) != uint64(t0.UnixNano()) ||
		js.Status == nil || js.Status.Code != StatusError || len(js.Events) != 1 || js.Events[0].Name != "ejection" {
		t.Fatalf("span %+v", js)
	}
	attrs := map[string]any{}
	for _, kv := range js.Attributes {
		attrs[kv.Key] = kv.Value.Value()
	}
	want := map[string]any{"http.request.method": "GET", "server.address": "127.0.0.1", "server.port": int64(8080),
		"meshgym.attempt": int64(2), "meshgym.backoff_ms": 12.5, "b": true, "http.response.status_code": int64(500), "error.type": "500"}
	for k, v := range want {
		if attrs[k] != v {
			t.Errorf("%s = %v (%T), want %v", k, attrs[k], attrs[k], v)
		}
	}
}

func TestExportNeverBlocksAndCountsDrops(t *testing.T) {
	// Nothing listens on the endpoint: exports fail and are counted; a full
	// queue drops at once.
	ln := httptest.NewServer(http.NotFoundHandler())
	url := ln.URL + TracesPath
	ln.Close()
	tr, err := New(Config{Service: "s", URL: url, MaxQueue: 3, BatchDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		tr.StartSpan(SpanContext{}, "x", KindClient, time.Now()).End(time.Now())
	}
	if st := tr.Stats(); st.Dropped != 2 {
		t.Fatalf("queue of 3, 5 spans: dropped %d, want 2", st.Dropped)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := tr.Stats(); st.Dropped != 5 || st.Exported != 0 {
		t.Fatalf("after a failed export: %+v, want 5 dropped", st)
	}
	if _, err := New(Config{URL: "localhost:4318"}); err == nil {
		t.Error("a URL without scheme was accepted")
	}
}

func TestTracesURL(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, ""},
		{map[string]string{EnvEndpoint: "http://h:4318"}, "http://h:4318/v1/traces"},
		{map[string]string{EnvEndpoint: "http://h:4318", EnvTracesEndpoint: "http://t:1/x"}, "http://t:1/x"},
		{map[string]string{EnvEndpoint: "http://h:4318", EnvSDKDisabled: "TRUE"}, ""},
	} {
		if got := TracesURL(func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.env, got, tc.want)
		}
	}
}
