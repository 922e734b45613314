// Package plugintest is the conformance suite of the mesh plugin protocol:
// the behaviour every plugins.Mesh must show, whether it is called directly
// or through the wire (plugins.InProcess, or a Client from plugins.Loader).
// A plugin's own test calls Conformance; Checks exposes the same checks one
// by one, each returning an error, so that a test can show a check rejects
// a misbehaving plugin. It imports testing and net/http/httptest: use it
// from tests only.
package plugintest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"meshgym/plugins"
	"meshgym/sandbox"
	"meshgym/scenarios"
)

// DefaultTimeout is how long a call may take before a check calls it hung
// (ConformanceOptions.Timeout when 0).
const DefaultTimeout = 5 * time.Second

// ConformanceOptions tunes the suite. Zero values mean defaults.
type ConformanceOptions struct {
	// SkipApply skips the checks that need a deployment (Apply, Remove,
	// ScrapeTargets on a fake deployment) for plugins that cannot run
	// against the suite's fake sidecar admin APIs.
	SkipApply bool
	// Timeout bounds each call ("returns promptly"); 0 = DefaultTimeout (5 s).
	Timeout time.Duration
	// Scenarios are rendered and applied; nil = every built-in scenario
	// (scenarios.BuiltinNames).
	Scenarios []*scenarios.Scenario
}

func (o ConformanceOptions) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return DefaultTimeout
}

