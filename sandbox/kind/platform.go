package kind

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"meshgym/internal/kube"
	"meshgym/sandbox"
	"meshgym/scenarios"
)

// DefaultReadyTimeout bounds the rollout wait when DeploySpec.ReadyTimeout
// is 0 (pods on a fresh kind node, with a mesh's sidecar injected, take
// tens of seconds).
const DefaultReadyTimeout = 3 * time.Minute

// TeardownTimeout bounds Teardown's wait for the pods to go.
const TeardownTimeout = 60 * time.Second

// Poll intervals (variables so tests can shorten them).
var (
	// diedPoll is how often a running deployment checks its pods for
	// restarts and failures.
	diedPoll = 2 * time.Second
	// gonePoll is how often Teardown checks whether the pods are gone.
	gonePoll = 500 * time.Millisecond
	// summaryTTL is how long one node's kubelet summary serves
	// ReadResources (the engine reads every component once a second).
	summaryTTL = 500 * time.Millisecond
)

// sidecarContainers names the injected proxy's container per mesh, for
// ReadResources of a sidecar component: istio-proxy
// (https://istio.io/latest/docs/setup/additional-setup/sidecar-injection/),
// linkerd-proxy (https://linkerd.io/2/reference/architecture/#the-data-plane),
// consul-dataplane (https://developer.hashicorp.com/consul/docs/connect/dataplane),
// kuma-sidecar (https://kuma.io/docs/latest/production/dp-config/dpp-on-kubernetes/).
var sidecarContainers = map[string]string{
	"istio":   "istio-proxy",
	"linkerd": "linkerd-proxy",
	"consul":  "consul-dataplane",
	"kuma":    "kuma-sidecar",
}

// Options configure the kind platform. Zero values mean defaults.
type Options struct {
	// Clusters finds the cluster (required).
	Clusters Clusters
	// ClusterName is the cluster to use; "" = ClusterPrefix+Mesh, or
	// "meshgym-kind" without a mesh.
	ClusterName string
	// Mesh is the mesh of the run ("istio"; "" none): it names the
	// default cluster and the `meshgym up` hint, and chooses the
	// no-injection marker of services without a sidecar. "" = the mesh
	// the cluster was created with.
	Mesh string
	// AppImage is meshgym's sample app image reference, already present
	// in the nodes (ImageSourceLocal; ImageSourceUpstream runs
	// UpstreamImage instead).
	AppImage string
	// PrepareImages, when set, is called at Deploy (before anything is
	// applied) to build and load the app image into the cluster's nodes;
	// a non-empty image it returns is used instead of AppImage or
	// UpstreamImage.
	PrepareImages func(ctx context.Context, cluster string, logf func(string, ...any)) (appImage string, err error)
	// ImageSource is ImageSourceLocal ("", the default: imagePullPolicy
	// Never) or ImageSourceUpstream (IfNotPresent).
	ImageSource string
	// NewClients makes the clients for a kubeconfig (default kube.New
	// with its current context).
	NewClients func(kubeconfig string) (*kube.Clients, error)
	// StartPodProxy starts the local pod proxy (default
	// kube.StartPodProxy(c.Config)).
	StartPodProxy func(*kube.Clients) (*kube.PodProxy, error)
	// Logf receives one-line notes outside a Deploy (Deploy uses
	// DeploySpec.Logf).
	Logf func(format string, args ...any)
	// ComponentHost, when set, says where the run's OTLP trace receiver
	// must listen for the pods of the cluster to reach it (listenIP, an
	// address of this machine on the kind Docker network, e.g. its
	// gateway 172.18.0.1) and the address the pods use (componentHost);
	// see engine.ComponentHostAddresser. Unset, ComponentHostAddress says
	// the pods cannot reach this machine, and the engine records only the
	// load generator's spans.
	ComponentHost func(ctx context.Context, cluster string) (listenIP, componentHost string, err error)
}

// Platform is the kind platform: it implements sandbox.Platform and
// sandbox.ClusterPlatform; its deployments implement
// sandbox.ResourceReader.
type Platform struct {
	opts Options
}

