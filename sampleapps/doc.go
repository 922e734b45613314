// Package sampleapps is meshgym's sample service: fake-service's library
// packages (timing, response) wired into a small, fast HTTP service with
// accurate, seeded error and latency injection. It is the "app" behind every
// sidecar in the sample system API → Payments → Currency.
//
// It owns:
//   - [Options]: the service's knobs, read from fake-service's environment
//     variable names (NAME, UPSTREAM_URIS, TIMING_50_PERCENTILE, ERROR_RATE,
//     …) and overridden by command-line flags ([OptionsFromEnv],
//     [LoadOptions]);
//   - [Server]: an http.Handler with fake-service's request flow and JSON
//     response shape (github.com/nicholasjackson/fake-service/response);
//   - the app's own server-side metrics at GET /metrics ([MetricRequests],
//     [MetricRequestDuration]): the same names, labels and buckets as a
//     sidecar's inbound series, so that without a sidecar requests are
//     counted at the app. A small hand-written exporter (metrics.go), not
//     the OpenTelemetry SDK or client_golang, keeps the app's memory, which
//     the sidecar scenarios measure, free of them;
//   - [Main]: the whole program of the lean executable cmd/meshgym-app,
//     including the process rules of docs/architecture.md (one READY line on
//     stdout, exit when stdin reaches EOF, exit codes 2 and 3).
//
// It must not know about meshes, sidecars, mesh plugins, platforms or
// scenarios: it only listens on one address and calls the upstream URLs it
// is given (which, in a mesh, happen to be a local sidecar's outbound
// listeners). Keep its imports to the standard library, fake-service's clean
// library packages and golang.org/x/time/rate so the executable stays lean;
// a test checks `go list -deps ./cmd/meshgym-app` (no go.opentelemetry.io,
// no github.com/prometheus).
//
// Differences from fake-service v0.26.2, on purpose:
//   - ERROR_RATE is a true probability decided by a seeded pseudo-random
//     stream (fake-service injects every int(1/rate)-th request, which turns
//     0.3 into one in three and races under concurrency);
//   - upstreams are all called in parallel (fake-service's UPSTREAM_WORKERS
//     defaults to 1, sequential) and any non-2xx status counts as a failure
//     (fake-service: anything but 200);
//   - only tracing and request-id headers are forwarded to upstreams, and the
//     incoming path is not appended to the upstream URL;
//   - RATE_LIMIT_CODE defaults to 429 (fake-service: 503);
//   - no CPU/memory load generation, gRPC, TLS, CORS, UI or tracing exporters.
package sampleapps
