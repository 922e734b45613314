package metrics

import (
	"context"
	"math"
	"sort"
	"strconv"
	"time"

	"meshgym/load"
)

// Metric and label names read from meshgym's sidecars (docs/architecture.md,
// "Sidecar contract"), as the OTel Prometheus exporter writes them.
const (
	// RequestsTotal counts requests at the server side of a component
	// (its sidecar's inbound listener, or the app when it has no sidecar).
	RequestsTotal = "meshgym_requests_total"
	// UpstreamRequestsTotal counts every attempt a sidecar made upstream.
	UpstreamRequestsTotal = "meshgym_upstream_requests_total"
	// UpstreamRetriesTotal counts retries a sidecar made, by cluster.
	UpstreamRetriesTotal = "meshgym_upstream_retries_total"
	// UpstreamEjectionsTotal counts outlier ejections, by cluster and
	// endpoint name.
	UpstreamEjectionsTotal = "meshgym_upstream_ejections_total"
	// RequestDurationSeconds is the server-side latency histogram (s).
	RequestDurationSeconds = "meshgym_request_duration_seconds"

	LabelDirection  = "direction"   // inbound | outbound
	LabelName       = "name"        // component (currency_v1) or endpoint
	LabelStatusCode = "status_code" // HTTP status; 0 = no response
	LabelAttempt    = "attempt"     // x-envoy-attempt-count received, "1" when absent
	LabelCluster    = "cluster"     // upstream service a sidecar called
	// DirectionInbound is the direction label value of server-side series.
	DirectionInbound = "inbound"
)

// Snapshot is what a run's components and its client did: cumulative
// counters as scraped (or, after Diff, one phase's deltas), per-second
// resource and rate series of the phase, and the client view.
type Snapshot struct {
	// Taken is when the scrape finished.
	Taken time.Time `json:"taken"`
	// Requests are inbound (server-side) request counts by component,
	// status code and attempt.
	Requests []RequestCount `json:"requests"`
	// Upstream are the attempts sidecars made, by cluster and endpoint.
	Upstream []UpstreamCount `json:"upstream,omitempty"`
	// Retries counts retries by cluster (upstream service).
	Retries map[string]float64 `json:"retries,omitempty"`
	// Ejections counts outlier ejections by endpoint name (e.g.
	// payments_v2), summed over the sidecars that ejected it.
	Ejections map[string]float64 `json:"ejections,omitempty"`
	// CanaryWeight is the canary's final weight in percent after a
	// progressive rollout (100 promoted, 0 rolled back); nil without one.
	CanaryWeight *float64 `json:"canary_weight,omitempty"`
	// Durations are server-side latency histograms by component (s).
	Durations map[string]Histogram `json:"durations,omitempty"`
	// Resources are per-second CPU/RSS samples by component (Sampler).
	Resources map[string]*ResourceSeries `json:"resources,omitempty"`
	// RequestRates are per-second inbound request rates (req/s) by
	// component, one value per second of the phase (Recorder).
	RequestRates map[string][]float64 `json:"request_rates,omitempty"`
	// Client is what the load generator saw in the phase.
	Client load.ClientView `json:"client"`
}

// RequestCount is a server-side request counter of one component
// (meshgym_requests_total{direction="inbound"}). Attempt is the value of
// x-envoy-attempt-count the request carried (1 for a first attempt).
type RequestCount struct {
	Name       string  `json:"name"`        // component, e.g. currency_v1
	StatusCode int     `json:"status_code"` // HTTP status answered
	Attempt    int     `json:"attempt"`     // 1 for a first attempt
	Count      float64 `json:"count"`       // requests
}

// UpstreamCount is a sidecar's outbound attempt counter
// (meshgym_upstream_requests_total): Cluster is the upstream service, Name
// the endpoint (e.g. currency_v2), StatusCode 0 means no response.
type UpstreamCount struct {
	Cluster    string  `json:"cluster"`     // upstream service, e.g. currency
	Name       string  `json:"name"`        // endpoint, e.g. currency_v2
	StatusCode int     `json:"status_code"` // 0 = no response
	Attempt    int     `json:"attempt"`     // 1 for a first attempt
	Count      float64 `json:"count"`       // attempts
}

