package builtin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"meshgym/dataplane"
	"meshgym/internal/version"
	"meshgym/plugins"
	"meshgym/plugins/meshconfig"
	"meshgym/sandbox"
	"meshgym/scenarios"
)

// Name is the builtin plugin's name.
const Name = "builtin"

// FormatSidecar is the builtin plugin's native configuration language: the
// JSON the control plane PUTs to each sidecar's /config.
const FormatSidecar = "sidecar"

// Plugin is the builtin mesh behind the plugin protocol: its control plane
// renders and pushes sidecar configuration, its sidecars are meshgym's
// data plane (package dataplane). It implements plugins.Mesh; `meshgym
// plugin serve builtin` serves it.
type Plugin struct {
	cp *ControlPlane
	// render renders the mesh's own languages (istio, linkerd …) for
	// explain; nil means only the sidecar format is available.
	render func(mesh, version string, topo scenarios.Topology, p scenarios.Pattern) ([]plugins.Document, []string, error)
}

// NewPlugin returns the builtin plugin.
func NewPlugin() *Plugin { return &Plugin{cp: New()} }

var _ plugins.Mesh = (*Plugin)(nil)

// Info implements plugins.Mesh.
func (p *Plugin) Info(ctx context.Context) (plugins.Info, error) {
	return plugins.Info{
		Name:      Name,
		Version:   version.String(),
		Patterns:  slices.Clone(scenarios.PatternKinds),
		Platforms: []string{"local", "docker"},
		Formats:   formats(),
		Profiles:  Profiles(),
		Notes: []string{
			"meshgym's own control plane and sidecar; semantics profiles reproduce real meshes' defaults",
		},
	}, nil
}

// Install implements plugins.Mesh: the builtin mesh has nothing to install,
// its sidecars are started by the platform with the apps.
func (p *Plugin) Install(ctx context.Context, req plugins.InstallRequest) error { return ctx.Err() }

// Uninstall implements plugins.Mesh (nothing to remove).
func (p *Plugin) Uninstall(ctx context.Context, req plugins.InstallRequest) error { return ctx.Err() }

// Render implements plugins.Mesh. Format "sidecar" is the configuration
// the control plane pushes (one JSON document per service); a mesh's name
// (istio, linkerd, consul, kuma, envoy) is that mesh's own resources, as
// package meshconfig writes them for the profile's release. "" is the
// profile's mesh, or sidecar under the book profile.
func (p *Plugin) Render(ctx context.Context, req plugins.RenderRequest) (plugins.Rendered, error) {
	if err := ctx.Err(); err != nil {
		return plugins.Rendered{}, err
	}
	if err := Supports(req.Pattern.Kind); err != nil {
		return plugins.Rendered{}, plugins.Errorf(plugins.CodeUnsupported, "%v", err)
	}
	formats := formats()
	if req.Format != "" && !slices.Contains(formats, req.Format) {
		return plugins.Rendered{}, plugins.Errorf(plugins.CodeInvalid, "unknown format %q; the builtin plugin renders: %s", req.Format, strings.Join(formats, ", "))
	}
	prof, err := ResolveProfile(req.Profile)
	if err != nil {
		return plugins.Rendered{}, plugins.Errorf(plugins.CodeInvalid, "%v", err)
	}
	format := req.Format
	if format == "" {
		format = FormatSidecar
		if slices.Contains(formats, prof.Name) {
			format = prof.Name
		}
	}
	cfgs, knobs, notes, err := p.cp.RenderProfile(req.Topology, endpointMap(placeholders(req.Topology, req.Endpoints)), req.Pattern, prof)
	if err != nil {
		return plugins.Rendered{}, plugins.Errorf(plugins.CodeInvalid, "%v", err)
	}
	// The resolved profile leads the knobs, so a run records which release
	// it reproduced ("istio" → "istio@1.27").
	src := "meshgym default"
	if len(prof.Sources) > 0 {
		src = "profile " + prof.Spec() + " (" + prof.Sources[0] + ")"
	}
	knobs = append([]plugins.Knob{{Path: "profile", Value: prof.Spec(), Source: src}}, knobs...)
	out := plugins.Rendered{Knobs: knobs, Notes: notes}
	// A release between two reproduced ones runs the older one's semantics;
	// say so rather than substitute silently.
	if _, ver, ok := strings.Cut(prof.Requested, "@"); ok && ver != prof.Release {
		note := fmt.Sprintf("%s runs the semantics of %s, the newest release reproduced that is not newer (reproduced: %s)",
			prof.Requested, prof.Spec(), strings.Join(selectable(prof.Name), ", "))
		out.Notes = append([]string{note}, out.Notes...)
	}
	if format != FormatSidecar {
		// The resources follow the release asked for (istio@1.26 renders
		// Istio 1.26's API), the semantics the one reproduced.
		version := ""
		if prof.Name == format {
			version = prof.Release
			if _, ver, ok := strings.Cut(prof.Requested, "@"); ok {
				version = ver
			}
		}
		mc, err := meshconfig.Render(format, version, req.Topology, req.Pattern, meshconfig.Options{})
		if err != nil {
			return plugins.Rendered{}, plugins.Errorf(plugins.CodeInvalid, "%v", err)
		}
		out.Documents = mc.Documents
		out.Notes = append(out.Notes, mc.Notes...)
		return out, nil
	}
	for _, svc := range req.Topology.Services {
		cfg, ok := cfgs[svc.Name]
		if !ok {
			continue
		}
		b, err := json.MarshalIndent(cfg, "", "  ")
		if err != nil {
			return plugins.Rendered{}, err
		}
		out.Documents = append(out.Documents, plugins.Document{Name: svc.Name + " sidecar", Format: "json", Content: string(b) + "\n"})
	}
	return out, nil
}

