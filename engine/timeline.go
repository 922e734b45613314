package engine

import (
	"math"
	"sync"
	"time"

	"meshgym/load"
)

// timeline turns the load generator's progress reports (cumulative counts,
// about one a second) into per-second points for plots.
type timeline struct {
	mu   sync.Mutex
	last load.Progress
	pts  []TimelinePoint
}

// add records one progress report; reports that do not advance the clock
// are ignored.
func (t *timeline) add(p load.Progress) {
	t.mu.Lock()
	defer t.mu.Unlock()
	dt := (p.Elapsed - t.last.Elapsed).Seconds()
	if dt <= 0 {
		return
	}
	dr := float64(p.Requests - t.last.Requests)
	de := float64(p.Errors - t.last.Errors)
	t.pts = append(t.pts, TimelinePoint{
		Offset:          round3(p.Elapsed.Seconds()),
		RPS:             round3(max(dr, 0) / dt),
		ErrorsPerSecond: round3(max(de, 0) / dt),
	})
	t.last = p
}

// points returns the timeline with the ejections of the phase (started at
// start) counted in the point whose interval holds them.
func (t *timeline) points(start time.Time, ejections []PolicyEvent) []TimelinePoint {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]TimelinePoint(nil), t.pts...)
	for _, e := range ejections {
		if e.Kind != "ejection" || len(out) == 0 {
			continue
		}
		off := e.At.Sub(start).Seconds()
		i := 0
		for i < len(out)-1 && out[i].Offset < off {
			i++
		}
		out[i].Ejections++
	}
	return out
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
