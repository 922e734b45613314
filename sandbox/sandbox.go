// Package sandbox is the front door to the platforms meshgym deploys the
// sample system on. A Platform turns a scenarios.Topology into running
// components (sample apps and sidecars) and hands back what the engine needs:
// the entry URL, each sidecar's admin URL, the endpoints of every service and
// the process IDs to sample. Providers live in sub-packages (local now;
// docker and kind later). This package knows nothing of patterns.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"meshgym/scenarios"
)

// Platform deploys a topology. Deploy returns a Deployment even on error when
// something was started, so the caller can tear it down.
type Platform interface {
	// Name is the platform's name as the CLI spells it: "local".
	Name() string
	Deploy(ctx context.Context, spec DeploySpec) (Deployment, error)
}

// DeploySpec is what a platform needs to deploy one scenario.
type DeploySpec struct {
	Topology scenarios.Topology
	// RunDir is the directory for this run's logs (created if missing).
	RunDir string
	// EntryPort is the port the entry service should listen on (8200 by
	// default). 0 picks a free one.
	EntryPort int
	// EntryPortStrict makes a taken EntryPort an error instead of falling
	// back to a free port (set when the user asked for that port).
	EntryPortStrict bool
	// Seed seeds every component's random source (each component derives
	// its own from it and its name).
	Seed int64
	// ReadyTimeout bounds the wait for every component to be ready.
	ReadyTimeout time.Duration
	// Logf receives one-line notes for the user (e.g. "port 8200 taken").
	Logf func(format string, args ...any)
	// Env is added to every component's environment (it wins over the
	// variables the component would otherwise inherit), e.g. the OTLP
	// endpoint its spans go to (OTEL_EXPORTER_OTLP_ENDPOINT,
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or OTEL_SDK_DISABLED=true.
	Env map[string]string
}

// Deployment is a running topology.
type Deployment interface {
	// EntryURL is the URL the load generator calls, e.g. http://127.0.0.1:8200/.
	EntryURL() string
	// Components lists every running component (apps and sidecars).
	Components() []Component
	// Endpoints returns the endpoints of a service: one per instance, the
	// address its sidecar's inbound listener (or the app, without sidecar)
	// serves on.
	Endpoints(service string) []Endpoint
	// Died delivers the first component that exited while the deployment
	// was supposed to be running.
	Died() <-chan ComponentExit
	// Teardown stops everything Deploy started; it is safe to call twice.
	Teardown(ctx context.Context) error
}

// ResourceReader is implemented by deployments whose components are not
// local processes (containers, pods; Component.PID is 0): it reads one
// component instance's cumulative CPU time in seconds (user + system since
// it started) and its resident memory in MB (2^20 bytes). A component that
// has exited returns an error wrapping ErrGone. The engine samples it about
// once a second, as it samples local processes by PID.
type ResourceReader interface {
	ReadResources(ctx context.Context, instance string) (cpuSeconds, memoryMB float64, err error)
}

// ClusterPlatform is implemented by platforms that run the sample system
// on a Kubernetes cluster (kind). The engine calls Cluster before the mesh
// plugin's Install and hands the target to every plugin call, so a real
// mesh's plugin (istio, linkerd, consul) can reach the same cluster.
// Cluster does not create anything: a missing cluster is an error that
// says how to create it (meshgym up --platform kind --mesh NAME).
type ClusterPlatform interface {
	Cluster(ctx context.Context) (Cluster, error)
}

// Cluster is a Kubernetes cluster a run deploys to, as a mesh plugin
// reaches it.
type Cluster struct {
	// Name is the cluster's name ("meshgym-istio" for kind).
	Name string `json:"name"`
	// Kubeconfig is the content (YAML) of a kubeconfig for it, with
	// credentials: plugins are child processes of this meshgym on the same
	// machine, so it never leaves the machine.
	Kubeconfig string `json:"kubeconfig"`
	// Context is the kubeconfig context to use ("" = its current one).
	Context string `json:"context,omitempty"`
	// Namespace is the lab namespace the sample system runs in ("meshgym").
	Namespace string `json:"namespace"`
	// Mesh is the mesh the cluster was brought up with ("istio"; "" none).
	Mesh string `json:"mesh,omitempty"`
}

// PodProxyPath is how components on a cluster platform publish their
// ports: a kind component's AdminURL is the pod's base URL through the
// platform's local, credential-holding proxy to the API server,
// "http://127.0.0.1:P/api/v1/namespaces/NS/pods/POD"; PodProxyURL turns
// it and a container port and path into the URL of that port through
// the API server's pod proxy
// (https://kubernetes.io/docs/tasks/access-application-cluster/access-cluster-services/#manually-constructing-apiserver-proxy-urls).
func PodProxyURL(podBase string, port int, path string) string {
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	return fmt.Sprintf("%s:%d/proxy%s", podBase, port, path)
}

// ErrGone is wrapped by ResourceReader errors for a component that exited.
var ErrGone = errors.New("component is gone")

// ComponentKind tells an app from a sidecar.
type ComponentKind string

// Component kinds.
const (
	KindApp     ComponentKind = "app"
	KindSidecar ComponentKind = "sidecar"
)

// Component is one running process (or container) of the deployment.
type Component struct {
	// Name is the name conditions use: "currency_v2" for an app,
	// "currency_v2_sidecar" for its sidecar.
	Name string `json:"name"`
	// Instance distinguishes replicas of one version: "currency_v2-0".
	Instance string        `json:"instance"`
	Kind     ComponentKind `json:"kind"`
	Service  string        `json:"service"` // "currency"
	Version  string        `json:"version"` // "currency_v2"
	// PID is the OS process ID (0 where not a local process).
	PID int32 `json:"pid,omitempty"`
	// AdminURL is the sidecar's admin API base URL (sidecars only).
	AdminURL string `json:"admin_url,omitempty"`
	// MetricsURL is where the component's server-side request counts are
	// scraped (Prometheus text): a sidecar's admin /metrics, or an app's own
	// /metrics when it runs without a sidecar; "" when another component
	// counts its requests (an app behind a sidecar).
	MetricsURL string `json:"metrics_url,omitempty"`
	// Log is the path of the component's log file.
	Log string `json:"log,omitempty"`
}

// Endpoint is one instance of a service as its callers reach it.
type Endpoint struct {
	Name    string // version name, e.g. "currency_v1"
	Address string // host:port
}

// ComponentExit says which component stopped unexpectedly and why.
type ComponentExit struct {
	Component Component
	Err       error
	// LogTail holds the last lines of its log, to show the cause.
	LogTail string
}

// Error reads as one line naming the component.
func (e ComponentExit) Error() string {
	msg := fmt.Sprintf("component %s (pid %d) exited: %v", e.Component.Instance, e.Component.PID, e.Err)
	if e.Component.Log != "" {
		msg += "; log: " + e.Component.Log
	}
	return msg
}
