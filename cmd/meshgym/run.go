package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"meshgym/engine"
	"meshgym/plugins/kubemesh"
	"meshgym/report"
	"meshgym/scenarios"
	"meshgym/smp"
	"meshgym/verdict"
)

type runFlags struct {
	duration    time.Duration
	rps         float64
	connections int
	seed        int64
	output      string
	port        int
	runDir      string
	quiet       bool
	set         []string
	all         bool
	mesh        string
	platform    *string // --platform and --image-source (platform.go)
	traceSample float64
	otlp        string
}

func newRunCmd() *cobra.Command {
	f := &runFlags{}
	c := &cobra.Command{
		Use:   "run SCENARIO",
		Short: "Run a scenario: measure before and after the pattern, with verdicts",
		Long: `Run a scenario end to end: deploy the sample system (as local processes by
default, or in Docker containers with --platform docker), measure it with
the pattern off (before), apply the pattern through the mesh, measure again
(after), and print both with a verdict for every success condition.
Everything meshgym started is stopped at the end, on Ctrl-C, and when a
component dies.

SCENARIO is a built-in name (see 'meshgym list') or a scenario file, in the
book's shorthand or the long form (see docs/scenarios.md).

Each phase runs the scenario's load for its duration; --duration, --rps and
--connections override it. The seed is printed in every report; --seed
repeats a run. Logs and result.json go to the run directory, and so do
the traces of a sample of the requests (10% by default; --trace-sample,
'meshgym trace' shows them as waterfalls).

SCENARIO may also be a Service Mesh Performance (SMP) test file, the format
Meshery's 'mesheryctl perf apply -f' reads (test: with duration and clients,
each with rps, connections and endpoint_urls). Then nothing is deployed: the
load generator loads the file's URLs and prints latency percentiles and
status codes per client and URL (--output json: SMP results). --duration,
--rps and --connections override every client; --mesh, --set, --seed,
--port and --run-dir do not apply. SMP test runs are not kept in the results
store; see docs/smp.md.`,
		Example: `  meshgym run retries --duration 20s
  meshgym run retries --rps 50 --seed 42 --output json > result.json
  meshgym run retries --set currency_v2.errorRate=80 --set retry.attempts=1
  meshgym run --all --duration 10s
  meshgym run ./my-retries.yaml
  meshgym run ./perf.smp.yaml --duration 10s --output json > smp-results.json`,
		Args: func(c *cobra.Command, args []string) error {
			if f.all {
				return exactArgs(0, "no SCENARIO with --all")(c, args)
			}
			return exactArgs(1, "SCENARIO (a built-in name or a file)")(c, args)
		},
		RunE: func(c *cobra.Command, args []string) error {
			if f.all {
				return runAll(c, f)
			}
			return runScenario(c, args[0], f)
		},
	}
	fl := c.Flags()
	fl.DurationVarP(&f.duration, "duration", "d", 0, "load duration of each phase, e.g. 20s (default: the scenario's)")
	fl.Float64Var(&f.rps, "rps", 0, "total requests per second; 0 = as fast as possible (default: the scenario's)")
	fl.IntVarP(&f.connections, "connections", "c", 0, "concurrent connections of the load generator (default: the scenario's)")
	fl.Int64Var(&f.seed, "seed", 0, "seed for every random choice, to repeat a run (default: a new one, printed)")
	fl.StringVarP(&f.output, "output", "o", "text", "report format: text or json")
	fl.IntVar(&f.port, "port", 0, "port of the entry service; 0 = any free port (default: 8200, or a free one when 8200 is taken)")
	fl.StringVar(&f.runDir, "run-dir", "", "directory for logs and result.json (default .meshgym/runs/<time>-<scenario>)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress output")
	fl.StringVar(&f.mesh, "mesh", "", "mesh to apply the pattern with: a semantics profile of the builtin mesh (book, envoy, istio, linkerd, consul, kuma; a release with @, e.g. istio@1.23) or a plugin's name (default: the scenario's mesh:, else book); with --platform kind, the real mesh the cluster runs: istio, linkerd or consul")
	fl.BoolVar(&f.all, "all", false, "run every built-in scenario in sequence and print one summary table")
	f.platform = addPlatformFlag(c)
	fl.Float64Var(&f.traceSample, "trace-sample", 0, "fraction of requests traced end to end, recorded in the run directory (traces/spans.jsonl); default 0.1 or OTEL_TRACES_SAMPLER_ARG; 0 = no tracing")
	fl.StringVar(&f.otlp, "otlp", "", "also send the run's traces to this OTLP/HTTP endpoint, e.g. http://localhost:4318 (default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT)")
	fl.StringArrayVar(&f.set, "set", nil, "change a knob without editing the file, e.g. --set currency_v2.errorRate=30 (repeatable; keys: "+strings.Join(scenarios.SetKeys, ", ")+")")
	return c
}

