// Package smp speaks the Service Mesh Performance (SMP) specification
// (https://smp-spec.io, github.com/service-mesh-performance/service-mesh-performance):
// it reads SMP performance test configurations — the files Meshery's
// `mesheryctl perf apply -f` takes — runs them with meshgym's fortio-based
// load generator, and writes SMP performance results, for such a test or
// for a meshgym run (one result per phase). It knows the SMP shapes, not
// how a scenario is deployed.
package smp

import (
	"encoding/json"
	"io"
	"sort"
	"strconv"
	"time"

	"meshgym/engine"
	"meshgym/internal/version"
	"meshgym/load"
	"meshgym/metrics"
	"meshgym/verdict"
)

// SpecVersion is the SMP version meshgym writes in smp_version.
const SpecVersion = "v0.0.1"

// Document is what meshgym writes as SMP: one PerformanceResult per
// measured phase of a run (before, after), or per client and endpoint of an
// SMP test.
type Document struct {
	// SMPVersion is the spec version of the results (SpecVersion).
	SMPVersion string `json:"smp_version"`
	// Generator names the program that wrote the document ("meshgym dev").
	Generator string `json:"generator"`
	// Source is what was run: the scenario's source ("builtin:retries") or
	// the SMP test file.
	Source string `json:"source,omitempty"`
	// Results are the performance results, in run order.
	Results []PerformanceResult `json:"results"`
}

// PerformanceResult is the SMP PerformanceTestResult message
// (protos/service_mesh_performance.proto: smp_version, id, labels,
// start_time, end_time, latencies_ms, actual_QPS …) with the fields
// Meshery's performance results add (duration, load generator, mesh), plus
// a meshgym block for what SMP has no field for. The spec names the rate
// actual_QPS; meshgym writes it actual_qps, the way Meshery's results are
// read.
type PerformanceResult struct {
	SMPVersion string `json:"smp_version"`
	// ID identifies the result: <run id>/<phase> for a meshgym run,
	// <test id or name>/<client>/<endpoint> for an SMP test.
	ID string `json:"id"`
	// Name is a human title ("retries, before (pattern off)").
	Name string `json:"name"`
	// Labels carry scenario, phase, pattern, seed, platform (runs) or the
	// test's own labels (SMP tests).
	Labels map[string]string `json:"labels,omitempty"`
	// StartTime and EndTime are when the load started and ended, in UTC.
	StartTime time.Time `json:"start_time"`
	EndTime   time.Time `json:"end_time"`
	// Duration is the measured time under load ("20.004s"); DurationS the
	// same in seconds.
	Duration  string  `json:"duration"`
	DurationS float64 `json:"duration_s"`
	// LatenciesMs is the client latency in milliseconds (SMP Latency:
	// min, average, p50, p90, p99, max).
	LatenciesMs Latencies `json:"latencies_ms"`
	// ActualQPS is the completed requests per second (SMP actual_QPS).
	ActualQPS float64 `json:"actual_qps"`
	// RequestedQPS is the planned rate; 0 = as fast as possible.
	RequestedQPS float64 `json:"requested_qps"`
	// Connections is the number of concurrent connections used.
	Connections int `json:"connections"`
	// EndpointURL is the URL that was loaded.
	EndpointURL string `json:"endpoint_url"`
	// LoadGenerator is the generator and its version.
	LoadGenerator Component `json:"load_generator"`
	// Mesh is the mesh under test: for a meshgym run the mesh plugin
	// ("builtin") with its semantics profile as version; for an SMP test
	// the file's mesh:, when given.
	Mesh *Component `json:"mesh,omitempty"`
	// Meshgym holds what SMP has no field for.
	Meshgym Extras `json:"meshgym"`
}

// Latencies is SMP's PerformanceTestResult.Latency, in milliseconds.
type Latencies struct {
	Min     float64 `json:"min"`     // fastest request (ms)
	Average float64 `json:"average"` // mean (ms)
	P50     float64 `json:"p50"`     // median (ms)
	P90     float64 `json:"p90"`     // 90th percentile (ms)
	P99     float64 `json:"p99"`     // 99th percentile (ms)
	Max     float64 `json:"max"`     // slowest request (ms)
}