var (
	_ sandbox.Platform        = (*Platform)(nil)
	_ sandbox.ClusterPlatform = (*Platform)(nil)
	_ sandbox.ResourceReader  = (*deployment)(nil)
)

// New returns the kind platform. Errors: no Clusters, an unknown
// ImageSource.
func New(opts Options) (*Platform, error) {
	if opts.Clusters == nil {
		return nil, errors.New("kind: no cluster lifecycle (Options.Clusters)")
	}
	switch opts.ImageSource {
	case "":
		opts.ImageSource = ImageSourceLocal
	case ImageSourceLocal, ImageSourceUpstream:
	default:
		return nil, fmt.Errorf("unknown image source %q; use %s or %s", opts.ImageSource, ImageSourceLocal, ImageSourceUpstream)
	}
	if opts.NewClients == nil {
		opts.NewClients = func(kc string) (*kube.Clients, error) { return kube.New(kc, "") }
	}
	if opts.StartPodProxy == nil {
		opts.StartPodProxy = func(c *kube.Clients) (*kube.PodProxy, error) { return kube.StartPodProxy(c.Config) }
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	return &Platform{opts: opts}, nil
}

// ComponentHostAddress implements the engine's ComponentHostAddresser
// (engine/tracing.go) with Options.ComponentHost. Pods on kind do not
// share this machine's loopback, so a receiver on 127.0.0.1 is out of
// their reach; without Options.ComponentHost it is an error saying so.
func (p *Platform) ComponentHostAddress(ctx context.Context) (listenIP, componentHost string, err error) {
	if p.opts.ComponentHost == nil {
		return "", "", fmt.Errorf("kind: pods of cluster %s cannot reach this machine's trace receiver (no address on the kind network configured)", p.ClusterName())
	}
	return p.opts.ComponentHost(ctx, p.ClusterName())
}

// Name is "kind".
func (p *Platform) Name() string { return "kind" }

// ClusterName is the cluster the platform uses.
func (p *Platform) ClusterName() string {
	if p.opts.ClusterName != "" {
		return p.opts.ClusterName
	}
	if p.opts.Mesh != "" {
		return ClusterPrefix + p.opts.Mesh
	}
	return ClusterPrefix + "kind"
}

// NoClusterError is Cluster's and Deploy's error for a cluster that does
// not exist; it reads as what to run, and wraps ErrNoCluster.
type NoClusterError struct {
	Name string
	Mesh string
}

func (e *NoClusterError) Error() string {
	cmd := "meshgym up --platform kind"
	if e.Mesh != "" {
		cmd += " --mesh " + e.Mesh
	}
	def := ClusterPrefix + e.Mesh
	if e.Mesh == "" {
		def = ClusterPrefix + "kind"
	}
	if e.Name != def {
		cmd += " --cluster " + e.Name
	}
	return fmt.Sprintf("no kind cluster %s; create it with: %s", e.Name, cmd)
}

func (e *NoClusterError) Unwrap() error { return ErrNoCluster }

// info finds the cluster.
func (p *Platform) info(ctx context.Context) (ClusterInfo, error) {
	name := p.ClusterName()
	info, err := p.opts.Clusters.Get(ctx, name)
	if errors.Is(err, ErrNoCluster) {
		return ClusterInfo{}, &NoClusterError{Name: name, Mesh: p.opts.Mesh}
	}
	if err != nil {
		return ClusterInfo{}, fmt.Errorf("kind cluster %s: %w", name, err)
	}
	if info.Name == "" {
		info.Name = name
	}
	return info, nil
}

// mesh is the run's mesh, or the cluster's.
func (p *Platform) mesh(info ClusterInfo) string {
	if p.opts.Mesh != "" {
		return p.opts.Mesh
	}
	return info.Mesh
}

// Cluster implements sandbox.ClusterPlatform: the existing cluster with
// its kubeconfig, the lab namespace and the mesh. It creates nothing; a
// missing cluster is a *NoClusterError ("no kind cluster meshgym-istio;
// create it with: meshgym up --platform kind --mesh istio").
func (p *Platform) Cluster(ctx context.Context) (sandbox.Cluster, error) {
	info, err := p.info(ctx)
	if err != nil {
		return sandbox.Cluster{}, err
	}
	// A cluster brought up with one mesh must not get another's resources.
	if info.Mesh != "" && p.opts.Mesh != "" && info.Mesh != p.opts.Mesh {
		return sandbox.Cluster{}, fmt.Errorf("kind cluster %s runs %s, not %s: run with --mesh %s, or bring up a cluster for %s (meshgym up --platform kind --mesh %s)",
			info.Name, info.Mesh, p.opts.Mesh, info.Mesh, p.opts.Mesh, p.opts.Mesh)
	}
	return sandbox.Cluster{Name: info.Name, Kubeconfig: info.Kubeconfig, Namespace: Namespace, Mesh: p.mesh(info)}, nil
}

// Deploy deploys the topology on the cluster: it makes sure the lab
// namespace exists (server-side apply of meshgym's label only, so the
// injection labels a mesh plugin set with its own field manager stay),
// prepares the app image (Options.PrepareImages), applies the
// Services and Deployments of RenderManifests with kube.FieldManager,
// waits for the rollout (spec.ReadyTimeout, default DefaultReadyTimeout;
// progress lines through spec.Logf), starts the local pod proxy and lists
// the pods as components: per pod an app component (Instance = pod name,
// AdminURL = the pod's base URL through the pod proxy, MetricsURL = its
// /metrics on AppPort when it runs without a sidecar) and, for a service
// with a sidecar, a sidecar component (Instance = pod+"/proxy", the same
// AdminURL; the mesh plugin turns it into its proxy's scrape URL).
// spec.EntryPort cannot change the host port, which the cluster maps when
// it is created (ClusterInfo.EntryHostPort); a different one is said
// through spec.Logf. On error it returns the deployment when something
// was applied; its Teardown removes it.
func (p *Platform) Deploy(ctx context.Context, spec sandbox.DeploySpec) (sandbox.Deployment, error) {
	logf := spec.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if spec.ReadyTimeout <= 0 {
		spec.ReadyTimeout = DefaultReadyTimeout
	}
	info, err := p.info(ctx)
	if err != nil {
		return nil, err
	}
	mesh := p.mesh(info)
	image, pull := p.opts.AppImage, corev1.PullNever
	if p.opts.ImageSource == ImageSourceUpstream {
		image, pull = UpstreamImage, corev1.PullIfNotPresent
	}
	if p.opts.PrepareImages != nil {
		img, err := p.opts.PrepareImages(ctx, info.Name, logf)
		if err != nil {
			return nil, fmt.Errorf("kind: images for cluster %s: %w", info.Name, err)
		}
		if img != "" {
			image = img
		}
	}
	if image == "" {
		return nil, errors.New("kind: no sample app image (Options.AppImage or PrepareImages)")
	}
	man, err := RenderManifests(ManifestSpec{Topology: spec.Topology, Namespace: Namespace, Seed: spec.Seed,
		Image: image, PullPolicy: pull, Mesh: mesh, Env: spec.Env})
	if err != nil {
		return nil, err
	}
	c, err := p.opts.NewClients(info.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kind cluster %s: %w", info.Name, err)
	}
	if spec.EntryPort != 0 && info.EntryHostPort != 0 && spec.EntryPort != info.EntryHostPort {
		logf("kind cluster %s maps host port %d to the entry service (fixed when the cluster was created); port %d is not used", info.Name, info.EntryHostPort, spec.EntryPort)
	}
	d := &deployment{
		c: c, ns: Namespace, cluster: info.Name, mesh: mesh, topo: spec.Topology,
		entry:     fmt.Sprintf("http://127.0.0.1:%d/", entryHostPort(info)),
		died:      make(chan sandbox.ComponentExit, 1),
		endpoints: map[string][]sandbox.Endpoint{},
		summaries: map[string]*nodeSummary{},
	}
	for _, o := range man.Objects {
		if o.GetKind() == "Deployment" {
			d.versions = append(d.versions, componentOf(o))
		}
	}
	if err := c.EnsureNamespace(ctx, Namespace, nil, nil); err != nil {
		return nil, fmt.Errorf("kind: namespace %s: %w", Namespace, err)
	}
	logf("applying %d objects to kind cluster %s (namespace %s)", len(man.Objects), info.Name, Namespace)
	for _, o := range man.Objects {
		// Recorded before the call: a failed apply may still have
		// created the object, and deleting a missing one is no error.
		d.applied = append(d.applied, o)
		if err := c.Apply(ctx, kube.FieldManager, o); err != nil {
			return d, fmt.Errorf("kind: %w", err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, spec.ReadyTimeout)
	err = c.WaitRollout(wctx, Namespace, man.Deployments, func(s string) { logf("%s", s) })
	cancel()
	if err != nil {
		return d, fmt.Errorf("kind: rollout (timeout %s): %w", spec.ReadyTimeout, err)
	}
	if d.proxy, err = p.opts.StartPodProxy(c); err != nil {
		return d, fmt.Errorf("kind: pod proxy: %w", err)
	}
	if err := d.listComponents(ctx); err != nil {
		return d, err
	}
	d.mu.Lock()
	d.running = true
	d.mu.Unlock()
	wctx, d.stopWatch = context.WithCancel(context.Background())
	d.watchDone = make(chan struct{})
	go d.watch(wctx)
	return d, nil
}

func entryHostPort(info ClusterInfo) int {
	if info.EntryHostPort != 0 {
		return info.EntryHostPort
	}
	return DefaultEntryHostPort
}

// componentOf is the version name a rendered Deployment runs (its pods'
// meshgym.dev/component label).
func componentOf(o *unstructured.Unstructured) string {
	v, _, _ := unstructured.NestedString(o.Object, "spec", "template", "metadata", "labels", LabelComponent)
	return v
}

// deployment is a topology running on a kind cluster.
type deployment struct {
	c        *kube.Clients
	ns       string
	cluster  string
	mesh     string
	topo     scenarios.Topology
	entry    string
	versions []string // component (version) names, deployment order
	applied  []*unstructured.Unstructured
	proxy    *kube.PodProxy

	stopWatch context.CancelFunc
	watchDone chan struct{}
	died      chan sandbox.ComponentExit

	mu        sync.Mutex
	comps     []sandbox.Component
	pods      map[string]podState // pod name → state when listed
	endpoints map[string][]sandbox.Endpoint
	running   bool
	torn      bool
	tornErr   error
	summaries map[string]*nodeSummary
}

// podState is what the died watch compares against.
type podState struct {
	app      sandbox.Component
	restarts map[string]int32 // container → restart count
	uid      string
}

func (d *deployment) EntryURL() string { return d.entry }

func (d *deployment) Components() []sandbox.Component {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]sandbox.Component(nil), d.comps...)
}

func (d *deployment) Endpoints(service string) []sandbox.Endpoint {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]sandbox.Endpoint(nil), d.endpoints[service]...)
}

