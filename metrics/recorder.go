package metrics

import (
	"context"
	"sync"
	"time"
)

// Recorder scrapes inbound request totals every interval during a phase and
// keeps the per-interval rate of each component, for
// requests_per_second_pNN. It is deliberately simple: one scrape of all
// URLs per tick; a tick whose scrape failed entirely is skipped.
type Recorder struct {
	// Mapping renames a mesh's metrics before rates are taken (set it
	// before Start).
	Mapping Mapping

	urls  []string
	every time.Duration

	mu     sync.Mutex
	prev   map[string]float64
	prevT  time.Time
	ticks  []map[string]float64 // per tick: name → req/s
	errs   int
	lastEr error
	cancel context.CancelFunc
	done   chan struct{}
}

// NewRecorder records the request rates of the components served at urls
// (their /metrics endpoints) every interval; every ≤ 0 means one second.
func NewRecorder(urls []string, every time.Duration) *Recorder {
	if every <= 0 {
		every = time.Second
	}
	return &Recorder{urls: append([]string(nil), urls...), every: every}
}

// Start takes the baseline scrape and records until Stop or ctx ends.
func (r *Recorder) Start(ctx context.Context) {
	r.mu.Lock()
	if r.done != nil {
		r.mu.Unlock()
		return
	}
	ctx, r.cancel = context.WithCancel(ctx)
	r.done = make(chan struct{})
	r.mu.Unlock()
	r.tick(ctx)
	go tickEvery(ctx, r.every, r.done, func() { r.tick(ctx) })
}

// Stop ends recording and returns the rates (see Rates).
func (r *Recorder) Stop() map[string][]float64 {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return r.Rates()
}

// Err returns the last scrape error and how many ticks failed.
func (r *Recorder) Err() (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.errs, r.lastEr
}

// Rates returns, per component, one inbound request rate (req/s) per
// recorded interval; a component not yet seen in an interval has rate 0
// there, so all series have the same length and line up.
func (r *Recorder) Rates() map[string][]float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]float64{}
	for _, t := range r.ticks {
		for name := range t {
			out[name] = nil
		}
	}
	for name := range out {
		s := make([]float64, len(r.ticks))
		for i, t := range r.ticks {
			s[i] = t[name]
		}
		out[name] = s
	}
	return out
}

func (r *Recorder) tick(ctx context.Context) {
	snap, err := CollectMapped(ctx, r.urls, r.Mapping)
	now := time.Now()
	if ctx.Err() != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errs++
		r.lastEr = err
		if len(snap.Requests) == 0 {
			return
		}
	}
	cur := map[string]float64{}
	for _, q := range snap.Requests {
		cur[q.Name] += q.Count
	}
	if r.prev != nil {
		dt := now.Sub(r.prevT).Seconds()
		rates := map[string]float64{}
		for name, c := range cur {
			rates[name] = counterDelta(r.prev[name], c) / dt
		}
		r.ticks = append(r.ticks, rates)
	}
	r.prev, r.prevT = cur, now
}

// tickEvery calls fn every interval until ctx ends, then closes done.
func tickEvery(ctx context.Context, every time.Duration, done chan struct{}, fn func()) {
	defer close(done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}
