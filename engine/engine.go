// Package engine runs a scenario end to end: deploy the topology, measure
// with the pattern off (before), apply the pattern through the mesh's
// control plane, measure again (after), evaluate the success conditions,
// and tear everything down. It is the one entry point the CLI and the TUI
// share; progress reaches them as typed Events.
package engine

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"meshgym/internal/version"
	"meshgym/load"
	"meshgym/metrics"
	"meshgym/plugins"
	"meshgym/sandbox"
	"meshgym/sandbox/local"
	"meshgym/scenarios"
	"meshgym/verdict"
)

// Options tune one run. Zero values mean defaults.
type Options struct {
	// Platform deploys the topology; nil means the local platform.
	Platform sandbox.Platform
	// Seed repeats a run; 0 picks one (reported in Result.Seed).
	Seed int64
	// RunDir holds logs and results; "" means .meshgym/runs/<time>-<scenario>.
	RunDir string
	// EntryPort for the entry service (default 8200; -1 = any free port).
	// EntryPortStrict makes a taken port an error.
	EntryPort       int
	EntryPortStrict bool
	// ReadyTimeout bounds start-up (default 15 s).
	ReadyTimeout time.Duration
	// Settle is the pause after a config push before load starts, so the
	// sidecars all run the new config (default 200 ms).
	Settle time.Duration
	// Mesh names the mesh plugin ("" = DefaultMesh, "builtin").
	Mesh string
	// Profile is the builtin plugin's semantics profile ("istio",
	// "istio@1.23"); "" = the scenario's mesh: field, else the plugin's
	// default. It beats the scenario's.
	Profile string
	// OpenMesh starts mesh plugins; nil = DefaultOpener (re-executes this
	// program as `meshgym plugin serve NAME`).
	OpenMesh MeshOpener
	// TraceSample is the fraction (0..1) of the load generator's requests
	// traced end to end (tracing.go); 0 = OTEL_TRACES_SAMPLER_ARG if set,
	// else DefaultTraceSample (0.1); negative = tracing off.
	TraceSample float64
	// OTLPEndpoint is the user's OTLP/HTTP endpoint the run's traces are
	// forwarded to ("" = OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
	// OTEL_EXPORTER_OTLP_ENDPOINT from the environment, else none); the
	// run directory's span file is written either way.
	OTLPEndpoint string
}

// PhaseResult is what one measuring phase produced.
type PhaseResult struct {
	Name     string            `json:"name"`
	Pattern  string            `json:"pattern"` // "off" or the pattern kind
	Started  time.Time         `json:"started"`
	Ended    time.Time         `json:"ended"`
	Load     *load.Result      `json:"load"`
	Snapshot *metrics.Snapshot `json:"snapshot"`
	// PolicyEvents counts sidecar policy events by kind ("retry": 123).
	PolicyEvents map[string]int64 `json:"policy_events"`
	// Rollout lists the steps of a progressive canary rollout (after phase
	// of a scenario with one).
	Rollout []RolloutStep `json:"rollout,omitempty"`
	// Ejections lists the outlier ejections and returns of the phase, in
	// order, with their time (the report prints them with offsets from
	// Started).
	Ejections []PolicyEvent `json:"ejections,omitempty"`
	// Timeline has one point per second of the phase (offsets from
	// Started), for plots: the client's rate and errors, and ejections.
	Timeline []TimelinePoint `json:"timeline,omitempty"`
}

// TimelinePoint is one second of a phase as the load generator and the
// proxies saw it.
type TimelinePoint struct {
	Offset          float64 `json:"offset_s"`          // seconds since the phase started
	RPS             float64 `json:"rps"`               // responses per second the client received
	ErrorsPerSecond float64 `json:"errors_per_second"` // of which non-2xx or transport errors
	Ejections       int     `json:"ejections"`         // outlier ejections in this second
}

