// Package report renders a run's result: the summary block and results
// table of the book's layout (before and after side by side), the traffic
// each component received, and JSON for programs. It only formats; it
// measures and decides nothing.
package report

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"meshgym/engine"
	"meshgym/load"
	"meshgym/metrics"
	"meshgym/scenarios"
	"meshgym/verdict"
)

// TextOptions tune the text report.
type TextOptions struct {
	// Color marks verdicts with ANSI colours (off when NO_COLOR is set or
	// the output is not a terminal).
	Color bool
}

// Text writes the human-readable report of a run: a header (scenario,
// mesh and semantics profile, platform, seed, load, run directory and the
// command line that repeats the run), the mesh plugin's notes, the summary
// of the client's view per phase, the traffic each component received,
// resources and rollout steps where they apply, and the verdicts.
//
// A run that stopped early (Result.Error set) says so at the top with the
// reason, shows only the phases it measured, and lists its conditions as
// not evaluated rather than missing.
//
// A nil res writes nothing; a res without a Scenario (not a meshgym
// result; results.Load refuses those) is shown with an empty one rather
// than panicking.
func Text(w io.Writer, res *engine.Result, opts TextOptions) {
	if res == nil {
		return
	}
	if res.Scenario == nil {
		r := *res
		r.Scenario = &scenarios.Scenario{Name: "(no scenario recorded)"}
		res = &r
	}
	sc := res.Scenario
	fmt.Fprintf(w, "\nmeshgym · %s (%s)%s · platform %s · seed %d\n", sc.Name, res.Source, meshText(res), res.Platform, res.Seed)
	fmt.Fprintf(w, "load: %s per phase, %s on %s against %s\n",
		sc.Load.Duration.D(), rateText(sc.Load.RPS), plural(sc.Load.Connections, "connection"), res.EntryURL)
	fmt.Fprintf(w, "run directory: %s   (repeat with %s)\n", res.RunDir, repeatFlags(res))
	if res.Error != "" {
		fmt.Fprintf(w, "STOPPED EARLY: %s\n", oneLine(res.Error))
		fmt.Fprintf(w, "measured: %s\n", measuredText(res))
	}
	if len(res.MeshNotes) > 0 {
		fmt.Fprintln(w, "Mesh notes:")
		for _, n := range res.MeshNotes {
			fmt.Fprintf(w, "  - %s\n", oneLine(n))
		}
	}
	fmt.Fprintln(w)

	summary(w, res)
	traffic(w, res)
	resources(w, res)
	rollout(w, res)
	results(w, res, opts)
}

// meshText is the header's mesh part: " · mesh builtin, profile istio@1.27"
// ("" for a result that recorded no mesh).
func meshText(res *engine.Result) string {
	switch {
	case res.Mesh == "" && res.Profile == "":
		return ""
	case res.Profile == "":
		return " · mesh " + res.Mesh
	case res.Mesh == "":
		return " · profile " + res.Profile
	}
	return fmt.Sprintf(" · mesh %s, profile %s", res.Mesh, res.Profile)
}

// repeatFlags are the flags of `meshgym run` that repeat the run: the seed,
// and --mesh unless the run used the builtin plugin's book profile (the
// default).
func repeatFlags(res *engine.Result) string {
	s := fmt.Sprintf("--seed %d", res.Seed)
	switch {
	case res.Mesh != "" && res.Mesh != engine.DefaultMesh:
		s += " --mesh " + res.Mesh
	case res.Profile != "" && res.Profile != "book":
		s += " --mesh " + res.Profile
	}
	// The phases' length and the platform, so the hint repeats the run
	// as it was (a shortened run is the common case).
	if res.Scenario != nil && res.Scenario.Load.Duration > 0 {
		s += " -d " + res.Scenario.Load.Duration.D().String()
	}
	if res.Platform != "" && res.Platform != "local" {
		s += " --platform " + res.Platform
	}
	return s
}

// measuredText says which phases a stopped run measured.
func measuredText(res *engine.Result) string {
	var done []string
	for _, p := range []*engine.PhaseResult{res.Before, res.After} {
		if p != nil && (p.Load != nil || p.Snapshot != nil) {
			done = append(done, "the "+p.Name+" phase")
		}
	}
	switch len(done) {
	case 0:
		return "nothing (the run stopped before a phase completed)"
	case 1:
		return done[0] + " only; the report shows just that"
	}
	return strings.Join(done, " and ")
}

