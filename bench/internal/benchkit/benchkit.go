// Package benchkit holds what the bench programs (bench/proxybench,
// bench/tracebench) share: starting their child processes (the app, the
// reverse proxy, the sidecar) and reading their "READY ..." line, pushing
// the sidecar its config, fortio's load-test options, nearest-rank
// quantiles, /proc readings and the table formatting of latencies.
package benchkit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"fortio.org/fortio/fhttp"
	"fortio.org/fortio/periodic"
)

// JSONFloat is a float64 whose infinities and NaN encode as JSON null.
type JSONFloat float64

// MarshalJSON writes f, or null when it is not finite.
func (f JSONFloat) MarshalJSON() ([]byte, error) {
	if math.IsInf(float64(f), 0) || math.IsNaN(float64(f)) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

// Child is a started child process. It lives while its stdin is open.
type Child struct {
	Cmd   *exec.Cmd
	stdin io.WriteCloser
	// Ready is the rest of the child's first stdout line after "READY ".
	Ready string
}

// Stop closes the child's stdin and waits for it to exit, killing it after
// 3 s.
func (c *Child) Stop() {
	c.stdin.Close()
	done := make(chan struct{})
	go func() { c.Cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		c.Cmd.Process.Kill()
		<-done
	}
}

// StartChild starts name with env added to ours (nil: ours unchanged),
// reads its "READY ..." line and returns the rest of it in Ready. It
// returns an error when the process cannot start, or prints anything else
// first, or prints nothing within 15 s.
func StartChild(env []string, name string, args ...string) (*Child, error) {
	cmd := exec.Command(name, args...)
	cmd.Stderr = os.Stderr
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
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
	c := &Child{Cmd: cmd, stdin: stdin}
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
			c.Stop()
			return nil, fmt.Errorf("%s did not print READY (got %q)", filepath.Base(name), l)
		}
		c.Ready = rest
	case <-time.After(15 * time.Second):
		c.Stop()
		return nil, fmt.Errorf("%s: no READY within 15s", filepath.Base(name))
	}
	return c, nil
}

// StartSidecar starts the sidecar executable bin (env added to ours) with
// one outbound listener and pushes it a config routing to the app at
// appAddr (the retry policy on, as a mesh would have it: 2 retries on
// 5xx); it returns the child and the URL of the outbound listener.
func StartSidecar(bin, appAddr string, env []string) (*Child, string, error) {
	sc, err := StartChild(env, bin, "--name", "bench_sidecar", "--admin", "127.0.0.1:0",
		"--outbound", "app=127.0.0.1:0", "--seed", "1")
	if err != nil {
		return nil, "", err
	}
	var addrs struct {
		Admin    string            `json:"admin"`
		Outbound map[string]string `json:"outbound"`
	}
	if err := json.Unmarshal([]byte(sc.Ready), &addrs); err != nil {
		sc.Stop()
		return nil, "", fmt.Errorf("sidecar READY %q: %v", sc.Ready, err)
	}
	cfg := fmt.Sprintf(`{"version":1,"clusters":{"app":{"endpoints":[{"name":"bench_app","address":%q}],`+
		`"retry":{"num_retries":2,"retry_on":["5xx"]}}}}`, appAddr)
	req, _ := http.NewRequest(http.MethodPut, "http://"+addrs.Admin+"/config", strings.NewReader(cfg))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		sc.Stop()
		return nil, "", fmt.Errorf("push sidecar config: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		sc.Stop()
		return nil, "", fmt.Errorf("push sidecar config: %s", resp.Status)
	}
	return sc, "http://" + addrs.Outbound["app"] + "/", nil
}

// Sampler gathers the per-request latencies (s) fortio reports through
// its access-logger hook (measured from each request's actual start).
// Embed it and add an Info method to get a periodic.AccessLogger.
type Sampler struct {
	mu  sync.Mutex
	Lat []float64
}

// Start is the access-logger hook at a request's start; it does nothing.
func (s *Sampler) Start(ctx context.Context, _ periodic.ThreadID, _ int64, _ time.Time) context.Context {
	return ctx
}

// Report appends one request's latency (s) to Lat.
func (s *Sampler) Report(_ context.Context, _ periodic.ThreadID, _ int64, _ time.Time, latency float64, _ bool, _ string) {
	s.mu.Lock()
	s.Lat = append(s.Lat, latency)
	s.mu.Unlock()
}

// FortioOptions are the load-test options both benches use: qps < 0 is
// max speed (qps > 0 paces uniformly), conns connections for d, timer
// resolution in s, and latencies to logger when it is not nil.
func FortioOptions(url string, qps float64, conns int, d time.Duration, resolution float64, logger periodic.AccessLogger) *fhttp.HTTPRunnerOptions {
	o := &fhttp.HTTPRunnerOptions{}
	o.RunnerOptions = periodic.RunnerOptions{
		QPS:         qps,
		NumThreads:  conns,
		Duration:    d,
		Resolution:  resolution,
		Percentiles: []float64{50, 90, 99},
		Out:         io.Discard,
		Uniform:     qps > 0,
	}
	if logger != nil {
		o.RunnerOptions.AccessLogger = logger
	}
	o.HTTPOptions.URL = url
	o.AllowInitialErrors = true
	return o
}

// RunFortio runs o and returns the request count, the non-200 count and
// the run's actual duration; an error when fortio fails or no request
// completed.
func RunFortio(o *fhttp.HTTPRunnerOptions) (count, errs int64, elapsed time.Duration, err error) {
	res, err := fhttp.RunHTTPTest(o)
	if err != nil {
		return 0, 0, 0, err
	}
	h := res.DurationHistogram
	if h.Count == 0 {
		return 0, 0, 0, errors.New("no request completed")
	}
	return h.Count, h.Count - res.RetCodes[http.StatusOK], res.ActualDuration, nil
}

// Quantile is the nearest-rank quantile q (0..1) of sorted samples.
func Quantile(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// LoadAvg is the 1-minute load average (0 where /proc is missing).
func LoadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var l float64
	fmt.Sscan(string(b), &l)
	return l
}

// US formats s seconds as whole microseconds ("123µs").
func US(s float64) string { return fmt.Sprintf("%.0fµs", s*1e6) }

// ServeChild is the child side of StartChild: it serves h on addr
// ("127.0.0.1:0" for any port), prints "READY <address>" on stdout and
// serves until stdin closes, then shuts down (1 s grace). It returns the
// process exit code: 0, or 3 when addr cannot be listened on.
func ServeChild(addr string, h http.Handler) int {
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

// ModeQPS is the fortio rate for a bench mode: "fixed" runs at qps,
// "max" at max speed (-1). It returns an error for any other mode.
func ModeQPS(mode string, qps float64) (float64, error) {
	switch mode {
	case "fixed":
		return qps, nil
	case "max":
		return -1, nil
	}
	return 0, fmt.Errorf("unknown mode %q (want fixed or max)", mode)
}
