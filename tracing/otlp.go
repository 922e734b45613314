package tracing

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"meshgym/tracing/tracelite"
)

// DecodeProtobuf flattens an OTLP ExportTraceServiceRequest in the
// protobuf encoding (Content-Type application/x-protobuf) into spans.
func DecodeProtobuf(body []byte) ([]Span, error) {
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("OTLP protobuf: %w", err)
	}
	var out []Span
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				sp := Span{
					TraceID:    hex.EncodeToString(s.GetTraceId()),
					SpanID:     hex.EncodeToString(s.GetSpanId()),
					ParentID:   hex.EncodeToString(s.GetParentSpanId()),
					Name:       s.GetName(),
					Service:    service,
					Kind:       kindName(int(s.GetKind())),
					Start:      unixNano(s.GetStartTimeUnixNano()),
					End:        unixNano(s.GetEndTimeUnixNano()),
					Attributes: protoAttrs(s.GetAttributes()),
					Status:     statusName(int(s.GetStatus().GetCode())),
				}
				for _, ev := range s.GetEvents() {
					sp.Events = append(sp.Events, SpanEvent{Name: ev.GetName(), Time: unixNano(ev.GetTimeUnixNano()), Attributes: protoAttrs(ev.GetAttributes())})
				}
				out = append(out, sp)
			}
		}
	}
	return out, nil
}

// DecodeJSON flattens an OTLP ExportTraceServiceRequest in the OTLP/JSON
// encoding (Content-Type application/json; ids in hex).
func DecodeJSON(body []byte) ([]Span, error) {
	var req tracelite.ExportRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("OTLP JSON: %w", err)
	}
	var out []Span
	for _, rs := range req.ResourceSpans {
		service := ""
		for _, kv := range rs.Resource.Attributes {
			if kv.Key == "service.name" && kv.Value.StringValue != nil {
				service = *kv.Value.StringValue
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				sp := Span{
					TraceID: s.TraceID, SpanID: s.SpanID, ParentID: s.ParentSpanID,
					Name: s.Name, Service: service, Kind: kindName(s.Kind),
					Start: unixNano(uint64(s.StartTimeUnixNano)), End: unixNano(uint64(s.EndTimeUnixNano)),
					Attributes: jsonAttrs(s.Attributes),
				}
				if s.Status != nil {
					sp.Status = statusName(s.Status.Code)
				}
				for _, ev := range s.Events {
					sp.Events = append(sp.Events, SpanEvent{Name: ev.Name, Time: unixNano(uint64(ev.TimeUnixNano)), Attributes: jsonAttrs(ev.Attributes)})
				}
				out = append(out, sp)
			}
		}
	}
	return out, nil
}

func unixNano(ns uint64) time.Time { return time.Unix(0, int64(ns)) }

func kindName(k int) string {
	switch tracepb.Span_SpanKind(k) {
	case tracepb.Span_SPAN_KIND_INTERNAL:
		return "internal"
	case tracepb.Span_SPAN_KIND_SERVER:
		return "server"
	case tracepb.Span_SPAN_KIND_CLIENT:
		return "client"
	case tracepb.Span_SPAN_KIND_PRODUCER:
		return "producer"
	case tracepb.Span_SPAN_KIND_CONSUMER:
		return "consumer"
	}
	return ""
}

func statusName(c int) string {
	switch tracepb.Status_StatusCode(c) {
	case tracepb.Status_STATUS_CODE_OK:
		return "ok"
	case tracepb.Status_STATUS_CODE_ERROR:
		return "error"
	}
	return ""
}

func jsonAttrs(kvs []tracelite.KeyValue) map[string]any {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value.Value()
	}
	return m
}

func protoAttrs(kvs []*commonpb.KeyValue) map[string]any {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[kv.GetKey()] = protoValue(kv.GetValue())
	}
	return m
}

func protoValue(v *commonpb.AnyValue) any {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		return x.DoubleValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_BytesValue:
		return hex.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		out := make([]any, 0, len(x.ArrayValue.GetValues()))
		for _, e := range x.ArrayValue.GetValues() {
			out = append(out, protoValue(e))
		}
		return out
	case *commonpb.AnyValue_KvlistValue:
		return protoAttrs(x.KvlistValue.GetValues())
	}
	return nil
}
