package crdschema

import (
	"encoding/json"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

// builtinScheme knows every built-in Kubernetes kind client-go serves.
var builtinScheme = clientgoscheme.Scheme

// clusterScoped lists the built-in kinds that are not namespaced
// (https://kubernetes.io/docs/reference/kubernetes-api/; `kubectl
// api-resources --namespaced=false`).
var clusterScoped = map[schema.GroupKind]bool{
	{Kind: "Namespace"}:        true,
	{Kind: "Node"}:             true,
	{Kind: "PersistentVolume"}: true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:                       true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}:                true,
	{Group: "storage.k8s.io", Kind: "StorageClass"}:                                 true,
	{Group: "storage.k8s.io", Kind: "CSIDriver"}:                                    true,
	{Group: "scheduling.k8s.io", Kind: "PriorityClass"}:                             true,
	{Group: "node.k8s.io", Kind: "RuntimeClass"}:                                    true,
	{Group: "networking.k8s.io", Kind: "IngressClass"}:                              true,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"}:   true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"}: true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicy"}:      true,
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:               true,
	{Group: "apiregistration.k8s.io", Kind: "APIService"}:                           true,
	{Group: "certificates.k8s.io", Kind: "CertificateSigningRequest"}:               true,
}

// validateBuiltin decodes u strictly into the k8s.io/api type of gvk
// (unknown and duplicate fields, wrong types) and runs the API server's
// checks this package reimplements: Service ports, selector and type;
// Deployment selector matching its template; ConfigMap keys. The full
// validation of built-in kinds lives in k8s.io/kubernetes (pkg/apis/*/validation),
// which is not a Go module meshgym can depend on.
func validateBuiltin(u map[string]any, gvk schema.GroupVersionKind) field.ErrorList {
	obj, err := builtinScheme.New(gvk)
	if err != nil {
		return field.ErrorList{field.Invalid(field.NewPath("kind"), gvk.String(), err.Error())}
	}
	data, _ := json.Marshal(u)
	errs := strictDecode(data, obj, nil)
	if len(errs) > 0 {
		return errs
	}
	switch o := obj.(type) {
	case *corev1.Service:
		errs = append(errs, validateServiceSpec(&o.Spec, field.NewPath("spec"))...)
	case *appsv1.Deployment:
		errs = append(errs, validateDeploymentSpec(&o.Spec, field.NewPath("spec"))...)
	case *corev1.ConfigMap:
		for k := range o.Data {
			for _, msg := range utilvalidation.IsConfigMapKey(k) {
				errs = append(errs, field.Invalid(field.NewPath("data").Key(k), k, msg))
			}
		}
	}
	return errs
}

// validateServiceSpec follows k8s.io/kubernetes pkg/apis/core/validation
// ValidateService for the fields meshgym sets: type enum, ports (port
// 1–65535, name a DNS-1123 label and required when there are several,
// unique names, targetPort a port number or an IANA_SVC_NAME, protocol
// enum) and the selector's labels
// (https://kubernetes.io/docs/reference/kubernetes-api/service-resources/service-v1/).
func validateServiceSpec(s *corev1.ServiceSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch s.Type {
	case "", corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeExternalName:
	default:
		errs = append(errs, field.NotSupported(p.Child("type"), s.Type, []string{"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"}))
	}
	if s.Type != corev1.ServiceTypeExternalName && len(s.Ports) == 0 && s.ClusterIP != corev1.ClusterIPNone {
		errs = append(errs, field.Required(p.Child("ports"), ""))
	}
	names := map[string]bool{}
	for i, port := range s.Ports {
		pp := p.Child("ports").Index(i)
		if len(s.Ports) > 1 && port.Name == "" {
			errs = append(errs, field.Required(pp.Child("name"), "required when there are several ports"))
		}
		if port.Name != "" {
			for _, msg := range utilvalidation.IsDNS1123Label(port.Name) {
				errs = append(errs, field.Invalid(pp.Child("name"), port.Name, msg))
			}
			if names[port.Name] {
				errs = append(errs, field.Duplicate(pp.Child("name"), port.Name))
			}
			names[port.Name] = true
		}
		for _, msg := range utilvalidation.IsValidPortNum(int(port.Port)) {
			errs = append(errs, field.Invalid(pp.Child("port"), port.Port, msg))
		}
		switch port.Protocol {
		case "", corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		default:
			errs = append(errs, field.NotSupported(pp.Child("protocol"), port.Protocol, []string{"TCP", "UDP", "SCTP"}))
		}
		switch port.TargetPort.Type {
		case intstr.Int:
			if port.TargetPort.IntVal != 0 {
				for _, msg := range utilvalidation.IsValidPortNum(int(port.TargetPort.IntVal)) {
					errs = append(errs, field.Invalid(pp.Child("targetPort"), port.TargetPort.IntVal, msg))
				}
			}
		case intstr.String:
			for _, msg := range utilvalidation.IsValidPortName(port.TargetPort.StrVal) {
				errs = append(errs, field.Invalid(pp.Child("targetPort"), port.TargetPort.StrVal, msg))
			}
		}
	}
	errs = append(errs, metav1validation.ValidateLabels(s.Selector, p.Child("selector"))...)
	return errs
}

// validateDeploymentSpec checks the selector is valid, non-empty and
// selects the pod template's labels, and that containers have DNS-1123
// label names and an image (k8s.io/kubernetes pkg/apis/apps/validation
// ValidateDeploymentSpec).
func validateDeploymentSpec(s *appsv1.DeploymentSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Selector == nil {
		errs = append(errs, field.Required(p.Child("selector"), ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabelSelector(s.Selector, metav1validation.LabelSelectorValidationOptions{}, p.Child("selector"))...)
		if len(s.Selector.MatchLabels)+len(s.Selector.MatchExpressions) == 0 {
			errs = append(errs, field.Invalid(p.Child("selector"), s.Selector, "empty selector is invalid for deployment"))
		}
		for k, v := range s.Selector.MatchLabels {
			if s.Template.Labels[k] != v {
				errs = append(errs, field.Invalid(p.Child("template", "metadata", "labels"), s.Template.Labels, "`selector` does not match template `labels`"))
				break
			}
		}
	}
	errs = append(errs, metav1validation.ValidateLabels(s.Template.Labels, p.Child("template", "metadata", "labels"))...)
	if len(s.Template.Spec.Containers) == 0 {
		errs = append(errs, field.Required(p.Child("template", "spec", "containers"), ""))
	}
	for i, c := range s.Template.Spec.Containers {
		cp := p.Child("template", "spec", "containers").Index(i)
		for _, msg := range utilvalidation.IsDNS1123Label(c.Name) {
			errs = append(errs, field.Invalid(cp.Child("name"), c.Name, msg))
		}
		if c.Image == "" {
			errs = append(errs, field.Required(cp.Child("image"), ""))
		}
	}
	return errs
}
