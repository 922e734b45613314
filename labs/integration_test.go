package labs

import (
	"context"
	"flag"
	"fmt"
	"meshgym/internal/testexe"
	"os"
	"testing"

	"meshgym/engine"
	"meshgym/sandbox/local"
)

// exe are the lean executables the end-to-end lab runs start; TestMain
// builds them once unless -short.
var exe local.Executables

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	built, cleanup, err := testexe.Build("meshgym-labs-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, "build executables:", err)
		os.Exit(1)
	}
	exe = built
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// solvedAt is progress at run step r with every earlier step done, the
// solutions of every run step up to r applied, and answer 1 given to
// every predict step.
func solvedAt(l *Lab, r int) *LabProgress {
	p := &LabProgress{Current: l.Steps[r].ID, Steps: map[string]StepStatus{}, Knobs: map[string]string{}, Predictions: map[string]int{}}
	for i, st := range l.Steps[:r+1] {
		if i < r {
			p.Steps[st.ID] = StatusDone
		}
		switch st.Kind {
		case KindPredict:
			p.Predictions[st.ID] = 0
		case KindRun:
			for _, a := range st.Solution {
				k, v, _ := cutAssign(a)
				p.Knobs[k] = v
			}
		}
	}
	return p
}

// TestIntegrationLabs runs every run step of every lab for real (3 s
// phases) with the lab's Setup and the solutions of the run steps up to
// it, as the learner would after pressing "solution", and asserts that the
// run passes the step's checks (and the step is then marked skipped), and
// that every predict step before it is judged: its measure is read and
// falls in one of its choices.
func TestIntegrationLabs(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end lab runs skipped under -short")
	}
	only := os.Getenv("LABS_ONLY")
	for _, l := range All() {
		if only != "" && only != l.Name {
			continue
		}
		for r, rs := range l.Steps {
			if rs.Kind != KindRun {
				continue
			}
			t.Run(l.Name+"/"+rs.ID, func(t *testing.T) {
				p := solvedAt(l, r)
				s := NewSession(l, p)
				if got := s.Solve(); len(got) == 0 {
					t.Fatal("no solution")
				}
				sc, err := s.Scenario()
				if err != nil {
					t.Fatal(err)
				}
				if err := sc.Set("load.duration=3s"); err != nil {
					t.Fatal(err)
				}
				res, err := engine.Run(context.Background(), sc, engine.Options{Platform: local.New(exe), Seed: 5, RunDir: t.TempDir(), EntryPort: -1}, nil)
				if err != nil {
					t.Fatalf("run: %v", err)
				}
				fb := s.Record(res)
				for _, c := range fb.Checks {
					if !c.Passed {
						t.Errorf("with the solution: %s", c.Line)
					} else {
						t.Logf("%s", c.Line)
					}
				}
				if !fb.Passed || s.Status(r) != StatusSkipped {
					t.Errorf("passed %v, status %s; want passed and skipped", fb.Passed, s.Status(r))
				}
				for _, st := range l.Steps[:r] {
					if st.Kind != KindPredict {
						continue
					}
					j := s.Judged(st.ID)
					if j == nil || j.Right < 0 {
						t.Errorf("step %s: measure %s not judged or outside every choice: %+v", st.ID, st.Measure.Expr, j)
					} else if p.Judged[st.ID] == j {
						t.Logf("step %s: %s", st.ID, j.Line)
					}
				}
			})
		}
	}
}
