package tracelite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the exporter. The queue and batch sizes are the
// OpenTelemetry SDK's BatchSpanProcessor defaults
// (OTEL_BSP_MAX_QUEUE_SIZE 2048, OTEL_BSP_MAX_EXPORT_BATCH_SIZE 512,
// https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#batch-span-processor);
// the delay is shorter than the SDK's 5 s so that a component stopped at
// the end of a run has little left to flush.
const (
	DefaultMaxQueue      = 2048
	DefaultMaxBatch      = 512
	DefaultBatchDelay    = 500 * time.Millisecond
	DefaultExportTimeout = 2 * time.Second
)

// TracesPath is the OTLP/HTTP path of traces.
const TracesPath = "/v1/traces"

// Config configures a Tracer.
type Config struct {
	// Service is the resource's service.name, e.g. "currency_v2_sidecar".
	Service string
	// URL is the full OTLP/HTTP traces URL, e.g.
	// http://127.0.0.1:4318/v1/traces.
	URL string
	// MaxQueue bounds the spans waiting for export (0 = DefaultMaxQueue);
	// a span ended while the queue is full is dropped and counted.
	MaxQueue int
	// BatchDelay is the longest a span waits before its batch is sent
	// (0 = DefaultBatchDelay).
	BatchDelay time.Duration
	// Timeout bounds one export request (0 = DefaultExportTimeout).
	Timeout time.Duration
	// Client sends the export requests (nil: a client without proxy).
	Client *http.Client
}

// Environment variables read by FromEnv: the standard OpenTelemetry ones
// (https://opentelemetry.io/docs/specs/otel/protocol/exporter/).
const (
	EnvTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvSDKDisabled    = "OTEL_SDK_DISABLED"
	EnvServiceName    = "OTEL_SERVICE_NAME"
)

// TracesURL resolves the traces URL from the environment as the OTLP
// exporter spec says: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as it is;
// otherwise OTEL_EXPORTER_OTLP_ENDPOINT gets "/v1/traces" appended. It
// returns "" when neither is set or OTEL_SDK_DISABLED is "true".
func TracesURL(getenv func(string) string) string {
	if strings.EqualFold(strings.TrimSpace(getenv(EnvSDKDisabled)), "true") {
		return ""
	}
	if u := strings.TrimSpace(getenv(EnvTracesEndpoint)); u != "" {
		return u
	}
	if u := strings.TrimSpace(getenv(EnvEndpoint)); u != "" {
		return strings.TrimSuffix(u, "/") + TracesPath
	}
	return ""
}

// FromEnv returns a tracer for service exporting to the URL the
// environment names (see TracesURL), or nil (tracing off) when it names
// none. It errors on a URL that is not http(s).
func FromEnv(service string, getenv func(string) string) (*Tracer, error) {
	u := TracesURL(getenv)
	if u == "" {
		return nil, nil
	}
	return New(Config{Service: service, URL: u})
}