// Result is a whole run. It serialises to JSON as it is (`--output json`).
type Result struct {
	Scenario *scenarios.Scenario `json:"scenario"`
	Source   string              `json:"source"`
	Platform string              `json:"platform"`
	// Mesh is the mesh plugin that applied the pattern ("builtin") and
	// Profile its semantics profile as resolved ("istio@1.27").
	Mesh    string `json:"mesh"`
	Profile string `json:"profile,omitempty"`
	// Versions records what ran: "meshgym", "plugin" (the plugin's own
	// version), and a platform's where it has one.
	Versions map[string]string `json:"versions,omitempty"`
	// Knobs are the effective settings of the pattern under the profile
	// and where each came from; MeshNotes the plugin's one-line remarks.
	Knobs     []plugins.Knob `json:"knobs,omitempty"`
	MeshNotes []string       `json:"mesh_notes,omitempty"`
	// BeforeKnobs are the effective settings with the pattern off (the
	// mesh's own defaults, which differ between profiles too).
	BeforeKnobs []plugins.Knob `json:"before_knobs,omitempty"`
	// ID is the run's ID in the results store (its run directory's name).
	ID         string              `json:"id,omitempty"`
	Seed       int64               `json:"seed"`
	RunDir     string              `json:"run_dir"`
	EntryURL   string              `json:"entry_url"`
	Before     *PhaseResult        `json:"before"`
	After      *PhaseResult        `json:"after"`
	Verdicts   []verdict.Verdict   `json:"verdicts"`
	Passed     bool                `json:"passed"`
	Components []sandbox.Component `json:"components"`
	// Error says why the run stopped early ("" when it completed); the
	// phases measured until then are kept.
	Error string `json:"error,omitempty"`
	// Traces summarises the traces recorded (nil when tracing was off).
	Traces *TracesSummary `json:"traces,omitempty"`
}

// ErrorKind classifies a failed run for the exit code.
type ErrorKind int

// Error kinds: the user's input (exit 2), the platform (exit 3), an
// interrupt (exit 130).
const (
	KindInput ErrorKind = iota + 1
	KindPlatform
	KindInterrupted
)

