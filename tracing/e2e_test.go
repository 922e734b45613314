package tracing_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"meshgym/dataplane"
	"meshgym/load"
	"meshgym/sampleapps"
	"meshgym/tracing"
	"meshgym/tracing/tracelite"
)

// TestRetriedRequestTrace is issue 8's test: an in-process OTLP receiver,
// the load generator, Payments (app + sidecar) and Currency's two
// versions (each app + sidecar; currency_v2 always answers 500), and a
// retry policy on Payments' sidecar. One trace of a request whose first
// attempt went to currency_v2 must show, under one trace id: the load
// generator's root span, the sidecars' and apps' server spans, the
// sidecar's attempt 1 → currency_v2 with 500 and attempt 2 →
// currency_v1 with 200 and the back-off before it.
func TestRetriedRequestTrace(t *testing.T) {
	dir := t.TempDir()
	rcv, err := tracing.StartReceiver(tracing.ReceiverOptions{SpansPath: filepath.Join(dir, tracing.SpansFile)})
	if err != nil {
		t.Fatal(err)
	}
	defer rcv.Close(context.Background())
	var tracers []*tracelite.Tracer
	newTracer := func(service string) *tracelite.Tracer {
		tr, err := tracelite.New(tracelite.Config{Service: service, URL: rcv.TracesURL(), BatchDelay: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		tracers = append(tracers, tr)
		return tr
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	quiet := log.New(io.Discard, "", 0)

	// component starts an app and its sidecar; upstream (if any) is the
	// service the app calls through its sidecar's outbound listener.
	component := func(name string, errorRate float64, upstream string) *dataplane.Sidecar {
		appLn, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		so := dataplane.Options{Name: name + "_sidecar", AdminAddr: "127.0.0.1:0", InboundAddr: "127.0.0.1:0",
			AppAddr: appLn.Addr().String(), ErrorLog: quiet, Seed: 1, Tracer: newTracer(name + "_sidecar")}
		if upstream != "" {
			so.Outbound = []dataplane.OutboundListener{{Service: upstream, Addr: "127.0.0.1:0"}}
		}
		sc, err := dataplane.Start(so)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sc.Close() })
		ao := sampleapps.Options{Name: name, ErrorRate: errorRate, ErrorCode: 500, Seed: 1}
		if upstream != "" {
			ao.UpstreamURIs = []string{"http://" + sc.Addrs().Outbound[upstream] + "/"}
		}
		app, err := sampleapps.NewServer(ao)
		if err != nil {
			t.Fatal(err)
		}
		app.SetTracer(newTracer(name))
		go app.Serve(ctx, appLn)
		return sc
	}
	v2 := component("currency_v2", 1, "")
	v1 := component("currency_v1", 0, "")
	payments := component("payments", 0, "currency")
	for _, sc := range []*dataplane.Sidecar{v1, v2} {
		if err := sc.ApplyConfig(dataplane.Config{Clusters: map[string]dataplane.Cluster{}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := payments.ApplyConfig(dataplane.Config{Clusters: map[string]dataplane.Cluster{"currency": {
		Endpoints: []dataplane.Endpoint{
			{Name: "currency_v2", Address: v2.Addrs().Inbound},
			{Name: "currency_v1", Address: v1.Addrs().Inbound},
		},
		Retry: &dataplane.RetryPolicy{NumRetries: 3, RetryOn: []string{"5xx", "connect-failure"},
			BackoffBase: 25 * time.Millisecond, PreviousHosts: true},
	}}}); err != nil {
		t.Fatal(err)
	}

	res, err := load.Run(ctx, load.Spec{
		URL: "http://" + payments.Addrs().Inbound + "/", RPS: 20, Connections: 1, Duration: 300 * time.Millisecond,
		Tracing: &load.Tracing{Sample: 1, Tracer: newTracer("loadgen"), Seed: 1,
			Attrs: []tracelite.Attr{tracelite.String(tracing.AttrPhase, "after")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Client.Count == 0 || res.Client.StatusCodes[200] != res.Client.Count {
		t.Fatalf("client saw %d requests, codes %v; want all 200 (retried)", res.Client.Count, res.Client.StatusCodes)
	}
	for _, tr := range tracers {
		if err := tr.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := rcv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := readSpans(t, filepath.Join(dir, tracing.SpansFile))
	if st := rcv.Stats(); st.Spans != int64(len(spans)) || st.Rejected != 0 {
		t.Fatalf("receiver stats %+v, file has %d spans", st, len(spans))
	}

	byTrace := map[string][]tracing.Span{}
	for _, s := range spans {
		byTrace[s.TraceID] = append(byTrace[s.TraceID], s)
	}
	if int64(len(byTrace)) != res.Client.Count {
		t.Errorf("%d traces for %d requests sampled at 1.0", len(byTrace), res.Client.Count)
	}
	found := false
	for id, tr := range byTrace {
		a1, a2 := attemptSpan(tr, 1), attemptSpan(tr, 2)
		if a1 == nil || a2 == nil || a1.Attributes[tracing.AttrEndpoint] != "currency_v2" {
			continue
		}
		found = true
		t.Logf("trace %s: %d spans", id, len(tr))
		checkAttrs(t, "attempt 1", a1, map[string]any{
			tracing.AttrEndpoint: "currency_v2", tracing.AttrStatusCode: int64(500), tracing.AttrAttempt: int64(1),
			tracing.AttrServerAddr: "127.0.0.1", tracing.AttrBackoffMS: int64(0)})
		checkAttrs(t, "attempt 2", a2, map[string]any{
			tracing.AttrEndpoint: "currency_v1", tracing.AttrStatusCode: int64(200), tracing.AttrAttempt: int64(2)})
		if a1.Service != "payments_sidecar" || a1.Kind != "client" || a2.ParentID != a1.ParentID {
			t.Errorf("attempts: service %q kind %q, parents %s and %s; want payments_sidecar client spans of one parent", a1.Service, a1.Kind, a1.ParentID, a2.ParentID)
		}
		if b, ok := asFloat(a2.Attributes[tracing.AttrBackoffMS]); !ok || b < 0 || b > 25 {
			t.Errorf("attempt 2 back-off %v ms; want within Envoy's first interval [0, 25] ms", a2.Attributes[tracing.AttrBackoffMS])
		}
		if !a2.Start.After(a1.End) && !a2.Start.Equal(a1.End) {
			t.Errorf("attempt 2 starts %v before attempt 1 ends %v", a2.Start, a1.End)
		}
		// Every hop is in the one trace, parented as the request flowed.
		root := only(t, tr, "loadgen", "client")
		if root.ParentID != "" || root.Attributes[tracing.AttrPhase] != "after" || root.Attributes[tracing.AttrStatusCode] != int64(200) {
			t.Errorf("loadgen root span %+v", root)
		}
		pin := only(t, tr, "payments_sidecar", "server", "meshgym.direction", "inbound")
		papp := only(t, tr, "payments", "server")
		pcall := only(t, tr, "payments", "client")
		pout := only(t, tr, "payments_sidecar", "server", "meshgym.direction", "outbound")
		v2in := only(t, tr, "currency_v2_sidecar", "server")
		v2app := only(t, tr, "currency_v2", "server")
		v1in := only(t, tr, "currency_v1_sidecar", "server")
		v1app := only(t, tr, "currency_v1", "server")
		for _, e := range []struct {
			what          string
			child, parent tracing.Span
		}{
			{"payments sidecar inbound ← loadgen", pin, root},
			{"payments app ← its sidecar", papp, pin},
			{"payments call ← payments app", pcall, papp},
			{"outbound ← payments call", pout, pcall},
			{"attempt 1 ← outbound", *a1, pout},
			{"currency_v2 sidecar ← attempt 1", v2in, *a1},
			{"currency_v2 app ← its sidecar", v2app, v2in},
			{"currency_v1 sidecar ← attempt 2", v1in, *a2},
			{"currency_v1 app ← its sidecar", v1app, v1in},
		} {
			if e.child.ParentID != e.parent.SpanID {
				t.Errorf("%s: parent %s, want %s (%s)", e.what, e.child.ParentID, e.parent.SpanID, e.parent.Name)
			}
		}
		if v2app.Attributes[tracing.AttrStatusCode] != int64(500) || v2app.Status != "error" {
			t.Errorf("currency_v2 app span: %v %q; want 500, error", v2app.Attributes, v2app.Status)
		}
		if !hasEvent(pout, "backoff") {
			t.Errorf("outbound span has no backoff event: %+v", pout.Events)
		}
		break
	}
	if !found {
		t.Fatalf("no trace with attempt 1 on currency_v2 and an attempt 2 among %d traces", len(byTrace))
	}
}

func readSpans(t *testing.T, path string) []tracing.Span {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []tracing.Span
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var s tracing.Span
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("span line %q: %v", sc.Text(), err)
		}
		for k, v := range s.Attributes {
			s.Attributes[k] = number(v)
		}
		out = append(out, s)
	}
	return out
}

// number turns a json.Number into int64 when integral, else float64.
func number(v any) any {
	n, ok := v.(json.Number)
	if !ok {
		return v
	}
	if i, err := n.Int64(); err == nil {
		return i
	}
	f, _ := n.Float64()
	return f
}

func attemptSpan(tr []tracing.Span, n int64) *tracing.Span {
	for i := range tr {
		if tr[i].Kind == "client" && tr[i].Service == "payments_sidecar" && tr[i].Attributes[tracing.AttrAttempt] == n {
			return &tr[i]
		}
	}
	return nil
}

func only(t *testing.T, tr []tracing.Span, service, kind string, attr ...string) tracing.Span {
	t.Helper()
	var got []tracing.Span
	for _, s := range tr {
		if s.Service == service && s.Kind == kind && (len(attr) < 2 || s.Attributes[attr[0]] == attr[1]) {
			got = append(got, s)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%d %s spans of %s %v; want 1", len(got), kind, service, attr)
	}
	return got[0]
}

func checkAttrs(t *testing.T, what string, s *tracing.Span, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if got := s.Attributes[k]; got != v {
			t.Errorf("%s: %s = %v (%T), want %v (%T)", what, k, got, got, v, v)
		}
	}
}

func hasEvent(s tracing.Span, name string) bool {
	for _, e := range s.Events {
		if e.Name == name {
			return true
		}
	}
	return false
}

func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}
