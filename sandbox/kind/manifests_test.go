package kind_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	appsv1 "k8s.io/api/apps/v1"

	"meshgym/internal/kube"
	"meshgym/plugins/meshconfig"
	"meshgym/sandbox"
	"meshgym/sandbox/kind"
	"meshgym/scenarios"
)

// update is the package's -update flag (shared with the internal tests,
// which may define it first).
var update = func() func() bool {
	if f := flag.Lookup("update"); f != nil {
		return func() bool { return f.Value.String() == "true" }
	}
	b := flag.Bool("update", false, "rewrite the golden files in testdata")
	return func() bool { return *b }
}()

func builtin(t *testing.T, name string) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func render(t *testing.T, topo scenarios.Topology, mesh string, env map[string]string) kind.Manifests {
	t.Helper()
	m, err := kind.RenderManifests(kind.ManifestSpec{Topology: topo, Seed: 42, Image: "meshgym/app:test",
		PullPolicy: corev1.PullNever, Mesh: mesh, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestManifestsGolden(t *testing.T) {
	for _, name := range []string{"retries", "canary"} {
		t.Run(name, func(t *testing.T) {
			m := render(t, builtin(t, name).Topology, "istio", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://host.example:4318"})
			got, err := kind.ManifestsYAML(m.Objects)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "manifests", name+".golden.yaml")
			if update() {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./sandbox/kind -run TestManifestsGolden -update)", err)
			}
			if got != string(want) {
				t.Errorf("manifests differ from %s (rerun with -update if intended):\n%s", golden, got)
			}
			// The golden decodes back into the same objects, each a
			// valid typed Deployment or Service.
			objs, err := kube.DecodeYAML(got)
			if err != nil || len(objs) != len(m.Objects) {
				t.Fatalf("decode golden: %d objects, %v", len(objs), err)
			}
			for _, o := range objs {
				var typed runtime.Object = &corev1.Service{}
				if o.GetKind() == "Deployment" {
					typed = &appsv1.Deployment{}
				}
				if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, typed, true); err != nil {
					t.Errorf("%s %s: %v", o.GetKind(), o.GetName(), err)
				}
			}
		})
	}
}

// env returns a Deployment's app container environment as a map.
func env(t *testing.T, o *unstructured.Unstructured) map[string]string {
	t.Helper()
	var d appsv1.Deployment
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		out[e.Name] = e.Value
	}
	return out
}

func TestManifestsEnvAsOtherPlatforms(t *testing.T) {
	sc := builtin(t, "retries")
	m := render(t, sc.Topology, "", map[string]string{"OTEL_SDK_DISABLED": "true", "SEED": "overridden"})
	insts, err := sandbox.Instances(sc.Topology)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*unstructured.Unstructured{}
	for _, o := range m.Objects {
		byName[o.GetKind()+"/"+o.GetName()] = o
	}
	for _, in := range insts {
		o := byName["Deployment/"+kind.KubeName(in.Version.Name)]
		if o == nil {
			t.Fatalf("no Deployment for %s", in.Version.Name)
		}
		got := env(t, o)
		var uris []string
		for _, up := range in.Service.Upstreams {
			uris = append(uris, "http://"+up+".meshgym.svc.cluster.local:9090/")
		}
		for _, kv := range sandbox.AppEnv(in, "0.0.0.0:9090", uris, sandbox.ComponentSeed(42, in.Name)) {
			k, v, _ := strings.Cut(kv, "=")
			if k == "SEED" {
				v = "overridden" // spec.Env wins
			}
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", in.Name, k, got[k], v)
			}
		}
		if got["OTEL_SDK_DISABLED"] != "true" {
			t.Errorf("%s: spec.Env not added: %v", in.Name, got)
		}
	}
	// Without the override the seed is the local platform's.
	m = render(t, sc.Topology, "", nil)
	for _, o := range m.Objects {
		if o.GetKind() != "Deployment" {
			continue
		}
		ver, _, _ := unstructured.NestedString(o.Object, "spec", "template", "metadata", "labels", "version")
		if got := env(t, o)["SEED"]; got != strconv.FormatInt(sandbox.ComponentSeed(42, ver), 10) {
			t.Errorf("%s SEED %s", ver, got)
		}
	}
}

