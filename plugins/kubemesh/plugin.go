package kubemesh

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"meshgym/internal/kube"
	"meshgym/plugins"
	"meshgym/plugins/meshconfig"
	"meshgym/plugins/meshinstall"
	"meshgym/sandbox"
	"meshgym/scenarios"
)

// Specs returns the real meshes, in the order `meshgym plugin list` shows
// them: istio, linkerd, consul.
func Specs() []Spec { return []Spec{Istio(), Linkerd(), Consul()} }

// Lookup returns the Spec of the mesh called name.
func Lookup(name string) (Spec, bool) {
	for _, s := range Specs() {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

// Plugin is one real mesh behind the plugin protocol. It keeps no record
// of what it applied: Apply finds an earlier pattern's objects in the
// cluster by label (PatternLabel) and field manager
// (kube.PatternFieldManager), so a new plugin process — meshgym starts one
// per run — cleans up after an earlier one. It caches clients per
// cluster.
type Plugin struct {
	spec Spec
	deps Deps

	mu      sync.Mutex
	clients map[string]*kube.Clients
}

var _ plugins.Mesh = (*Plugin)(nil)

// New returns the plugin for spec; zero Deps fields are the real thing
// (meshinstall.New, kube.New on the cluster's kubeconfig).
func New(spec Spec, deps Deps) plugins.Mesh { return newPlugin(spec, deps) }

func newPlugin(spec Spec, deps Deps) *Plugin {
	if deps.Installer == nil {
		deps.Installer = func(cl sandbox.Cluster) (meshinstall.Installer, error) {
			return meshinstall.New(cl, meshinstall.Options{})
		}
	}
	if deps.Clients == nil {
		deps.Clients = func(cl sandbox.Cluster) (*kube.Clients, error) { return kube.New(cl.Kubeconfig, cl.Context) }
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Sleep == nil {
		deps.Sleep = sleep
	}
	if deps.EventInterval <= 0 {
		deps.EventInterval = time.Second
	}
	if deps.ApplyTimeout <= 0 {
		deps.ApplyTimeout = 30 * time.Second
	}
	return &Plugin{spec: spec, deps: deps, clients: map[string]*kube.Clients{}}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// FieldManager is the server-side apply field manager of the namespace
// labels and annotations that turn on injection ("meshgym-mesh-istio"):
// not the platform's kube.FieldManager, so the platform's own apply of the
// namespace keeps them, and Uninstall drops exactly them.
func (p *Plugin) FieldManager() string { return "meshgym-mesh-" + p.spec.Name }

// Info implements plugins.Mesh. Version is the mesh release it installs.
func (p *Plugin) Info(ctx context.Context) (plugins.Info, error) {
	s := p.spec
	notes := []string{fmt.Sprintf("installs %s %s with Helm (%s) and renders patterns as %s's own resources for %s", s.Name, s.Version, chartList(s.Charts), s.Name, s.Release)}
	for _, k := range scenarios.PatternKinds {
		if why, ok := s.Unsupported[k]; ok {
			notes = append(notes, "not supported by "+s.Name+": "+why)
		}
	}
	return plugins.Info{
		Name:      s.Name,
		Version:   s.Version,
		Patterns:  slices.Clone(s.Patterns),
		Platforms: []string{"kind"},
		Formats:   []string{s.Name},
		Notes:     notes,
	}, ctx.Err()
}

func chartList(cs []meshinstall.Chart) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name+" "+c.Version)
	}
	return strings.Join(out, ", ")
}

// needCluster is the error of a call without a cluster.
func (p *Plugin) needCluster(cl *sandbox.Cluster) error {
	if cl == nil {
		return plugins.Errorf(plugins.CodeUnsupported, "mesh plugin %s runs on platform kind only (meshgym up --platform kind --mesh %s)", p.spec.Name, p.spec.Name)
	}
	return nil
}

// Install implements plugins.Mesh: every chart in order (a chart already
// deployed at its version is left alone, so Install is cheap to repeat),
// then the injection labels and annotations on the lab namespace under
// FieldManager. A failure uninstalls, in reverse, the releases this call
// created (not those that were there before) and returns an error naming
// the chart or step.
func (p *Plugin) Install(ctx context.Context, req plugins.InstallRequest) (err error) {
	if err := p.needCluster(req.Cluster); err != nil {
		return err
	}
	cl := *req.Cluster
	inst, err := p.deps.Installer(cl)
	if err != nil {
		return plugins.Errorf(plugins.CodeUnavailable, "install %s: helm for cluster %s: %v", p.spec.Name, cl.Name, err)
	}
	charts, err := p.charts()
	if err != nil {
		return plugins.Errorf(plugins.CodeInternal, "install %s: %v", p.spec.Name, err)
	}
	var created []meshinstall.Chart
	defer func() {
		if err == nil {
			return
		}
		// Roll back with a context of its own: ctx may be what ended.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		var rb []string
		for _, c := range slices.Backward(created) {
			if uerr := inst.Uninstall(rctx, c.Release, c.Namespace); uerr != nil {
				rb = append(rb, fmt.Sprintf("uninstall %s: %v", c.Release, uerr))
			}
		}
		if len(rb) > 0 {
			err = fmt.Errorf("%w; rolling back also failed: %s (meshgym down removes the cluster)", err, strings.Join(rb, "; "))
		}
	}()
	for i, c := range charts {
		_, present, ierr := inst.Installed(ctx, c.Release, c.Namespace)
		if ierr != nil {
			return p.codeErr(ctx, fmt.Errorf("install %s: chart %s %s (%d of %d): %w", p.spec.Name, c.Name, c.Version, i+1, len(charts), ierr))
		}
		if err := inst.Install(ctx, c); err != nil {
			return p.codeErr(ctx, fmt.Errorf("install %s: chart %s %s (%d of %d) from %s: %w", p.spec.Name, c.Name, c.Version, i+1, len(charts), c.Repo, err))
		}
		if !present {
			created = append(created, c)
		}
	}
	kc, err := p.clientsFor(cl)
	if err != nil {
		return err
	}
	ns := namespaceObject(cl.Namespace, p.spec.NamespaceLabels, p.spec.NamespaceAnnotations)
	if err := kc.Apply(ctx, p.FieldManager(), ns); err != nil {
		return p.codeErr(ctx, fmt.Errorf("install %s: label namespace %s for injection: %w", p.spec.Name, cl.Namespace, err))
	}
	return nil
}

// Uninstall implements plugins.Mesh: the namespace's injection labels and
// annotations off (applying the namespace without them under
// FieldManager; a missing namespace is left missing), then the charts in
// reverse order. Every step is tried; the errors are joined.
func (p *Plugin) Uninstall(ctx context.Context, req plugins.InstallRequest) error {
	if err := p.needCluster(req.Cluster); err != nil {
		return err
	}
	cl := *req.Cluster
	var errs []error
	if kc, err := p.clientsFor(cl); err != nil {
		errs = append(errs, err)
	} else {
		ns := namespaceObject(cl.Namespace, nil, nil)
		exists, err := p.exists(ctx, kc, ns)
		if err == nil && exists {
			err = kc.Apply(ctx, p.FieldManager(), ns)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("unlabel namespace %s: %w", cl.Namespace, err))
		}
	}
	inst, err := p.deps.Installer(cl)
	if err != nil {
		errs = append(errs, fmt.Errorf("helm for cluster %s: %w", cl.Name, err))
	} else {
		for _, c := range slices.Backward(p.spec.Charts) {
			if err := inst.Uninstall(ctx, c.Release, c.Namespace); err != nil {
				errs = append(errs, fmt.Errorf("uninstall chart %s (release %s): %w", c.Name, c.Release, err))
			}
		}
	}
	if len(errs) > 0 {
		return p.codeErr(ctx, fmt.Errorf("uninstall %s: %w", p.spec.Name, errors.Join(errs...)))
	}
	return nil
}

