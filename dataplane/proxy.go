package dataplane

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"meshgym/tracing/tracelite"
)

// MaxRetryBody is the largest request body (in bytes) a listener buffers
// so it can resend it on a retry; a larger body is streamed to the first
// attempt and the request is not retried (as Envoy does when a body
// exceeds its per-request buffer limit).
const MaxRetryBody = 64 << 10

// Local replies, worded as Envoy words them (router.cc; response flags
// UF, UC, UT and NC).
const (
	bodyConnectFailure = "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
	bodyReset          = "upstream connect error or disconnect/reset before headers. reset reason: connection termination"
	bodyTimeout        = "upstream request timeout"
	bodyNoCluster      = "no cluster"
)

// AttemptCountHeader is Envoy's x-envoy-attempt-count request header: the
// attempt number (1, 2, …) set on every upstream attempt
// (include_request_attempt_count, on by default in Istio).
const AttemptCountHeader = "X-Envoy-Attempt-Count"

// OverloadedHeader marks a response Envoy produced because a circuit
// breaker overflowed; it is never retried.
const OverloadedHeader = "X-Envoy-Overloaded"

// runtimeConfig is a pushed Config compiled for the hot path.
type runtimeConfig struct {
	cfg      Config
	clusters map[string]*clusterRuntime
	inbound  *inboundRuntime // Config.Inbound (nil = no inbound policy); policy.go
}

type clusterRuntime struct {
	name      string
	endpoints []*endpointRuntime
	lb        LoadBalancer
	// spec is what the cluster's balancer is built from; load is the
	// cluster's load-aware balancer (least_request, peak_ewma; nil for
	// round_robin and random), shared by its route versions and its
	// outlier detector and kept across pushes by bindLoad.
	spec         lbSpec
	load         loadPicker
	retry        *CompiledRetryPolicy
	retryOpts    [FailureCanceled + 1][]metric.AddOption
	urxOpts      []metric.AddOption
	durationOpts []metric.RecordOption
	// outlier is the cluster's outlier detection (nil = off); when set it
	// is also lb (see bindOutlier in outlier.go).
	outlier *outlierDetector
	// pol holds routes, route timeout, faults and retry limits (nil =
	// none: the plain hot path); policy.go.
	pol *clusterPolicy
}

type endpointRuntime struct {
	name, addr string
	counts     *optCache
}

// compileConfig validates c and compiles it; clk and rnd are the
// sidecar's clock and random source (balancers, policies).
func compileConfig(c Config, clk Clock, rnd func() uint64) (*runtimeConfig, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	rc := &runtimeConfig{cfg: c, clusters: make(map[string]*clusterRuntime, len(c.Clusters))}
	for key, cl := range c.Clusters {
		retry, err := cl.Retry.Compile()
		if err != nil {
			return nil, err
		}
		spec := specOf(cl)
		lb, err := newBalancer(spec, len(cl.Endpoints), clk, rnd)
		if err != nil {
			return nil, fmt.Errorf("cluster %q: %v", key, err)
		}
		cr := &clusterRuntime{name: key, lb: lb, retry: retry, spec: spec}
		cr.load, _ = lb.(loadPicker)
		for f := range cr.retryOpts {
			cr.retryOpts[f] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(
				attribute.String("cluster", key), attribute.String("reason", Failure(f).String())))}
		}
		cr.urxOpts = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("cluster", key)))}
		cr.durationOpts = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(
			attribute.String("direction", "outbound"), attribute.String("name", key)))}
		for _, ep := range cl.Endpoints {
			name := ep.Name
			if name == "" {
				name = key
			}
			cr.endpoints = append(cr.endpoints, &endpointRuntime{
				name: name, addr: ep.Address,
				counts: newOptCache(func(status, attempt int) attribute.Set {
					return attribute.NewSet(
						attribute.String("direction", "outbound"),
						attribute.String("cluster", key),
						attribute.String("name", name),
						attribute.String("status_code", strconv.Itoa(status)),
						attribute.String("attempt", strconv.Itoa(attempt)),
					)
				}),
			})
		}
		if cr.pol, err = compileClusterPolicy(key, cl, cr, rnd); err != nil {
			return nil, err
		}
		rc.clusters[key] = cr
	}
	rc.inbound = compileInbound(c.Inbound)
	return rc, nil
}

