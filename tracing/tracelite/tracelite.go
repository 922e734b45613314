// Package tracelite is the small tracer meshgym's own components (the
// sidecar, the sample app, the load generator) record spans with: W3C
// trace-context propagation, span records, and a batching exporter that
// sends them as OTLP/HTTP JSON to a collector.
//
// It depends on the standard library only, so the lean executables
// (meshgym-sidecar, meshgym-app) stay lean: the OpenTelemetry Go SDK's
// OTLP/HTTP exporter (otlptracehttp v1.47) links gRPC and grpc-gateway
// through go.opentelemetry.io/proto/otlp/collector/trace/v1, and the sample
// app must not link OpenTelemetry at all (its memory is what the sidecar
// scenario measures). What goes on the wire is standard:
//
//   - traceparent: W3C Trace Context level 1 §3.2
//     (https://www.w3.org/TR/trace-context/#traceparent-header), the format
//     OpenTelemetry's propagation.TraceContext reads and writes;
//   - export: OTLP/HTTP with the JSON encoding, POST {endpoint}/v1/traces
//     (https://opentelemetry.io/docs/specs/otlp/#otlphttp), accepted by the
//     OpenTelemetry Collector, Jaeger and Grafana Tempo.
//
// A nil *Tracer and a nil *Span are valid and do nothing, so call sites
// need no checks beyond the one that keeps the unsampled path free.
package tracelite

import (
	"encoding/hex"
	"math/rand/v2"
	"strconv"
	"time"
)

// TraceID is a W3C trace-id (16 bytes; all zero is invalid).
type TraceID [16]byte

// SpanID is a W3C parent-id / OTel span id (8 bytes; all zero is invalid).
type SpanID [8]byte

// String is the lower-case hex form (32 characters).
func (t TraceID) String() string { return hex.EncodeToString(t[:]) }

// String is the lower-case hex form (16 characters).
func (s SpanID) String() string { return hex.EncodeToString(s[:]) }

// IsValid reports a non-zero id.
func (t TraceID) IsValid() bool { return t != TraceID{} }

// IsValid reports a non-zero id.
func (s SpanID) IsValid() bool { return s != SpanID{} }

// SpanContext is what crosses a process boundary in traceparent.
type SpanContext struct {
	TraceID TraceID
	SpanID  SpanID
	// Sampled is the trace-flags sampled bit (01): the caller records
	// this trace, so the callee records its spans too (parent-based).
	Sampled bool
}

// IsValid reports both ids non-zero.
func (c SpanContext) IsValid() bool { return c.TraceID.IsValid() && c.SpanID.IsValid() }

// TraceparentHeader is the canonical (net/http) key of the W3C header.
const TraceparentHeader = "Traceparent"

// ParseTraceparent parses a W3C traceparent value
// "00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>" (Trace Context
// level 1 §3.2.2). Version ff, all-zero ids, upper-case hex and a version-00
// value of the wrong length are rejected; a future version (01–fe) is read
// by its first 55 characters as the spec asks. It allocates nothing.
func ParseTraceparent(v string) (SpanContext, bool) {
	var sc SpanContext
	if len(v) < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return sc, false
	}
	ver, ok := hexByte(v[0], v[1])
	if !ok || ver == 0xff || (ver == 0 && len(v) != 55) || (ver != 0 && len(v) > 55 && v[55] != '-') {
		return sc, false
	}
	for i := range sc.TraceID {
		if sc.TraceID[i], ok = hexByte(v[3+2*i], v[4+2*i]); !ok {
			return SpanContext{}, false
		}
	}
	for i := range sc.SpanID {
		if sc.SpanID[i], ok = hexByte(v[36+2*i], v[37+2*i]); !ok {
			return SpanContext{}, false
		}
	}
	flags, ok := hexByte(v[53], v[54])
	if !ok || !sc.IsValid() {
		return SpanContext{}, false
	}
	sc.Sampled = flags&1 == 1
	return sc, true
}

