package kubemesh

import (
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"meshgym/plugins"
	"meshgym/plugins/meshinstall"
	"meshgym/scenarios"
)

// Consul pins. Consul 1.21.x goes with consul-k8s 1.8.x (compatibility
// matrix, https://developer.hashicorp.com/consul/docs/k8s/compatibility);
// chart consul 1.8.8 ships Consul 1.21.5, consul-k8s-control-plane 1.8.8
// and consul-dataplane 1.8.8 (charts/consul/Chart.yaml and values.yaml at
// hashicorp/consul-k8s tag v1.8.8, read).
const (
	ConsulVersion    = "1.21.5"
	consulChart      = "1.8.8"
	consulChartRepo  = "https://helm.releases.hashicorp.com"
	consulHelmDoc    = "https://developer.hashicorp.com/consul/docs/k8s/installation/install"
	consulMetricsDoc = "https://developer.hashicorp.com/consul/docs/k8s/connect/observability/metrics"
	consulRLDoc      = "https://developer.hashicorp.com/consul/docs/connect/config-entries/service-defaults#ratelimits"
	consulFaultDoc   = "https://developer.hashicorp.com/consul/docs/connect/proxies/envoy-extensions"
	// consulInjectLabel selects the namespaces the connect injector
	// injects into (the chart's connectInject.namespaceSelector).
	consulInjectLabel = "connect-inject"
)

// Consul is Consul ConsulVersion on Kubernetes, installed with the
// consul-k8s Helm chart (consulHelmDoc): release consul in namespace
// consul, one server, ACLs off (global.acls.manageSystemACLs false, the
// default), the connect injector on with transparent proxy (the chart's
// default, kept explicit). Injection is by namespace: connectInject.default
// true with a namespaceSelector on the label connect-inject=enabled, which
// Install puts on the lab namespace. Proxy metrics on (defaultEnabled) and
// metrics merging off, so port 20200 /metrics serves Envoy's own stats
// only (consulMetricsDoc; merging would add the app's meshgym_* series and
// count requests twice).
//
// Metrics: Envoy's envoy_cluster_upstream_rq{envoy_cluster_name="local_app"}
// is what the server-side proxy got from its local app, by
// envoy_response_code; it misses responses the proxy makes itself
// (a local rate limit's 429, a 503 when the app is unreachable counts
// under the code Envoy answered with only when the app was tried) [U].
//
// Images: hashicorp/consul:1.21.5, hashicorp/consul-k8s-control-plane:1.8.8,
// hashicorp/consul-dataplane:1.8.8 (Envoy is inside consul-dataplane),
// read from the chart at v1.8.8.
func Consul() Spec {
	return Spec{
		Name:    "consul",
		Version: ConsulVersion,
		Release: "1.21",
		Source:  consulHelmDoc,
		Charts: []meshinstall.Chart{{
			Repo: consulChartRepo, Name: "consul", Version: consulChart, Release: "consul", Namespace: "consul",
			Values: map[string]any{
				"global": map[string]any{"name": "consul", "acls": map[string]any{"manageSystemACLs": false}},
				"server": map[string]any{"replicas": 1},
				"ui":     map[string]any{"enabled": false},
				"connectInject": map[string]any{
					"enabled":           true,
					"default":           true,
					"namespaceSelector": "matchLabels:\n  " + consulInjectLabel + ": enabled\n",
					"transparentProxy":  map[string]any{"defaultEnabled": true},
					"metrics": map[string]any{
						"defaultEnabled":              true,
						"defaultEnableMerging":        false,
						"defaultPrometheusScrapePort": 20200,
						"defaultPrometheusScrapePath": "/metrics",
					},
				},
			},
			Timeout: 8 * time.Minute,
		}},
		Images: []string{
			"hashicorp/consul:" + ConsulVersion,
			"hashicorp/consul-k8s-control-plane:" + consulChart,
			"hashicorp/consul-dataplane:" + consulChart,
		},
		Patterns: without(scenarios.PatternKinds, scenarios.KindRateLimiting, scenarios.KindFaultInjection, scenarios.KindRetryBudgets),
		// ServiceIntentions is not rendered today; listed so a leftover
		// one is still swept.
		ResourceKinds: []schema.GroupVersionKind{
			{Group: "consul.hashicorp.com", Version: "v1alpha1", Kind: "ServiceDefaults"},
			{Group: "consul.hashicorp.com", Version: "v1alpha1", Kind: "ServiceResolver"},
			{Group: "consul.hashicorp.com", Version: "v1alpha1", Kind: "ServiceRouter"},
			{Group: "consul.hashicorp.com", Version: "v1alpha1", Kind: "ServiceSplitter"},
			{Group: "consul.hashicorp.com", Version: "v1alpha1", Kind: "ServiceIntentions"},
		},
		Unsupported: map[string]string{
			scenarios.KindRateLimiting:   "rate limiting (service-defaults rateLimits is Consul Enterprise only, and this installs Consul CE; " + consulRLDoc + ")",
			scenarios.KindFaultInjection: "fault injection (Consul has no fault config entry: an Envoy extension or a service-splitter to a failing subset instead; " + consulFaultDoc + ")",
			scenarios.KindRetryBudgets:   "retry budgets (Consul exposes neither Envoy's retry_budget nor max_retries; Envoy's max_retries 3 applies; https://developer.hashicorp.com/consul/docs/connect/config-entries/service-router)",
		},
		NamespaceLabels: map[string]string{consulInjectLabel: "enabled"},
		Proxy:           ProxyMetrics{Container: "consul-dataplane", Port: 20200, Path: "/metrics"},
		Mapping: []plugins.MetricMapping{{
			Mesh: "envoy_cluster_upstream_rq", Meshgym: "meshgym_requests_total",
			Labels: map[string]string{"envoy_response_code": "status_code"},
			Where:  map[string]string{"envoy_cluster_name": "local_app"},
		}},
		Events: envoyEvents,
		// Config entries go from the CRD controller to the servers, then
		// to each dataplane over xDS [U: no documented bound].
		Settle: 5 * time.Second,
	}
}
