// Command tracebench measures what OpenTelemetry tracing costs one
// meshgym sidecar hop, side by side in one run: tracing off, on at the
// default sampling (10% of requests), and on at 100%.
//
//	go run ./bench/tracebench [-duration 10s] [-slice 1s] [-qps 1000] [-conns 16]
//	                          [-sample 0.1] [-modes fixed,max] [-json]
//
// Four paths are measured with fortio's library, first at a fixed rate,
// then at maximum throughput:
//
//	direct:    load → sample app
//	off:       load → meshgym-sidecar outbound listener → app; no OTLP endpoint (tracing off)
//	on-10%:    load → sidecar → app; the sidecar exports to an OTLP/HTTP collector,
//	           every request carries a W3C traceparent, 10% (-sample) with the sampled flag
//	on-100%:   the same with every request sampled
//
// Tracing is switched the way a run switches it: the sidecar exports when
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set in its environment (here: an
// in-process collector per path that counts spans and discards them) and
// records a request only when its traceparent is sampled — the load
// generator decides, parent-based sampling everywhere else
// (dataplane/tracing.go). The app is not traced: the numbers are the
// sidecar's. Every path uses fortio's standard HTTP client with the same
// per-request header hook (which adds traceparent only on the on-paths),
// so the client's own cost is alike everywhere.
//
// Every server is its own OS process (apps: this program re-executed with
// -serve app; sidecars: the real meshgym-sidecar executable). Latencies
// are fortio's, per request from its actual send time, percentiles exact
// over every sample (nearest rank). Each run of -duration is cut into
// rounds of -slice; a round measures one slice of every path, in an order
// that rotates, so the machine's drifts hit every path alike.
//
// The report gives each path's p50/p90/p99, throughput, the sidecar's CPU
// time per request and peak resident memory (Linux /proc), and the ratios
// on ÷ off: latency percentiles, latency added over direct (p90), max
// throughput and CPU per request. The spans the collectors received are
// checked against the sampled requests: an on-path whose sidecar exported
// nothing is reported as "tracing not active", not as a measurement.
package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fortio.org/fortio/periodic"
	"fortio.org/log"

	"meshgym/bench/internal/benchkit"
	"meshgym/sampleapps"
)

// DefaultSample is the fraction of requests the load generator samples in
// a run by default (meshgym run --trace-sample; issue 8).
const DefaultSample = 0.1

// resolution is fortio's histogram resolution, in seconds (10 µs).
const resolution = 0.00001

func main() {
	var (
		duration = flag.Duration("duration", 10*time.Second, "duration of each measured run (per path and mode)")
		slice    = flag.Duration("slice", time.Second, "length of one interleaved slice; a run is duration/slice rounds")
		modes    = flag.String("modes", "fixed,max", "modes to run, comma list of fixed and max")
		qps      = flag.Float64("qps", 1000, "fixed request rate of the latency runs, req/s")
		conns    = flag.Int("conns", 16, "connections (fortio threads)")
		sample   = flag.Float64("sample", DefaultSample, "fraction of requests sampled on the on-default path (0..1)")
		asJSON   = flag.Bool("json", false, "print machine-readable JSON instead of the table")
		sidecar  = flag.String("sidecar", "", "path of a prebuilt meshgym-sidecar (default: go build it)")
		serve    = flag.String("serve", "", "internal: run as the app child")
	)
	flag.Parse()
	if *serve != "" {
		os.Exit(serveApp())
	}
	if *sample <= 0 || *sample > 1 {
		fmt.Fprintf(os.Stderr, "tracebench: -sample %v: want a fraction in (0, 1]\n", *sample)
		os.Exit(2)
	}
	log.SetLogLevelQuiet(log.Error)
	rep, err := runBench(benchOpts{d: *duration, slice: *slice, qps: *qps, conns: *conns, sample: *sample,
		sidecarBin: *sidecar, modes: strings.Split(*modes, ",")})
	if err != nil {
		fmt.Fprintf(os.Stderr, "tracebench: %v\n", err)
		os.Exit(1)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
		return
	}
	printReport(os.Stdout, rep)
}

// path is one measured path.
type path struct {
	name   string
	url    string
	sample float64    // fraction sampled; < 0: no traceparent at all
	pid    int        // the sidecar's process (0 for direct)
	col    *collector // nil for direct and off
}

