package dataplane

import (
	"context"
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
)

// Prometheus names of the sidecar's metrics, exactly as GET /metrics
// exports them (the OTel instrument names are these without the _total or
// _seconds suffix, which the Prometheus exporter appends).
const (
	// MetricRequests counts requests at the server side of the component
	// (the inbound listener), labels direction="inbound", name (--name),
	// status_code (the status returned, 0 = none) and attempt (the
	// x-envoy-attempt-count received, "1" when absent).
	MetricRequests = "meshgym_requests_total"
	// MetricRequestDuration is a histogram in seconds of whole requests,
	// labels direction ("inbound": name = --name; "outbound": name = the
	// cluster, including retries and back-off).
	MetricRequestDuration = "meshgym_request_duration_seconds"
	// MetricUpstreamRequests counts every attempt the outbound listeners
	// made, labels direction="outbound", cluster, name (the endpoint's
	// name), status_code (0 = no response) and attempt (1, 2, …).
	MetricUpstreamRequests = "meshgym_upstream_requests_total"
	// MetricUpstreamRetries counts retries, labels cluster and reason
	// (status_code, connect_failure, reset, per_try_timeout); Envoy's
	// upstream_rq_retry.
	MetricUpstreamRetries = "meshgym_upstream_retries_total"
	// MetricUpstreamRetryLimitExceeded counts requests whose last outcome
	// was retriable with no retry left (flag URX); Envoy's
	// upstream_rq_retry_limit_exceeded. Label cluster.
	MetricUpstreamRetryLimitExceeded = "meshgym_upstream_retry_limit_exceeded_total"
	// MetricEventsDropped counts events /events subscribers lost because
	// they read too slowly. Label name.
	MetricEventsDropped = "meshgym_events_dropped_total"
	// MetricUpstreamEjections counts outlier ejections, labels cluster and
	// name (the endpoint's name); Envoy's
	// outlier_detection.ejections_enforced_total per host.
	MetricUpstreamEjections = "meshgym_upstream_ejections_total"
	// MetricUpstreamEjectionsActive is a gauge of endpoints ejected now,
	// labels cluster and name; Envoy's outlier_detection.ejections_active.
	MetricUpstreamEjectionsActive = "meshgym_upstream_ejections_active"
)

// DurationBuckets are the histogram bucket bounds of
// meshgym_request_duration_seconds, in seconds: 1-2.5-5 steps from 50 µs
// to 30 s, so proxy overhead (tens of µs) and slow services both resolve.
var DurationBuckets = []float64{
	0.00005, 0.000075, 0.0001, 0.00015, 0.0002, 0.0003, 0.0005, 0.00075,
	0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008, 0.01,
	0.012, 0.014, 0.016, 0.018, 0.02, 0.022, 0.025, 0.03, 0.035, 0.04, 0.05,
	0.06, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75,
	1, 1.5, 2, 2.5, 5, 10, 30,
}

// telemetry holds the sidecar's OTel instruments and their Prometheus
// exporter on a private registry.
type telemetry struct {
	name     string
	provider *sdkmetric.MeterProvider
	handler  http.Handler

	requests         metric.Int64Counter
	duration         metric.Float64Histogram
	upstreamRequests metric.Int64Counter
	retries          metric.Int64Counter
	limitExceeded    metric.Int64Counter
	eventsDropped    metric.Int64Counter
	ejections        metric.Int64Counter
	ejectionsActive  metric.Int64UpDownCounter

	inboundCounts   *optCache // meshgym_requests_total by (status, attempt)
	inboundDuration []metric.RecordOption
	droppedOpts     []metric.AddOption

	pol *policyInstruments // routes, timeouts, faults, rate limit, retry limits (policy.go)
}

