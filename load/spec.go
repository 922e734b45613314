package load

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"time"
)

// Defaults applied by Spec.Normalize to zero-valued fields. They are
// fortio's own defaults except Resolution, which is finer than fortio's 1 ms
// so that proxy overhead (tens of microseconds) is visible.
const (
	// DefaultConnections is the number of concurrent connections (fortio's -c).
	DefaultConnections = 4
	// DefaultDuration is how long a run lasts (fortio's -t).
	DefaultDuration = 5 * time.Second
	// DefaultResolution is the width of the smallest latency histogram
	// bucket (fortio's -r); fortio's own default is 1 ms.
	DefaultResolution = 100 * time.Microsecond
	// DefaultTimeout is the per-request timeout (fortio's -timeout).
	DefaultTimeout = 3 * time.Second
)

// Spec is what to run. Zero values mean defaults (see Normalize); a Spec
// is a value and Run never modifies the caller's copy.
type Spec struct {
	// URL is the target, http:// or https://.
	URL string `json:"url"`
	// RPS is the total planned rate in requests per second across all
	// connections; 0 means as fast as possible (fortio's -qps -1).
	RPS float64 `json:"rps"`
	// Connections is the number of concurrent connections, each a goroutine
	// with its own keep-alive connection (fortio's -c, the book's
	// "threads"). 0 means DefaultConnections.
	Connections int `json:"connections"`
	// Duration of the run. 0 means DefaultDuration.
	Duration time.Duration `json:"duration"`
	// Bursty turns off fortio's uniform spreading of connections. By
	// default (false) connections are evenly staggered over the request
	// interval (fortio's -uniform), so they do not fire in phase as bursts.
	// A separate Bursty field is used instead of Uniform so that the zero
	// value means the default; it only matters when RPS > 0.
	Bursty bool `json:"bursty,omitempty"`
	// Jitter adds ±10% random jitter to every sleep between requests
	// (fortio's -jitter); only when RPS > 0.
	Jitter bool `json:"jitter,omitempty"`
	// Resolution is the width of the smallest latency histogram bucket;
	// 0 means DefaultResolution (100µs). fortio's buckets grow from there
	// (1, 2, …, 10, 20, … resolution units) up to 100000 units.
	Resolution time.Duration `json:"resolution"`
	// Timeout is the per-request timeout; 0 means DefaultTimeout (3 s).
	Timeout time.Duration `json:"timeout"`
	// Seed is recorded with the result for repeatability. fortio's jitter
	// draws from math/rand's global source, which cannot be seeded per run,
	// so the seed has no effect on pacing yet.
	Seed int64 `json:"seed,omitempty"`
	// Tracing, when set with a tracer and a sample > 0, makes the load
	// generator start the traces of a sampled fraction of its requests
	// (trace.go); such a run uses fortio's standard HTTP client instead
	// of its fast client.
	Tracing *Tracing `json:"-"`
	// Progress, when set, is called about once a second from a separate
	// goroutine, and a last time with Done set before Run returns. It must
	// not block for long.
	Progress func(Progress) `json:"-"`
}

// Normalize returns a copy of s with defaults applied to zero fields.
func (s Spec) Normalize() Spec {
	if s.Connections <= 0 {
		s.Connections = DefaultConnections
	}
	if s.Duration <= 0 {
		s.Duration = DefaultDuration
	}
	if s.Resolution <= 0 {
		s.Resolution = DefaultResolution
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultTimeout
	}
	return s
}

// Validate reports every problem with s at once (after Normalize).
func (s Spec) Validate() error {
	var errs []error
	u, err := url.Parse(s.URL)
	switch {
	case s.URL == "":
		errs = append(errs, errors.New("load: empty URL"))
	case err != nil:
		errs = append(errs, fmt.Errorf("load: bad URL %q: %w", s.URL, err))
	case u.Scheme != "http" && u.Scheme != "https":
		errs = append(errs, fmt.Errorf("load: URL %q: scheme must be http or https", s.URL))
	case u.Host == "":
		errs = append(errs, fmt.Errorf("load: URL %q has no host", s.URL))
	}
	if s.RPS < 0 {
		errs = append(errs, fmt.Errorf("load: negative rate %g rps (use 0 for as fast as possible)", s.RPS))
	}
	return errors.Join(errs...)
}

// exactly is the exact number of calls for a paced run: RPS × Duration,
// rounded; 0 (no exact count) when running as fast as possible.
func (s Spec) exactly() int64 {
	if s.RPS <= 0 {
		return 0
	}
	return int64(math.Round(s.RPS * s.Duration.Seconds()))
}
