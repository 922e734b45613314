package metrics

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/process"
)

// BytesPerMB is the size of the megabyte used for memory: 1 MB = 2^20
// bytes (MiB), as top, docker stats and kubectl report memory.
const BytesPerMB = 1 << 20

// ResourceSample is one reading of a component: CPUSeconds is its
// cumulative CPU time (user + system, s) since it started, RSSMB its
// resident memory (MB of 2^20 bytes) at T.
type ResourceSample struct {
	T          time.Time `json:"t"`           // tick time, shared by all components sampled at that tick
	CPUSeconds float64   `json:"cpu_seconds"` // cumulative user+system CPU (s)
	RSSMB      float64   `json:"rss_mb"`      // resident set size (MB of 2^20 bytes)
}

// ResourceSeries is a component's samples over a phase, about one a second.
// Gone is set (with GoneAt) when the process exited; sampling it stops.
// Err is the last error that was neither success nor gone, and Errors how
// many reads failed that way.
type ResourceSeries struct {
	Samples []ResourceSample `json:"samples"`          // in time order
	Gone    bool             `json:"gone,omitempty"`   // the process exited
	GoneAt  time.Time        `json:"gone_at,omitzero"` // first tick it was found gone
	Err     string           `json:"error,omitempty"`  // last read error other than gone
	Errors  int              `json:"errors,omitempty"` // failed reads other than gone
}

// ErrGone is returned (wrapped) by a Probe whose process or container has
// exited; the Sampler then records the component as gone.
var ErrGone = errors.New("metrics: component is gone")

// Probe reads one component's cumulative CPU seconds and resident memory in
// MB. Platforms without processes (containers, pods) provide their own.
type Probe func(ctx context.Context) (cpuSeconds, rssMB float64, err error)

// ProcessProbe reads a local process with gopsutil. A process that no
// longer exists, or is a zombie, reports ErrGone.
func ProcessProbe(pid int32) Probe {
	var p *process.Process
	return func(ctx context.Context) (float64, float64, error) {
		if p == nil {
			np, err := process.NewProcessWithContext(ctx, pid)
			if err != nil {
				if errors.Is(err, process.ErrorProcessNotRunning) {
					return 0, 0, errors.Join(ErrGone, err)
				}
				return 0, 0, err
			}
			p = np
		}
		t, err := p.TimesWithContext(ctx)
		if err == nil {
			var m *process.MemoryInfoStat
			if m, err = p.MemoryInfoWithContext(ctx); err == nil {
				if m.RSS == 0 && isZombie(ctx, p) {
					return 0, 0, ErrGone
				}
				return t.User + t.System, float64(m.RSS) / BytesPerMB, nil
			}
		}
		if running, rerr := p.IsRunningWithContext(ctx); rerr == nil && !running {
			return 0, 0, errors.Join(ErrGone, err)
		}
		return 0, 0, err
	}
}

func isZombie(ctx context.Context, p *process.Process) bool {
	st, err := p.StatusWithContext(ctx)
	return err == nil && slices.Contains(st, process.Zombie)
}

// Sampler samples components every interval (default 1 s) from Start until
// Stop. All components are read at the same tick and share its timestamp,
// so series of several components line up by T.
type Sampler struct {
	every  time.Duration
	probes map[string]Probe

	mu     sync.Mutex
	series map[string]*ResourceSeries
	cancel context.CancelFunc
	done   chan struct{}
}

// NewSampler samples the given processes (component name → PID) every
// interval; every ≤ 0 means one second.
func NewSampler(pids map[string]int32, every time.Duration) *Sampler {
	if every <= 0 {
		every = time.Second
	}
	s := &Sampler{every: every, probes: map[string]Probe{}, series: map[string]*ResourceSeries{}}
	for name, pid := range pids {
		s.probes[name] = ProcessProbe(pid)
	}
	return s
}

// AddProbe adds a component read by a custom probe (a container, a pod).
// Call it before Start.
func (s *Sampler) AddProbe(name string, p Probe) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.probes[name] = p
}

// Start takes a first sample at once and then one every interval until Stop
// or ctx ends. Start on a started Sampler does nothing.
func (s *Sampler) Start(ctx context.Context) {
	s.mu.Lock()
	if s.done != nil {
		s.mu.Unlock()
		return
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	for name := range s.probes {
		s.series[name] = &ResourceSeries{}
	}
	s.mu.Unlock()
	s.sample(ctx)
	go tickEvery(ctx, s.every, s.done, func() { s.sample(ctx) })
}

// Stop ends sampling after a last sample, and returns the series.
func (s *Sampler) Stop() map[string]*ResourceSeries {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
		s.sample(context.Background())
	}
	return s.Series()
}

// Series returns a copy of the samples so far, by component.
func (s *Sampler) Series() map[string]*ResourceSeries {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]*ResourceSeries, len(s.series))
	for k, v := range s.series {
		c := *v
		c.Samples = slices.Clone(v.Samples)
		out[k] = &c
	}
	return out
}

func (s *Sampler) sample(ctx context.Context) {
	now := time.Now()
	type reading struct {
		cpu, rss float64
		err      error
	}
	s.mu.Lock()
	todo := map[string]Probe{}
	for name, p := range s.probes {
		if !s.series[name].Gone {
			todo[name] = p
		}
	}
	s.mu.Unlock()
	got := make(map[string]reading, len(todo))
	for name, p := range todo {
		rctx, cancel := context.WithTimeout(ctx, s.every)
		cpu, rss, err := p(rctx)
		cancel()
		got[name] = reading{cpu, rss, err}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, r := range got {
		ser := s.series[name]
		switch {
		case r.err == nil:
			ser.Samples = append(ser.Samples, ResourceSample{T: now, CPUSeconds: r.cpu, RSSMB: r.rss})
		case errors.Is(r.err, ErrGone):
			ser.Gone, ser.GoneAt = true, now
		case ctx.Err() != nil:
			// stopping: not an error of the component
		default:
			ser.Err = r.err.Error()
			ser.Errors++
		}
	}
}
