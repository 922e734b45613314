package kube_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"meshgym/internal/kube"
	"meshgym/internal/kube/kubetest"
)

func init() { kube.RolloutPoll = 10 * time.Millisecond }

func deploymentObj(name string, replicas int64, image string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name, "namespace": "meshgym"},
		"spec": map[string]any{
			"replicas": replicas,
			"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": name}},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": "app", "image": image}}},
			},
		},
	}}
}

func TestApplyCreatesThenUpdates(t *testing.T) {
	ctx := context.Background()
	f := kubetest.New()
	if err := f.Clients.Apply(ctx, kube.FieldManager, deploymentObj("currency-v1", 1, "app:1")); err != nil {
		t.Fatal(err)
	}
	d, err := f.Typed.AppsV1().Deployments("meshgym").Get(ctx, "currency-v1", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("not created: %v", err)
	}
	if *d.Spec.Replicas != 1 || d.Spec.Template.Spec.Containers[0].Image != "app:1" {
		t.Fatalf("created %+v", d.Spec)
	}
	if len(d.ManagedFields) == 0 || d.ManagedFields[0].Manager != kube.FieldManager || d.ManagedFields[0].Operation != metav1.ManagedFieldsOperationApply {
		t.Fatalf("managed fields %+v, want an Apply by %q", d.ManagedFields, kube.FieldManager)
	}
	if err := f.Clients.Apply(ctx, kube.FieldManager, deploymentObj("currency-v1", 3, "app:2")); err != nil {
		t.Fatal(err)
	}
	d, _ = f.Typed.AppsV1().Deployments("meshgym").Get(ctx, "currency-v1", metav1.GetOptions{})
	if *d.Spec.Replicas != 3 || d.Spec.Template.Spec.Containers[0].Image != "app:2" {
		t.Fatalf("not updated: %+v", d.Spec)
	}
	list, _ := f.Typed.AppsV1().Deployments("meshgym").List(ctx, metav1.ListOptions{})
	if len(list.Items) != 1 {
		t.Fatalf("%d deployments, want 1", len(list.Items))
	}
}

func TestApplyErrorsNameTheObject(t *testing.T) {
	ctx := context.Background()
	f := kubetest.New()
	vs := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
		"metadata": map[string]any{"name": "payments", "namespace": "meshgym"},
	}}
	err := f.Clients.Apply(ctx, kube.PatternFieldManager, vs)
	if err == nil || !strings.Contains(err.Error(), "apply VirtualService meshgym/payments:") {
		t.Fatalf("err = %v, want it to name VirtualService meshgym/payments", err)
	}
	noNS := deploymentObj("x", 1, "i")
	noNS.SetNamespace("")
	if err := f.Clients.Apply(ctx, kube.FieldManager, noNS); err == nil || !strings.Contains(err.Error(), "without metadata.namespace") {
		t.Fatalf("err = %v, want a missing namespace", err)
	}
}

func TestApplyCRDKindWithNewWithKinds(t *testing.T) {
	ctx := context.Background()
	gvk := schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "VirtualService"}
	f := kubetest.NewWithKinds([]kubetest.Kind{{GVK: gvk, Resource: "virtualservices", Namespaced: true}})
	vs := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
		"metadata": map[string]any{"name": "payments", "namespace": "meshgym"},
		"spec":     map[string]any{"hosts": []any{"payments"}},
	}}
	for i := 0; i < 2; i++ {
		if err := f.Clients.Apply(ctx, kube.PatternFieldManager, vs); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
	gvr := gvk.GroupVersion().WithResource("virtualservices")
	l, err := f.Dynamic.Resource(gvr).Namespace("meshgym").List(ctx, metav1.ListOptions{})
	if err != nil || len(l.Items) != 1 {
		t.Fatalf("list = %v, %v; want 1 VirtualService", l, err)
	}
	if err := f.Clients.Delete(ctx, vs); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Dynamic.Resource(gvr).Namespace("meshgym").Get(ctx, "payments", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after delete: %v", err)
	}
}

