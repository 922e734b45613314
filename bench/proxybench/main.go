// Command proxybench measures what one meshgym sidecar hop costs, side by
// side with a straight call and with the stock httputil.ReverseProxy:
//
//	go run ./bench/proxybench [-duration 10s] [-slice 1s] [-qps 1000] [-conns 16] [-json]
//	                          [-compare OTHER-SIDECAR] [-modes fixed,max]
//
// Three paths are measured with fortio's library (fhttp + periodic), first
// at a fixed rate, then at maximum throughput:
//
//	direct:        load → sample app
//	reverseproxy:  load → httputil.ReverseProxy (default settings) → sample app
//	sidecar:       load → meshgym-sidecar outbound listener → sample app
//
// Every server is its own OS process (the app and the ReverseProxy are this
// program re-executed with the hidden -serve flag; the sidecar is the real
// meshgym-sidecar executable, metrics on), so no two share a GC. Latencies
// are fortio's: timed from each request's actual send time, every sample
// kept (its histogram resolution is 10 µs).
//
// Each run of -duration is cut into rounds of -slice: a round measures one
// slice of every path, in an order that rotates from round to round, so
// the machine's drifts and bursts hit all paths alike. The verdicts compare
// the sidecar with the ReverseProxy: added p90 latency over direct at the
// fixed rate (target ≤ 0.5×; the value is the median over rounds of each
// round's ratio, the ratio of the pooled percentiles is printed next to
// it), max throughput (target ≥ 1.0×) and the sidecar's peak resident
// memory (target < 20 MB). For each proxy the report also gives the
// process's CPU time and context switches per request (Linux /proc), and
// the machine's load average, since a busy machine makes latencies noisy.
// -compare runs a second sidecar executable as a fourth path (sidecar-b,
// its own app) for before/after comparisons within one run.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"fortio.org/fortio/periodic"
	"fortio.org/log"
	"github.com/shirou/gopsutil/v4/process"

	"meshgym/bench/internal/benchkit"
	"meshgym/sampleapps"
)

// Targets of the verdicts.
const (
	targetAddedP90Ratio = 0.5  // sidecar added p90 ÷ ReverseProxy added p90, at most
	targetMaxQPSRatio   = 1.0  // sidecar max qps ÷ ReverseProxy max qps, at least
	targetRSSMB         = 20.0 // sidecar peak RSS in MB (10^6 bytes), below
	resolution          = 0.00001
)

func main() {
	var (
		duration = flag.Duration("duration", 10*time.Second, "duration of each measured run (per path and mode)")
		slice    = flag.Duration("slice", time.Second, "length of one interleaved slice; a run is duration/slice rounds")
		modes    = flag.String("modes", "fixed,max", "modes to run, comma list of fixed and max (diagnostics; verdicts need both)")
		qps      = flag.Float64("qps", 1000, "fixed request rate of the latency runs, req/s")
		conns    = flag.Int("conns", 16, "connections (fortio threads)")
		asJSON   = flag.Bool("json", false, "print machine-readable JSON instead of the table")
		sidecar  = flag.String("sidecar", "", "path of a prebuilt meshgym-sidecar (default: go build it)")
		compare  = flag.String("compare", "", "path of a second meshgym-sidecar measured alongside as path sidecar-b (no verdict)")
		strict   = flag.Bool("strict", false, "exit 1 when a verdict fails")
		serve    = flag.String("serve", "", "internal: run as the app or reverseproxy child")
		listen   = flag.String("listen", "127.0.0.1:0", "internal: child listen address")
		target   = flag.String("target", "", "internal: reverseproxy target host:port")
	)
	flag.Parse()
	if *serve != "" {
		os.Exit(serveChild(*serve, *listen, *target))
	}
	log.SetLogLevelQuiet(log.Error)
	rep, err := runBench(benchOpts{d: *duration, slice: *slice, qps: *qps, conns: *conns, sidecarBin: *sidecar, compareBin: *compare,
		modes: strings.Split(*modes, ",")})
	if err != nil {
		fmt.Fprintf(os.Stderr, "proxybench: %v\n", err)
		os.Exit(1)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printReport(os.Stdout, rep)
	}
	if *strict && !rep.AllPass {
		os.Exit(1)
	}
}

