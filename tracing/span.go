// Package tracing is meshgym's side of OpenTelemetry traces: the span
// record a run keeps in its run directory (traces/spans.jsonl, one Span
// per line), reading it back and grouping it into traces, and the OTLP
// receiver the components export to during a run (which writes that file
// and forwards to a user's OTLP endpoint when one is given).
//
// CONTRACT FILE: the types below are what `meshgym trace`, the TUI and the
// receiver share; keep their fields and JSON names.
package tracing

import "time"

// SpansFile is the run directory's span record, relative to the run dir.
const SpansFile = "traces/spans.jsonl"

// Span is one finished span as a component exported it (OTLP), flattened.
// IDs are lower-case hex as in W3C trace-context (trace 32, span 16).
type Span struct {
	TraceID  string `json:"trace_id"`
	SpanID   string `json:"span_id"`
	ParentID string `json:"parent_id,omitempty"` // "" for a root span
	Name     string `json:"name"`                // e.g. "GET /" or "attempt 2 currency"
	// Service is the exporting component (resource service.name), e.g.
	// "payments_sidecar", "currency_v2", "loadgen".
	Service string `json:"service"`
	// Kind is the OTel span kind: "server", "client", "internal".
	Kind  string    `json:"kind"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Attributes use OpenTelemetry's HTTP semantic conventions where one
	// exists (http.request.method, http.response.status_code,
	// server.address, url.full) and meshgym.* names otherwise
	// (meshgym.attempt, meshgym.endpoint, meshgym.backoff_ms).
	Attributes map[string]any `json:"attributes,omitempty"`
	Events     []SpanEvent    `json:"events,omitempty"`
	// Status is "ok", "error" or "" (unset).
	Status string `json:"status,omitempty"`
}

// SpanEvent is a point-in-time event on a span: "ejection",
// "retry_budget_exhausted", "timeout", "rate_limited", "fault_injected",
// "backoff".
type SpanEvent struct {
	Name       string         `json:"name"`
	Time       time.Time      `json:"time"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

// Duration is End − Start.
func (s Span) Duration() time.Duration { return s.End.Sub(s.Start) }
