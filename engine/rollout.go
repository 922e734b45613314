package engine

import (
	"context"
	"fmt"
	"math"
	"time"

	"meshgym/load"
	"meshgym/metrics"
	"meshgym/scenarios"
)

// RolloutStep is one step of a progressive canary rollout: the canary's
// weight during the step, what the step measured, and the decision.
type RolloutStep struct {
	Weight   float64       `json:"weight"` // canary weight, percent
	Duration time.Duration `json:"duration_ns"`
	Requests int64         `json:"requests"` // user requests sent in the step
	// CanaryRequests and CanaryErrors are counted at the canary's inbound;
	// CanaryErrorRate is their ratio in percent.
	CanaryRequests  float64 `json:"canary_requests"`
	CanaryErrors    float64 `json:"canary_errors"`
	CanaryErrorRate float64 `json:"canary_error_rate"`
	// BaselineP99 and CanaryP99 are server-side p99 latencies (s); 0 when
	// a version received no request in the step.
	BaselineP99 float64 `json:"baseline_p99_s"`
	CanaryP99   float64 `json:"canary_p99_s"`
	// Decision is "advance", "promote" or "rollback"; Reason says why.
	Decision string `json:"decision"`
	Reason   string `json:"reason"`
}

// rolloutSpec is what the engine needs of a rollout, with defaults filled.
type rolloutSpec struct {
	service, canary    string
	baselines          []string // the other versions of the service
	stepWeight, maxW   float64  // percent
	maxErrorRate       float64  // percent
	maxLatencyIncrease float64  // percent of the baseline's p99
	minRequests        int      // canary requests a step needs to decide
	maxStep            time.Duration
}

// latencySlack absorbs histogram-bucket noise when comparing p99s of two
// versions whose latencies are both tiny (a few ms on loopback).
const latencySlack = 2 * time.Millisecond

// stepWeights returns the canary weights of the steps: step, 2·step, …,
// up to max (the last step is max).
func (rs rolloutSpec) stepWeights() []float64 {
	var out []float64
	for w := rs.stepWeight; w < rs.maxW-1e-9; w += rs.stepWeight {
		out = append(out, w)
	}
	return append(out, rs.maxW)
}

// stepDuration is how long a step at weight w must run for the canary to
// receive minRequests at the scenario's rate, within [1 s, maxStep].
func (rs rolloutSpec) stepDuration(rps, w float64) time.Duration {
	if rps <= 0 || w <= 0 {
		return rs.maxStep
	}
	need := time.Duration(float64(rs.minRequests) / (rps * w / 100) * float64(time.Second))
	need = need.Round(100 * time.Millisecond)
	return min(max(need, time.Second), rs.maxStep)
}

// judge decides a step from the canary's and the baselines' counts and
// latencies (the book's success criteria: no increase in errors beyond the
// threshold, latency within ±N% of the baseline).
func (rs rolloutSpec) judge(st *RolloutStep) {
	switch {
	case st.CanaryRequests == 0:
		st.Decision, st.Reason = "rollback", "the canary received no request: cannot judge it"
	case st.CanaryErrorRate > rs.maxErrorRate:
		st.Decision = "rollback"
		st.Reason = fmt.Sprintf("canary error rate %.1f%% (%.0f of %.0f) is above %.1f%%",
			st.CanaryErrorRate, st.CanaryErrors, st.CanaryRequests, rs.maxErrorRate)
	case st.BaselineP99 > 0 && st.CanaryP99 > st.BaselineP99*(1+rs.maxLatencyIncrease/100)+latencySlack.Seconds():
		st.Decision = "rollback"
		st.Reason = fmt.Sprintf("canary p99 %.1fms is more than %.0f%% above the baseline's %.1fms",
			st.CanaryP99*1000, rs.maxLatencyIncrease, st.BaselineP99*1000)
	default:
		st.Decision = "advance"
		st.Reason = fmt.Sprintf("canary error rate %.1f%% ≤ %.1f%%, p99 %.1fms vs baseline %.1fms",
			st.CanaryErrorRate, rs.maxErrorRate, st.CanaryP99*1000, st.BaselineP99*1000)
		if st.CanaryRequests < float64(rs.minRequests) {
			st.Reason += fmt.Sprintf(" (only %.0f of the %d canary requests wanted)", st.CanaryRequests, rs.minRequests)
		}
	}
}