func (d *deployment) Died() <-chan sandbox.ComponentExit { return d.died }

// selector selects the pods of this deployment's versions.
func (d *deployment) selector() string {
	return fmt.Sprintf("%s=%s,%s in (%s)", kube.ManagedByLabel, kube.ManagedByValue, LabelComponent, strings.Join(d.versions, ","))
}

// listComponents lists the pods (skipping ones being deleted) as
// components and endpoints, in deployment order then pod name.
func (d *deployment) listComponents(ctx context.Context) error {
	pods, err := d.c.Typed.CoreV1().Pods(d.ns).List(ctx, metav1.ListOptions{LabelSelector: d.selector()})
	if err != nil {
		return fmt.Errorf("kind: list pods: %w", err)
	}
	order := map[string]int{}
	for i, v := range d.versions {
		order[v] = i
	}
	items := pods.Items
	sort.SliceStable(items, func(i, j int) bool {
		vi, vj := order[items[i].Labels[LabelComponent]], order[items[j].Labels[LabelComponent]]
		if vi != vj {
			return vi < vj
		}
		return items[i].Name < items[j].Name
	})
	sidecar := map[string]bool{}
	for _, s := range d.topo.Services {
		sidecar[s.Name] = s.Sidecar
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.comps, d.pods = nil, map[string]podState{}
	d.endpoints = map[string][]sandbox.Endpoint{}
	for _, pod := range items {
		if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		ver, svc := pod.Labels[LabelComponent], pod.Labels[LabelApp]
		base := d.proxy.Base + "/api/v1/namespaces/" + d.ns + "/pods/" + pod.Name
		app := sandbox.Component{Name: ver, Instance: pod.Name, Kind: sandbox.KindApp, Service: svc, Version: ver, AdminURL: base}
		if !sidecar[svc] {
			app.MetricsURL = sandbox.PodProxyURL(base, AppPort, "/metrics")
		}
		d.comps = append(d.comps, app)
		if sidecar[svc] {
			d.comps = append(d.comps, sandbox.Component{Name: ver + "_sidecar", Instance: pod.Name + "/proxy",
				Kind: sandbox.KindSidecar, Service: svc, Version: ver, AdminURL: base})
		}
		if pod.Status.PodIP != "" {
			d.endpoints[svc] = append(d.endpoints[svc], sandbox.Endpoint{Name: ver, Address: fmt.Sprintf("%s:%d", pod.Status.PodIP, AppPort)})
		}
		st := podState{app: app, restarts: map[string]int32{}, uid: string(pod.UID)}
		for _, cs := range pod.Status.ContainerStatuses {
			st.restarts[cs.Name] = cs.RestartCount
		}
		d.pods[pod.Name] = st
	}
	if len(d.comps) == 0 {
		return fmt.Errorf("kind: no pods of %s in namespace %s after the rollout", strings.Join(d.versions, ", "), d.ns)
	}
	return nil
}

// watch polls the pods every diedPoll while the deployment runs and
// reports the first one that restarted a container, failed or vanished.
func (d *deployment) watch(ctx context.Context) {
	defer close(d.watchDone)
	t := time.NewTicker(diedPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if exit, ok := d.check(ctx); ok {
			d.mu.Lock()
			running := d.running && !d.torn
			d.mu.Unlock()
			if running {
				select {
				case d.died <- exit:
				default:
				}
			}
			return
		}
	}
}

// check looks at the pods once.
func (d *deployment) check(ctx context.Context) (sandbox.ComponentExit, bool) {
	pods, err := d.c.Typed.CoreV1().Pods(d.ns).List(ctx, metav1.ListOptions{LabelSelector: d.selector()})
	if err != nil {
		return sandbox.ComponentExit{}, false // the API server may be busy; look again
	}
	byName := map[string]*corev1.Pod{}
	for i := range pods.Items {
		byName[pods.Items[i].Name] = &pods.Items[i]
	}
	d.mu.Lock()
	known := make(map[string]podState, len(d.pods))
	for k, v := range d.pods {
		known[k] = v
	}
	d.mu.Unlock()
	names := make([]string, 0, len(known))
	for n := range known {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		st := known[name]
		pod, ok := byName[name]
		if !ok || string(pod.UID) != st.uid {
			return sandbox.ComponentExit{Component: st.app, Err: fmt.Errorf("pod %s is gone", name)}, true
		}
		if pod.Status.Phase == corev1.PodFailed {
			return sandbox.ComponentExit{Component: st.app,
				Err:     fmt.Errorf("pod %s failed: %s", name, d.c.PodReason(ctx, pod)),
				LogTail: d.c.LogTail(ctx, d.ns, name, AppContainer, 5, false)}, true
		}
		for _, cs := range pod.Status.ContainerStatuses {
			if cs.RestartCount > st.restarts[cs.Name] {
				comp := st.app
				if cs.Name != AppContainer {
					comp = d.sidecarOf(name, comp)
				}
				why := fmt.Sprintf("container %s of pod %s restarted (%d restarts)", cs.Name, name, cs.RestartCount)
				if t := cs.LastTerminationState.Terminated; t != nil {
					why += fmt.Sprintf(": %s, exit code %d", t.Reason, t.ExitCode)
				}
				return sandbox.ComponentExit{Component: comp, Err: errors.New(why),
					LogTail: d.c.LogTail(ctx, d.ns, name, cs.Name, 5, true)}, true
			}
		}
	}
	return sandbox.ComponentExit{}, false
}

// sidecarOf is the sidecar component of a pod (or app when it has none).
func (d *deployment) sidecarOf(pod string, app sandbox.Component) sandbox.Component {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.comps {
		if c.Instance == pod+"/proxy" {
			return c
		}
	}
	return app
}

// Teardown deletes every object Deploy applied (Deployments and
// Services; not the namespace, which carries the mesh's injection labels,
// nor the cluster), waits up to TeardownTimeout (and ctx) for the pods to
// go, and stops the pod proxy. Safe twice (the second call returns the
// first one's result); works after a failed Deploy.
func (d *deployment) Teardown(ctx context.Context) error {
	d.mu.Lock()
	if d.torn {
		d.mu.Unlock()
		return d.tornErr
	}
	d.torn = true
	d.mu.Unlock()
	if d.stopWatch != nil {
		d.stopWatch()
		<-d.watchDone
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), TeardownTimeout)
	defer cancel()
	objs := make([]*unstructured.Unstructured, 0, len(d.applied))
	for i := len(d.applied) - 1; i >= 0; i-- {
		objs = append(objs, d.applied[i])
	}
	var errs []error
	if err := d.c.Delete(ctx, objs...); err != nil {
		errs = append(errs, err)
	}
	if len(d.applied) > 0 && len(errs) == 0 {
		if err := d.waitGone(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := d.proxy.Close(); err != nil {
		errs = append(errs, fmt.Errorf("pod proxy: %w", err))
	}
	err := errors.Join(errs...)
	if err != nil {
		err = fmt.Errorf("kind teardown (cluster %s, namespace %s): %w", d.cluster, d.ns, err)
	}
	d.mu.Lock()
	d.tornErr = err
	d.mu.Unlock()
	return err
}

// waitGone waits until no pod of the deployment's versions is left.
func (d *deployment) waitGone(ctx context.Context) error {
	if len(d.versions) == 0 {
		return nil
	}
	t := time.NewTicker(gonePoll)
	defer t.Stop()
	for {
		pods, err := d.c.Typed.CoreV1().Pods(d.ns).List(ctx, metav1.ListOptions{LabelSelector: d.selector()})
		if err == nil && len(pods.Items) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			left := "?"
			if err == nil {
				var names []string
				for _, p := range pods.Items {
					names = append(names, p.Name)
				}
				left = strings.Join(names, ", ")
			}
			return fmt.Errorf("pods still terminating after %s: %s", TeardownTimeout, left)
		case <-t.C:
		}
	}
}

// Kubelet summary API (GET /api/v1/nodes/NODE/proxy/stats/summary), the
// fields ReadResources reads; types as k8s.io/kubelet/pkg/apis/stats/v1alpha1
// (Summary, PodStats, ContainerStats, CPUStats, MemoryStats):
// https://kubernetes.io/docs/reference/instrumentation/understand-psi-metrics/
// and https://github.com/kubernetes/kubelet/blob/master/pkg/apis/stats/v1alpha1/types.go.
type kubeletSummary struct {
	Pods []struct {
		PodRef struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
			UID       string `json:"uid"`
		} `json:"podRef"`
		Containers []struct {
			Name string `json:"name"`
			CPU  *struct {
				// UsageCoreNanoSeconds is the cumulative CPU time of the
				// container in core-nanoseconds.
				UsageCoreNanoSeconds *uint64 `json:"usageCoreNanoSeconds"`
			} `json:"cpu"`
			Memory *struct {
				// WorkingSetBytes is the memory `kubectl top` shows:
				// usage minus inactive file pages.
				WorkingSetBytes *uint64 `json:"workingSetBytes"`
			} `json:"memory"`
		} `json:"containers"`
	} `json:"pods"`
}

