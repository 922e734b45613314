// Package metrics reads what the servers and processes of a run did: it
// scrapes Prometheus-format endpoints (meshgym's sidecars and apps, and the
// same way Envoy or linkerd-proxy), samples process CPU and memory, and
// builds the Snapshot that conditions are evaluated on.
//
// It owns: Prometheus text parsing (expfmt), the meshgym metric names and
// labels read from sidecars, the Snapshot and its phase arithmetic (Diff),
// the component-name selection rule (MatchName), per-second series (Sampler
// for CPU/RSS, Recorder for request rates) and the quantile helpers over
// them.
//
// It must not know scenario syntax (conditions, selectors as written,
// comparators), meshes or platforms: callers hand it URLs and PIDs. It
// imports load only for the ClientView type.
//
// A phase, as the engine runs it:
//
//	before, _ := metrics.Collect(ctx, adminURLs)      // counters at the start
//	sampler := metrics.NewSampler(pids, time.Second)  // CPU/RSS per component
//	rec := metrics.NewRecorder(adminURLs, time.Second) // per-second request rates
//	sampler.Start(ctx)
//	rec.Start(ctx)
//	res, err := load.Run(ctx, spec)
//	resources, rates := sampler.Stop(), rec.Stop()
//	after, _ := metrics.Collect(ctx, adminURLs)
//	phase := metrics.Diff(before, after)
//	phase.Resources, phase.RequestRates, phase.Client = resources, rates, res.Client
//
// Server-side counts include the load generator's warm-up requests (one
// per connection, load.ClientView.WarmupRequests), which its client view
// does not.
package metrics