// Error is a run that could not complete.
type Error struct {
	Kind ErrorKind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func inputErr(err error) error    { return &Error{Kind: KindInput, Err: err} }
func platformErr(err error) error { return &Error{Kind: KindPlatform, Err: err} }

// Run executes the scenario: deploy, before, apply, after, evaluate,
// teardown. Events (may be nil) receives progress; Run never closes it and
// never blocks on it for long (a full channel drops progress events, never
// phase events). Teardown happens on every path, including ctx cancellation.
//
// Where the pattern is a policy (retries, breaking, splits, timeouts,
// limits, faults) both phases run on one deployment and the control plane
// pushes the pattern between them; where it changes the topology (the
// sidecar pattern) the platform deploys the system without sidecars for the
// before phase and redeploys it with sidecars for the after phase.
func Run(ctx context.Context, sc *scenarios.Scenario, opts Options, events chan<- Event) (res *Result, err error) {
	if sc == nil {
		return nil, inputErr(errors.New("no scenario"))
	}
	em := emitter{ch: events}
	if opts.Platform == nil {
		lp := local.New(local.Executables{})
		if n := lp.Note(); n != "" {
			em.log("note: " + n)
		}
		opts.Platform = lp
	}
	if opts.Seed == 0 {
		opts.Seed = randomSeed()
	}
	if opts.EntryPort == 0 {
		opts.EntryPort = local.DefaultEntryPort
	} else if opts.EntryPort < 0 {
		opts.EntryPort = 0
	}
	if opts.Settle == 0 {
		opts.Settle = 200 * time.Millisecond
	}
	if opts.Mesh == "" {
		opts.Mesh = DefaultMesh
	}
	if opts.Profile == "" {
		opts.Profile = scenarioMesh(sc)
	}
	if opts.OpenMesh == nil {
		opts.OpenMesh = DefaultOpener
	}

	// The mesh checks the input (a plugin that exists, a profile it knows,
	// a pattern and platform it supports) before anything is created: bad
	// input leaves no run behind in the results store.
	mesh, info, err := openMesh(ctx, opts.OpenMesh, opts.Mesh, opts.Profile, opts.Platform.Name(), sc)
	if err != nil {
		return nil, err
	}
	defer mesh.client.Close()
	// The knobs and notes of the configuration the proxies will run (the
	// builtin plugin's sidecar format where the plugin has one).
	format := ""
	if contains(info.Formats, "sidecar") {
		format = "sidecar"
	}
	rendered, err := mesh.client.Render(ctx, plugins.RenderRequest{Profile: opts.Profile, Format: format, Topology: sc.Topology, Pattern: sc.Phase(true)})
	if err != nil {
		return nil, renderErr(ctx, sc, opts, err, false)
	}
	renderedOff, err := mesh.client.Render(ctx, plugins.RenderRequest{Profile: opts.Profile, Format: format, Topology: sc.Topology, Pattern: sc.Phase(false)})
	if err != nil {
		return nil, renderErr(ctx, sc, opts, err, false)
	}

	if opts.RunDir == "" {
		dir, err := newRunDir(filepath.Join(".meshgym", "runs"), time.Now().Format("20060102-150405")+"-"+safeName(sc.Name))
		if err != nil {
			return nil, platformErr(err)
		}
		opts.RunDir = dir
	}
	if err := os.MkdirAll(opts.RunDir, 0o755); err != nil {
		return nil, platformErr(fmt.Errorf("create run directory %s: %w", opts.RunDir, err))
	}
	res = &Result{Scenario: sc, Source: sc.Source, Platform: opts.Platform.Name(), Seed: opts.Seed, RunDir: opts.RunDir,
		Mesh: opts.Mesh, Profile: opts.Profile, ID: filepath.Base(opts.RunDir),
		Versions: map[string]string{"meshgym": version.String(), "plugin": info.Version}}
	// result.json records every run, also one that stopped early: what was
	// measured until then is kept.
	defer func() {
		if err != nil {
			res.Error = err.Error()
		}
		if b, jerr := json.MarshalIndent(res, "", "  "); jerr == nil {
			_ = os.WriteFile(filepath.Join(opts.RunDir, "result.json"), b, 0o644)
		}
	}()
	res.Knobs, res.MeshNotes, res.BeforeKnobs = rendered.Knobs, rendered.Notes, renderedOff.Knobs
	for _, k := range rendered.Knobs {
		if k.Path == "profile" {
			res.Profile = k.Value // as resolved: "istio@1.27"
		}
	}
	// Install is idempotent and cheap for a mesh already in place (the
	// builtin mesh has nothing to install); removing a mesh is left to the
	// user, as reinstalling one per run would dominate the run.
	// A cluster platform (kind) names its cluster first, so the plugin
	// installs into and applies to the cluster the apps will run on.
	if cp, ok := opts.Platform.(sandbox.ClusterPlatform); ok {
		cl, err := cp.Cluster(ctx)
		if err != nil {
			return res, classify(ctx, platformErr(err))
		}
		mesh.cluster = &cl
	}
	if err := mesh.client.Install(ctx, plugins.InstallRequest{Platform: opts.Platform.Name(), Profile: opts.Profile, Cluster: mesh.cluster}); err != nil {
		return res, classifyMesh(ctx, err)
	}
	// The plugin dying ends the run: nothing could apply or observe the
	// pattern any more.
	ctx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	if died := mesh.client.Died(); died != nil {
		go func() {
			select {
			case err := <-died:
				cancelRun(platformErr(err))
			case <-ctx.Done():
			}
		}()
	}

	// Tracing starts before the deployment and stops after its teardown
	// (deferred first, so it runs after r.teardown), so the components'
	// last spans are in the run's span file.
	trc, err := startTracing(opts, em)
	if err != nil {
		return res, platformErr(err)
	}
	defer func() { res.Traces = trc.stop() }()
	r := &runner{sc: sc, opts: opts, em: em, res: res, mesh: mesh, counts: newEventCounts(), trace: trc}
	r.phase.Store(PhaseDeploy)
	defer r.teardown()

	redeploy := sc.Pattern.Kind == scenarios.KindSidecarProxy
	beforeTopo := sc.Topology
	if redeploy {
		beforeTopo = withoutSidecars(sc.Topology)
	}
	if err := r.deploy(ctx, beforeTopo, "without sidecars"); err != nil {
		return res, err
	}
	if res.Before, err = r.measure(PhaseBefore, "off"); err != nil {
		return res, err
	}
	if redeploy {
		r.teardown()
		if err := r.deploy(ctx, sc.Topology, "with sidecars"); err != nil {
			return res, err
		}
	} else {
		if err := r.mesh.apply(r.ctx, sc.Topology, r.dep, r.comps, sc.Phase(true)); err != nil {
			return res, classify(r.ctx, meshErr(err))
		}
		sleepCtx(r.ctx, opts.Settle)
	}
	if res.After, err = r.measure(PhaseAfter, sc.Pattern.Kind); err != nil {
		return res, err
	}
	res.Verdicts = verdict.EvaluateAll(sc.Conditions, res.Before.Snapshot, res.After.Snapshot)
	res.Passed = true
	for _, v := range res.Verdicts {
		if v.Status == verdict.Fail {
			res.Passed = false
		}
	}
	return res, nil
}

// withoutSidecars is the topology with every service's sidecar removed: the
// apps call each other directly.
func withoutSidecars(t scenarios.Topology) scenarios.Topology {
	out := t
	out.Services = make([]scenarios.Service, len(t.Services))
	for i, s := range t.Services {
		s.Sidecar = false
		out.Services[i] = s
	}
	return out
}

// runner holds one run's deployment and the machinery around it.
type runner struct {
	sc     *scenarios.Scenario
	opts   Options
	em     emitter
	res    *Result
	mesh   *meshConn
	counts *eventCounts
	phase  atomic.Value
	trace  *runTracing // nil = tracing off (tracing.go)

	dep    sandbox.Deployment
	comps  []sandbox.Component
	ctx    context.Context // cancelled when a component dies
	cancel context.CancelCauseFunc
}

// deploy starts the topology, pushes the pattern-off config to its sidecars
// and waits until every sidecar is ready.
func (r *runner) deploy(ctx context.Context, topo scenarios.Topology, what string) error {
	r.phase.Store(PhaseDeploy)
	detail := fmt.Sprintf("%s on %s (seed %d)", r.sc.Name, r.opts.Platform.Name(), r.opts.Seed)
	if r.sc.Pattern.Kind == scenarios.KindSidecarProxy {
		detail += ", " + what
	}
	r.em.phase(PhaseDeploy, true, detail)
	dep, derr := r.opts.Platform.Deploy(ctx, sandbox.DeploySpec{
		Topology: topo, RunDir: r.opts.RunDir, EntryPort: r.opts.EntryPort,
		EntryPortStrict: r.opts.EntryPortStrict, Seed: r.opts.Seed, ReadyTimeout: r.opts.ReadyTimeout,
		Env:  r.trace.env(),
		Logf: func(f string, a ...any) { r.em.log(fmt.Sprintf(f, a...)) },
	})
	r.dep = dep
	if derr != nil {
		return classify(ctx, derr)
	}
	r.comps = dep.Components()
	r.res.EntryURL = dep.EntryURL()
	r.res.Components = append(r.res.Components, r.comps...)

	// A component dying cancels the run with a clear cause.
	r.ctx, r.cancel = context.WithCancelCause(ctx)
	go func(runCtx context.Context, cancel context.CancelCauseFunc) {
		select {
		case ce := <-dep.Died():
			cancel(platformErr(ce))
		case <-runCtx.Done():
		}
	}(r.ctx, r.cancel)

	if err := r.mesh.apply(r.ctx, topo, dep, r.comps, r.sc.Phase(false)); err != nil {
		return classify(r.ctx, meshErr(err))
	}
	// meshgym's own sidecars answer /ready on their admin port; on a
	// cluster the platform's rollout wait already covered readiness (a
	// mesh's proxy has no meshgym admin API).
	if r.mesh.cluster == nil {
		if err := waitReady(r.ctx, r.comps, r.opts.ReadyTimeout); err != nil {
			return classify(r.ctx, platformErr(err))
		}
	}
	r.mesh.events(r.ctx, r.comps, func(pe *PolicyEvent) {
		pe.Phase = r.phase.Load().(string)
		r.counts.add(pe.Phase, pe.Kind, pe.Count)
		r.counts.keep(pe)
		r.em.send(pe, false)
	})
	r.em.phase(PhaseDeploy, false, fmt.Sprintf("%d components ready; entry %s", len(r.comps), r.res.EntryURL))
	return nil
}

// teardown stops the current deployment, if any.
func (r *runner) teardown() {
	if r.dep == nil {
		return
	}
	r.em.phase(PhaseTeardown, true, "")
	if r.cancel != nil {
		r.cancel(nil)
	}
	bound := 10 * time.Second
	if r.mesh.cluster != nil {
		// On a cluster the pattern's resources outlive the pods: take the
		// pattern out of force so the next run starts from the mesh's
		// defaults, and give the pods time to go.
		bound = 90 * time.Second
		rctx, rcancel := context.WithTimeout(context.Background(), 60*time.Second)
		err := r.mesh.client.Remove(rctx, plugins.ApplyRequest{Profile: r.mesh.profile, Platform: r.mesh.platform,
			Topology: r.sc.Topology, Cluster: r.mesh.cluster})
		rcancel()
		if err != nil {
			r.em.log("remove the pattern: " + err.Error())
		}
	}
	tctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := r.dep.Teardown(tctx); err != nil {
		r.em.log("teardown: " + err.Error())
	}
	r.dep = nil
	r.em.phase(PhaseTeardown, false, "")
}

// measure runs one phase's load and collects what every component counted,
// their CPU and memory, and the client's view.
func (r *runner) measure(name, pattern string) (*PhaseResult, error) {
	ctx := r.ctx
	r.phase.Store(name)
	r.em.phase(name, true, "pattern "+pattern)
	pr := &PhaseResult{Name: name, Pattern: pattern, Started: time.Now()}
	targets, err := r.mesh.scrapeURLs(ctx, r.comps)
	if err != nil {
		return nil, classify(ctx, meshErr(err))
	}
	sampler := metrics.NewSampler(pids(r.comps), time.Second)
	addProbes(sampler, r.dep, r.comps)
	sampler.Start(ctx)
	rec := metrics.NewTargetRecorder(targets, time.Second)
	rec.Mapping = r.mesh.mapping
	rec.Start(ctx)
	before, err := metrics.CollectTargets(ctx, targets, r.mesh.mapping)
	if err != nil {
		return nil, classify(ctx, platformErr(fmt.Errorf("scrape components: %w", err)))
	}
	sc := r.sc
	var tl timeline
	progress := func(p load.Progress) {
		tl.add(p)
		r.em.send(&ProgressEvent{Phase: name, Elapsed: p.Elapsed, Total: p.Total,
			Requests: p.Requests, Errors: p.Errors, RPS: p.RPS, Retries: r.counts.get(name, "retry"),
			Components: rec.Counts()}, true)
	}
	var lr *load.Result
	var canaryWeight *float64
	if rs := r.rolloutSpec(name); rs != nil {
		var final float64
		lr, pr.Rollout, final, err = r.rollout(ctx, *rs, progress)
		canaryWeight = &final
	} else {
		lr, err = load.Run(ctx, load.Spec{
			URL: r.res.EntryURL, RPS: sc.Load.RPS, Connections: sc.Load.Connections,
			Duration: sc.Load.Duration.D(), Seed: r.opts.Seed, Progress: progress,
			Tracing: r.trace.load(name),
		})
	}
	if err != nil {
		return nil, classify(ctx, platformErr(fmt.Errorf("load: %w", err)))
	}
	if ctx.Err() != nil {
		return nil, classify(ctx, ctx.Err())
	}
	// Let in-flight retries land before the counters are read.
	sleepCtx(ctx, 100*time.Millisecond)
	after, err := metrics.CollectTargets(ctx, targets, r.mesh.mapping)
	if err != nil {
		return nil, classify(ctx, platformErr(fmt.Errorf("scrape components: %w", err)))
	}
	rates := rec.Stop()
	resources := sampler.Stop()
	snap := metrics.Diff(before, after)
	snap.Client = lr.Client
	snap.Resources = resources
	snap.RequestRates = rates
	snap.CanaryWeight = canaryWeight
	pr.Load, pr.Snapshot, pr.Ended = lr, snap, time.Now()
	pr.PolicyEvents = r.counts.all(name)
	pr.Ejections = r.counts.ejections(name)
	pr.Timeline = tl.points(pr.Started, pr.Ejections)
	r.em.phase(name, false, fmt.Sprintf("%d requests, %d errors", lr.Client.Count, lr.Client.Errors))
	return pr, nil
}

// classify turns an error seen while ctx may be cancelled into the error
// that explains it: a component death or an interrupt beats the symptom.
func classify(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil {
		var e *Error
		if errors.As(cause, &e) {
			return e
		}
		// Any other cancellation comes from the caller: Ctrl-C, SIGTERM
		// (signal.NotifyContext's cause names the signal), or a deadline.
		return &Error{Kind: KindInterrupted, Err: fmt.Errorf("interrupted (%v); everything meshgym started was stopped", cause)}
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var pe *local.PortInUseError
	if errors.As(err, &pe) {
		return inputErr(err)
	}
	return platformErr(err)
}

func waitReady(ctx context.Context, comps []sandbox.Component, timeout time.Duration) error {
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for _, c := range comps {
		if c.Kind != sandbox.KindSidecar {
			continue
		}
		for {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.AdminURL+"/ready", nil)
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if ctx.Err() != nil {
				return fmt.Errorf("sidecar %s not ready after %s", c.Instance, timeout)
			}
			sleepCtx(ctx, 20*time.Millisecond)
		}
	}
	return nil
}

type eventCounts struct {
	mu   sync.Mutex
	m    map[string]map[string]int64
	ejct map[string][]PolicyEvent
}

// maxKeptEjections bounds the ejection events kept per phase.
const maxKeptEjections = 1000

func (c *eventCounts) keep(pe *PolicyEvent) {
	if pe.Kind != "ejection" && pe.Kind != "unejection" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ejct == nil {
		c.ejct = map[string][]PolicyEvent{}
	}
	if len(c.ejct[pe.Phase]) < maxKeptEjections {
		c.ejct[pe.Phase] = append(c.ejct[pe.Phase], *pe)
	}
}

func (c *eventCounts) ejections(phase string) []PolicyEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]PolicyEvent(nil), c.ejct[phase]...)
}

