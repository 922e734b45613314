// Package kubemesh is the mesh plugin for real meshes on a Kubernetes
// cluster (platform kind): one implementation of plugins.Mesh driven by a
// Spec per mesh (istio.go, linkerd.go, consul.go). Install and Uninstall
// run the mesh's pinned Helm charts (plugins/meshinstall) and label the
// lab namespace for sidecar injection; Render is plugins/meshconfig's
// rendering of the pattern as the mesh's own resources; Apply server-side
// applies them (internal/kube) with the pattern field manager, labelled
// PatternLabel when the pattern owns them, and every Apply — "pattern
// off" included, in any plugin process — deletes the labelled objects the
// new rendering lacks and takes the pattern manager's fields off the
// platform's objects, so no memory of an earlier run is needed (Cleanup
// is the same for the engine and CLI); ScrapeTargets are
// the mesh proxies' Prometheus endpoints read through the API server's
// pod proxy, with MetricMapping turning the mesh's metrics into meshgym's
// request_count so the same success conditions evaluate on a real mesh.
//
// Layout: contract.go (Spec, Deps), plugin.go (the plugins.Mesh),
// apply.go (Apply/Remove/Cleanup and what a pattern left behind), events.go
// (policy events from the proxies' counters), istio.go, linkerd.go,
// consul.go (the pinned meshes).
package kubemesh

import (
	"context"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"meshgym/internal/kube"
	"meshgym/plugins"
	"meshgym/plugins/meshinstall"
	"meshgym/sandbox"
)

// PatternLabel = PatternLabelValue marks, with kube.ManagedByLabel =
// kube.ManagedByValue, every object Apply creates for a pattern (a
// VirtualService, an HTTPRoute, a Consul config entry, a per-version
// Service …): the objects a later Apply deletes when its rendering lacks
// them. Objects the platform owns (the lab Namespace, the Service of each
// topology service, Deployments) never carry it: Apply only takes its own
// fields off them (server-side apply under kube.PatternFieldManager).
const (
	PatternLabel      = "meshgym.dev/pattern"
	PatternLabelValue = "true"
)

// Spec describes one real mesh at its pinned version.
type Spec struct {
	// Name is the plugin's name and meshconfig format ("istio").
	Name string
	// Version is the mesh release installed ("1.27.1"; Linkerd's
	// "edge-25.4.4").
	Version string
	// Release is the major.minor release meshconfig renders for and the
	// builtin plugin's profile reproduces ("1.27", "2.18", "1.21").
	Release string
	// Source is the documentation URL of the install method.
	Source string
	// Charts are installed in order and uninstalled in reverse.
	Charts []meshinstall.Chart
	// InstallValues, when set, returns values made at install time, by
	// chart name, merged over that chart's Values (Linkerd's identity
	// certificates). Errors abort Install before any chart.
	InstallValues func(d Deps) (map[string]map[string]any, error)
	// Images are the mesh's container images at Version, for `meshgym
	// images save --mesh NAME` and loading into kind nodes.
	Images []string
	// Patterns are the pattern kinds it applies (scenarios.PatternKinds
	// minus what the mesh lacks).
	Patterns []string
	// ResourceKinds are the kinds of the objects a pattern of this mesh
	// creates (every kind plugins/meshconfig renders for Release, other
	// than core v1 Service and Namespace), one served version each; Apply
	// lists each in the lab namespace with label PatternLabel=true to find
	// what a previous Apply — of any process — left there. A kind the
	// cluster does not serve (its CRD is not installed) is skipped.
	ResourceKinds []schema.GroupVersionKind
	// Unsupported says, per pattern kind it lacks, why (shown by
	// `meshgym explain` and in the error of a run): "fault injection
	// (Linkerd has no fault-injection API; URL)".
	Unsupported map[string]string
	// NamespaceLabels and NamespaceAnnotations turn on sidecar injection
	// in the lab namespace (istio-injection=enabled; linkerd.io/inject:
	// enabled; consul.hashicorp.com/connect-inject …).
	NamespaceLabels      map[string]string
	NamespaceAnnotations map[string]string
	// Proxy is where the injected proxy serves its Prometheus metrics.
	Proxy ProxyMetrics
	// Mapping turns the proxy's metrics into meshgym's.
	Mapping []plugins.MetricMapping
	// Events are the proxy counters Events turns into policy events.
	Events []EventCounter
	// Settle is how long Apply waits after the applied objects exist, for
	// the control plane to push them to the proxies (a fixed wait: no
	// proxy is asked whether it has the config).
	Settle time.Duration
}

// ProxyMetrics is the injected proxy's metrics endpoint in each pod.
type ProxyMetrics struct {
	Container string // "istio-proxy"
	Port      int    // 15090
	Path      string // "/stats/prometheus"
}

// EventCounter is one counter of the proxy's metrics whose increase is a
// policy event: every poll, the increase of the counter (summed per value
// of ClusterLabel) since the previous poll is sent as one PolicyEvent of
// Kind with Count = the increase.
type EventCounter struct {
	Metric string // "envoy_cluster_upstream_rq_retry"
	Kind   string // "retry", "ejection", "retry_limit_exceeded" …
	// ClusterLabel is the label naming the upstream ("envoy_cluster_name");
	// its value is reduced to the service name for PolicyEvent.Cluster.
	ClusterLabel string
}

// Deps are the plugin's ways out; tests replace them with fakes. The zero
// Deps is the real thing.
type Deps struct {
	// Installer returns the Helm installer for a cluster (nil =
	// meshinstall.New with default options).
	Installer func(cl sandbox.Cluster) (meshinstall.Installer, error)
	// Clients returns client-go clients for a cluster (nil = kube.New on
	// the cluster's kubeconfig and context).
	Clients func(cl sandbox.Cluster) (*kube.Clients, error)
	// IdentityCerts makes Linkerd's identity certificates (nil =
	// meshinstall.NewIdentityCerts).
	IdentityCerts func(now time.Time, validFor time.Duration) (meshinstall.IdentityCerts, error)
	// Now is the clock (nil = time.Now).
	Now func() time.Time
	// Sleep waits d or until ctx ends (nil = a timer); Apply's settle
	// wait and the polls go through it.
	Sleep func(ctx context.Context, d time.Duration) error
	// HTTPClient reads the proxies' metrics for Events (nil =
	// http.DefaultClient).
	HTTPClient *http.Client
	// EventInterval is the poll period of Events (0 = 1 s).
	EventInterval time.Duration
	// ApplyTimeout bounds Apply's wait for the applied objects to be
	// readable (0 = 30 s).
	ApplyTimeout time.Duration
}
