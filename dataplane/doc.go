// Package dataplane is meshgym's sidecar proxy: the process that sits beside
// every sample-service instance and applies the mesh patterns the control
// plane pushes to it.
//
// It owns:
//
//   - the listeners: one inbound listener in front of the local app (it
//     counts requests at the server side of the component) and one outbound
//     listener per upstream service (it routes, load-balances and retries);
//   - the policy logic, written as pure code over an injected [Clock] and an
//     injected random source so tests assert exact outcomes: the load
//     balancers (lb.go) — Envoy's ROUND_ROBIN and RANDOM ([RoundRobin],
//     [Random]), Envoy's LEAST_REQUEST for equal weights, the power of two
//     choices over active requests ([LeastRequest]; least_request_lb.cc
//     unweightedHostPickNChoices, Istio's default since 1.14) and
//     Linkerd's power of two choices over a Peak-EWMA latency cost
//     ([PeakEWMA]; linkerd2-proxy linkerd/pool/p2c and
//     tower/src/load/peak_ewma.rs), the last two fed by the router loop
//     through [Tracker]; Envoy's per-request retry state ([RetryState])
//     with its jittered exponential back-off ([Backoff]) and the
//     previous_hosts retry host predicate; outlier detection (outlier.go)
//     in four algorithms: Envoy's, the book's two breakers and Linkerd's
//     consecutive failure accrual with its one-request probation
//     (linkerd2-proxy breaker/consecutive_failures.rs, exp-backoff);
//     header and cookie routes with weighted version splits (routes.go),
//     the route timeout (timeout.go), fault injection (fault.go), the
//     retry circuit breaker and retry budgets (budget.go) and the inbound
//     local rate limit ([TokenBucket], ratelimit.go);
//   - the admin API (PUT/GET /config, GET /metrics, GET /events, GET /ready),
//     the OpenTelemetry metrics it exports in Prometheus text format, and the
//     policy event stream ([Event]);
//   - [Main], the whole program of the lean meshgym-sidecar executable.
//
// The data-plane listeners serve HTTP/1.1 with their own small server loop
// (one goroutine per connection, http.ReadRequest, responses written to a
// buffered writer) and reach upstreams through their own keep-alive pool
// whose requests are written and read on the handling goroutine; the admin
// API uses net/http. This avoids net/http's per-request goroutine
// hand-offs, the main cost of a loopback hop (see bench/proxybench).
// Limits: no HTTP/2, no protocol upgrades (websockets), and a client that
// disconnects is noticed only when its response is written.
//
// The semantics reproduce Envoy's router and retry state as its source code
// behaves (envoy source/common/router/retry_state_impl.cc, router.cc,
// source/common/common/backoff_strategy.cc, source/common/upstream/
// load_balancer_impl.cc), not only as its docs describe it; see
// shared/reference/mesh-semantics.md §1. The Linkerd algorithms follow
// linkerd2-proxy and the linkerd2 policy controller's defaults likewise
// (mesh-semantics.md §4).
//
// It must not know platforms (local processes, docker, kind), scenarios,
// plugins or the engine: it is configured only by flags and by [Config]
// pushed over its admin API, and it must stay lean — it links only the
// standard library and OpenTelemetry/Prometheus packages (a test checks
// `go list -deps ./cmd/meshgym-sidecar`).
package dataplane