func TestEnsureNamespaceKeepsOtherManagersLabels(t *testing.T) {
	ctx := context.Background()
	f := kubetest.New()
	// The mesh plugin labels the namespace with its own field manager.
	mesh := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": "meshgym", "labels": map[string]any{"istio-injection": "enabled"}},
	}}
	if err := f.Clients.Apply(ctx, "meshgym-istio", mesh); err != nil {
		t.Fatal(err)
	}
	if err := f.Clients.EnsureNamespace(ctx, "meshgym", map[string]string{"lab": "retries"}, map[string]string{"note": "x"}); err != nil {
		t.Fatal(err)
	}
	ns, _ := f.Typed.CoreV1().Namespaces().Get(ctx, "meshgym", metav1.GetOptions{})
	want := map[string]string{"istio-injection": "enabled", "lab": "retries", kube.ManagedByLabel: kube.ManagedByValue}
	for k, v := range want {
		if ns.Labels[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, ns.Labels[k], v, ns.Labels)
		}
	}
	if ns.Annotations["note"] != "x" {
		t.Errorf("annotations %v", ns.Annotations)
	}
	// The same manager no longer sending "lab" removes it; the mesh's stays.
	if err := f.Clients.EnsureNamespace(ctx, "meshgym", nil, nil); err != nil {
		t.Fatal(err)
	}
	ns, _ = f.Typed.CoreV1().Namespaces().Get(ctx, "meshgym", metav1.GetOptions{})
	if _, ok := ns.Labels["lab"]; ok || ns.Labels["istio-injection"] != "enabled" {
		t.Fatalf("labels %v: want lab dropped and istio-injection kept", ns.Labels)
	}
}

func TestDeleteIgnoresMissing(t *testing.T) {
	ctx := context.Background()
	f := kubetest.New()
	if err := f.Clients.Apply(ctx, kube.FieldManager, deploymentObj("a", 1, "i")); err != nil {
		t.Fatal(err)
	}
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "split.smi-spec.io/v1alpha4", "kind": "TrafficSplit",
		"metadata": map[string]any{"name": "x", "namespace": "meshgym"},
	}}
	if err := f.Clients.Delete(ctx, deploymentObj("a", 1, "i"), deploymentObj("gone", 1, "i"), crd); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := f.Typed.AppsV1().Deployments("meshgym").Get(ctx, "a", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a still there: %v", err)
	}
}

func TestDecodeYAML(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string // Kind/name
		err       string
	}{
		{name: "documents, comments and empty ones", src: `
# leading comment
---
apiVersion: v1
kind: Service
metadata:
  name: payments
  namespace: meshgym
---
# only a comment
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: payments, namespace: meshgym}
`, want: []string{"Service/payments", "VirtualService/payments"}},
		{name: "list", src: "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: a}}\n- {apiVersion: v1, kind: Service, metadata: {name: b}}\n",
			want: []string{"Service/a", "Service/b"}},
		{name: "no kind", src: "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: v1\nmetadata: {name: b}\n", err: "yaml document 2: no kind"},
		{name: "no name", src: "apiVersion: v1\nkind: Service\nmetadata: {}\n", err: "yaml document 1 (Service): no metadata.name"},
		{name: "no apiVersion", src: "kind: Service\nmetadata: {name: a}\n", err: "no apiVersion"},
		{name: "bad yaml", src: "apiVersion: v1\nkind: [\n", err: "yaml document 1"},
		{name: "empty", src: "\n---\n", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := kube.DecodeYAML(tt.src)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range objs {
				got = append(got, o.GetKind()+"/"+o.GetName())
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func typedDeployment(name string, replicas, ready int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "meshgym", Generation: 1},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: replicas, UpdatedReplicas: replicas, ReadyReplicas: ready},
	}
}

func waitingPod(name, app, reason, msg string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "meshgym", Labels: map[string]string{"app": app}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}},
		}}},
	}
}

