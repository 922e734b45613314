package kubemesh

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"meshgym/internal/kube"
	"meshgym/plugins"
	"meshgym/sandbox"
	"meshgym/scenarios"
)

func builtin(t *testing.T, name string) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func code(err error) plugins.Code {
	var pe *plugins.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return -1
}

func TestInfo(t *testing.T) {
	tests := []struct {
		spec    Spec
		version string
		lacks   []string
	}{
		{Istio(), "1.27.1", nil},
		{Linkerd(), "edge-25.4.4", []string{scenarios.KindFaultInjection}},
		{Consul(), "1.21.5", []string{scenarios.KindRateLimiting, scenarios.KindFaultInjection, scenarios.KindRetryBudgets}},
	}
	for _, tt := range tests {
		t.Run(tt.spec.Name, func(t *testing.T) {
			info, err := New(tt.spec, Deps{}).Info(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if info.Name != tt.spec.Name || info.Version != tt.version {
				t.Errorf("name/version = %s %s, want %s %s", info.Name, info.Version, tt.spec.Name, tt.version)
			}
			if !slices.Equal(info.Platforms, []string{"kind"}) || !slices.Equal(info.Formats, []string{tt.spec.Name}) {
				t.Errorf("platforms %v formats %v", info.Platforms, info.Formats)
			}
			for _, k := range scenarios.PatternKinds {
				if got, want := slices.Contains(info.Patterns, k), !slices.Contains(tt.lacks, k); got != want {
					t.Errorf("pattern %s listed = %v, want %v", k, got, want)
				}
			}
			for _, k := range tt.lacks {
				want := "not supported by " + tt.spec.Name + ": " + tt.spec.Unsupported[k]
				if tt.spec.Unsupported[k] == "" || !slices.Contains(info.Notes, want) {
					t.Errorf("notes %q lack %q", info.Notes, want)
				}
			}
			if spec, ok := Lookup(tt.spec.Name); !ok || spec.Version != tt.version {
				t.Errorf("Lookup(%s) = %v %v", tt.spec.Name, spec.Version, ok)
			}
		})
	}
	if _, ok := Lookup("kuma"); ok {
		t.Error("Lookup(kuma) found a spec")
	}
}

// Every pin is exact, and the charts' order is the install order of the
// meshes' Helm guides.
func TestSpecsPinned(t *testing.T) {
	want := map[string][]string{
		"istio":   {"base 1.27.1 istio-base istio-system", "istiod 1.27.1 istiod istio-system"},
		"linkerd": {"linkerd-crds 2025.4.4 linkerd-crds linkerd", "linkerd-control-plane 2025.4.4 linkerd-control-plane linkerd"},
		"consul":  {"consul 1.8.8 consul consul"},
	}
	for _, s := range Specs() {
		var got []string
		for _, c := range s.Charts {
			got = append(got, strings.Join([]string{c.Name, c.Version, c.Release, c.Namespace}, " "))
			if !strings.HasPrefix(c.Repo, "https://") {
				t.Errorf("%s chart %s repo %q", s.Name, c.Name, c.Repo)
			}
		}
		if !slices.Equal(got, want[s.Name]) {
			t.Errorf("%s charts = %q, want %q", s.Name, got, want[s.Name])
		}
		for _, img := range s.Images {
			if !strings.Contains(img, ":") || strings.HasSuffix(img, ":latest") {
				t.Errorf("%s image %q not pinned", s.Name, img)
			}
		}
	}
}

func TestInstallChartsInOrderAndLabelsNamespace(t *testing.T) {
	tests := []struct {
		spec   Spec
		charts []string
		label  map[string]string
		annot  map[string]string
	}{
		{Istio(), []string{"install base 1.27.1", "install istiod 1.27.1"}, map[string]string{"istio-injection": "enabled"}, nil},
		{Linkerd(), []string{"install linkerd-crds 2025.4.4", "install linkerd-control-plane 2025.4.4"}, nil, map[string]string{"linkerd.io/inject": "enabled"}},
		{Consul(), []string{"install consul 1.8.8"}, map[string]string{"connect-inject": "enabled"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.spec.Name, func(t *testing.T) {
			inst := &fakeInstaller{}
			fc := newFakeCluster(t)
			p := testPlugin(tt.spec, inst, fc, &sleeps{})
			if err := p.Install(context.Background(), plugins.InstallRequest{Platform: "kind", Cluster: testCluster}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(inst.calls, tt.charts) {
				t.Errorf("installer calls = %q, want %q", inst.calls, tt.charts)
			}
			ns := fc.get(t, "v1", "Namespace", "", "meshgym")
			if ns == nil {
				t.Fatal("namespace meshgym not applied")
			}
			for k, v := range tt.label {
				if ns.GetLabels()[k] != v {
					t.Errorf("label %s = %q, want %q (labels %v)", k, ns.GetLabels()[k], v, ns.GetLabels())
				}
			}
			for k, v := range tt.annot {
				if ns.GetAnnotations()[k] != v {
					t.Errorf("annotation %s = %q, want %q", k, ns.GetAnnotations()[k], v)
				}
			}
			if m := managers(ns); !slices.Contains(m, "meshgym-mesh-"+tt.spec.Name) {
				t.Errorf("namespace managers %v lack meshgym-mesh-%s", m, tt.spec.Name)
			}
			// Again: a no-op for present charts, nothing rolled back.
			inst.calls = nil
			if err := p.Install(context.Background(), plugins.InstallRequest{Platform: "kind", Cluster: testCluster}); err != nil {
				t.Fatal(err)
			}
			if slices.ContainsFunc(inst.calls, func(s string) bool { return strings.HasPrefix(s, "uninstall") }) {
				t.Errorf("second install uninstalled: %q", inst.calls)
			}

			// Uninstall: labels off, charts in reverse.
			inst.calls = nil
			if err := p.Uninstall(context.Background(), plugins.InstallRequest{Platform: "kind", Cluster: testCluster}); err != nil {
				t.Fatal(err)
			}
			var wantUn []string
			for _, c := range slices.Backward(tt.spec.Charts) {
				wantUn = append(wantUn, "uninstall "+c.Release+" "+c.Namespace)
			}
			if !slices.Equal(inst.calls, wantUn) {
				t.Errorf("uninstall calls = %q, want %q", inst.calls, wantUn)
			}
			ns = fc.get(t, "v1", "Namespace", "", "meshgym")
			for k := range tt.label {
				if _, ok := ns.GetLabels()[k]; ok {
					t.Errorf("label %s still on the namespace after Uninstall", k)
				}
			}
			for k := range tt.annot {
				if _, ok := ns.GetAnnotations()[k]; ok {
					t.Errorf("annotation %s still on the namespace after Uninstall", k)
				}
			}
		})
	}
}

func managers(u *unstructured.Unstructured) []string {
	var out []string
	for _, m := range u.GetManagedFields() {
		out = append(out, m.Manager)
	}
	return out
}

// Linkerd's identity certificates are made at install time and given to
// linkerd-control-plane, merged over its other values.
func TestInstallLinkerdIdentityValues(t *testing.T) {
	inst := &fakeInstaller{}
	p := testPlugin(Linkerd(), inst, newFakeCluster(t), &sleeps{})
	if err := p.Install(context.Background(), plugins.InstallRequest{Platform: "kind", Cluster: testCluster}); err != nil {
		t.Fatal(err)
	}
	if len(inst.charts) != 2 {
		t.Fatalf("charts %v", inst.calls)
	}
	if len(inst.charts[0].Values) != 0 {
		t.Errorf("linkerd-crds got values %v", inst.charts[0].Values)
	}
	v := inst.charts[1].Values
	tls, _ := v["identity"].(map[string]any)["issuer"].(map[string]any)["tls"].(map[string]any)
	if v["identityTrustAnchorsPEM"] != "ANCHOR" || tls["crtPEM"] != "ISSUER" || tls["keyPEM"] != "KEY" {
		t.Errorf("control-plane values = %v", v)
	}
	if Linkerd().Charts[1].Values != nil {
		t.Error("the Spec's chart values were changed in place")
	}
}

func TestInstallFailureRollsBackWhatItInstalled(t *testing.T) {
	tests := []struct {
		name    string
		present bool // istio-base deployed before the call
		want    []string
	}{
		{"fresh", false, []string{"install base 1.27.1", "install istiod 1.27.1", "uninstall istio-base istio-system"}},
		{"base there before", true, []string{"install base 1.27.1", "install istiod 1.27.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst := &fakeInstaller{fail: "istiod"}
			if tt.present {
				inst.installed = map[string]string{"istio-system/istio-base": "1.27.1"}
			}
			fc := newFakeCluster(t)
			p := testPlugin(Istio(), inst, fc, &sleeps{})
			err := p.Install(context.Background(), plugins.InstallRequest{Platform: "kind", Cluster: testCluster})
			if err == nil || !strings.Contains(err.Error(), "chart istiod 1.27.1 (2 of 2)") || !strings.Contains(err.Error(), "pods of istiod not ready") {
				t.Fatalf("err = %v, want one naming chart istiod", err)
			}
			if code(err) != plugins.CodeUnavailable {
				t.Errorf("code = %v", code(err))
			}
			if !slices.Equal(inst.calls, tt.want) {
				t.Errorf("calls = %q, want %q", inst.calls, tt.want)
			}
			if fc.get(t, "v1", "Namespace", "", "meshgym") != nil {
				t.Error("namespace labelled although the install failed")
			}
		})
	}
}

func TestInstallNeedsCluster(t *testing.T) {
	p := New(Istio(), Deps{})
	ctx := context.Background()
	for name, err := range map[string]error{
		"install":   p.Install(ctx, plugins.InstallRequest{Platform: "local"}),
		"uninstall": p.Uninstall(ctx, plugins.InstallRequest{Platform: "local"}),
		"apply":     p.Apply(ctx, plugins.ApplyRequest{Platform: "docker"}),
	} {
		want := "mesh plugin istio runs on platform kind only (meshgym up --platform kind --mesh istio)"
		if code(err) != plugins.CodeUnsupported || err.Error() != want {
			t.Errorf("%s: err = %v (code %v), want %q", name, err, code(err), want)
		}
	}
}

func TestRender(t *testing.T) {
	tests := []struct {
		spec     Spec
		scenario string
		code     plugins.Code // -1: no error
		want     string       // in the error, or a document name
	}{
		{Linkerd(), "fault-injection", plugins.CodeUnsupported, "not supported by linkerd: fault injection (Linkerd has no fault-injection API"},
		{Consul(), "rate-limiting", plugins.CodeUnsupported, "not supported by consul: rate limiting (service-defaults rateLimits is Consul Enterprise only"},
		{Consul(), "retry-budgets", plugins.CodeUnsupported, "not supported by consul: retry budgets"},
		{Istio(), "fault-injection", -1, "VirtualService"},
		{Istio(), "retries", -1, "VirtualService"},
		{Linkerd(), "retries", -1, "Service"},
		{Linkerd(), "canary", -1, "HTTPRoute"},
		{Consul(), "canary", -1, "ServiceSplitter"},
	}
	for _, tt := range tests {
		t.Run(tt.spec.Name+"/"+tt.scenario, func(t *testing.T) {
			sc := builtin(t, tt.scenario)
			out, err := New(tt.spec, Deps{}).Render(context.Background(), plugins.RenderRequest{Topology: sc.Topology, Pattern: sc.Phase(true)})
			if tt.code >= 0 {
				if code(err) != tt.code || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v (code %v), want code %v with %q", err, code(err), tt.code, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(out.Documents, func(d plugins.Document) bool { return strings.HasSuffix(d.Name, " "+tt.want) }) {
				t.Errorf("documents %v lack a %s", docNames(out.Documents), tt.want)
			}
			if len(out.Knobs) != 1 || out.Knobs[0].Value != tt.spec.Name+" "+tt.spec.Version {
				t.Errorf("knobs = %v", out.Knobs)
			}
		})
	}
	_, err := New(Istio(), Deps{}).Render(context.Background(), plugins.RenderRequest{Format: "linkerd"})
	if code(err) != plugins.CodeInvalid {
		t.Errorf("format linkerd on istio: %v", err)
	}
}

func docNames(ds []plugins.Document) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Name)
	}
	return out
}

