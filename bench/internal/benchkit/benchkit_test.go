package benchkit

import (
	"encoding/json"
	"math"
	"testing"
)

func TestQuantileNearestRank(t *testing.T) {
	s := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for q, want := range map[float64]float64{0.5: 5, 0.9: 9, 0.99: 10, 0: 1, 1: 10} {
		if got := Quantile(s, q); got != want {
			t.Errorf("Quantile(1..10, %v) = %v, want %v", q, got, want)
		}
	}
}

func TestJSONFloat(t *testing.T) {
	b, err := json.Marshal([]JSONFloat{0.25, JSONFloat(math.Inf(1)), JSONFloat(math.NaN())})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "[0.25,null,null]" {
		t.Fatalf("got %s, want [0.25,null,null]", b)
	}
}

func TestUS(t *testing.T) {
	if got := US(0.0012); got != "1200µs" {
		t.Errorf("US(0.0012) = %q, want 1200µs", got)
	}
}

func TestModeQPS(t *testing.T) {
	for _, tc := range []struct {
		mode    string
		want    float64
		wantErr bool
	}{{"fixed", 300, false}, {"max", -1, false}, {"burst", 0, true}} {
		got, err := ModeQPS(tc.mode, 300)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("ModeQPS(%q, 300) = %v, %v; want %v, error %v", tc.mode, got, err, tc.want, tc.wantErr)
		}
	}
}