// column is one measured phase of the summary and traffic tables.
type column struct {
	title  string
	client *load.ClientView
	snap   *metrics.Snapshot
}

// columns are the phases to show: both for a completed run (a phase
// without data shows as —), only the measured ones for a stopped run.
func columns(res *engine.Result) []column {
	sc := res.Scenario
	all := []column{
		{"Before (pattern off)", clientOf(res.Before), snapOf(res.Before)},
		{"After (" + patternName(sc) + ")", clientOf(res.After), snapOf(res.After)},
	}
	if res.Error == "" {
		return all
	}
	var out []column
	for _, c := range all {
		if c.client != nil || c.snap != nil {
			out = append(out, c)
		}
	}
	return out
}

// summary prints the client's view of each phase in the book's layout.
func summary(w io.Writer, res *engine.Result) {
	var cols []column
	for _, c := range columns(res) {
		if c.client != nil || res.Error == "" {
			cols = append(cols, c)
		}
	}
	if len(cols) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprint(tw, "Summary:")
	for _, c := range cols {
		fmt.Fprintf(tw, "\t%s", c.title)
	}
	fmt.Fprintln(tw)
	row := func(label string, f func(c *load.ClientView) string) {
		fmt.Fprintf(tw, "  %s", label)
		for _, c := range cols {
			fmt.Fprintf(tw, "\t%s", orDash(c.client, f))
		}
		fmt.Fprintln(tw)
	}
	row("Total:", func(c *load.ClientView) string { return fmt.Sprintf("%.4f secs", c.DurationS) })
	row("Slowest:", func(c *load.ClientView) string { return msShort(c.MaxS) })
	row("Fastest:", func(c *load.ClientView) string { return msShort(c.MinS) })
	row("Average:", func(c *load.ClientView) string { return msShort(c.MeanS) })
	row("p50 / p90 / p99:", func(c *load.ClientView) string {
		return fmt.Sprintf("%s / %s / %s", msShort(c.P50S), msShort(c.P90S), msShort(c.P99S))
	})
	row("Requests/sec:", func(c *load.ClientView) string {
		s := fmt.Sprintf("%.1f", c.ActualRPS)
		if c.PlannedRPS > 0 {
			s += fmt.Sprintf(" (planned %g)", c.PlannedRPS)
		}
		return s
	})
	row("Requests:", func(c *load.ClientView) string { return strconv.FormatInt(c.Count, 10) })
	row("Status codes:", func(c *load.ClientView) string { return statusText(c.StatusCodes) })
	row("Total data:", func(c *load.ClientView) string { return fmt.Sprintf("%d bytes", c.TotalBytes) })
	row("Size/request:", func(c *load.ClientView) string { return fmt.Sprintf("%.0f bytes", c.SizePerRequest) })
	tw.Flush()
	before, after := clientOf(res.Before), clientOf(res.After)
	for i, c := range []*load.ClientView{before, after} {
		if c != nil && c.FellBehind {
			fmt.Fprintf(w, "  warning (%s): the load generator fell behind its planned rate: %s\n",
				[]string{"before", "after"}[i], c.FellBehindReason)
		}
	}
	if after != nil && after.StatusCodes[load.SocketErrorCode] > 0 {
		fmt.Fprintf(w, "  warning (after): %d requests got no response at all (socket errors; too many connections or timeouts?); the conditions below count only what the components received\n",
			after.StatusCodes[load.SocketErrorCode])
	}
	exact := (before == nil || before.Exact) && (after == nil || after.Exact) && (before != nil || after != nil)
	if r := resolution(before, after); exact {
		fmt.Fprintln(w, "  (latencies are client-side, timed from each request's actual send; percentiles exact over every request)")
		fmt.Fprintln(w)
	} else if r > 0 {
		fmt.Fprintf(w, "  (latencies are client-side, timed from each request's actual send; histogram resolution %s)\n\n", msShort(r))
	} else if before != nil || after != nil {
		fmt.Fprintln(w, "  (latencies are client-side, timed from each request's actual send)")
		fmt.Fprintln(w)
	} else {
		fmt.Fprintln(w)
	}
}