// platformService is the Service the kind platform deploys for a service,
// applied by its own field manager.
func platformService(name, app string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(`apiVersion: v1
kind: Service
metadata:
  name: `+name+`
  namespace: meshgym
  labels: {app: `+app+`, app.kubernetes.io/managed-by: meshgym}
spec:
  selector: {app: `+app+`}
  ports: [{name: http, port: 9090, targetPort: http}]
`), &u.Object); err != nil {
		panic(err)
	}
	return u
}

func applyReq(sc *scenarios.Scenario, after bool) plugins.ApplyRequest {
	req := plugins.ApplyRequest{Platform: "kind", Topology: sc.Topology, Cluster: testCluster}
	if after {
		req.Pattern = sc.Phase(true)
	} else {
		req.Pattern = sc.Phase(false)
	}
	return req
}

// Istio: pattern on creates the VirtualService and DestinationRule under
// the pattern field manager; pattern off deletes them; the settle wait is
// taken.
func TestApplyIstioOnOff(t *testing.T) {
	sc := builtin(t, "canary")
	fc := newFakeCluster(t)
	sl := &sleeps{}
	p := testPlugin(Istio(), &fakeInstaller{}, fc, sl)
	ctx := context.Background()
	if err := p.Apply(ctx, applyReq(sc, true)); err != nil {
		t.Fatal(err)
	}
	vs := fc.get(t, "networking.istio.io/v1", "VirtualService", "meshgym", "payments")
	dr := fc.get(t, "networking.istio.io/v1", "DestinationRule", "meshgym", "payments")
	if vs == nil || dr == nil {
		t.Fatalf("after on: VirtualService %v DestinationRule %v", vs != nil, dr != nil)
	}
	if m := managers(vs); !slices.Equal(m, []string{kube.PatternFieldManager}) {
		t.Errorf("VirtualService managers = %v", m)
	}
	if !slices.Contains(sl.d, Istio().Settle) {
		t.Errorf("sleeps %v lack the settle %v", sl.d, Istio().Settle)
	}
	if err := p.Remove(ctx, applyReq(sc, true)); err != nil {
		t.Fatal(err)
	}
	if fc.get(t, "networking.istio.io/v1", "VirtualService", "meshgym", "payments") != nil ||
		fc.get(t, "networking.istio.io/v1", "DestinationRule", "meshgym", "payments") != nil {
		t.Error("pattern objects left after pattern off")
	}
}

