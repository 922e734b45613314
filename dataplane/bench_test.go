package dataplane

import (
	"bufio"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
)

// benchHop drives keep-alive GETs through addr on one connection and
// reports per-request cost (client and upstream included: compare the
// sub-benchmarks, not the absolute numbers).
func benchHop(b *testing.B, addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	raw := []byte("GET / HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: bench\r\n\r\n")
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(raw); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

func BenchmarkHop(b *testing.B) {
	payload := []byte(`{"name":"currency","uri":"/","code":200}`)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(payload)
	}))
	defer up.Close()
	b.Run("direct", func(b *testing.B) { benchHop(b, up.Listener.Addr().String()) })
	b.Run("reverseproxy", func(b *testing.B) {
		rp := httptest.NewServer(httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: up.Listener.Addr().String()}))
		defer rp.Close()
		benchHop(b, rp.Listener.Addr().String())
	})
	b.Run("sidecar", func(b *testing.B) {
		sc, err := Start(Options{Name: "bench", AdminAddr: "127.0.0.1:0", Outbound: []OutboundListener{{Service: "up", Addr: "127.0.0.1:0"}},
			ErrorLog: log.New(io.Discard, "", 0)}) // keep the result lines clean
		if err != nil {
			b.Fatal(err)
		}
		defer sc.Close()
		if err := sc.ApplyConfig(Config{Clusters: map[string]Cluster{"up": {
			Endpoints: []Endpoint{{Name: "up_v1", Address: up.Listener.Addr().String()}},
			Retry:     &RetryPolicy{NumRetries: 2, RetryOn: []string{"5xx"}},
		}}}); err != nil {
			b.Fatal(err)
		}
		benchHop(b, sc.Addrs().Outbound["up"])
	})
}
