package load

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"fortio.org/fortio/fhttp"
	"fortio.org/fortio/periodic"
	flog "fortio.org/log"
)

// Percentiles are the latency percentiles fortio computes into the raw
// record; ClientView interpolates any other from its Histogram.
var Percentiles = []float64{50, 75, 90, 95, 99, 99.9}

var quietOnce sync.Once

// quietFortio raises fortio's process-wide log level to Critical once, so that
// its per-run and per-request lines (Info, Warning, and Error for every
// refused connection) do not garble a terminal or TUI; meshgym
// reports the same facts (e.g. FellBehind) itself.
func quietFortio() {
	quietOnce.Do(func() { flog.SetLogLevelQuiet(flog.Critical) })
}

// Run sends load to spec.URL and returns what the client saw.
//
// Cancelling ctx aborts the run through fortio's periodic.Aborter: pacing
// stops at once, calls in flight finish (at most spec.Timeout), and Run
// returns the partial Result (Client.Aborted set) together with an error
// wrapping ctx.Err(). Any other error (bad spec, fortio failing to create its
// clients) returns a nil Result unless fortio produced an error record.
//
// With a rate (RPS > 0) the run makes exactly RPS × Duration requests, as
// the book's exercises count them (10 req/s for 200 s = 2000 requests), and
// fortio makes no warm-up request. As fast as possible (RPS 0), fortio
// opens each connection with one warm-up request that is not counted in the
// Result (Client.WarmupRequests says how many the servers saw). Warm-up
// errors do not abort the run: the errors a scenario injects are part of
// what is measured.
func Run(ctx context.Context, spec Spec) (*Result, error) {
	spec = spec.Normalize()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load: not started: %w", err)
	}
	quietFortio()

	ctr := newCounter(spec.Duration, spec.Connections)
	aborter := periodic.NewAborter()
	qps := spec.RPS
	if qps == 0 {
		qps = -1 // fortio: max speed
	}
	opts := fhttp.HTTPRunnerOptions{
		RunnerOptions: periodic.RunnerOptions{
			QPS:          qps,
			Duration:     spec.Duration,
			NumThreads:   spec.Connections,
			Exactly:      spec.exactly(),
			Percentiles:  append([]float64(nil), Percentiles...),
			Resolution:   spec.Resolution.Seconds(),
			Out:          io.Discard,
			Stop:         aborter, // our own aborter: no SIGINT watcher, ctx decides
			Jitter:       spec.Jitter,
			Uniform:      !spec.Bursty,
			AccessLogger: ctr,
			Labels:       "meshgym",
		},
		HTTPOptions: fhttp.HTTPOptions{
			URL:            spec.URL,
			HTTPReqTimeOut: spec.Timeout,
		},
		AllowInitialErrors: true,
	}
	if spec.Tracing.enabled() {
		applyTracing(&opts, ctr, spec.Tracing, spec) // trace.go
	}

	done := make(chan struct{})
	var wg sync.WaitGroup
	// In exact-count mode a rate the system cannot serve would stretch the
	// run far past its duration; stop it at a deadline instead and report
	// that the generator fell behind.
	var deadline <-chan time.Time
	if spec.exactly() > 0 {
		t := time.NewTimer(spec.Duration + max(spec.Duration/2, 5*time.Second))
		defer t.Stop()
		deadline = t.C
	}
	var cutOff atomic.Bool
	wg.Go(func() {
		select {
		case <-ctx.Done():
			aborter.Abort(false)
		case <-deadline:
			cutOff.Store(true)
			aborter.Abort(false)
		case <-done:
		}
	})
	if spec.Progress != nil {
		wg.Go(func() { ctr.report(done, spec.Duration, spec.Progress) })
	}

	raw, runErr := fhttp.RunHTTPTest(&opts)
	close(done)
	wg.Wait()

	aborted := ctx.Err() != nil && (raw == nil || raw.ActualDuration < spec.Duration)
	var perSecond []int64
	if raw != nil {
		perSecond = ctr.perSecondCounts(raw.ActualDuration)
	}
	res := &Result{Raw: raw, Spec: spec}
	res.Client = clientView(raw, spec, perSecond, aborted, ctr.samples())
	if cutOff.Load() && !aborted {
		res.Client.FellBehind = true
		res.Client.FellBehindReason = fmt.Sprintf("stopped at the deadline after %d of the %d planned requests; %s",
			res.Client.Count, spec.exactly(), res.Client.FellBehindReason)
	}
	if spec.Progress != nil {
		p := ctr.snapshot(spec.Duration)
		p.Done = true
		spec.Progress(p)
	}
	switch {
	case runErr != nil && raw == nil:
		return nil, fmt.Errorf("load %s: %w", spec.URL, runErr)
	case runErr != nil:
		return res, fmt.Errorf("load %s: %w", spec.URL, runErr)
	case aborted:
		return res, fmt.Errorf("load %s: aborted after %s: %w", spec.URL,
			raw.ActualDuration.Round(time.Millisecond), ctx.Err())
	}
	return res, nil
}