// Run is one path in one mode.
type Run struct {
	Path      string  `json:"path"`
	Mode      string  `json:"mode"` // "fixed" or "max"
	Sample    float64 `json:"sample"`
	PlanQPS   float64 `json:"planned_qps"`
	ActualQPS float64 `json:"actual_qps"`
	Count     int64   `json:"count"`
	Errors    int64   `json:"errors"`
	P50       float64 `json:"p50_seconds"`
	P90       float64 `json:"p90_seconds"`
	P99       float64 `json:"p99_seconds"`
	Max       float64 `json:"max_seconds"`
	// CPUPerReq is the sidecar's CPU time (all threads) per request, s.
	CPUPerReq float64 `json:"cpu_seconds_per_request,omitempty"`
	// Sampled counts the requests sent with a sampled traceparent
	// (fortio's one warm-up call per connection included, which Count
	// leaves out); Spans the spans the path's collector received
	// meanwhile.
	Sampled int64 `json:"sampled_requests"`
	Spans   int64 `json:"spans_received"`
}

// Ratio is on ÷ off for one on-path and one mode.
type Ratio struct {
	Path string `json:"path"`
	Mode string `json:"mode"`
	// Active is false when the sidecar exported no span although
	// requests were sampled: tracing was not on, the ratios measure
	// nothing and are left out.
	Active bool      `json:"tracing_active"`
	P50    jsonFloat `json:"p50,omitempty"`
	P90    jsonFloat `json:"p90,omitempty"`
	P99    jsonFloat `json:"p99,omitempty"`
	// AddedP90 is (on p90 − direct p90) ÷ (off p90 − direct p90): the
	// sidecar hop's own latency, with tracing ÷ without.
	AddedP90 jsonFloat `json:"added_p90,omitempty"`
	QPS      jsonFloat `json:"qps,omitempty"`
	CPU      jsonFloat `json:"cpu_per_request,omitempty"`
}

// Report is the whole result.
type Report struct {
	Duration    string     `json:"duration"`
	SliceLength string     `json:"slice_length"`
	Slices      int        `json:"slices_per_run"`
	Conns       int        `json:"connections"`
	FixedQPS    float64    `json:"fixed_qps"`
	Sample      float64    `json:"sample"`
	NumCPU      int        `json:"num_cpu"`
	LoadAvg     [2]float64 `json:"load_average"`
	Runs        []Run      `json:"runs"`
	Ratios      []Ratio    `json:"ratios"`
	// PeakRSSMB is each sidecar's peak resident memory (VmHWM), MB.
	PeakRSSMB map[string]float64 `json:"sidecar_peak_rss_mb,omitempty"`
	// Pending is set when no on-path's sidecar exported spans.
	Pending string `json:"pending,omitempty"`
}

type benchOpts struct {
	d, slice   time.Duration
	qps        float64
	conns      int
	sample     float64
	sidecarBin string
	modes      []string
}

