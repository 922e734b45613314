package dataplane

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// startTestSidecar starts an in-process sidecar named name with one
// outbound listener per service on free ports.
func startTestSidecar(t *testing.T, name string, services ...string) *Sidecar {
	t.Helper()
	opts := Options{Name: name, AdminAddr: "127.0.0.1:0", Seed: 1}
	for _, s := range services {
		opts.Outbound = append(opts.Outbound, OutboundListener{Service: s, Addr: "127.0.0.1:0"})
	}
	sc, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	return sc
}

func putConfig(t *testing.T, sc *Sidecar, c Config) {
	t.Helper()
	body, _ := json.Marshal(c)
	req, _ := http.NewRequest(http.MethodPut, "http://"+sc.Addrs().Admin+"/config", bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("PUT /config: %d %s", resp.StatusCode, msg)
	}
}

// closedAddr returns a loopback address nobody listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// scrape reads the admin /metrics page and parses it with expfmt.
func scrape(t *testing.T, sc *Sidecar) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + sc.Addrs().Admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// series flattens a family to "k=v,k=v" → value (counter or histogram count).
func series(mf *dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	if mf == nil {
		return out
	}
	for _, m := range mf.GetMetric() {
		var labels []string
		for _, l := range m.GetLabel() {
			labels = append(labels, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(labels)
		key := strings.Join(labels, ",")
		switch {
		case m.Counter != nil:
			out[key] = m.GetCounter().GetValue()
		case m.Histogram != nil:
			out[key] = float64(m.GetHistogram().GetSampleCount())
		}
	}
	return out
}

func get(t *testing.T, client *http.Client, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// loadStatuses sends n GET requests to url from workers goroutines sharing
// one keep-alive client and returns how many got each status code. A
// transport error fails the test and stops that worker.
func loadStatuses(t *testing.T, url string, n int64, workers int) map[int]int64 {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	var next atomic.Int64
	var mu sync.Mutex
	codes := map[int]int64{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= n {
				resp, err := client.Get(url)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				codes[resp.StatusCode]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return codes
}

// hangingUpstream is an upstream that holds every request for 2 s (or
// until the caller gives up) and counts the requests it saw.
func hangingUpstream(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(up.Close)
	return up, &n
}
