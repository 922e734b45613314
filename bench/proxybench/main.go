// Command proxybench measures what one meshgym sidecar hop costs, side by
// side with a straight call and with the stock httputil.ReverseProxy:
//
//	go run ./bench/proxybench [-duration 10s] [-qps 1000] [-conns 16] [-json]
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
// are fortio's: timed from each request's actual send time, in a histogram
// of 10 µs resolution. The verdicts compare the sidecar with the
// ReverseProxy: added p90 latency over direct at the fixed rate (target
// ≤ 0.5×), max throughput (target ≥ 1.0×) and the sidecar's peak resident
// memory (target < 20 MB).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
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

	"fortio.org/fortio/fhttp"
	"fortio.org/fortio/periodic"
	"fortio.org/log"
	"github.com/shirou/gopsutil/v4/process"

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
		duration = flag.Duration("duration", 10*time.Second, "duration of each measured run")
		qps      = flag.Float64("qps", 1000, "fixed request rate of the latency runs, req/s")
		conns    = flag.Int("conns", 16, "connections (fortio threads)")
		asJSON   = flag.Bool("json", false, "print machine-readable JSON instead of the table")
		sidecar  = flag.String("sidecar", "", "path of a prebuilt meshgym-sidecar (default: go build it)")
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
	rep, err := runBench(*duration, *qps, *conns, *sidecar)
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
}

// Verdict is one target check.
type Verdict struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Target string  `json:"target"`
	Pass   bool    `json:"pass"`
}

// Report is the whole result.
type Report struct {
	Duration    string     `json:"duration"`
	Conns       int        `json:"connections"`
	FixedQPS    float64    `json:"fixed_qps"`
	GOMAXPROCS  int        `json:"gomaxprocs"`
	NumCPU      int        `json:"num_cpu"`
	LatencyFrom string     `json:"latency_from"`
	Resolution  float64    `json:"histogram_resolution_seconds"`
	Slices      int        `json:"slices_per_run"`
	Runs        []Run      `json:"runs"`
	AddedP50    [2]float64 `json:"added_p50_seconds"` // reverseproxy, sidecar
	AddedP90    [2]float64 `json:"added_p90_seconds"`
	AddedP99    [2]float64 `json:"added_p99_seconds"`
	SidecarRSS  float64    `json:"sidecar_rss_max_mb"`
	Verdicts    []Verdict  `json:"verdicts"`
	AllPass     bool       `json:"all_pass"`
}

type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	ready string
}

func (c *child) stop() {
	c.stdin.Close()
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
}

// startChild starts a process, reads its "READY ..." line and returns the
// rest of it. The child lives while its stdin is open.
func startChild(name string, args ...string) (*child, error) {
	cmd := exec.Command(name, args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, stdin: stdin}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, out)
	}()
	select {
	case l, ok := <-lines:
		rest, found := strings.CutPrefix(l, "READY ")
		if !ok || !found {
			c.stop()
			return nil, fmt.Errorf("%s did not print READY (got %q)", filepath.Base(name), l)
		}
		c.ready = rest
	case <-time.After(15 * time.Second):
		c.stop()
		return nil, fmt.Errorf("%s: no READY within 15s", filepath.Base(name))
	}
	return c, nil
}