// Linkerd's retry pattern annotates the platform's Service: pattern off
// re-applies it bare under the pattern field manager, which drops the
// annotations and keeps the platform's fields and the Service.
func TestApplyLinkerdServiceAnnotationsDropped(t *testing.T) {
	sc := builtin(t, "retries")
	var seed []*unstructured.Unstructured
	for _, s := range sc.Topology.Services {
		seed = append(seed, platformService(strings.ReplaceAll(s.Name, "_", "-"), s.Name))
	}
	fc := newFakeCluster(t, seed...)
	p := testPlugin(Linkerd(), &fakeInstaller{}, fc, &sleeps{})
	ctx := context.Background()
	if err := p.Apply(ctx, applyReq(sc, false)); err != nil {
		t.Fatal(err)
	}
	retried := sc.Pattern.Retries[0].Service
	name := strings.ReplaceAll(retried, "_", "-")
	if err := p.Apply(ctx, applyReq(sc, true)); err != nil {
		t.Fatal(err)
	}
	svc := fc.get(t, "v1", "Service", "meshgym", name)
	if svc.GetAnnotations()["retry.linkerd.io/limit"] == "" {
		t.Fatalf("after on: annotations %v", svc.GetAnnotations())
	}
	n := len(fc.applies())
	if err := p.Apply(ctx, applyReq(sc, false)); err != nil {
		t.Fatal(err)
	}
	assertLinkerdOffDroppedAnnotations(t, fc, name, retried, n)
}

