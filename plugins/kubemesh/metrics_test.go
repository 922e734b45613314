package kubemesh

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"meshgym/metrics"
	"meshgym/plugins"
	"meshgym/sandbox"
)

// Each proxy's exposition text, read through the plugin's scrape target
// (with its name label) and metric mapping by metrics' own code, gives
// meshgym's server-side request counts: only the inbound series of the
// sidecar, named after the app component.
func TestMappingOnProxyExposition(t *testing.T) {
	for _, spec := range Specs() {
		t.Run(spec.Name, func(t *testing.T) {
			body, err := os.ReadFile("testdata/" + spec.Name + ".prom")
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasSuffix(r.URL.Path, ":"+strconv.Itoa(spec.Proxy.Port)+"/proxy"+spec.Proxy.Path) {
					http.NotFound(w, r)
					return
				}
				w.Write(body)
			}))
			defer srv.Close()
			p := New(spec, Deps{})
			ts, err := p.ScrapeTargets(context.Background(), plugins.ScrapeRequest{Platform: "kind", Components: []sandbox.Component{
				{Name: "currency_v1_sidecar", Kind: sandbox.KindSidecar, Service: "currency", Version: "currency_v1", AdminURL: srv.URL + "/api/v1/namespaces/meshgym/pods/currency-v1-0"},
			}})
			if err != nil || len(ts) != 1 {
				t.Fatalf("targets %v %v", ts, err)
			}
			mm, err := p.MetricMapping(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var m metrics.Mapping
			for _, r := range mm {
				m = append(m, metrics.Rename{From: r.Mesh, To: r.Meshgym, Labels: r.Labels, Where: r.Where})
			}
			snap, err := metrics.CollectTargets(context.Background(), []metrics.Target{{URL: ts[0].URL, Labels: ts[0].Labels}}, m)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]float64{}
			for _, r := range snap.Requests {
				got[r.Name+"/"+strconv.Itoa(r.StatusCode)+"/"+strconv.Itoa(r.Attempt)] += r.Count
			}
			want := map[string]float64{"currency_v1/200/1": 180, "currency_v1/503/1": 20}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("request counts = %v, want %v", got, want)
			}
		})
	}
}

// Events sends the increase of each retry/ejection counter per poll, by
// upstream service, after a first poll that sets the baseline.
func TestEvents(t *testing.T) {
	for _, spec := range Specs() {
		t.Run(spec.Name, func(t *testing.T) {
			body, err := os.ReadFile("testdata/" + spec.Name + ".prom")
			if err != nil {
				t.Fatal(err)
			}
			var polls atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := polls.Add(1)
				// Poll 1: the recorded counters; poll 2: each +3; poll 3: a
				// restart (counters back to 0: new baseline, no event).
				text := string(body)
				switch n {
				case 2:
					text = bump(text, 3)
				case 3:
					text = bump(text, -1000)
				}
				w.Write([]byte(text))
			}))
			defer srv.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sleepsN := 0
			p := newPlugin(spec, Deps{Now: func() time.Time { return time.Unix(100, 0) }, Sleep: func(ctx context.Context, d time.Duration) error {
				if d != time.Second {
					t.Errorf("poll period %v", d)
				}
				if sleepsN++; sleepsN == 3 {
					cancel()
				}
				return ctx.Err()
			}})
			var got []plugins.PolicyEvent
			err = p.Events(ctx, plugins.EventsRequest{Components: []sandbox.Component{
				{Name: "currency_v1_sidecar", Kind: sandbox.KindSidecar, Version: "currency_v1", AdminURL: srv.URL + "/api/v1/namespaces/meshgym/pods/c-0"},
				{Name: "currency_v1", Kind: sandbox.KindApp, Version: "currency_v1"},
			}}, func(ev plugins.PolicyEvent) error { got = append(got, ev); return nil })
			if err != nil {
				t.Fatalf("Events returned %v at ctx end", err)
			}
			var kinds []string
			for _, ev := range got {
				if ev.Component != "currency_v1_sidecar" || ev.Cluster != "ledger" || ev.Count != 3 || !ev.At.Equal(time.Unix(100, 0)) {
					t.Errorf("event %+v", ev)
				}
				kinds = append(kinds, ev.Kind)
			}
			want := map[string][]string{
				"istio":   {"ejection", "retry"},
				"linkerd": {"retry", "retry_limit_exceeded"},
				"consul":  {"ejection", "retry"},
			}[spec.Name]
			if !reflect.DeepEqual(kinds, want) {
				t.Errorf("event kinds = %v, want %v", kinds, want)
			}
		})
	}
}

// bump adds d (floored at 0) to the value of every non-zero retry,
// ejection and limit counter line of an exposition text.
func bump(text string, d float64) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "#") || !(strings.Contains(l, "retry") || strings.Contains(l, "ejections")) {
			continue
		}
		j := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[j+1:], 64)
		if err != nil || v == 0 {
			continue
		}
		lines[i] = l[:j+1] + strconv.FormatFloat(max(v+d, 0), 'f', -1, 64)
	}
	return strings.Join(lines, "\n")
}