// Apply implements plugins.Mesh: render, then PUT every sidecar's config.
func (p *Plugin) Apply(ctx context.Context, req plugins.ApplyRequest) error {
	if err := Supports(req.Pattern.Kind); err != nil {
		return plugins.Errorf(plugins.CodeUnsupported, "%v", err)
	}
	prof, err := ResolveProfile(req.Profile)
	if err != nil {
		return plugins.Errorf(plugins.CodeInvalid, "%v", err)
	}
	err = p.cp.ApplyProfile(ctx, req.Topology, endpointMap(req.Endpoints), req.Components, req.Pattern, prof)
	if err != nil && ctx.Err() == nil {
		return plugins.Errorf(plugins.CodeUnavailable, "%v", err)
	}
	return err
}

// Remove implements plugins.Mesh: the mesh's defaults, no policy.
func (p *Plugin) Remove(ctx context.Context, req plugins.ApplyRequest) error {
	req.Pattern = scenarios.Pattern{}
	return p.Apply(ctx, req)
}

// ScrapeTargets implements plugins.Mesh: every component that counts
// requests server-side (sidecars, and apps running without one).
func (p *Plugin) ScrapeTargets(ctx context.Context, req plugins.ScrapeRequest) ([]plugins.ScrapeTarget, error) {
	var out []plugins.ScrapeTarget
	for _, c := range req.Components {
		if c.MetricsURL != "" {
			out = append(out, plugins.ScrapeTarget{Component: c.Name, URL: c.MetricsURL})
		}
	}
	return out, ctx.Err()
}

// MetricMapping implements plugins.Mesh: the sidecars speak meshgym's
// metric names already.
func (p *Plugin) MetricMapping(ctx context.Context) ([]plugins.MetricMapping, error) {
	return nil, ctx.Err()
}

// Events implements plugins.Mesh: it follows every sidecar's admin
// /events (NDJSON) and forwards policy decisions until ctx ends.
func (p *Plugin) Events(ctx context.Context, req plugins.EventsRequest, send func(plugins.PolicyEvent) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var mu sync.Mutex // send is not safe for concurrent use
	var wg sync.WaitGroup
	for _, c := range req.Components {
		if c.Kind != sandbox.KindSidecar || c.AdminURL == "" {
			continue
		}
		wg.Go(func() {
			follow(ctx, c, func(ev plugins.PolicyEvent) {
				mu.Lock()
				defer mu.Unlock()
				if err := send(ev); err != nil {
					cancel(err)
				}
			})
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// follow reads one sidecar's event stream, reconnecting while ctx lives
// (a sidecar restarted by the platform comes back on the same URL).
func follow(ctx context.Context, c sandbox.Component, fn func(plugins.PolicyEvent)) {
	for ctx.Err() == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.AdminURL+"/events", nil)
		if err != nil {
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				var ev dataplane.Event
				if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Kind == "" || ev.Kind == "config" {
					continue
				}
				fn(plugins.PolicyEvent{At: ev.Time, Component: c.Name, Kind: ev.Kind, Cluster: ev.Cluster,
					Endpoint: ev.Endpoint, Attempt: ev.Attempt, StatusCode: ev.StatusCode,
					Backoff: ev.Backoff, Detail: ev.Detail, Count: max(ev.Count, 1)})
			}
			resp.Body.Close()
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// formats are the configuration languages Render writes.
func formats() []string { return append([]string{FormatSidecar}, meshconfig.Meshes()...) }

// endpointMap adapts a map of endpoints to the control plane's Endpoints.
type endpointMap map[string][]sandbox.Endpoint

func (m endpointMap) Endpoints(service string) []sandbox.Endpoint { return m[service] }

// placeholders fills in one endpoint per version where a render has no
// deployment (explain): "<version>:<port>" addresses that read as such.
func placeholders(topo scenarios.Topology, eps map[string][]sandbox.Endpoint) map[string][]sandbox.Endpoint {
	if len(eps) > 0 {
		return eps
	}
	out := map[string][]sandbox.Endpoint{}
	for _, s := range topo.Services {
		for _, v := range s.Versions {
			n := max(v.Instances, 1)
			for range n {
				out[s.Name] = append(out[s.Name], sandbox.Endpoint{Name: v.Name, Address: v.Name + ":9090"})
			}
		}
	}
	return out
}
