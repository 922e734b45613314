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

	targets []Target
	every   time.Duration

	mu     sync.Mutex
	prev   map[string]float64
	prevT  time.Time
	base   map[string]ComponentCount // totals at the first scrape
	last   map[string]ComponentCount // totals at the latest scrape
	ticks  []map[string]float64      // per tick: name → req/s
	errs   int
	lastEr error
	cancel context.CancelFunc
	done   chan struct{}
}

// NewRecorder records the request rates of the components served at urls
// (their /metrics endpoints) every interval; every ≤ 0 means one second.
func NewRecorder(urls []string, every time.Duration) *Recorder {
	return NewTargetRecorder(Targets(urls), every)
}

// NewTargetRecorder is NewRecorder for targets with target labels.
func NewTargetRecorder(targets []Target, every time.Duration) *Recorder {
	if every <= 0 {
		every = time.Second
	}
	return &Recorder{targets: append([]Target(nil), targets...), every: every}
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

// ComponentCount is what one component answered so far in a phase.
type ComponentCount struct {
	Requests float64 `json:"requests"` // inbound requests answered
	Errors   float64 `json:"errors"`   // of which not 2xx
}

// Counts returns, per component, the inbound requests and errors counted
// since Start, as of the latest scrape (about a second old at most). It
// is for live views; the phase's figures come from the Snapshot diff.
func (r *Recorder) Counts() map[string]ComponentCount {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]ComponentCount{}
	for name, t := range r.last {
		b := r.base[name]
		out[name] = ComponentCount{Requests: counterDelta(b.Requests, t.Requests), Errors: counterDelta(b.Errors, t.Errors)}
	}
	return out
}

func (r *Recorder) tick(ctx context.Context) {
	snap, err := CollectTargets(ctx, r.targets, r.Mapping)
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
	totals := map[string]ComponentCount{}
	for _, q := range snap.Requests {
		cur[q.Name] += q.Count
		t := totals[q.Name]
		t.Requests += q.Count
		if q.StatusCode < 200 || q.StatusCode > 299 {
			t.Errors += q.Count
		}
		totals[q.Name] = t
	}
	if r.base == nil {
		r.base = totals
	}
	r.last = totals
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
