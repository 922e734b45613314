package dataplane

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOutboundNoCluster(t *testing.T) {
	sc := startTestSidecar(t, "api", "currency")
	code, body, _ := get(t, http.DefaultClient, "http://"+sc.Addrs().Outbound["currency"]+"/")
	if code != 503 || strings.TrimSpace(body) != "no cluster" {
		t.Fatalf("got %d %q, want 503 no cluster", code, body)
	}
	// A config without this service's cluster is the same.
	putConfig(t, sc, Config{Version: 1, Clusters: map[string]Cluster{"other": {Endpoints: []Endpoint{{Name: "o", Address: "127.0.0.1:1"}}}}})
	if code, _, _ := get(t, http.DefaultClient, "http://"+sc.Addrs().Outbound["currency"]+"/"); code != 503 {
		t.Fatalf("got %d", code)
	}
}

// recorder is an upstream that fails its first failN requests with code.
type recorder struct {
	mu       sync.Mutex
	attempts []string
	bodies   []string
	headers  []http.Header
	failN    int
	code     int
	extra    http.Header
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.attempts = append(rec.attempts, r.Header.Get(AttemptCountHeader))
	rec.bodies = append(rec.bodies, string(b))
	rec.headers = append(rec.headers, r.Header.Clone())
	n := len(rec.attempts)
	rec.mu.Unlock()
	for k, vv := range rec.extra {
		w.Header()[k] = vv
	}
	if n <= rec.failN {
		w.WriteHeader(rec.code)
		io.WriteString(w, "failed")
		return
	}
	io.WriteString(w, "ok:"+string(b))
}

