package kubemesh

import (
	"context"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"meshgym/internal/kube"
	"meshgym/internal/kubename"
	"meshgym/plugins"
	"meshgym/scenarios"
)

// all returns every object of the served namespaced fake kinds in ns.
func (f *fakeCluster) all(t *testing.T, ns string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, k := range fakeKinds {
		if !k.namespaced {
			continue
		}
		l, err := f.tracker.List(k.gvk.GroupVersion().WithResource(k.resource), k.gvk, ns)
		if err != nil {
			continue // not served
		}
		items, err := meta.ExtractList(l)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			u := it.(*unstructured.Unstructured)
			u.SetGroupVersionKind(k.gvk)
			out = append(out, u)
		}
	}
	return out
}

// writes counts the apply patches and deletes sent.
func (f *fakeCluster) writes() int {
	n := len(f.applies())
	for _, a := range f.dyn.Actions() {
		if _, ok := a.(k8stesting.DeleteAction); ok {
			n++
		}
	}
	return n
}

func names(us []*unstructured.Unstructured) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.GetKind()+" "+u.GetName())
	}
	slices.Sort(out)
	return out
}

func patternLabelled(us []*unstructured.Unstructured) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, u := range us {
		if u.GetLabels()[PatternLabel] == PatternLabelValue {
			out = append(out, u)
		}
	}
	return out
}

func mustObject(src string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(src), &u.Object); err != nil {
		panic(err)
	}
	return u
}