func hexByte(a, b byte) (byte, bool) {
	x, ok1 := unhex(a)
	y, ok2 := unhex(b)
	return x<<4 | y, ok1 && ok2
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// Traceparent formats c as a version-00 traceparent value.
func (c SpanContext) Traceparent() string {
	var b [55]byte
	b[0], b[1], b[2] = '0', '0', '-'
	hex.Encode(b[3:35], c.TraceID[:])
	b[35] = '-'
	hex.Encode(b[36:52], c.SpanID[:])
	b[52], b[53], b[54] = '-', '0', '0'
	if c.Sampled {
		b[54] = '1'
	}
	return string(b[:])
}

// Kind is the OTLP span kind (opentelemetry/proto/trace/v1 Span.SpanKind).
type Kind int

// Span kinds, numbered as in OTLP.
const (
	KindInternal Kind = 1
	KindServer   Kind = 2
	KindClient   Kind = 3
)

// String is the lower-case name meshgym's span record uses.
func (k Kind) String() string {
	switch k {
	case KindServer:
		return "server"
	case KindClient:
		return "client"
	case KindInternal:
		return "internal"
	}
	return "unspecified"
}

// Status codes of a span (OTLP Status.StatusCode).
const (
	StatusUnset = 0
	StatusOK    = 1
	StatusError = 2
)

// Attr is one span or event attribute: a string, an int64, a float64 or
// a bool, as OTLP's AnyValue holds them.
type Attr struct {
	Key  string
	kind byte // 's', 'i', 'f', 'b'
	s    string
	n    int64
	f    float64
}

// String is a string attribute.
func String(k, v string) Attr { return Attr{Key: k, kind: 's', s: v} }

// Int is an integer attribute.
func Int(k string, v int64) Attr { return Attr{Key: k, kind: 'i', n: v} }

// Float is a floating-point attribute.
func Float(k string, v float64) Attr { return Attr{Key: k, kind: 'f', f: v} }

// Bool is a boolean attribute.
func Bool(k string, v bool) Attr {
	a := Attr{Key: k, kind: 'b'}
	if v {
		a.n = 1
	}
	return a
}

// Value returns the attribute's value as a Go value (string, int64,
// float64 or bool).
func (a Attr) Value() any {
	switch a.kind {
	case 'i':
		return a.n
	case 'f':
		return a.f
	case 'b':
		return a.n == 1
	}
	return a.s
}

// Event is a point-in-time event on a span.
type Event struct {
	Name  string
	Time  time.Time
	Attrs []Attr
}

// Span is one span being recorded. Its methods are not safe for
// concurrent use (one request's goroutine owns it); End hands it to the
// exporter, after which it must not be touched.
type Span struct {
	t        *Tracer
	TraceID  TraceID
	SpanID   SpanID
	ParentID SpanID // zero for a root span
	Name     string
	Kind     Kind
	Start    time.Time
	EndTime  time.Time
	Attrs    []Attr
	Events   []Event
	Status   int // StatusUnset, StatusOK, StatusError
}

// Context is the span's context to propagate (sampled: a span exists
// only for a sampled trace).
func (s *Span) Context() SpanContext {
	if s == nil {
		return SpanContext{}
	}
	return SpanContext{TraceID: s.TraceID, SpanID: s.SpanID, Sampled: true}
}

// SetAttr adds attributes.
func (s *Span) SetAttr(attrs ...Attr) {
	if s != nil {
		s.Attrs = append(s.Attrs, attrs...)
	}
}

// AddEvent records an event at t.
func (s *Span) AddEvent(name string, t time.Time, attrs ...Attr) {
	if s != nil {
		s.Events = append(s.Events, Event{Name: name, Time: t, Attrs: attrs})
	}
}

// SetStatus sets the span status (StatusOK, StatusError).
func (s *Span) SetStatus(code int) {
	if s != nil {
		s.Status = code
	}
}

// End finishes the span at t and queues it for export; it never blocks.
func (s *Span) End(t time.Time) {
	if s == nil || s.t == nil {
		return
	}
	s.EndTime = t
	tr := s.t
	s.t = nil
	tr.exp.enqueue(s)
}

// Tracer starts spans of one service and exports them.
type Tracer struct {
	service string
	exp     *exporter
}

// Service is the service.name the tracer's spans carry.
func (t *Tracer) Service() string {
	if t == nil {
		return ""
	}
	return t.service
}

// StartSpan starts a span under parent (a zero parent starts a new trace:
// a root span). The caller decides sampling: spans are only started for
// sampled traces. A nil tracer returns a nil span.
func (t *Tracer) StartSpan(parent SpanContext, name string, kind Kind, start time.Time, attrs ...Attr) *Span {
	if t == nil {
		return nil
	}
	s := &Span{t: t, Name: name, Kind: kind, Start: start}
	if parent.TraceID.IsValid() {
		s.TraceID, s.ParentID = parent.TraceID, parent.SpanID
	} else {
		s.TraceID = newTraceID()
	}
	s.SpanID = newSpanID()
	if len(attrs) > 0 {
		s.Attrs = make([]Attr, len(attrs), len(attrs)+4)
		copy(s.Attrs, attrs)
	}
	return s
}

func newTraceID() TraceID {
	var id TraceID
	for !id.IsValid() {
		putUint64(id[:8], rand.Uint64())
		putUint64(id[8:], rand.Uint64())
	}
	return id
}

func newSpanID() SpanID {
	var id SpanID
	for !id.IsValid() {
		putUint64(id[:], rand.Uint64())
	}
	return id
}

func putUint64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (56 - 8*i))
	}
}

// HTTPAttrs returns OpenTelemetry HTTP semantic-convention attributes
// of a request (https://opentelemetry.io/docs/specs/semconv/http/http-spans/):
// http.request.method, url.path, server.address and server.port (from
// hostport "host:port").
func HTTPAttrs(method, path, hostport string) []Attr {
	a := []Attr{String("http.request.method", method), String("url.path", path)}
	return append(a, ServerAttrs(hostport)...)
}

// ServerAttrs returns server.address and server.port of "host:port".
func ServerAttrs(hostport string) []Attr {
	host, port := hostport, ""
	for i := len(hostport) - 1; i >= 0; i-- {
		if hostport[i] == ':' {
			host, port = hostport[:i], hostport[i+1:]
			break
		}
		if hostport[i] == ']' {
			break
		}
	}
	if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	a := []Attr{String("server.address", host)}
	if p, err := strconv.Atoi(port); err == nil {
		a = append(a, Int("server.port", int64(p)))
	}
	return a
}

// StatusAttrs sets http.response.status_code (when code > 0) and, for a
// failed request, error.type and the error status: a 5xx for a server
// span, any 4xx/5xx for a client span (semconv "Status"), or errType
// when there was no response (e.g. "connect_failure").
func (s *Span) StatusAttrs(code int, errType string) {
	if s == nil {
		return
	}
	if code > 0 {
		s.Attrs = append(s.Attrs, Int("http.response.status_code", int64(code)))
	}
	switch {
	case code == 0:
		if errType == "" {
			errType = "_OTHER"
		}
		s.Attrs = append(s.Attrs, String("error.type", errType))
		s.Status = StatusError
	case code >= 500 || (code >= 400 && s.Kind == KindClient):
		s.Attrs = append(s.Attrs, String("error.type", strconv.Itoa(code)))
		s.Status = StatusError
	}
}