// stepFromSnapshot fills a step's canary and baseline figures.
func (rs rolloutSpec) stepFromSnapshot(st *RolloutStep, s *metrics.Snapshot) {
	for _, rc := range s.Requests {
		if rc.Name == rs.canary {
			st.CanaryRequests += rc.Count
			if rc.StatusCode < 200 || rc.StatusCode > 299 {
				st.CanaryErrors += rc.Count
			}
		}
	}
	if st.CanaryRequests > 0 {
		st.CanaryErrorRate = 100 * st.CanaryErrors / st.CanaryRequests
	}
	if h, ok := s.Durations[rs.canary]; ok {
		st.CanaryP99, _ = h.Quantile(0.99)
	}
	var base metrics.Histogram
	for _, b := range rs.baselines {
		if h, ok := s.Durations[b]; ok {
			base = base.Add(h)
		}
	}
	if base.Count > 0 {
		st.BaselineP99, _ = base.Quantile(0.99)
	}
}

// rollout runs the after phase of a progressive canary: it shifts the
// canary's weight step by step, observes each step until the canary has the
// sample it needs, and promotes it at the last step or rolls it back to 0%
// at the first failed one. It returns the merged load result, the steps and
// the canary's final weight.
func (r *runner) rollout(ctx context.Context, rs rolloutSpec, progress func(load.Progress)) (*load.Result, []RolloutStep, float64, error) {
	sc := r.sc
	targets, err := r.mesh.scrapeURLs(ctx, r.comps)
	if err != nil {
		return nil, nil, 0, meshErr(err)
	}
	var steps []RolloutStep
	var merged *load.Result
	final := 0.0
	for _, w := range rs.stepWeights() {
		if err := r.applyCanaryWeight(ctx, rs, w); err != nil {
			return merged, steps, final, err
		}
		r.em.log(fmt.Sprintf("rollout: canary %s at %.0f%%", rs.canary, w))
		before, err := metrics.CollectTargets(ctx, targets, r.mesh.mapping)
		if err != nil {
			return merged, steps, final, err
		}
		d := rs.stepDuration(sc.Load.RPS, w)
		lr, err := load.Run(ctx, load.Spec{URL: r.res.EntryURL, RPS: sc.Load.RPS, Connections: sc.Load.Connections,
			Duration: d, Seed: r.opts.Seed, Progress: progress, Tracing: r.trace.load(PhaseAfter)})
		if err != nil {
			return merged, steps, final, err
		}
		sleepCtx(ctx, 100*time.Millisecond)
		after, err := metrics.CollectTargets(ctx, targets, r.mesh.mapping)
		if err != nil {
			return merged, steps, final, err
		}
		st := RolloutStep{Weight: w, Duration: d, Requests: lr.Client.Count}
		rs.stepFromSnapshot(&st, metrics.Diff(before, after))
		rs.judge(&st)
		merged = mergeLoad(merged, lr)
		if st.Decision == "rollback" {
			steps = append(steps, st)
			r.em.log(fmt.Sprintf("rollout: step at %.0f%% failed: %s; rolling back to 0%%", w, st.Reason))
			if err := r.applyCanaryWeight(ctx, rs, 0); err != nil {
				return merged, steps, final, err
			}
			return merged, steps, 0, nil
		}
		if w >= 100-1e-9 || w >= rs.maxW-1e-9 {
			st.Decision = "promote"
			st.Reason += "; promoted"
		}
		steps = append(steps, st)
		r.em.log(fmt.Sprintf("rollout: step at %.0f%% passed: %s", w, st.Reason))
		final = w
	}
	if final < 100 {
		// Promotion: the canary takes all the traffic.
		if err := r.applyCanaryWeight(ctx, rs, 100); err != nil {
			return merged, steps, final, err
		}
		final = 100
	}
	return merged, steps, final, nil
}

