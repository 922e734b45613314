package kind_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"meshgym/internal/kube"
	"meshgym/internal/kube/kubetest"
	"meshgym/sandbox"
	"meshgym/sandbox/kind"
)

func TestMain(m *testing.M) {
	kube.RolloutPoll = 10 * time.Millisecond
	restore := kind.SetPlatformPollsForTest(20*time.Millisecond, 10*time.Millisecond, 0)
	code := m.Run()
	restore()
	os.Exit(code)
}

// fakeClusters is the Clusters lifecycle with clusters in a map.
type fakeClusters struct {
	mu    sync.Mutex
	infos map[string]kind.ClusterInfo
	gets  []string
}

func (f *fakeClusters) Get(ctx context.Context, name string) (kind.ClusterInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets = append(f.gets, name)
	info, ok := f.infos[name]
	if !ok {
		return kind.ClusterInfo{}, fmt.Errorf("cluster %s: %w", name, kind.ErrNoCluster)
	}
	return info, nil
}
func (f *fakeClusters) Create(context.Context, kind.ClusterSpec, bool, func(string)) (kind.ClusterInfo, error) {
	return kind.ClusterInfo{}, errors.New("fake: no create")
}
func (f *fakeClusters) Delete(context.Context, string) error { return errors.New("fake: no delete") }
func (f *fakeClusters) List(context.Context) ([]kind.ClusterInfo, error) {
	return nil, errors.New("fake: no list")
}
func (f *fakeClusters) LoadImages(context.Context, string, []string) error {
	return errors.New("fake: no load")
}

const node = "meshgym-istio-control-plane"

// cluster is a fake cluster: client-go fakes with a simulated Deployment
// controller and kubelet, and an API server stand-in behind the real pod
// proxy.
type cluster struct {
	t    *testing.T
	f    *kubetest.Fake
	api  *httptest.Server
	mu   sync.Mutex
	seen []string // API server stand-in requests: "path auth"
	// ready: pods become ready (else they wait in ImagePullBackOff).
	ready   atomic.Bool
	applies atomic.Int32
	// failApply fails the n-th apply patch (1-based; 0 never); failNS
	// fails the namespace's.
	failApply int32
	failNS    bool
	proxies   []*kube.PodProxy
}

func newCluster(t *testing.T) *cluster {
	c := &cluster{t: t, f: kubetest.New()}
	c.ready.Store(true)
	summary, err := os.ReadFile(filepath.Join("testdata", "kubelet-summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	c.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.seen = append(c.seen, r.URL.Path+" "+r.Header.Get("Authorization"))
		c.mu.Unlock()
		switch {
		case r.URL.Path == "/api/v1/nodes/"+node+"/proxy/stats/summary":
			w.Write(summary)
		case strings.HasSuffix(r.URL.Path, ":9090/proxy/metrics"):
			io.WriteString(w, "meshgym_requests_total{direction=\"inbound\",name=\"x\",status_code=\"200\",attempt=\"1\"} 1\n")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(c.api.Close)
	shared := k8stesting.ObjectReaction(c.f.Typed.Tracker())
	c.f.Dynamic.PrependReactor("patch", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.PatchActionImpl)
		if p.GetPatchType() != types.ApplyPatchType {
			return false, nil, nil
		}
		if a.GetResource().Resource == "namespaces" && c.failNS {
			return true, nil, apierrors.NewForbidden(a.GetResource().GroupResource(), p.GetName(), errors.New("namespaces are not allowed"))
		}
		if a.GetResource().Resource != "namespaces" {
			if n := c.applies.Add(1); n == c.failApply {
				return true, nil, apierrors.NewInternalError(errors.New("etcd is sad"))
			}
		}
		handled, obj, err := shared(a)
		if err == nil && a.GetResource().Resource == "deployments" {
			c.rollout(p.GetNamespace(), p.GetName())
		}
		return handled, obj, err
	})
	// Deleting a Deployment deletes its pods (the garbage collector).
	c.f.Dynamic.PrependReactor("delete", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		d := a.(k8stesting.DeleteActionImpl)
		pods, _ := c.f.Typed.CoreV1().Pods(d.GetNamespace()).List(context.Background(), metav1.ListOptions{})
		for _, p := range pods.Items {
			if p.Labels["meshgym.dev/component"] != "" && kind.KubeName(p.Labels["meshgym.dev/component"]) == d.GetName() {
				c.f.Typed.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), p.Namespace, p.Name)
			}
		}
		return shared(a)
	})
	return c
}