// exactArgs is cobra.ExactArgs with a message that names what is missing.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErr("%s expects %s (got %s); see '%s --help'", c.CommandPath(), what, plural(len(args), "argument"), c.CommandPath())
		}
		return nil
	}
}

// loadScenario reads a built-in scenario by name, or a file.
func loadScenario(arg string) (*scenarios.Scenario, error) {
	if _, err := os.Lstat(arg); err == nil {
		// It exists: the loader says what is wrong with it, if anything
		// (a directory, a pipe, a symlink loop, bad YAML …).
		sc, err := scenarios.Load(arg)
		if err != nil {
			return nil, &exitError{code: exitUsage, err: err}
		}
		return sc, nil
	}
	if sc, err := scenarios.Builtin(arg); err == nil {
		return sc, nil
	}
	if strings.ContainsAny(arg, `/\.`) {
		return nil, usageErr("%s: no such file; hint: check the path, or run 'meshgym list' for built-in scenarios", arg)
	}
	return nil, usageErr("no built-in scenario or file named %q; hint: 'meshgym list' shows the built-in scenarios", arg)
}

// prepareRunDir checks a --run-dir: it may not exist yet (it is created) or
// be an empty directory; meshgym never writes over an earlier run or a
// user's files.
func prepareRunDir(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case err == nil && !st.IsDir():
		return usageErr("--run-dir %s: is a file, not a directory; hint: give a new directory name", dir)
	case err == nil:
		entries, rerr := os.ReadDir(dir)
		if rerr != nil {
			return usageErr("--run-dir %s: cannot read it: %v; hint: give a new directory name", dir, rerr)
		}
		if len(entries) > 0 {
			return usageErr("--run-dir %s: already holds files; hint: give a new or empty directory (meshgym never writes over earlier results)", dir)
		}
	case !errors.Is(err, os.ErrNotExist):
		return usageErr("--run-dir %s: %v; hint: give a new directory name", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return usageErr("--run-dir %s: cannot create it: %v; hint: choose a writable place", dir, errors.Unwrap(err))
	}
	return nil
}

// applySets applies --set assignments in order.
func applySets(sc *scenarios.Scenario, sets []string) error {
	for _, a := range sets {
		if err := sc.Set(a); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
	}
	return nil
}

// checkFlags validates the flags of run before anything starts.
func checkFlags(c *cobra.Command, f *runFlags) error {
	if f.output != "text" && f.output != "json" {
		return usageErr("--output: unknown format %q; use text or json", f.output)
	}
	changed := c.Flags().Changed
	if changed("duration") && (f.duration < time.Second || f.duration > 168*time.Hour) {
		return usageErr("--duration: must be from 1s to 168h (got %s); e.g. --duration 20s", f.duration)
	}
	if changed("rps") && (math.IsNaN(f.rps) || math.IsInf(f.rps, 0) || f.rps < 0 || f.rps > 1e6) {
		return usageErr("--rps: must be a number from 0 to 1000000 (got %g); 0 means as fast as possible", f.rps)
	}
	if changed("connections") && (f.connections < 1 || f.connections > 10000) {
		return usageErr("--connections: must be from 1 to 10000 (got %d)", f.connections)
	}
	if f.port < 0 || f.port > 65535 {
		return usageErr("--port: must be from 0 to 65535 (got %d); 0 picks a free port", f.port)
	}
	if f.otlp != "" && !otlpEndpointOK(f.otlp) {
		return usageErr("--otlp %q: want an http(s) URL such as http://localhost:4318", f.otlp)
	}
	if f.all && f.runDir != "" {
		return usageErr("--run-dir cannot be used with --all (each scenario gets its own run directory)")
	}
	if f.runDir != "" {
		if err := prepareRunDir(f.runDir); err != nil {
			return err
		}
	}
	return nil
}

