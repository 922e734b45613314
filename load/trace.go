package load

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"fortio.org/fortio/fhttp"
	"fortio.org/fortio/periodic"

	"meshgym/tracing/tracelite"
)

// Tracing makes the load generator the root of the traces: for a sampled
// fraction of requests it records a client span (service "loadgen", one
// per request, named "GET /path") and sends its W3C traceparent with the
// sampled flag; the sidecars and apps follow that decision (parent-based),
// so a sampled request is traced end to end and an unsampled one costs the
// mesh nothing. Unsampled requests carry no traceparent.
//
// fortio's fast client sends a fixed request, so a traced run uses
// fortio's standard client (net/http, HTTPOptions.DisableFastClient) with
// a RoundTripper that adds the header (HTTPOptions.Transport); the span
// starts and ends in fortio's AccessLogger calls around each request.
type Tracing struct {
	// Sample is the fraction (0..1) of requests traced; ≤ 0 = none.
	Sample float64
	// Tracer records and exports the root spans (its service name should
	// be "loadgen"); nil = none.
	Tracer *tracelite.Tracer
	// Attrs are added to every root span (e.g. meshgym.phase).
	Attrs []tracelite.Attr
	// Seed seeds the sampling draws (0 = from the time).
	Seed uint64
}

func (t *Tracing) enabled() bool { return t != nil && t.Tracer != nil && t.Sample > 0 }

// loadTracer decides per request and owns the root spans.
type loadTracer struct {
	t      *Tracing
	method string
	path   string
	attrs  []tracelite.Attr
	// rnds has one source per connection (fortio ThreadID), each used by
	// its connection's goroutine only.
	rnds []*rand.Rand
}

type spanKey struct{}

func newLoadTracer(t *Tracing, spec Spec) *loadTracer {
	seed := t.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	lt := &loadTracer{t: t, method: http.MethodGet, path: "/"}
	if u, err := url.Parse(spec.URL); err == nil {
		if u.Path != "" {
			lt.path = u.Path
		}
		lt.attrs = append(tracelite.HTTPAttrs(lt.method, lt.path, u.Host), tracelite.String("url.full", spec.URL))
	}
	lt.attrs = append(lt.attrs, t.Attrs...)
	for i := range spec.Connections {
		lt.rnds = append(lt.rnds, rand.New(rand.NewPCG(seed, uint64(i)+0x9e3779b97f4a7c15)))
	}
	return lt
}

// sampled draws the sampling decision of one request of connection id.
func (lt *loadTracer) sampled(id periodic.ThreadID) bool {
	if lt.t.Sample >= 1 {
		return true
	}
	if i := int(id); i >= 0 && i < len(lt.rnds) {
		return lt.rnds[i].Float64() < lt.t.Sample
	}
	return rand.Float64() < lt.t.Sample
}

// start starts the root span of a sampled request and carries it in ctx.
func (lt *loadTracer) start(ctx context.Context, id periodic.ThreadID, t time.Time) context.Context {
	if !lt.sampled(id) {
		return ctx
	}
	sp := lt.t.Tracer.StartSpan(tracelite.SpanContext{}, lt.method+" "+lt.path, tracelite.KindClient, t, lt.attrs...)
	return context.WithValue(ctx, spanKey{}, sp)
}

// end ends ctx's root span, if any, with the call's outcome (details is
// fortio's status code as text; -1 is a socket error).
func (lt *loadTracer) end(ctx context.Context, t time.Time, latency float64, details string) {
	sp, _ := ctx.Value(spanKey{}).(*tracelite.Span)
	if sp == nil {
		return
	}
	code, err := strconv.Atoi(details)
	if err != nil || code < 0 {
		code = 0
	}
	sp.StatusAttrs(code, "socket_error")
	sp.End(t.Add(time.Duration(latency * float64(time.Second))))
}

// transport wraps fortio's standard client transport: a request whose
// context carries a root span gets its traceparent (on a copy: fortio
// reuses its request).
func (lt *loadTracer) transport(base http.RoundTripper) http.RoundTripper {
	return traceTransport{base: base}
}

type traceTransport struct{ base http.RoundTripper }

func (t traceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	sp, _ := req.Context().Value(spanKey{}).(*tracelite.Span)
	if sp == nil {
		return t.base.RoundTrip(req)
	}
	r2 := req.Clone(req.Context())
	r2.Header[tracelite.TraceparentHeader] = []string{sp.Context().Traceparent()}
	return t.base.RoundTrip(r2)
}

// tracingLogger is the run's AccessLogger when tracing: the progress
// counter plus the root spans.
type tracingLogger struct {
	*counter
	lt *loadTracer
}

var _ periodic.AccessLogger = tracingLogger{}

// Start starts the request's root span when it is sampled.
func (l tracingLogger) Start(ctx context.Context, id periodic.ThreadID, iter int64, t time.Time) context.Context {
	ctx = l.counter.Start(ctx, id, iter, t)
	return l.lt.start(ctx, id, t)
}

// Report ends the root span and counts the call.
func (l tracingLogger) Report(ctx context.Context, id periodic.ThreadID, iter int64, t time.Time, latency float64, status bool, details string) {
	l.lt.end(ctx, t, latency, details)
	l.counter.Report(ctx, id, iter, t, latency, status, details)
}

// applyTracing switches opts to the standard client with the tracing
// transport and logger.
func applyTracing(opts *fhttp.HTTPRunnerOptions, ctr *counter, t *Tracing, spec Spec) {
	lt := newLoadTracer(t, spec)
	opts.DisableFastClient = true
	opts.Transport = lt.transport
	opts.AccessLogger = tracingLogger{counter: ctr, lt: lt}
}