func runBench(o benchOpts) (*Report, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "tracebench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin := o.sidecarBin
	if bin == "" {
		bin = filepath.Join(tmp, "meshgym-sidecar")
		b := exec.Command("go", "build", "-o", bin, "meshgym/cmd/meshgym-sidecar")
		b.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := b.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build meshgym-sidecar: %v\n%s", err, out)
		}
	}
	// One app per path, so no path's upstream connections disturb another's.
	specs := []struct {
		name   string
		sample float64
		traced bool
	}{
		{"direct", -1, false},
		{"off", -1, false},
		{fmt.Sprintf("on-%g%%", o.sample*100), o.sample, true},
		{"on-100%", 1, true},
	}
	if o.sample == 1 {
		specs = specs[:3]
	}
	var paths []path
	for _, s := range specs {
		app, err := benchkit.StartChild(nil, self, "-serve", "app")
		if err != nil {
			return nil, err
		}
		defer app.Stop()
		p := path{name: s.name, sample: s.sample, url: "http://" + app.Ready + "/"}
		if s.name != "direct" {
			var env []string
			if s.traced {
				col, err := startCollector()
				if err != nil {
					return nil, err
				}
				defer col.close()
				p.col = col
				env = []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=" + col.url}
			}
			sc, scURL, err := benchkit.StartSidecar(bin, app.Ready, env)
			if err != nil {
				return nil, err
			}
			defer sc.Stop()
			p.url, p.pid = scURL, sc.Cmd.Process.Pid
		}
		paths = append(paths, p)
	}

	rounds := max(1, int(o.d/o.slice))
	rep := &Report{Duration: o.d.String(), SliceLength: o.slice.String(), Slices: rounds, Conns: o.conns,
		FixedQPS: o.qps, Sample: o.sample, NumCPU: runtime.NumCPU()}
	rep.LoadAvg[0] = benchkit.LoadAvg()
	for _, mode := range o.modes {
		q, err := benchkit.ModeQPS(mode, o.qps)
		if err != nil {
			return nil, err
		}
		for _, p := range paths {
			if _, err := fortio(p, q, o.conns, 300*time.Millisecond, nil); err != nil {
				return nil, fmt.Errorf("warm up %s: %v", p.name, err)
			}
		}
		// The warm-up's spans arrive with the exporter's next batch
		// (every 500 ms): let them land before counting.
		time.Sleep(700 * time.Millisecond)
		acc := make([]*accum, len(paths))
		for i := range acc {
			acc[i] = &accum{}
		}
		for round := range rounds {
			for k := range paths {
				i := (k + round) % len(paths)
				p, a := paths[i], acc[i]
				cpu0 := readCPU(p.pid)
				spans0 := p.col.spanCount()
				sl := &accum{}
				r, err := fortio(p, q, o.conns, o.slice, sl)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %v", p.name, mode, err)
				}
				a.Lat = append(a.Lat, sl.Lat...)
				a.count += r.count
				a.errors += r.errors
				a.sampled += r.sampled
				a.elapsed += r.elapsed
				if cpu1 := readCPU(p.pid); cpu0 >= 0 && cpu1 >= 0 {
					a.cpu += cpu1 - cpu0
				}
				a.spansFrom = append(a.spansFrom, spans0)
			}
		}
		// Let the last batches arrive (the exporter sends every 500 ms).
		time.Sleep(1200 * time.Millisecond)
		for i, p := range paths {
			r := acc[i].run(p, mode, q)
			if p.col != nil {
				// The spans received during this mode: all since its first slice.
				r.Spans = p.col.spanCount() - acc[i].spansFrom[0]
			}
			rep.Runs = append(rep.Runs, r)
			fmt.Fprintf(os.Stderr, "tracebench: %-8s %-5s %8.0f qps  p50 %6.0fµs  p90 %6.0fµs  p99 %6.0fµs  cpu %5.1fµs/req  sampled %d  spans %d  errors %d\n",
				p.name, mode, r.ActualQPS, r.P50*1e6, r.P90*1e6, r.P99*1e6, r.CPUPerReq*1e6, r.Sampled, r.Spans, r.Errors)
		}
	}
	rep.LoadAvg[1] = benchkit.LoadAvg()
	rep.PeakRSSMB = map[string]float64{}
	for _, p := range paths {
		if mb := peakRSSMB(p.pid); mb > 0 {
			rep.PeakRSSMB[p.name] = mb
		}
	}
	rep.Ratios = ratios(rep.Runs)
	active := false
	for _, r := range rep.Ratios {
		active = active || r.Active
	}
	if len(rep.Ratios) > 0 && !active {
		rep.Pending = "the sidecar exported no spans although requests were sampled: this meshgym-sidecar does not trace yet (dataplane tracing pending); the on-paths measured tracing off"
	}
	return rep, nil
}

// ratios compares each on-path with off, per mode.
func ratios(runs []Run) []Ratio {
	get := func(path, mode string) (Run, bool) {
		for _, r := range runs {
			if r.Path == path && r.Mode == mode {
				return r, true
			}
		}
		return Run{}, false
	}
	var out []Ratio
	for _, on := range runs {
		if !strings.HasPrefix(on.Path, "on-") {
			continue
		}
		off, ok := get("off", on.Mode)
		if !ok {
			continue
		}
		direct, _ := get("direct", on.Mode)
		r := Ratio{Path: on.Path, Mode: on.Mode, Active: on.Sampled == 0 || on.Spans > 0}
		if r.Active {
			r.P50, r.P90, r.P99 = div(on.P50, off.P50), div(on.P90, off.P90), div(on.P99, off.P99)
			r.AddedP90 = div(on.P90-direct.P90, off.P90-direct.P90)
			r.QPS = div(on.ActualQPS, off.ActualQPS)
			r.CPU = div(on.CPUPerReq, off.CPUPerReq)
		}
		out = append(out, r)
	}
	return out
}

// div is a ÷ b; +Inf when b ≤ 0 (a base that measured nothing).
func div(a, b float64) jsonFloat {
	if b <= 0 {
		return jsonFloat(math.Inf(1))
	}
	return jsonFloat(a / b)
}

// collector is an OTLP/HTTP endpoint that counts the spans of each export
// request (protobuf or JSON) and discards them, answering 200 with an
// empty ExportTraceServiceResponse.
type collector struct {
	url   string
	srv   *http.Server
	spans atomic.Int64
	reqs  atomic.Int64
}

