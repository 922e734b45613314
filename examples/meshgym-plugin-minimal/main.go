// Command meshgym-plugin-minimal is the smallest complete mesh plugin: it
// supports the retries pattern, renders it as a made-up "MinimalRetryPolicy"
// YAML document, and applies nothing. It is the walk-through of
// docs/plugins.md; copy it to start a plugin.
//
// Build it into the plugin directory and meshgym finds it as "minimal":
//
//	go build -o "$MESHGYM_PLUGIN_DIR/meshgym-plugin-minimal" ./examples/meshgym-plugin-minimal
//
// Run by hand it only says that it is a plugin: meshgym starts it.
package main

import (
	"context"
	"fmt"
	"strings"

	"meshgym/plugins"
	"meshgym/scenarios"
)

func main() {
	plugins.Serve("minimal", minimal{})
}

// minimal is the plugin. It holds no state: Apply records nothing.
type minimal struct{}

var _ plugins.Mesh = minimal{}

const version = "0.1.0"

func (minimal) Info(ctx context.Context) (plugins.Info, error) {
	return plugins.Info{
		Name:     "minimal",
		Version:  version,
		Patterns: []string{scenarios.KindRetries},
		// No platform: it renders (meshgym explain --mesh minimal) but
		// configures no proxy, so meshgym refuses to run a scenario with it.
		Platforms: nil,
		Formats:   []string{"yaml"},
		Notes:     []string{"example plugin: renders retries as a made-up MinimalRetryPolicy and applies nothing (explain only)"},
	}, nil
}

func (minimal) Install(ctx context.Context, req plugins.InstallRequest) error {
	return checkProfile(req.Profile)
}

func (minimal) Uninstall(ctx context.Context, req plugins.InstallRequest) error {
	return checkProfile(req.Profile)
}

// checkProfile accepts the default profile only: this mesh has one.
func checkProfile(profile string) error {
	if profile != "" && profile != "minimal" {
		return plugins.Errorf(plugins.CodeInvalid, "unknown profile %q: the minimal plugin has only its default profile", profile)
	}
	return nil
}

// checkPattern accepts "pattern off" and retries; any other kind is
// CodeUnsupported.
func checkPattern(p scenarios.Pattern) error {
	if p.Kind != "" && p.Kind != scenarios.KindRetries {
		return plugins.Errorf(plugins.CodeUnsupported, "pattern %s is not supported (supported: %s)", p.Kind, scenarios.KindRetries)
	}
	return nil
}

func (minimal) Render(ctx context.Context, req plugins.RenderRequest) (plugins.Rendered, error) {
	if err := ctx.Err(); err != nil {
		return plugins.Rendered{}, plugins.Errorf(plugins.CodeCanceled, "render: %v", err)
	}
	if err := checkProfile(req.Profile); err != nil {
		return plugins.Rendered{}, err
	}
	if req.Format != "" && req.Format != "yaml" {
		return plugins.Rendered{}, plugins.Errorf(plugins.CodeInvalid, "unknown format %q (formats: yaml)", req.Format)
	}
	if err := checkPattern(req.Pattern); err != nil {
		return plugins.Rendered{}, err
	}
	var out plugins.Rendered
	for _, r := range req.Pattern.Retries {
		var b strings.Builder
		fmt.Fprintf(&b, "apiVersion: minimal.example/v1\n")
		fmt.Fprintf(&b, "kind: MinimalRetryPolicy\n")
		fmt.Fprintf(&b, "metadata:\n  name: %s\n", r.Service)
		fmt.Fprintf(&b, "spec:\n  attempts: %d\n", r.Attempts)
		if len(r.RetryOn) > 0 {
			fmt.Fprintf(&b, "  retryOn: [%s]\n", strings.Join(r.RetryOn, ", "))
		}
		if r.PerTryTimeout > 0 {
			fmt.Fprintf(&b, "  perTryTimeout: %s\n", r.PerTryTimeout)
		}
		if r.BackoffBase > 0 {
			fmt.Fprintf(&b, "  backoffBase: %s\n", r.BackoffBase)
		}
		out.Documents = append(out.Documents, plugins.Document{
			Name: r.Service + " MinimalRetryPolicy", Format: "yaml", Content: b.String(),
		})
		out.Knobs = append(out.Knobs, plugins.Knob{
			Path: r.Service + ".retry.attempts", Value: fmt.Sprint(r.Attempts), Source: "scenario",
		})
	}
	if len(out.Documents) == 0 {
		out.Documents = append(out.Documents, plugins.Document{
			Name: "no policy", Format: "yaml", Content: "# pattern off: no MinimalRetryPolicy\n",
		})
	}
	return out, nil
}

// Apply checks its input and puts nothing in force: this mesh has no proxies.
func (minimal) Apply(ctx context.Context, req plugins.ApplyRequest) error {
	if err := ctx.Err(); err != nil {
		return plugins.Errorf(plugins.CodeCanceled, "apply: %v", err)
	}
	if err := checkProfile(req.Profile); err != nil {
		return err
	}
	return checkPattern(req.Pattern)
}

func (m minimal) Remove(ctx context.Context, req plugins.ApplyRequest) error {
	return m.Apply(ctx, plugins.ApplyRequest{Profile: req.Profile, Platform: req.Platform})
}

// ScrapeTargets lists every component that counts its requests.
func (minimal) ScrapeTargets(ctx context.Context, req plugins.ScrapeRequest) ([]plugins.ScrapeTarget, error) {
	var out []plugins.ScrapeTarget
	for _, c := range req.Components {
		if c.MetricsURL != "" {
			out = append(out, plugins.ScrapeTarget{Component: c.Name, URL: c.MetricsURL})
		}
	}
	return out, nil
}

// MetricMapping is the identity: the components already speak meshgym's
// metric names.
func (minimal) MetricMapping(ctx context.Context) ([]plugins.MetricMapping, error) {
	return []plugins.MetricMapping{{Mesh: "meshgym_requests_total", Meshgym: "request_count"}}, nil
}

// Events has no events to send: it waits for the host to stop listening.
func (minimal) Events(ctx context.Context, req plugins.EventsRequest, send func(plugins.PolicyEvent) error) error {
	<-ctx.Done()
	return nil
}