// New starts a tracer and its export goroutine (stopped by Shutdown). It
// errors on a URL that is not http(s).
func New(cfg Config) (*Tracer, error) {
	if !strings.HasPrefix(cfg.URL, "http://") && !strings.HasPrefix(cfg.URL, "https://") {
		return nil, fmt.Errorf("OTLP traces endpoint %q: want an http:// or https:// URL", cfg.URL)
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = DefaultMaxQueue
	}
	if cfg.BatchDelay <= 0 {
		cfg.BatchDelay = DefaultBatchDelay
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultExportTimeout
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second}}
	}
	e := &exporter{cfg: cfg, wake: make(chan struct{}, 1), flush: make(chan chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go e.loop()
	return &Tracer{service: cfg.Service, exp: e}, nil
}

// Stats are what a tracer exported and lost.
type Stats struct {
	// Exported counts spans a collector accepted (2xx).
	Exported int64
	// Dropped counts spans lost: queue full, or the export failed.
	Dropped int64
}

// Stats returns the tracer's export counts.
func (t *Tracer) Stats() Stats {
	if t == nil {
		return Stats{}
	}
	return Stats{Exported: t.exp.exported.Load(), Dropped: t.exp.dropped.Load()}
}

// Flush sends every queued span and waits for it (or for ctx).
func (t *Tracer) Flush(ctx context.Context) error {
	if t == nil {
		return nil
	}
	ack := make(chan struct{})
	select {
	case t.exp.flush <- ack:
	case <-t.exp.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown flushes (bounded by ctx) and stops the export goroutine.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	err := t.Flush(ctx)
	t.exp.stopOnce.Do(func() { close(t.exp.stop) })
	select {
	case <-t.exp.done:
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	return err
}

type exporter struct {
	cfg      Config
	mu       sync.Mutex
	queue    []*Span
	wake     chan struct{}
	flush    chan chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	exported atomic.Int64
	dropped  atomic.Int64
}

func (e *exporter) enqueue(s *Span) {
	e.mu.Lock()
	if len(e.queue) >= e.cfg.MaxQueue {
		e.mu.Unlock()
		e.dropped.Add(1)
		return
	}
	e.queue = append(e.queue, s)
	full := len(e.queue) >= DefaultMaxBatch
	e.mu.Unlock()
	if full {
		select {
		case e.wake <- struct{}{}:
		default:
		}
	}
}

func (e *exporter) take() []*Span {
	e.mu.Lock()
	q := e.queue
	e.queue = nil
	e.mu.Unlock()
	return q
}

func (e *exporter) loop() {
	defer close(e.done)
	t := time.NewTicker(e.cfg.BatchDelay)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			e.send(e.take())
		case <-e.wake:
			e.send(e.take())
		case ack := <-e.flush:
			e.send(e.take())
			close(ack)
		case <-e.stop:
			e.send(e.take())
			return
		}
	}
}

func (e *exporter) send(spans []*Span) {
	for len(spans) > 0 {
		n := min(len(spans), DefaultMaxBatch)
		if err := e.post(spans[:n]); err != nil {
			e.dropped.Add(int64(n))
		} else {
			e.exported.Add(int64(n))
		}
		spans = spans[n:]
	}
}

func (e *exporter) post(spans []*Span) error {
	body, err := json.Marshal(Encode(e.cfg.Service, spans))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return errors.New("OTLP export: " + resp.Status)
	}
	return nil
}

// ExportRequest is OTLP's ExportTraceServiceRequest in the OTLP/JSON
// encoding (ids in hex, 64-bit integers as decimal strings, enums as
// numbers; https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding).
type ExportRequest struct {
	ResourceSpans []ResourceSpans `json:"resourceSpans"`
}

// ResourceSpans are the spans of one resource (one service).
type ResourceSpans struct {
	Resource   Resource     `json:"resource"`
	ScopeSpans []ScopeSpans `json:"scopeSpans"`
}

// Resource holds the resource attributes (service.name).
type Resource struct {
	Attributes []KeyValue `json:"attributes,omitempty"`
}

// ScopeSpans are the spans of one instrumentation scope.
type ScopeSpans struct {
	Scope Scope      `json:"scope"`
	Spans []JSONSpan `json:"spans"`
}

// Scope is the instrumentation scope.
type Scope struct {
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
}

// JSONSpan is one span in OTLP/JSON.
type JSONSpan struct {
	TraceID           string      `json:"traceId"`
	SpanID            string      `json:"spanId"`
	ParentSpanID      string      `json:"parentSpanId,omitempty"`
	Name              string      `json:"name"`
	Kind              int         `json:"kind"`
	StartTimeUnixNano Uint64      `json:"startTimeUnixNano"`
	EndTimeUnixNano   Uint64      `json:"endTimeUnixNano"`
	Attributes        []KeyValue  `json:"attributes,omitempty"`
	Events            []JSONEvent `json:"events,omitempty"`
	Status            *JSONStatus `json:"status,omitempty"`
}

// JSONEvent is a span event in OTLP/JSON.
type JSONEvent struct {
	TimeUnixNano Uint64     `json:"timeUnixNano"`
	Name         string     `json:"name"`
	Attributes   []KeyValue `json:"attributes,omitempty"`
}