func newEventCounts() *eventCounts { return &eventCounts{m: map[string]map[string]int64{}} }

func (c *eventCounts) add(phase, kind string, n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[phase] == nil {
		c.m[phase] = map[string]int64{}
	}
	c.m[phase][kind] += n
}

func (c *eventCounts) get(phase, kind string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[phase][kind]
}

func (c *eventCounts) all(phase string) map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int64{}
	for k, v := range c.m[phase] {
		out[k] = v
	}
	return out
}

type emitter struct{ ch chan<- Event }

// send delivers an event; droppable events are dropped when the consumer is
// behind, others wait up to a second.
func (e emitter) send(ev Event, droppable bool) {
	if e.ch == nil {
		return
	}
	if droppable {
		select {
		case e.ch <- ev:
		default:
		}
		return
	}
	select {
	case e.ch <- ev:
	case <-time.After(time.Second):
	}
}

func (e emitter) phase(name string, start bool, detail string) {
	e.send(&PhaseEvent{Phase: name, Start: start, At: time.Now(), Detail: detail}, false)
}

func (e emitter) log(msg string) { e.send(&LogEvent{At: time.Now(), Msg: msg}, false) }

func pids(comps []sandbox.Component) map[string]int32 {
	out := map[string]int32{}
	for _, c := range comps {
		if c.PID != 0 {
			out[c.Instance] = c.PID
		}
	}
	return out
}