// rollout is the Deployment controller and kubelet: pods for the
// Deployment, running and ready (or waiting on the image).
func (c *cluster) rollout(ns, name string) {
	ctx := context.Background()
	d, err := c.f.Typed.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		c.t.Errorf("controller: %v", err)
		return
	}
	n := *d.Spec.Replicas
	ready := c.ready.Load()
	suffixes := []string{"x2k4q", "p7m2z", "h8d3w"}
	for i := int32(0); i < n; i++ {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-6d5f8c7b9d-" + suffixes[i], Namespace: ns,
				Labels: d.Spec.Template.Labels, UID: types.UID(fmt.Sprintf("uid-%s-%d", name, i))},
			Spec: corev1.PodSpec{NodeName: node, Containers: append([]corev1.Container{{Name: "istio-proxy"}}, d.Spec.Template.Spec.Containers...)},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: fmt.Sprintf("10.244.0.%d", 10+c.applies.Load()*3+i),
				ContainerStatuses: []corev1.ContainerStatus{{Name: "istio-proxy", Ready: true}, {Name: "app", Ready: true}}},
		}
		if !ready {
			pod.Status.Phase = corev1.PodPending
			pod.Status.ContainerStatuses[1] = corev1.ContainerStatus{Name: "app", State: corev1.ContainerState{
				Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull", Message: `Container image "meshgym/app:test" is not present with pull policy of Never`}}}
		}
		if err := c.f.Typed.Tracker().Add(pod); err != nil {
			c.t.Errorf("controller: %v", err)
		}
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n}
	if ready {
		d.Status.ReadyReplicas, d.Status.AvailableReplicas = n, n
	}
	if _, err := c.f.Typed.AppsV1().Deployments(ns).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
		c.t.Errorf("controller: %v", err)
	}
}