func TestOutboundRetryResendsBodyWithAttemptCount(t *testing.T) {
	rec := &recorder{failN: 2, code: 503}
	up := httptest.NewServer(rec)
	defer up.Close()
	sc := startTestSidecar(t, "api", "currency")
	putConfig(t, sc, Config{Version: 1, Clusters: map[string]Cluster{"currency": {
		Endpoints: []Endpoint{{Name: "currency_v1", Address: up.Listener.Addr().String()}},
		Retry:     &RetryPolicy{NumRetries: 3, RetryOn: []string{"5xx"}, BackoffBase: time.Millisecond},
	}}})
	resp, err := http.Post("http://"+sc.Addrs().Outbound["currency"]+"/pay?x=1", "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok:hello" {
		t.Fatalf("got %d %q", resp.StatusCode, b)
	}
	if want := []string{"1", "2", "3"}; !reflect.DeepEqual(rec.attempts, want) {
		t.Fatalf("attempt headers %v, want %v", rec.attempts, want)
	}
	if want := []string{"hello", "hello", "hello"}; !reflect.DeepEqual(rec.bodies, want) {
		t.Fatalf("bodies %q", rec.bodies)
	}
	up2 := series(scrape(t, sc)[MetricUpstreamRequests])
	for key, want := range map[string]float64{
		"attempt=1,cluster=currency,direction=outbound,name=currency_v1,status_code=503": 1,
		"attempt=2,cluster=currency,direction=outbound,name=currency_v1,status_code=503": 1,
		"attempt=3,cluster=currency,direction=outbound,name=currency_v1,status_code=200": 1,
	} {
		if up2[key] != want {
			t.Errorf("%s{%s} = %v, want %v (all: %v)", MetricUpstreamRequests, key, up2[key], want, up2)
		}
	}
	if r := series(scrape(t, sc)[MetricUpstreamRetries]); r["cluster=currency,reason=status_code"] != 2 {
		t.Errorf("retries %v", r)
	}
}

func TestOutboundLargeBodyIsNotRetried(t *testing.T) {
	rec := &recorder{failN: 5, code: 503}
	up := httptest.NewServer(rec)
	defer up.Close()
	sc := startTestSidecar(t, "api", "currency")
	putConfig(t, sc, Config{Version: 1, Clusters: map[string]Cluster{"currency": {
		Endpoints: []Endpoint{{Name: "currency_v1", Address: up.Listener.Addr().String()}},
		Retry:     &RetryPolicy{NumRetries: 3, RetryOn: []string{"5xx"}, BackoffBase: time.Millisecond},
	}}})
	big := strings.Repeat("x", MaxRetryBody+10)
	// Known length and chunked (unknown length) bodies.
	for _, body := range []io.Reader{strings.NewReader(big), io.MultiReader(strings.NewReader(big))} {
		rec.mu.Lock()
		rec.attempts, rec.bodies = nil, nil
		rec.mu.Unlock()
		resp, err := http.Post("http://"+sc.Addrs().Outbound["currency"]+"/", "text/plain", body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 || len(rec.attempts) != 1 || len(rec.bodies[0]) != len(big) {
			t.Fatalf("got %d after %d attempts (body %d bytes), want one 503 with the whole body", resp.StatusCode, len(rec.attempts), len(rec.bodies[0]))
		}
	}
}

func TestOutboundConnectFailure(t *testing.T) {
	dead := closedAddr(t)
	sc := startTestSidecar(t, "api", "currency")
	putConfig(t, sc, Config{Version: 1, Clusters: map[string]Cluster{"currency": {
		Endpoints: []Endpoint{{Name: "currency_v1", Address: dead}},
	}}})
	url := "http://" + sc.Addrs().Outbound["currency"] + "/"
	code, body, _ := get(t, http.DefaultClient, url)
	if code != 503 || !strings.HasPrefix(body, "upstream connect error or disconnect/reset before headers") {
		t.Fatalf("got %d %q", code, body)
	}
	putConfig(t, sc, Config{Version: 2, Clusters: map[string]Cluster{"currency": {
		Endpoints: []Endpoint{{Name: "currency_v1", Address: dead}},
		Retry:     &RetryPolicy{NumRetries: 2, RetryOn: []string{"connect-failure"}, BackoffBase: time.Millisecond},
	}}})
	if code, _, _ := get(t, http.DefaultClient, url); code != 503 {
		t.Fatalf("got %d", code)
	}
	mfs := scrape(t, sc)
	up := series(mfs[MetricUpstreamRequests])
	if got := up["attempt=3,cluster=currency,direction=outbound,name=currency_v1,status_code=0"]; got != 1 {
		t.Fatalf("third attempt not counted with status 0: %v", up)
	}
	if got := series(mfs[MetricUpstreamRetryLimitExceeded])["cluster=currency"]; got != 1 {
		t.Fatalf("retry limit exceeded = %v, want 1", got)
	}
	if got := series(mfs[MetricUpstreamRetries])["cluster=currency,reason=connect_failure"]; got != 2 {
		t.Fatalf("retries = %v, want 2", got)
	}
}

func TestOutboundPerTryTimeout(t *testing.T) {
	up, n := hangingUpstream(t)
	sc := startTestSidecar(t, "api", "currency")
	putConfig(t, sc, Config{Version: 1, Clusters: map[string]Cluster{"currency": {
		Endpoints: []Endpoint{{Name: "currency_v1", Address: up.Listener.Addr().String()}},
		Retry: &RetryPolicy{NumRetries: 1, RetryOn: []string{"5xx"}, PerTryTimeout: 50 * time.Millisecond,
			BackoffBase: time.Millisecond},
	}}})
	start := time.Now()
	code, body, _ := get(t, http.DefaultClient, "http://"+sc.Addrs().Outbound["currency"]+"/")
	if code != 504 || strings.TrimSpace(body) != "upstream request timeout" {
		t.Fatalf("got %d %q", code, body)
	}
	if n.Load() != 2 {
		t.Fatalf("upstream saw %d attempts, want 2", n.Load())
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("took %v", el)
	}
	if r := series(scrape(t, sc)[MetricUpstreamRetries]); r["cluster=currency,reason=per_try_timeout"] != 1 {
		t.Fatalf("retries %v", r)
	}
}

func TestOutboundOverloadedNotRetried(t *testing.T) {
	rec := &recorder{failN: 5, code: 503, extra: http.Header{OverloadedHeader: {"true"}}}
	up := httptest.NewServer(rec)
	defer up.Close()
	sc := startTestSidecar(t, "api", "currency")
	putConfig(t, sc, Config{Version: 1, Clusters: map[string]Cluster{"currency": {
		Endpoints: []Endpoint{{Name: "currency_v1", Address: up.Listener.Addr().String()}},
		Retry:     &RetryPolicy{NumRetries: 3, RetryOn: []string{"5xx"}},
	}}})
	code, _, _ := get(t, http.DefaultClient, "http://"+sc.Addrs().Outbound["currency"]+"/")
	if code != 503 || len(rec.attempts) != 1 {
		t.Fatalf("got %d after %d attempts", code, len(rec.attempts))
	}
}

func TestHopByHopHeaders(t *testing.T) {
	var seen http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		w.Header().Set("Connection", "X-Resp-Hop")
		w.Header().Set("X-Resp-Hop", "1")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-Resp-End", "2")
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	sc := startTestSidecar(t, "api", "currency")
	putConfig(t, sc, Config{Version: 1, Clusters: map[string]Cluster{"currency": {
		Endpoints: []Endpoint{{Name: "currency_v1", Address: up.Listener.Addr().String()}}}}})
	req, _ := http.NewRequest("GET", "http://"+sc.Addrs().Outbound["currency"]+"/", nil)
	req.Header.Set("Connection", "X-Hop, keep-alive")
	req.Header.Set("X-Hop", "secret")
	req.Header.Set("Proxy-Authorization", "Basic x")
	req.Header.Set("Te", "trailers, deflate")
	req.Header.Set("Upgrade", "foo")
	req.Header.Set("X-End", "kept")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, h := range []string{"X-Hop", "Proxy-Authorization", "Upgrade"} {
		if v := seen.Get(h); v != "" {
			t.Errorf("upstream saw hop-by-hop %s: %q", h, v)
		}
	}
	if seen.Get("X-End") != "kept" || seen.Get("Te") != "trailers" || seen.Get(AttemptCountHeader) != "1" {
		t.Errorf("upstream headers %v", seen)
	}
	if resp.Header.Get("X-Resp-Hop") != "" || resp.Header.Get("Keep-Alive") != "" || resp.Header.Get("X-Resp-End") != "2" {
		t.Errorf("client headers %v", resp.Header)
	}
}

func TestTrailersForwarded(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		io.WriteString(w, "body")
		w.Header().Set("X-Checksum", "abc")
	}))
	defer up.Close()
	sc := startTestSidecar(t, "api", "currency")
	putConfig(t, sc, Config{Version: 1, Clusters: map[string]Cluster{"currency": {
		Endpoints: []Endpoint{{Name: "currency_v1", Address: up.Listener.Addr().String()}}}}})
	resp, err := http.Get("http://" + sc.Addrs().Outbound["currency"] + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "body" || resp.Trailer.Get("X-Checksum") != "abc" {
		t.Fatalf("body %q trailer %v", b, resp.Trailer)
	}
}

