// Package verdict decides success conditions: it evaluates a
// scenarios.Condition on a metrics.Snapshot (the measured value, its unit
// and sample size) and judges it PASS, FAIL or WARN, with the statistics a
// learner needs to see whether the sample could decide: a 95% Wilson score
// interval for shares (Wilson 1927) and Yamane's sample size (Yamane 1967)
// for teaching, as the book uses it.
//
// It owns: the meaning of each condition metric (which series or client
// figure it reads), selectors (name, status_code, attempt matchers), share
// arithmetic, comparators and tolerance, and the sample-size rule (a
// tolerance tighter than the sampling noise gets WARN, not a silent FAIL).
//
// It must not know how data was collected (scraping, sidecars, fortio,
// platforms) nor scenario file syntax: it reads parsed conditions and
// snapshots only.
package verdict