// forwarder is what the inbound and outbound listeners share.
type forwarder struct {
	name   string
	pool   *upstreamPool
	tel    *telemetry
	events *eventHub
	clock  Clock
	rand   func() uint64
	cfg    atomic.Pointer[runtimeConfig]
	// tracer records spans of sampled requests (nil = tracing off;
	// tracing.go).
	tracer *tracelite.Tracer
}

var (
	copyBufPool = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}
	bodyBufPool = sync.Pool{New: func() any { b := make([]byte, MaxRetryBody+1); return &b }}
	callPool    = sync.Pool{New: func() any { return new(outboundCall) }}
)

// outboundHandler serves one --outbound listener: it routes to cluster svc.
type outboundHandler struct {
	f   *forwarder
	svc string
}

// outboundCall is the state of one downstream request on an outbound
// listener; it implements attemptHandler.
type outboundCall struct {
	f    *forwarder
	cl   *clusterRuntime
	body bodyState
	up   upRequest
	resp *http.Response
	// span and try are the spans of the request and of its current
	// attempt (nil unless the request is sampled); backoff is the
	// back-off before the next attempt (tracing.go).
	span, try *tracelite.Span
	backoff   time.Duration
}

// bodyState is a request body prepared for (re)sending.
type bodyState struct {
	// body is the buffered request body (replayable); stream is used when
	// the body was too large to buffer (streamLen -1 = unknown length).
	body      []byte
	buf       *[]byte
	stream    io.Reader
	streamLen int64
}

func (h *outboundHandler) serveHot(w *respWriter, r *http.Request) {
	f := h.f
	start := f.clock.Now()
	rc := f.cfg.Load()
	var cl *clusterRuntime
	if rc != nil {
		cl = rc.clusters[h.svc]
	}
	if cl == nil {
		localReply(w, http.StatusServiceUnavailable, bodyNoCluster)
		return
	}
	c := callPool.Get().(*outboundCall)
	defer c.release()
	c.f, c.cl = f, cl
	if f.tracer != nil {
		if c.span = f.startOutbound(r, cl, start); c.span != nil {
			defer c.finishTrace(w)
		}
	}

	rs := cl.retry.Start(f.rand)
	if ok, err := c.body.prepare(r); err != nil {
		w.closeAfter = true
		localReply(w, http.StatusBadRequest, "cannot read request body: "+oneLine(err.Error()))
		return
	} else if !ok {
		rs = RetryState{} // too large to buffer: no retry, as Envoy
	}
	c.up = upRequest{in: r, body: c.body.body, stream: c.body.stream, streamLen: c.body.streamLen}
	ctx := r.Context()
	var res routeResult
	if cl.pol == nil {
		res = runRouter(ctx, f.clock, cl.lb, &rs, c)
	} else if res = cl.pol.route(ctx, w, c, &rs); res.replied {
		f.tel.duration.Record(ctx, f.clock.Now().Sub(start).Seconds(), cl.durationOpts...)
		return
	}
	if res.cancel != nil {
		defer res.cancel()
	}
	if res.Decision == RetryLimitExceeded {
		f.tel.limitExceeded.Add(ctx, 1, cl.urxOpts...)
		c.traceEvent(SpanEventRetryLimitExceeded, tracelite.Int(AttrAttempt, int64(res.Attempts)))
		if f.events.active() {
			f.events.publish(Event{Time: f.clock.Now(), Component: f.name, Kind: EventRetryLimitExceeded,
				Cluster: cl.name, Endpoint: cl.endpoints[res.Endpoint].name, Attempt: res.Attempts,
				StatusCode: res.Outcome.StatusCode, Detail: res.Outcome.Failure.String()})
		}
	}
	switch res.Outcome.Failure {
	case FailureNone:
		copyResponse(w, c.resp)
	case FailureCanceled:
		w.closeAfter = true
	case FailurePerTryTimeout:
		localReply(w, http.StatusGatewayTimeout, bodyTimeout)
	case FailureConnect:
		localReply(w, http.StatusServiceUnavailable, bodyConnectFailure)
	case FailureNoHealthyUpstream:
		localReply(w, http.StatusServiceUnavailable, bodyNoHealthyUpstream)
	default:
		localReply(w, http.StatusServiceUnavailable, bodyReset)
	}
	f.tel.duration.Record(ctx, f.clock.Now().Sub(start).Seconds(), cl.durationOpts...)
}

