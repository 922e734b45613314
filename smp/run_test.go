package smp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// server answers 503 to every 5th request it receives and 200 otherwise,
// counting what it served.
func server(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%5 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestRunExactCount(t *testing.T) {
	srv, served := server(t)
	path := filepath.Join(t.TempDir(), "perf.yaml")
	body := fmt.Sprintf("test:\n  name: loopback\n  duration: 2s\n  clients:\n    - connections: 2\n      rps: 50\n      endpoint_urls: [%s/]\nmesh: none\n", srv.URL)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var progress []Progress
	doc, err := Run(context.Background(), cfg, RunOptions{Progress: func(p Progress) {
		mu.Lock()
		progress = append(progress, p)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Results) != 1 {
		t.Fatalf("%d results", len(doc.Results))
	}
	r := doc.Results[0]
	// Exact-count mode: rps × duration requests, no warm-up request.
	if r.Meshgym.Requests != 100 || served.Load() != 100 {
		t.Fatalf("client counted %d, server served %d; want 100 each", r.Meshgym.Requests, served.Load())
	}
	if r.Meshgym.StatusCodes["200"] != 80 || r.Meshgym.StatusCodes["503"] != 20 || r.Meshgym.Errors != 20 || len(r.Meshgym.StatusCodes) != 2 {
		t.Errorf("status codes %v, errors %d; want 80×200, 20×503", r.Meshgym.StatusCodes, r.Meshgym.Errors)
	}
	if r.EndpointURL != srv.URL+"/" || r.Connections != 2 || r.RequestedQPS != 50 || r.Mesh == nil || r.Mesh.Name != "none" ||
		r.LoadGenerator.Name != "fortio" || r.LoadGenerator.Version == "" || r.ID != "loopback/client-0/"+srv.URL+"/" {
		t.Errorf("result = %+v", r)
	}
	if !r.EndTime.After(r.StartTime) || r.DurationS < 1.9 {
		t.Errorf("start %s end %s duration %gs", r.StartTime, r.EndTime, r.DurationS)
	}
	mu.Lock()
	if len(progress) == 0 || !progress[len(progress)-1].Done || progress[len(progress)-1].URL != srv.URL+"/" {
		t.Errorf("progress = %+v", progress)
	}
	mu.Unlock()

	var buf bytes.Buffer
	if err := doc.Write(&buf); err != nil {
		t.Fatal(err)
	}
	var raw struct {
		SMPVersion string `json:"smp_version"`
		Results    []struct {
			LatenciesMs map[string]float64 `json:"latencies_ms"`
			ActualQPS   float64            `json:"actual_qps"`
			StartTime   time.Time          `json:"start_time"`
			Meshgym     struct {
				StatusCodes map[string]int64 `json:"status_codes"`
			} `json:"meshgym"`
		} `json:"results"`
	}
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	lat := raw.Results[0].LatenciesMs
	if raw.SMPVersion != SpecVersion || lat["p99"] <= 0 || lat["min"] <= 0 || lat["max"] < lat["p99"] || lat["p99"] < lat["p50"] {
		t.Errorf("latencies_ms = %v", lat)
	}
	for _, k := range []string{"min", "average", "p50", "p90", "p99", "max"} {
		if _, ok := lat[k]; !ok {
			t.Errorf("latencies_ms has no %s", k)
		}
	}
	if raw.Results[0].ActualQPS < 40 || raw.Results[0].StartTime.IsZero() || raw.Results[0].Meshgym.StatusCodes["503"] != 20 {
		t.Errorf("json = %s", buf.String())
	}
}

func TestRunClientsTogether(t *testing.T) {
	srv, served := server(t)
	cfg := &TestConfig{Name: "two", Duration: time.Second, Clients: []Client{
		{Connections: 1, RPS: 20, EndpointURLs: []string{srv.URL + "/a"}},
		{Connections: 1, RPS: 10, EndpointURLs: []string{srv.URL + "/b"}},
	}}
	start := time.Now()
	doc, err := Run(context.Background(), cfg, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Results) != 2 || doc.Results[0].Meshgym.Requests != 20 || doc.Results[1].Meshgym.Requests != 10 || served.Load() != 30 {
		t.Fatalf("results %+v, served %d", doc.Results, served.Load())
	}
	if doc.Results[0].EndpointURL != srv.URL+"/a" || doc.Results[1].EndpointURL != srv.URL+"/b" {
		t.Errorf("order: %s, %s", doc.Results[0].EndpointURL, doc.Results[1].EndpointURL)
	}
	// Both clients ran at the same time: their load overlapped.
	a, b := doc.Results[0], doc.Results[1]
	if !a.StartTime.Before(b.EndTime) || !b.StartTime.Before(a.EndTime) {
		t.Errorf("clients did not overlap: a %s–%s, b %s–%s (run took %s)", a.StartTime, a.EndTime, b.StartTime, b.EndTime, time.Since(start))
	}
}

func TestRunCancelled(t *testing.T) {
	srv, _ := server(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cfg := &TestConfig{Name: "c", Duration: time.Second, Clients: []Client{{Connections: 1, RPS: 10, EndpointURLs: []string{srv.URL}}}}
	_, err := Run(ctx, cfg, RunOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if _, err := Run(context.Background(), &TestConfig{}, RunOptions{}); err == nil {
		t.Error("a config without clients runs")
	}
}

// closedPort returns a URL on 127.0.0.1 where nothing listens: a port
// that was just listened on and closed.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/"
}

// TestRunUnreachable: every request to a closed port is a socket error;
// the result says so and names the cause, and the test still returns.
func TestRunUnreachable(t *testing.T) {
	u := closedPort(t)
	cfg := &TestConfig{Name: "closed", Duration: time.Second, Clients: []Client{{Connections: 1, RPS: 10, EndpointURLs: []string{u}}}}
	doc, err := Run(context.Background(), cfg, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := doc.Results[0]
	if r.Meshgym.Requests == 0 || r.Meshgym.StatusCodes["-1"] != r.Meshgym.Requests || !r.Unreachable() || r.No2xx() {
		t.Fatalf("requests %d, codes %v, unreachable %v, no2xx %v", r.Meshgym.Requests, r.Meshgym.StatusCodes, r.Unreachable(), r.No2xx())
	}
	if !strings.Contains(r.Meshgym.SocketErrorCause, "connection refused") {
		t.Errorf("cause = %q, want connection refused", r.Meshgym.SocketErrorCause)
	}
}

// TestRunAllErrors: an endpoint that answers 404 to everything is
// reachable but serves nothing: No2xx, not Unreachable, no cause.
func TestRunAllErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	cfg := &TestConfig{Name: "404", Duration: time.Second, Clients: []Client{{Connections: 1, RPS: 10, EndpointURLs: []string{srv.URL + "/nope"}}}}
	doc, err := Run(context.Background(), cfg, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := doc.Results[0]
	if r.Meshgym.StatusCodes["404"] != 10 || r.Unreachable() || !r.No2xx() || r.Meshgym.SocketErrorCause != "" {
		t.Errorf("codes %v, unreachable %v, no2xx %v, cause %q", r.Meshgym.StatusCodes, r.Unreachable(), r.No2xx(), r.Meshgym.SocketErrorCause)
	}
	ok := PerformanceResult{Meshgym: Extras{Requests: 3, StatusCodes: map[string]int64{"200": 1, "503": 2}}}
	if ok.No2xx() || ok.Unreachable() {
		t.Error("a run with one 200 is flagged")
	}
}