// otlpEndpointOK reports whether s is an absolute http or https URL with
// a host and, if it names one, a port from 1 to 65535 (an OTLP/HTTP
// endpoint, https://opentelemetry.io/docs/specs/otel/protocol/exporter/).
func otlpEndpointOK(s string) bool {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.Hostname() == "" {
		return false
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		return err == nil && n >= 1 && n <= 65535
	}
	return !strings.HasSuffix(u.Host, ":")
}

// prepare applies --set and the load overrides to a loaded scenario and
// returns the engine options.
func prepare(c *cobra.Command, sc *scenarios.Scenario, f *runFlags) (engine.Options, error) {
	changed := c.Flags().Changed
	if err := applySets(sc, f.set); err != nil {
		return engine.Options{}, err
	}
	if changed("duration") {
		sc.Load.Duration = scenarios.Duration(f.duration)
	}
	if changed("rps") {
		sc.Load.RPS = f.rps
	}
	if changed("connections") {
		sc.Load.Connections = f.connections
	}
	seed := sc.Seed
	if changed("seed") {
		seed = f.seed
	}
	opts := engine.Options{Seed: seed, RunDir: f.runDir, OpenMesh: openMesh}
	platformName := ""
	if f.platform != nil {
		platformName = *f.platform
	}
	mesh := f.mesh
	if platformName == "kind" && mesh == "" {
		// On kind the scenario's mesh: (a profile elsewhere) names the
		// real mesh when it is one.
		if base, _, _ := strings.Cut(sc.Mesh, "@"); isRealMesh(base) {
			mesh = base
		}
	}
	if err := checkKindMesh(platformName, mesh); err != nil {
		return engine.Options{}, err
	}
	setMesh(&opts, mesh, platformName)
	platform, err := newPlatform(platformName, c, opts.Mesh)
	if err != nil {
		return engine.Options{}, err
	}
	opts.Platform = platform
	opts.OTLPEndpoint = f.otlp
	if changed("trace-sample") {
		if math.IsNaN(f.traceSample) || f.traceSample > 1 {
			return engine.Options{}, fmt.Errorf("--trace-sample %v: want a fraction from 0 to 1 (0 = no tracing)", f.traceSample)
		}
		opts.TraceSample = f.traceSample
		if f.traceSample <= 0 {
			opts.TraceSample = -1 // off
		}
	}
	switch {
	case changed("port") && f.port == 0:
		opts.EntryPort = -1 // any free port
	case changed("port"):
		opts.EntryPort, opts.EntryPortStrict = f.port, true
	}
	return opts, nil
}

// setMesh reads a --mesh value: the name of a mesh plugin found on the
// plugin path, else a semantics profile of the builtin plugin (whose
// existence the plugin checks: an unknown one exits 2). On platform kind
// a real mesh's name (istio, linkerd, consul) is that mesh's plugin.
func setMesh(opts *engine.Options, m string, platform ...string) {
	base, _, versioned := strings.Cut(m, "@")
	onKind := len(platform) > 0 && platform[0] == "kind"
	switch {
	case m == "":
	case onKind && isRealMesh(base):
		opts.Mesh = base
	case base != "builtin" && isPlugin(base):
		// Another plugin; a version goes to it as its profile.
		opts.Mesh = base
		if versioned {
			opts.Profile = m
		}
	case m == "builtin":
		opts.Mesh = m
	default:
		opts.Profile = m
	}
}

