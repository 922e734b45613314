package kubemesh

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/managedfields"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"meshgym/internal/kube"
	"meshgym/plugins/meshinstall"
	"meshgym/sandbox"
)

// fakeKinds are the kinds the fake cluster serves: core objects and every
// kind meshconfig renders for istio, linkerd and consul.
var fakeKinds = []struct {
	gvk        schema.GroupVersionKind
	resource   string
	namespaced bool
}{
	{schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, "namespaces", false},
	{schema.GroupVersionKind{Version: "v1", Kind: "Service"}, "services", true},
	{schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "VirtualService"}, "virtualservices", true},
	{schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "DestinationRule"}, "destinationrules", true},
	{schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1alpha3", Kind: "EnvoyFilter"}, "envoyfilters", true},
	{schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"}, "httproutes", true},
	{schema.GroupVersionKind{Group: "policy.linkerd.io", Version: "v1beta3", Kind: "Server"}, "servers", true},
	{schema.GroupVersionKind{Group: "policy.linkerd.io", Version: "v1alpha1", Kind: "HTTPLocalRateLimitPolicy"}, "httplocalratelimitpolicies", true},
	{schema.GroupVersionKind{Group: "linkerd.io", Version: "v1alpha2", Kind: "ServiceProfile"}, "serviceprofiles", true},
	{schema.GroupVersionKind{Group: "consul.hashicorp.com", Version: "v1alpha1", Kind: "ServiceDefaults"}, "servicedefaults", true},
	{schema.GroupVersionKind{Group: "consul.hashicorp.com", Version: "v1alpha1", Kind: "ServiceResolver"}, "serviceresolvers", true},
	{schema.GroupVersionKind{Group: "consul.hashicorp.com", Version: "v1alpha1", Kind: "ServiceRouter"}, "servicerouters", true},
	{schema.GroupVersionKind{Group: "consul.hashicorp.com", Version: "v1alpha1", Kind: "ServiceSplitter"}, "servicesplitters", true},
}

// fakeCluster is a *kube.Clients on client-go fakes whose dynamic client
// keeps objects in a field-managed tracker, so server-side apply records
// field managers (and drops the fields a manager stops sending).
type fakeCluster struct {
	clients *kube.Clients
	dyn     *dynamicfake.FakeDynamicClient
	tracker k8stesting.ObjectTracker
}

func newFakeCluster(t *testing.T, objs ...*unstructured.Unstructured) *fakeCluster {
	t.Helper()
	return newFakeClusterServing(t, func(schema.GroupVersionKind) bool { return true }, objs...)
}

// resetMapper is a RESTMapper with the Reset of client-go's deferred
// discovery mapper, counting the calls.
type resetMapper struct {
	meta.RESTMapper
	resets int
}

func (m *resetMapper) Reset() { m.resets++ }

// newFakeClusterServing is newFakeCluster serving only the fakeKinds
// serve accepts (the others: CRD not installed). Its mapper is a
// *resetMapper.
func newFakeClusterServing(t *testing.T, serve func(schema.GroupVersionKind) bool, objs ...*unstructured.Unstructured) *fakeCluster {
	t.Helper()
	scheme := runtime.NewScheme()
	mapper := meta.NewDefaultRESTMapper(nil)
	listKinds := map[schema.GroupVersionResource]string{}
	for _, k := range fakeKinds {
		if !serve(k.gvk) {
			continue
		}
		scheme.AddKnownTypeWithName(k.gvk, &unstructured.Unstructured{})
		scheme.AddKnownTypeWithName(k.gvk.GroupVersion().WithKind(k.gvk.Kind+"List"), &unstructured.UnstructuredList{})
		scope := meta.RESTScopeRoot
		if k.namespaced {
			scope = meta.RESTScopeNamespace
		}
		mapper.AddSpecific(k.gvk, k.gvk.GroupVersion().WithResource(k.resource), k.gvk.GroupVersion().WithResource(k.resource[:len(k.resource)-1]), scope)
		listKinds[k.gvk.GroupVersion().WithResource(k.resource)] = k.gvk.Kind + "List"
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, listKinds)
	tracker := k8stesting.NewFieldManagedObjectTracker(scheme, serializer.NewCodecFactory(scheme).UniversalDecoder(), managedfields.NewDeducedTypeConverter())
	for _, o := range objs {
		gvr := gvrOf(t, o)
		if err := tracker.Create(gvr, o.DeepCopy(), o.GetNamespace()); err != nil {
			t.Fatalf("seed %s: %v", o.GetName(), err)
		}
	}
	dyn.PrependReactor("*", "*", k8stesting.ObjectReaction(tracker))
	return &fakeCluster{
		clients: &kube.Clients{Typed: kubefake.NewClientset(), Dynamic: dyn, Mapper: &resetMapper{RESTMapper: mapper}},
		dyn:     dyn, tracker: tracker,
	}
}

func gvrOf(t *testing.T, o *unstructured.Unstructured) schema.GroupVersionResource {
	t.Helper()
	for _, k := range fakeKinds {
		if k.gvk == o.GroupVersionKind() {
			return k.gvk.GroupVersion().WithResource(k.resource)
		}
	}
	t.Fatalf("fake cluster does not serve %s", o.GroupVersionKind())
	return schema.GroupVersionResource{}
}

// get returns the object or nil.
func (f *fakeCluster) get(t *testing.T, apiVersion, kind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	o, err := f.tracker.Get(gvrOf(t, u), ns, name)
	if err != nil {
		return nil
	}
	uo, ok := o.(*unstructured.Unstructured)
	if !ok {
		t.Fatalf("tracker returned %T", o)
	}
	return uo
}

// applies returns the server-side apply patches sent, as "manager kind/name".
func (f *fakeCluster) applies() []k8stesting.PatchActionImpl {
	var out []k8stesting.PatchActionImpl
	for _, a := range f.dyn.Actions() {
		if pa, ok := a.(k8stesting.PatchActionImpl); ok && string(pa.GetPatchType()) == "application/apply-patch+yaml" {
			out = append(out, pa)
		}
	}
	return out
}

// fakeInstaller records calls; fail names a chart whose Install fails.
type fakeInstaller struct {
	mu        sync.Mutex
	calls     []string // "install NAME VERSION", "uninstall RELEASE NS"
	installed map[string]string
	charts    []meshinstall.Chart
	fail      string
}

func (f *fakeInstaller) Install(ctx context.Context, c meshinstall.Chart) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "install "+c.Name+" "+c.Version)
	f.charts = append(f.charts, c)
	if c.Name == f.fail {
		return fmt.Errorf("pods of %s not ready", c.Name)
	}
	if f.installed == nil {
		f.installed = map[string]string{}
	}
	f.installed[c.Namespace+"/"+c.Release] = c.Version
	return nil
}