func (c *cluster) platform(t *testing.T, opts kind.Options) *kind.Platform {
	t.Helper()
	if opts.Clusters == nil {
		opts.Clusters = &fakeClusters{infos: map[string]kind.ClusterInfo{
			"meshgym-istio": {Name: "meshgym-istio", Mesh: "istio", EntryHostPort: 8201, Kubeconfig: "kubeconfig-of-meshgym-istio"},
		}}
	}
	if opts.Mesh == "" {
		opts.Mesh = "istio"
	}
	if opts.AppImage == "" {
		opts.AppImage = "meshgym/app:test"
	}
	opts.NewClients = func(kc string) (*kube.Clients, error) {
		if kc != "kubeconfig-of-meshgym-istio" {
			t.Errorf("kubeconfig %q", kc)
		}
		return c.f.Clients, nil
	}
	if opts.StartPodProxy == nil {
		opts.StartPodProxy = func(*kube.Clients) (*kube.PodProxy, error) {
			p, err := kube.StartPodProxy(&rest.Config{Host: c.api.URL, BearerToken: "kind-token"})
			if err == nil {
				c.proxies = append(c.proxies, p)
			}
			return p, err
		}
	}
	p, err := kind.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// left lists the Deployments, Services and Pods in the namespace.
func (c *cluster) left(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	ds, _ := c.f.Typed.AppsV1().Deployments(kind.Namespace).List(ctx, metav1.ListOptions{})
	for _, d := range ds.Items {
		out = append(out, "Deployment/"+d.Name)
	}
	ss, _ := c.f.Typed.CoreV1().Services(kind.Namespace).List(ctx, metav1.ListOptions{})
	for _, s := range ss.Items {
		out = append(out, "Service/"+s.Name)
	}
	ps, _ := c.f.Typed.CoreV1().Pods(kind.Namespace).List(ctx, metav1.ListOptions{})
	for _, p := range ps.Items {
		out = append(out, "Pod/"+p.Name)
	}
	return out
}

type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) logf(f string, a ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(f, a...))
	l.mu.Unlock()
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func TestDeployComponentsEndpointsEntry(t *testing.T) {
	c := newCluster(t)
	// The mesh plugin labelled the namespace for injection first.
	if err := c.f.Clients.Apply(context.Background(), "meshgym-mesh-istio", nsObj(map[string]any{"istio-injection": "enabled"})); err != nil {
		t.Fatal(err)
	}
	var prepared []string
	p := c.platform(t, kind.Options{PrepareImages: func(ctx context.Context, cluster string, logf func(string, ...any)) (string, error) {
		prepared = append(prepared, cluster)
		return "meshgym/app:built", nil
	}})
	var l logs
	sc := builtin(t, "retries")
	dep, err := p.Deploy(context.Background(), sandbox.DeploySpec{Topology: sc.Topology, Seed: 1, Logf: l.logf, EntryPort: 8200})
	if err != nil {
		t.Fatal(err)
	}
	defer dep.Teardown(context.Background())
	if strings.Join(prepared, ",") != "meshgym-istio" {
		t.Errorf("PrepareImages called for %v", prepared)
	}
	if got := dep.EntryURL(); got != "http://127.0.0.1:8201/" {
		t.Errorf("entry %q", got)
	}
	base := c.proxies[0].Base + "/api/v1/namespaces/meshgym/pods/"
	var got []string
	for _, comp := range dep.Components() {
		got = append(got, fmt.Sprintf("%s %s %s %s/%s %s %s", comp.Kind, comp.Name, comp.Instance, comp.Service, comp.Version,
			strings.TrimPrefix(comp.AdminURL, base), comp.MetricsURL))
	}
	want := []string{
		"app api api-6d5f8c7b9d-x2k4q api/api api-6d5f8c7b9d-x2k4q ",
		"sidecar api_sidecar api-6d5f8c7b9d-x2k4q/proxy api/api api-6d5f8c7b9d-x2k4q ",
		"app payments payments-6d5f8c7b9d-x2k4q payments/payments payments-6d5f8c7b9d-x2k4q ",
		"sidecar payments_sidecar payments-6d5f8c7b9d-x2k4q/proxy payments/payments payments-6d5f8c7b9d-x2k4q ",
		"app currency_v1 currency-v1-6d5f8c7b9d-x2k4q currency/currency_v1 currency-v1-6d5f8c7b9d-x2k4q ",
		"sidecar currency_v1_sidecar currency-v1-6d5f8c7b9d-x2k4q/proxy currency/currency_v1 currency-v1-6d5f8c7b9d-x2k4q ",
		"app currency_v2 currency-v2-6d5f8c7b9d-x2k4q currency/currency_v2 currency-v2-6d5f8c7b9d-x2k4q ",
		"sidecar currency_v2_sidecar currency-v2-6d5f8c7b9d-x2k4q/proxy currency/currency_v2 currency-v2-6d5f8c7b9d-x2k4q ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("components\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	eps := dep.Endpoints("currency")
	if len(eps) != 2 || eps[0].Name != "currency_v1" || eps[1].Name != "currency_v2" ||
		!strings.HasPrefix(eps[0].Address, "10.244.0.") || !strings.HasSuffix(eps[0].Address, ":9090") || eps[0].Address == eps[1].Address {
		t.Errorf("endpoints %+v", eps)
	}
	// The apps run the prepared image, never pulled; the namespace keeps
	// the mesh's label.
	d, _ := c.f.Typed.AppsV1().Deployments("meshgym").Get(context.Background(), "currency-v1", metav1.GetOptions{})
	if ctr := d.Spec.Template.Spec.Containers[0]; ctr.Image != "meshgym/app:built" || ctr.ImagePullPolicy != corev1.PullNever {
		t.Errorf("container %s %s", ctr.Image, ctr.ImagePullPolicy)
	}
	ns, _ := c.f.Typed.CoreV1().Namespaces().Get(context.Background(), "meshgym", metav1.GetOptions{})
	if ns.Labels["istio-injection"] != "enabled" || ns.Labels[kube.ManagedByLabel] != kube.ManagedByValue {
		t.Errorf("namespace labels %v", ns.Labels)
	}
	for _, w := range []string{"maps host port 8201", "applying 7 objects", "4 deployments ready"} {
		if !strings.Contains(l.String(), w) {
			t.Errorf("log lacks %q:\n%s", w, l.String())
		}
	}
}

func nsObj(labels map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": "meshgym", "labels": labels}}}
}

func TestDeployWithoutSidecarsScrapesAppsThroughPodProxy(t *testing.T) {
	c := newCluster(t)
	p := c.platform(t, kind.Options{ImageSource: kind.ImageSourceUpstream, AppImage: ""})
	topo := builtin(t, "retries").Topology
	for i := range topo.Services {
		topo.Services[i].Sidecar = false
	}
	dep, err := p.Deploy(context.Background(), sandbox.DeploySpec{Topology: topo})
	if err != nil {
		t.Fatal(err)
	}
	defer dep.Teardown(context.Background())
	comps := dep.Components()
	if len(comps) != 4 {
		t.Fatalf("%d components, want 4 apps: %+v", len(comps), comps)
	}
	for _, comp := range comps {
		want := sandbox.PodProxyURL(comp.AdminURL, 9090, "/metrics")
		if comp.Kind != sandbox.KindApp || comp.MetricsURL != want {
			t.Fatalf("component %+v, want an app with MetricsURL %s", comp, want)
		}
	}
	res, err := http.Get(comps[0].MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), "meshgym_requests_total") {
		t.Fatalf("scrape %d %s", res.StatusCode, b)
	}
	c.mu.Lock()
	seen := strings.Join(c.seen, "\n")
	c.mu.Unlock()
	if !strings.Contains(seen, "/api/v1/namespaces/meshgym/pods/api-6d5f8c7b9d-x2k4q:9090/proxy/metrics Bearer kind-token") {
		t.Errorf("API server saw %s", seen)
	}
	d, _ := c.f.Typed.AppsV1().Deployments("meshgym").Get(context.Background(), "api", metav1.GetOptions{})
	tpl := d.Spec.Template
	if ctr := tpl.Spec.Containers[0]; ctr.Image != kind.UpstreamImage || ctr.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("upstream container %s %s", ctr.Image, ctr.ImagePullPolicy)
	}
	if tpl.Labels["sidecar.istio.io/inject"] != "false" {
		t.Errorf("pods without a sidecar lack istio's opt-out: %v", tpl.Labels)
	}
}