// checkKindMesh refuses a real mesh with a release on kind: the cluster
// runs the release meshgym installed; releases are the builtin profiles'.
func checkKindMesh(platform, mesh string) error {
	base, _, versioned := strings.Cut(mesh, "@")
	if platform != "kind" || !versioned || !isRealMesh(base) {
		return nil
	}
	spec, _ := kubemesh.Lookup(base)
	return usageErr("--mesh %s: on --platform kind the cluster runs the %s meshgym installed (%s); use --mesh %s there, or --mesh %s on --platform local or docker for the builtin mesh's profile of that release", mesh, base, spec.Version, base, mesh)
}

// engineExit gives an engine error its exit code: bad input 2, an
// interrupt 130, anything else (the platform, a plugin) 3.
func engineExit(err error) error {
	var ee *engine.Error
	code := exitPlatform
	if errors.As(err, &ee) {
		switch ee.Kind {
		case engine.KindInput:
			code = exitUsage
		case engine.KindInterrupted:
			code = exitInterrupted
		}
	}
	// A --mesh value that is no profile may have meant a plugin (a file's
	// mesh: names profiles only).
	if strings.Contains(err.Error(), "unknown mesh profile") && !strings.Contains(err.Error(), ": mesh: ") {
		err = fmt.Errorf("%w; %s", err, pluginHint())
	}
	return &exitError{code: code, err: err}
}

// pluginHint says where --mesh looks for plugins besides the builtin
// profiles, and what it found there.
func pluginHint() string {
	l := pluginLoader()
	dir, _ := l.Dir()
	var names []string
	if found, err := l.Find(); err == nil {
		for _, f := range found {
			if !f.Builtin {
				names = append(names, f.Name)
			}
		}
	}
	if len(names) == 0 {
		return fmt.Sprintf("--mesh also takes the name of a plugin, but none was found in %s (meshgym plugin list)", dir)
	}
	return fmt.Sprintf("--mesh also takes a plugin's name: %s (in %s)", strings.Join(names, ", "), dir)
}

// runEngine runs one scenario with progress on stderr; the error carries
// the exit code.
func runEngine(c *cobra.Command, sc *scenarios.Scenario, opts engine.Options, quiet bool) (*engine.Result, error) {
	events := make(chan engine.Event, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		printEvents(c.ErrOrStderr(), events, quiet)
	}()
	res, err := engine.Run(c.Context(), sc, opts, events)
	close(events)
	<-done
	// The run directory keeps the human report beside result.json, also
	// what was measured until a run stopped.
	writeReport(res)
	if err != nil {
		return res, engineExit(err)
	}
	return res, nil
}

func runScenario(c *cobra.Command, arg string, f *runFlags) error {
	// An SMP performance-test file load-tests its endpoints as Meshery's
	// `perf apply -f` does: nothing is deployed (runSMPFile checks the
	// flags that apply to it and refuses the others).
	if smp.IsTestConfig(arg) {
		return runSMPFile(c, arg, f.output)
	}
	if err := checkFlags(c, f); err != nil {
		return err
	}
	sc, err := loadScenario(arg)
	if err != nil {
		return err
	}
	opts, err := prepare(c, sc, f)
	if err != nil {
		return err
	}
	res, err := runEngine(c, sc, opts, f.quiet)
	if err != nil {
		return err
	}
	out := c.OutOrStdout()
	if f.output == "json" {
		if err := report.JSON(out, res); err != nil {
			return &exitError{code: exitPlatform, err: err}
		}
	} else {
		report.Text(out, res, report.TextOptions{Color: isTTY(out) && os.Getenv("NO_COLOR") == ""})
	}
	if !res.Passed {
		return &exitError{code: exitFailed, err: errors.New("")}
	}
	return nil
}

// allRow is one line of the --all summary.
type allRow struct {
	Scenario string `json:"scenario"`
	Pattern  string `json:"pattern"`
	Pass     int    `json:"pass"`
	Fail     int    `json:"fail"`
	Warn     int    `json:"warn"`
	Result   string `json:"result"` // PASS, FAIL, ERROR
	Error    string `json:"error,omitempty"`
	RunDir   string `json:"run_dir,omitempty"`
	Elapsed  string `json:"elapsed"`
}