// Component is a named piece of software with its version.
type Component struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// Extras are meshgym's measurements that SMP results have no field for.
type Extras struct {
	// Requests and Errors are the client's completed requests and those
	// outside 2xx (including socket errors).
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
	// StatusCodes counts the client's responses by HTTP status; "-1" counts
	// socket errors (no HTTP response), as fortio does.
	StatusCodes map[string]int64 `json:"status_codes"`
	// SocketErrorCause is set when every request of the run failed without
	// an HTTP response (the endpoint is unreachable): why one more GET, made
	// right after the run, failed, e.g. "connect: connection refused" or
	// "lookup nowhere.invalid: no such host" (fortio counts socket errors
	// but keeps no cause). SMP tests only.
	SocketErrorCause string `json:"socket_error_cause,omitempty"`
	// P999Ms is the 99.9th percentile latency (ms).
	P999Ms float64 `json:"p999_ms"`
	// FellBehind says the generator did not reach the requested rate.
	FellBehind       bool   `json:"fell_behind,omitempty"`
	FellBehindReason string `json:"fell_behind_reason,omitempty"`
	// Components are the CPU and memory of every component the run sampled
	// (meshgym runs only), sorted by name.
	Components []ComponentUsage `json:"components,omitempty"`
	// Verdicts summarise the run's conditions (meshgym runs, on the after
	// phase only, where the verdicts are decided).
	Verdicts *VerdictCounts `json:"verdicts,omitempty"`
}

// ComponentUsage is one component's resources over a phase, from the
// per-second process samples (metrics.Sampler).
type ComponentUsage struct {
	Name string `json:"name"`
	// CPUSeconds is the CPU time (user + system, s) the component used in
	// the phase: last sample − first (a restart counts from zero).
	CPUSeconds float64 `json:"cpu_seconds"`
	// MemoryMBMax is the highest resident memory sampled (MB of 2^20 bytes).
	MemoryMBMax float64 `json:"memory_mb_max"`
	// Samples is the number of samples.
	Samples int `json:"samples"`
}

// Unreachable reports whether every request failed without an HTTP
// response (socket errors only; at least one request made).
func (r PerformanceResult) Unreachable() bool {
	n := r.Meshgym.Requests
	return n > 0 && r.Meshgym.StatusCodes[strconv.Itoa(load.SocketErrorCode)] == n
}

// No2xx reports whether requests were answered but none with a 2xx
// status (some or all may also be socket errors): the endpoint is there
// but not serving this URL.
func (r PerformanceResult) No2xx() bool {
	if r.Meshgym.Requests == 0 || r.Unreachable() {
		return false
	}
	for k, n := range r.Meshgym.StatusCodes {
		if c, err := strconv.Atoi(k); err == nil && c >= 200 && c < 300 && n > 0 {
			return false
		}
	}
	return true
}

// VerdictCounts counts a run's verdicts.
type VerdictCounts struct {
	Passed bool `json:"passed"`
	Pass   int  `json:"pass"`
	Fail   int  `json:"fail"`
	Warn   int  `json:"warn"`
}

// Write writes doc as indented JSON.
func (doc *Document) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func generator() string { return "meshgym " + version.String() }

