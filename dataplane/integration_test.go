package dataplane

import (
	"net/http/httptest"
	"testing"

	"meshgym/sampleapps"
)

// TestIntegrationRetryPattern is the retry exercise in process: currency_v1
// always answers, currency_v2 fails 50 % of requests with 500 (seeded);
// the route retries 3 times on 5xx with previous_hosts. 2000 requests on 10
// goroutines go through the outbound listener.
func TestIntegrationRetryPattern(t *testing.T) {
	if testing.Short() {
		t.Skip("2000 requests")
	}
	newApp := func(name string, rate float64) *httptest.Server {
		srv, err := sampleapps.NewServer(sampleapps.Options{Name: name, ErrorRate: rate, ErrorCode: 500, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		s := httptest.NewServer(srv)
		t.Cleanup(s.Close)
		return s
	}
	ok, failing := newApp("currency_v1", 0), newApp("currency_v2", 0.5)

	sc := startTestSidecar(t, "payments_v1", "currency")
	putConfig(t, sc, Config{Version: 1, Clusters: map[string]Cluster{"currency": {
		Endpoints: []Endpoint{
			{Name: "currency_v1", Address: ok.Listener.Addr().String()},
			{Name: "currency_v2", Address: failing.Listener.Addr().String()},
		},
		Retry: &RetryPolicy{NumRetries: 3, RetryOn: []string{"5xx"}, PreviousHosts: true, HostSelectionMaxAttempts: 1},
	}}})

	const requests, workers = 2000, 10
	url := "http://" + sc.Addrs().Outbound["currency"] + "/"
	codes := loadStatuses(t, url, requests, workers)
	if non200 := requests - codes[200]; non200 != 0 {
		t.Errorf("%d of %d requests reached the caller with a non-200 (%v)", non200, requests, codes)
	}
	mfs := scrape(t, sc)
	var attempts, first, firstOnFailing, failed float64
	for _, m := range mfs[MetricUpstreamRequests].GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		v := m.GetCounter().GetValue()
		attempts += v
		if l["attempt"] == "1" {
			first += v
			if l["name"] == "currency_v2" {
				firstOnFailing += v
			}
		}
		if l["status_code"] != "200" {
			failed += v
		}
	}
	retries := series(mfs[MetricUpstreamRetries])["cluster=currency,reason=status_code"]
	urx := series(mfs[MetricUpstreamRetryLimitExceeded])["cluster=currency"]
	ratio := attempts / requests
	t.Logf("attempts/requests = %.0f/%d = %.4f; first attempts on currency_v2 %.1f%%; failed attempts %.0f; retries %.0f; URX %.0f",
		attempts, requests, ratio, 100*firstOnFailing/first, failed, retries, urx)
	if first != requests {
		t.Errorf("first attempts = %v, want %d", first, requests)
	}
	if attempts-requests != retries {
		t.Errorf("attempts-requests = %v but retries counter = %v", attempts-requests, retries)
	}
	if ratio < 1.2 || ratio > 1.35 {
		t.Errorf("attempts/requests = %.4f, want between 1.2 and 1.35", ratio)
	}
}
