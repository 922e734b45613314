package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"meshgym/plugins"
	"meshgym/plugins/builtin"
	"meshgym/scenarios"
)

// stuck is a plugin whose Render never answers.
type stuck struct{ *builtin.Plugin }

func (stuck) Render(ctx context.Context, req plugins.RenderRequest) (plugins.Rendered, error) {
	<-ctx.Done()
	return plugins.Rendered{}, ctx.Err()
}
func (stuck) Died() <-chan error { return nil }
func (stuck) Close() error       { return nil }

func TestStuckPluginCallEndsTheRunNamingIt(t *testing.T) {
	old := callTimeout
	callTimeout = 200 * time.Millisecond
	defer func() { callTimeout = old }()
	sc, err := scenarios.Builtin("retries")
	if err != nil {
		t.Fatal(err)
	}
	open := func(ctx context.Context, name string) (MeshClient, error) { return stuck{builtin.NewPlugin()}, nil }

	start := time.Now()
	_, err = Explain(context.Background(), sc, Options{Mesh: "hangrender", OpenMesh: open}, "")
	var ee *Error
	if !errors.As(err, &ee) || ee.Kind != KindPlatform || !strings.Contains(err.Error(), "mesh plugin hangrender: Render did not answer within 200ms") {
		t.Fatalf("err = %v (kind %v), want a platform error naming the plugin and the call", err, ee)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("took %s", time.Since(start))
	}

	// The user's Ctrl-C while the call hangs is an interrupt, not a
	// plugin failure.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = Explain(ctx, sc, Options{Mesh: "hangrender", OpenMesh: open}, "")
	if !errors.As(err, &ee) || ee.Kind != KindInterrupted {
		t.Fatalf("err = %v, want an interrupt", err)
	}
}