func TestTeardownDeletesWhatDeployApplied(t *testing.T) {
	c := newCluster(t)
	// Something meshgym did not apply stays.
	other := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "not-ours", Namespace: "meshgym"}}
	c.f.Typed.Tracker().Add(other)
	p := c.platform(t, kind.Options{})
	dep, err := p.Deploy(context.Background(), sandbox.DeploySpec{Topology: builtin(t, "canary").Topology})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(c.left(t)); n != 1+2+3+3 { // not-ours, 2 Services, 3 Deployments, 3 pods
		t.Fatalf("before teardown: %v", c.left(t))
	}
	if err := dep.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if left := c.left(t); strings.Join(left, ",") != "Service/not-ours" {
		t.Fatalf("left after teardown: %v", left)
	}
	if _, err := c.f.Typed.CoreV1().Namespaces().Get(context.Background(), "meshgym", metav1.GetOptions{}); err != nil {
		t.Fatalf("namespace deleted: %v", err)
	}
	if err := dep.Teardown(context.Background()); err != nil {
		t.Fatalf("second teardown: %v", err)
	}
	if _, err := http.Get(c.proxies[0].Base + "/api/v1/nodes/" + node + "/proxy/stats/summary"); err == nil {
		t.Fatal("pod proxy still serving after Teardown")
	}
}