// FromResult converts a meshgym run into SMP results: one per phase that
// was measured (before, then after). A run that stopped before measuring
// gives a document without results.
func FromResult(res *engine.Result) *Document {
	doc := &Document{SMPVersion: SpecVersion, Generator: generator(), Source: res.Source, Results: []PerformanceResult{}}
	name := res.Source
	if res.Scenario != nil {
		name = res.Scenario.Name
	}
	for _, p := range []*engine.PhaseResult{res.Before, res.After} {
		if p == nil || p.Load == nil {
			continue
		}
		pr := fromLoad(p.Load, res.EntryURL, p.Started, p.Ended)
		id := res.ID
		if id == "" {
			id = name
		}
		pr.ID = id + "/" + p.Name
		what := "pattern " + p.Pattern
		if p.Pattern == "off" {
			what = "pattern off"
		}
		pr.Name = name + ", " + p.Name + " (" + what + ")"
		pr.Labels = map[string]string{"scenario": name, "phase": p.Name, "pattern": p.Pattern,
			"seed": strconv.FormatInt(res.Seed, 10), "platform": res.Platform}
		if res.Mesh != "" {
			pr.Mesh = &Component{Name: res.Mesh, Version: res.Profile}
		}
		pr.Meshgym.Components = usage(p.Snapshot)
		if p == res.After && len(res.Verdicts) > 0 {
			vc := &VerdictCounts{Passed: res.Passed}
			for _, v := range res.Verdicts {
				switch v.Status {
				case verdict.Pass:
					vc.Pass++
				case verdict.Fail:
					vc.Fail++
				case verdict.Warn:
					vc.Warn++
				}
			}
			pr.Meshgym.Verdicts = vc
		}
		doc.Results = append(doc.Results, pr)
	}
	return doc
}

// fromLoad converts one load generator run. started/ended are used when
// fortio's record has no start time.
func fromLoad(lr *load.Result, url string, started, ended time.Time) PerformanceResult {
	c := lr.Client
	pr := PerformanceResult{
		SMPVersion:   SpecVersion,
		DurationS:    c.DurationS,
		Duration:     (time.Duration(c.DurationS * float64(time.Second))).Round(time.Millisecond).String(),
		ActualQPS:    c.ActualRPS,
		RequestedQPS: c.PlannedRPS,
		Connections:  c.Connections,
		EndpointURL:  url,
		LatenciesMs: Latencies{Min: ms(c.MinS), Average: ms(c.MeanS), P50: ms(c.P50S), P90: ms(c.P90S),
			P99: ms(c.P99S), Max: ms(c.MaxS)},
		LoadGenerator: Component{Name: "fortio"},
		Meshgym: Extras{Requests: c.Count, Errors: c.Errors, StatusCodes: map[string]int64{}, P999Ms: ms(c.P999S),
			FellBehind: c.FellBehind, FellBehindReason: c.FellBehindReason},
	}
	for code, n := range c.StatusCodes {
		pr.Meshgym.StatusCodes[strconv.Itoa(code)] = n
	}
	if url == "" {
		pr.EndpointURL = lr.Spec.URL
	}
	if lr.Raw != nil {
		pr.LoadGenerator.Version = lr.Raw.Version
		if !lr.Raw.StartTime.IsZero() {
			started = lr.Raw.StartTime
			ended = started.Add(lr.Raw.ActualDuration)
		}
	}
	pr.StartTime, pr.EndTime = started.UTC(), ended.UTC()
	return pr
}

// ms converts seconds to milliseconds, rounded to the microsecond.
func ms(s float64) float64 {
	return float64(int64(s*1e6+0.5)) / 1e3
}

func usage(s *metrics.Snapshot) []ComponentUsage {
	if s == nil || len(s.Resources) == 0 {
		return nil
	}
	names := make([]string, 0, len(s.Resources))
	for n := range s.Resources {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []ComponentUsage
	for _, n := range names {
		ser := s.Resources[n]
		if ser == nil || len(ser.Samples) == 0 {
			continue
		}
		u := ComponentUsage{Name: n, Samples: len(ser.Samples)}
		for i, x := range ser.Samples {
			u.MemoryMBMax = max(u.MemoryMBMax, x.RSSMB)
			if i > 0 {
				d := x.CPUSeconds - ser.Samples[i-1].CPUSeconds
				if d < 0 {
					d = x.CPUSeconds // restarted
				}
				u.CPUSeconds += d
			}
		}
		u.CPUSeconds = float64(int64(u.CPUSeconds*1e6+0.5)) / 1e6
		out = append(out, u)
	}
	return out
}