func (c *outboundCall) release() {
	if c.resp != nil {
		c.resp.Body.Close()
	}
	c.body.release()
	*c = outboundCall{}
	callPool.Put(c)
}

// prepare buffers the request body up to MaxRetryBody; it reports false
// when the body is larger (then it is streamed and cannot be resent).
func (b *bodyState) prepare(r *http.Request) (bool, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return true, nil
	}
	if r.ContentLength > MaxRetryBody {
		b.stream, b.streamLen = r.Body, r.ContentLength
		return false, nil
	}
	b.buf = bodyBufPool.Get().(*[]byte)
	buf := *b.buf
	n := 0
	for n < len(buf) {
		m, err := r.Body.Read(buf[n:])
		n += m
		if err == io.EOF {
			b.body = buf[:n]
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
	b.stream, b.streamLen = io.MultiReader(bytes.NewReader(buf[:n]), r.Body), -1
	return false, nil
}

func (b *bodyState) release() {
	if b.buf != nil {
		bodyBufPool.Put(b.buf)
	}
	*b = bodyState{}
}

func (c *outboundCall) attempt(ctx context.Context, ep, n int) Outcome {
	if ep < 0 {
		return Outcome{Failure: FailureNoHealthyUpstream} // every endpoint ejected
	}
	e := c.cl.endpoints[ep]
	c.up.attempt = n
	if c.span != nil {
		c.startTry(e, n)
	}
	resp, failure, _ := c.f.pool.roundTrip(ctx, e.addr, &c.up)
	var o Outcome
	if failure != FailureNone {
		o.Failure = failure
	} else {
		c.resp = resp
		o.StatusCode = resp.StatusCode
		_, o.Overloaded = resp.Header[OverloadedHeader]
	}
	c.f.tel.upstreamRequests.Add(ctx, 1, e.counts.get(o.StatusCode, n)...)
	var ejection string
	if c.cl.outlier != nil {
		ejection = c.cl.outlier.reportAttempt(ctx, c.up.in.Context(), ep, o)
	}
	if c.try != nil {
		c.traceOutcome(ctx, e, o, ejection)
	}
	return o
}

func (c *outboundCall) retrying(ep, n int, o Outcome, backoff time.Duration) {
	if c.resp != nil {
		discard(c.resp.Body)
		c.resp = nil
	}
	f := c.f
	if c.span != nil {
		c.traceRetry(n, backoff)
	}
	f.tel.retries.Add(context.Background(), 1, c.cl.retryOpts[o.Failure]...)
	if f.events.active() {
		f.events.publish(Event{Time: f.clock.Now(), Component: f.name, Kind: EventRetry,
			Cluster: c.cl.name, Endpoint: c.cl.endpoints[ep].name, Attempt: n,
			StatusCode: o.StatusCode, Backoff: backoff, Detail: o.Failure.String()})
	}
}

// discard drains a little of body (so the connection can be reused) and
// closes it.
func discard(body io.ReadCloser) {
	bp := copyBufPool.Get().(*[]byte)
	io.CopyBuffer(io.Discard, io.LimitReader(body, 256<<10), *bp)
	copyBufPool.Put(bp)
	body.Close()
}

// inboundHandler serves the --inbound listener: it forwards to the local
// app and counts requests at the server side of the component.
type inboundHandler struct {
	f   *forwarder
	app string
}

func (h *inboundHandler) serveHot(w *respWriter, r *http.Request) {
	f := h.f
	start := f.clock.Now()
	attempt := 1
	if v := r.Header[AttemptCountHeader]; len(v) > 0 {
		if a, err := strconv.Atoi(v[0]); err == nil && a > 0 {
			attempt = a
		}
	}
	var sp *tracelite.Span
	if f.tracer != nil {
		sp = f.startInbound(r, start, attempt)
	}
	var body bodyState
	defer body.release()
	status := 0
	failure := FailureNone
	if status = f.rateLimited(w); status != 0 {
		// Over the inbound local rate limit (ratelimit.go): answered
		// without calling the app.
		if sp != nil {
			sp.AddEvent(SpanEventRateLimited, f.clock.Now(), tracelite.Int("http.response.status_code", int64(status)))
		}
	} else if _, err := body.prepare(r); err != nil {
		w.closeAfter = true
		status = http.StatusBadRequest
		localReply(w, status, "cannot read request body: "+oneLine(err.Error()))
	} else {
		up := upRequest{in: r, body: body.body, stream: body.stream, streamLen: body.streamLen}
		if sp != nil {
			up.traceparent = sp.Context().Traceparent()
		}
		var resp *http.Response
		resp, failure, _ = f.pool.roundTrip(r.Context(), h.app, &up)
		switch failure {
		case FailureNone:
			status = resp.StatusCode
			copyResponse(w, resp)
			resp.Body.Close()
		case FailureConnect:
			status = http.StatusServiceUnavailable
			localReply(w, status, bodyConnectFailure)
		default:
			status = http.StatusServiceUnavailable
			localReply(w, status, bodyReset)
		}
	}
	ctx := r.Context()
	f.tel.requests.Add(ctx, 1, f.tel.inboundCounts.get(status, attempt)...)
	f.tel.duration.Record(ctx, f.clock.Now().Sub(start).Seconds(), f.tel.inboundDuration...)
	if sp != nil {
		finishSpan(sp, status, failure.String(), f.clock.Now())
	}
}

// Hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded.
func isHopHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

func splitTokens(v string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(v); i++ {
		if i == len(v) || v[i] == ',' {
			tok := v[start:i]
			for len(tok) > 0 && (tok[0] == ' ' || tok[0] == '\t') {
				tok = tok[1:]
			}
			for len(tok) > 0 && (tok[len(tok)-1] == ' ' || tok[len(tok)-1] == '\t') {
				tok = tok[:len(tok)-1]
			}
			if tok != "" {
				out = append(out, tok)
			}
			start = i + 1
		}
	}
	return out
}

// writerOnly hides http.ResponseWriter's ReadFrom so copies use our pooled
// buffer.
type writerOnly struct{ io.Writer }

// copyResponse writes resp (headers less hop-by-hop, body, trailers) to w.
func copyResponse(w http.ResponseWriter, resp *http.Response) {
	dst := w.Header()
	for k, vv := range resp.Header {
		if isHopHeader(k) {
			continue
		}
		dst[k] = vv
	}
	for _, v := range resp.Header["Connection"] {
		for _, f := range splitTokens(v) {
			delete(dst, http.CanonicalHeaderKey(f))
		}
	}
	if resp.ContentLength >= 0 && len(resp.Trailer) == 0 {
		if _, ok := dst["Content-Length"]; !ok {
			dst["Content-Length"] = []string{strconv.FormatInt(resp.ContentLength, 10)}
		}
	}
	if len(resp.Trailer) > 0 {
		keys := make([]string, 0, len(resp.Trailer))
		for k := range resp.Trailer {
			keys = append(keys, k)
		}
		dst["Trailer"] = keys
	}
	w.WriteHeader(resp.StatusCode)
	bp := copyBufPool.Get().(*[]byte)
	_, _ = io.CopyBuffer(writerOnly{w}, resp.Body, *bp)
	copyBufPool.Put(bp)
	for k, vv := range resp.Trailer {
		dst[http.TrailerPrefix+k] = vv
	}
}

var textPlain = []string{"text/plain"}

// localReply writes a reply the sidecar produced itself.
func localReply(w http.ResponseWriter, code int, body string) {
	h := w.Header()
	h["Content-Type"] = textPlain
	h["Content-Length"] = []string{strconv.Itoa(len(body) + 1)}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body+"\n")
}
