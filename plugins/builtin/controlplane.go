// Package builtin is meshgym's own mesh: a control plane that renders a
// scenario's pattern into dataplane.Config for every sidecar and pushes it
// to the sidecars' admin APIs while they run. (The go-plugin protocol that
// will carry it comes with the plugin issue; today the engine calls it
// directly.) It knows nothing of the TUI or of how components are started.
package builtin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"meshgym/dataplane"
	"meshgym/plugins"
	"meshgym/sandbox"
	"meshgym/scenarios"
)

// Envoy defaults the builtin plugin fills in when a scenario leaves them out
// (https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/router_filter):
// a 25 ms base back-off, capped at 10× base, and host selection retried once
// (route_components.proto host_selection_retry_max_attempts).
const (
	DefaultBackoffBase              = 25 * time.Millisecond
	DefaultHostSelectionMaxAttempts = 1
)

// Endpoints is what the control plane needs from a deployment.
type Endpoints interface {
	Endpoints(service string) []sandbox.Endpoint
}

// ControlPlane renders and pushes sidecar configuration.
type ControlPlane struct {
	client  *http.Client
	version atomic.Int64
}

// New returns a control plane that talks to sidecars over HTTP.
func New() *ControlPlane {
	return &ControlPlane{client: &http.Client{Timeout: 5 * time.Second}}
}

// Supports reports whether the builtin plugin can apply a pattern kind;
// the error says what is missing.
func Supports(kind string) error {
	if kind == "" || slices.Contains(scenarios.PatternKinds, kind) {
		return nil
	}
	return fmt.Errorf("pattern %q is not implemented by the builtin mesh; hint: `meshgym list` shows what runs", kind)
}

// Render returns the config for the sidecars of each service, keyed by
// service name, with the policies of p in force (a zero Pattern is "pattern
// off": plain round-robin, no policy). It renders with the book profile;
// RenderProfile takes another.
func (cp *ControlPlane) Render(topo scenarios.Topology, eps Endpoints, p scenarios.Pattern) (map[string]dataplane.Config, error) {
	cfgs, _, _, err := cp.RenderProfile(topo, eps, p, Book())
	return cfgs, err
}

// RenderProfile returns, as Render, the config for the sidecars of each
// service with the policies of p in force, under the semantics profile
// prof (nil = book): the mesh's defaults fill what the scenario leaves
// out, and the scenario's explicit knobs beat them. It also returns every
// effective knob of every upstream cluster and inbound policy with its
// source ("scenario", "profile istio@1.27 (URL)" or "meshgym default"),
// sorted by path, and one-line notes (ignored knobs, gaps of the mesh,
// conditions the sidecar does not implement). Errors: a pattern kind the
// builtin mesh lacks, or an upstream with no endpoints.
func (cp *ControlPlane) RenderProfile(topo scenarios.Topology, eps Endpoints, p scenarios.Pattern, prof *Profile) (map[string]dataplane.Config, []plugins.Knob, []string, error) {
	if err := Supports(p.Kind); err != nil {
		return nil, nil, nil, err
	}
	if prof == nil {
		prof = Book()
	}
	r := &renderer{prof: prof, seen: map[string]bool{}}
	version := cp.version.Add(1)
	out := map[string]dataplane.Config{}
	for _, svc := range topo.Services {
		if !svc.Sidecar {
			continue
		}
		cfg := dataplane.Config{Version: version, Clusters: map[string]dataplane.Cluster{}}
		for _, up := range svc.Upstreams {
			cl := dataplane.Cluster{Name: up, LBPolicy: dataplane.LBRoundRobin}
			for _, ep := range eps.Endpoints(up) {
				cl.Endpoints = append(cl.Endpoints, dataplane.Endpoint{Name: ep.Name, Address: ep.Address})
			}
			if len(cl.Endpoints) == 0 {
				return nil, nil, nil, fmt.Errorf("service %s calls %s, which has no endpoints", svc.Name, up)
			}
			r.record = !r.seen[up]
			r.seen[up] = true
			r.cluster(&cl, up, p)
			cfg.Clusters[up] = cl
		}
		if rl := p.RateLimit; rl != nil && rl.Service == svc.Name {
			cfg.Inbound = &dataplane.InboundPolicy{RateLimit: &dataplane.RateLimit{
				RequestsPerSecond: rl.RequestsPerSecond, Burst: rl.Burst, StatusCode: rl.StatusCode}}
			r.record = !r.seen["inbound "+svc.Name]
			r.seen["inbound "+svc.Name] = true
			pre := svc.Name + ".inbound.rate_limit."
			r.knob(pre+"requests_per_second", formatFloat(rl.RequestsPerSecond), srcScenario)
			r.knob(pre+"burst", strconv.Itoa(rl.Burst), srcScenario)
			r.knob(pre+"status_code", strconv.Itoa(rl.StatusCode), srcScenario)
			r.gap("rateLimit")
		}
		out[svc.Name] = cfg
	}
	slices.SortStableFunc(r.knobs, func(a, b plugins.Knob) int { return strings.Compare(a.Path, b.Path) })
	return out, r.knobs, r.notes, nil
}

