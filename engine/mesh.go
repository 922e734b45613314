package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"meshgym/metrics"
	"meshgym/plugins"
	"meshgym/plugins/builtin"
	"meshgym/sandbox"
	"meshgym/scenarios"
)

// MeshClient is an opened mesh plugin: the protocol's calls plus the
// process around them (*plugins.Client satisfies it).
type MeshClient interface {
	plugins.Mesh
	// Died delivers an error naming the plugin when its process exits
	// while open (nil channel: never).
	Died() <-chan error
	// Close stops the plugin process.
	Close() error
}

// MeshOpener starts the mesh plugin called name.
type MeshOpener func(ctx context.Context, name string) (MeshClient, error)

// DefaultMesh is the plugin that applies patterns when Options.Mesh is "".
const DefaultMesh = "builtin"

// meshConn is the run's mesh plugin and what every call needs.
type meshConn struct {
	name     string
	profile  string
	platform string
	client   MeshClient
	// cluster is the platform's Kubernetes cluster (kind), nil elsewhere.
	cluster *sandbox.Cluster
	// mapping renames the mesh's metrics to meshgym's (MetricMapping).
	mapping metrics.Mapping
}

// apply puts pattern in force on the deployment (a zero pattern = off).
func (m *meshConn) apply(ctx context.Context, topo scenarios.Topology, dep sandbox.Deployment, comps []sandbox.Component, p scenarios.Pattern) error {
	return m.client.Apply(ctx, plugins.ApplyRequest{Profile: m.profile, Platform: m.platform,
		Topology: topo, Pattern: p, Endpoints: endpointsOf(topo, dep), Components: comps, Cluster: m.cluster})
}

// scrapeURLs asks the plugin where the deployment's request counts are.
func (m *meshConn) scrapeURLs(ctx context.Context, comps []sandbox.Component) ([]metrics.Target, error) {
	ts, err := m.client.ScrapeTargets(ctx, plugins.ScrapeRequest{Platform: m.platform, Components: comps, Cluster: m.cluster})
	if err != nil {
		return nil, err
	}
	out := make([]metrics.Target, 0, len(ts))
	for _, t := range ts {
		out = append(out, metrics.Target{URL: t.URL, Labels: t.Labels})
	}
	return out, nil
}

// events follows the plugin's policy events until ctx ends.
func (m *meshConn) events(ctx context.Context, comps []sandbox.Component, fn func(*PolicyEvent)) {
	go func() {
		_ = m.client.Events(ctx, plugins.EventsRequest{Components: comps, Cluster: m.cluster}, func(e plugins.PolicyEvent) error {
			fn(&PolicyEvent{At: e.At, Component: e.Component, Kind: e.Kind, Cluster: e.Cluster,
				Endpoint: e.Endpoint, Attempt: e.Attempt, StatusCode: e.StatusCode, Backoff: e.Backoff,
				Detail: e.Detail, Count: max(e.Count, 1)})
			return nil
		})
	}()
}

func endpointsOf(topo scenarios.Topology, dep sandbox.Deployment) map[string][]sandbox.Endpoint {
	out := map[string][]sandbox.Endpoint{}
	for _, s := range topo.Services {
		out[s.Name] = dep.Endpoints(s.Name)
	}
	return out
}

// classifyMesh is meshErr, except that an interrupt (the caller's ctx
// ended: Ctrl-C) is reported as one, whatever the plugin answered.
func classifyMesh(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return classify(ctx, err)
	}
	return meshErr(err)
}

// meshErr classifies a plugin's error: bad input (an unknown profile, a
// pattern the mesh lacks) exits 2, anything else is the platform's (3).
func meshErr(err error) error {
	var pe *plugins.Error
	if errors.As(err, &pe) && (pe.Code == plugins.CodeInvalid || pe.Code == plugins.CodeUnsupported) {
		return inputErr(err)
	}
	return platformErr(err)
}

