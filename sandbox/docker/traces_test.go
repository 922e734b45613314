package docker_test

import (
	"context"
	"testing"
	"time"

	"meshgym/engine"
	"meshgym/scenarios"
	"meshgym/tracing"
)

// TestDockerTraces: on Docker the containers export their spans to the
// run's receiver (through host.docker.internal), so the retries scenario
// records, under one trace ID, a retried request that spans the load
// generator, the sidecars and the apps — with the failed attempt on
// currency_v2 and the successful one on currency_v1 after a back-off.
func TestDockerTraces(t *testing.T) {
	needDocker(t)
	sc, err := scenarios.Builtin("retries")
	if err != nil {
		t.Fatal(err)
	}
	sc.Load.Duration = scenarios.Duration(2 * time.Second)
	res, err := engine.Run(context.Background(), sc, engine.Options{
		Platform: newProvider(t), Seed: 5, EntryPort: -1, TraceSample: 0.5, RunDir: t.TempDir(),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Traces == nil || res.Traces.Spans == 0 {
		t.Fatalf("traces summary %+v: no spans", res.Traces)
	}
	spans, err := tracing.ReadFile(res.Traces.File)
	if err != nil {
		t.Fatal(err)
	}
	services := map[string]bool{}
	for _, s := range spans {
		services[s.Service] = true
	}
	for _, want := range []string{engine.LoadgenService, "api_sidecar", "api", "payments_sidecar", "payments", "currency_v1_sidecar", "currency_v2"} {
		if !services[want] {
			t.Errorf("no spans from %s (services seen: %v)", want, services)
		}
	}
	var found bool
	for _, tr := range tracing.FilterRetried(tracing.Group(spans)) {
		var failedV2, okV1 bool
		for _, s := range tr.Spans {
			ep, _ := s.Attributes[tracing.AttrEndpoint].(string)
			switch {
			case ep == "currency_v2" && tracing.StatusCode(s) == 500:
				failedV2 = true
			case ep == "currency_v1" && tracing.StatusCode(s) == 200 && s.Attributes[tracing.AttrBackoffMS] != nil:
				okV1 = true
			}
		}
		if failedV2 && okV1 && tr.Root != nil && !tr.Root.Synthetic && tr.Root.Span.Service == engine.LoadgenService && tr.StatusCode == 200 {
			found = true
			break
		}
	}
	if !found {
		t.Errorf("no trace from the load generator with a failed attempt on currency_v2 and a successful retry on currency_v1 after a back-off, in %d spans", len(spans))
	}
}
