package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"meshgym/plugins"
)

// Bounds on one call to a mesh plugin: a plugin that stops answering ends
// the run with a message naming it instead of hanging it. Install may
// install a real mesh (a Helm release), Apply may wait for proxies to
// take a configuration; the others answer from memory.
var (
	callTimeout    = 30 * time.Second
	applyTimeout   = 2 * time.Minute
	installTimeout = 10 * time.Minute
)

// timed is a MeshClient whose calls are bounded by the timeouts above. A
// call that runs out of time returns a CodeUnavailable *plugins.Error
// naming the plugin and the call; the caller's own cancellation (Ctrl-C)
// is returned as the context error it is.
type timed struct {
	MeshClient
	name string
}

func (t timed) bound(ctx context.Context, d time.Duration, what string, f func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := f(cctx)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return &plugins.Error{Plugin: t.name, Code: plugins.CodeUnavailable,
			Msg: fmt.Sprintf("%s did not answer within %s; the plugin is stuck or its mesh unreachable", what, d)}
	}
	return err
}

func (t timed) Info(ctx context.Context) (info plugins.Info, err error) {
	err = t.bound(ctx, callTimeout, "Info", func(ctx context.Context) (e error) { info, e = t.MeshClient.Info(ctx); return })
	return info, err
}

func (t timed) Install(ctx context.Context, req plugins.InstallRequest) error {
	return t.bound(ctx, installTimeout, "Install", func(ctx context.Context) error { return t.MeshClient.Install(ctx, req) })
}

func (t timed) Uninstall(ctx context.Context, req plugins.InstallRequest) error {
	return t.bound(ctx, installTimeout, "Uninstall", func(ctx context.Context) error { return t.MeshClient.Uninstall(ctx, req) })
}

func (t timed) Render(ctx context.Context, req plugins.RenderRequest) (r plugins.Rendered, err error) {
	err = t.bound(ctx, callTimeout, "Render", func(ctx context.Context) (e error) { r, e = t.MeshClient.Render(ctx, req); return })
	return r, err
}

func (t timed) Apply(ctx context.Context, req plugins.ApplyRequest) error {
	return t.bound(ctx, applyTimeout, "Apply", func(ctx context.Context) error { return t.MeshClient.Apply(ctx, req) })
}

func (t timed) Remove(ctx context.Context, req plugins.ApplyRequest) error {
	return t.bound(ctx, applyTimeout, "Remove", func(ctx context.Context) error { return t.MeshClient.Remove(ctx, req) })
}

func (t timed) ScrapeTargets(ctx context.Context, req plugins.ScrapeRequest) (ts []plugins.ScrapeTarget, err error) {
	err = t.bound(ctx, callTimeout, "ScrapeTargets", func(ctx context.Context) (e error) { ts, e = t.MeshClient.ScrapeTargets(ctx, req); return })
	return ts, err
}

func (t timed) MetricMapping(ctx context.Context) (m []plugins.MetricMapping, err error) {
	err = t.bound(ctx, callTimeout, "MetricMapping", func(ctx context.Context) (e error) { m, e = t.MeshClient.MetricMapping(ctx); return })
	return m, err
}