func startCollector() (*collector, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &collector{url: "http://" + ln.Addr().String() + "/v1/traces"}
	c.srv = &http.Server{Handler: c, ReadHeaderTimeout: 5 * time.Second}
	go c.srv.Serve(ln)
	return c, nil
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.reqs.Add(1)
	c.spans.Add(int64(countSpans(body, r.Header.Get("Content-Type"))))
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("{}"))
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

// countSpans counts the spans in an OTLP export body: in JSON, the
// "spanId" keys; in protobuf, approximately, the span records (the
// sidecar exports JSON, so this is only a fallback: any body counts ≥ 1).
func countSpans(body []byte, contentType string) int {
	if strings.HasPrefix(contentType, "application/json") {
		return bytes.Count(body, []byte(`"spanId"`))
	}
	if len(body) > 0 {
		return 1
	}
	return 0
}

// spanCount is the spans received so far (0 for a nil collector).
func (c *collector) spanCount() int64 {
	if c == nil {
		return 0
	}
	return c.spans.Load()
}

func (c *collector) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c.srv.Shutdown(ctx)
}

// traceparent is a W3C trace-context header
// (https://www.w3.org/TR/trace-context/#traceparent-header) with random
// IDs, sampled when rnd < sample.
func traceparent(r *rand.Rand, sample float64) (string, bool) {
	var id [24]byte
	for i := 0; i < 24; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			id[i+j] = byte(v >> (8 * j))
		}
	}
	id[0] |= 1 // never the all-zero (invalid) trace ID
	id[16] |= 1
	sampled := r.Float64() < sample
	flags := "00"
	if sampled {
		flags = "01"
	}
	return "00-" + hex.EncodeToString(id[:16]) + "-" + hex.EncodeToString(id[16:]) + "-" + flags, sampled
}

// tracingTransport adds a traceparent to every request (when sample ≥ 0)
// and counts the sampled ones.
type tracingTransport struct {
	base    http.RoundTripper
	sample  float64
	mu      sync.Mutex
	rnd     *rand.Rand
	sampled *atomic.Int64
}

func (t *tracingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// Cloned on every path (a RoundTripper must not change its request),
	// so the client's cost is the same with and without the header.
	req = req.Clone(req.Context())
	if t.sample >= 0 {
		t.mu.Lock()
		tp, sampled := traceparent(t.rnd, t.sample)
		t.mu.Unlock()
		if sampled {
			t.sampled.Add(1)
		}
		req.Header.Set("Traceparent", tp)
	}
	return t.base.RoundTrip(req)
}

// jsonFloat is a float64 whose infinities and NaN encode as JSON null.
type jsonFloat = benchkit.JSONFloat

// accum gathers per-request latencies (fortio's access-logger hook:
// measured from each request's actual start) and counts.
type accum struct {
	benchkit.Sampler
	count     int64
	errors    int64
	sampled   int64
	elapsed   time.Duration
	cpu       time.Duration
	spansFrom []int64
}

func (a *accum) Info() string { return "tracebench latency sampler" }

func (a *accum) run(p path, mode string, planned float64) Run {
	sort.Float64s(a.Lat)
	r := Run{Path: p.name, Mode: mode, Sample: max(p.sample, 0), PlanQPS: planned, Count: a.count, Errors: a.errors, Sampled: a.sampled}
	if a.elapsed > 0 {
		r.ActualQPS = float64(a.count) / a.elapsed.Seconds()
	}
	if n := len(a.Lat); n > 0 {
		r.P50, r.P90, r.P99, r.Max = benchkit.Quantile(a.Lat, 0.50), benchkit.Quantile(a.Lat, 0.90), benchkit.Quantile(a.Lat, 0.99), a.Lat[n-1]
	}
	if a.count > 0 && p.pid != 0 {
		r.CPUPerReq = a.cpu.Seconds() / float64(a.count)
	}
	return r
}

type sliceResult struct {
	count, errors, sampled int64
	elapsed                time.Duration
}

// fortio runs one load test on p with fortio's standard client (qps < 0:
// max speed); latencies go to acc when not nil.
func fortio(p path, qps float64, conns int, d time.Duration, acc *accum) (*sliceResult, error) {
	var logger periodic.AccessLogger
	if acc != nil {
		logger = acc
	}
	o := benchkit.FortioOptions(p.url, qps, conns, d, resolution, logger)
	// The standard client, for its Transport hook (the fast client sends
	// fixed headers); every path goes through the same hook.
	o.DisableFastClient = true
	var sampled atomic.Int64
	var seed uint64 = 1
	o.Transport = func(base http.RoundTripper) http.RoundTripper {
		seed++
		return &tracingTransport{base: base, sample: p.sample, rnd: rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano()))), sampled: &sampled}
	}
	count, errs, elapsed, err := benchkit.RunFortio(o)
	if err != nil {
		return nil, err
	}
	return &sliceResult{count: count, errors: errs, sampled: sampled.Load(), elapsed: elapsed}, nil
}