// resources prints CPU and memory of every component in both phases
// (sampled each second), when the scenario is about them (the sidecar
// pattern) or a condition asks for them.
func resources(w io.Writer, res *engine.Result) {
	b, a := snapOf(res.Before), snapOf(res.After)
	if a == nil || len(a.Resources) == 0 || !wantsResources(res) {
		return
	}
	names := map[string]bool{}
	for _, s := range []*metrics.Snapshot{b, a} {
		if s == nil {
			continue
		}
		for n := range s.Resources {
			names[n] = true
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	fmt.Fprintln(w, "Resources (sampled each second: CPU seconds per second p50 / p99, resident memory min–max):")
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "  COMPONENT\tBEFORE\tAFTER")
	cell := func(s *metrics.Snapshot, n string) string {
		if s == nil || s.Resources[n] == nil {
			return "—"
		}
		p50, _, ok1 := s.CPUSecondsQuantile(n, 0.5)
		p99, _, _ := s.CPUSecondsQuantile(n, 0.99)
		lo, _, ok2 := s.MemoryMBMin(n)
		hi, _, _ := s.MemoryMBMax(n)
		if !ok1 || !ok2 {
			return "too few samples"
		}
		return fmt.Sprintf("cpu %.3f / %.3f  mem %.1f–%.1f MB", p50, p99, lo, hi)
	}
	for _, n := range sorted {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", n, cell(b, n), cell(a, n))
	}
	tw.Flush()
	fmt.Fprintln(w)
}

func wantsResources(res *engine.Result) bool {
	if res.Scenario.Pattern.Kind == scenarios.KindSidecarProxy {
		return true
	}
	for _, c := range res.Scenario.Conditions {
		if strings.HasPrefix(c.Metric, "cpu_seconds") || strings.HasPrefix(c.Metric, "memory_megabytes") {
			return true
		}
	}
	return false
}

// rollout prints the steps of a progressive canary rollout.
func rollout(w io.Writer, res *engine.Result) {
	if res.After == nil || len(res.After.Rollout) == 0 {
		return
	}
	fmt.Fprintln(w, "Rollout (after phase; each step runs until the canary has its sample, or its time cap):")
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "  STEP\tCANARY WEIGHT\tTIME\tCANARY REQUESTS\tCANARY ERRORS\tP99 CANARY / BASELINE\tDECISION")
	for i, st := range res.After.Rollout {
		fmt.Fprintf(tw, "  %d\t%.0f%%\t%s\t%.0f\t%.0f (%.1f%%)\t%s / %s\t%s\n", i+1, st.Weight, st.Duration,
			st.CanaryRequests, st.CanaryErrors, st.CanaryErrorRate, msShort(st.CanaryP99), msShort(st.BaselineP99), st.Decision)
	}
	tw.Flush()
	last := res.After.Rollout[len(res.After.Rollout)-1]
	outcome := "promoted: the canary takes 100% of the traffic"
	if last.Decision == "rollback" {
		outcome = "rolled back to 0%: " + last.Reason
	}
	fmt.Fprintf(w, "  outcome: %s\n\n", outcome)
}