// Switching patterns deletes what the new one no longer renders.
func TestApplyDeletesStaleObjects(t *testing.T) {
	fc := newFakeCluster(t)
	p := testPlugin(Consul(), &fakeInstaller{}, fc, &sleeps{})
	ctx := context.Background()
	canary := builtin(t, "canary")
	if err := p.Apply(ctx, applyReq(canary, true)); err != nil {
		t.Fatal(err)
	}
	if fc.get(t, "consul.hashicorp.com/v1alpha1", "ServiceSplitter", "meshgym", "payments") == nil {
		t.Fatal("no ServiceSplitter after canary on")
	}
	retries := builtin(t, "retries")
	if err := p.Apply(ctx, applyReq(retries, true)); err != nil {
		t.Fatal(err)
	}
	if fc.get(t, "consul.hashicorp.com/v1alpha1", "ServiceSplitter", "meshgym", "payments") != nil {
		t.Error("canary's ServiceSplitter kept after switching to retries")
	}
	if fc.get(t, "consul.hashicorp.com/v1alpha1", "ServiceRouter", "meshgym", strings.ReplaceAll(retries.Pattern.Retries[0].Service, "_", "-")) == nil {
		t.Error("retries' ServiceRouter missing")
	}
}

func TestScrapeTargets(t *testing.T) {
	comps := []sandbox.Component{
		{Name: "api_sidecar", Kind: sandbox.KindSidecar, Service: "api", Version: "api", AdminURL: "http://127.0.0.1:7000/api/v1/namespaces/meshgym/pods/api-0"},
		{Name: "api", Kind: sandbox.KindApp, Service: "api", Version: "api"},
		{Name: "currency_v1", Kind: sandbox.KindApp, Service: "currency", Version: "currency_v1", MetricsURL: "http://127.0.0.1:7000/api/v1/namespaces/meshgym/pods/c-0:9090/proxy/metrics"},
	}
	tests := []struct {
		spec Spec
		url  string
	}{
		{Istio(), "http://127.0.0.1:7000/api/v1/namespaces/meshgym/pods/api-0:15090/proxy/stats/prometheus"},
		{Linkerd(), "http://127.0.0.1:7000/api/v1/namespaces/meshgym/pods/api-0:4191/proxy/metrics"},
		{Consul(), "http://127.0.0.1:7000/api/v1/namespaces/meshgym/pods/api-0:20200/proxy/metrics"},
	}
	for _, tt := range tests {
		got, err := New(tt.spec, Deps{}).ScrapeTargets(context.Background(), plugins.ScrapeRequest{Platform: "kind", Components: comps})
		if err != nil {
			t.Fatal(err)
		}
		want := []plugins.ScrapeTarget{
			{Component: "api_sidecar", URL: tt.url, Labels: map[string]string{"name": "api"}},
			{Component: "currency_v1", URL: comps[2].MetricsURL},
		}
		if len(got) != 2 || got[0].Component != want[0].Component || got[0].URL != want[0].URL || len(got[0].Labels) != 1 || got[0].Labels["name"] != "api" ||
			got[1].Component != want[1].Component || got[1].URL != want[1].URL || got[1].Labels != nil {
			t.Errorf("%s: targets = %+v, want %+v", tt.spec.Name, got, want)
		}
	}
}