func TestDeployFailureLeavesNothing(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(c *cluster, o *kind.Options, spec *sandbox.DeploySpec)
		err     string
		nilDep  bool
		proxies int
	}{
		{name: "namespace", setup: func(c *cluster, o *kind.Options, spec *sandbox.DeploySpec) { c.failNS = true },
			err: "kind: namespace meshgym:", nilDep: true},
		{name: "apply of the 3rd object", setup: func(c *cluster, o *kind.Options, spec *sandbox.DeploySpec) { c.failApply = 3 },
			err: "kind: apply Service meshgym/currency: Internal error occurred: etcd is sad"},
		{name: "rollout timeout", setup: func(c *cluster, o *kind.Options, spec *sandbox.DeploySpec) {
			c.ready.Store(false)
			spec.ReadyTimeout = 200 * time.Millisecond
		}, err: "ErrImageNeverPull"},
		{name: "pod proxy", setup: func(c *cluster, o *kind.Options, spec *sandbox.DeploySpec) {
			o.StartPodProxy = func(*kube.Clients) (*kube.PodProxy, error) { return nil, errors.New("no free port") }
		}, err: "kind: pod proxy: no free port"},
		{name: "images", setup: func(c *cluster, o *kind.Options, spec *sandbox.DeploySpec) {
			o.PrepareImages = func(context.Context, string, func(string, ...any)) (string, error) {
				return "", errors.New("docker daemon not reachable")
			}
		}, err: "kind: images for cluster meshgym-istio: docker daemon not reachable", nilDep: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t)
			var opts kind.Options
			spec := sandbox.DeploySpec{Topology: builtin(t, "retries").Topology}
			tt.setup(c, &opts, &spec)
			p := c.platform(t, opts)
			dep, err := p.Deploy(context.Background(), spec)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
			if tt.nilDep {
				if dep != nil {
					t.Fatalf("deployment %v after a failure before anything was applied", dep)
				}
			} else {
				if dep == nil {
					t.Fatal("no deployment to tear down after a partial deploy")
				}
				if err := dep.Teardown(context.Background()); err != nil {
					t.Fatalf("teardown: %v", err)
				}
			}
			if left := c.left(t); len(left) != 0 {
				t.Fatalf("left behind: %v", left)
			}
		})
	}
}

func TestRolloutTimeoutNamesDeploymentAndReason(t *testing.T) {
	c := newCluster(t)
	c.ready.Store(false)
	p := c.platform(t, kind.Options{})
	var l logs
	dep, err := p.Deploy(context.Background(), sandbox.DeploySpec{Topology: builtin(t, "retries").Topology, ReadyTimeout: 150 * time.Millisecond, Logf: l.logf})
	if dep != nil {
		defer dep.Teardown(context.Background())
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline", err)
	}
	for _, w := range []string{"rollout (timeout 150ms)", "currency-v1 0/1 ready: pod currency-v1-6d5f8c7b9d-x2k4q: container app: ErrImageNeverPull", "not present with pull policy of Never"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("err %q lacks %q", err, w)
		}
	}
	if !strings.Contains(l.String(), "waiting for 4 of 4 deployments: api 0/1 ready, payments 0/1 ready, currency-v1 0/1 ready, currency-v2 0/1 ready") {
		t.Errorf("progress:\n%s", l.String())
	}
}