// traffic prints the requests each component received (counted at its
// sidecar's inbound), with the ratio to its caller service's count.
func traffic(w io.Writer, res *engine.Result) {
	sc := res.Scenario
	var cols []column
	for _, c := range columns(res) {
		if c.snap != nil || res.Error == "" {
			cols = append(cols, c)
		}
	}
	if snapOf(res.Before) == nil && snapOf(res.After) == nil {
		return
	}
	callerOf := map[string]string{}
	for _, svc := range sc.Topology.Services {
		for _, up := range svc.Upstreams {
			callerOf[up] = svc.Name
		}
	}
	fmt.Fprintln(w, "Traffic (requests each component received, counted at its inbound; ×caller = ratio to the calling service;")
	fmt.Fprintln(w, "a sample app answers 500 when a call to its upstream fails, as fake-service does, so a 429, 503 or 504")
	fmt.Fprintln(w, "from a sidecar shows as 500 one hop further up):")
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprint(tw, "  COMPONENT")
	for _, c := range cols {
		fmt.Fprintf(tw, "\t%s", strings.ToUpper(strings.Fields(c.title)[0]))
	}
	fmt.Fprintln(tw)
	for _, svc := range sc.Topology.Services {
		names := []string{}
		for _, v := range svc.Versions {
			names = append(names, v.Name)
		}
		if len(names) > 1 || names[0] != svc.Name {
			names = append(names, svc.Name)
		}
		for _, n := range names {
			label := n
			if n == svc.Name && len(svc.Versions) > 1 {
				label = n + " (all)"
			}
			fmt.Fprintf(tw, "  %s", label)
			for _, c := range cols {
				fmt.Fprintf(tw, "\t%s", trafficCell(c.snap, n, callerOf[svc.Name]))
			}
			fmt.Fprintln(tw)
		}
	}
	tw.Flush()
	for _, c := range []*load.ClientView{clientOf(res.Before), clientOf(res.After)} {
		if c != nil && c.WarmupRequests > 0 {
			fmt.Fprintf(w, "  (as fast as possible, the load generator opens each connection with a warm-up request: the entry counts %d more than the summary)\n", c.WarmupRequests)
			break
		}
	}
	for _, p := range []*engine.PhaseResult{res.Before, res.After} {
		if p == nil || p.Snapshot == nil {
			continue
		}
		var parts []string
		for _, cl := range sortedKeys(p.Snapshot.Retries) {
			parts = append(parts, fmt.Sprintf("%s %.0f", cl, p.Snapshot.Retries[cl]))
		}
		if len(parts) == 0 {
			parts = []string{"none"}
		}
		fmt.Fprintf(w, "  retries %s: %s\n", p.Name, strings.Join(parts, ", "))
	}
	for _, p := range []*engine.PhaseResult{res.Before, res.After} {
		if p == nil || len(p.Ejections) == 0 {
			continue
		}
		fmt.Fprintf(w, "  ejections %s (time since the phase started):\n", p.Name)
		for i, e := range p.Ejections {
			if i == maxEjectionLines {
				fmt.Fprintf(w, "    … %d more in result.json\n", len(p.Ejections)-i)
				break
			}
			fmt.Fprintf(w, "    %8.1fs  %-10s %s by %s: %s\n", e.At.Sub(p.Started).Seconds(), e.Kind, e.Endpoint, e.Component, e.Detail)
		}
	}
	fmt.Fprintln(w)
}

// maxEjectionLines bounds the ejection events the text report lists.
const maxEjectionLines = 20

func trafficCell(s *metrics.Snapshot, name, caller string) string {
	if s == nil {
		return "—"
	}
	total, byCode := countOf(s, name)
	if total == 0 {
		return "0"
	}
	out := fmt.Sprintf("%.0f (%s)", total, statusTextF(byCode))
	if caller != "" {
		if ct, _ := countOf(s, caller); ct > 0 {
			out += fmt.Sprintf(" %.2f×caller", total/ct)
		}
	}
	return out
}

// countOf sums the inbound requests of a component or a whole service.
func countOf(s *metrics.Snapshot, name string) (float64, map[int]float64) {
	total, by := 0.0, map[int]float64{}
	for _, r := range s.Requests {
		if metrics.MatchName(name, r.Name) {
			total += r.Count
			by[r.StatusCode] += r.Count
		}
	}
	return total, by
}

func results(w io.Writer, res *engine.Result, opts TextOptions) {
	if len(res.Verdicts) == 0 {
		switch n := len(res.Scenario.Conditions); {
		case res.Error != "" && n > 0:
			fmt.Fprintf(w, "Results: not evaluated: the run stopped early (the scenario has %s):\n", plural(n, "success condition"))
			for _, c := range res.Scenario.Conditions {
				fmt.Fprintf(w, "  %s\n", c.Text)
			}
		case res.Error != "":
			fmt.Fprintln(w, "Results: none: the run stopped early, and the scenario has no success conditions.")
		default:
			fmt.Fprintln(w, "Results: the scenario has no success conditions.")
		}
		return
	}
	fmt.Fprintln(w, "Results:")
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "  CONDITION\tBEFORE\tAFTER\tTARGET\tVERDICT")
	var notes []string
	pass, fail, warn := 0, 0, 0
	for i, v := range res.Verdicts {
		st := string(v.Status)
		switch v.Status {
		case verdict.Pass:
			pass++
		case verdict.Fail:
			fail++
		case verdict.Warn:
			warn++
		}
		if v.Reason != "" && v.Status != verdict.Pass {
			notes = append(notes, fmt.Sprintf("  [%d] %s: %s", i+1, v.Condition.Text, v.Reason))
			st += fmt.Sprintf(" [%d]", i+1)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", v.Condition.Text, value(v.Before), value(v.After), target(v.Condition), colour(st, v.Status, opts.Color))
	}
	tw.Flush()
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
	fmt.Fprintf(w, "\n%d passed, %d failed, %d undecided (WARN) of %d conditions.\n", pass, fail, warn, len(res.Verdicts))
	if warn > 0 {
		fmt.Fprintln(w, "WARN: the measurement misses the target, but by less than the sampling noise of a sample this size, so the run cannot decide; it does not fail the run (exit 0). A longer run, or a tolerance wider than the noise, decides.")
	}
}