// addProbes samples the components that are not local processes
// (containers) through their deployment's ResourceReader.
func addProbes(s *metrics.Sampler, dep sandbox.Deployment, comps []sandbox.Component) {
	rr, ok := dep.(sandbox.ResourceReader)
	if !ok {
		return
	}
	for _, c := range comps {
		if c.PID != 0 {
			continue
		}
		inst := c.Instance
		s.AddProbe(inst, func(ctx context.Context) (float64, float64, error) {
			cpu, mb, err := rr.ReadResources(ctx, inst)
			if errors.Is(err, sandbox.ErrGone) {
				err = errors.Join(metrics.ErrGone, err)
			}
			return cpu, mb, err
		})
	}
}

func randomSeed() int64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return time.Now().UnixNano()
	}
	s := int64(binary.LittleEndian.Uint64(b[:]) & 0x7fffffffffff)
	if s == 0 {
		s = 1
	}
	return s
}

// newRunDir creates a directory under parent named base, or base-2, base-3 …
// when taken (two runs started in the same second), so a run never writes
// into another run's directory.
func newRunDir(parent, base string) (string, error) {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("create run directory: %w", err)
	}
	for i := 1; i < 1000; i++ {
		dir := filepath.Join(parent, base)
		if i > 1 {
			dir += fmt.Sprintf("-%d", i)
		}
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("create run directory: %w", err)
		}
	}
	return "", fmt.Errorf("create run directory: too many runs named %s in %s", base, parent)
}

func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, s)
	if s == "" {
		return "scenario"
	}
	return s
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