func TestInboundCountsAttemptsAtServerSide(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(500)
		}
		io.WriteString(w, r.Header.Get(AttemptCountHeader))
	}))
	defer app.Close()
	sc, err := Start(Options{Name: "currency_v1", AdminAddr: "127.0.0.1:0", InboundAddr: "127.0.0.1:0", AppAddr: app.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	base := "http://" + sc.Addrs().Inbound
	for _, tc := range []struct{ path, attempt string }{{"/", ""}, {"/", "2"}, {"/fail", "3"}, {"/", "junk"}} {
		req, _ := http.NewRequest("GET", base+tc.path, nil)
		if tc.attempt != "" {
			req.Header.Set(AttemptCountHeader, tc.attempt)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != tc.attempt {
			t.Fatalf("app saw attempt %q, want %q", b, tc.attempt)
		}
	}
	mfs := scrape(t, sc)
	got := series(mfs[MetricRequests])
	want := map[string]float64{
		"attempt=1,direction=inbound,name=currency_v1,status_code=200": 2,
		"attempt=2,direction=inbound,name=currency_v1,status_code=200": 1,
		"attempt=3,direction=inbound,name=currency_v1,status_code=500": 1,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s = %v, want %v", MetricRequests, got, want)
	}
	if d := series(mfs[MetricRequestDuration]); d["direction=inbound,name=currency_v1"] != 4 {
		t.Fatalf("durations %v", d)
	}
	// App down → 503 counted at the server side.
	app.Close()
	code, body, _ := get(t, http.DefaultClient, base+"/")
	if code != 503 || !strings.HasPrefix(body, "upstream connect error") {
		t.Fatalf("app down: %d %q", code, body)
	}
	if got := series(scrape(t, sc)[MetricRequests]); got["attempt=1,direction=inbound,name=currency_v1,status_code=503"] != 1 {
		t.Fatalf("503 not counted: %v", got)
	}
}

func TestEventsStream(t *testing.T) {
	rec := &recorder{failN: 1, code: 500}
	up := httptest.NewServer(rec)
	defer up.Close()
	sc := startTestSidecar(t, "api", "currency")
	resp, err := http.Get("http://" + sc.Addrs().Admin + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Fatalf("content type %q", ct)
	}
	putConfig(t, sc, Config{Version: 7, Clusters: map[string]Cluster{"currency": {
		Endpoints: []Endpoint{{Name: "currency_v1", Address: up.Listener.Addr().String()}},
		Retry:     &RetryPolicy{NumRetries: 1, RetryOn: []string{"5xx"}, BackoffBase: time.Millisecond},
	}}})
	if code, _, _ := get(t, http.DefaultClient, "http://"+sc.Addrs().Outbound["currency"]+"/"); code != 200 {
		t.Fatalf("got %d", code)
	}
	sr := bufio.NewScanner(resp.Body)
	var events []Event
	for len(events) < 2 && sr.Scan() {
		var e Event
		if err := json.Unmarshal(sr.Bytes(), &e); err != nil {
			t.Fatalf("bad NDJSON line %q: %v", sr.Text(), err)
		}
		events = append(events, e)
	}
	if len(events) != 2 || events[0].Kind != EventConfig || !strings.Contains(events[0].Detail, "version 7") {
		t.Fatalf("events %+v", events)
	}
	e := events[1]
	if e.Kind != EventRetry || e.Component != "api" || e.Cluster != "currency" || e.Endpoint != "currency_v1" ||
		e.Attempt != 1 || e.StatusCode != 500 || e.Backoff < 0 || e.Backoff >= time.Millisecond {
		t.Fatalf("retry event %+v", e)
	}
}

func TestEventsSlowSubscriberDropsAndCounts(t *testing.T) {
	sc := startTestSidecar(t, "api")
	ch, stop := sc.fwd.events.subscribe(2)
	defer stop()
	for i := range 5 {
		sc.fwd.events.publish(Event{Kind: EventRetry, Attempt: i})
	}
	if len(ch) != 2 || sc.fwd.events.dropped.Load() != 3 {
		t.Fatalf("buffered %d, dropped %d; want 2 and 3", len(ch), sc.fwd.events.dropped.Load())
	}
	if got := series(scrape(t, sc)[MetricEventsDropped]); got["name=api"] != 3 {
		t.Fatalf("%s = %v", MetricEventsDropped, got)
	}
}

func TestAdminConfigAndReady(t *testing.T) {
	sc := startTestSidecar(t, "api", "currency")
	admin := "http://" + sc.Addrs().Admin
	if code, _, _ := get(t, http.DefaultClient, admin+"/ready"); code != 503 {
		t.Fatalf("ready before config: %d", code)
	}
	for name, body := range map[string]string{
		"not json":         "{",
		"unknown field":    `{"clusters":{},"bogus":1}`,
		"no endpoints":     `{"clusters":{"currency":{"endpoints":[]}}}`,
		"no address":       `{"clusters":{"currency":{"endpoints":[{"name":"a"}]}}}`,
		"bad address":      `{"clusters":{"currency":{"endpoints":[{"name":"a","address":"nope"}]}}}`,
		"bad lb":           `{"clusters":{"currency":{"lb_policy":"maglev","endpoints":[{"name":"a","address":"127.0.0.1:1"}]}}}`,
		"bad retry_on":     `{"clusters":{"currency":{"endpoints":[{"name":"a","address":"127.0.0.1:1"}],"retry":{"num_retries":1,"retry_on":["sometimes"]}}}}`,
		"negative retries": `{"clusters":{"currency":{"endpoints":[{"name":"a","address":"127.0.0.1:1"}],"retry":{"num_retries":-2,"retry_on":["5xx"]}}}}`,
	} {
		req, _ := http.NewRequest(http.MethodPut, admin+"/config", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || strings.Count(strings.TrimSpace(string(msg)), "\n") != 0 || len(msg) < 10 {
			t.Errorf("%s: %d %q, want 400 with one line", name, resp.StatusCode, msg)
		}
	}
	c := Config{Version: 3, Clusters: map[string]Cluster{"currency": {
		Endpoints: []Endpoint{{Name: "currency_v1", Address: "127.0.0.1:9"}},
		Retry:     &RetryPolicy{NumRetries: 2, RetryOn: []string{"5xx"}, PerTryTimeout: time.Second},
	}}}
	putConfig(t, sc, c)
	_, body, _ := get(t, http.DefaultClient, admin+"/config")
	var back Config
	if err := json.Unmarshal([]byte(body), &back); err != nil {
		t.Fatal(err)
	}
	c.Clusters["currency"] = func(cl Cluster) Cluster { cl.Name = "currency"; return cl }(c.Clusters["currency"])
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("GET /config = %+v, want %+v", back, c)
	}
	if code, _, _ := get(t, http.DefaultClient, admin+"/ready"); code != 200 {
		t.Fatalf("ready after config: %d", code)
	}
}

func TestMetricsExposition(t *testing.T) {
	rec := &recorder{failN: 1, code: 500}
	up := httptest.NewServer(rec)
	defer up.Close()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer app.Close()
	sc, err := Start(Options{Name: "payments_v1", AdminAddr: "127.0.0.1:0", InboundAddr: "127.0.0.1:0",
		AppAddr: app.Listener.Addr().String(), Outbound: []OutboundListener{{Service: "currency", Addr: "127.0.0.1:0"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	putConfig(t, sc, Config{Version: 1, Clusters: map[string]Cluster{"currency": {
		Endpoints: []Endpoint{{Name: "currency_v1", Address: up.Listener.Addr().String()}},
		Retry:     &RetryPolicy{NumRetries: 0, RetryOn: []string{"5xx"}},
	}}})
	get(t, http.DefaultClient, "http://"+sc.Addrs().Outbound["currency"]+"/") // 500, URX
	get(t, http.DefaultClient, "http://"+sc.Addrs().Inbound+"/")
	rec.failN = 2
	putConfig(t, sc, Config{Version: 2, Clusters: map[string]Cluster{"currency": {
		Endpoints: []Endpoint{{Name: "currency_v1", Address: up.Listener.Addr().String()}},
		Retry:     &RetryPolicy{NumRetries: 1, RetryOn: []string{"5xx"}, BackoffBase: time.Millisecond},
	}}})
	get(t, http.DefaultClient, "http://"+sc.Addrs().Outbound["currency"]+"/") // 500 then 200
	ch, stop := sc.fwd.events.subscribe(0)
	sc.fwd.events.publish(Event{}) // dropped
	stop()
	_ = ch

	mfs := scrape(t, sc)
	wantLabels := map[string][]string{
		MetricRequests:                   {"attempt", "direction", "name", "status_code"},
		MetricRequestDuration:            {"direction", "name"},
		MetricUpstreamRequests:           {"attempt", "cluster", "direction", "name", "status_code"},
		MetricUpstreamRetries:            {"cluster", "reason"},
		MetricUpstreamRetryLimitExceeded: {"cluster"},
		MetricEventsDropped:              {"name"},
	}
	var names []string
	for name := range mfs {
		names = append(names, name)
	}
	for name, labels := range wantLabels {
		mf := mfs[name]
		if mf == nil {
			t.Errorf("missing %s (exported: %v)", name, names)
			continue
		}
		for _, m := range mf.GetMetric() {
			var got []string
			for _, l := range m.GetLabel() {
				got = append(got, l.GetName())
			}
			if !reflect.DeepEqual(got, labels) {
				t.Errorf("%s labels %v, want %v", name, got, labels)
			}
		}
	}
	for name := range mfs {
		if _, ok := wantLabels[name]; !ok {
			t.Errorf("unexpected family %s", name)
		}
	}
	if mf := mfs[MetricRequestDuration]; mf != nil {
		if mf.GetType().String() != "HISTOGRAM" {
			t.Errorf("%s type %v", MetricRequestDuration, mf.GetType())
		}
		b := mf.GetMetric()[0].GetHistogram().GetBucket()
		if len(b) > 0 && math.IsInf(b[len(b)-1].GetUpperBound(), 1) {
			b = b[:len(b)-1]
		}
		if len(b) != len(DurationBuckets) || b[0].GetUpperBound() != 0.00005 || b[len(b)-1].GetUpperBound() != 30 {
			t.Errorf("buckets %v", b)
		}
	}
	for _, name := range []string{MetricRequests, MetricUpstreamRequests, MetricUpstreamRetries, MetricUpstreamRetryLimitExceeded, MetricEventsDropped} {
		if mf := mfs[name]; mf != nil && mf.GetType().String() != "COUNTER" {
			t.Errorf("%s type %v", name, mf.GetType())
		}
	}
	if got := series(mfs[MetricUpstreamRetryLimitExceeded])["cluster=currency"]; got != 1 {
		t.Errorf("URX = %v", got)
	}
	// The raw text carries no scope or target labels.
	resp, _ := http.Get("http://" + sc.Addrs().Admin + "/metrics")
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if bytes.Contains(raw, []byte("otel_scope")) || bytes.Contains(raw, []byte("target_info")) {
		t.Errorf("scope/target info exported:\n%s", raw)
	}
}
