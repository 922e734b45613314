package plugins

import (
	"context"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pluginv1 "meshgym/plugins/proto/v1"
	"meshgym/sandbox"
	"meshgym/scenarios"
)

func builtinScenarios(t *testing.T) []*scenarios.Scenario {
	t.Helper()
	names := scenarios.BuiltinNames()
	if len(names) == 0 {
		t.Fatal("no built-in scenarios")
	}
	var out []*scenarios.Scenario
	for _, n := range names {
		s, err := scenarios.Builtin(n.Name)
		if err != nil {
			t.Fatalf("built-in %s: %v", n.Name, err)
		}
		out = append(out, s)
	}
	return out
}

// Every built-in scenario's Topology and Pattern (its after phase, its
// Baseline and the pattern alone) survive JSON → protobuf bytes → JSON
// unchanged, for both requests that carry them.
func TestScenarioModelSurvivesTheWire(t *testing.T) {
	for _, s := range builtinScenarios(t) {
		patterns := map[string]scenarios.Pattern{
			"pattern": s.Pattern, "baseline": s.Baseline, "after": s.Phase(true), "before": s.Phase(false),
		}
		for which, p := range patterns {
			t.Run(s.Name+"/"+which, func(t *testing.T) {
				req, err := renderRequestToWire(RenderRequest{Topology: s.Topology, Pattern: p})
				if err != nil {
					t.Fatal(err)
				}
				b, err := proto.Marshal(req)
				if err != nil {
					t.Fatal(err)
				}
				var back pluginv1.RenderRequest
				if err := proto.Unmarshal(b, &back); err != nil {
					t.Fatal(err)
				}
				got, err := renderRequestFromWire(&back)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got.Topology, s.Topology) {
					t.Errorf("topology changed on the wire:\n got %+v\nwant %+v", got.Topology, s.Topology)
				}
				if !reflect.DeepEqual(got.Pattern, p) {
					t.Errorf("pattern changed on the wire:\n got %+v\nwant %+v", got.Pattern, p)
				}

				areq, err := applyRequestToWire(ApplyRequest{Topology: s.Topology, Pattern: p})
				if err != nil {
					t.Fatal(err)
				}
				b, err = proto.Marshal(areq)
				if err != nil {
					t.Fatal(err)
				}
				var aback pluginv1.ApplyRequest
				if err := proto.Unmarshal(b, &aback); err != nil {
					t.Fatal(err)
				}
				agot, err := applyRequestFromWire(&aback)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(agot.Topology, s.Topology) || !reflect.DeepEqual(agot.Pattern, p) {
					t.Errorf("apply request changed on the wire")
				}
			})
		}
	}
}

