package kind_test

// The whole chain of a run on the kind platform with a real mesh plugin,
// on fakes: cluster (memClusters) → mesh Install (kubemesh with a fake
// Helm installer) → Deploy (kind platform on client-go fakes with a
// simulated Deployment controller) → Apply off → measure before (Istio
// Envoy metrics through the real pod proxy, load against the entry URL) →
// Apply on → measure after → teardown; then a failure at each step, each
// leaving nothing of the run behind.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"meshgym/engine"
	"meshgym/internal/kube"
	"meshgym/internal/kube/kubetest"
	"meshgym/metrics"
	"meshgym/plugins"
	"meshgym/plugins/kubemesh"
	"meshgym/plugins/meshinstall"
	"meshgym/sandbox"
	"meshgym/sandbox/kind"
	"meshgym/scenarios"
)

// exposition is, per Deployment, how many istio_requests_total the
// sidecar's Envoy counts (reporter="destination", by response code) per
// request the entry served: the counters grow with the load, so a phase's
// counts are these multiples of the requests the load generator made.
var exposition = map[string]map[int]float64{
	"api":         {200: 1},
	"payments":    {200: 1},
	"currency-v1": {200: 2},
	"currency-v2": {200: 1, 500: 1},
}

// componentOf maps the Deployments to the component names conditions use.
var componentOf = map[string]string{"api": "api", "payments": "payments", "currency-v1": "currency_v1", "currency-v2": "currency_v2"}

// sourceMultiple is the reporter="source" series' growth per request; it
// must never reach the counts (MetricMapping.Where drops it).
const sourceMultiple = 1000

var (
	vsGVR = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}
	drGVR = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"}
)

// recInstaller is meshinstall.Installer recording its calls.
type recInstaller struct {
	mu         sync.Mutex
	calls      []string
	installed  map[string]string
	installErr error
}

func (r *recInstaller) Install(ctx context.Context, c meshinstall.Chart) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf("install %s %s %s/%s", c.Name, c.Version, c.Namespace, c.Release))
	if r.installErr != nil && c.Name == "istiod" {
		return r.installErr
	}
	r.installed[c.Namespace+"/"+c.Release] = c.Version
	return nil
}

func (r *recInstaller) Uninstall(ctx context.Context, release, namespace string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf("uninstall %s/%s", namespace, release))
	delete(r.installed, namespace+"/"+release)
	return nil
}

func (r *recInstaller) Installed(ctx context.Context, release, namespace string) (string, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.installed[namespace+"/"+release]
	return v, ok, nil
}

func (r *recInstaller) log() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// lab is one fake kind cluster with the mesh installer, the sample app's
// entry and an API server stand-in behind the real pod proxy.
type lab struct {
	t    *testing.T
	f    *kubetest.Fake
	ctl  *kubetest.Controller
	inst *recInstaller
	cls  *memClusters

	app     *httptest.Server
	api     *httptest.Server
	proxies []*kube.PodProxy
	pmu     sync.Mutex

	// hits are the requests the entry served, split by whether the
	// pattern's VirtualService and DestinationRule existed when they came.
	hits, withVS, withoutVS atomic.Int64
	// onAfterRequest runs on the first request served with the pattern
	// in force.
	onAfterRequest func()
	afterOnce      sync.Once
	failScrape     atomic.Bool
	scrapes        atomic.Int64
	logMu          sync.Mutex
	logs           []string
}

