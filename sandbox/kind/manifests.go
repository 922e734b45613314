package kind

import (
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"meshgym/internal/kube"
	"meshgym/internal/kubename"
	"meshgym/sandbox"
	"meshgym/scenarios"
)

// Labels of the sample system's pods. LabelApp and LabelVersion are what
// plugins/meshconfig selects on (Services by app; Istio DestinationRule
// subsets and per-version Services by version).
const (
	LabelApp       = "app"
	LabelVersion   = "version"
	LabelComponent = "meshgym.dev/component"
	// PortName names the app's container port and the Services' port
	// (plugins/meshconfig.PortName).
	PortName = "http"
	// AppContainer is the sample app's container name in every pod.
	AppContainer = "app"
)

// UpstreamImage is the upstream fake-service image (the same reference as
// sandbox/docker/images.Upstream, which this package does not import to
// stay free of the Docker client).
const UpstreamImage = "nicholasjackson/fake-service:v0.26.2"

// Image sources (Options.ImageSource), as the Docker platform's.
const (
	// ImageSourceLocal is meshgym's own sample-app image, loaded into the
	// nodes beforehand: imagePullPolicy Never.
	ImageSourceLocal = "local"
	// ImageSourceUpstream is UpstreamImage: imagePullPolicy IfNotPresent.
	ImageSourceUpstream = "upstream"
)

// noInjection is, per mesh, the pod label or annotation that keeps its
// injector from adding a sidecar to a pod of a service that runs without
// one (the sidecar-proxy pattern's before phase), on a namespace where
// injection is on:
//   - istio: label sidecar.istio.io/inject: "false"
//     (https://istio.io/latest/docs/setup/additional-setup/sidecar-injection/#controlling-the-injection-policy)
//   - linkerd: annotation linkerd.io/inject: disabled
//     (https://linkerd.io/2/features/proxy-injection/)
//   - consul: annotation consul.hashicorp.com/connect-inject: "false"
//     (https://developer.hashicorp.com/consul/docs/k8s/annotations-and-labels)
//   - kuma: label kuma.io/sidecar-injection: disabled
//     (https://kuma.io/docs/latest/production/dp-config/dpp-on-kubernetes/)
var noInjection = map[string]struct {
	label      bool
	key, value string
}{
	"istio":   {true, "sidecar.istio.io/inject", "false"},
	"linkerd": {false, "linkerd.io/inject", "disabled"},
	"consul":  {false, "consul.hashicorp.com/connect-inject", "false"},
	"kuma":    {true, "kuma.io/sidecar-injection", "disabled"},
}

// consulInject is the annotation that asks Consul's injector for a sidecar
// on a pod: Consul injects per pod, not per namespace, unless its Helm
// value connectInject.default is true
// (https://developer.hashicorp.com/consul/docs/k8s/connect).
const consulInject = "consul.hashicorp.com/connect-inject"

// ManifestSpec is what the sample system's objects are rendered from.
type ManifestSpec struct {
	Topology scenarios.Topology
	// Namespace of every object ("" = Namespace).
	Namespace string
	// Seed is the run's seed; each version's SEED is
	// sandbox.ComponentSeed(Seed, instance name) as on every platform.
	Seed int64
	// Image is the app image; PullPolicy its imagePullPolicy.
	Image      string
	PullPolicy corev1.PullPolicy
	// Mesh is the mesh that injects sidecars in the namespace ("istio",
	// "linkerd", "consul", "kuma"; "" none): services without a sidecar
	// get its no-injection label or annotation.
	Mesh string
	// Env is added to every app container (wins over the app's own).
	Env map[string]string
}

// Manifests are the sample system's objects in apply order: one Service
// per service (topology order), then one Deployment per version.
type Manifests struct {
	Objects []*unstructured.Unstructured
	// Deployments are the Deployments' names, in order.
	Deployments []string
}

// KubeName turns a scenario name into a Kubernetes object name (RFC 1123:
// lower case, '_' and other characters → '-'), as plugins/meshconfig
// names its objects ("currency_v1" → "currency-v1"); see kubename.Name.
func KubeName(s string) string { return kubename.Name(s) }

// ServiceURL is the in-cluster URL an app calls an upstream service by:
// its Service's DNS name on AppPort (through the caller's injected
// sidecar when meshed).
func ServiceURL(service, namespace string) string {
	return fmt.Sprintf("http://%s.%s.svc.cluster.local:%d/", KubeName(service), namespace, AppPort)
}

