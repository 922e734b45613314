package sampleapps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nicholasjackson/fake-service/response"
	"github.com/nicholasjackson/fake-service/timing"
	"golang.org/x/time/rate"

	"meshgym/tracing/tracelite"
)

// TimeFormat is the layout of the response's start_time and end_time
// (fake-service's, local time with microseconds).
const TimeFormat = "2006-01-02T15:04:05.000000"

// PropagatedHeaders are the incoming request headers copied onto every
// upstream call: W3C trace context, B3, Jaeger, Datadog, Envoy's request id.
var PropagatedHeaders = []string{
	"Traceparent", "Tracestate", "Baggage",
	"X-Request-Id",
	"B3", "X-B3-Traceid", "X-B3-Spanid", "X-B3-Parentspanid", "X-B3-Sampled", "X-B3-Flags",
	"Uber-Trace-Id", "X-Ot-Span-Context", "X-Cloud-Trace-Context",
	"X-Datadog-Trace-Id", "X-Datadog-Parent-Id", "X-Datadog-Sampling-Priority",
	"X-Client-Trace-Id", "X-Envoy-Force-Trace",
}

// Error messages of injected failures, the same text as fake-service's
// errors package (not imported: it links hclog and terminal-colour packages).
const (
	msgRateLimit = "Service exceeded rate limit"
	msgInjected  = "Service error automatically injected"
	msgDelay     = "Service delay automatically injected"
)

// maxUpstreamBody caps how much of an upstream answer is read, in bytes.
const maxUpstreamBody = 8 << 20

// Server is one sample service: an http.Handler answering fake-service's
// JSON on every path except the reserved ones: /ready and /health (200
// "OK") and GET /metrics (the app's own [MetricRequests] and
// [MetricRequestDuration] in the Prometheus text format, the same series a
// sidecar's inbound listener exports). It is safe for concurrent use.
type Server struct {
	opts      Options
	duration  *timing.RequestDuration
	errs      *errorSampler
	limiter   *rate.Limiter
	transport *http.Transport
	client    *http.Client
	body      json.RawMessage
	metrics   *appMetrics
	tracer    *tracelite.Tracer // nil = tracing off (tracing.go)
}

// NewServer validates opts and returns its server. Zero values of Name,
// ErrorCode, ErrorType and RateLimitCode mean their [DefaultOptions] values;
// ListenAddr is not used (see [Server.Serve] and [Main]).
func NewServer(opts Options) (*Server, error) {
	def := DefaultOptions()
	if opts.Name == "" {
		opts.Name = def.Name
	}
	if opts.ErrorCode == 0 {
		opts.ErrorCode = def.ErrorCode
	}
	if opts.ErrorType == "" {
		opts.ErrorType = def.ErrorType
	}
	if opts.RateLimitCode == 0 {
		opts.RateLimitCode = def.RateLimitCode
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.UpstreamURIs = append([]string(nil), opts.UpstreamURIs...)

	s := &Server{
		opts:     opts,
		duration: timing.NewRequestDuration(opts.Timing50, opts.Timing90, opts.Timing99, opts.TimingVariance),
		errs:     newErrorSampler(opts.ErrorRate, opts.Seed, opts.Name),
		metrics:  newAppMetrics(opts.Name),
	}
	if opts.RateLimitRPS > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(opts.RateLimitRPS), max(1, int(opts.RateLimitRPS)))
	}
	if strings.HasPrefix(opts.Message, "{") && json.Valid([]byte(opts.Message)) {
		s.body = json.RawMessage(opts.Message)
	} else {
		b, _ := json.Marshal(opts.Message)
		s.body = b
	}
	// Upstreams are the local sidecar on loopback: keep many connections
	// alive, never go through an environment proxy, no compression.
	s.transport = &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ExpectContinueTimeout: time.Second,
	}
	s.client = &http.Client{Transport: s.transport, Timeout: opts.UpstreamTimeout}
	return s, nil
}

// Options returns the options the server runs with (defaults filled in).
func (s *Server) Options() Options {
	o := s.opts
	o.UpstreamURIs = append([]string(nil), o.UpstreamURIs...)
	return o
}

// CloseIdleConnections closes the idle keep-alive connections to upstreams.
func (s *Server) CloseIdleConnections() { s.transport.CloseIdleConnections() }

// Serve answers requests on l until ctx is done, then shuts down gracefully:
// it stops accepting, waits up to 5 s for requests in flight, and closes
// the rest. It returns nil after a shutdown caused by ctx.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	s.CloseIdleConnections()
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ServeHTTP implements fake-service's request flow:
//  1. record the start time;
//  2. rate limit (RateLimitCode), then decide an injected error with
//     probability ErrorRate: "http_error" answers ErrorCode at once, "delay"
//     waits ErrorDelay first; neither calls upstreams;
//  3. call every upstream in parallel, nesting each parsed answer under
//     upstream_calls by URI; a transport error or a non-2xx status makes the
//     answer 500 with "error" set;
//  4. otherwise sleep what remains of the service time drawn from
//     Timing50/90/99 (upstream time counts towards it), and answer 200.
//
// A request whose client goes away while it sleeps gets no answer. Every
// request but the reserved paths is counted in [MetricRequests] (status 0
// when it got no answer) and timed in [MetricRequestDuration].
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/ready", "/health":
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "OK\n")
		return
	case MetricsPath:
		s.metrics.ServeHTTP(w, r)
		return
	}
	ts := time.Now()
	sp := s.startServerSpan(r, ts)
	status := s.serve(w, r, ts, sp)
	s.metrics.observe(status, attemptOf(r), time.Since(ts))
	if sp != nil {
		sp.StatusAttrs(status, "canceled")
		sp.End(time.Now())
	}
}