// TestServicesMatchMeshconfigLinkerd: the Linkerd plugin re-applies the
// Services meshconfig renders (with retry annotations) over the deployed
// ones, so selector, ports and labels must be the same field for field.
func TestServicesMatchMeshconfigLinkerd(t *testing.T) {
	for _, name := range []string{"retries", "timeouts", "canary"} {
		t.Run(name, func(t *testing.T) {
			sc := builtin(t, name)
			out, err := meshconfig.Render("linkerd", "", sc.Topology, sc.Pattern, meshconfig.Options{})
			if err != nil {
				t.Fatal(err)
			}
			ours := map[string]*unstructured.Unstructured{}
			for _, o := range render(t, sc.Topology, "linkerd", nil).Objects {
				if o.GetKind() == "Service" {
					ours[o.GetName()] = o
				}
			}
			compared := 0
			for _, doc := range out.Documents {
				objs, err := kube.DecodeYAML(doc.Content)
				if err != nil {
					t.Fatal(err)
				}
				for _, theirs := range objs {
					mine := ours[theirs.GetName()]
					if theirs.GetKind() != "Service" || mine == nil {
						continue
					}
					compared++
					for _, path := range [][]string{{"spec", "selector"}, {"metadata", "labels"}, {"metadata", "namespace"}} {
						a, _, _ := unstructured.NestedFieldNoCopy(mine.Object, path...)
						b, _, _ := unstructured.NestedFieldNoCopy(theirs.Object, path...)
						if !reflect.DeepEqual(a, b) {
							t.Errorf("Service %s %v: ours %v, meshconfig %v", theirs.GetName(), path, a, b)
						}
					}
					mp, _, _ := unstructured.NestedSlice(mine.Object, "spec", "ports")
					tp, _, _ := unstructured.NestedSlice(theirs.Object, "spec", "ports")
					for _, p := range mp {
						delete(p.(map[string]any), "nodePort") // the entry's, set by us only
					}
					// Number types differ by decoder (int64, float64):
					// compare the JSON.
					if mj, tj := jsonOf(t, mp), jsonOf(t, tp); mj != tj {
						t.Errorf("Service %s ports: ours %v, meshconfig %v", theirs.GetName(), mp, tp)
					}
				}
			}
			// canary: meshconfig renders only per-version Services.
			if compared == 0 && name != "canary" {
				t.Fatalf("meshconfig rendered no Service of ours for %s", name)
			}
		})
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNoInjectionMarkers(t *testing.T) {
	topo := scenarios.Topology{Entry: "api", Services: []scenarios.Service{
		{Name: "api", Upstreams: []string{"payments"}, Sidecar: false, Versions: []scenarios.Version{{Name: "api", Instances: 1}}},
		{Name: "payments", Sidecar: true, Versions: []scenarios.Version{{Name: "payments", Instances: 2}}},
	}}
	tests := []struct {
		mesh        string
		labels      map[string]string // on the api pods (no sidecar)
		annotations map[string]string
		meshedAnn   map[string]string // on the payments pods (sidecar)
	}{
		{mesh: "", labels: nil},
		{mesh: "istio", labels: map[string]string{"sidecar.istio.io/inject": "false"}},
		{mesh: "linkerd", annotations: map[string]string{"linkerd.io/inject": "disabled"}},
		{mesh: "consul", annotations: map[string]string{"consul.hashicorp.com/connect-inject": "false"},
			meshedAnn: map[string]string{"consul.hashicorp.com/connect-inject": "true"}},
	}
	for _, tt := range tests {
		t.Run("mesh="+tt.mesh, func(t *testing.T) {
			m := render(t, topo, tt.mesh, nil)
			if strings.Join(m.Deployments, ",") != "api,payments" {
				t.Fatalf("deployments %v", m.Deployments)
			}
			for _, o := range m.Objects {
				if o.GetKind() != "Deployment" {
					continue
				}
				var d appsv1.Deployment
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d); err != nil {
					t.Fatal(err)
				}
				l, a := d.Spec.Template.Labels, d.Spec.Template.Annotations
				base := map[string]string{"app": d.Name, "version": d.Name, kube.ManagedByLabel: kube.ManagedByValue, "meshgym.dev/component": d.Name}
				wantL, wantA := map[string]string{}, tt.meshedAnn
				if d.Name == "api" {
					wantA = tt.annotations
					for k, v := range tt.labels {
						wantL[k] = v
					}
				}
				for k, v := range base {
					wantL[k] = v
				}
				if !reflect.DeepEqual(l, wantL) {
					t.Errorf("%s labels %v, want %v", d.Name, l, wantL)
				}
				if len(a) != 0 || len(wantA) != 0 {
					if !reflect.DeepEqual(a, wantA) {
						t.Errorf("%s annotations %v, want %v", d.Name, a, wantA)
					}
				}
				if d.Name == "payments" && *d.Spec.Replicas != 2 {
					t.Errorf("payments replicas %d, want 2", *d.Spec.Replicas)
				}
			}
		})
	}
}

func TestKubeName(t *testing.T) {
	for in, want := range map[string]string{"currency_v1": "currency-v1", "Payments": "payments", "_a.b_": "a-b"} {
		if got := kind.KubeName(in); got != want {
			t.Errorf("KubeName(%q) = %q, want %q", in, got, want)
		}
	}
}
