package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"meshgym/tracing/tracelite"
)

func protoRequest(t *testing.T) []byte {
	t.Helper()
	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	num := func(k string, v int64) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
	}
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "payments_sidecar")}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{
			TraceId:           bytes.Repeat([]byte{0xab}, 16),
			SpanId:            bytes.Repeat([]byte{0x01}, 8),
			ParentSpanId:      bytes.Repeat([]byte{0x02}, 8),
			Name:              "attempt 1 currency",
			Kind:              tracepb.Span_SPAN_KIND_CLIENT,
			StartTimeUnixNano: 1_700_000_000_000_000_000,
			EndTimeUnixNano:   1_700_000_000_003_000_000,
			Attributes:        []*commonpb.KeyValue{num("meshgym.attempt", 1), str("meshgym.endpoint", "currency_v2"), num("http.response.status_code", 500)},
			Events: []*tracepb.Span_Event{{Name: "ejection", TimeUnixNano: 1_700_000_000_002_000_000,
				Attributes: []*commonpb.KeyValue{str("meshgym.endpoint", "currency_v2")}}},
			Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR},
		}}}},
	}}}
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func post(t *testing.T, url, ctype string, body []byte) int {
	t.Helper()
	resp, err := http.Post(url, ctype, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func readLines(t *testing.T, path string) []Span {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []Span
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var s Span
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		out = append(out, s)
	}
	return out
}

func TestReceiverProtobufToSpanLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), SpansFile)
	r, err := StartReceiver(ReceiverOptions{SpansPath: path})
	if err != nil {
		t.Fatal(err)
	}
	if code := post(t, r.TracesURL(), "application/x-protobuf", protoRequest(t)); code != 200 {
		t.Fatalf("status %d", code)
	}
	if code := post(t, r.TracesURL(), "application/x-protobuf", []byte("not protobuf \xff\xff")); code != 400 {
		t.Fatalf("garbage: status %d, want 400", code)
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := readLines(t, path)
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	want := Span{TraceID: strings.Repeat("ab", 16), SpanID: strings.Repeat("01", 8), ParentID: strings.Repeat("02", 8),
		Name: "attempt 1 currency", Service: "payments_sidecar", Kind: "client", Status: "error"}
	if s.TraceID != want.TraceID || s.SpanID != want.SpanID || s.ParentID != want.ParentID || s.Name != want.Name ||
		s.Service != want.Service || s.Kind != want.Kind || s.Status != want.Status {
		t.Fatalf("span %+v\nwant %+v", s, want)
	}
	if s.Duration() != 3*time.Millisecond || s.Attributes["meshgym.endpoint"] != "currency_v2" || s.Attributes["http.response.status_code"] != float64(500) {
		t.Fatalf("duration %v attributes %v", s.Duration(), s.Attributes)
	}
	if len(s.Events) != 1 || s.Events[0].Name != "ejection" || s.Events[0].Time.Sub(s.Start) != 2*time.Millisecond {
		t.Fatalf("events %+v", s.Events)
	}
	if st := r.Stats(); st.Requests != 1 || st.Spans != 1 || st.Rejected != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReceiverJSONFromTracelite(t *testing.T) {
	path := filepath.Join(t.TempDir(), SpansFile)
	r, err := StartReceiver(ReceiverOptions{SpansPath: path})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := tracelite.New(tracelite.Config{Service: "currency_v1", URL: r.TracesURL()})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	root := tr.StartSpan(tracelite.SpanContext{}, "GET /", tracelite.KindServer, t0)
	root.SetAttr(tracelite.Int("meshgym.attempt", 2), tracelite.String("meshgym.endpoint", "currency_v1"))
	root.StatusAttrs(200, "")
	root.End(t0.Add(time.Millisecond))
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.Close(context.Background())
	spans := readLines(t, path)
	if len(spans) != 1 || spans[0].Service != "currency_v1" || spans[0].Kind != "server" || spans[0].TraceID != root.TraceID.String() ||
		spans[0].ParentID != "" || spans[0].Attributes["meshgym.attempt"] != float64(2) || !spans[0].Start.Equal(t0) {
		t.Fatalf("spans %+v", spans)
	}
}

// sink is a user's OTLP endpoint.
type sink struct {
	mu     sync.Mutex
	bodies [][]byte
	ctypes []string
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, b)
	s.ctypes = append(s.ctypes, r.Header.Get("Content-Type"))
	s.mu.Unlock()
}

func TestReceiverForwardsRawRequests(t *testing.T) {
	sk := &sink{}
	user := httptest.NewServer(sk)
	defer user.Close()
	r, err := StartReceiver(ReceiverOptions{SpansPath: filepath.Join(t.TempDir(), SpansFile), ForwardURL: ForwardURL(user.URL, nil)})
	if err != nil {
		t.Fatal(err)
	}
	body := protoRequest(t)
	for range 3 {
		if code := post(t, r.TracesURL(), "application/x-protobuf", body); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	sk.mu.Lock()
	defer sk.mu.Unlock()
	if len(sk.bodies) != 3 || !bytes.Equal(sk.bodies[0], body) || sk.ctypes[0] != "application/x-protobuf" {
		t.Fatalf("forwarded %d bodies, content types %v", len(sk.bodies), sk.ctypes)
	}
	if st := r.Stats(); st.Forwarded != 3 || st.ForwardDropped != 0 || st.Spans != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReceiverDownEndpointDropsAndCounts(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	url := down.URL
	down.Close()
	var mu sync.Mutex
	var notes []string
	path := filepath.Join(t.TempDir(), SpansFile)
	r, err := StartReceiver(ReceiverOptions{SpansPath: path, ForwardURL: ForwardURL(url, nil), ForwardQueue: 2,
		Logf: func(f string, a ...any) { mu.Lock(); notes = append(notes, f); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	body := protoRequest(t)
	for range 5 {
		// The components' exports succeed whatever the user's endpoint does.
		if code := post(t, r.TracesURL(), "application/x-protobuf", body); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	r.Close(context.Background())
	if st := r.Stats(); st.ForwardDropped != 5 || st.Forwarded != 0 || st.Spans != 5 {
		t.Fatalf("stats %+v; want all 5 spans written, 5 forwards dropped", st)
	}
	if n := len(readLines(t, path)); n != 5 {
		t.Fatalf("%d span lines", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(notes) != 1 {
		t.Fatalf("notes %q; want exactly one line about the failing endpoint", notes)
	}
}

func TestForwardURL(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		flag string
		env  map[string]string
		want string
	}{
		{"", nil, ""},
		{"localhost:4318", nil, "http://localhost:4318/v1/traces"},
		{"http://collector:4318/", nil, "http://collector:4318/v1/traces"},
		{"https://x/v1/traces", map[string]string{tracelite.EnvEndpoint: "http://ignored"}, "https://x/v1/traces"},
		{"", map[string]string{tracelite.EnvEndpoint: "http://c:4318"}, "http://c:4318/v1/traces"},
		{"", map[string]string{tracelite.EnvEndpoint: "http://c:4318", tracelite.EnvTracesEndpoint: "http://t/custom"}, "http://t/custom"},
	} {
		if got := ForwardURL(tc.flag, env(tc.env)); got != tc.want {
			t.Errorf("ForwardURL(%q, %v) = %q, want %q", tc.flag, tc.env, got, tc.want)
		}
	}
}