func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{t: t, inst: &recInstaller{installed: map[string]string{}}}
	l.f = kubetest.NewWithKinds([]kubetest.Kind{kubetest.VirtualService, kubetest.DestinationRule})
	l.ctl = l.f.SimulateControllers(kubetest.ControllerOptions{Node: node, Sidecar: "istio-proxy"})
	// The sample app's entry (fake-service's answer) on 127.0.0.1, where
	// kind maps the cluster's entry NodePort.
	l.app = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.patternInForce() {
			l.withVS.Add(1)
			l.afterOnce.Do(func() {
				if l.onAfterRequest != nil {
					l.onAfterRequest()
				}
			})
		} else {
			l.withoutVS.Add(1)
		}
		l.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"name":"api","uri":"/","code":200}`)
	}))
	t.Cleanup(l.app.Close)
	summary, err := os.ReadFile(filepath.Join("testdata", "kubelet-summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	l.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == "/api/v1/nodes/"+node+"/proxy/stats/summary":
			w.Write(summary)
		case strings.HasPrefix(p, "/api/v1/namespaces/meshgym/pods/") && strings.HasSuffix(p, ":15090/proxy/stats/prometheus"):
			l.scrapes.Add(1)
			if l.failScrape.Load() {
				http.Error(w, "upstream connect error or disconnect/reset before headers", http.StatusInternalServerError)
				return
			}
			pod := strings.TrimSuffix(strings.TrimPrefix(p, "/api/v1/namespaces/meshgym/pods/"), ":15090/proxy/stats/prometheus")
			dep, _, ok := strings.Cut(pod, "-6d5f8c7b9d-")
			if !ok || exposition[dep] == nil {
				http.NotFound(w, r)
				return
			}
			io.WriteString(w, l.envoyStats(dep))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(l.api.Close)
	port, err := strconv.Atoi(l.app.URL[strings.LastIndexByte(l.app.URL, ':')+1:])
	if err != nil {
		t.Fatal(err)
	}
	l.cls = newMemClusters()
	l.cls.clusters["meshgym-istio"] = kind.ClusterInfo{Name: "meshgym-istio", Mesh: "istio", EntryHostPort: port, Kubeconfig: "kubeconfig-of-meshgym-istio"}
	return l
}

// envoyStats is Envoy's Prometheus exposition of Istio's standard
// metrics (https://istio.io/latest/docs/reference/config/metrics/) for a
// Deployment's sidecar: the server side's count (reporter="destination")
// and the client side's (reporter="source").
func (l *lab) envoyStats(dep string) string {
	n := float64(l.hits.Load())
	var b strings.Builder
	b.WriteString("# TYPE istio_requests_total counter\n")
	codes := slices.Sorted(mapKeysInt(exposition[dep]))
	for _, code := range codes {
		fmt.Fprintf(&b, "istio_requests_total{reporter=\"destination\",source_workload=\"x\",destination_workload=%q,response_code=\"%d\",response_flags=\"-\"} %g\n",
			dep, code, exposition[dep][code]*n)
	}
	fmt.Fprintf(&b, "istio_requests_total{reporter=\"source\",source_workload=%q,destination_workload=\"y\",response_code=\"200\",response_flags=\"-\"} %g\n", dep, sourceMultiple*n)
	b.WriteString("# TYPE envoy_cluster_upstream_rq_retry counter\n")
	fmt.Fprintf(&b, "envoy_cluster_upstream_rq_retry{cluster_name=\"outbound|9090||currency.meshgym.svc.cluster.local\"} 0\n")
	return b.String()
}

func mapKeysInt(m map[int]float64) func(func(int) bool) {
	return func(yield func(int) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// patternInForce reports whether the retries pattern is in the cluster:
// Istio's retries are a VirtualService's http[].retries (meshconfig
// renders VirtualService currency, no DestinationRule, for this pattern).
func (l *lab) patternInForce() bool {
	vs, err := l.f.Dynamic.Resource(vsGVR).Namespace("meshgym").Get(context.Background(), "currency", metav1.GetOptions{})
	if err != nil {
		return false
	}
	attempts, _, _ := unstructuredInt(vs.Object, "spec", "http", "retries", "attempts")
	return attempts == 3
}

// unstructuredInt reads an int64 at path, going into the first element
// of a list on the way.
func unstructuredInt(obj map[string]any, path ...string) (int64, bool, error) {
	var cur any = obj
	for _, p := range path {
		if l, ok := cur.([]any); ok {
			if len(l) == 0 {
				return 0, false, nil
			}
			cur = l[0]
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return 0, false, nil
		}
		cur = m[p]
	}
	switch v := cur.(type) {
	case int64:
		return v, true, nil
	case float64:
		return int64(v), true, nil
	}
	return 0, false, fmt.Errorf("%v is %T", path, cur)
}

// events returns a channel for engine.Run whose log lines are logged
// by the test (a failed Remove or teardown says so there).
func (l *lab) events(t *testing.T) chan engine.Event {
	ch := make(chan engine.Event, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			if le, ok := ev.(*engine.LogEvent); ok {
				l.logMu.Lock()
				l.logs = append(l.logs, le.Msg)
				l.logMu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		close(ch)
		<-done
		l.logMu.Lock()
		defer l.logMu.Unlock()
		for _, m := range l.logs {
			t.Log("engine: " + m)
		}
	})
	return ch
}

// options are the run's engine options: the kind platform and the istio
// plugin in process, on the lab's fakes.
func (l *lab) options(t *testing.T) engine.Options {
	t.Helper()
	p, err := kind.New(kind.Options{
		Clusters: l.cls,
		Mesh:     "istio",
		AppImage: "meshgym/app:test",
		NewClients: func(kc string) (*kube.Clients, error) {
			if kc != "kubeconfig-of-meshgym-istio" {
				return nil, fmt.Errorf("kubeconfig %q", kc)
			}
			return l.f.Clients, nil
		},
		StartPodProxy: func(*kube.Clients) (*kube.PodProxy, error) {
			pp, err := kube.StartPodProxy(&rest.Config{Host: l.api.URL, BearerToken: "kind-token"})
			if err == nil {
				l.pmu.Lock()
				l.proxies = append(l.proxies, pp)
				l.pmu.Unlock()
			}
			return pp, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	deps := kubemesh.Deps{
		Installer: func(cl sandbox.Cluster) (meshinstall.Installer, error) {
			if cl.Name != "meshgym-istio" || cl.Kubeconfig != "kubeconfig-of-meshgym-istio" || cl.Namespace != "meshgym" {
				return nil, fmt.Errorf("installer for cluster %+v", cl)
			}
			return l.inst, nil
		},
		Clients: func(cl sandbox.Cluster) (*kube.Clients, error) { return l.f.Clients, nil },
		// Istio's settle wait (5 s) shortened; the event poll (1 s) kept.
		Sleep: func(ctx context.Context, d time.Duration) error {
			if d > time.Second {
				d = 10 * time.Millisecond
			}
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		},
	}
	return engine.Options{
		Platform: p,
		Mesh:     "istio",
		OpenMesh: func(ctx context.Context, name string) (engine.MeshClient, error) {
			if name != "istio" {
				return nil, fmt.Errorf("mesh %q", name)
			}
			return plugins.InProcess(name, kubemesh.New(kubemesh.Istio(), deps))
		},
		Seed:         7,
		RunDir:       t.TempDir(),
		ReadyTimeout: 2 * time.Second,
		Settle:       10 * time.Millisecond,
		TraceSample:  -1,
	}
}

// retries is the built-in retries scenario with a short, light load.
func retries(t *testing.T) *scenarios.Scenario {
	sc := builtin(t, "retries")
	sc.Load.Duration = scenarios.Duration(time.Second)
	sc.Load.RPS = 20
	sc.Load.Connections = 2
	return sc
}

// leftovers lists what of a run is still in the cluster: Deployments,
// Services, Pods, VirtualServices and DestinationRules of the namespace.
func (l *lab) leftovers(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	out := []string{}
	ds, err := l.f.Typed.AppsV1().Deployments("meshgym").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds.Items {
		out = append(out, "Deployment/"+d.Name)
	}
	ss, err := l.f.Typed.CoreV1().Services("meshgym").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss.Items {
		out = append(out, "Service/"+s.Name)
	}
	ps, err := l.f.Typed.CoreV1().Pods("meshgym").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps.Items {
		out = append(out, "Pod/"+p.Name)
	}
	for _, r := range []struct {
		kind string
		gvr  schema.GroupVersionResource
	}{{"VirtualService", vsGVR}, {"DestinationRule", drGVR}} {
		list, err := l.f.Dynamic.Resource(r.gvr).Namespace("meshgym").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatalf("list %s: %v", r.kind, err)
		}
		for _, o := range list.Items {
			out = append(out, r.kind+"/"+o.GetName())
		}
	}
	return out
}

// proxiesClosed checks every pod proxy the run started is closed.
func (l *lab) proxiesClosed(t *testing.T) {
	t.Helper()
	l.pmu.Lock()
	defer l.pmu.Unlock()
	for _, p := range l.proxies {
		if res, err := http.Get(p.Base + "/api/v1/nodes/" + node + "/proxy/stats/summary"); err == nil {
			res.Body.Close()
			t.Errorf("pod proxy %s still serving after the run", p.Base)
		}
	}
}

// counts sums a phase's request counts per component and status code.
func counts(s *metrics.Snapshot) map[string]map[int]float64 {
	out := map[string]map[int]float64{}
	for _, r := range s.Requests {
		if out[r.Name] == nil {
			out[r.Name] = map[int]float64{}
		}
		out[r.Name][r.StatusCode] += r.Count
	}
	return out
}

func TestRunOnKindWithIstio(t *testing.T) {
	l := newLab(t)
	opts := l.options(t)
	res, err := engine.Run(context.Background(), retries(t), opts, l.events(t))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Error != "" || res.Platform != "kind" || res.Mesh != "istio" || res.Versions["plugin"] != kubemesh.IstioVersion {
		t.Errorf("result: error %q platform %q mesh %q versions %v", res.Error, res.Platform, res.Mesh, res.Versions)
	}
	if want := "http://" + strings.TrimPrefix(l.app.URL, "http://") + "/"; res.EntryURL != want {
		t.Errorf("entry %s, want %s", res.EntryURL, want)
	}
	// The mesh was installed into the cluster, chart by chart.
	if got, want := strings.Join(l.inst.log(), "; "), "install base 1.27.1 istio-system/istio-base; install istiod 1.27.1 istio-system/istiod"; got != want {
		t.Errorf("installer calls: %s\nwant %s", got, want)
	}
	// Both phases: the load generator's requests, all answered, and per
	// component the destination-side counts of the exposition (the
	// source-side series dropped), named from the scrape targets' labels.
	for _, ph := range []struct {
		name  string
		pr    *engine.PhaseResult
		inVS  bool
		count int64
	}{
		{"before", res.Before, false, l.withoutVS.Load()},
		{"after", res.After, true, l.withVS.Load()},
	} {
		if ph.pr == nil || ph.pr.Load == nil || ph.pr.Snapshot == nil {
			t.Fatalf("%s: no phase result", ph.name)
		}
		n := ph.pr.Load.Client.Count
		if n == 0 || ph.pr.Load.Client.Errors != 0 {
			t.Fatalf("%s: load made %d requests, %d errors", ph.name, n, ph.pr.Load.Client.Errors)
		}
		// Every request the entry served in this phase came with the
		// pattern absent (before) or in force (after).
		if ph.count != n {
			t.Errorf("%s: %d requests with the pattern in force=%v, load counted %d", ph.name, ph.count, ph.inVS, n)
		}
		got := counts(ph.pr.Snapshot)
		want := map[string]map[int]float64{}
		for dep, byCode := range exposition {
			want[componentOf[dep]] = map[int]float64{}
			for code, m := range byCode {
				want[componentOf[dep]][code] = m * float64(n)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: request counts %v, want %v (%d requests)", ph.name, got, want, n)
		}
	}
	if res.After.Pattern != "retries" || res.Before.Pattern != "off" {
		t.Errorf("phase patterns %q %q", res.Before.Pattern, res.After.Pattern)
	}
	if len(res.Verdicts) == 0 {
		t.Error("no verdicts")
	}
	if l.scrapes.Load() < 2*2*4 {
		t.Errorf("only %d scrapes of the proxies", l.scrapes.Load())
	}
	// Nothing of the run is left but the namespace, still labelled for
	// injection.
	if left := l.leftovers(t); len(left) != 0 {
		t.Errorf("left after the run: %v", left)
	}
	ns, err := l.f.Typed.CoreV1().Namespaces().Get(context.Background(), "meshgym", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("namespace: %v", err)
	}
	if ns.Labels["istio-injection"] != "enabled" {
		t.Errorf("namespace labels %v", ns.Labels)
	}
	if len(l.proxies) != 1 {
		t.Errorf("%d pod proxies started, want 1", len(l.proxies))
	}
	l.proxiesClosed(t)
	if got := l.cls.names(); !slices.Equal(got, []string{"meshgym-istio"}) {
		t.Errorf("clusters after the run: %v", got)
	}
}

func TestRunOnKindFailuresLeaveNothing(t *testing.T) {
	fail := func(resource, name string, err error) func(l *lab, o *engine.Options, cancel context.CancelFunc) {
		return func(l *lab, o *engine.Options, cancel context.CancelFunc) {
			l.f.Dynamic.PrependReactor("patch", resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
				if name == "" || a.(k8stesting.PatchActionImpl).GetName() == name {
					return true, nil, err
				}
				return false, nil, nil
			})
		}
	}
	tests := []struct {
		name  string
		setup func(l *lab, o *engine.Options, cancel context.CancelFunc)
		kind  engine.ErrorKind
		err   string
		// installs is the installer's calls.
		installs string
	}{
		{name: "install", kind: engine.KindPlatform,
			setup: func(l *lab, o *engine.Options, cancel context.CancelFunc) {
				l.inst.installErr = errors.New("timed out waiting for the condition")
			},
			err:      "install istio: chart istiod 1.27.1 (2 of 2)",
			installs: "install base 1.27.1 istio-system/istio-base; install istiod 1.27.1 istio-system/istiod; uninstall istio-system/istio-base"},
		{name: "deploy: apply of a Deployment",
			setup: fail("deployments", "currency-v2", apierrors.NewInternalError(errors.New("etcd is sad"))),
			kind:  engine.KindPlatform, err: "kind: apply Deployment meshgym/currency-v2"},
		{name: "rollout: pods never ready", kind: engine.KindPlatform,
			setup: func(l *lab, o *engine.Options, cancel context.CancelFunc) {
				l.ctl.SetReady(false)
				o.ReadyTimeout = 300 * time.Millisecond
			},
			err: "ErrImageNeverPull"},
		{name: "pattern apply: VirtualService refused",
			setup: fail("virtualservices", "", apierrors.NewForbidden(schema.GroupResource{Group: "networking.istio.io", Resource: "virtualservices"}, "currency", errors.New("admission webhook denied the request"))),
			kind:  engine.KindPlatform, err: "admission webhook denied the request"},
		{name: "scrape: pod proxy answers 500", kind: engine.KindPlatform,
			setup: func(l *lab, o *engine.Options, cancel context.CancelFunc) { l.failScrape.Store(true) },
			err:   "scrape components"},
		{name: "ctrl-c during the after phase", kind: engine.KindInterrupted,
			setup: func(l *lab, o *engine.Options, cancel context.CancelFunc) { l.onAfterRequest = cancel },
			err:   "interrupted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			opts := l.options(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			tt.setup(l, &opts, cancel)
			res, err := engine.Run(ctx, retries(t), opts, l.events(t))
			var ee *engine.Error
			if !errors.As(err, &ee) {
				t.Fatalf("Run err = %v (%T), want an *engine.Error", err, err)
			}
			if ee.Kind != tt.kind || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Run err = %s %q, want %s containing %q", kindName(ee.Kind), err, kindName(tt.kind), tt.err)
			}
			if res != nil && res.Error == "" {
				t.Error("result records no error")
			}
			if left := l.leftovers(t); len(left) != 0 {
				t.Errorf("left after the failed run: %v", left)
			}
			if tt.installs == "" {
				tt.installs = "install base 1.27.1 istio-system/istio-base; install istiod 1.27.1 istio-system/istiod"
			}
			if got := strings.Join(l.inst.log(), "; "); got != tt.installs {
				t.Errorf("installer calls: %s\nwant %s", got, tt.installs)
			}
			l.proxiesClosed(t)
			if got := l.cls.names(); !slices.Equal(got, []string{"meshgym-istio"}) {
				t.Errorf("clusters after the run: %v", got)
			}
		})
	}
}

// kindName names an engine.ErrorKind with its exit code.
func kindName(k engine.ErrorKind) string {
	switch k {
	case engine.KindInput:
		return "KindInput (exit 2)"
	case engine.KindPlatform:
		return "KindPlatform (exit 3)"
	case engine.KindInterrupted:
		return "KindInterrupted (exit 130)"
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}