// runAll runs every built-in scenario in sequence and prints one summary
// table (each scenario's full report is in its run directory).
func runAll(c *cobra.Command, f *runFlags) error {
	if err := checkFlags(c, f); err != nil {
		return err
	}
	var rows []allRow
	worst := exitOK
	stderr := c.ErrOrStderr()
	for _, b := range scenarios.BuiltinNames() {
		sc, err := scenarios.Builtin(b.Name)
		if err != nil {
			return &exitError{code: exitPlatform, err: err}
		}
		opts, err := prepare(c, sc, f)
		if err != nil {
			return err
		}
		if !f.quiet {
			fmt.Fprintf(stderr, "\n━━ %s (%s per phase)\n", b.Name, sc.Load.Duration.D())
		}
		start := time.Now()
		res, err := runEngine(c, sc, opts, f.quiet)
		row := allRow{Scenario: b.Name, Pattern: sc.Pattern.Kind, Elapsed: time.Since(start).Round(time.Second).String()}
		if res != nil {
			row.RunDir = res.RunDir
		}
		if err != nil {
			var ee *exitError
			if errors.As(err, &ee) && ee.code == exitInterrupted {
				return err
			}
			row.Result, row.Error = "ERROR", err.Error()
			worst = max(worst, exitPlatform)
			rows = append(rows, row)
			continue
		}
		for _, v := range res.Verdicts {
			switch v.Status {
			case verdict.Pass:
				row.Pass++
			case verdict.Fail:
				row.Fail++
			case verdict.Warn:
				row.Warn++
			}
		}
		row.Result = "PASS"
		if !res.Passed {
			row.Result = "FAIL"
			worst = max(worst, exitFailed)
		}
		rows = append(rows, row)
	}
	out := c.OutOrStdout()
	if f.output == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		enc.Encode(rows)
	} else {
		fmt.Fprintln(out)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SCENARIO\tPATTERN\tPASS\tFAIL\tWARN\tRESULT\tTIME\tRUN DIRECTORY (report.txt, result.json)")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", r.Scenario, r.Pattern, r.Pass, r.Fail, r.Warn, r.Result, r.Elapsed, r.RunDir)
		}
		tw.Flush()
		for _, r := range rows {
			if r.Error != "" {
				fmt.Fprintf(out, "%s: %s\n", r.Scenario, oneLine(r.Error))
			}
		}
	}
	if worst != exitOK {
		return &exitError{code: worst, err: errors.New("")}
	}
	return nil
}

func isTTY(w io.Writer) bool {
	if ew, ok := w.(*errWriter); ok {
		w = ew.w
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// printEvents shows progress on stderr: phase lines always (unless quiet),
// and one live-updating progress line on a terminal.
func printEvents(w io.Writer, events <-chan engine.Event, quiet bool) {
	tty := isTTY(w)
	live := false
	clear := func() {
		if live {
			fmt.Fprint(w, "\r\033[K")
			live = false
		}
	}
	for ev := range events {
		if quiet {
			continue
		}
		switch e := ev.(type) {
		case *engine.PhaseEvent:
			clear()
			if e.Phase == engine.PhaseTeardown {
				continue
			}
			if e.Start {
				fmt.Fprintf(w, "▶ %-8s %s\n", e.Phase, e.Detail)
			} else {
				fmt.Fprintf(w, "✓ %-8s %s\n", e.Phase, e.Detail)
			}
		case *engine.LogEvent:
			clear()
			fmt.Fprintf(w, "  %s\n", e.Msg)
		case *engine.ProgressEvent:
			if !tty {
				continue
			}
			pct := 0.0
			if e.Total > 0 {
				pct = 100 * float64(e.Elapsed) / float64(e.Total)
			}
			fmt.Fprintf(w, "\r\033[K  %-6s %5.1fs/%-5.0fs %3.0f%%  %7d req  %6.1f req/s  %5d errors  %5d retries",
				e.Phase, e.Elapsed.Seconds(), e.Total.Seconds(), pct, e.Requests, e.RPS, e.Errors, e.Retries)
			live = true
		}
	}
	clear()
}

// plural is "1 argument", "2 arguments".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