// FromSamples builds a Snapshot from scraped samples, summing series that
// differ only in labels meshgym does not read (otel_scope_*, reason, …)
// and the same series from several targets.
func FromSamples(samples []Sample) *Snapshot {
	s := &Snapshot{Taken: time.Now(), Retries: map[string]float64{}, Ejections: map[string]float64{}, Durations: map[string]Histogram{}}
	req := map[RequestCount]float64{}
	up := map[UpstreamCount]float64{}
	hb := map[string]map[float64]float64{} // name → le → cumulative count
	hs := map[string]float64{}
	hc := map[string]float64{}
	for _, x := range samples {
		l := x.Labels
		switch x.Name {
		case RequestsTotal:
			if !inbound(l) {
				continue
			}
			req[RequestCount{Name: l[LabelName], StatusCode: atoi(l[LabelStatusCode]), Attempt: attempt(l)}] += x.Value
		case UpstreamRequestsTotal:
			up[UpstreamCount{Cluster: l[LabelCluster], Name: l[LabelName], StatusCode: atoi(l[LabelStatusCode]), Attempt: attempt(l)}] += x.Value
		case UpstreamRetriesTotal:
			s.Retries[l[LabelCluster]] += x.Value
		case UpstreamEjectionsTotal:
			s.Ejections[l[LabelName]] += x.Value
		case RequestDurationSeconds + "_bucket":
			if !inbound(l) {
				continue
			}
			le, err := strconv.ParseFloat(l["le"], 64)
			if err != nil || math.IsInf(le, 1) {
				continue
			}
			if hb[l[LabelName]] == nil {
				hb[l[LabelName]] = map[float64]float64{}
			}
			hb[l[LabelName]][le] += x.Value
		case RequestDurationSeconds + "_sum":
			if inbound(l) {
				hs[l[LabelName]] += x.Value
			}
		case RequestDurationSeconds + "_count":
			if inbound(l) {
				hc[l[LabelName]] += x.Value
			}
		}
	}
	for k, v := range req {
		k.Count = v
		s.Requests = append(s.Requests, k)
	}
	for k, v := range up {
		k.Count = v
		s.Upstream = append(s.Upstream, k)
	}
	for name, c := range hc {
		h := Histogram{Count: c, Sum: hs[name]}
		for le, n := range hb[name] {
			h.Buckets = append(h.Buckets, Bucket{UpperBound: le, Count: n})
		}
		sort.Slice(h.Buckets, func(i, j int) bool { return h.Buckets[i].UpperBound < h.Buckets[j].UpperBound })
		s.Durations[name] = h
	}
	s.sort()
	return s
}

func inbound(l map[string]string) bool {
	d, ok := l[LabelDirection]
	return !ok || d == DirectionInbound
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func attempt(l map[string]string) int {
	if n, err := strconv.Atoi(l[LabelAttempt]); err == nil && n > 0 {
		return n
	}
	return 1
}

func (s *Snapshot) sort() {
	sort.Slice(s.Requests, func(i, j int) bool {
		a, b := s.Requests[i], s.Requests[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.StatusCode != b.StatusCode {
			return a.StatusCode < b.StatusCode
		}
		return a.Attempt < b.Attempt
	})
	sort.Slice(s.Upstream, func(i, j int) bool {
		a, b := s.Upstream[i], s.Upstream[j]
		if a.Cluster != b.Cluster {
			return a.Cluster < b.Cluster
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.StatusCode != b.StatusCode {
			return a.StatusCode < b.StatusCode
		}
		return a.Attempt < b.Attempt
	})
}

// Collect scrapes every URL concurrently and merges them into one Snapshot.
// A target that cannot be scraped does not hide the others: the Snapshot
// holds what was read and the error names every failed target.
func Collect(ctx context.Context, urls []string) (*Snapshot, error) {
	return CollectMapped(ctx, urls, nil)
}

// Diff returns the phase between two snapshots of the same targets:
// counters and histograms are after − before. A counter lower after than
// before means its process restarted during the phase, so the after value
// is taken as the delta (likewise a histogram whose count or any bucket went
// down). Series only in before are dropped; series only in after are taken
// whole. Resources, RequestRates and Client are per-phase already and come
// from after. A nil before returns a copy of after.
func Diff(before, after *Snapshot) *Snapshot {
	if after == nil {
		return nil
	}
	out := &Snapshot{
		Taken:        after.Taken,
		Retries:      map[string]float64{},
		Ejections:    map[string]float64{},
		Durations:    map[string]Histogram{},
		Resources:    after.Resources,
		RequestRates: after.RequestRates,
		Client:       after.Client,
	}
	if before == nil {
		before = &Snapshot{}
	}
	out.Requests = diffSeries(before.Requests, after.Requests,
		func(r RequestCount) float64 { return r.Count },
		func(r RequestCount, v float64) RequestCount { r.Count = v; return r })
	out.Upstream = diffSeries(before.Upstream, after.Upstream,
		func(r UpstreamCount) float64 { return r.Count },
		func(r UpstreamCount, v float64) UpstreamCount { r.Count = v; return r })
	for k, v := range after.Ejections {
		out.Ejections[k] = counterDelta(before.Ejections[k], v)
	}
	for k, v := range after.Retries {
		out.Retries[k] = counterDelta(before.Retries[k], v)
	}
	for k, h := range after.Durations {
		out.Durations[k] = h.Sub(before.Durations[k])
	}
	out.sort()
	return out
}

// diffSeries returns after's series with each count replaced by its delta
// from the same series (same labels) in before. T is a comparable series
// type; with its count set to 0 it is the series' key.
func diffSeries[T comparable](before, after []T, count func(T) float64, with func(T, float64) T) []T {
	base := make(map[T]float64, len(before))
	for _, r := range before {
		base[with(r, 0)] += count(r)
	}
	out := make([]T, 0, len(after))
	for _, r := range after {
		out = append(out, with(r, counterDelta(base[with(r, 0)], count(r))))
	}
	return out
}

func counterDelta(before, after float64) float64 {
	if after < before {
		return after // restarted
	}
	return after - before
}

// Components returns every component name the snapshot has data for, sorted.
func (s *Snapshot) Components() []string {
	if s == nil {
		return nil
	}
	set := map[string]bool{}
	for _, r := range s.Requests {
		set[r.Name] = true
	}
	for n := range s.Durations {
		set[n] = true
	}
	for n := range s.Resources {
		set[n] = true
	}
	for n := range s.RequestRates {
		set[n] = true
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
