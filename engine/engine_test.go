package engine_test

import (
	"context"
	"errors"
	"fmt"
	"meshgym/internal/testexe"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"meshgym/engine"
	"meshgym/metrics"
	"meshgym/sandbox"
	"meshgym/sandbox/local"
	"meshgym/scenarios"
)

var exe local.Executables

// TestMain builds the lean executables once; the end-to-end tests run real
// processes on loopback with shortened durations.
func TestMain(m *testing.M) {
	built, cleanup, err := testexe.Build("meshgym-engine-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, "build executables:", err)
		os.Exit(1)
	}
	exe = built
	code := m.Run()
	cleanup()
	os.Exit(code)
}

func retries(t *testing.T, d time.Duration) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.Builtin("retries")
	if err != nil {
		t.Fatal(err)
	}
	sc.Load.Duration = scenarios.Duration(d)
	return sc
}

func count(s *metrics.Snapshot, name string, code int) float64 {
	total := 0.0
	for _, r := range s.Requests {
		if metrics.MatchName(name, r.Name) && (code == 0 || r.StatusCode == code) {
			total += r.Count
		}
	}
	return total
}

// TestIntegrationRetries runs the retry exercise for real (6 s per phase at
// 100 req/s) and checks the book's outcome from measurement.
func TestIntegrationRetries(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run skipped under -short")
	}
	sc := retries(t, 6*time.Second)
	events := make(chan engine.Event, 1024)
	go func() {
		for range events {
		}
	}()
	res, err := engine.Run(context.Background(), sc, engine.Options{
		Platform: local.New(exe), Seed: 7, RunDir: t.TempDir(), EntryPort: -1,
	}, events)
	close(events)
	if err != nil {
		t.Fatal(err)
	}
	b, a := res.Before, res.After
	// Before: about a quarter of the client's requests fail (half reach
	// currency_v2, which fails half). n≈600 → σ≈1.8 pts; allow 4σ.
	failBefore := float64(b.Load.Client.Errors) / float64(b.Load.Client.Count)
	if failBefore < 0.18 || failBefore > 0.32 {
		t.Errorf("before: client failure share = %.3f, want ≈0.25", failBefore)
	}
	if a.Load.Client.Errors != 0 {
		t.Errorf("after: %d client errors, want 0 (status codes %v)", a.Load.Client.Errors, a.Load.Client.StatusCodes)
	}
	as := a.Snapshot
	pay := count(as, "payments", 0)
	if got := count(as, "payments", 200); got != pay || pay < 500 {
		t.Errorf("after: payments 200 = %v of %v", got, pay)
	}
	if got := count(as, "currency_v1", 500); got != 0 {
		t.Errorf("after: currency_v1 answered %v 500s", got)
	}
	v2, v2fail := count(as, "currency_v2", 0), count(as, "currency_v2", 500)
	if share := v2fail / v2; share < 0.40 || share > 0.60 {
		t.Errorf("after: currency_v2 500 share = %.3f, want ≈0.5", share)
	}
	cur := count(as, "currency", 0)
	if r := cur / pay; r < 1.18 || r > 1.40 {
		t.Errorf("after: currency/payments = %.3f, want 1.25–1.33 (±noise)", r)
	}
	if r := count(as, "currency_v1", 0) / pay; r < 0.62 || r > 0.80 {
		t.Errorf("after: currency_v1/payments = %.3f, want 0.67–0.75 (±noise)", r)
	}
	if b.PolicyEvents["retry"] != 0 || a.PolicyEvents["retry"] == 0 {
		t.Errorf("retry events: before %d, after %d", b.PolicyEvents["retry"], a.PolicyEvents["retry"])
	}
	if _, err := os.Stat(filepath.Join(res.RunDir, "result.json")); err != nil {
		t.Errorf("result.json: %v", err)
	}
	checkRetriedTrace(t, res) // tracing_integration_test.go
	t.Logf("before fail %.3f; after currency/payments %.3f, v1/payments %.3f, v2 500 share %.3f, retries %d",
		failBefore, cur/pay, count(as, "currency_v1", 0)/pay, v2fail/v2, a.PolicyEvents["retry"])
	assertGone(t, res.Components)
}