type nodeSummary struct {
	at  time.Time
	sum *kubeletSummary
}

// ReadResources implements sandbox.ResourceReader for a component
// instance (a pod name for an app, POD+"/proxy" for its sidecar): the
// container's cumulative CPU time in seconds (usageCoreNanoSeconds / 1e9)
// and its working set in MB (workingSetBytes / 2^20, the figure `kubectl
// top` shows), from the kubelet summary API of the pod's node, read
// through the API server's node proxy (/api/v1/nodes/NODE/proxy/stats/summary)
// and the deployment's pod proxy; one node's summary serves all reads for
// summaryTTL. The kubelet refreshes these figures every ~10-15 s
// (cAdvisor housekeeping), so successive reads may repeat. A pod that is
// gone (deleted, replaced, failed) is an error wrapping sandbox.ErrGone.
func (d *deployment) ReadResources(ctx context.Context, instance string) (cpuSeconds, memoryMB float64, err error) {
	podName, sidecar := strings.CutSuffix(instance, "/proxy")
	d.mu.Lock()
	st, known := d.pods[podName]
	d.mu.Unlock()
	if !known {
		return 0, 0, fmt.Errorf("kind: no component instance %q", instance)
	}
	pod, err := d.c.Typed.CoreV1().Pods(d.ns).Get(ctx, podName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && (string(pod.UID) != st.uid || pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodFailed)) {
		return 0, 0, fmt.Errorf("pod %s: %w", podName, sandbox.ErrGone)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("pod %s: %w", podName, err)
	}
	ctr := AppContainer
	if sidecar {
		ctr = d.sidecarContainer(pod)
		if ctr == "" {
			return 0, 0, fmt.Errorf("pod %s has no sidecar container", podName)
		}
	}
	sum, err := d.summary(ctx, pod.Spec.NodeName)
	if err != nil {
		return 0, 0, err
	}
	for _, ps := range sum.Pods {
		if ps.PodRef.Name != podName || ps.PodRef.Namespace != d.ns {
			continue
		}
		for _, cs := range ps.Containers {
			if cs.Name != ctr {
				continue
			}
			if cs.CPU == nil || cs.CPU.UsageCoreNanoSeconds == nil || cs.Memory == nil || cs.Memory.WorkingSetBytes == nil {
				return 0, 0, fmt.Errorf("kubelet summary of node %s: container %s/%s has no CPU or memory figures yet", pod.Spec.NodeName, podName, ctr)
			}
			return float64(*cs.CPU.UsageCoreNanoSeconds) / 1e9, float64(*cs.Memory.WorkingSetBytes) / (1 << 20), nil
		}
	}
	return 0, 0, fmt.Errorf("kubelet summary of node %s: no container %s in pod %s yet", pod.Spec.NodeName, ctr, podName)
}