// Run is one fortio run on one path.
type Run struct {
	Path      string  `json:"path"`
	Mode      string  `json:"mode"` // "fixed" or "max"
	PlanQPS   float64 `json:"planned_qps"`
	ActualQPS float64 `json:"actual_qps"`
	Count     int64   `json:"count"`
	Errors    int64   `json:"errors"`
	P50       float64 `json:"p50_seconds"`
	P90       float64 `json:"p90_seconds"`
	P99       float64 `json:"p99_seconds"`
	Max       float64 `json:"max_seconds"`
	Avg       float64 `json:"avg_seconds"`
	// CPUPerReq is the proxy process's CPU time (user + system, all
	// threads) per request during the path's slices, in seconds; 0 for
	// direct or where /proc is missing.
	CPUPerReq float64 `json:"cpu_seconds_per_request,omitempty"`
	// SwitchesPerReq is the proxy process's context switches (voluntary
	// and not, all threads) per request during the path's slices.
	SwitchesPerReq float64 `json:"context_switches_per_request,omitempty"`
}

// Verdict is one target check.
type Verdict struct {
	Name   string    `json:"name"`
	Value  jsonFloat `json:"value"`
	Target string    `json:"target"`
	Pass   bool      `json:"pass"`
}

// Report is the whole result.
type Report struct {
	Duration    string  `json:"duration"`
	Conns       int     `json:"connections"`
	FixedQPS    float64 `json:"fixed_qps"`
	GOMAXPROCS  int     `json:"gomaxprocs"`
	NumCPU      int     `json:"num_cpu"`
	LatencyFrom string  `json:"latency_from"`
	Resolution  float64 `json:"histogram_resolution_seconds"`
	Slices      int     `json:"slices_per_run"`
	SliceLength string  `json:"slice_length"`
	// LoadAvg is the machine's 1-minute load average before and after
	// the measurement (0 where /proc/loadavg is missing).
	LoadAvg  [2]float64 `json:"load_average"`
	Runs     []Run      `json:"runs"`
	AddedP50 [2]float64 `json:"added_p50_seconds"` // reverseproxy, sidecar
	AddedP90 [2]float64 `json:"added_p90_seconds"`
	AddedP99 [2]float64 `json:"added_p99_seconds"`
	// RoundRatios are the added-p90 ratios (sidecar ÷ reverseproxy) of
	// each round of the fixed-rate run, from that round's slices alone.
	RoundRatios []jsonFloat `json:"round_added_p90_ratios"`
	// MedianRoundRatio is the median of RoundRatios: the verdict's value.
	MedianRoundRatio jsonFloat `json:"median_round_added_p90_ratio"`
	// PooledRatio is the same ratio from percentiles over every sample.
	PooledRatio jsonFloat `json:"pooled_added_p90_ratio"`
	// RoundP90 is, per path, the p90 of each round's slice of the
	// fixed-rate run, in seconds (for paired comparisons).
	RoundP90 map[string][]float64 `json:"round_p90_seconds"`
	// The same three for the -compare sidecar (path "sidecar-b"), if any.
	RoundRatiosB      []jsonFloat `json:"round_added_p90_ratios_b,omitempty"`
	MedianRoundRatioB jsonFloat   `json:"median_round_added_p90_ratio_b,omitempty"`
	PooledRatioB      jsonFloat   `json:"pooled_added_p90_ratio_b,omitempty"`
	SidecarRSS        float64     `json:"sidecar_rss_max_mb"`
	Verdicts          []Verdict   `json:"verdicts"`
	AllPass           bool        `json:"all_pass"`
}

// benchOpts are the measurement's settings (the flags).
type benchOpts struct {
	d, slice   time.Duration
	qps        float64
	conns      int
	sidecarBin string
	compareBin string // optional second sidecar executable (path "sidecar-b")
	modes      []string
}