// TestIntegrationComponentDies kills one sample app mid-run: the run stops
// with a platform error naming it, and nothing is left running.
func TestIntegrationComponentDies(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run skipped under -short")
	}
	sc := retries(t, 20*time.Second)
	events := make(chan engine.Event, 1024)
	var comps []sandbox.Component
	killed := make(chan string, 1)
	go func() {
		for ev := range events {
			if pe, ok := ev.(*engine.PhaseEvent); ok && pe.Phase == engine.PhaseBefore && pe.Start {
				go func() {
					time.Sleep(time.Second)
					killed <- "ready"
				}()
			}
		}
	}()
	p := &spyPlatform{Platform: local.New(exe), deployed: make(chan sandbox.Deployment, 1)}
	errc := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := engine.Run(context.Background(), sc, engine.Options{Platform: p, Seed: 1, RunDir: t.TempDir(), EntryPort: -1}, events)
		errc <- err
	}()
	dep := <-p.deployed
	<-killed
	comps = dep.Components()
	var victim sandbox.Component
	for _, c := range comps {
		if c.Name == "currency_v2" && c.Kind == sandbox.KindApp {
			victim = c
		}
	}
	proc, _ := os.FindProcess(int(victim.PID))
	proc.Kill()
	err := <-errc
	close(events)
	if err == nil {
		t.Fatal("run succeeded after a component was killed")
	}
	var ee *engine.Error
	if !errors.As(err, &ee) || ee.Kind != engine.KindPlatform {
		t.Fatalf("error %v (%T), want a platform error", err, err)
	}
	if !strings.Contains(err.Error(), "currency_v2") {
		t.Errorf("error %q does not name currency_v2", err)
	}
	if el := time.Since(start); el > 15*time.Second {
		t.Errorf("run took %s to notice the death", el)
	}
	assertGone(t, comps)
}

// TestIntegrationCancel cancels mid-phase: an interrupt error, nothing left.
func TestIntegrationCancel(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run skipped under -short")
	}
	sc := retries(t, 20*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	p := &spyPlatform{Platform: local.New(exe), deployed: make(chan sandbox.Deployment, 1)}
	errc := make(chan error, 1)
	go func() {
		_, err := engine.Run(ctx, sc, engine.Options{Platform: p, Seed: 1, RunDir: t.TempDir(), EntryPort: -1}, nil)
		errc <- err
	}()
	dep := <-p.deployed
	time.Sleep(1500 * time.Millisecond)
	cancel()
	var err error
	select {
	case err = <-errc:
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop within 10 s of cancellation")
	}
	var ee *engine.Error
	if !errors.As(err, &ee) || ee.Kind != engine.KindInterrupted {
		t.Fatalf("error %v, want an interrupt", err)
	}
	assertGone(t, dep.Components())
}

type spyPlatform struct {
	sandbox.Platform
	deployed chan sandbox.Deployment
}

func (s *spyPlatform) Deploy(ctx context.Context, spec sandbox.DeploySpec) (sandbox.Deployment, error) {
	d, err := s.Platform.Deploy(ctx, spec)
	if d != nil {
		s.deployed <- d
	}
	return d, err
}

// assertGone checks that no component process is alive any more.
func assertGone(t *testing.T, comps []sandbox.Component) {
	t.Helper()
	if len(comps) == 0 {
		t.Fatal("no components recorded")
	}
	deadline := time.Now().Add(3 * time.Second)
	for _, c := range comps {
		for alive(c.PID) {
			if time.Now().After(deadline) {
				t.Errorf("%s (pid %d) still running", c.Instance, c.PID)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func alive(pid int32) bool {
	if runtime.GOOS == "windows" {
		return false
	}
	p, err := os.FindProcess(int(pid))
	if err != nil {
		return false
	}
	return p.Signal(syscall.Signal(0)) == nil
}