// charts returns the Spec's charts with the install-time values merged in.
func (p *Plugin) charts() ([]meshinstall.Chart, error) {
	charts := slices.Clone(p.spec.Charts)
	if p.spec.InstallValues == nil {
		return charts, nil
	}
	extra, err := p.spec.InstallValues(p.deps)
	if err != nil {
		return nil, err
	}
	for i := range charts {
		if v, ok := extra[charts[i].Name]; ok {
			charts[i].Values = mergeValues(charts[i].Values, v)
		}
	}
	return charts, nil
}

// mergeValues returns a deep copy of base with over merged in (maps merge,
// everything else is replaced).
func mergeValues(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		if m, ok := v.(map[string]any); ok {
			v = mergeValues(m, nil)
		}
		out[k] = v
	}
	for k, v := range over {
		om, ok1 := v.(map[string]any)
		bm, ok2 := out[k].(map[string]any)
		switch {
		case ok1 && ok2:
			out[k] = mergeValues(bm, om)
		case ok1:
			out[k] = mergeValues(om, nil)
		default:
			out[k] = v
		}
	}
	return out
}

// namespaceObject is a Namespace with labels and annotations (none: just
// its name).
func namespaceObject(name string, labels, annotations map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetAPIVersion("v1")
	u.SetKind("Namespace")
	u.SetName(name)
	if len(labels) > 0 {
		u.SetLabels(maps.Clone(labels))
	}
	if len(annotations) > 0 {
		u.SetAnnotations(maps.Clone(annotations))
	}
	return u
}

// clientsFor returns the (cached) clients of a cluster.
func (p *Plugin) clientsFor(cl sandbox.Cluster) (*kube.Clients, error) {
	key := cl.Name + "\x00" + cl.Context + "\x00" + cl.Kubeconfig
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.clients[key]; c != nil {
		return c, nil
	}
	c, err := p.deps.Clients(cl)
	if err != nil {
		return nil, plugins.Errorf(plugins.CodeUnavailable, "cluster %s: %v (is it up? meshgym up --platform kind --mesh %s)", cl.Name, err, p.spec.Name)
	}
	p.clients[key] = c
	return c, nil
}