// JSONStatus is a span status in OTLP/JSON.
type JSONStatus struct {
	Message string `json:"message,omitempty"`
	Code    int    `json:"code,omitempty"`
}

// KeyValue is an attribute in OTLP/JSON.
type KeyValue struct {
	Key   string   `json:"key"`
	Value AnyValue `json:"value"`
}

// AnyValue holds one of a string, int, double or bool value.
type AnyValue struct {
	StringValue *string  `json:"stringValue,omitempty"`
	IntValue    *Int64   `json:"intValue,omitempty"`
	DoubleValue *float64 `json:"doubleValue,omitempty"`
	BoolValue   *bool    `json:"boolValue,omitempty"`
}

// Value returns the Go value (string, int64, float64, bool; nil if none).
func (v AnyValue) Value() any {
	switch {
	case v.StringValue != nil:
		return *v.StringValue
	case v.IntValue != nil:
		return int64(*v.IntValue)
	case v.DoubleValue != nil:
		return *v.DoubleValue
	case v.BoolValue != nil:
		return *v.BoolValue
	}
	return nil
}

// Uint64 is a 64-bit unsigned integer written as a decimal string (OTLP
// JSON) and read from a string or a number.
type Uint64 uint64

// MarshalJSON writes a quoted decimal.
func (u Uint64) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, strconv.FormatUint(uint64(u), 10)), nil
}

// UnmarshalJSON reads a quoted or bare decimal.
func (u *Uint64) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("OTLP JSON: bad unsigned integer %s", b)
	}
	*u = Uint64(n)
	return nil
}

// Int64 is a 64-bit integer written as a decimal string (OTLP JSON) and
// read from a string or a number.
type Int64 int64

// MarshalJSON writes a quoted decimal.
func (i Int64) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, strconv.FormatInt(int64(i), 10)), nil
}

// UnmarshalJSON reads a quoted or bare decimal.
func (i *Int64) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("OTLP JSON: bad integer %s", b)
	}
	*i = Int64(n)
	return nil
}

// ScopeName is the instrumentation scope of meshgym's components.
const ScopeName = "meshgym"

// Encode builds the OTLP/JSON export request of spans of service.
func Encode(service string, spans []*Span) ExportRequest {
	js := make([]JSONSpan, len(spans))
	for i, s := range spans {
		j := JSONSpan{
			TraceID: s.TraceID.String(), SpanID: s.SpanID.String(), Name: s.Name, Kind: int(s.Kind),
			StartTimeUnixNano: Uint64(s.Start.UnixNano()), EndTimeUnixNano: Uint64(s.EndTime.UnixNano()),
			Attributes: keyValues(s.Attrs),
		}
		if s.ParentID.IsValid() {
			j.ParentSpanID = s.ParentID.String()
		}
		for _, ev := range s.Events {
			j.Events = append(j.Events, JSONEvent{TimeUnixNano: Uint64(ev.Time.UnixNano()), Name: ev.Name, Attributes: keyValues(ev.Attrs)})
		}
		if s.Status != StatusUnset {
			j.Status = &JSONStatus{Code: s.Status}
		}
		js[i] = j
	}
	name := service
	return ExportRequest{ResourceSpans: []ResourceSpans{{
		Resource:   Resource{Attributes: []KeyValue{{Key: "service.name", Value: AnyValue{StringValue: &name}}}},
		ScopeSpans: []ScopeSpans{{Scope: Scope{Name: ScopeName}, Spans: js}},
	}}}
}

func keyValues(attrs []Attr) []KeyValue {
	if len(attrs) == 0 {
		return nil
	}
	out := make([]KeyValue, len(attrs))
	for i, a := range attrs {
		kv := KeyValue{Key: a.Key}
		switch a.kind {
		case 'i':
			n := Int64(a.n)
			kv.Value.IntValue = &n
		case 'f':
			f := a.f
			kv.Value.DoubleValue = &f
		case 'b':
			b := a.n == 1
			kv.Value.BoolValue = &b
		default:
			s := a.s
			kv.Value.StringValue = &s
		}
		out[i] = kv
	}
	return out
}
