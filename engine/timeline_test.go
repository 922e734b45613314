package engine

import (
	"testing"
	"time"

	"meshgym/load"
)

func TestTimelinePerSecondRatesAndEjections(t *testing.T) {
	var tl timeline
	start := time.Unix(1000, 0)
	tl.add(load.Progress{Elapsed: time.Second, Requests: 100, Errors: 50})
	tl.add(load.Progress{Elapsed: time.Second, Requests: 100, Errors: 50}) // no progress: ignored
	tl.add(load.Progress{Elapsed: 2 * time.Second, Requests: 200, Errors: 52})
	tl.add(load.Progress{Elapsed: 2500 * time.Millisecond, Requests: 250, Errors: 52})
	ej := []PolicyEvent{
		{Kind: "ejection", At: start.Add(300 * time.Millisecond)},
		{Kind: "unejection", At: start.Add(1200 * time.Millisecond)},
		{Kind: "ejection", At: start.Add(1500 * time.Millisecond)},
		{Kind: "ejection", At: start.Add(9 * time.Second)}, // after the last point: counted in it
	}
	got := tl.points(start, ej)
	want := []TimelinePoint{
		{Offset: 1, RPS: 100, ErrorsPerSecond: 50, Ejections: 1},
		{Offset: 2, RPS: 100, ErrorsPerSecond: 2, Ejections: 1},
		{Offset: 2.5, RPS: 100, ErrorsPerSecond: 0, Ejections: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d points %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("point %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