func TestDiedReportsRestart(t *testing.T) {
	c := newCluster(t)
	p := c.platform(t, kind.Options{})
	dep, err := p.Deploy(context.Background(), sandbox.DeploySpec{Topology: builtin(t, "retries").Topology})
	if err != nil {
		t.Fatal(err)
	}
	defer dep.Teardown(context.Background())
	ctx := context.Background()
	pod, err := c.f.Typed.CoreV1().Pods("meshgym").Get(ctx, "currency-v2-6d5f8c7b9d-x2k4q", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.ContainerStatuses[1].RestartCount = 1
	pod.Status.ContainerStatuses[1].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 2}
	if _, err := c.f.Typed.CoreV1().Pods("meshgym").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ex := <-dep.Died():
		if ex.Component.Name != "currency_v2" || ex.Component.Instance != pod.Name {
			t.Errorf("died %+v", ex.Component)
		}
		if !strings.Contains(ex.Err.Error(), "container app of pod currency-v2-6d5f8c7b9d-x2k4q restarted (1 restarts): Error, exit code 2") {
			t.Errorf("err %v", ex.Err)
		}
		if ex.LogTail != "fake logs" { // the fake clientset's log body
			t.Errorf("log tail %q", ex.LogTail)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no ComponentExit after a container restart")
	}
}

func TestDiedReportsVanishedPod(t *testing.T) {
	c := newCluster(t)
	p := c.platform(t, kind.Options{})
	dep, err := p.Deploy(context.Background(), sandbox.DeploySpec{Topology: builtin(t, "retries").Topology})
	if err != nil {
		t.Fatal(err)
	}
	defer dep.Teardown(context.Background())
	c.f.Typed.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), "meshgym", "payments-6d5f8c7b9d-x2k4q")
	select {
	case ex := <-dep.Died():
		if ex.Component.Name != "payments" || !strings.Contains(ex.Err.Error(), "pod payments-6d5f8c7b9d-x2k4q is gone") {
			t.Errorf("died %+v: %v", ex.Component, ex.Err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no ComponentExit after a pod vanished")
	}
}

func TestReadResourcesFromKubeletSummary(t *testing.T) {
	c := newCluster(t)
	p := c.platform(t, kind.Options{})
	dep, err := p.Deploy(context.Background(), sandbox.DeploySpec{Topology: builtin(t, "retries").Topology})
	if err != nil {
		t.Fatal(err)
	}
	defer dep.Teardown(context.Background())
	rr, ok := dep.(sandbox.ResourceReader)
	if !ok {
		t.Fatal("deployment is not a sandbox.ResourceReader")
	}
	ctx := context.Background()
	tests := []struct {
		instance string
		cpu, mem float64
		err      string
	}{
		{"currency-v1-6d5f8c7b9d-x2k4q", 1.5, 8, ""},         // app: 1.5e9 ns, 8 MiB working set
		{"currency-v1-6d5f8c7b9d-x2k4q/proxy", 2.75, 45, ""}, // istio-proxy: 2.75e9 ns, 45 MiB
		{"payments-6d5f8c7b9d-x2k4q", 0, 0, "no container app in pod payments-6d5f8c7b9d-x2k4q yet"},
		{"nope", 0, 0, `no component instance "nope"`},
	}
	for _, tt := range tests {
		cpu, mem, err := rr.ReadResources(ctx, tt.instance)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err = %v, want %q", tt.instance, err, tt.err)
			}
			continue
		}
		if err != nil || cpu != tt.cpu || mem != tt.mem {
			t.Errorf("%s: %v s, %v MB, %v; want %v s, %v MB", tt.instance, cpu, mem, err, tt.cpu, tt.mem)
		}
	}
	c.f.Typed.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), "meshgym", "currency-v1-6d5f8c7b9d-x2k4q")
	if _, _, err := rr.ReadResources(ctx, "currency-v1-6d5f8c7b9d-x2k4q"); !errors.Is(err, sandbox.ErrGone) {
		t.Fatalf("gone pod: err = %v, want ErrGone", err)
	}
}