func runBench(o benchOpts) (*Report, error) {
	sidecarBin := o.sidecarBin
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "proxybench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if sidecarBin == "" {
		sidecarBin = filepath.Join(tmp, "meshgym-sidecar")
		// Built as the lean images ship it: static, no cgo (no libc mapped).
		b := exec.Command("go", "build", "-o", sidecarBin, "meshgym/cmd/meshgym-sidecar")
		b.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := b.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build meshgym-sidecar: %v\n%s", err, out)
		}
	}
	// One app process per path, so no path's connections (the stock
	// ReverseProxy keeps only 2 idle upstream connections and churns the
	// rest) disturb another path's upstream.
	apps := make([]*benchkit.Child, 3, 4)
	if o.compareBin != "" {
		apps = apps[:4]
	}
	for i := range apps {
		if apps[i], err = benchkit.StartChild(nil, self, "-serve", "app"); err != nil {
			return nil, err
		}
		defer apps[i].Stop()
	}
	app := apps[0]
	rp, err := benchkit.StartChild(nil, self, "-serve", "reverseproxy", "-target", apps[1].Ready)
	if err != nil {
		return nil, err
	}
	defer rp.Stop()
	sc, scURL, err := benchkit.StartSidecar(sidecarBin, apps[2].Ready, nil)
	if err != nil {
		return nil, err
	}
	defer sc.Stop()
	// Sample the sidecar's RSS all along.
	proc, err := process.NewProcess(int32(sc.Cmd.Process.Pid))
	if err != nil {
		return nil, err
	}
	var rssMu sync.Mutex
	var rssMax uint64
	stopRSS := make(chan struct{})
	rssDone := make(chan struct{})
	go func() {
		defer close(rssDone)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			if mi, err := proc.MemoryInfo(); err == nil {
				rssMu.Lock()
				rssMax = max(rssMax, mi.RSS)
				rssMu.Unlock()
			}
			select {
			case <-stopRSS:
				return
			case <-t.C:
			}
		}
	}()

	paths := []struct {
		name, url string
		pid       int // the proxy's process (0 for direct)
	}{
		{"direct", "http://" + app.Ready + "/", 0},
		{"reverseproxy", "http://" + rp.Ready + "/", rp.Cmd.Process.Pid},
		{"sidecar", scURL, sc.Cmd.Process.Pid},
	}
	if o.compareBin != "" {
		// A second sidecar executable measured like the first (its own
		// app), for before/after comparisons on a noisy machine; no
		// verdict uses it.
		sb, sbURL, err := benchkit.StartSidecar(o.compareBin, apps[3].Ready, nil)
		if err != nil {
			return nil, err
		}
		defer sb.Stop()
		paths = append(paths, struct {
			name, url string
			pid       int
		}{"sidecar-b", sbURL, sb.Cmd.Process.Pid})
	}
	rounds := max(1, int(o.d/o.slice))
	rep := &Report{Duration: o.d.String(), Conns: o.conns, FixedQPS: o.qps, GOMAXPROCS: runtime.GOMAXPROCS(0),
		NumCPU: runtime.NumCPU(), LatencyFrom: "actual-send-time", Resolution: resolution, Slices: rounds,
		SliceLength: o.slice.String()}
	rep.LoadAvg[0] = benchkit.LoadAvg()
	// Each path's run is cut into slices interleaved with the other
	// paths' (rotating the order), so slow drifts of the machine hit all
	// paths alike; pooled percentiles are computed over all samples of a
	// path, and each round (one slice of every path) also gets its own
	// ratio.
	for _, mode := range o.modes {
		q, err := benchkit.ModeQPS(mode, o.qps)
		if err != nil {
			return nil, err
		}
		// Warm up every path at this mode's rate: open the connections,
		// let each process settle.
		for _, p := range paths {
			if _, err := fortio(p.url, q, o.conns, 500*time.Millisecond, nil); err != nil {
				return nil, fmt.Errorf("warm up %s: %v", p.name, err)
			}
		}
		acc := make([]*accum, len(paths))
		for i := range acc {
			acc[i] = &accum{}
		}
		var roundP90 [][]float64 // per round: p90 of each path
		for round := range rounds {
			p90 := make([]float64, len(paths))
			for k := range paths {
				i := (k + round) % len(paths)
				cpu0 := readProcStat(paths[i].pid)
				sl := &accum{}
				r, err := fortio(paths[i].url, q, o.conns, o.slice, sl)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %v", paths[i].name, mode, err)
				}
				cpu1 := readProcStat(paths[i].pid)
				sort.Float64s(sl.Lat)
				if len(sl.Lat) > 0 {
					p90[i] = benchkit.Quantile(sl.Lat, 0.90)
				}
				a := acc[i]
				a.Lat = append(a.Lat, sl.Lat...)
				a.count += r.count
				a.errors += r.errors
				a.elapsed += r.elapsed
				if cpu0.ok && cpu1.ok {
					a.cpu += cpu1.cpu - cpu0.cpu
					a.switches += cpu1.switches - cpu0.switches
					a.statOK = true
				}
			}
			roundP90 = append(roundP90, p90)
		}
		for i, p := range paths {
			r := acc[i].run(p.name, mode, q)
			rep.Runs = append(rep.Runs, r)
			fmt.Fprintf(os.Stderr, "proxybench: %-12s %-5s %8.0f qps  p50 %6.0fµs  p90 %6.0fµs  p99 %6.0fµs  cpu %5.1fµs/req  errors %d\n",
				p.name, mode, r.ActualQPS, r.P50*1e6, r.P90*1e6, r.P99*1e6, r.CPUPerReq*1e6, r.Errors)
		}
		if mode == "fixed" {
			rep.RoundP90 = map[string][]float64{}
			for i, p := range paths {
				for _, r := range roundP90 {
					rep.RoundP90[p.name] = append(rep.RoundP90[p.name], r[i])
				}
			}
			for _, p := range roundP90 {
				rep.RoundRatios = append(rep.RoundRatios, jsonFloat(addedRatio(p[2]-p[0], p[1]-p[0])))
				if len(p) > 3 {
					rep.RoundRatiosB = append(rep.RoundRatiosB, jsonFloat(addedRatio(p[3]-p[0], p[1]-p[0])))
				}
			}
		}
	}
	close(stopRSS)
	<-rssDone
	rep.SidecarRSS = float64(rssMax) / 1e6
	rep.LoadAvg[1] = benchkit.LoadAvg()

	get := func(path, mode string) Run {
		for _, r := range rep.Runs {
			if r.Path == path && r.Mode == mode {
				return r
			}
		}
		return Run{}
	}
	direct, rpf, scf := get("direct", "fixed"), get("reverseproxy", "fixed"), get("sidecar", "fixed")
	rep.AddedP50 = [2]float64{rpf.P50 - direct.P50, scf.P50 - direct.P50}
	rep.AddedP90 = [2]float64{rpf.P90 - direct.P90, scf.P90 - direct.P90}
	rep.AddedP99 = [2]float64{rpf.P99 - direct.P99, scf.P99 - direct.P99}
	rep.PooledRatio = jsonFloat(addedRatio(rep.AddedP90[1], rep.AddedP90[0]))
	rep.MedianRoundRatio = jsonFloat(median(rep.RoundRatios))
	if len(rep.RoundRatiosB) > 0 {
		sbf := get("sidecar-b", "fixed")
		rep.PooledRatioB = jsonFloat(addedRatio(sbf.P90-direct.P90, rep.AddedP90[0]))
		rep.MedianRoundRatioB = jsonFloat(median(rep.RoundRatiosB))
	}
	latRatio := rep.MedianRoundRatio
	qpsRatio := jsonFloat(get("sidecar", "max").ActualQPS / get("reverseproxy", "max").ActualQPS)
	rep.Verdicts = []Verdict{
		{Name: "sidecar added p90 ÷ reverseproxy added p90", Value: latRatio, Target: fmt.Sprintf("≤ %.1f", targetAddedP90Ratio),
			Pass: latRatio >= 0 && latRatio <= targetAddedP90Ratio},
		{Name: "sidecar max qps ÷ reverseproxy max qps", Value: qpsRatio, Target: fmt.Sprintf("≥ %.1f", targetMaxQPSRatio),
			Pass: qpsRatio >= targetMaxQPSRatio},
		{Name: "sidecar peak RSS (MB)", Value: jsonFloat(rep.SidecarRSS), Target: fmt.Sprintf("< %.0f", targetRSSMB),
			Pass: rep.SidecarRSS > 0 && rep.SidecarRSS < targetRSSMB},
	}
	rep.AllPass = true
	for _, v := range rep.Verdicts {
		rep.AllPass = rep.AllPass && v.Pass
	}
	return rep, nil
}