func runBench(d time.Duration, qps float64, conns int, sidecarBin string) (*Report, error) {
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
	var apps [3]*child
	for i := range apps {
		if apps[i], err = startChild(self, "-serve", "app"); err != nil {
			return nil, err
		}
		defer apps[i].stop()
	}
	app := apps[0]
	rp, err := startChild(self, "-serve", "reverseproxy", "-target", apps[1].ready)
	if err != nil {
		return nil, err
	}
	defer rp.stop()
	sc, err := startChild(sidecarBin, "--name", "bench_sidecar", "--admin", "127.0.0.1:0",
		"--outbound", "app=127.0.0.1:0", "--seed", "1")
	if err != nil {
		return nil, err
	}
	defer sc.stop()
	var addrs struct {
		Admin    string            `json:"admin"`
		Outbound map[string]string `json:"outbound"`
	}
	if err := json.Unmarshal([]byte(sc.ready), &addrs); err != nil {
		return nil, fmt.Errorf("sidecar READY %q: %v", sc.ready, err)
	}
	cfg := fmt.Sprintf(`{"version":1,"clusters":{"app":{"endpoints":[{"name":"bench_app","address":%q}],`+
		`"retry":{"num_retries":2,"retry_on":["5xx"]}}}}`, apps[2].ready)
	req, _ := http.NewRequest(http.MethodPut, "http://"+addrs.Admin+"/config", strings.NewReader(cfg))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("push sidecar config: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return nil, fmt.Errorf("push sidecar config: %s", resp.Status)
	}

	// Sample the sidecar's RSS all along.
	proc, err := process.NewProcess(int32(sc.cmd.Process.Pid))
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

	paths := []struct{ name, url string }{
		{"direct", "http://" + app.ready + "/"},
		{"reverseproxy", "http://" + rp.ready + "/"},
		{"sidecar", "http://" + addrs.Outbound["app"] + "/"},
	}
	rep := &Report{Duration: d.String(), Conns: conns, FixedQPS: qps, GOMAXPROCS: runtime.GOMAXPROCS(0),
		NumCPU: runtime.NumCPU(), LatencyFrom: "actual-send-time", Resolution: resolution, Slices: slicesFor(d)}
	// Each path's run is cut into slices interleaved with the other
	// paths' (rotating the order), so slow drifts of the machine hit all
	// paths alike; percentiles are computed over all samples of a path.
	slice := d / time.Duration(rep.Slices)
	for _, mode := range []string{"fixed", "max"} {
		q := qps
		if mode == "max" {
			q = -1
		}
		// Warm up every path at this mode's rate: open the connections,
		// let each process settle.
		for _, p := range paths {
			if _, err := fortio(p.url, q, conns, 500*time.Millisecond, nil); err != nil {
				return nil, fmt.Errorf("warm up %s: %v", p.name, err)
			}
		}
		acc := make([]*accum, len(paths))
		for i := range acc {
			acc[i] = &accum{}
		}
		for round := range rep.Slices {
			for k := range paths {
				i := (k + round) % len(paths)
				r, err := fortio(paths[i].url, q, conns, slice, acc[i])
				if err != nil {
					return nil, fmt.Errorf("%s %s: %v", paths[i].name, mode, err)
				}
				acc[i].count += r.count
				acc[i].errors += r.errors
				acc[i].elapsed += r.elapsed
			}
		}
		for i, p := range paths {
			r := acc[i].run(p.name, mode, q)
			rep.Runs = append(rep.Runs, r)
			fmt.Fprintf(os.Stderr, "proxybench: %-12s %-5s %8.0f qps  p50 %6.0fµs  p90 %6.0fµs  p99 %6.0fµs  errors %d\n",
				p.name, mode, r.ActualQPS, r.P50*1e6, r.P90*1e6, r.P99*1e6, r.Errors)
		}
	}
	close(stopRSS)
	<-rssDone
	rep.SidecarRSS = float64(rssMax) / 1e6

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
	latRatio := -1.0
	if rep.AddedP90[0] > 0 {
		latRatio = rep.AddedP90[1] / rep.AddedP90[0]
	}
	qpsRatio := get("sidecar", "max").ActualQPS / get("reverseproxy", "max").ActualQPS
	rep.Verdicts = []Verdict{
		{Name: "sidecar added p90 ÷ reverseproxy added p90", Value: latRatio, Target: fmt.Sprintf("≤ %.1f", targetAddedP90Ratio),
			Pass: latRatio >= 0 && latRatio <= targetAddedP90Ratio},
		{Name: "sidecar max qps ÷ reverseproxy max qps", Value: qpsRatio, Target: fmt.Sprintf("≥ %.1f", targetMaxQPSRatio),
			Pass: qpsRatio >= targetMaxQPSRatio},
		{Name: "sidecar peak RSS (MB)", Value: rep.SidecarRSS, Target: fmt.Sprintf("< %.0f", targetRSSMB),
			Pass: rep.SidecarRSS > 0 && rep.SidecarRSS < targetRSSMB},
	}
	rep.AllPass = true
	for _, v := range rep.Verdicts {
		rep.AllPass = rep.AllPass && v.Pass
	}
	return rep, nil
}

// slicesFor cuts a run into slices of about 2 s (at least one).
func slicesFor(d time.Duration) int {
	return max(1, int(d/(2*time.Second)))
}

// accum gathers the per-request latencies fortio reports (its access
// logger hook: measured from each request's actual start) over slices.
type accum struct {
	mu      sync.Mutex
	lat     []float64
	count   int64
	errors  int64
	elapsed time.Duration
}

func (a *accum) Start(ctx context.Context, _ periodic.ThreadID, _ int64, _ time.Time) context.Context {
	return ctx
}