func (o ConformanceOptions) scenarios() ([]*scenarios.Scenario, error) {
	if o.Scenarios != nil {
		return o.Scenarios, nil
	}
	var out []*scenarios.Scenario
	for _, b := range scenarios.BuiltinNames() {
		s, err := scenarios.Builtin(b.Name)
		if err != nil {
			return nil, fmt.Errorf("built-in scenario %s: %w", b.Name, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// Check is one conformance check; Run returns nil when m conforms.
type Check struct {
	Name string
	Run  func(ctx context.Context, m plugins.Mesh, opts ConformanceOptions) error
}

// Checks lists the conformance checks in the order Conformance runs them:
//
//	info                 Info has a name, a version and ≥ 1 pattern, each one of scenarios.PatternKinds
//	render-supported     every built-in scenario whose kind is in Info.Patterns renders to ≥ 1 document, each with content ending in "\n"
//	render-unsupported   a built-in scenario of a kind not in Info.Patterns fails with CodeUnsupported
//	render-bad-profile   Render with an unknown profile fails with CodeInvalid
//	render-bad-format    Render with an unknown format fails with CodeInvalid
//	apply-remove         Apply (pattern on, then pattern off) and Remove on a fake deployment succeed (skipped by SkipApply)
//	scrape-targets       ScrapeTargets on a fake deployment succeeds, every URL absolute (skipped by SkipApply)
//	canceled             with a cancelled context, Render (and Apply) fail promptly with CodeCanceled or a context error
//	events-cancel        Events returns nil promptly once its context is cancelled
//	metric-mapping       MetricMapping succeeds; every mapping names both metrics
func Checks() []Check {
	return []Check{
		{"info", checkInfo},
		{"render-supported", checkRenderSupported},
		{"render-unsupported", checkRenderUnsupported},
		{"render-bad-profile", checkRenderBadProfile},
		{"render-bad-format", checkRenderBadFormat},
		{"apply-remove", checkApplyRemove},
		{"scrape-targets", checkScrapeTargets},
		{"canceled", checkCanceled},
		{"events-cancel", checkEventsCancel},
		{"metric-mapping", checkMetricMapping},
	}
}

// Conformance runs every check of Checks against m as a subtest of t; a
// failed check reports its error with t.Error. Run it on the plugin's Mesh
// directly (this catches a plugin that ignores its context, which gRPC
// would hide) and through plugins.InProcess (this checks the wire).
func Conformance(t *testing.T, m plugins.Mesh, opts ConformanceOptions) {
	t.Helper()
	for _, c := range Checks() {
		t.Run(c.Name, func(t *testing.T) {
			if err := c.Run(context.Background(), m, opts); err != nil {
				t.Error(err)
			}
		})
	}
}

// call runs f and fails when it does not return within d (f keeps running).
func call[T any](d time.Duration, what string, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-time.After(d):
		var zero T
		return zero, fmt.Errorf("%s did not return within %v: %w", what, d, errHung)
	}
}

// errHung wraps the error of a call that did not return in time.
var errHung = errors.New("the plugin looks hung")

func code(err error) (plugins.Code, bool) {
	var pe *plugins.Error
	if errors.As(err, &pe) {
		return pe.Code, true
	}
	return 0, false
}

func wantCode(err error, want plugins.Code, what string) error {
	if err == nil {
		return fmt.Errorf("%s: got no error, want *plugins.Error with code %s", what, codeName(want))
	}
	got, ok := code(err)
	if !ok {
		return fmt.Errorf("%s: got %T %q, want *plugins.Error with code %s", what, err, err, codeName(want))
	}
	if got != want {
		return fmt.Errorf("%s: got code %s (%v), want %s", what, codeName(got), err, codeName(want))
	}
	return nil
}

func codeName(c plugins.Code) string {
	switch c {
	case plugins.CodeInternal:
		return "CodeInternal"
	case plugins.CodeInvalid:
		return "CodeInvalid"
	case plugins.CodeUnsupported:
		return "CodeUnsupported"
	case plugins.CodeUnavailable:
		return "CodeUnavailable"
	case plugins.CodeCanceled:
		return "CodeCanceled"
	}
	return fmt.Sprintf("Code(%d)", int(c))
}

func info(ctx context.Context, m plugins.Mesh, opts ConformanceOptions) (plugins.Info, error) {
	i, err := call(opts.timeout(), "Info", func() (plugins.Info, error) { return m.Info(ctx) })
	if err != nil {
		return i, fmt.Errorf("Info: %w", err)
	}
	return i, nil
}

func checkInfo(ctx context.Context, m plugins.Mesh, opts ConformanceOptions) error {
	i, err := info(ctx, m, opts)
	if err != nil {
		return err
	}
	var errs []error
	if i.Name == "" {
		errs = append(errs, errors.New("Info.Name is empty"))
	}
	if i.Version == "" {
		errs = append(errs, errors.New("Info.Version is empty"))
	}
	if len(i.Patterns) == 0 {
		errs = append(errs, errors.New("Info.Patterns is empty"))
	}
	for _, p := range i.Patterns {
		if !slices.Contains(scenarios.PatternKinds, p) {
			errs = append(errs, fmt.Errorf("Info.Patterns has %q, not one of %s", p, strings.Join(scenarios.PatternKinds, ", ")))
		}
	}
	return errors.Join(errs...)
}

// split returns the scenarios whose kind m supports and those it does not.
func split(ctx context.Context, m plugins.Mesh, opts ConformanceOptions) (supported, unsupported []*scenarios.Scenario, err error) {
	i, err := info(ctx, m, opts)
	if err != nil {
		return nil, nil, err
	}
	all, err := opts.scenarios()
	if err != nil {
		return nil, nil, err
	}
	for _, s := range all {
		if slices.Contains(i.Patterns, s.Pattern.Kind) {
			supported = append(supported, s)
		} else {
			unsupported = append(unsupported, s)
		}
	}
	return supported, unsupported, nil
}

func render(ctx context.Context, m plugins.Mesh, opts ConformanceOptions, req plugins.RenderRequest) (plugins.Rendered, error) {
	return call(opts.timeout(), "Render", func() (plugins.Rendered, error) { return m.Render(ctx, req) })
}

func checkRenderSupported(ctx context.Context, m plugins.Mesh, opts ConformanceOptions) error {
	supported, _, err := split(ctx, m, opts)
	if err != nil {
		return err
	}
	if len(supported) == 0 {
		return errors.New("no scenario of a pattern in Info.Patterns to render")
	}
	var errs []error
	for _, s := range supported {
		out, err := render(ctx, m, opts, plugins.RenderRequest{Topology: s.Topology, Pattern: s.Phase(true)})
		if err != nil {
			errs = append(errs, fmt.Errorf("Render %s (%s): %w", s.Name, s.Pattern.Kind, err))
			continue
		}
		if len(out.Documents) == 0 {
			errs = append(errs, fmt.Errorf("Render %s (%s): no documents", s.Name, s.Pattern.Kind))
		}
		for j, d := range out.Documents {
			if strings.TrimSpace(d.Content) == "" {
				errs = append(errs, fmt.Errorf("Render %s: document %d (%q) has no content", s.Name, j, d.Name))
			} else if !strings.HasSuffix(d.Content, "\n") {
				errs = append(errs, fmt.Errorf("Render %s: document %d (%q) does not end in a newline", s.Name, j, d.Name))
			}
		}
	}
	return errors.Join(errs...)
}

func checkRenderUnsupported(ctx context.Context, m plugins.Mesh, opts ConformanceOptions) error {
	_, unsupported, err := split(ctx, m, opts)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range unsupported {
		_, err := render(ctx, m, opts, plugins.RenderRequest{Topology: s.Topology, Pattern: s.Phase(true)})
		if e := wantCode(err, plugins.CodeUnsupported, fmt.Sprintf("Render %s (%s, not in Info.Patterns)", s.Name, s.Pattern.Kind)); e != nil {
			errs = append(errs, e)
		}
	}
	return errors.Join(errs...)
}

func firstSupported(ctx context.Context, m plugins.Mesh, opts ConformanceOptions) (*scenarios.Scenario, error) {
	supported, _, err := split(ctx, m, opts)
	if err != nil {
		return nil, err
	}
	if len(supported) == 0 {
		return nil, errors.New("no scenario of a pattern in Info.Patterns")
	}
	return supported[0], nil
}

func checkRenderBadProfile(ctx context.Context, m plugins.Mesh, opts ConformanceOptions) error {
	s, err := firstSupported(ctx, m, opts)
	if err != nil {
		return err
	}
	_, err = render(ctx, m, opts, plugins.RenderRequest{Profile: "no-such-profile@0.0", Topology: s.Topology, Pattern: s.Phase(true)})
	return wantCode(err, plugins.CodeInvalid, "Render with profile no-such-profile@0.0")
}

func checkRenderBadFormat(ctx context.Context, m plugins.Mesh, opts ConformanceOptions) error {
	s, err := firstSupported(ctx, m, opts)
	if err != nil {
		return err
	}
	_, err = render(ctx, m, opts, plugins.RenderRequest{Format: "no-such-format", Topology: s.Topology, Pattern: s.Phase(true)})
	return wantCode(err, plugins.CodeInvalid, "Render with format no-such-format")
}

func checkApplyRemove(ctx context.Context, m plugins.Mesh, opts ConformanceOptions) error {
	if opts.SkipApply {
		return nil
	}
	s, err := firstSupported(ctx, m, opts)
	if err != nil {
		return err
	}
	d := NewFakeDeployment(s.Topology)
	defer d.Close()
	var errs []error
	for _, step := range []struct {
		what string
		f    func(context.Context, plugins.ApplyRequest) error
		p    scenarios.Pattern
	}{
		{"Apply (pattern off)", m.Apply, s.Phase(false)},
		{"Apply (pattern on)", m.Apply, s.Phase(true)},
		{"Remove", m.Remove, s.Phase(true)},
	} {
		req := d.ApplyRequest(s.Topology, step.p)
		if _, err := call(opts.timeout(), step.what, func() (struct{}, error) { return struct{}{}, step.f(ctx, req) }); err != nil {
			errs = append(errs, fmt.Errorf("%s %s on a fake deployment: %w", step.what, s.Name, err))
		}
	}
	return errors.Join(errs...)
}

func checkScrapeTargets(ctx context.Context, m plugins.Mesh, opts ConformanceOptions) error {
	if opts.SkipApply {
		return nil
	}
	s, err := firstSupported(ctx, m, opts)
	if err != nil {
		return err
	}
	d := NewFakeDeployment(s.Topology)
	defer d.Close()
	ts, err := call(opts.timeout(), "ScrapeTargets", func() ([]plugins.ScrapeTarget, error) {
		return m.ScrapeTargets(ctx, plugins.ScrapeRequest{Platform: "local", Components: d.Components})
	})
	if err != nil {
		return fmt.Errorf("ScrapeTargets on a fake deployment: %w", err)
	}
	var errs []error
	for _, t := range ts {
		if u, err := url.Parse(t.URL); err != nil || !u.IsAbs() {
			errs = append(errs, fmt.Errorf("ScrapeTargets: target %s has URL %q, not an absolute URL", t.Component, t.URL))
		}
	}
	return errors.Join(errs...)
}

func canceledOK(err error) bool {
	if err == nil {
		return false
	}
	if c, ok := code(err); ok && c == plugins.CodeCanceled {
		return true
	}
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func checkCanceled(ctx context.Context, m plugins.Mesh, opts ConformanceOptions) error {
	s, err := firstSupported(ctx, m, opts)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	var errs []error
	_, err = render(cctx, m, opts, plugins.RenderRequest{Topology: s.Topology, Pattern: s.Phase(true)})
	if !canceledOK(err) {
		errs = append(errs, fmt.Errorf("Render with a cancelled context: got %v, want CodeCanceled or a context error", err))
	}
	if !opts.SkipApply {
		d := NewFakeDeployment(s.Topology)
		defer d.Close()
		req := d.ApplyRequest(s.Topology, s.Phase(true))
		_, err := call(opts.timeout(), "Apply", func() (struct{}, error) { return struct{}{}, m.Apply(cctx, req) })
		if !canceledOK(err) {
			errs = append(errs, fmt.Errorf("Apply with a cancelled context: got %v, want CodeCanceled or a context error", err))
		}
	}
	return errors.Join(errs...)
}

func checkEventsCancel(ctx context.Context, m plugins.Mesh, opts ConformanceOptions) error {
	var req plugins.EventsRequest
	if !opts.SkipApply {
		s, err := firstSupported(ctx, m, opts)
		if err != nil {
			return err
		}
		d := NewFakeDeployment(s.Topology)
		defer d.Close()
		req.Components = d.Components
	}
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(100*time.Millisecond, cancel)
	defer cancel()
	_, err := call(opts.timeout()+100*time.Millisecond, "Events after its context was cancelled", func() (struct{}, error) {
		return struct{}{}, m.Events(cctx, req, func(plugins.PolicyEvent) error { return nil })
	})
	if err != nil {
		return fmt.Errorf("Events: got %v, want nil once its context is cancelled", err)
	}
	return nil
}

func checkMetricMapping(ctx context.Context, m plugins.Mesh, opts ConformanceOptions) error {
	ms, err := call(opts.timeout(), "MetricMapping", func() ([]plugins.MetricMapping, error) { return m.MetricMapping(ctx) })
	if err != nil {
		return fmt.Errorf("MetricMapping: %w", err)
	}
	var errs []error
	for j, mm := range ms {
		if mm.Mesh == "" || mm.Meshgym == "" {
			errs = append(errs, fmt.Errorf("MetricMapping %d: %+v does not name both metrics", j, mm))
		}
	}
	return errors.Join(errs...)
}

// FakeDeployment is a deployment of a topology made of httptest servers:
// every version instance has an app component and, when its service runs a
// sidecar, a sidecar component whose AdminURL serves a fake admin API
// (PUT /config → 204 and stored; GET /config → the stored body; GET /ready
// → 200; GET /metrics → empty Prometheus text; GET /events → an NDJSON
// stream that stays open until the client goes). Close stops them.
type FakeDeployment struct {
	Components []sandbox.Component
	Endpoints  map[string][]sandbox.Endpoint

	servers []*httptest.Server
	mu      sync.Mutex
	configs map[string][]byte // component name → last PUT /config body
}

// NewFakeDeployment starts the servers of topo's fake deployment.
func NewFakeDeployment(topo scenarios.Topology) *FakeDeployment {
	d := &FakeDeployment{Endpoints: map[string][]sandbox.Endpoint{}, configs: map[string][]byte{}}
	for _, svc := range topo.Services {
		for _, v := range svc.Versions {
			n := max(v.Instances, 1)
			for i := range n {
				inst := fmt.Sprintf("%s-%d", v.Name, i)
				app := d.start(v.Name)
				d.Endpoints[svc.Name] = append(d.Endpoints[svc.Name], sandbox.Endpoint{Name: v.Name, Address: app.Listener.Addr().String()})
				appC := sandbox.Component{Name: v.Name, Instance: inst, Kind: sandbox.KindApp, Service: svc.Name, Version: v.Name}
				if !svc.Sidecar {
					appC.MetricsURL = app.URL + "/metrics"
					d.Components = append(d.Components, appC)
					continue
				}
				d.Components = append(d.Components, appC)
				name := v.Name + "_sidecar"
				sc := d.start(name)
				d.Components = append(d.Components, sandbox.Component{
					Name: name, Instance: name + fmt.Sprintf("-%d", i), Kind: sandbox.KindSidecar, Service: svc.Name, Version: v.Name,
					AdminURL: sc.URL, MetricsURL: sc.URL + "/metrics",
				})
			}
		}
	}
	return d
}

func (d *FakeDeployment) start(name string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/config" && (r.Method == http.MethodPut || r.Method == http.MethodPost):
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			d.mu.Lock()
			d.configs[name] = b
			d.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		case r.URL.Path == "/config":
			d.mu.Lock()
			b := d.configs[name]
			d.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			if b == nil {
				b = []byte("{}")
			}
			_, _ = w.Write(b)
		case r.URL.Path == "/metrics":
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		case r.URL.Path == "/events":
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.WriteHeader(http.StatusOK)
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			<-r.Context().Done()
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, "{}")
		}
	}))
	d.servers = append(d.servers, s)
	return s
}

// Config is the last body PUT to the fake admin API of component name
// (nil when none was).
func (d *FakeDeployment) Config(name string) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.configs[name]
}

// ApplyRequest is an ApplyRequest for p on this deployment ("local"
// platform, default profile).
func (d *FakeDeployment) ApplyRequest(topo scenarios.Topology, p scenarios.Pattern) plugins.ApplyRequest {
	return plugins.ApplyRequest{Platform: "local", Topology: topo, Pattern: p, Endpoints: d.Endpoints, Components: d.Components}
}

// Close stops every server.
func (d *FakeDeployment) Close() {
	for _, s := range d.servers {
		s.CloseClientConnections()
		s.Close()
	}
}