// RenderManifests renders the sample system of m.Topology: per service a
// Service (selector app=<service>, port 9090 "http" → targetPort "http";
// the entry service of type NodePort on EntryNodePort), matching field for
// field the Services plugins/meshconfig renders for Linkerd (which re-applies
// them with annotations); per version a Deployment named KubeName(version)
// with one replica per instance, pod labels app, version (the scenario's
// name, '_' kept), app.kubernetes.io/managed-by and meshgym.dev/component,
// and one container "app" with the sample app's environment
// (sandbox.AppEnv: the same variables and seeds as the local and Docker
// platforms, listening on 0.0.0.0:9090, upstreams by Service DNS), m.Env,
// and a readiness probe on GET /health (served by meshgym's sample app and
// by fake-service). The error is a topology whose entry service is
// missing. Output is deterministic.
//
// A version with several instances runs them as replicas of one
// Deployment, which share one environment: every replica gets the seed of
// the version's first instance (the local platform gives each instance
// its own).
func RenderManifests(m ManifestSpec) (Manifests, error) {
	ns := m.Namespace
	if ns == "" {
		ns = Namespace
	}
	insts, err := sandbox.Instances(m.Topology)
	if err != nil {
		return Manifests{}, err
	}
	var out Manifests
	var deps []runtime.Object
	seen := map[string]bool{}
	extra := make([]string, 0, len(m.Env))
	for k := range m.Env {
		extra = append(extra, k)
	}
	sort.Strings(extra)
	for _, svc := range m.Topology.Services {
		out.Objects = append(out.Objects, mustUnstructured(kubeService(svc.Name, ns, svc.Name == m.Topology.Entry)))
	}
	for _, in := range insts {
		if seen[in.Version.Name] {
			continue
		}
		seen[in.Version.Name] = true
		var uris []string
		for _, up := range in.Service.Upstreams {
			uris = append(uris, ServiceURL(up, ns))
		}
		seed := sandbox.ComponentSeed(m.Seed, in.Name)
		var env []corev1.EnvVar
		for _, kv := range sandbox.AppEnv(in, fmt.Sprintf("0.0.0.0:%d", AppPort), uris, seed) {
			k, v, _ := strings.Cut(kv, "=")
			if _, ok := m.Env[k]; ok {
				continue
			}
			env = append(env, corev1.EnvVar{Name: k, Value: v})
		}
		for _, k := range extra {
			env = append(env, corev1.EnvVar{Name: k, Value: m.Env[k]})
		}
		d := kubeDeployment(in, ns, m, env)
		out.Deployments = append(out.Deployments, d.Name)
		deps = append(deps, d)
	}
	for _, d := range deps {
		out.Objects = append(out.Objects, mustUnstructured(d))
	}
	return out, nil
}

func kubeService(name, ns string, entry bool) *corev1.Service {
	s := &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: KubeName(name), Namespace: ns,
			Labels: map[string]string{LabelApp: name, kube.ManagedByLabel: kube.ManagedByValue}},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{LabelApp: name},
			Ports:    []corev1.ServicePort{{Name: PortName, Port: AppPort, TargetPort: intstr.FromString(PortName)}},
		},
	}
	if entry {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = EntryNodePort
	}
	return s
}

func kubeDeployment(in sandbox.Instance, ns string, m ManifestSpec, env []corev1.EnvVar) *appsv1.Deployment {
	ver, svc := in.Version, in.Service
	replicas := int32(max(ver.Instances, 1))
	podLabels := map[string]string{
		LabelApp: svc.Name, LabelVersion: ver.Name,
		kube.ManagedByLabel: kube.ManagedByValue, LabelComponent: ver.Name,
	}
	var podAnn map[string]string
	if !svc.Sidecar {
		if ni, ok := noInjection[m.Mesh]; ok {
			if ni.label {
				podLabels[ni.key] = ni.value
			} else {
				podAnn = map[string]string{ni.key: ni.value}
			}
		}
	} else if m.Mesh == "consul" {
		podAnn = map[string]string{consulInject: "true"}
	}
	return &appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: KubeName(ver.Name), Namespace: ns,
			Labels: map[string]string{LabelApp: svc.Name, LabelVersion: ver.Name, kube.ManagedByLabel: kube.ManagedByValue}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelApp: svc.Name, LabelVersion: ver.Name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: podAnn},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{
						Name:            AppContainer,
						Image:           m.Image,
						ImagePullPolicy: m.PullPolicy,
						Ports:           []corev1.ContainerPort{{Name: PortName, ContainerPort: AppPort, Protocol: corev1.ProtocolTCP}},
						Env:             env,
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromString(PortName)}},
							PeriodSeconds:    1,
							FailureThreshold: 3,
						},
					}},
				},
			},
		},
	}
}

// mustUnstructured converts a typed object of ours to unstructured,
// dropping the empty fields the converter writes for zero structs
// (metadata.creationTimestamp: null, status: {}, resources: {}).
func mustUnstructured(obj runtime.Object) *unstructured.Unstructured {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		panic(fmt.Sprintf("kind: convert %T: %v", obj, err)) // our own typed structs always convert
	}
	delete(m, "status")
	prune(m)
	return &unstructured.Unstructured{Object: m}
}

// prune removes nil values and empty maps, recursively.
func prune(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		for k, e := range x {
			if prune(e) {
				delete(x, k)
			}
		}
		return len(x) == 0
	case []any:
		for _, e := range x {
			prune(e)
		}
	}
	return false
}

// ManifestsYAML renders objects as one multi-document YAML text (keys
// sorted), for goldens and `--dry-run`-style output.
func ManifestsYAML(objs []*unstructured.Unstructured) (string, error) {
	var sb strings.Builder
	for i, o := range objs {
		if i > 0 {
			sb.WriteString("---\n")
		}
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", o.GetKind(), o.GetName(), err)
		}
		sb.Write(b)
	}
	return sb.String(), nil
}