func TestClusterHint(t *testing.T) {
	c := newCluster(t)
	fc := &fakeClusters{infos: map[string]kind.ClusterInfo{
		"meshgym-istio": {Name: "meshgym-istio", Mesh: "istio", EntryHostPort: 8200, Kubeconfig: "kc"},
	}}
	tests := []struct {
		opts kind.Options
		want sandbox.Cluster
		err  string
	}{
		{opts: kind.Options{Mesh: "istio"}, want: sandbox.Cluster{Name: "meshgym-istio", Kubeconfig: "kc", Namespace: "meshgym", Mesh: "istio"}},
		{opts: kind.Options{Mesh: "linkerd"}, err: "no kind cluster meshgym-linkerd; create it with: meshgym up --platform kind --mesh linkerd"},
	}
	// A cluster brought up with Istio never gets Consul's resources.
	mixed := c.platform(t, kind.Options{Clusters: fc, Mesh: "consul", ClusterName: "meshgym-istio"})
	if _, err := mixed.Cluster(context.Background()); err == nil || !strings.Contains(err.Error(), "kind cluster meshgym-istio runs istio, not consul: run with --mesh istio") {
		t.Errorf("mesh mismatch: %v", err)
	}
	for _, tt := range tests {
		tt.opts.Clusters = fc
		p := c.platform(t, tt.opts)
		got, err := p.Cluster(context.Background())
		if tt.err != "" {
			if err == nil || err.Error() != tt.err || !errors.Is(err, kind.ErrNoCluster) {
				t.Errorf("err = %v, want exactly %q wrapping ErrNoCluster", err, tt.err)
			}
			if _, derr := p.Deploy(context.Background(), sandbox.DeploySpec{Topology: builtin(t, "retries").Topology}); derr == nil || derr.Error() != tt.err {
				t.Errorf("Deploy err = %v, want %q", derr, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Cluster() = %+v, %v; want %+v", got, err, tt.want)
		}
	}
	// Without a mesh, the default cluster is meshgym-kind.
	none, _ := kind.New(kind.Options{Clusters: fc})
	if _, err := none.Cluster(context.Background()); err == nil || err.Error() != "no kind cluster meshgym-kind; create it with: meshgym up --platform kind" {
		t.Errorf("no-mesh hint: %v", err)
	}
	// Another --cluster than the default is in the command to run.
	named, _ := kind.New(kind.Options{Clusters: fc, Mesh: "istio", ClusterName: "lab-2"})
	if _, err := named.Cluster(context.Background()); err == nil || err.Error() != "no kind cluster lab-2; create it with: meshgym up --platform kind --mesh istio --cluster lab-2" {
		t.Errorf("--cluster hint: %v", err)
	}
	if _, err := kind.New(kind.Options{Clusters: fc, ImageSource: "dockerhub"}); err == nil {
		t.Error("unknown image source accepted")
	}
	if _, _, err := none.ComponentHostAddress(context.Background()); err == nil || !strings.Contains(err.Error(), "cannot reach this machine's trace receiver") {
		t.Errorf("ComponentHostAddress without ComponentHost: %v", err)
	}
	withHost, _ := kind.New(kind.Options{Clusters: fc, Mesh: "istio", ComponentHost: func(_ context.Context, cl string) (string, string, error) {
		return "172.18.0.1", "172.18.0.1", nil
	}})
	if ip, host, err := withHost.ComponentHostAddress(context.Background()); ip != "172.18.0.1" || host != "172.18.0.1" || err != nil {
		t.Errorf("ComponentHostAddress = %s %s %v", ip, host, err)
	}
	if none.Name() != "kind" {
		t.Errorf("Name %q", none.Name())
	}
}