func newTelemetry(name string) (*telemetry, error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(
		otelprom.WithRegisterer(reg),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
		otelprom.WithoutScopeInfo(),
		otelprom.WithoutTargetInfo(),
	)
	if err != nil {
		return nil, err
	}
	provider := sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(exp),
		sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter),
	)
	m := provider.Meter("meshgym/dataplane")
	t := &telemetry{name: name, provider: provider}
	t.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	if t.requests, err = m.Int64Counter("meshgym.requests",
		metric.WithDescription("Requests received by the component (its sidecar's inbound listener).")); err != nil {
		return nil, err
	}
	if t.duration, err = m.Float64Histogram("meshgym.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of requests through the sidecar, in seconds."),
		metric.WithExplicitBucketBoundaries(DurationBuckets...)); err != nil {
		return nil, err
	}
	if t.upstreamRequests, err = m.Int64Counter("meshgym.upstream.requests",
		metric.WithDescription("Attempts sent to upstream endpoints (each retry counts).")); err != nil {
		return nil, err
	}
	if t.retries, err = m.Int64Counter("meshgym.upstream.retries",
		metric.WithDescription("Retries (Envoy upstream_rq_retry).")); err != nil {
		return nil, err
	}
	if t.limitExceeded, err = m.Int64Counter("meshgym.upstream.retry_limit_exceeded",
		metric.WithDescription("Requests that ended retriable with no retry left (Envoy upstream_rq_retry_limit_exceeded, flag URX).")); err != nil {
		return nil, err
	}
	if t.eventsDropped, err = m.Int64Counter("meshgym.events.dropped",
		metric.WithDescription("Events lost by slow /events subscribers.")); err != nil {
		return nil, err
	}
	if t.ejections, err = m.Int64Counter("meshgym.upstream.ejections",
		metric.WithDescription("Endpoints ejected by outlier detection (Envoy outlier_detection.ejections_enforced_total).")); err != nil {
		return nil, err
	}
	if t.ejectionsActive, err = m.Int64UpDownCounter("meshgym.upstream.ejections_active",
		metric.WithDescription("Endpoints ejected now (Envoy outlier_detection.ejections_active).")); err != nil {
		return nil, err
	}
	if t.pol, err = newPolicyInstruments(m, name); err != nil {
		return nil, err
	}
	t.inboundCounts = newOptCache(func(status, attempt int) attribute.Set {
		return attribute.NewSet(
			attribute.String("direction", "inbound"),
			attribute.String("name", name),
			attribute.String("status_code", strconv.Itoa(status)),
			attribute.String("attempt", strconv.Itoa(attempt)),
		)
	})
	t.inboundDuration = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(
		attribute.String("direction", "inbound"), attribute.String("name", name)))}
	t.droppedOpts = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("name", name)))}
	return t, nil
}

func (t *telemetry) shutdown(ctx context.Context) error { return t.provider.Shutdown(ctx) }

// maxAttemptLabel bounds the attempt label's cardinality: larger values
// (from a misbehaving client header) are counted as this value.
const maxAttemptLabel = 101

// optCache caches the measurement options of one attribute set per
// (status, attempt), so counting an attempt allocates nothing.
type optCache struct {
	mu    sync.RWMutex
	m     map[int32][]metric.AddOption
	build func(status, attempt int) attribute.Set
}

func newOptCache(build func(status, attempt int) attribute.Set) *optCache {
	return &optCache{m: make(map[int32][]metric.AddOption), build: build}
}

func (c *optCache) get(status, attempt int) []metric.AddOption {
	if status < 0 || status > 999 {
		status = 0
	}
	if attempt < 1 {
		attempt = 1
	} else if attempt > maxAttemptLabel {
		attempt = maxAttemptLabel
	}
	key := int32(status*1000 + attempt)
	c.mu.RLock()
	o, ok := c.m[key]
	c.mu.RUnlock()
	if ok {
		return o
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if o, ok = c.m[key]; !ok {
		o = []metric.AddOption{metric.WithAttributeSet(c.build(status, attempt))}
		c.m[key] = o
	}
	return o
}
