package plugintest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"meshgym/plugins"
	"meshgym/scenarios"
)

// mesh behaves as the contract says, except for the one behaviour named by
// broken, which it gets wrong the way a careless plugin would.
type mesh struct {
	broken  string
	release chan struct{} // unblocks a hung Events at the end of the test
}

func (m mesh) Info(ctx context.Context) (plugins.Info, error) {
	i := plugins.Info{Name: "t", Version: "1", Patterns: []string{scenarios.KindRetries, scenarios.KindTimeouts}}
	switch m.broken {
	case "info":
		i.Version = ""
		i.Patterns = append(i.Patterns, "retry") // not a pattern kind
	case "render-supported-none":
		i.Patterns = []string{"timeouts-but-no-scenario"}
	}
	return i, nil
}

func (m mesh) Install(context.Context, plugins.InstallRequest) error   { return nil }
func (m mesh) Uninstall(context.Context, plugins.InstallRequest) error { return nil }

func (m mesh) Render(ctx context.Context, req plugins.RenderRequest) (plugins.Rendered, error) {
	if m.broken != "canceled" {
		if err := ctx.Err(); err != nil {
			return plugins.Rendered{}, err
		}
	}
	if m.broken != "render-bad-profile" && req.Profile != "" {
		return plugins.Rendered{}, plugins.Errorf(plugins.CodeInvalid, "profile %q", req.Profile)
	}
	if m.broken != "render-bad-format" && req.Format != "" && req.Format != "yaml" {
		return plugins.Rendered{}, plugins.Errorf(plugins.CodeInvalid, "format %q", req.Format)
	}
	if req.Pattern.Kind != scenarios.KindRetries && req.Pattern.Kind != scenarios.KindTimeouts {
		if m.broken == "render-unsupported" {
			return plugins.Rendered{}, plugins.Errorf(plugins.CodeInternal, "no idea") // wrong code
		}
		return plugins.Rendered{}, plugins.Errorf(plugins.CodeUnsupported, "pattern %s", req.Pattern.Kind)
	}
	if m.broken == "render-supported" {
		if req.Pattern.Kind == scenarios.KindTimeouts {
			return plugins.Rendered{Documents: []plugins.Document{{Name: "x", Content: "kind: X"}}}, nil // no final newline
		}
		return plugins.Rendered{}, nil // no documents
	}
	return plugins.Rendered{Documents: []plugins.Document{{Name: "x", Format: "yaml", Content: "kind: X\n"}}}, nil
}

func (m mesh) Apply(ctx context.Context, req plugins.ApplyRequest) error {
	if m.broken != "canceled" {
		if err := ctx.Err(); err != nil {
			return plugins.Errorf(plugins.CodeCanceled, "%v", err)
		}
	}
	if m.broken == "apply-remove" && req.Pattern.IsZero() {
		return errors.New("cannot apply pattern off")
	}
	if len(req.Components) == 0 || len(req.Endpoints) == 0 {
		return plugins.Errorf(plugins.CodeInvalid, "no deployment")
	}
	return nil
}

func (m mesh) Remove(ctx context.Context, req plugins.ApplyRequest) error { return m.Apply(ctx, req) }

func (m mesh) ScrapeTargets(ctx context.Context, req plugins.ScrapeRequest) ([]plugins.ScrapeTarget, error) {
	var out []plugins.ScrapeTarget
	for _, c := range req.Components {
		u := c.MetricsURL
		if m.broken == "scrape-targets" {
			u = "/metrics"
		}
		if u != "" {
			out = append(out, plugins.ScrapeTarget{Component: c.Name, URL: u})
		}
	}
	return out, nil
}

func (m mesh) MetricMapping(context.Context) ([]plugins.MetricMapping, error) {
	if m.broken == "metric-mapping" {
		return nil, errors.New("not implemented")
	}
	return []plugins.MetricMapping{{Mesh: "a", Meshgym: "request_count"}}, nil
}

func (m mesh) Events(ctx context.Context, req plugins.EventsRequest, send func(plugins.PolicyEvent) error) error {
	if m.broken == "events-cancel" {
		<-m.release // ignores ctx
		return nil
	}
	<-ctx.Done()
	return nil
}