// Progress is a live view of a run, delivered about once a second.
type Progress struct {
	// Elapsed is the time since the first request started; Total is the
	// planned duration.
	Elapsed time.Duration `json:"elapsed"`
	Total   time.Duration `json:"total"` // planned duration
	// Requests and Errors are completed requests so far (errors: outside
	// 2xx, or socket errors).
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"` // non-2xx and socket errors so far
	// RPS is the completion rate over the last interval (requests/s).
	RPS float64 `json:"rps"`
	// Done is set on the last call, made when the run has ended.
	Done bool `json:"done,omitempty"`
}

// counter is a periodic.AccessLogger: fortio calls Start before and Report
// after every measured call (outside the timed region except for Start's
// few nanoseconds), which gives live counts without touching the HTTP
// client. All updates are atomic; nothing blocks the connections.
type counter struct {
	start     atomic.Int64 // unix ns of the first call's start; 0 before
	requests  atomic.Int64
	errors    atomic.Int64
	perSecond []atomic.Int64
	// latencies keeps every call's latency (s), one slice per connection
	// (fortio's ThreadID: each is appended to by its own goroutine only),
	// so percentiles can be exact instead of read from fortio's histogram,
	// whose buckets are 100 ms wide between 100 and 300 ms. Up to
	// maxSamples calls in all; beyond that the histogram decides.
	latencies [][]float32
	stored    atomic.Int64

	lastN int64
	lastT time.Time
}

// maxSamples bounds the latencies kept for exact percentiles (4 bytes
// each: 10 million calls are 40 MB).
var maxSamples int64 = 10_000_000

func newCounter(d time.Duration, connections int) *counter {
	return &counter{perSecond: make([]atomic.Int64, int(d/time.Second)+2), latencies: make([][]float32, connections)}
}

var _ periodic.AccessLogger = (*counter)(nil)

// Start records the start of the first call.
func (c *counter) Start(ctx context.Context, _ periodic.ThreadID, _ int64, t time.Time) context.Context {
	if c.start.Load() == 0 {
		c.start.CompareAndSwap(0, t.UnixNano())
	}
	return ctx
}

// Report counts one completed call; details is the HTTP status as text.
func (c *counter) Report(_ context.Context, id periodic.ThreadID, _ int64, t time.Time, latency float64, _ bool, details string) {
	c.requests.Add(1)
	if i := int(id); i >= 0 && i < len(c.latencies) && c.stored.Add(1) <= maxSamples {
		c.latencies[i] = append(c.latencies[i], float32(latency))
	}
	if code, err := strconv.Atoi(details); err != nil || IsError(code) {
		c.errors.Add(1)
	}
	end := t.UnixNano() + int64(latency*1e9)
	bin := int((end - c.start.Load()) / int64(time.Second))
	if bin < 0 {
		bin = 0
	}
	if bin >= len(c.perSecond) {
		bin = len(c.perSecond) - 1
	}
	c.perSecond[bin].Add(1)
}

// Info describes the logger in fortio's record.
func (c *counter) Info() string { return "meshgym progress counter" }

func (c *counter) elapsed() time.Duration {
	s := c.start.Load()
	if s == 0 {
		return 0
	}
	return time.Since(time.Unix(0, s))
}

func (c *counter) snapshot(total time.Duration) Progress {
	now := time.Now()
	n := c.requests.Load()
	p := Progress{Elapsed: c.elapsed(), Total: total, Requests: n, Errors: c.errors.Load()}
	if !c.lastT.IsZero() {
		if dt := now.Sub(c.lastT).Seconds(); dt > 0 {
			p.RPS = float64(n-c.lastN) / dt
		}
	}
	c.lastN, c.lastT = n, now
	return p
}

func (c *counter) report(done <-chan struct{}, total time.Duration, fn func(Progress)) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	c.snapshot(total) // baseline for the first rate
	for {
		select {
		case <-done:
			return
		case <-t.C:
			fn(c.snapshot(total))
		}
	}
}

// perSecondCounts returns the counts of the whole seconds of a run that
// lasted d.
func (c *counter) perSecondCounts(d time.Duration) []int64 {
	n := min(int(d/time.Second), len(c.perSecond))
	out := make([]int64, n)
	for i := range n {
		out[i] = c.perSecond[i].Load()
	}
	return out
}

// samples returns every latency kept (s), or nil when some were not kept
// (more than maxSamples calls). Call it once the run has ended.
func (c *counter) samples() []float64 {
	if c.stored.Load() > maxSamples {
		return nil
	}
	var out []float64
	for _, l := range c.latencies {
		for _, v := range l {
			out = append(out, float64(v))
		}
	}
	return out
}