func value(r verdict.Result) string {
	if !r.Known {
		return "n/a"
	}
	s := fmtUnit(r.Value, r.Unit)
	if r.Share {
		s += fmt.Sprintf(" (%.0f/%d)", r.Count, r.N)
	}
	return s
}

func target(c scenarios.Condition) string {
	u := c.Unit
	v := c.Value
	switch u {
	case "ms":
		v *= 1000
	}
	s := fmt.Sprintf("%s %s%s", c.Op, strconv.FormatFloat(v, 'f', -1, 64), u)
	if c.Tolerance != nil {
		if c.Share || c.Unit == "%" {
			s += fmt.Sprintf(" ±%g pts", *c.Tolerance)
		} else {
			s += fmt.Sprintf(" ±%g%%", *c.Tolerance)
		}
	}
	return s
}

func fmtUnit(v float64, unit string) string {
	switch unit {
	case verdict.UnitPercent:
		return fmt.Sprintf("%.2f%%", v)
	case verdict.UnitSeconds:
		return msShort(v)
	case verdict.UnitMB:
		return fmt.Sprintf("%.1f MB", v)
	case verdict.UnitRPS:
		return fmt.Sprintf("%.1f req/s", v)
	case verdict.UnitCPU:
		return fmt.Sprintf("%.3f cpu-s", v)
	case verdict.UnitRatio:
		return fmt.Sprintf("%.2f×", v)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func colour(s string, st verdict.Status, on bool) string {
	if !on {
		return s
	}
	switch st {
	case verdict.Pass:
		return "\033[32m" + s + "\033[0m"
	case verdict.Fail:
		return "\033[31m" + s + "\033[0m"
	case verdict.Warn:
		return "\033[33m" + s + "\033[0m"
	}
	return s
}

func clientOf(p *engine.PhaseResult) *load.ClientView {
	if p == nil || p.Load == nil {
		return nil
	}
	return &p.Load.Client
}

func snapOf(p *engine.PhaseResult) *metrics.Snapshot {
	if p == nil {
		return nil
	}
	return p.Snapshot
}

func orDash(c *load.ClientView, f func(*load.ClientView) string) string {
	if c == nil {
		return "—"
	}
	return f(c)
}

func resolution(cs ...*load.ClientView) float64 {
	for _, c := range cs {
		if c != nil && c.ResolutionS > 0 {
			return c.ResolutionS
		}
	}
	return 0
}

func msShort(s float64) string {
	switch {
	case s >= 1:
		return fmt.Sprintf("%.3fs", s)
	case s >= 0.001:
		return fmt.Sprintf("%.2fms", s*1000)
	default:
		return fmt.Sprintf("%.0fµs", s*1e6)
	}
}

func rateText(rps float64) string {
	if rps <= 0 {
		return "as fast as possible"
	}
	return fmt.Sprintf("%g req/s", rps)
}

func patternName(sc *scenarios.Scenario) string {
	if sc.Pattern.Kind == "" {
		return "pattern"
	}
	return sc.Pattern.Kind
}

func statusText(m map[int]int64) string {
	f := map[int]float64{}
	for k, v := range m {
		f[k] = float64(v)
	}
	return statusTextF(f)
}

func statusTextF(m map[int]float64) string {
	codes := make([]int, 0, len(m))
	for c, n := range m {
		if n != 0 {
			codes = append(codes, c)
		}
	}
	sort.Ints(codes)
	parts := make([]string, 0, len(codes))
	for _, c := range codes {
		label := strconv.Itoa(c)
		if c <= 0 {
			label = "socket error"
		}
		parts = append(parts, fmt.Sprintf("%s: %.0f", label, m[c]))
	}
	return strings.Join(parts, ", ")
}

func sortedKeys(m map[string]float64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