// readCPU is a process's CPU time so far over its threads (Linux
// /proc/PID/task/*/schedstat); -1 where it cannot be read, 0 for pid 0.
func readCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return -1
	}
	var total time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue
		}
		var onCPU int64
		if _, err := fmt.Sscan(string(b), &onCPU); err == nil {
			total += time.Duration(onCPU)
		}
	}
	return total
}

// peakRSSMB is a process's peak resident memory (VmHWM), in MB (10^6
// bytes); 0 where /proc is missing.
func peakRSSMB(pid int) float64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb float64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb * 1024 / 1e6
		}
	}
	return 0
}

func ratioText(f jsonFloat) string {
	if math.IsInf(float64(f), 0) || math.IsNaN(float64(f)) {
		return "—"
	}
	return fmt.Sprintf("%.2f×", float64(f))
}

func printReport(w io.Writer, rep *Report) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "meshgym tracing overhead: one sidecar hop, tracing off vs on (%g%% sampled, the default) vs on (100%%); %d connections, %s per run, fixed %.0f req/s then max throughput (%d CPUs, load average %.2f → %.2f)\n",
		rep.Sample*100, rep.Conns, rep.Duration, rep.FixedQPS, rep.NumCPU, rep.LoadAvg[0], rep.LoadAvg[1])
	fmt.Fprintf(&b, "latencies: fortio's standard client, from each request's actual send time, exact percentiles over every request; %d interleaved slices of %s per run\n",
		rep.Slices, rep.SliceLength)
	fmt.Fprintf(&b, "spans: received by the path's in-process OTLP collector (the sidecar's outbound span and one span per attempt: 2 per sampled request)\n\n")
	fmt.Fprintf(&b, "%-9s %-6s %9s %9s %9s %9s %9s %7s %9s %9s %9s\n", "path", "mode", "qps", "p50", "p90", "p99", "max", "errors", "cpu/req", "sampled", "spans")
	for _, r := range rep.Runs {
		cpu := ""
		if r.CPUPerReq > 0 {
			cpu = fmt.Sprintf("%.1fµs", r.CPUPerReq*1e6)
		}
		fmt.Fprintf(&b, "%-9s %-6s %9.0f %9s %9s %9s %9s %7d %9s %9d %9d\n", r.Path, r.Mode, r.ActualQPS, benchkit.US(r.P50), benchkit.US(r.P90), benchkit.US(r.P99), benchkit.US(r.Max), r.Errors, cpu, r.Sampled, r.Spans)
	}
	fmt.Fprintf(&b, "\non ÷ off (1.00× = no cost; latency and cpu lower is better, qps higher is better):\n")
	fmt.Fprintf(&b, "%-9s %-6s %8s %8s %8s %11s %8s %8s\n", "path", "mode", "p50", "p90", "p99", "added p90", "qps", "cpu/req")
	for _, r := range rep.Ratios {
		if !r.Active {
			fmt.Fprintf(&b, "%-9s %-6s tracing not active: the sidecar exported no spans (pending)\n", r.Path, r.Mode)
			continue
		}
		fmt.Fprintf(&b, "%-9s %-6s %8s %8s %8s %11s %8s %8s\n", r.Path, r.Mode, ratioText(r.P50), ratioText(r.P90), ratioText(r.P99),
			ratioText(r.AddedP90), ratioText(r.QPS), ratioText(r.CPU))
	}
	if len(rep.PeakRSSMB) > 0 {
		var names []string
		for n := range rep.PeakRSSMB {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(&b, "\nsidecar peak RSS:")
		for _, n := range names {
			fmt.Fprintf(&b, "  %s %.1f MB", n, rep.PeakRSSMB[n])
		}
		fmt.Fprintln(&b)
	}
	if rep.Pending != "" {
		fmt.Fprintf(&b, "\nPENDING: %s\n", rep.Pending)
	}
	if rep.LoadAvg[0] > float64(rep.NumCPU)/2 {
		fmt.Fprintf(&b, "note: the machine was busy before the bench started (load average %.2f, above half its CPUs); latencies are noisy\n", rep.LoadAvg[0])
	}
	w.Write(b.Bytes())
}

// serveApp runs the sample app until stdin closes.
func serveApp() int {
	srv, err := sampleapps.NewServer(sampleapps.Options{Name: "bench_app"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return benchkit.ServeChild("127.0.0.1:0", srv)
}
