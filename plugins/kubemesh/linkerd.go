package kubemesh

import (
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"meshgym/metrics"
	"meshgym/plugins"
	"meshgym/plugins/meshinstall"
	"meshgym/scenarios"
)

// Linkerd pins. Linkerd 2.18 is the edge release edge-25.4.4 (the
// version-2.18 tag points at it: linkerd website content/releases/_index.md,
// and both tags exist in linkerd/linkerd2). Edge Helm charts are versioned
// by the release date with a four-digit year, edge-24.3.1 → 2024.3.1
// (https://linkerd.io/2024/03/12/linkerd-edge-release-roundup/), so
// edge-25.4.4 → 2025.4.4 [U: the scheme was checked, not this chart's
// index entry].
const (
	LinkerdVersion   = "edge-25.4.4"
	linkerdChart     = "2025.4.4"
	linkerdChartRepo = "https://helm.linkerd.io/edge"
	linkerdHelmDoc   = "https://linkerd.io/2/tasks/install-helm/"
	linkerdMetricDoc = "https://linkerd.io/2/reference/proxy-metrics/"
	linkerdRetryDoc  = "https://linkerd.io/2/reference/retries/"
	linkerdFaultDoc  = "https://linkerd.io/2.18/tasks/fault-injection/"
	// linkerdCertsValidFor is how long the identity issuer certificate
	// made at install lasts; a lab cluster older than that needs
	// `meshgym down` and a new one.
	linkerdCertsValidFor = 365 * 24 * time.Hour
)

// Linkerd is Linkerd 2.18 (LinkerdVersion) installed as Linkerd's Helm
// guide does (linkerdHelmDoc): chart linkerd-crds then
// linkerd-control-plane, releases of the same names in namespace linkerd,
// with a trust anchor and issuer certificate made in Go at install time
// (identityTrustAnchorsPEM, identity.issuer.tls.crtPEM/keyPEM). The
// linkerd-crds chart installs the Gateway API HTTPRoute CRD by default at
// this release (values installGatewayAPI: true, read at edge-25.4.4),
// which the canary pattern's HTTPRoute needs. The lab namespace gets the
// annotation linkerd.io/inject: enabled.
//
// Metrics: linkerd-proxy serves /metrics on its admin port 4191
// (linkerdMetricDoc); response_total{direction="inbound"} (responses at
// the server side, labelled status_code) becomes meshgym_requests_total.
// Caveat [U]: kubelet probes that reach the app through the proxy are
// counted too.
//
// Images (cr.l5d.io/linkerd): controller, proxy and policy-controller at
// LinkerdVersion (the chart's linkerdVersion, stamped by the release
// [U]) and proxy-init v2.4.2 (values.yaml at edge-25.4.4).
func Linkerd() Spec {
	return Spec{
		Name:    "linkerd",
		Version: LinkerdVersion,
		Release: "2.18",
		Source:  linkerdHelmDoc,
		Charts: []meshinstall.Chart{
			{Repo: linkerdChartRepo, Name: "linkerd-crds", Version: linkerdChart, Release: "linkerd-crds", Namespace: "linkerd"},
			{Repo: linkerdChartRepo, Name: "linkerd-control-plane", Version: linkerdChart, Release: "linkerd-control-plane", Namespace: "linkerd"},
		},
		InstallValues: linkerdIdentityValues,
		Images: []string{
			"cr.l5d.io/linkerd/controller:" + LinkerdVersion,
			"cr.l5d.io/linkerd/proxy:" + LinkerdVersion,
			"cr.l5d.io/linkerd/policy-controller:" + LinkerdVersion,
			"cr.l5d.io/linkerd/proxy-init:v2.4.2",
		},
		Patterns: without(scenarios.PatternKinds, scenarios.KindFaultInjection),
		// HTTPRoute twice: Linkerd 2.18 reads the Gateway API's, older
		// releases policy.linkerd.io's (linkerd-crds installs both).
		ResourceKinds: []schema.GroupVersionKind{
			{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"},
			{Group: "policy.linkerd.io", Version: "v1beta3", Kind: "HTTPRoute"},
			{Group: "policy.linkerd.io", Version: "v1beta3", Kind: "Server"},
			{Group: "policy.linkerd.io", Version: "v1alpha1", Kind: "HTTPLocalRateLimitPolicy"},
			{Group: "linkerd.io", Version: "v1alpha2", Kind: "ServiceProfile"},
		},
		Unsupported: map[string]string{
			scenarios.KindFaultInjection: "fault injection (Linkerd has no fault-injection API: send a share of the traffic to a backend that always fails with a weighted HTTPRoute; " + linkerdFaultDoc + ")",
		},
		NamespaceAnnotations: map[string]string{"linkerd.io/inject": "enabled"},
		Proxy:                ProxyMetrics{Container: "linkerd-proxy", Port: 4191, Path: "/metrics"},
		Mapping: []plugins.MetricMapping{{
			Mesh: "response_total", Meshgym: metrics.RequestsTotal,
			Where: map[string]string{"direction": "inbound"},
		}},
		// Linkerd 2.16+ route retry counters (linkerdRetryDoc); linkerd-proxy
		// exports no ejection counter for failure accrual [U].
		Events: []EventCounter{
			{Metric: "outbound_http_route_retry_requests_total", Kind: "retry", ClusterLabel: "parent_name"},
			{Metric: "outbound_http_route_retry_limit_exceeded_total", Kind: "retry_limit_exceeded", ClusterLabel: "parent_name"},
			{Metric: "outbound_http_route_retry_overflow_total", Kind: "retry_overflow", ClusterLabel: "parent_name"},
		},
		// The destination and policy controllers stream changes to the
		// proxies as watches fire; no debounce is documented [U].
		Settle: 3 * time.Second,
	}
}

// linkerdIdentityValues makes the identity certificates and returns them
// as linkerd-control-plane's values (meshinstall's LinkerdValues:
// identityTrustAnchorsPEM, identity.issuer.tls.crtPEM/keyPEM).
func linkerdIdentityValues(d Deps) (map[string]map[string]any, error) {
	now, mk := time.Now, meshinstall.NewIdentityCerts
	if d.Now != nil {
		now = d.Now
	}
	if d.IdentityCerts != nil {
		mk = d.IdentityCerts
	}
	c, err := mk(now(), linkerdCertsValidFor)
	if err != nil {
		return nil, err
	}
	return map[string]map[string]any{"linkerd-control-plane": c.LinkerdValues()}, nil
}

// without returns kinds minus drop, in order.
func without(kinds []string, drop ...string) []string {
	var out []string
	for _, k := range kinds {
		keep := true
		for _, d := range drop {
			keep = keep && k != d
		}
		if keep {
			out = append(out, k)
		}
	}
	return out
}
