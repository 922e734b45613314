package meshconfig

// Kubernetes object envelope and the core objects (Namespace, Service)
// meshgym deploys, typed as the Kubernetes API writes them
// (https://kubernetes.io/docs/reference/kubernetes-api/).

// object is a Kubernetes object: apiVersion, kind, metadata and a spec of
// the kind's own type.
type object struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	Spec       any        `yaml:"spec,omitempty"`
}

type objectMeta struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// meta is the metadata of a namespaced object of meshgym's.
func (b *builder) meta(name string) objectMeta {
	return objectMeta{Name: name, Namespace: b.ns, Labels: map[string]string{"app.kubernetes.io/managed-by": "meshgym"}}
}

type serviceSpec struct {
	Selector map[string]string `yaml:"selector"`
	Ports    []servicePort     `yaml:"ports"`
}

type servicePort struct {
	Name       string `yaml:"name"`
	Port       int    `yaml:"port"`
	TargetPort string `yaml:"targetPort"`
}

// kubeService is meshgym's Kubernetes Service for a scenario service (all
// its versions), with annotations.
func (b *builder) kubeService(service string, annotations map[string]string) object {
	m := b.meta(b.kn(service))
	m.Labels["app"] = service
	m.Annotations = annotations
	return object{APIVersion: "v1", Kind: "Service", Metadata: m, Spec: serviceSpec{
		Selector: map[string]string{"app": service},
		Ports:    []servicePort{{Name: PortName, Port: ServicePort, TargetPort: PortName}},
	}}
}

// versionService is the per-version Service that Gateway API backendRefs
// and Kuma MeshServices route to: named after the version, selecting its
// pods by the version label.
func (b *builder) versionService(service, ver string) object {
	m := b.meta(b.kn(ver))
	m.Labels["app"] = service
	m.Labels["version"] = ver
	return object{APIVersion: "v1", Kind: "Service", Metadata: m, Spec: serviceSpec{
		Selector: map[string]string{"app": service, "version": ver},
		Ports:    []servicePort{{Name: PortName, Port: ServicePort, TargetPort: PortName}},
	}}
}

// addVersionServices adds the per-version Services of a split's targets
// and matches (each once, in the service's version order).
func (b *builder) addVersionServices(service string) {
	svc := b.service(service)
	s := b.split(service)
	for _, v := range svc.Versions {
		used := false
		for _, t := range s.Targets {
			used = used || t.Version == v.Name
		}
		for _, m := range s.Match {
			used = used || m.Version == v.Name
		}
		if used {
			b.add(b.kn(v.Name)+" Service", b.versionService(service, v.Name))
		}
	}
}

// namespace is the Namespace object with injection labels/annotations.
func (b *builder) namespace(labels, annotations map[string]string) object {
	return object{APIVersion: "v1", Kind: "Namespace", Metadata: objectMeta{Name: b.ns, Labels: labels, Annotations: annotations}}
}

// optOuts lists the services that run without a sidecar.
func (b *builder) optOuts() []string {
	var out []string
	for _, s := range b.topo.Services {
		if !s.Sidecar {
			out = append(out, s.Name)
		}
	}
	return out
}