func (f *fakeInstaller) Uninstall(ctx context.Context, release, ns string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "uninstall "+release+" "+ns)
	delete(f.installed, ns+"/"+release)
	return nil
}

func (f *fakeInstaller) Installed(ctx context.Context, release, ns string) (string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.installed[ns+"/"+release]
	return v, ok, nil
}

// sleeps records Deps.Sleep calls and returns at once.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

var testCluster = &sandbox.Cluster{Name: "meshgym-test", Kubeconfig: "fake", Namespace: "meshgym"}

// testPlugin is spec's plugin on fakes.
func testPlugin(spec Spec, inst *fakeInstaller, fc *fakeCluster, sl *sleeps) *Plugin {
	return newPlugin(spec, Deps{
		Installer: func(sandbox.Cluster) (meshinstall.Installer, error) { return inst, nil },
		Clients:   func(sandbox.Cluster) (*kube.Clients, error) { return fc.clients, nil },
		IdentityCerts: func(now time.Time, validFor time.Duration) (meshinstall.IdentityCerts, error) {
			return meshinstall.IdentityCerts{TrustAnchorPEM: "ANCHOR", IssuerCertPEM: "ISSUER", IssuerKeyPEM: "KEY", NotAfter: now.Add(validFor)}, nil
		},
		Sleep: sl.sleep,
	})
}
