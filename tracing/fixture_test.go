package tracing

import (
	"fmt"
	"time"
)

// wfT0 is the fixtures' trace start.
var wfT0 = time.Date(2026, 11, 29, 14, 5, 38, 0, time.UTC)

// ms is wfT0 plus f milliseconds.
func wfAt(f float64) time.Time { return wfT0.Add(time.Duration(f * float64(time.Millisecond))) }

const wfRetriedID = "4bf92f3577b34da6a3ce929d0e0e4736"

// sp builds a span of the retried trace; id and parent are small numbers
// turned into 16-hex span IDs (parent 0 = root).
func wfSpan(id, parent int, service, kind, name string, from, to float64, attrs map[string]any) Span {
	s := Span{TraceID: wfRetriedID, SpanID: fmt.Sprintf("%016x", id), Service: service, Kind: kind, Name: name,
		Start: wfAt(from), End: wfAt(to), Attributes: attrs}
	if parent != 0 {
		s.ParentID = fmt.Sprintf("%016x", parent)
	}
	if c, ok := attrs[AttrStatusCode].(float64); ok && c >= 500 {
		s.Status = "error"
	}
	return s
}

func wfCode(c float64, more ...any) map[string]any {
	m := map[string]any{AttrStatusCode: c}
	for i := 0; i+1 < len(more); i += 2 {
		m[more[i].(string)] = more[i+1]
	}
	return m
}

// wfRetriedSpans is one request of the retries scenario as the components
// would record it: loadgen → api_sidecar → api → api_sidecar (outbound)
// → payments_sidecar → payments → payments_sidecar (outbound) attempt 1
// → currency_v2 500 (ejected), back-off 25 ms, attempt 2 → currency_v1
// 200. Attribute numbers are float64, as JSON decoding leaves them. The
// spans are listed out of order on purpose.
func wfRetriedSpans() []Span {
	a1 := wfSpan(14, 13, "payments_sidecar", "client", "attempt 1 currency", 2.10, 6.40,
		wfCode(500, AttrAttempt, 1.0, AttrEndpoint, "currency_v2", "server.address", "127.0.0.1"))
	a1.Events = []SpanEvent{{Name: "ejection", Time: wfAt(6.35), Attributes: map[string]any{AttrEndpoint: "currency_v2", AttrDetail: "consecutive_5xx"}}}
	out := wfSpan(13, 9, "payments_sidecar", "server", "outbound currency", 1.40, 37.60, wfCode(200, AttrCluster, "currency"))
	out.Events = []SpanEvent{{Name: "backoff", Time: wfAt(6.40), Attributes: map[string]any{AttrAttempt: 1.0, AttrBackoffMS: 25.0}}}
	return []Span{
		wfSpan(17, 16, "currency_v1_sidecar", "server", "inbound GET /", 31.60, 37.20, wfCode(200, AttrAttempt, 2.0)),
		wfSpan(1, 0, "loadgen", "client", "GET /", 0, 40.00, wfCode(200, AttrPhase, "after")),
		wfSpan(2, 1, "api_sidecar", "server", "inbound GET /", 0.20, 39.60, wfCode(200)),
		wfSpan(3, 2, "api", "server", "GET /", 0.35, 39.30, wfCode(200)),
		wfSpan(4, 3, "api", "client", "GET payments", 0.50, 39.00, wfCode(200)),
		wfSpan(5, 4, "api_sidecar", "server", "outbound payments", 0.60, 38.80, wfCode(200)),
		wfSpan(6, 5, "api_sidecar", "client", "attempt 1 payments", 0.70, 38.60,
			wfCode(200, AttrAttempt, 1.0, AttrEndpoint, "payments", "server.address", "127.0.0.1")),
		wfSpan(7, 6, "payments_sidecar", "server", "inbound GET /", 0.90, 38.30, wfCode(200)),
		wfSpan(8, 7, "payments", "server", "GET /", 1.05, 38.00, wfCode(200)),
		wfSpan(9, 8, "payments", "client", "GET currency", 1.20, 37.80, wfCode(200)),
		out,
		a1,
		wfSpan(15, 14, "currency_v2_sidecar", "server", "inbound GET /", 2.30, 6.20, wfCode(500, AttrAttempt, 1.0)),
		wfSpan(18, 15, "currency_v2", "server", "GET /", 2.45, 6.00, wfCode(500, AttrErrorType, "500")),
		wfSpan(16, 13, "payments_sidecar", "client", "attempt 2 currency", 31.40, 37.40,
			wfCode(200, AttrAttempt, 2.0, AttrEndpoint, "currency_v1", AttrBackoffMS, 25.0, "server.address", "127.0.0.1")),
		wfSpan(19, 17, "currency_v1", "server", "GET /", 31.75, 37.00, wfCode(200)),
	}
}
