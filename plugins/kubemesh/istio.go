package kubemesh

import (
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"meshgym/metrics"
	"meshgym/plugins"
	"meshgym/plugins/meshinstall"
	"meshgym/scenarios"
)

// Istio pins. IstioVersion 1.27.1 is a published patch release (its
// release note, https://istio.io/latest/news/releases/1.27.x/announcing-1.27.1/,
// was checked); later 1.27 patches exist [U] and may replace it.
const (
	IstioVersion   = "1.27.1"
	istioChartRepo = "https://istio-release.storage.googleapis.com/charts"
	istioHelmDoc   = "https://istio.io/latest/docs/setup/install/helm/"
	istioStatsDoc  = "https://istio.io/latest/docs/ops/configuration/telemetry/envoy-stats/"
	istioMetricDoc = "https://istio.io/latest/docs/reference/config/metrics/"
)

// Istio is Istio IstioVersion installed as Istio's Helm guide does
// (istioHelmDoc): chart base (release istio-base, defaultRevision=default)
// then chart istiod (release istiod), both in istio-system. The lab
// namespace gets the label istio-injection=enabled.
//
// Metrics: Envoy's Prometheus endpoint in the istio-proxy container,
// port 15090 path /stats/prometheus (istioMetricDoc);
// istio_requests_total{reporter="destination"} (the server side's count)
// becomes meshgym_requests_total with response_code → status_code. Istio
// exposes only a few Envoy stats by default (istioStatsDoc), so istiod is
// installed with meshConfig.defaultConfig.proxyStatsMatcher including the
// retry and outlier-ejection counters Events reads.
//
// Images (docker.io/istio, tag = IstioVersion): pilot and proxyv2 are the
// images istiod's chart and its injector use [U: from the charts'
// defaults hub docker.io/istio, not read at this version].
func Istio() Spec {
	return Spec{
		Name:    "istio",
		Version: IstioVersion,
		Release: "1.27",
		Source:  istioHelmDoc,
		Charts: []meshinstall.Chart{
			{Repo: istioChartRepo, Name: "base", Version: IstioVersion, Release: "istio-base", Namespace: "istio-system",
				Values: map[string]any{"defaultRevision": "default"}},
			{Repo: istioChartRepo, Name: "istiod", Version: IstioVersion, Release: "istiod", Namespace: "istio-system",
				Values: map[string]any{"meshConfig": map[string]any{"defaultConfig": map[string]any{
					"proxyStatsMatcher": map[string]any{"inclusionSuffixes": []any{"upstream_rq_retry", "outlier_detection.ejections_enforced_total"}},
				}}}},
		},
		Images: []string{
			"docker.io/istio/pilot:" + IstioVersion,
			"docker.io/istio/proxyv2:" + IstioVersion,
		},
		Patterns: slices.Clone(scenarios.PatternKinds),
		ResourceKinds: []schema.GroupVersionKind{
			{Group: "networking.istio.io", Version: "v1", Kind: "VirtualService"},
			{Group: "networking.istio.io", Version: "v1", Kind: "DestinationRule"},
			{Group: "networking.istio.io", Version: "v1alpha3", Kind: "EnvoyFilter"},
		},
		NamespaceLabels: map[string]string{"istio-injection": "enabled"},
		Proxy:           ProxyMetrics{Container: "istio-proxy", Port: 15090, Path: "/stats/prometheus"},
		Mapping: []plugins.MetricMapping{{
			Mesh: "istio_requests_total", Meshgym: metrics.RequestsTotal,
			Labels: map[string]string{"response_code": metrics.LabelStatusCode},
			Where:  map[string]string{"reporter": "destination"},
		}},
		Events: istioEvents,
		// istiod pushes a changed VirtualService/DestinationRule to the
		// proxies with a debounce of 100 ms (PILOT_DEBOUNCE_AFTER) up to
		// 10 s (PILOT_DEBOUNCE_MAX) [U]; 5 s covers a quiet lab cluster.
		Settle: 5 * time.Second,
	}
}

// istioEvents are envoyEvents with Istio's cluster tag: Istio's bootstrap
// extracts the cluster name into the label cluster_name
// ("outbound|9090||currency.meshgym.svc.cluster.local") instead of
// Envoy's default envoy_cluster_name [U: from Istio's bootstrap stats
// tags, not read at this version].
var istioEvents = withClusterLabel(envoyEvents, "cluster_name")

func withClusterLabel(evs []EventCounter, label string) []EventCounter {
	out := make([]EventCounter, len(evs))
	for i, e := range evs {
		e.ClusterLabel = label
		out[i] = e
	}
	return out
}

// envoyEvents are the Envoy cluster counters (Envoy's cluster statistics,
// https://www.envoyproxy.io/docs/envoy/latest/configuration/upstream/cluster_manager/cluster_stats)
// as Envoy's Prometheus endpoint names them: upstream_rq_retry (retries
// made) and outlier_detection.ejections_enforced_total (ejections).
var envoyEvents = []EventCounter{
	{Metric: "envoy_cluster_upstream_rq_retry", Kind: "retry", ClusterLabel: "envoy_cluster_name"},
	{Metric: "envoy_cluster_upstream_rq_retry_limit_exceeded", Kind: "retry_limit_exceeded", ClusterLabel: "envoy_cluster_name"},
	{Metric: "envoy_cluster_upstream_rq_retry_overflow", Kind: "retry_overflow", ClusterLabel: "envoy_cluster_name"},
	{Metric: "envoy_cluster_outlier_detection_ejections_enforced_total", Kind: "ejection", ClusterLabel: "envoy_cluster_name"},
}
