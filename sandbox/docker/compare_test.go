package docker_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"meshgym/engine"
	"meshgym/sandbox"
	"meshgym/sandbox/local"
	"meshgym/scenarios"
	"meshgym/verdict"
)

// TestDockerMatchesLocal is issue 6's comparison: the retries and
// circuit-breaking scenarios, with the same seed and 4 s phases, give the
// same verdict statuses on the local and the Docker platform, and every
// share the conditions measure has overlapping 95% Wilson intervals (the
// two platforms agree within sampling noise).
func TestDockerMatchesLocal(t *testing.T) {
	needDocker(t)
	for _, name := range []string{"retries", "circuit-breaking"} {
		t.Run(name, func(t *testing.T) {
			platforms := []sandbox.Platform{
				local.New(local.Executables{App: []string{exe.App}, Sidecar: []string{exe.Sidecar}}),
				newProvider(t),
			}
			results := make([]*engine.Result, 2)
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i, p := range platforms {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sc, err := scenarios.Builtin(name)
					if err != nil {
						errs[i] = err
						return
					}
					if err := sc.Set("load.duration=4s"); err != nil {
						errs[i] = err
						return
					}
					results[i], errs[i] = engine.Run(context.Background(), sc, engine.Options{
						Platform: p, Seed: 20261201, EntryPort: -1,
						RunDir: filepath.Join(t.TempDir(), p.Name()),
					}, nil)
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("%s on %s: %v", name, platforms[i].Name(), err)
				}
			}
			loc, dock := results[0], results[1]
			if dock.Platform != "docker" || len(loc.Verdicts) != len(dock.Verdicts) || len(loc.Verdicts) == 0 {
				t.Fatalf("platform %q, %d vs %d verdicts", dock.Platform, len(loc.Verdicts), len(dock.Verdicts))
			}
			for i, lv := range loc.Verdicts {
				dv := dock.Verdicts[i]
				cond := lv.Condition.Text
				if lv.Status != dv.Status {
					t.Errorf("%s: local %s (%s), docker %s (%s)", cond, lv.Status, lv.Reason, dv.Status, dv.Reason)
				}
				for _, ph := range []struct {
					name string
					l, d verdict.Result
				}{{"before", lv.Before, dv.Before}, {"after", lv.After, dv.After}} {
					if !ph.l.Share || !ph.d.Share || ph.l.N == 0 || ph.d.N == 0 {
						continue
					}
					if ph.l.CI[0] > ph.d.CI[1] || ph.d.CI[0] > ph.l.CI[1] {
						t.Errorf("%s %s: local %.1f%% [%.1f, %.1f] (n=%d), docker %.1f%% [%.1f, %.1f] (n=%d): beyond sampling noise",
							cond, ph.name, ph.l.Value, ph.l.CI[0], ph.l.CI[1], ph.l.N, ph.d.Value, ph.d.CI[0], ph.d.CI[1], ph.d.N)
					}
				}
			}
			// Containers are sampled through the stats API: every component
			// has CPU and memory samples on Docker too.
			for _, c := range dock.Components {
				rs := dock.After.Snapshot.Resources[c.Instance]
				if rs == nil || len(rs.Samples) == 0 {
					t.Errorf("docker: no resource samples for %s", c.Instance)
				}
			}
		})
	}
}
