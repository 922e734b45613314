package plugins

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A plugin's error keeps its Code across the wire, travels as the gRPC code
// the contract names, and arrives as *Error naming the plugin.
func TestErrorCodesCrossTheWire(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		wantGRPC codes.Code
		want     Error
	}{
		{"internal", Errorf(CodeInternal, "boom"), codes.Internal, Error{Plugin: "fake", Code: CodeInternal, Msg: "boom"}},
		{"invalid", Errorf(CodeInvalid, "bad profile %q", "x"), codes.InvalidArgument, Error{Plugin: "fake", Code: CodeInvalid, Msg: `bad profile "x"`}},
		{"unsupported", Errorf(CodeUnsupported, "no canary"), codes.Unimplemented, Error{Plugin: "fake", Code: CodeUnsupported, Msg: "no canary"}},
		{"unavailable", Errorf(CodeUnavailable, "sidecar down"), codes.Unavailable, Error{Plugin: "fake", Code: CodeUnavailable, Msg: "sidecar down"}},
		{"canceled", Errorf(CodeCanceled, "stopped"), codes.Canceled, Error{Plugin: "fake", Code: CodeCanceled, Msg: "stopped"}},
		{"wrapped *Error", fmt.Errorf("apply: %w", Errorf(CodeInvalid, "x")), codes.InvalidArgument, Error{Plugin: "fake", Code: CodeInvalid, Msg: "x"}},
		{"plain error is internal", errors.New("nil map"), codes.Internal, Error{Plugin: "fake", Code: CodeInternal, Msg: "nil map"}},
		{"context error is canceled", fmt.Errorf("push: %w", context.DeadlineExceeded), codes.Canceled, Error{Plugin: "fake", Code: CodeCanceled, Msg: "push: context deadline exceeded"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := status.Code(toStatus(tc.err)); got != tc.wantGRPC {
				t.Errorf("gRPC code = %v, want %v", got, tc.wantGRPC)
			}
			c := inProcess(t, "fake", &fakeMesh{name: "fake", err: tc.err})
			for call, f := range map[string]func() error{
				"Info":          func() error { _, err := c.Info(context.Background()); return err },
				"Install":       func() error { return c.Install(context.Background(), InstallRequest{}) },
				"Render":        func() error { _, err := c.Render(context.Background(), RenderRequest{}); return err },
				"Apply":         func() error { return c.Apply(context.Background(), ApplyRequest{}) },
				"ScrapeTargets": func() error { _, err := c.ScrapeTargets(context.Background(), ScrapeRequest{}); return err },
				"MetricMapping": func() error { _, err := c.MetricMapping(context.Background()); return err },
			} {
				pe := asError(t, f())
				if *pe != tc.want {
					t.Errorf("%s: got %#v, want %#v", call, *pe, tc.want)
				}
			}
		})
	}
}

func TestErrorIsContextError(t *testing.T) {
	err := error(&Error{Code: CodeCanceled, Msg: "x"})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, context.DeadlineExceeded) {
		t.Error("a CodeCanceled error should read as a context error")
	}
	if errors.Is(&Error{Code: CodeInternal}, context.Canceled) {
		t.Error("a CodeInternal error reads as context.Canceled")
	}
	if got := (&Error{Plugin: "istio", Msg: "m"}).Error(); got != "mesh plugin istio: m" {
		t.Errorf("Error() = %q", got)
	}
}

// Cancelling the host's context cancels the plugin's; a deadline travels.
func TestContextReachesThePlugin(t *testing.T) {
	f := &fakeMesh{name: "fake", block: true, ctxErr: make(chan error, 1), deadline: make(chan bool, 2)}
	c := inProcess(t, "fake", f)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Apply(ctx, ApplyRequest{}) }()
	if <-f.deadline {
		t.Error("the plugin's ctx has a deadline the host did not set")
	}
	cancel()
	select {
	case err := <-f.ctxErr:
		if err != context.Canceled {
			t.Errorf("plugin ctx ended with %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the host's cancel did not reach the plugin's ctx")
	}
	err := <-done
	if pe := asError(t, err); pe.Code != CodeCanceled || pe.Plugin != "fake" {
		t.Errorf("host got %#v, want CodeCanceled", pe)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is(%v, context.Canceled) = false", err)
	}

	// A deadline is carried and ends the plugin's call.
	dctx, dcancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer dcancel()
	go func() { done <- c.Apply(dctx, ApplyRequest{}) }()
	if !<-f.deadline {
		t.Error("the plugin's ctx has no deadline")
	}
	select {
	case err := <-f.ctxErr:
		// gRPC ends the server's ctx at the deadline, or on the client's
		// cancel when that arrives first.
		if err != context.DeadlineExceeded && err != context.Canceled {
			t.Errorf("plugin ctx ended with %v, want a context error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the host's deadline did not reach the plugin's ctx")
	}
	if pe := asError(t, <-done); pe.Code != CodeCanceled {
		t.Errorf("host got %#v, want CodeCanceled", pe)
	}
}

func TestInProcessClose(t *testing.T) {
	c, err := InProcess("fake", &fakeMesh{name: "fake"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != "fake" || c.PID() != 0 {
		t.Errorf("Name, PID = %q, %d", c.Name(), c.PID())
	}
	if _, err := c.Info(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	_, err = c.Info(context.Background())
	if pe := asError(t, err); pe.Plugin != "fake" {
		t.Errorf("after Close: %#v", pe)
	}
	select {
	case err := <-c.Died():
		t.Errorf("Died fired for an in-process client: %v", err)
	default:
	}
}

func TestWatchParent(t *testing.T) {
	tick := make(chan time.Time)
	var ppid atomic.Int64
	ppid.Store(100)
	exited := make(chan struct{})
	go watchParent(100, func() int { return int(ppid.Load()) }, tick, func() { close(exited) })
	for range 3 {
		tick <- time.Time{}
	}
	select {
	case <-exited:
		t.Fatal("exited while the parent is there")
	default:
	}
	ppid.Store(1) // re-parented: the host is gone
	tick <- time.Time{}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("did not exit after the parent went away")
	}
}
