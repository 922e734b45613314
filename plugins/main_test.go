package plugins

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"meshgym/scenarios"
)

// TestMain lets the test binary play two more roles, so that the loader's
// process handling is tested on real processes without building anything:
//
//	<test binary> plugin serve NAME   a built-in plugin (what `meshgym plugin serve NAME` does);
//	                                  MESHGYM_TEST_PLUGIN_PROTOCOL overrides its protocol version
//	MESHGYM_TEST_HOST=1 <test binary> a host that opens the built-in "fake", prints
//	                                  "PID <pid>" and waits to be killed
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "plugin" && os.Args[2] == "serve" {
		v := ProtocolVersion
		if s := os.Getenv("MESHGYM_TEST_PLUGIN_PROTOCOL"); s != "" {
			v, _ = strconv.Atoi(s)
		}
		f := &fakeMesh{name: os.Args[3], args: os.Args[1:]}
		f.panicApply = os.Getenv("MESHGYM_TEST_PLUGIN_PANIC") != ""
		f.noise = os.Getenv("MESHGYM_TEST_PLUGIN_NOISE") != ""
		if pidfile := os.Getenv("MESHGYM_TEST_PLUGIN_CHILD"); pidfile != "" {
			// A child in the plugin's process group, outliving nothing.
			child := exec.Command("sleep", "100000")
			if err := child.Start(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			_ = os.WriteFile(pidfile, []byte(strconv.Itoa(child.Process.Pid)), 0o644)
		}
		serve(os.Args[3], f, v)
		os.Exit(0)
	}
	if os.Getenv("MESHGYM_TEST_HOST") == "1" {
		l := NewLoader(LoaderOptions{Builtins: []string{"fake"}, Dir: os.DevNull, Stderr: os.Stderr})
		c, err := l.Open(context.Background(), "fake")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("PID %d\n", c.PID())
		select {}
	}
	os.Exit(m.Run())
}

// fakeMesh is a Mesh for the tests: it supports retries, records what it
// was asked, and its behaviour can be changed per test.
type fakeMesh struct {
	name string
	args []string // os.Args[1:] of the process serving it

	mu      sync.Mutex
	render  []RenderRequest
	apply   []ApplyRequest
	scrape  []ScrapeRequest
	events  []EventsRequest
	install []InstallRequest

	// err, when set, is what every call returns.
	err error
	// panicApply makes Apply panic (MESHGYM_TEST_PLUGIN_PANIC).
	panicApply bool
	// noise makes Info print a line to stdout and one to stderr
	// (MESHGYM_TEST_PLUGIN_NOISE).
	noise bool
	// block makes Apply wait for its context and report the context's
	// error on ctxErr.
	block  bool
	ctxErr chan error
	// deadline receives whether Apply's context had a deadline.
	deadline chan bool
	// sendEvents are sent by Events before it waits for its context.
	sendEvents []PolicyEvent
	// eventsDone receives Events' context error when it returns.
	eventsDone chan error
}

func (f *fakeMesh) Info(ctx context.Context) (Info, error) {
	if f.noise {
		fmt.Fprintln(os.Stdout, "noise on stdout")
		fmt.Fprintln(os.Stderr, "noise on stderr")
	}
	if f.err != nil {
		return Info{}, f.err
	}
	return Info{
		Name: f.name, Version: "1.2.3", Patterns: []string{scenarios.KindRetries}, Platforms: []string{"local"},
		Profiles: []ProfileInfo{{Name: "p", Release: "1.0", Versions: []string{"0.9", "1.0"}, Source: "https://example.com", Summary: "s"}},
		Formats:  []string{"yaml", "json"}, Notes: f.args,
	}, nil
}

func (f *fakeMesh) Install(ctx context.Context, req InstallRequest) error {
	f.mu.Lock()
	f.install = append(f.install, req)
	f.mu.Unlock()
	return f.err
}

func (f *fakeMesh) Uninstall(ctx context.Context, req InstallRequest) error {
	return f.Install(ctx, req)
}

func (f *fakeMesh) Render(ctx context.Context, req RenderRequest) (Rendered, error) {
	f.mu.Lock()
	f.render = append(f.render, req)
	f.mu.Unlock()
	if f.err != nil {
		return Rendered{}, f.err
	}
	if err := ctx.Err(); err != nil {
		return Rendered{}, err
	}
	if req.Profile != "" && req.Profile != "p" {
		return Rendered{}, Errorf(CodeInvalid, "unknown profile %q", req.Profile)
	}
	if req.Format != "" && req.Format != "yaml" && req.Format != "json" {
		return Rendered{}, Errorf(CodeInvalid, "unknown format %q", req.Format)
	}
	if req.Pattern.Kind != "" && req.Pattern.Kind != scenarios.KindRetries {
		return Rendered{}, Errorf(CodeUnsupported, "pattern %s", req.Pattern.Kind)
	}
	return Rendered{
		Documents: []Document{{Name: "d", Format: "yaml", Content: "kind: Fake\n"}},
		Knobs:     []Knob{{Path: "a.b", Value: "1", Source: "scenario"}},
		Notes:     []string{"n"},
	}, nil
}

func (f *fakeMesh) Apply(ctx context.Context, req ApplyRequest) error {
	if f.panicApply {
		panic("evil plugin panics in apply")
	}
	f.mu.Lock()
	f.apply = append(f.apply, req)
	f.mu.Unlock()
	if f.deadline != nil {
		_, ok := ctx.Deadline()
		f.deadline <- ok
	}
	if f.block {
		<-ctx.Done()
		f.ctxErr <- ctx.Err()
		return ctx.Err()
	}
	if f.err != nil {
		return f.err
	}
	return ctx.Err()
}

func (f *fakeMesh) Remove(ctx context.Context, req ApplyRequest) error { return f.Apply(ctx, req) }

func (f *fakeMesh) ScrapeTargets(ctx context.Context, req ScrapeRequest) ([]ScrapeTarget, error) {
	f.mu.Lock()
	f.scrape = append(f.scrape, req)
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	var out []ScrapeTarget
	for _, c := range req.Components {
		if c.MetricsURL != "" {
			out = append(out, ScrapeTarget{Component: c.Name, URL: c.MetricsURL, Labels: map[string]string{"name": c.Version}})
		}
	}
	return out, nil
}

func (f *fakeMesh) MetricMapping(ctx context.Context) ([]MetricMapping, error) {
	if f.err != nil {
		return nil, f.err
	}
	return []MetricMapping{{Mesh: "istio_requests_total", Meshgym: "request_count", Labels: map[string]string{"response_code": "status_code"},
		Where: map[string]string{"reporter": "destination"}}}, nil
}

func (f *fakeMesh) Events(ctx context.Context, req EventsRequest, send func(PolicyEvent) error) error {
	f.mu.Lock()
	f.events = append(f.events, req)
	f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	for _, e := range f.sendEvents {
		if err := send(e); err != nil {
			<-ctx.Done() // the host cancels the stream when its send fails
			if f.eventsDone != nil {
				f.eventsDone <- ctx.Err()
			}
			return err
		}
	}
	<-ctx.Done()
	if f.eventsDone != nil {
		f.eventsDone <- ctx.Err()
	}
	return nil
}

// inProcess serves f over the wire for one test.
func inProcess(t *testing.T, name string, f *fakeMesh) *Client {
	t.Helper()
	c, err := InProcess(name, f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// asError returns err as *Error or fails the test.
func asError(t *testing.T, err error) *Error {
	t.Helper()
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("got %T %v, want *plugins.Error", err, err)
	}
	return pe
}

// waitFor polls cond every 20 ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