// sidecarContainer is the injected proxy's container of a pod: the mesh's
// known name, else the first container that is not the app.
func (d *deployment) sidecarContainer(pod *corev1.Pod) string {
	want := sidecarContainers[d.mesh]
	first := ""
	all := append(append([]corev1.Container(nil), pod.Spec.Containers...), pod.Spec.InitContainers...)
	for _, c := range all {
		if c.Name == want && want != "" {
			return c.Name
		}
		if first == "" && c.Name != AppContainer {
			first = c.Name
		}
	}
	return first
}

// summary reads (or reuses) a node's kubelet summary.
func (d *deployment) summary(ctx context.Context, node string) (*kubeletSummary, error) {
	if node == "" {
		return nil, errors.New("kind: pod not scheduled to a node yet")
	}
	d.mu.Lock()
	if s, ok := d.summaries[node]; ok && time.Since(s.at) < summaryTTL {
		d.mu.Unlock()
		return s.sum, nil
	}
	d.mu.Unlock()
	if d.proxy == nil {
		return nil, errors.New("kind: no pod proxy")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.proxy.Base+"/api/v1/nodes/"+node+"/proxy/stats/summary", nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("kubelet summary of node %s: %w", node, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return nil, fmt.Errorf("kubelet summary of node %s: %s: %s", node, res.Status, strings.TrimSpace(string(b)))
	}
	var s kubeletSummary
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		return nil, fmt.Errorf("kubelet summary of node %s: %w", node, err)
	}
	d.mu.Lock()
	d.summaries[node] = &nodeSummary{at: time.Now(), sum: &s}
	d.mu.Unlock()
	return &s, nil
}
