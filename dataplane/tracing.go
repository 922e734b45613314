package dataplane

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"meshgym/tracing/tracelite"
)

// Tracing (OpenTelemetry spans, exported as OTLP/HTTP JSON by tracelite).
//
// The sidecar records a trace only when the request carries a W3C
// traceparent with the sampled flag: the load generator decides
// (parent-based sampling everywhere else, like Envoy's tracing with an
// upstream sampling decision). An unsampled request costs one header
// lookup and a parse that allocates nothing; its traceparent passes
// through unchanged. For a sampled request:
//
//   - inbound listener: one server span "GET /path" (meshgym.direction
//     inbound), parent of the local app's server span; event rate_limited;
//   - outbound listener: one server span "outbound CLUSTER" for the
//     downstream request (events fault_injected, backoff, timeout for the
//     route timeout, retry_limit_exceeded, retry_budget_exhausted) and one
//     client span "attempt N CLUSTER" per upstream attempt (Envoy's
//     upstream spans, spawn_upstream_span) with meshgym.attempt,
//     meshgym.endpoint, meshgym.backoff_ms, server.address, server.port,
//     http.response.status_code or error.type, and events ejection (the
//     outlier ejection this attempt's outcome caused) and timeout
//     (per-try). Each attempt's span is the parent the upstream sees.
//
// Attribute names follow OpenTelemetry's HTTP semantic conventions
// (https://opentelemetry.io/docs/specs/semconv/http/http-spans/) where
// one exists, meshgym.* otherwise.

// Span attribute keys of meshgym's own (not in the semantic conventions).
const (
	AttrAttempt   = "meshgym.attempt"    // 1-based attempt number
	AttrEndpoint  = "meshgym.endpoint"   // endpoint (version) name, e.g. currency_v2
	AttrBackoffMS = "meshgym.backoff_ms" // back-off waited before this attempt, ms
	AttrCluster   = "meshgym.cluster"    // upstream service, e.g. currency
	AttrDirection = "meshgym.direction"  // inbound or outbound
	AttrDetail    = "meshgym.detail"     // an event's explanation
)

// Span event names.
const (
	SpanEventEjection             = "ejection"
	SpanEventBackoff              = "backoff"
	SpanEventTimeout              = "timeout"
	SpanEventRateLimited          = "rate_limited"
	SpanEventFaultInjected        = "fault_injected"
	SpanEventRetryLimitExceeded   = "retry_limit_exceeded"
	SpanEventRetryBudgetExhausted = "retry_budget_exhausted"
)

// sampledParent returns r's span context when tracing is on and r carries
// a valid, sampled traceparent.
func (f *forwarder) sampledParent(r *http.Request) (tracelite.SpanContext, bool) {
	v := r.Header[tracelite.TraceparentHeader]
	if len(v) == 0 {
		return tracelite.SpanContext{}, false
	}
	sc, ok := tracelite.ParseTraceparent(v[0])
	return sc, ok && sc.Sampled
}

// startInbound starts the inbound server span of r (nil when r is not
// sampled or tracing is off).
func (f *forwarder) startInbound(r *http.Request, start time.Time, attempt int) *tracelite.Span {
	parent, ok := f.sampledParent(r)
	if !ok {
		return nil
	}
	sp := f.tracer.StartSpan(parent, r.Method+" "+r.URL.Path, tracelite.KindServer, start,
		tracelite.HTTPAttrs(r.Method, r.URL.Path, r.Host)...)
	sp.SetAttr(tracelite.String(AttrDirection, "inbound"), tracelite.Int(AttrAttempt, int64(attempt)))
	return sp
}

// startOutbound starts the span of a downstream request on an outbound
// listener (nil when r is not sampled).
func (f *forwarder) startOutbound(r *http.Request, cl *clusterRuntime, start time.Time) *tracelite.Span {
	parent, ok := f.sampledParent(r)
	if !ok {
		return nil
	}
	sp := f.tracer.StartSpan(parent, "outbound "+cl.name, tracelite.KindServer, start,
		tracelite.HTTPAttrs(r.Method, r.URL.Path, r.Host)...)
	sp.SetAttr(tracelite.String(AttrDirection, "outbound"), tracelite.String(AttrCluster, cl.name))
	return sp
}

// finishSpan ends sp with the status the caller got (0 = none: failure
// names why).
func finishSpan(sp *tracelite.Span, status int, failure string, end time.Time) {
	sp.StatusAttrs(status, failure)
	sp.End(end)
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// startTry starts the client span of attempt n on endpoint e under the
// call's span and sends its context upstream.
func (c *outboundCall) startTry(e *endpointRuntime, n int) {
	c.endTry()
	f, in := c.f, c.up.in
	sp := f.tracer.StartSpan(c.span.Context(), "attempt "+strconv.Itoa(n)+" "+c.cl.name, tracelite.KindClient, f.clock.Now(),
		tracelite.HTTPAttrs(in.Method, in.URL.Path, e.addr)...)
	sp.SetAttr(tracelite.Int(AttrAttempt, int64(n)), tracelite.String(AttrEndpoint, e.name), tracelite.String(AttrCluster, c.cl.name),
		tracelite.Float(AttrBackoffMS, millis(c.backoff)))
	c.try = sp
	c.up.traceparent = sp.Context().Traceparent()
}

// traceOutcome records attempt outcome o (and the ejection it caused) on
// the attempt's span; ctx is the attempt's context.
func (c *outboundCall) traceOutcome(ctx context.Context, e *endpointRuntime, o Outcome, ejection string) {
	sp := c.try
	now := c.f.clock.Now()
	errType := o.Failure.String()
	if o.Failure != FailureNone && ctx.Err() != nil && c.up.in.Context().Err() == nil {
		// The attempt's context ended while the caller is still there: a
		// per-try timeout, or the route timeout (which the call's span
		// records too).
		kind := "route"
		if p := c.cl.retry; p != nil && p.PerTryTimeout > 0 && now.Sub(sp.Start) >= p.PerTryTimeout {
			kind = "per_try"
		}
		errType = "timeout"
		sp.AddEvent(SpanEventTimeout, now, tracelite.String("meshgym.timeout", kind))
	}
	sp.StatusAttrs(o.StatusCode, errType)
	if ejection != "" {
		sp.AddEvent(SpanEventEjection, now, tracelite.String(AttrEndpoint, e.name), tracelite.String(AttrDetail, ejection))
	}
}

// endTry ends the current attempt's span, if any.
func (c *outboundCall) endTry() {
	if c.try != nil {
		c.try.End(c.f.clock.Now())
		c.try = nil
	}
}

// traceRetry notes on the call's span that attempt n will be retried after
// backoff; the next attempt's span carries it as meshgym.backoff_ms.
func (c *outboundCall) traceRetry(n int, backoff time.Duration) {
	c.endTry()
	c.backoff = backoff
	c.span.AddEvent(SpanEventBackoff, c.f.clock.Now(), tracelite.Int(AttrAttempt, int64(n)), tracelite.Float(AttrBackoffMS, millis(backoff)))
}

// traceEvent adds a request-level event to the call's span (nil-safe).
func (c *outboundCall) traceEvent(name string, attrs ...tracelite.Attr) {
	if c.span != nil {
		c.span.AddEvent(name, c.f.clock.Now(), attrs...)
	}
}

// finishTrace ends the attempt's and the call's spans with the status the
// caller got (w.status; 0 when the caller went away).
func (c *outboundCall) finishTrace(w *respWriter) {
	if c.span == nil {
		return
	}
	c.endTry()
	finishSpan(c.span, w.status, FailureCanceled.String(), c.f.clock.Now())
	c.span = nil
}