// codeErr classifies err: the context's end, else a cluster that could
// not be reached or refused (CodeUnavailable).
func (p *Plugin) codeErr(ctx context.Context, err error) error {
	var pe *plugins.Error
	if errors.As(err, &pe) {
		return err
	}
	if ctx.Err() != nil {
		return &plugins.Error{Code: plugins.CodeCanceled, Msg: err.Error()}
	}
	return &plugins.Error{Code: plugins.CodeUnavailable, Msg: err.Error()}
}

// unsupported returns the reason the mesh cannot apply p ("" when it can):
// p's kind, or a policy of a kind the mesh lacks that p carries (a
// baseline's fault on Linkerd).
func (p *Plugin) unsupported(pt scenarios.Pattern) string {
	has := map[string]bool{
		pt.Kind:                      pt.Kind != "",
		scenarios.KindFaultInjection: pt.Fault != nil,
		scenarios.KindRateLimiting:   pt.RateLimit != nil,
		scenarios.KindRetryBudgets:   len(pt.RetryBudgets) > 0,
	}
	for _, k := range scenarios.PatternKinds {
		if why, ok := p.spec.Unsupported[k]; ok && has[k] {
			return "not supported by " + p.spec.Name + ": " + why
		}
	}
	if pt.Kind != "" && !slices.Contains(scenarios.PatternKinds, pt.Kind) {
		return fmt.Sprintf("pattern %q is not one meshgym knows (%s)", pt.Kind, strings.Join(scenarios.PatternKinds, ", "))
	}
	return ""
}

// Render implements plugins.Mesh: plugins/meshconfig's rendering of the
// pattern in the mesh's language for Spec.Release, into the lab namespace
// meshconfig.DefaultNamespace. A pattern the mesh lacks is
// CodeUnsupported with the reason; a format other than the mesh's name is
// CodeInvalid.
func (p *Plugin) Render(ctx context.Context, req plugins.RenderRequest) (plugins.Rendered, error) {
	if err := ctx.Err(); err != nil {
		return plugins.Rendered{}, err
	}
	if req.Format != "" && req.Format != p.spec.Name {
		return plugins.Rendered{}, plugins.Errorf(plugins.CodeInvalid, "unknown format %q; the %s plugin renders: %s", req.Format, p.spec.Name, p.spec.Name)
	}
	out, err := p.render(req.Topology, req.Pattern, meshconfig.DefaultNamespace)
	if err != nil {
		return plugins.Rendered{}, err
	}
	return plugins.Rendered{
		Documents: out.Documents,
		Notes:     out.Notes,
		Knobs: []plugins.Knob{{Path: "mesh", Value: p.spec.Name + " " + p.spec.Version,
			Source: "plugin " + p.spec.Name + " (" + p.spec.Source + ")"}},
	}, nil
}

func (p *Plugin) render(topo scenarios.Topology, pt scenarios.Pattern, ns string) (meshconfig.Output, error) {
	if why := p.unsupported(pt); why != "" {
		return meshconfig.Output{}, plugins.Errorf(plugins.CodeUnsupported, "%s", why)
	}
	out, err := meshconfig.Render(p.spec.Name, p.spec.Release, topo, pt, meshconfig.Options{Namespace: ns})
	if err != nil {
		return meshconfig.Output{}, plugins.Errorf(plugins.CodeInvalid, "%v", err)
	}
	return out, nil
}

// MetricMapping implements plugins.Mesh: Spec.Mapping.
func (p *Plugin) MetricMapping(ctx context.Context) ([]plugins.MetricMapping, error) {
	out := make([]plugins.MetricMapping, len(p.spec.Mapping))
	for i, m := range p.spec.Mapping {
		m.Labels, m.Where = maps.Clone(m.Labels), maps.Clone(m.Where)
		out[i] = m
	}
	return out, ctx.Err()
}

// ScrapeTargets implements plugins.Mesh: for each sidecar component the
// injected proxy's metrics through the API server's pod proxy
// (sandbox.PodProxyURL of its AdminURL and Spec.Proxy), labelled
// name=<the app component, c.Version>; for each app without a sidecar its
// own meshgym metrics (MetricsURL, already meshgym's names).
func (p *Plugin) ScrapeTargets(ctx context.Context, req plugins.ScrapeRequest) ([]plugins.ScrapeTarget, error) {
	var out []plugins.ScrapeTarget
	for _, c := range req.Components {
		switch {
		case c.Kind == sandbox.KindSidecar && c.AdminURL != "":
			out = append(out, plugins.ScrapeTarget{Component: c.Name,
				URL:    sandbox.PodProxyURL(c.AdminURL, p.spec.Proxy.Port, p.spec.Proxy.Path),
				Labels: map[string]string{"name": appName(c)}})
		case c.Kind == sandbox.KindApp && c.MetricsURL != "":
			out = append(out, plugins.ScrapeTarget{Component: c.Name, URL: c.MetricsURL})
		}
	}
	return out, ctx.Err()
}

// appName is the app component a sidecar serves ("currency_v1").
func appName(c sandbox.Component) string {
	if c.Version != "" {
		return c.Version
	}
	return strings.TrimSuffix(c.Name, "_sidecar")
}
