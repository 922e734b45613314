package sampleapps

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"meshgym/tracing/tracelite"
)

// Tracing of the sample app, written against meshgym/tracing/tracelite
// (standard library only: the app links no OpenTelemetry package, see
// TestLeanDependencies). A request is traced only when it carries a
// sampled W3C traceparent (the load generator decides; parent-based):
//
//   - one server span per request, "GET /path", with the OpenTelemetry
//     HTTP semantic-convention attributes (http.request.method, url.path,
//     server.address, server.port, http.response.status_code, error.type)
//     and events rate_limited and error_injected (ERROR_RATE);
//   - one client span per upstream call, "GET SERVICE-HOST", whose
//     context is the traceparent the upstream receives.

// SetTracer makes the server record spans of sampled requests with t (nil
// = off). Call it before serving.
func (s *Server) SetTracer(t *tracelite.Tracer) { s.tracer = t }

// Span event names of the sample app.
const (
	SpanEventRateLimited   = "rate_limited"
	SpanEventErrorInjected = "error_injected"
)

// startServerSpan returns the server span of r, nil when r is not sampled
// or tracing is off.
func (s *Server) startServerSpan(r *http.Request, ts time.Time) *tracelite.Span {
	if s.tracer == nil {
		return nil
	}
	v := r.Header[tracelite.TraceparentHeader]
	if len(v) == 0 {
		return nil
	}
	parent, ok := tracelite.ParseTraceparent(v[0])
	if !ok || !parent.Sampled {
		return nil
	}
	sp := s.tracer.StartSpan(parent, r.Method+" "+r.URL.Path, tracelite.KindServer, ts,
		tracelite.HTTPAttrs(r.Method, r.URL.Path, r.Host)...)
	sp.SetAttr(tracelite.Int("meshgym.attempt", int64(attemptOf(r))))
	return sp
}

// startClientSpan starts the span of a call to uri under parent and puts
// its context in req's traceparent header.
func (s *Server) startClientSpan(parent *tracelite.Span, req *http.Request) *tracelite.Span {
	if parent == nil {
		return nil
	}
	u := req.URL
	sp := s.tracer.StartSpan(parent.Context(), req.Method+" "+u.Host, tracelite.KindClient, time.Now(),
		tracelite.HTTPAttrs(req.Method, u.Path, u.Host)...)
	sp.SetAttr(tracelite.String("url.full", (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()))
	req.Header[tracelite.TraceparentHeader] = []string{sp.Context().Traceparent()}
	return sp
}

// endClientSpan ends a call's span: status code (0 = no response, err
// says why).
func endClientSpan(ctx context.Context, sp *tracelite.Span, code int, err error) {
	if sp == nil {
		return
	}
	errType := ""
	if code <= 0 {
		code = 0
		errType = "connect_failure"
		if ctx.Err() != nil {
			errType = "canceled"
		} else if err != nil && isTimeout(err) {
			errType = "timeout"
		}
	}
	sp.StatusAttrs(code, errType)
	sp.End(time.Now())
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