// userVirtualService is a VirtualService someone made in the lab
// namespace by hand: labelled managed-by meshgym (as if copied from a
// rendering) but not PatternLabel.
func userVirtualService(name string) *unstructured.Unstructured {
	return mustObject(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ` + name + `
  namespace: meshgym
  labels: {app.kubernetes.io/managed-by: meshgym}
spec:
  hosts: [` + name + `]
`)
}

// leftoverVirtualService is one an earlier meshgym process applied.
func leftoverVirtualService(name string) *unstructured.Unstructured {
	u := userVirtualService(name)
	u.SetLabels(map[string]string{kube.ManagedByLabel: kube.ManagedByValue, PatternLabel: PatternLabelValue})
	return u
}

func seedPlatform(topo scenarios.Topology) []*unstructured.Unstructured {
	var seed []*unstructured.Unstructured
	for _, s := range topo.Services {
		seed = append(seed, platformService(kubename.Name(s.Name), s.Name))
	}
	return seed
}

// A new plugin process (a fresh *Plugin: no memory of what was applied)
// turning the pattern off removes every object an earlier process applied
// for the pattern, and nothing else: the platform's Services and objects
// without PatternLabel (a user's own VirtualService and Service) stay. A
// second pattern off finds nothing to do and does not wait.
func TestApplyOffInNewProcessRemovesEarlierPattern(t *testing.T) {
	tests := []struct {
		spec     Spec
		scenario string
		want     []string // pattern objects after on, "Kind name"
	}{
		{Istio(), "canary", []string{"DestinationRule payments", "VirtualService payments"}},
		{Istio(), "rate-limiting", nil},
		{Linkerd(), "canary", nil},
		{Linkerd(), "rate-limiting", nil},
		{Consul(), "canary", nil},
	}
	for _, tt := range tests {
		t.Run(tt.spec.Name+"/"+tt.scenario, func(t *testing.T) {
			sc := builtin(t, tt.scenario)
			seed := append(seedPlatform(sc.Topology), userVirtualService("mine"),
				mustObject("apiVersion: v1\nkind: Service\nmetadata: {name: debug, namespace: meshgym}\nspec: {ports: [{port: 80}]}\n"))
			fc := newFakeCluster(t, seed...)
			before := names(fc.all(t, "meshgym"))
			ctx := context.Background()

			// Run 1 (process A) applies the pattern and dies.
			a := testPlugin(tt.spec, &fakeInstaller{}, fc, &sleeps{})
			if err := a.Apply(ctx, applyReq(sc, true)); err != nil {
				t.Fatal(err)
			}
			on := patternLabelled(fc.all(t, "meshgym"))
			if len(on) == 0 {
				t.Fatal("no object labelled " + PatternLabel + " after pattern on")
			}
			if tt.want != nil && !slices.Equal(names(on), tt.want) {
				t.Errorf("pattern objects = %q, want %q", names(on), tt.want)
			}
			platform := platformServices(sc.Topology)
			for _, o := range on {
				if o.GetLabels()[kube.ManagedByLabel] != kube.ManagedByValue {
					t.Errorf("%s %s labels %v lack %s", o.GetKind(), o.GetName(), o.GetLabels(), kube.ManagedByLabel)
				}
				if o.GetKind() == "Service" && platform[o.GetName()] {
					t.Errorf("platform Service %s labelled %s", o.GetName(), PatternLabel)
				}
			}

			// Run 2 (process B) applies the same pattern: what A created
			// stays pattern-owned.
			b := testPlugin(tt.spec, &fakeInstaller{}, fc, &sleeps{})
			if err := b.Apply(ctx, applyReq(sc, true)); err != nil {
				t.Fatal(err)
			}
			if again := patternLabelled(fc.all(t, "meshgym")); !slices.Equal(names(again), names(on)) {
				t.Errorf("pattern objects after B's apply = %q, want %q", names(again), names(on))
			}

			// Run 3 (process C) starts with pattern off.
			sl := &sleeps{}
			c := testPlugin(tt.spec, &fakeInstaller{}, fc, sl)
			if err := c.Cleanup(ctx, *testCluster, sc.Topology); err != nil {
				t.Fatal(err)
			}
			after := fc.all(t, "meshgym")
			if left := patternLabelled(after); len(left) > 0 {
				t.Errorf("left after pattern off: %q", names(left))
			}
			if got := names(after); !slices.Equal(got, before) {
				t.Errorf("objects after pattern off = %q, want those before the pattern %q", got, before)
			}
			for _, s := range sc.Topology.Services {
				svc := fc.get(t, "v1", "Service", "meshgym", kubename.Name(s.Name))
				if sel, _, _ := unstructured.NestedString(svc.Object, "spec", "selector", "app"); sel != s.Name {
					t.Errorf("platform Service %s selector app = %q after pattern off", svc.GetName(), sel)
				}
			}
			if !slices.Contains(sl.d, tt.spec.Settle) {
				t.Errorf("pattern off did not wait the settle %v (sleeps %v)", tt.spec.Settle, sl.d)
			}

			// Run 4: nothing left to take off.
			sl = &sleeps{}
			n := fc.writes()
			if err := testPlugin(tt.spec, &fakeInstaller{}, fc, sl).Cleanup(ctx, *testCluster, sc.Topology); err != nil {
				t.Fatal(err)
			}
			if w := fc.writes() - n; w != 0 || len(sl.d) != 0 {
				t.Errorf("second pattern off: %d writes, sleeps %v; want none", w, sl.d)
			}
		})
	}
}

// Linkerd's retry pattern annotates the platform's Service in process A;
// process B's pattern off re-applies that Service bare under the pattern
// field manager, which drops the annotations (whoever set them) and keeps
// the Service and the platform's fields. Services the pattern never
// touched get no write.
func TestApplyOffInNewProcessDropsLinkerdAnnotations(t *testing.T) {
	sc := builtin(t, "retries")
	fc := newFakeCluster(t, seedPlatform(sc.Topology)...)
	ctx := context.Background()
	if err := testPlugin(Linkerd(), &fakeInstaller{}, fc, &sleeps{}).Apply(ctx, applyReq(sc, true)); err != nil {
		t.Fatal(err)
	}
	retried := sc.Pattern.Retries[0].Service
	name := kubename.Name(retried)
	svc := fc.get(t, "v1", "Service", "meshgym", name)
	if svc.GetAnnotations()["retry.linkerd.io/limit"] == "" {
		t.Fatalf("after on: annotations %v", svc.GetAnnotations())
	}
	if _, ok := svc.GetLabels()[PatternLabel]; ok {
		t.Errorf("platform Service labelled %s: %v", PatternLabel, svc.GetLabels())
	}

	n := len(fc.applies())
	if err := testPlugin(Linkerd(), &fakeInstaller{}, fc, &sleeps{}).Apply(ctx, applyReq(sc, false)); err != nil {
		t.Fatal(err)
	}
	assertLinkerdOffDroppedAnnotations(t, fc, name, retried, n)
}

// The sidecar pattern labels the lab Namespace for injection; pattern off
// in another process takes the pattern manager's label off and keeps the
// Namespace and the platform's own label.
func TestApplyOffInNewProcessUnlabelsNamespace(t *testing.T) {
	sc := builtin(t, "sidecar-proxy")
	ns := mustObject("apiVersion: v1\nkind: Namespace\nmetadata: {name: meshgym, labels: {team: a}}\n")
	fc := newFakeCluster(t, append(seedPlatform(sc.Topology), ns)...)
	ctx := context.Background()
	if err := testPlugin(Istio(), &fakeInstaller{}, fc, &sleeps{}).Apply(ctx, applyReq(sc, true)); err != nil {
		t.Fatal(err)
	}
	got := fc.get(t, "v1", "Namespace", "", "meshgym")
	if got.GetLabels()["istio-injection"] != "enabled" {
		t.Fatalf("after on: namespace labels %v", got.GetLabels())
	}
	if _, ok := got.GetLabels()[PatternLabel]; ok {
		t.Errorf("namespace labelled %s", PatternLabel)
	}
	if got.GetLabels()[kube.ManagedByLabel] != kube.ManagedByValue {
		t.Errorf("namespace applied without %s: labels %v", kube.ManagedByLabel, got.GetLabels())
	}
	if err := testPlugin(Istio(), &fakeInstaller{}, fc, &sleeps{}).Cleanup(ctx, *testCluster, sc.Topology); err != nil {
		t.Fatal(err)
	}
	got = fc.get(t, "v1", "Namespace", "", "meshgym")
	if got == nil {
		t.Fatal("pattern off deleted the namespace")
	}
	if _, ok := got.GetLabels()["istio-injection"]; ok || got.GetLabels()["team"] != "a" {
		t.Errorf("after off: namespace labels %v, want team=a only", got.GetLabels())
	}
}

// A kind the cluster does not serve (its CRD is not installed) is skipped
// after one discovery reset, not an error; the kinds it serves are still
// swept.
func TestApplyOffSkipsKindsNotServed(t *testing.T) {
	istioKind := func(kinds ...string) func(schema.GroupVersionKind) bool {
		return func(gvk schema.GroupVersionKind) bool {
			return gvk.Group == "" || slices.Contains(kinds, gvk.Kind)
		}
	}
	tests := []struct {
		name   string
		serve  func(schema.GroupVersionKind) bool
		seed   []*unstructured.Unstructured
		gone   []string // VirtualServices deleted
		kept   []string // VirtualServices kept
		settle bool
	}{
		{"no EnvoyFilter CRD", istioKind("VirtualService", "DestinationRule"),
			[]*unstructured.Unstructured{leftoverVirtualService("payments"), userVirtualService("mine")},
			[]string{"payments"}, []string{"mine"}, true},
		{"istio not installed", istioKind(), nil, nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := builtin(t, "canary")
			fc := newFakeClusterServing(t, tt.serve, append(seedPlatform(sc.Topology), tt.seed...)...)
			sl := &sleeps{}
			if err := testPlugin(Istio(), &fakeInstaller{}, fc, sl).Cleanup(context.Background(), *testCluster, sc.Topology); err != nil {
				t.Fatal(err)
			}
			for _, n := range tt.gone {
				if fc.get(t, "networking.istio.io/v1", "VirtualService", "meshgym", n) != nil {
					t.Errorf("leftover VirtualService %s kept", n)
				}
			}
			for _, n := range tt.kept {
				if fc.get(t, "networking.istio.io/v1", "VirtualService", "meshgym", n) == nil {
					t.Errorf("VirtualService %s without %s deleted", n, PatternLabel)
				}
			}
			if r := fc.clients.Mapper.(*resetMapper).resets; r != 1 {
				t.Errorf("discovery resets = %d, want 1", r)
			}
			if got := slices.Contains(sl.d, Istio().Settle); got != tt.settle {
				t.Errorf("settle waited = %v, want %v", got, tt.settle)
			}
		})
	}
}

// Spec.ResourceKinds names, at the version rendered, every kind
// meshconfig renders for the mesh's release other than the platform's
// core kinds, so pattern off finds every kind a pattern can leave behind.
func TestResourceKindsCoverRendering(t *testing.T) {
	for _, spec := range Specs() {
		seen := map[schema.GroupVersionKind]bool{}
		for _, b := range scenarios.BuiltinNames() {
			sc := builtin(t, b.Name)
			for _, after := range []bool{false, true} {
				out, err := New(spec, Deps{}).Render(context.Background(), plugins.RenderRequest{Topology: sc.Topology, Pattern: sc.Phase(after)})
				if code(err) == plugins.CodeUnsupported {
					continue
				}
				if err != nil {
					t.Fatalf("%s %s: %v", spec.Name, b.Name, err)
				}
				for _, d := range out.Documents {
					us, err := kube.DecodeYAML(d.Content)
					if err != nil {
						t.Fatal(err)
					}
					for _, u := range us {
						gvk := u.GroupVersionKind()
						if gvk.Group == "" && (gvk.Kind == "Service" || gvk.Kind == "Namespace") {
							continue
						}
						seen[gvk] = true
						if !slices.Contains(spec.ResourceKinds, gvk) {
							t.Errorf("%s renders %s (scenario %s) but ResourceKinds lack it", spec.Name, gvk, b.Name)
						}
					}
				}
			}
		}
		if len(seen) == 0 {
			t.Errorf("%s: no pattern kind rendered by any built-in scenario", spec.Name)
		}
	}
}

// A topology service's Service is the platform's even when the pattern
// created it (Linkerd's retry annotations applied before the platform
// deployed): never labelled PatternLabel, so pattern off keeps it.
func TestApplyNeverOwnsPlatformService(t *testing.T) {
	sc := builtin(t, "retries")
	fc := newFakeCluster(t)
	ctx := context.Background()
	if err := testPlugin(Linkerd(), &fakeInstaller{}, fc, &sleeps{}).Apply(ctx, applyReq(sc, true)); err != nil {
		t.Fatal(err)
	}
	name := kubename.Name(sc.Pattern.Retries[0].Service)
	svc := fc.get(t, "v1", "Service", "meshgym", name)
	if svc == nil {
		t.Fatalf("Service %s not applied", name)
	}
	if _, ok := svc.GetLabels()[PatternLabel]; ok {
		t.Errorf("topology Service %s labelled %s", name, PatternLabel)
	}
	// The platform deploys now.
	if err := fc.clients.Apply(ctx, kube.FieldManager, platformService(name, sc.Pattern.Retries[0].Service)); err != nil {
		t.Fatal(err)
	}
	if err := testPlugin(Linkerd(), &fakeInstaller{}, fc, &sleeps{}).Cleanup(ctx, *testCluster, sc.Topology); err != nil {
		t.Fatal(err)
	}
	if fc.get(t, "v1", "Service", "meshgym", name) == nil {
		t.Errorf("pattern off deleted the platform's Service %s", name)
	}
}

// assertLinkerdOffDroppedAnnotations checks pattern off on Linkerd's
// annotated Service: the platform's Service and selector stay, no
// linkerd.io annotation is left, and the only apply since the n-th was one
// bare Service (apiVersion, kind, name, namespace) under the pattern
// field manager, which makes server-side apply drop what it set.
func assertLinkerdOffDroppedAnnotations(t *testing.T, fc *fakeCluster, name, selector string, n int) {
	t.Helper()
	svc := fc.get(t, "v1", "Service", "meshgym", name)
	if svc == nil {
		t.Fatal("pattern off deleted the platform's Service")
	}
	for k := range svc.GetAnnotations() {
		if strings.Contains(k, "linkerd.io/") {
			t.Errorf("after off: annotation %s kept", k)
		}
	}
	if sel, _, _ := unstructured.NestedString(svc.Object, "spec", "selector", "app"); sel != selector {
		t.Errorf("after off: the platform's selector = %q", sel)
	}
	off := fc.applies()[n:]
	if len(off) != 1 || off[0].GetName() != name || off[0].PatchOptions.FieldManager != kube.PatternFieldManager {
		t.Fatalf("off applies = %+v, want one of Service %s under %s", off, name, kube.PatternFieldManager)
	}
	var sent map[string]any
	if err := yaml.Unmarshal(off[0].GetPatch(), &sent); err != nil {
		t.Fatal(err)
	}
	if _, ok := sent["spec"]; ok || len(sent["metadata"].(map[string]any)) != 2 {
		t.Errorf("off apply sent %v, want apiVersion, kind and metadata name+namespace only", sent)
	}
}
