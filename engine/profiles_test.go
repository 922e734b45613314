package engine_test

import (
	"context"
	"testing"
	"time"

	"meshgym/engine"
	"meshgym/sandbox/local"
	"meshgym/scenarios"
)

// TestProfilesDifferOnTheBreaker runs the circuit-breaking scenario under
// the book profile and under istio: the book's breaker ejects the failing
// version after 2 errors, while Istio's default 10% maxEjectionPercent
// forbids ejecting one of two hosts, so about half the requests still
// reach it. The run records the resolved profile and its knobs.
func TestProfilesDifferOnTheBreaker(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end runs skipped under -short")
	}
	reached := map[string]float64{}
	for _, profile := range []string{"book", "istio"} {
		sc, err := scenarios.Builtin("circuit-breaking")
		if err != nil {
			t.Fatal(err)
		}
		sc.Load.Duration = scenarios.Duration(4 * time.Second)
		sc.Load.RPS = 25
		res, err := engine.Run(context.Background(), sc, engine.Options{
			Platform: local.New(exe), Seed: 3, RunDir: t.TempDir(), EntryPort: -1, Profile: profile}, nil)
		if err != nil {
			t.Fatalf("%s: %v", profile, err)
		}
		reached[profile] = count(res.After.Snapshot, "payments_v2", 0)
		ej := res.After.Snapshot.Ejections["payments_v2"]
		switch profile {
		case "book":
			if res.Profile != "book" || ej != 1 {
				t.Errorf("book: profile %q, %v ejections of payments_v2, want 1", res.Profile, ej)
			}
		case "istio":
			if res.Profile != "istio@1.27" || ej != 0 {
				t.Errorf("istio: profile %q, %v ejections of payments_v2, want 0", res.Profile, ej)
			}
			found := false
			for _, k := range res.Knobs {
				if k.Path == "payments.outlier.max_ejection_percent" && k.Value == "10" {
					found = true
				}
			}
			if !found {
				t.Errorf("istio run does not record max_ejection_percent 10 in its knobs: %+v", res.Knobs)
			}
		}
		if res.Versions["plugin"] == "" || res.Mesh != "builtin" {
			t.Errorf("%s: mesh %q, versions %v", profile, res.Mesh, res.Versions)
		}
		assertGone(t, res.Components)
	}
	// 100 requests: the book's breaker lets 2 through; without ejection
	// least_request sends payments_v2 about half.
	if reached["book"] > 3 || reached["istio"] < 30 {
		t.Errorf("payments_v2 received %v requests under book (want ≤ 3) and %v under istio (want ≥ 30)", reached["book"], reached["istio"])
	}
}