// addedRatio is sidecar added ÷ reverseproxy added; a reverseproxy that
// added nothing (or less than nothing: noise) makes the ratio +Inf, which
// counts against the sidecar.
func addedRatio(sidecar, reverseproxy float64) float64 {
	if reverseproxy <= 0 {
		return math.Inf(1)
	}
	return sidecar / reverseproxy
}

// median of v (+Inf entries included: an even count whose upper middle
// is +Inf has median +Inf); NaN when v is empty.
func median(v []jsonFloat) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := make([]float64, len(v))
	for i, x := range v {
		s[i] = float64(x)
	}
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 || math.IsInf(s[n/2], 1) {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// jsonFloat is a float64 whose infinities and NaN encode as JSON null.
type jsonFloat = benchkit.JSONFloat

// accum gathers the per-request latencies fortio reports (its access
// logger hook: measured from each request's actual start) over slices.
type accum struct {
	benchkit.Sampler
	count    int64
	errors   int64
	elapsed  time.Duration
	cpu      time.Duration // proxy process CPU during the slices
	switches int64         // proxy process context switches during the slices
	statOK   bool
}

func (a *accum) Info() string { return "proxybench latency sampler" }

func (a *accum) run(path, mode string, planned float64) Run {
	sort.Float64s(a.Lat)
	r := Run{Path: path, Mode: mode, PlanQPS: planned, Count: a.count, Errors: a.errors}
	if a.elapsed > 0 {
		r.ActualQPS = float64(a.count) / a.elapsed.Seconds()
	}
	if n := len(a.Lat); n > 0 {
		r.P50, r.P90, r.P99, r.Max = benchkit.Quantile(a.Lat, 0.50), benchkit.Quantile(a.Lat, 0.90), benchkit.Quantile(a.Lat, 0.99), a.Lat[n-1]
		sum := 0.0
		for _, v := range a.Lat {
			sum += v
		}
		r.Avg = sum / float64(n)
	}
	if a.statOK && a.count > 0 {
		r.CPUPerReq = a.cpu.Seconds() / float64(a.count)
		r.SwitchesPerReq = float64(a.switches) / float64(a.count)
	}
	return r
}

// procStat is a process's CPU time and context switches so far, summed
// over its threads (Linux /proc/PID/task/*/schedstat and status).
type procStat struct {
	cpu      time.Duration
	switches int64
	ok       bool
}

func readProcStat(pid int) procStat {
	if pid == 0 {
		return procStat{}
	}
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return procStat{}
	}
	var st procStat
	for _, t := range tasks {
		// schedstat: time on CPU (ns), time waiting to run (ns), slices.
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue
		}
		var onCPU, wait, n int64
		if _, err := fmt.Sscan(string(b), &onCPU, &wait, &n); err != nil {
			continue
		}
		st.cpu += time.Duration(onCPU)
		st.ok = true
		b, err = os.ReadFile(filepath.Join(dir, t.Name(), "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				st.switches += atoi(v)
			} else if v, ok := strings.CutPrefix(line, "nonvoluntary_ctxt_switches:"); ok {
				st.switches += atoi(v)
			}
		}
	}
	return st
}

