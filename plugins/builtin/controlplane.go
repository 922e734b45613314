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
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"meshgym/dataplane"
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

// Supports reports whether the builtin plugin can apply a pattern kind now;
// the error says what is missing.
func Supports(kind string) error {
	switch kind {
	case scenarios.KindRetries, scenarios.KindSidecarProxy, "":
		return nil
	}
	return fmt.Errorf("pattern %q is not implemented by the builtin mesh yet (only retries runs in this release); hint: `meshgym list` shows what runs", kind)
}

// Render returns the config for the sidecars of each service, keyed by
// service name. pattern nil means "pattern off": plain round-robin, no
// retries (the before phase).
func (cp *ControlPlane) Render(topo scenarios.Topology, eps Endpoints, pattern *scenarios.Pattern) (map[string]dataplane.Config, error) {
	if pattern != nil {
		if err := Supports(pattern.Kind); err != nil {
			return nil, err
		}
	}
	version := cp.version.Add(1)
	out := map[string]dataplane.Config{}
	for _, svc := range topo.Services {
		if !svc.Sidecar {
			continue
		}
		cfg := dataplane.Config{Version: version, Clusters: map[string]dataplane.Cluster{}}
		for _, up := range svc.Upstreams {
			cl := dataplane.Cluster{Name: up, LBPolicy: "round_robin"}
			for _, ep := range eps.Endpoints(up) {
				cl.Endpoints = append(cl.Endpoints, dataplane.Endpoint{Name: ep.Name, Address: ep.Address})
			}
			if len(cl.Endpoints) == 0 {
				return nil, fmt.Errorf("service %s calls %s, which has no endpoints", svc.Name, up)
			}
			if pattern != nil && pattern.Retry != nil && pattern.Retry.Service == up {
				cl.Retry = RetryPolicy(*pattern.Retry)
			}
			cfg.Clusters[up] = cl
		}
		out[svc.Name] = cfg
	}
	return out, nil
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

// Apply renders the pattern (nil = off) and pushes it to every sidecar in
// comps; it returns once every sidecar accepted it.
func (cp *ControlPlane) Apply(ctx context.Context, topo scenarios.Topology, eps Endpoints, comps []sandbox.Component, pattern *scenarios.Pattern) error {
	cfgs, err := cp.Render(topo, eps, pattern)
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
