// Package kubetest builds kube.Clients on client-go fakes for tests: a
// typed fake clientset (k8s.io/client-go/kubernetes/fake.NewClientset,
// whose object tracker does real server-side apply with field managers)
// and a dynamic fake that shares that tracker for the built-in kinds, so
// an object applied through kube.Clients.Apply (dynamic) is seen by the
// typed client (Deployments, Pods …) and the other way round.
//
// Why the sharing: the dynamic fake's own tracker (dynamic/fake,
// client-go v0.37) handles an apply patch as a strategic merge onto an
// existing object and answers NotFound for a new one (testing.tracker.Apply
// calls Get first), so it cannot create by apply. Kinds outside the
// client-go scheme (CRDs: VirtualService …) go to the dynamic fake's own
// tracker through a reactor that applies as create-or-replace (no field
// managers); pass them to NewWithKinds.
package kubetest

import (
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	k8stesting "k8s.io/client-go/testing"

	"meshgym/internal/kube"
)

// Fake is kube.Clients on fakes, with the fakes themselves for seeding
// objects, adding reactors (failures) and asserting what is left.
type Fake struct {
	Clients *kube.Clients
	Typed   *fake.Clientset
	Dynamic *dynamicfake.FakeDynamicClient
	Mapper  *meta.DefaultRESTMapper
}

// builtin are the built-in kinds the mapper knows: group/version, kind,
// plural resource, namespaced.
var builtin = []struct {
	gv       schema.GroupVersion
	kind     string
	resource string
	ns       bool
}{
	{schema.GroupVersion{Version: "v1"}, "Namespace", "namespaces", false},
	{schema.GroupVersion{Version: "v1"}, "Node", "nodes", false},
	{schema.GroupVersion{Version: "v1"}, "Pod", "pods", true},
	{schema.GroupVersion{Version: "v1"}, "Service", "services", true},
	{schema.GroupVersion{Version: "v1"}, "ConfigMap", "configmaps", true},
	{schema.GroupVersion{Version: "v1"}, "Secret", "secrets", true},
	{schema.GroupVersion{Version: "v1"}, "ServiceAccount", "serviceaccounts", true},
	{schema.GroupVersion{Group: "apps", Version: "v1"}, "Deployment", "deployments", true},
	{schema.GroupVersion{Group: "apps", Version: "v1"}, "DaemonSet", "daemonsets", true},
	{schema.GroupVersion{Group: "apps", Version: "v1"}, "StatefulSet", "statefulsets", true},
}

// Kind is a kind outside the built-ins (a CRD) the fakes should know.
type Kind struct {
	GVK schema.GroupVersionKind
	// Resource is the plural resource name ("virtualservices").
	Resource   string
	Namespaced bool
}

// New returns fakes seeded with objs (typed objects of the client-go
// scheme) that know the built-in kinds.
func New(objs ...runtime.Object) *Fake { return NewWithKinds(nil, objs...) }

// NewWithKinds is New that also knows kinds (CRDs); their objects live in
// the dynamic fake's own tracker, apply creates or replaces them (no
// field managers) and List works through the dynamic client.
func NewWithKinds(kinds []Kind, objs ...runtime.Object) *Fake {
	typed := fake.NewClientset(objs...)
	mapper := meta.NewDefaultRESTMapper(nil)
	for _, b := range builtin {
		scope := meta.RESTScopeRoot
		if b.ns {
			scope = meta.RESTScopeNamespace
		}
		mapper.AddSpecific(b.gv.WithKind(b.kind), b.gv.WithResource(b.resource), b.gv.WithResource(singular(b.kind)), scope)
	}
	sch := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(sch); err != nil {
		panic(err)
	}
	listKinds := map[schema.GroupVersionResource]string{}
	for _, k := range kinds {
		scope := meta.RESTScopeRoot
		if k.Namespaced {
			scope = meta.RESTScopeNamespace
		}
		gvr := k.GVK.GroupVersion().WithResource(k.Resource)
		mapper.AddSpecific(k.GVK, gvr, k.GVK.GroupVersion().WithResource(singular(k.GVK.Kind)), scope)
		sch.AddKnownTypeWithName(k.GVK, &unstructured.Unstructured{})
		listKinds[gvr] = k.GVK.Kind + "List"
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(sch, listKinds)
	shared := k8stesting.ObjectReaction(typed.Tracker())
	own := dyn.Tracker()
	dyn.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if isBuiltin(a.GetResource()) {
			return shared(a)
		}
		if p, ok := a.(k8stesting.PatchActionImpl); ok && p.GetPatchType() == types.ApplyPatchType {
			return applyReplace(own, p)
		}
		return false, nil, nil
	})
	f := &Fake{Typed: typed, Dynamic: dyn, Mapper: mapper}
	f.Clients = &kube.Clients{Typed: typed, Dynamic: dyn, Mapper: mapper}
	return f
}

func singular(kind string) string {
	b := []byte(kind)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func isBuiltin(gvr schema.GroupVersionResource) bool {
	for _, b := range builtin {
		if b.gv.WithResource(b.resource) == gvr {
			return true
		}
	}
	return false
}

// applyReplace applies p as create-or-replace on the tracker.
func applyReplace(t k8stesting.ObjectTracker, p k8stesting.PatchActionImpl) (bool, runtime.Object, error) {
	obj := &unstructured.Unstructured{}
	if err := json.Unmarshal(p.GetPatch(), &obj.Object); err != nil {
		return true, nil, fmt.Errorf("apply patch: %w", err)
	}
	obj.SetName(p.GetName())
	if p.GetNamespace() != "" {
		obj.SetNamespace(p.GetNamespace())
	}
	gvr := p.GetResource()
	_, err := t.Get(gvr, p.GetNamespace(), p.GetName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		err = t.Create(gvr, obj, p.GetNamespace())
	case err == nil:
		err = t.Update(gvr, obj, p.GetNamespace())
	}
	if err != nil {
		return true, nil, err
	}
	got, err := t.Get(gvr, p.GetNamespace(), p.GetName(), metav1.GetOptions{})
	return true, got, err
}