// applyCanaryWeight pushes the scenario's pattern with the canary at weight
// w and the rest spread over the baseline versions.
func (r *runner) applyCanaryWeight(ctx context.Context, rs rolloutSpec, w float64) error {
	p := r.sc.Phase(true)
	split := *p.Split
	split.Targets = []scenarios.WeightedTarget{{Version: rs.canary, Weight: w}}
	for i, b := range rs.baselines {
		share := (100 - w) / float64(len(rs.baselines))
		if i == len(rs.baselines)-1 {
			share = 100 - w - share*float64(len(rs.baselines)-1)
		}
		split.Targets = append(split.Targets, scenarios.WeightedTarget{Version: b, Weight: math.Max(share, 0)})
	}
	split.Rollout = nil
	p.Split = &split
	return r.mesh.apply(ctx, r.sc.Topology, r.dep, r.comps, p)
}

// mergeLoad adds one step's client view to the phase's: counts, status
// codes, bytes and duration add up; latency figures are the worst (max) or
// request-weighted (mean) of the steps; percentiles are the last step's
// weighted by requests — an approximation documented in the report.
func mergeLoad(acc, lr *load.Result) *load.Result {
	if acc == nil {
		cp := *lr
		cp.Client.StatusCodes = map[int]int64{}
		for k, v := range lr.Client.StatusCodes {
			cp.Client.StatusCodes[k] = v
		}
		return &cp
	}
	a, b := &acc.Client, lr.Client
	a.Exact = false // merged percentiles are approximations (see above)
	n := float64(a.Count + b.Count)
	if n > 0 {
		wa, wb := float64(a.Count)/n, float64(b.Count)/n
		a.MeanS = a.MeanS*wa + b.MeanS*wb
		a.P50S = a.P50S*wa + b.P50S*wb
		a.P90S = a.P90S*wa + b.P90S*wb
		a.P99S = math.Max(a.P99S, b.P99S)
		a.P999S = math.Max(a.P999S, b.P999S)
	}
	a.MinS = math.Min(a.MinS, b.MinS)
	a.MaxS = math.Max(a.MaxS, b.MaxS)
	a.Count += b.Count
	a.Errors += b.Errors
	for k, v := range b.StatusCodes {
		a.StatusCodes[k] += v
	}
	a.TotalBytes += b.TotalBytes
	a.DurationS += b.DurationS
	if a.DurationS > 0 {
		a.ActualRPS = float64(a.Count) / a.DurationS
	}
	if a.Count > 0 {
		a.SizePerRequest = float64(a.TotalBytes) / float64(a.Count)
	}
	a.PerSecond = append(a.PerSecond, b.PerSecond...)
	a.FellBehind = a.FellBehind || b.FellBehind
	return acc
}

// rolloutSpec returns the rollout of the phase (only the after phase of a
// scenario whose split has a Rollout), with the other versions of the
// split's service as the baseline.
func (r *runner) rolloutSpec(phase string) *rolloutSpec {
	if phase != PhaseAfter {
		return nil
	}
	p := r.sc.Phase(true)
	if p.Split == nil || p.Split.Rollout == nil {
		return nil
	}
	ro := p.Split.Rollout
	rs := &rolloutSpec{service: p.Split.Service, canary: ro.Canary, stepWeight: ro.StepWeight, maxW: ro.MaxWeight,
		maxErrorRate: ro.MaxErrorRate, maxLatencyIncrease: ro.MaxLatencyIncrease, minRequests: ro.MinRequests,
		maxStep: ro.MaxStepDuration.D()}
	for _, t := range p.Split.Targets {
		if t.Version != ro.Canary {
			rs.baselines = append(rs.baselines, t.Version)
		}
	}
	if rs.stepWeight <= 0 {
		rs.stepWeight = scenarios.DefaultStepWeight
	}
	if rs.maxW <= 0 {
		rs.maxW = scenarios.DefaultMaxWeight
	}
	if rs.maxStep <= 0 {
		rs.maxStep = scenarios.DefaultMaxStepDuration.D()
	}
	return rs
}