// serve is the request flow of [Server.ServeHTTP] from ts on; it returns
// the status answered, 0 for none.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, ts time.Time, sp *tracelite.Span) int {
	ctx := r.Context()
	resp := response.Response{
		Name: s.opts.Name,
		URI:  r.URL.String(),
		Type: "HTTP",
		Body: s.body,
	}

	if s.limiter != nil && !s.limiter.Allow() {
		sp.AddEvent(SpanEventRateLimited, time.Now(), tracelite.Int("http.response.status_code", int64(s.opts.RateLimitCode)))
		resp.Code = s.opts.RateLimitCode
		resp.Error = msgRateLimit
		return s.write(w, &resp, ts)
	}
	if s.errs.inject() {
		sp.AddEvent(SpanEventErrorInjected, time.Now(), tracelite.String("meshgym.error_type", string(s.opts.ErrorType)),
			tracelite.Int("http.response.status_code", int64(s.opts.ErrorCode)))
		resp.Code = s.opts.ErrorCode
		resp.Error = msgInjected
		if s.opts.ErrorType == ErrorTypeDelay {
			if !sleepCtx(ctx, s.opts.ErrorDelay) {
				return 0
			}
			resp.Error = msgDelay
		}
		return s.write(w, &resp, ts)
	}

	if n := len(s.opts.UpstreamURIs); n > 0 {
		calls := make([]response.Response, n)
		errs := make([]error, n)
		if n == 1 {
			calls[0], errs[0] = s.callUpstream(ctx, s.opts.UpstreamURIs[0], r, sp)
		} else {
			var wg sync.WaitGroup
			for i, u := range s.opts.UpstreamURIs {
				wg.Go(func() { calls[i], errs[i] = s.callUpstream(ctx, u, r, sp) })
			}
			wg.Wait()
		}
		resp.UpstreamCalls = make(map[string]response.Response, n)
		for i, u := range s.opts.UpstreamURIs {
			resp.UpstreamCalls[u] = calls[i]
			if errs[i] != nil && resp.Error == "" {
				resp.Error = errs[i].Error()
			}
		}
		if resp.Error != "" {
			if ctx.Err() != nil {
				return 0 // the client went away; nobody reads the answer
			}
			resp.Code = http.StatusInternalServerError
			return s.write(w, &resp, ts)
		}
	}

	if !sleepCtx(ctx, s.duration.Calculate()-time.Since(ts)) {
		return 0
	}
	resp.Code = http.StatusOK
	return s.write(w, &resp, ts)
}

// write finishes resp's timing fields and sends it with status resp.Code,
// which it returns (500 if resp cannot be encoded).
func (s *Server) write(w http.ResponseWriter, resp *response.Response, ts time.Time) int {
	te := time.Now()
	resp.StartTime = ts.Format(TimeFormat)
	resp.EndTime = te.Format(TimeFormat)
	resp.Duration = te.Sub(ts).String()
	b, err := json.Marshal(resp)
	if err != nil { // cannot happen with Response's field types
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(resp.Code)
	w.Write(b)
	return resp.Code
}

// callUpstream GETs uri, forwarding the tracing headers of in, and returns
// the upstream's answer as fake-service nests it (uri, code, headers set by
// the caller). A non-JSON answer is kept as a JSON string in "body", cut to
// 1 KiB.
func (s *Server) callUpstream(ctx context.Context, uri string, in *http.Request, parent *tracelite.Span) (response.Response, error) {
	var r response.Response
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		r.URI, r.Code, r.Error = uri, -1, err.Error()
		return r, err
	}
	for _, h := range PropagatedHeaders {
		if v, ok := in.Header[h]; ok {
			req.Header[h] = v
		}
	}
	csp := s.startClientSpan(parent, req)
	res, err := s.client.Do(req)
	if err != nil {
		endClientSpan(ctx, csp, 0, err)
		err = fmt.Errorf("Error communicating with upstream service: %v", err)
		r.URI, r.Code, r.Error = uri, -1, err.Error()
		return r, err
	}
	data, rerr := io.ReadAll(io.LimitReader(res.Body, maxUpstreamBody))
	res.Body.Close()
	endClientSpan(ctx, csp, res.StatusCode, rerr)
	if len(data) > 0 {
		if json.Unmarshal(data, &r) != nil {
			r = response.Response{}
			if len(data) > 1024 {
				data = data[:1024]
			}
			r.Body, _ = json.Marshal(string(data))
		}
	}
	r.URI = uri
	r.Code = res.StatusCode
	if len(res.Header) > 0 {
		r.Headers = make(map[string]string, len(res.Header))
		for k, v := range res.Header {
			r.Headers[k] = strings.Join(v, ",")
		}
	}
	switch {
	case rerr != nil:
		err = fmt.Errorf("Error reading response body: %v", rerr)
	case res.StatusCode < 200 || res.StatusCode > 299:
		err = fmt.Errorf("Error processing upstream request: %s, expected code 2xx, got %d", uri, res.StatusCode)
	}
	if err != nil {
		r.Error = err.Error()
	}
	return r, err
}

// sleepCtx sleeps d (nothing when d <= 0) and reports false when ctx ended
// first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
