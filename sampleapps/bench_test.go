package sampleapps

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkServeHTTP measures the handler's own cost (no timing, no
// upstreams, no network).
func BenchmarkServeHTTP(b *testing.B) {
	s, err := NewServer(Options{Name: "currency", ErrorRate: 0.1})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		s.ServeHTTP(httptest.NewRecorder(), req)
	}
}