// The same through a real gRPC connection: what the plugin receives equals
// what the host sent, every field of every request.
func TestRequestsArriveUnchanged(t *testing.T) {
	f := &fakeMesh{name: "fake"}
	c := inProcess(t, "fake", f)
	ctx := context.Background()
	eps := map[string][]sandbox.Endpoint{"currency": {{Name: "currency_v1", Address: "127.0.0.1:1"}, {Name: "currency_v2", Address: "127.0.0.1:2"}}}
	comps := []sandbox.Component{
		{Name: "currency_v1", Instance: "currency_v1-0", Kind: sandbox.KindApp, Service: "currency", Version: "currency_v1", PID: 42, Log: "/tmp/x.log"},
		{Name: "currency_v1_sidecar", Instance: "currency_v1_sidecar-0", Kind: sandbox.KindSidecar, Service: "currency", Version: "currency_v1", PID: 43,
			AdminURL: "http://127.0.0.1:3", MetricsURL: "http://127.0.0.1:3/metrics"},
	}
	for _, s := range builtinScenarios(t) {
		rreq := RenderRequest{Profile: "p", Format: "json", Topology: s.Topology, Pattern: s.Phase(true), Endpoints: eps}
		if _, err := c.Render(ctx, rreq); err != nil && s.Pattern.Kind == scenarios.KindRetries {
			t.Fatalf("Render %s: %v", s.Name, err)
		}
		areq := ApplyRequest{Profile: "p", Platform: "local", Topology: s.Topology, Pattern: s.Phase(true), Endpoints: eps, Components: comps}
		if err := c.Apply(ctx, areq); err != nil {
			t.Fatalf("Apply %s: %v", s.Name, err)
		}
		f.mu.Lock()
		gotR, gotA := f.render[len(f.render)-1], f.apply[len(f.apply)-1]
		f.mu.Unlock()
		if !reflect.DeepEqual(gotR, rreq) {
			t.Errorf("%s: Render request changed:\n got %+v\nwant %+v", s.Name, gotR, rreq)
		}
		if !reflect.DeepEqual(gotA, areq) {
			t.Errorf("%s: Apply request changed:\n got %+v\nwant %+v", s.Name, gotA, areq)
		}
	}
	// A zero pattern ("pattern off") arrives as a zero pattern.
	if err := c.Apply(ctx, ApplyRequest{Platform: "local"}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	last := f.apply[len(f.apply)-1]
	f.mu.Unlock()
	if !last.Pattern.IsZero() || last.Endpoints != nil || last.Components != nil {
		t.Errorf("pattern off arrived as %+v", last)
	}

	sreq := ScrapeRequest{Platform: "local", Components: comps}
	targets, err := c.ScrapeTargets(ctx, sreq)
	if err != nil {
		t.Fatal(err)
	}
	wantT := []ScrapeTarget{{Component: "currency_v1_sidecar", URL: "http://127.0.0.1:3/metrics", Labels: map[string]string{"name": "currency_v1"}}}
	if !reflect.DeepEqual(targets, wantT) {
		t.Errorf("ScrapeTargets = %+v, want %+v", targets, wantT)
	}
	if err := c.Install(ctx, InstallRequest{Platform: "kind", Profile: "p"}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	gotS, gotI := f.scrape[0], f.install[0]
	f.mu.Unlock()
	if !reflect.DeepEqual(gotS, sreq) {
		t.Errorf("ScrapeRequest changed: %+v", gotS)
	}
	if gotI != (InstallRequest{Platform: "kind", Profile: "p"}) {
		t.Errorf("InstallRequest changed: %+v", gotI)
	}
}

// A kind cluster's target reaches the plugin on every call that needs it.
func TestClusterArrivesUnchanged(t *testing.T) {
	f := &fakeMesh{name: "fake"}
	c := inProcess(t, "fake", f)
	ctx := context.Background()
	cl := &sandbox.Cluster{Name: "meshgym-istio", Kubeconfig: "apiVersion: v1\nkind: Config\n", Context: "kind-meshgym-istio", Namespace: "meshgym", Mesh: "istio"}
	if err := c.Install(ctx, InstallRequest{Platform: "kind", Cluster: cl}); err != nil {
		t.Fatal(err)
	}
	if err := c.Uninstall(ctx, InstallRequest{Platform: "kind", Cluster: cl}); err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(ctx, ApplyRequest{Platform: "kind", Cluster: cl}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ScrapeTargets(ctx, ScrapeRequest{Platform: "kind", Cluster: cl}); err != nil {
		t.Fatal(err)
	}
	ectx, cancel := context.WithTimeout(ctx, 300*time.Millisecond) // the fake streams until its ctx ends
	defer cancel()
	if err := c.Events(ectx, EventsRequest{Cluster: cl}, func(PolicyEvent) error { return nil }); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	got := []*sandbox.Cluster{f.install[0].Cluster, f.install[1].Cluster, f.apply[0].Cluster, f.scrape[0].Cluster, f.events[0].Cluster}
	f.mu.Unlock()
	for i, g := range got {
		if g == nil || *g != *cl {
			t.Errorf("call %d: cluster arrived as %+v, want %+v", i, g, cl)
		}
	}
	// Without a cluster (local, docker) it stays nil.
	if err := c.Install(ctx, InstallRequest{Platform: "local"}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.install[2].Cluster != nil {
		t.Errorf("no cluster arrived as %+v", f.install[2].Cluster)
	}
}

func TestRepliesArriveUnchanged(t *testing.T) {
	f := &fakeMesh{name: "fake", args: []string{"a", "b"}}
	c := inProcess(t, "fake", f)
	ctx := context.Background()
	want, _ := f.Info(ctx)
	got, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Info = %+v, want %+v", got, want)
	}
	wantR, _ := f.Render(ctx, RenderRequest{})
	gotR, err := c.Render(ctx, RenderRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotR, wantR) {
		t.Errorf("Render = %+v, want %+v", gotR, wantR)
	}
	wantM, _ := f.MetricMapping(ctx)
	gotM, err := c.MetricMapping(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotM, wantM) {
		t.Errorf("MetricMapping = %+v, want %+v", gotM, wantM)
	}
}

func TestEventsStream(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	sent := []PolicyEvent{
		{At: at, Component: "payments_sidecar", Kind: "retry", Cluster: "currency", Endpoint: "currency_v2", Attempt: 2,
			StatusCode: 500, Backoff: 25 * time.Millisecond, Detail: "5xx", Count: 3},
		{Component: "payments_sidecar", Kind: "ejection", Count: 1}, // zero time stays zero
	}

	t.Run("delivered until ctx ends, then nil", func(t *testing.T) {
		f := &fakeMesh{name: "fake", sendEvents: sent, eventsDone: make(chan error, 1)}
		c := inProcess(t, "fake", f)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var got []PolicyEvent
		err := c.Events(ctx, EventsRequest{Components: []sandbox.Component{{Name: "payments_sidecar"}}}, func(e PolicyEvent) error {
			got = append(got, e)
			if len(got) == len(sent) {
				cancel()
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Events after cancel = %v, want nil", err)
		}
		if len(got) != len(sent) {
			t.Fatalf("got %d events, want %d", len(got), len(sent))
		}
		if !got[0].At.Equal(at) {
			t.Errorf("At = %v, want %v", got[0].At, at)
		}
		got[0].At = at
		if !reflect.DeepEqual(got, sent) {
			t.Errorf("events = %+v\nwant %+v", got, sent)
		}
		select {
		case err := <-f.eventsDone:
			if err != context.Canceled {
				t.Errorf("plugin's Events ctx ended with %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the plugin's Events ctx was not cancelled when the host's was")
		}
	})

	t.Run("send error ends the stream", func(t *testing.T) {
		f := &fakeMesh{name: "fake", sendEvents: sent, eventsDone: make(chan error, 1)}
		c := inProcess(t, "fake", f)
		stop := errorString("viewer closed")
		err := c.Events(context.Background(), EventsRequest{}, func(PolicyEvent) error { return stop })
		if err != stop {
			t.Fatalf("Events = %v, want the send error", err)
		}
		select {
		case <-f.eventsDone:
		case <-time.After(5 * time.Second):
			t.Fatal("the plugin's Events kept running after the host stopped reading")
		}
	})

	t.Run("plugin error", func(t *testing.T) {
		f := &fakeMesh{name: "fake", err: Errorf(CodeUnavailable, "sidecar payments unreachable")}
		c := inProcess(t, "fake", f)
		pe := asError(t, c.Events(context.Background(), EventsRequest{}, func(PolicyEvent) error { return nil }))
		if pe.Code != CodeUnavailable || pe.Msg != "sidecar payments unreachable" || pe.Plugin != "fake" {
			t.Errorf("got %#v", pe)
		}
	})
}

type errorString string

func (e errorString) Error() string { return string(e) }
