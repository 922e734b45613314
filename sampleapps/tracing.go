package sampleapps

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
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
//   - one client span per upstream call, named after the upstream
//     service when the URI says it (see upstreamTarget): "GET currency",
//     with attribute meshgym.cluster; else after the host, "GET
//     127.0.0.1:39131". Its context is the traceparent the upstream
//     receives.

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
	target, cluster := upstreamTarget(u)
	sp := s.tracer.StartSpan(parent.Context(), req.Method+" "+target, tracelite.KindClient, time.Now(),
		tracelite.HTTPAttrs(req.Method, u.Path, u.Host)...)
	sp.SetAttr(tracelite.String("url.full", (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()))
	if cluster != "" {
		sp.SetAttr(tracelite.String(attrCluster, cluster))
	}
	req.Header[tracelite.TraceparentHeader] = []string{sp.Context().Traceparent()}
	return sp
}

// attrCluster is the client span's attribute naming the upstream service
// (meshgym/tracing.AttrCluster; the app does not import that package).
const attrCluster = "meshgym.cluster"

// upstreamTarget is what a client span to u is named after, and the
// upstream service when known:
//   - a URI fragment names the service ("http://127.0.0.1:39131/#currency":
//     the platform calls the app's sidecar listener for currency; the
//     fragment is never sent) → "currency", "currency";
//   - a host name (not an IP address or localhost), as in fake-service's
//     own examples ("http://currency:9090") → the host without its port,
//     "currency" (the service is not certain: no cluster);
//   - else the host and port, "127.0.0.1:39131", no cluster.
func upstreamTarget(u *url.URL) (target, cluster string) {
	if f := strings.TrimSpace(u.Fragment); f != "" && !strings.ContainsAny(f, " /?#") {
		return f, f
	}
	host := u.Hostname()
	if host != "" && host != "localhost" && net.ParseIP(host) == nil {
		return host, ""
	}
	return u.Host, ""
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
