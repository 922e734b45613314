package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"meshgym/engine"
	"meshgym/report"
	"meshgym/results"
	"meshgym/scenarios"
)

// defaultCompareMeshes are the profiles `meshgym compare` runs when
// --mesh is not given: the book's simplified semantics and three meshes.
const defaultCompareMeshes = "book,istio,linkerd,consul"

type compareFlags struct {
	runFlags
	meshes     string
	runs       string
	resultsDir string
}

func newCompareCmd() *cobra.Command {
	f := &compareFlags{}
	c := &cobra.Command{
		Use:   "compare SCENARIO --mesh A,B,… | compare --runs ID,ID,…",
		Short: "Run one scenario under several meshes (or compare stored runs) side by side",
		Long: `Run the same scenario under each mesh profile in turn — same load, same seed —
and print one table: each success condition's measured value per mesh, then
the figures worth a learner's attention (requests the failing version still
received, calls per client request from retries, ejections, time to eject,
client errors, p99), and for every figure that differs the knobs that differ
behind it and where each came from (the scenario or the mesh's default).

Profiles are the builtin mesh's semantics profiles (see 'meshgym plugin
list'): book, envoy, istio, linkerd, consul, kuma; name a release with @,
e.g. istio@1.23. Every run is stored like 'meshgym run' stores it, so
'meshgym compare --runs' can compare them again later, also with runs of
another day ('meshgym results list' shows the IDs).

Exit code: 0 when every run completed (conditions may fail under some
meshes: that is what a comparison shows), 2 for bad input, 3 when a run
could not complete, 130 on Ctrl-C.`,
		Example: `  meshgym compare circuit-breaking --mesh book,istio --duration 30s
  meshgym compare retries --mesh istio@1.23,istio --set currency_v2.errorCode=503 -d 20s
      (Istio ≤ 1.23 retried an app's 503 by default: see the BEFORE table)
  meshgym compare retries --output json > compare.json
  meshgym compare --runs 20261129-101500-retries,last`,
		Args: func(c *cobra.Command, args []string) error {
			if c.Flags().Changed("runs") {
				if strings.TrimSpace(strings.ReplaceAll(f.runs, ",", "")) == "" {
					return usageErr("--runs: give stored run IDs, e.g. --runs ID,last ('meshgym results list' shows them)")
				}
				return exactArgs(0, "no SCENARIO with --runs")(c, args)
			}
			return exactArgs(1, "SCENARIO (a built-in name or a file)")(c, args)
		},
		RunE: func(c *cobra.Command, args []string) error {
			if f.runs != "" {
				return compareStored(c, f)
			}
			return compareMeshes(c, args[0], f)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.meshes, "mesh", defaultCompareMeshes, "comma-separated mesh profiles to run under")
	fl.StringVar(&f.runs, "runs", "", "compare stored runs instead: comma-separated IDs, unique ID prefixes or 'last'")
	fl.StringVar(&f.resultsDir, "results-dir", "", "where stored runs are (default $MESHGYM_RESULTS or .meshgym/runs)")
	fl.DurationVarP(&f.duration, "duration", "d", 0, "load duration of each phase, e.g. 20s (default: the scenario's)")
	fl.Float64Var(&f.rps, "rps", 0, "total requests per second (default: the scenario's)")
	fl.IntVarP(&f.connections, "connections", "c", 0, "concurrent connections (default: the scenario's)")
	fl.Int64Var(&f.seed, "seed", 0, "seed shared by every run (default: a new one, printed)")
	fl.StringVarP(&f.output, "output", "o", "text", "format: text or json")
	fl.IntVar(&f.port, "port", 0, "port of the entry service; 0 = any free port")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress output")
	fl.StringArrayVar(&f.set, "set", nil, "change a knob in every run, as with run --set")
	f.platform = addPlatformFlag(c)
	return c
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func compareMeshes(c *cobra.Command, arg string, f *compareFlags) error {
	if err := checkFlags(c, &f.runFlags); err != nil {
		return err
	}
	meshes := splitList(f.meshes)
	if len(meshes) < 2 {
		return usageErr("--mesh: name at least two profiles to compare, e.g. --mesh book,istio (got %q)", f.meshes)
	}
	seen := map[string]bool{}
	for _, m := range meshes {
		if seen[m] {
			return usageErr("--mesh: %s is named twice", m)
		}
		seen[m] = true
	}
	// Every profile is checked before anything runs: a typo in the last
	// one must not cost the user the first runs; two names of one release
	// (istio, istio@1.27) would only repeat a run.
	resolved := map[string]string{}
	for _, m := range meshes {
		sc, opts, err := scenarioUnder(c, arg, f, m)
		if err != nil {
			return err
		}
		r, err := engine.Explain(c.Context(), sc, opts, "")
		if err != nil {
			return engineExit(fmt.Errorf("--mesh %s: %w", m, err))
		}
		spec := opts.Mesh + ":" + m
		for _, k := range r.Knobs {
			if k.Path == "profile" {
				spec = k.Value
			}
		}
		if prev, ok := resolved[spec]; ok {
			return usageErr("--mesh: %s and %s are the same profile (%s); name each once", prev, m, spec)
		}
		resolved[spec] = m
	}
	seed := f.seed
	if !c.Flags().Changed("seed") {
		seed = time.Now().UnixNano() & (1<<53 - 1)
		f.seed = seed
		_ = c.Flags().Set("seed", fmt.Sprint(seed))
	}
	stderr := c.ErrOrStderr()
	var runs []*engine.Result
	var labels []string
	failed := false
	for i, m := range meshes {
		sc, opts, err := scenarioUnder(c, arg, f, m)
		if err != nil {
			return err
		}
		if !f.quiet {
			fmt.Fprintf(stderr, "\n━━ %s under %s (%d of %d, %s per phase, seed %d)\n", sc.Name, m, i+1, len(meshes), sc.Load.Duration.D(), seed)
		}
		res, err := runEngine(c, sc, opts, f.quiet)
		if err != nil {
			var ee *exitError
			if errors.As(err, &ee) && (ee.code == exitInterrupted || ee.code == exitUsage) {
				return err
			}
			failed = true
			if res == nil {
				res = &engine.Result{Scenario: sc, Mesh: opts.Mesh, Profile: m}
			}
			res.Error = err.Error()
		}
		runs = append(runs, res)
		labels = append(labels, m)
	}
	if err := printComparison(c, report.Compare(runs, labels), f.output); err != nil {
		return err
	}
	if failed {
		return &exitError{code: exitPlatform, err: errors.New("")}
	}
	return nil
}

// scenarioUnder loads the scenario afresh (each run gets its own copy,
// with the flags applied) and the engine options for mesh m.
func scenarioUnder(c *cobra.Command, arg string, f *compareFlags, m string) (*scenarios.Scenario, engine.Options, error) {
	sc, err := loadScenario(arg)
	if err != nil {
		return nil, engine.Options{}, err
	}
	rf := f.runFlags
	platformName := ""
	if rf.platform != nil {
		platformName = *rf.platform
	}
	if platformName == "kind" {
		// Each real mesh runs on its own cluster (meshgym-MESH).
		rf.mesh = m
	}
	opts, err := prepare(c, sc, &rf)
	if err != nil {
		return nil, engine.Options{}, err
	}
	setMesh(&opts, m, platformName)
	return sc, opts, nil
}

func compareStored(c *cobra.Command, f *compareFlags) error {
	if f.output != "text" && f.output != "json" {
		return usageErr("--output: unknown format %q; use text or json", f.output)
	}
	refs := splitList(f.runs)
	if len(refs) < 2 {
		return usageErr("--runs: name at least two stored runs, e.g. --runs ID,last (got %q); 'meshgym results list' shows them", f.runs)
	}
	// The flags of a new comparison mean nothing for stored runs.
	for _, name := range []string{"mesh", "duration", "rps", "connections", "seed", "port", "set"} {
		if c.Flags().Changed(name) {
			return usageErr("--%s cannot be used with --runs: stored runs are compared as they were measured", name)
		}
	}
	store := results.Open(f.resultsDir)
	var runs []*engine.Result
	var labels []string
	for _, ref := range refs {
		res, err := store.Load(ref)
		if err != nil {
			return usageErr("--runs: %v", err)
		}
		runs = append(runs, res)
	}
	seen := map[string]string{}
	for i, r := range runs {
		if prev, ok := seen[r.ID]; ok {
			return usageErr("--runs: %s and %s are the same run (%s)", prev, refs[i], r.ID)
		}
		seen[r.ID] = refs[i]
		if r.Scenario == nil || runs[0].Scenario == nil {
			return usageErr("--runs: run %s has no scenario recorded; it cannot be compared", r.ID)
		}
		if r.Scenario.Name != runs[0].Scenario.Name {
			return usageErr("--runs: %s is a run of %s and %s one of %s; compare runs of one scenario", runs[0].ID, runs[0].Scenario.Name, r.ID, r.Scenario.Name)
		}
	}
	labels = storedLabels(runs)
	fmt.Fprintln(c.ErrOrStderr(), "runs:")
	for i, r := range runs {
		fmt.Fprintf(c.ErrOrStderr(), "  %-14s %s\n", labels[i], r.ID)
	}
	return printComparison(c, report.Compare(runs, labels), f.output)
}

func printComparison(c *cobra.Command, cmp *report.Comparison, output string) error {
	out := c.OutOrStdout()
	if output == "json" {
		if err := report.CompareJSON(out, cmp); err != nil {
			return &exitError{code: exitPlatform, err: err}
		}
		return nil
	}
	fmt.Fprintln(out)
	report.CompareText(out, cmp, isTTY(out) && os.Getenv("NO_COLOR") == "")
	return nil
}

// storedLabels names stored runs by profile, numbered where profiles
// repeat ("istio@1.27 #2"); the IDs are listed beside the table.
func storedLabels(runs []*engine.Result) []string {
	count := map[string]int{}
	for _, r := range runs {
		count[profileOf(r)]++
	}
	n := map[string]int{}
	out := make([]string, len(runs))
	for i, r := range runs {
		p := profileOf(r)
		out[i] = p
		if count[p] > 1 {
			n[p]++
			out[i] = fmt.Sprintf("%s #%d", p, n[p])
		}
	}
	return out
}

func profileOf(r *engine.Result) string {
	if r.Profile != "" {
		return r.Profile
	}
	if r.Mesh != "" {
		return r.Mesh
	}
	return "run"
}