var fast = ConformanceOptions{Timeout: 500 * time.Millisecond}

// The suite passes a conforming plugin, directly and over the wire.
func TestConformingPluginPasses(t *testing.T) {
	Conformance(t, mesh{}, fast)
	c, err := plugins.InProcess("t", mesh{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	Conformance(t, c, fast)
}

// Every check rejects a plugin that breaks it (and, by
// TestConformingPluginPasses, passes the same plugin unbroken), so no check
// passes whatever the plugin does.
func TestEveryCheckRejectsABrokenPlugin(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	want := map[string]string{
		"info":               "Info.Version is empty",
		"render-supported":   "no documents",
		"render-unsupported": "want CodeUnsupported",
		"render-bad-profile": "want *plugins.Error with code CodeInvalid",
		"render-bad-format":  "want *plugins.Error with code CodeInvalid",
		"apply-remove":       "Apply (pattern off)",
		"scrape-targets":     "not an absolute URL",
		"canceled":           "cancelled context",
		"events-cancel":      "did not return within",
		"metric-mapping":     "not implemented",
	}
	checks := Checks()
	if len(checks) != len(want) {
		t.Fatalf("%d checks, %d expectations: add the new check here", len(checks), len(want))
	}
	for _, c := range checks {
		t.Run(c.Name, func(t *testing.T) {
			err := c.Run(context.Background(), mesh{broken: c.Name, release: release}, fast)
			if err == nil {
				t.Fatalf("check %s passed a plugin that breaks it", c.Name)
			}
			if !strings.Contains(err.Error(), want[c.Name]) {
				t.Errorf("check %s: error %q does not say %q", c.Name, err, want[c.Name])
			}
		})
	}
	// The broken behaviours that survive the wire are rejected through
	// it too (a plugin ignoring its ctx is not visible through gRPC: the
	// host's call returns anyway; Conformance's doc says so).
	for _, name := range []string{"info", "render-supported", "render-unsupported", "render-bad-profile", "render-bad-format", "apply-remove", "scrape-targets", "metric-mapping"} {
		t.Run("wire/"+name, func(t *testing.T) {
			c, err := plugins.InProcess("t", mesh{broken: name, release: release})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for _, chk := range checks {
				if chk.Name == name {
					if err := chk.Run(context.Background(), c, fast); err == nil {
						t.Errorf("check %s passed a broken plugin over the wire", name)
					}
				}
			}
		})
	}
}

// A plugin with no scenario to render fails render-supported instead of
// passing vacuously.
func TestNothingToRenderFails(t *testing.T) {
	for _, name := range []string{"render-supported", "render-bad-profile", "apply-remove"} {
		var chk Check
		for _, c := range Checks() {
			if c.Name == name {
				chk = c
			}
		}
		err := chk.Run(context.Background(), mesh{broken: "render-supported-none"}, fast)
		if err == nil || !strings.Contains(err.Error(), "no scenario") {
			t.Errorf("%s on a plugin supporting no built-in pattern: %v", name, err)
		}
	}
}

func TestFakeDeployment(t *testing.T) {
	s, err := scenarios.Builtin("retries")
	if err != nil {
		t.Fatal(err)
	}
	d := NewFakeDeployment(s.Topology)
	defer d.Close()
	var sidecars, apps int
	for _, c := range d.Components {
		switch c.Kind {
		case "sidecar":
			sidecars++
			if c.AdminURL == "" || c.MetricsURL != c.AdminURL+"/metrics" {
				t.Errorf("sidecar %+v", c)
			}
		case "app":
			apps++
		}
	}
	if apps != 4 || sidecars != 4 || len(d.Endpoints["currency"]) != 2 {
		t.Errorf("apps %d, sidecars %d, currency endpoints %d; want 4, 4, 2", apps, sidecars, len(d.Endpoints["currency"]))
	}
	// The fake admin API stores a pushed config and serves it back.
	admin := d.Components[1].AdminURL
	req, _ := newRequest("PUT", admin+"/config", `{"x":1}`)
	if code := do(t, req); code != 204 {
		t.Fatalf("PUT /config = %d", code)
	}
	if got := string(d.Config(d.Components[1].Name)); got != `{"x":1}` {
		t.Errorf("stored config %q", got)
	}
}