func atoi(s string) int64 {
	var n int64
	fmt.Sscan(strings.TrimSpace(s), &n)
	return n
}

type sliceResult struct {
	count, errors int64
	elapsed       time.Duration
}

// fortio runs one load test with fortio's library; qps < 0 is max speed.
// Latencies go to acc when it is not nil.
func fortio(url string, qps float64, conns int, d time.Duration, acc *accum) (*sliceResult, error) {
	var logger periodic.AccessLogger
	if acc != nil {
		logger = acc
	}
	count, errs, elapsed, err := benchkit.RunFortio(benchkit.FortioOptions(url, qps, conns, d, resolution, logger))
	if err != nil {
		return nil, err
	}
	return &sliceResult{count: count, errors: errs, elapsed: elapsed}, nil
}

func sus(s float64) string { return fmt.Sprintf("%+.0fµs", s*1e6) }

func printReport(w io.Writer, rep *Report) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "meshgym proxy benchmark: %d connections, %s per run, fixed %.0f req/s then max throughput (GOMAXPROCS %d, %d CPUs, load average %.2f → %.2f)\n",
		rep.Conns, rep.Duration, rep.FixedQPS, rep.GOMAXPROCS, rep.NumCPU, rep.LoadAvg[0], rep.LoadAvg[1])
	fmt.Fprintf(&b, "latencies are measured by fortio from each request's actual send time (not its intended start); percentiles are exact over\n")
	fmt.Fprintf(&b, "every request (fortio's per-request hook; its histogram resolution is set to %gµs); each run is %d interleaved slices of %s\n",
		rep.Resolution*1e6, rep.Slices, rep.SliceLength)
	fmt.Fprintf(&b, "cpu/req and switches/req: the proxy process's CPU time and context switches (all threads) during its slices, per request\n\n")
	fmt.Fprintf(&b, "%-13s %-6s %9s %9s %9s %9s %9s %8s %9s %9s\n", "path", "mode", "qps", "p50", "p90", "p99", "max", "errors", "cpu/req", "sw/req")
	for _, r := range rep.Runs {
		cpu, sw := "", ""
		if r.CPUPerReq > 0 {
			cpu, sw = fmt.Sprintf("%.1fµs", r.CPUPerReq*1e6), fmt.Sprintf("%.2f", r.SwitchesPerReq)
		}
		fmt.Fprintf(&b, "%-13s %-6s %9.0f %9s %9s %9s %9s %8d %9s %9s\n", r.Path, r.Mode, r.ActualQPS, benchkit.US(r.P50), benchkit.US(r.P90), benchkit.US(r.P99), benchkit.US(r.Max), r.Errors, cpu, sw)
	}
	fmt.Fprintf(&b, "\nadded over direct at %.0f req/s (difference of percentiles over all samples):\n", rep.FixedQPS)
	fmt.Fprintf(&b, "  reverseproxy  p50 %8s  p90 %8s  p99 %8s\n", sus(rep.AddedP50[0]), sus(rep.AddedP90[0]), sus(rep.AddedP99[0]))
	fmt.Fprintf(&b, "  sidecar       p50 %8s  p90 %8s  p99 %8s\n", sus(rep.AddedP50[1]), sus(rep.AddedP90[1]), sus(rep.AddedP99[1]))
	fmt.Fprintf(&b, "added p90 ratio (sidecar ÷ reverseproxy): pooled %.2f; per round", rep.PooledRatio)
	for _, r := range rep.RoundRatios {
		fmt.Fprintf(&b, " %.2f", r)
	}
	fmt.Fprintf(&b, "; median %.2f\n", rep.MedianRoundRatio)
	if len(rep.RoundRatiosB) > 0 {
		fmt.Fprintf(&b, "sidecar-b (-compare) ratio: pooled %.2f; per round", rep.PooledRatioB)
		for _, r := range rep.RoundRatiosB {
			fmt.Fprintf(&b, " %.2f", r)
		}
		fmt.Fprintf(&b, "; median %.2f\n", rep.MedianRoundRatioB)
	}
	fmt.Fprintln(&b)
	for _, v := range rep.Verdicts {
		verdict := "FAIL"
		if v.Pass {
			verdict = "PASS"
		}
		fmt.Fprintf(&b, "%-4s %-45s %8.2f  (target %s)\n", verdict, v.Name, float64(v.Value), v.Target)
	}
	// The bench itself loads the machine (load, proxies, app: the
	// after value counts them), so only the load found at the start says
	// whether something else was running.
	if rep.LoadAvg[0] > float64(rep.NumCPU)/2 {
		fmt.Fprintf(&b, "note: the machine was busy before the bench started (load average %.2f, above half its CPUs); latencies are noisy\n", rep.LoadAvg[0])
	}
	w.Write(b.Bytes())
}

// serveChild runs the app or the ReverseProxy until stdin closes.
func serveChild(kind, addr, target string) int {
	var h http.Handler
	switch kind {
	case "app":
		srv, err := sampleapps.NewServer(sampleapps.Options{Name: "bench_app"})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		h = srv
	case "reverseproxy":
		h = httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: target})
	default:
		fmt.Fprintf(os.Stderr, "unknown -serve %q\n", kind)
		return 2
	}
	return benchkit.ServeChild(addr, h)
}