// Outlier maps a scenario's circuit breaker onto the sidecar's outlier
// detection. The book's algorithms take the threshold and the ejection
// time as they are; "envoy" starts from Envoy's defaults
// (dataplane.EnvoyOutlierDefaults) and overrides what the scenario sets.
func Outlier(cb scenarios.CircuitBreakerPolicy) *dataplane.OutlierDetection {
	if cb.Algorithm == scenarios.BreakerBook || cb.Algorithm == scenarios.BreakerBookHalfOpen || cb.Algorithm == "" {
		alg := cb.Algorithm
		if alg == "" {
			alg = scenarios.BreakerBook
		}
		return &dataplane.OutlierDetection{Algorithm: alg, Consecutive5xx: cb.ErrorThreshold,
			EnforcingConsecutive5xx: 100, BaseEjectionTime: cb.EjectionDuration.D(), MaxEjectionPercent: 100}
	}
	return outlierFrom(dataplane.EnvoyOutlierDefaults(), cb)
}

// outlierFrom is Envoy's outlier detection starting from base (a profile's
// field defaults) with the scenario's explicit numbers on top.
func outlierFrom(base dataplane.OutlierDetection, cb scenarios.CircuitBreakerPolicy) *dataplane.OutlierDetection {
	od := base
	od.Consecutive5xx = cb.ErrorThreshold
	if cb.EjectionDuration > 0 {
		od.BaseEjectionTime = cb.EjectionDuration.D()
	}
	if cb.Interval > 0 {
		od.Interval = cb.Interval.D()
	}
	if cb.MaxEjectionPercent > 0 {
		od.MaxEjectionPercent = int(math.Round(cb.MaxEjectionPercent))
	}
	if cb.MaxEjectionTime > 0 {
		od.MaxEjectionTime = cb.MaxEjectionTime.D()
	}
	if od.MaxEjectionTime < od.BaseEjectionTime {
		od.MaxEjectionTime = od.BaseEjectionTime // Envoy: max is at least base
	}
	if cb.ConsecutiveGatewayErrors > 0 {
		od.ConsecutiveGatewayFailure = cb.ConsecutiveGatewayErrors
		od.EnforcingConsecutiveGatewayFailure = 100
	}
	if cb.HealthyPanicThreshold != nil {
		od.HealthyPanicThreshold = int(math.Round(*cb.HealthyPanicThreshold))
	}
	return &od
}

// Routes maps a split onto the sidecar's routes: one exact-match route per
// Match (100% to its version), then the weighted route. Weights are percent
// with up to two decimals, scaled ×100 into integer weights as Consul does
// for Envoy (resolution 0.01%).
func Routes(sp scenarios.SplitPolicy) []dataplane.Route {
	var routes []dataplane.Route
	for _, m := range sp.Match {
		routes = append(routes, dataplane.Route{
			Match: &dataplane.RouteMatch{Headers: m.Headers, Cookies: m.Cookies},
			Split: []dataplane.WeightedVersion{{Version: m.Version, Weight: 1}},
		})
	}
	var split []dataplane.WeightedVersion
	for _, t := range sp.Targets {
		split = append(split, dataplane.WeightedVersion{Version: t.Version, Weight: int(math.Round(t.Weight * 100))})
	}
	if len(split) > 0 {
		routes = append(routes, dataplane.Route{Split: split})
	}
	return routes
}

// RetryPolicy maps a scenario's retry knobs onto Envoy's retry_policy,
// filling Envoy's defaults for what the scenario leaves out.
func RetryPolicy(r scenarios.RetryPolicy) *dataplane.RetryPolicy {
	base := r.BackoffBase.D()
	if base <= 0 {
		base = DefaultBackoffBase
	}
	rp := &dataplane.RetryPolicy{
		NumRetries:    r.Attempts,
		RetryOn:       append([]string(nil), r.RetryOn...),
		PerTryTimeout: r.PerTryTimeout.D(),
		BackoffBase:   base,
		BackoffMax:    10 * base,
		PreviousHosts: r.PreferNewHost,
	}
	if r.PreferNewHost {
		rp.HostSelectionMaxAttempts = DefaultHostSelectionMaxAttempts
	}
	return rp
}

// Push sends one config to a sidecar's admin API (PUT /config).
func (cp *ControlPlane) Push(ctx context.Context, adminURL string, cfg dataplane.Config) error {
	body, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, strings.TrimRight(adminURL, "/")+"/config", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := cp.client.Do(req)
	if err != nil {
		return fmt.Errorf("push config to %s: %w", adminURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("push config to %s: %s: %s", adminURL, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// Apply renders the policies of p (a zero Pattern = off) and pushes them to
// every sidecar in comps; it returns once every sidecar accepted them.
func (cp *ControlPlane) Apply(ctx context.Context, topo scenarios.Topology, eps Endpoints, comps []sandbox.Component, pattern scenarios.Pattern) error {
	return cp.ApplyProfile(ctx, topo, eps, comps, pattern, Book())
}

// ApplyProfile renders the policies of p under prof (nil = book), as
// RenderProfile does, and pushes them to every sidecar in comps; it
// returns once every sidecar accepted them, or the first render or push
// error (naming the sidecar instance).
func (cp *ControlPlane) ApplyProfile(ctx context.Context, topo scenarios.Topology, eps Endpoints, comps []sandbox.Component, pattern scenarios.Pattern, prof *Profile) error {
	cfgs, _, _, err := cp.RenderProfile(topo, eps, pattern, prof)
	if err != nil {
		return err
	}
	for _, c := range comps {
		if c.Kind != sandbox.KindSidecar {
			continue
		}
		cfg, ok := cfgs[c.Service]
		if !ok {
			continue
		}
		if err := cp.Push(ctx, c.AdminURL, cfg); err != nil {
			return fmt.Errorf("%s: %w", c.Instance, err)
		}
	}
	return nil
}