// openMesh starts the plugin and checks it can apply the scenario's pattern.
func openMesh(ctx context.Context, open MeshOpener, name, profile, platform string, sc *scenarios.Scenario) (*meshConn, plugins.Info, error) {
	raw, err := open(ctx, name)
	if err != nil {
		return nil, plugins.Info{}, classifyMesh(ctx, err)
	}
	c := MeshClient(timed{MeshClient: raw, name: name})
	info, err := c.Info(ctx)
	if err != nil {
		c.Close()
		return nil, info, classifyMesh(ctx, err)
	}
	m := &meshConn{name: name, profile: profile, platform: platform, client: c}
	mm, err := c.MetricMapping(ctx)
	if err != nil {
		c.Close()
		return nil, info, classifyMesh(ctx, err)
	}
	for _, r := range mm {
		m.mapping = append(m.mapping, metrics.Rename{From: r.Mesh, To: r.Meshgym, Labels: r.Labels, Where: r.Where})
	}
	if platform != "" && !contains(info.Platforms, platform) {
		c.Close()
		runs := "no platform: it only renders (meshgym explain SCENARIO --mesh " + name + ")"
		if len(info.Platforms) > 0 {
			runs = strings.Join(info.Platforms, ", ")
		}
		return nil, info, inputErr(fmt.Errorf("mesh plugin %s cannot run on platform %s; it runs on %s", name, platform, runs))
	}
	if k := sc.Pattern.Kind; k != "" && !contains(info.Patterns, k) {
		c.Close()
		why := ""
		// A plugin's notes may say why ("not supported by linkerd: fault
		// injection (…)").
		words := strings.ReplaceAll(k, "_", " ")
		for _, n := range info.Notes {
			if strings.HasPrefix(n, "not supported by ") && strings.Contains(strings.ToLower(n), words) {
				why = "; " + n
				break
			}
		}
		return nil, info, inputErr(fmt.Errorf("mesh plugin %s does not support pattern %q%s; it supports: %s", name, k, why, strings.Join(info.Patterns, ", ")))
	}
	return m, info, nil
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// scenarioMesh is the profile the scenario file names ("" = none).
func scenarioMesh(sc *scenarios.Scenario) string { return sc.Mesh }

// DefaultOpener serves the builtin plugin inside this process, over a
// real gRPC connection (the CLI instead starts plugin processes through a
// plugins.Loader). Other names are unknown to it.
func DefaultOpener(ctx context.Context, name string) (MeshClient, error) {
	if name != DefaultMesh {
		return nil, plugins.Errorf(plugins.CodeInvalid, "unknown mesh plugin %q; without a plugin loader only %q is available", name, DefaultMesh)
	}
	return plugins.InProcess(name, builtin.NewPlugin())
}

// renderErr places a bad profile named by the scenario's mesh: at its
// line; an interrupt is reported as one. userFormat says the user chose
// the format: then an invalid request may be the format's fault, not the
// file's.
func renderErr(ctx context.Context, sc *scenarios.Scenario, opts Options, err error, userFormat bool) error {
	if ctx.Err() != nil {
		return classify(ctx, err)
	}
	var pe *plugins.Error
	if errors.As(err, &pe) && pe.Code == plugins.CodeInvalid && opts.Profile == sc.Mesh && sc.MeshPos.Line > 0 && !userFormat {
		return inputErr(fmt.Errorf("%s:%d:%d: mesh: %s", sc.MeshPos.File, sc.MeshPos.Line, sc.MeshPos.Column, pe.Msg))
	}
	return meshErr(err)
}

// Explain opens the mesh plugin of opts (as Run would) and renders the
// scenario's pattern in format ("" = the plugin's default for the
// profile) without deploying anything. Errors are *Error (bad input: an
// unknown plugin, profile or format, exit 2).
func Explain(ctx context.Context, sc *scenarios.Scenario, opts Options, format string) (plugins.Rendered, error) {
	if opts.Mesh == "" {
		opts.Mesh = DefaultMesh
	}
	if opts.Profile == "" {
		opts.Profile = scenarioMesh(sc)
	}
	if opts.OpenMesh == nil {
		opts.OpenMesh = DefaultOpener
	}
	m, _, err := openMesh(ctx, opts.OpenMesh, opts.Mesh, opts.Profile, "", sc)
	if err != nil {
		return plugins.Rendered{}, err
	}
	defer m.client.Close()
	r, err := m.client.Render(ctx, plugins.RenderRequest{Profile: opts.Profile, Format: format, Topology: sc.Topology, Pattern: sc.Phase(true)})
	if err != nil {
		return r, renderErr(ctx, sc, opts, err, format != "")
	}
	return r, nil
}
