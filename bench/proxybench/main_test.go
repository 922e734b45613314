package main

import (
	"math"
	"testing"
)

func TestMedian(t *testing.T) {
	inf := jsonFloat(math.Inf(1))
	for _, tc := range []struct {
		name string
		in   []jsonFloat
		want float64
	}{
		{"odd", []jsonFloat{0.9, 0.1, 0.4}, 0.4},
		{"even", []jsonFloat{0.2, 0.6, 0.4, 0.8}, 0.5},
		{"one +Inf counts as the largest", []jsonFloat{0.3, inf, 0.1}, 0.3},
		{"even with +Inf in the upper middle", []jsonFloat{0.3, inf, inf, 0.1}, math.Inf(1)},
		{"negative ratio (noise) kept", []jsonFloat{-0.1, 0.2, 0.3}, 0.2},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("%s: median(%v) = %v, want %v", tc.name, tc.in, got, tc.want)
		}
	}
	if got := median(nil); !math.IsNaN(got) {
		t.Errorf("median(nil) = %v, want NaN", got)
	}
}

func TestAddedRatio(t *testing.T) {
	for _, tc := range []struct {
		sidecar, rp, want float64
	}{
		{100e-6, 400e-6, 0.25},
		{300e-6, 200e-6, 1.5},
		{100e-6, 0, math.Inf(1)},      // the ReverseProxy added nothing: against the sidecar
		{100e-6, -50e-6, math.Inf(1)}, // noise made it negative: likewise
	} {
		if got := addedRatio(tc.sidecar, tc.rp); !(got == tc.want || math.Abs(got-tc.want) < 1e-9) {
			t.Errorf("addedRatio(%g, %g) = %v, want %v", tc.sidecar, tc.rp, got, tc.want)
		}
	}
}