func (a *accum) Report(_ context.Context, _ periodic.ThreadID, _ int64, _ time.Time, latency float64, _ bool, _ string) {
	a.mu.Lock()
	a.lat = append(a.lat, latency)
	a.mu.Unlock()
}

func (a *accum) Info() string { return "proxybench latency sampler" }

func (a *accum) run(path, mode string, planned float64) Run {
	sort.Float64s(a.lat)
	r := Run{Path: path, Mode: mode, PlanQPS: planned, Count: a.count, Errors: a.errors}
	if a.elapsed > 0 {
		r.ActualQPS = float64(a.count) / a.elapsed.Seconds()
	}
	if n := len(a.lat); n > 0 {
		r.P50, r.P90, r.P99, r.Max = quantile(a.lat, 0.50), quantile(a.lat, 0.90), quantile(a.lat, 0.99), a.lat[n-1]
		sum := 0.0
		for _, v := range a.lat {
			sum += v
		}
		r.Avg = sum / float64(n)
	}
	return r
}

// quantile is the nearest-rank quantile of sorted samples.
func quantile(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

type sliceResult struct {
	count, errors int64
	elapsed       time.Duration
}

// fortio runs one load test with fortio's library; qps < 0 is max speed.
// Latencies go to acc when it is not nil.
func fortio(url string, qps float64, conns int, d time.Duration, acc *accum) (*sliceResult, error) {
	o := fhttp.HTTPRunnerOptions{}
	o.RunnerOptions = periodic.RunnerOptions{
		QPS:         qps,
		NumThreads:  conns,
		Duration:    d,
		Resolution:  resolution,
		Percentiles: []float64{50, 90, 99},
		Out:         io.Discard,
		Uniform:     qps > 0,
	}
	if acc != nil {
		o.RunnerOptions.AccessLogger = acc
	}
	o.HTTPOptions.URL = url
	o.AllowInitialErrors = true
	res, err := fhttp.RunHTTPTest(&o)
	if err != nil {
		return nil, err
	}
	h := res.DurationHistogram
	if h.Count == 0 {
		return nil, errors.New("no request completed")
	}
	return &sliceResult{count: h.Count, errors: h.Count - res.RetCodes[http.StatusOK], elapsed: res.ActualDuration}, nil
}

func us(s float64) string { return fmt.Sprintf("%.0fµs", s*1e6) }

func sus(s float64) string { return fmt.Sprintf("%+.0fµs", s*1e6) }

func printReport(w io.Writer, rep *Report) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "meshgym proxy benchmark: %d connections, %s per run, fixed %.0f req/s then max throughput (GOMAXPROCS %d, %d CPUs)\n",
		rep.Conns, rep.Duration, rep.FixedQPS, rep.GOMAXPROCS, rep.NumCPU)
	fmt.Fprintf(&b, "latencies are measured by fortio from each request's actual send time (not its intended start); percentiles are exact over\n")
	fmt.Fprintf(&b, "every request (fortio's per-request hook; its histogram resolution is set to %gµs); each run is %d interleaved slices\n\n", rep.Resolution*1e6, rep.Slices)
	fmt.Fprintf(&b, "%-13s %-6s %9s %9s %9s %9s %9s %8s\n", "path", "mode", "qps", "p50", "p90", "p99", "max", "errors")
	for _, r := range rep.Runs {
		fmt.Fprintf(&b, "%-13s %-6s %9.0f %9s %9s %9s %9s %8d\n", r.Path, r.Mode, r.ActualQPS, us(r.P50), us(r.P90), us(r.P99), us(r.Max), r.Errors)
	}
	fmt.Fprintf(&b, "\nadded over direct at %.0f req/s (difference of percentiles):\n", rep.FixedQPS)
	fmt.Fprintf(&b, "  reverseproxy  p50 %8s  p90 %8s  p99 %8s\n", sus(rep.AddedP50[0]), sus(rep.AddedP90[0]), sus(rep.AddedP99[0]))
	fmt.Fprintf(&b, "  sidecar       p50 %8s  p90 %8s  p99 %8s\n\n", sus(rep.AddedP50[1]), sus(rep.AddedP90[1]), sus(rep.AddedP99[1]))
	for _, v := range rep.Verdicts {
		verdict := "FAIL"
		if v.Pass {
			verdict = "PASS"
		}
		fmt.Fprintf(&b, "%-4s %-45s %8.2f  (target %s)\n", verdict, v.Name, v.Value, v.Target)
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
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	fmt.Printf("READY %s\n", ln.Addr())
	io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	return 0
}