func TestWaitRolloutReturnsWhenReady(t *testing.T) {
	f := kubetest.New(typedDeployment("currency-v1", 1, 0), typedDeployment("payments", 1, 1))
	var mu sync.Mutex
	var lines []string
	done := make(chan error, 1)
	go func() {
		done <- f.Clients.WaitRollout(context.Background(), "meshgym", []string{"currency-v1", "payments"}, func(s string) {
			mu.Lock()
			lines = append(lines, s)
			mu.Unlock()
		})
	}()
	// Becomes ready after the first poll saw it not ready.
	for {
		mu.Lock()
		n := len(lines)
		mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := f.Typed.AppsV1().Deployments("meshgym").UpdateStatus(context.Background(), typedDeployment("currency-v1", 1, 1), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WaitRollout did not return after the deployment became ready")
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"waiting for 1 of 2 deployments: currency-v1 0/1 ready", "2 deployments ready"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Fatalf("progress %q, want %q (one line per change)", lines, want)
	}
}

func TestWaitRolloutTimeoutNamesDeploymentAndPodReason(t *testing.T) {
	tests := []struct {
		name string
		pod  *corev1.Pod
		want []string
	}{
		{"image pull", waitingPod("currency-v1-abc", "currency-v1", "ImagePullBackOff", `Back-off pulling image "meshgym/app:dev"`),
			[]string{"currency-v1 0/1 ready", "pod currency-v1-abc", "ImagePullBackOff", `Back-off pulling image "meshgym/app:dev"`}},
		{"crash loop", waitingPod("currency-v1-abc", "currency-v1", "CrashLoopBackOff", "back-off 10s restarting failed container"),
			// the fake's GetLogs answers "fake logs"
			[]string{"currency-v1 0/1 ready", "CrashLoopBackOff", "last log line: fake logs"}},
		{"no pods", nil, []string{"currency-v1 0/1 ready (no pods)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := kubetest.New(typedDeployment("currency-v1", 1, 0), typedDeployment("payments", 1, 1))
			if tt.pod != nil {
				f.Typed.Tracker().Add(tt.pod)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			err := f.Clients.WaitRollout(ctx, "meshgym", []string{"currency-v1", "payments"}, nil)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want a deadline", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "payments") {
				t.Errorf("err %q names the ready deployment", err)
			}
		})
	}
}

func TestStartPodProxy(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		io.WriteString(w, "from "+r.URL.Path)
	}))
	defer api.Close()
	p, err := kube.StartPodProxy(&rest.Config{Host: api.URL, BearerToken: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !strings.HasPrefix(p.Base, "http://127.0.0.1:") {
		t.Fatalf("base %q", p.Base)
	}
	tests := []struct {
		path   string
		status int
	}{
		{"/api/v1/namespaces/meshgym/pods/currency-v1-abc:9090/proxy/metrics", 200},
		{"/api/v1/namespaces/meshgym/pods/currency-v1-abc:15090/proxy/stats/prometheus", 200},
		{"/api/v1/namespaces/meshgym/pods/currency-v1-abc/proxy", 200},
		{"/api/v1/nodes/meshgym-istio-control-plane/proxy/stats/summary", 200},
		{"/api/v1/namespaces/meshgym/secrets", 403},
		{"/api/v1/namespaces/meshgym/pods/x/log", 403},
		{"/apis/apps/v1/deployments", 403},
		{"/api/v1/namespaces/meshgym/pods/x/proxy/../../../secrets", 403},
		{"/api/v1/nodes//proxy/", 403},
		{"/api/v1/namespaces/meshgym/pods/x/proxy/..%2F..%2F..%2Fsecrets", 403},
		{"/", 403},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", p.Base+tt.path, nil)
		req.Header.Set("Authorization", "Bearer not-this-one")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.path, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d (%s)", tt.path, res.StatusCode, tt.status, b)
			continue
		}
		if tt.status == 200 && string(b) != "from "+tt.path {
			t.Errorf("%s: body %q", tt.path, b)
		}
	}
	mu.Lock()
	got := strings.Join(seen, "\n")
	mu.Unlock()
	want := strings.Join([]string{
		"GET /api/v1/namespaces/meshgym/pods/currency-v1-abc:9090/proxy/metrics Bearer s3cret",
		"GET /api/v1/namespaces/meshgym/pods/currency-v1-abc:15090/proxy/stats/prometheus Bearer s3cret",
		"GET /api/v1/namespaces/meshgym/pods/currency-v1-abc/proxy Bearer s3cret",
		"GET /api/v1/nodes/meshgym-istio-control-plane/proxy/stats/summary Bearer s3cret",
	}, "\n")
	if got != want {
		t.Fatalf("API server saw\n%s\nwant\n%s", got, want)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := http.Get(p.Base + tests[0].path); err == nil {
		t.Fatal("proxy still serving after Close")
	}
}

const kubeconfig = `apiVersion: v1
kind: Config
current-context: kind-a
clusters:
- name: kind-a
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
- name: kind-b
  cluster: {server: "https://127.0.0.1:7443", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: abc}
contexts:
- name: kind-a
  context: {cluster: kind-a, user: u}
- name: kind-b
  context: {cluster: kind-b, user: u}
`

func TestNew(t *testing.T) {
	tests := []struct {
		name, config, context, host, err string
	}{
		{name: "current context", config: kubeconfig, host: "https://127.0.0.1:6443"},
		{name: "named context", config: kubeconfig, context: "kind-b", host: "https://127.0.0.1:7443"},
		{name: "unknown context", config: kubeconfig, context: "nope", err: `kubeconfig context "nope"`},
		{name: "empty", config: " ", err: "kubeconfig: empty"},
		{name: "not yaml", config: "{{{", err: "kubeconfig:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := kube.New(tt.config, tt.context)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Config.Host != tt.host || c.Config.BearerToken != "abc" || c.Typed == nil || c.Dynamic == nil || c.Mapper == nil {
				t.Fatalf("clients %+v", c.Config)
			}
		})
	}
}
