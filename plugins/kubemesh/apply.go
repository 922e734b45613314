package kubemesh

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"meshgym/internal/kube"
	"meshgym/internal/kubename"
	"meshgym/plugins"
	"meshgym/sandbox"
	"meshgym/scenarios"
)

// Apply implements plugins.Mesh: render the pattern for the lab
// namespace, server-side apply every object with kube.PatternFieldManager,
// then take out of the namespace what is in force from an earlier Apply —
// of this process or any other (meshgym starts a plugin process per run;
// a crashed run leaves its pattern behind) — and this rendering lacks.
// Nothing is remembered in the process: the cluster is the record.
//
//   - Every applied object carries kube.ManagedByLabel=kube.ManagedByValue
//     (added when the rendering lacks it), and the pattern-owned ones
//     (every kind except the Namespace, Deployments and the Service of a
//     topology service, which the platform owns) PatternLabel=true. A
//     Service that is not a topology service's (the per-version Services
//     of a split) is pattern-owned unless it existed before without the
//     label.
//   - For each of Spec.ResourceKinds and core v1 Service, the objects in
//     the namespace labelled PatternLabel=true that this rendering lacks
//     are deleted. A kind the cluster does not serve (no CRD) is skipped.
//     Objects without the label (a user's own VirtualService) are left
//     alone.
//   - Every other Service, and the Namespace, that kube.PatternFieldManager
//     still owns fields of and this rendering lacks (Linkerd's retry and
//     timeout annotations) is re-applied as bare apiVersion/kind/metadata
//     under kube.PatternFieldManager: server-side apply then drops exactly
//     the fields that manager set, whichever process set them
//     (https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management).
//
// A zero Pattern is pattern off: it clears the namespace of every pattern.
// It returns once every applied object can be read back (bounded by
// Deps.ApplyTimeout) and Spec.Settle has passed: a fixed wait for the
// control plane to reach the proxies, not a check of their config. When
// nothing was applied, deleted or re-applied it returns without waiting.
// Errors: CodeUnsupported (no cluster, a pattern the mesh lacks),
// CodeInvalid (rendering), CodeUnavailable (the cluster failed or
// refused), CodeCanceled.
func (p *Plugin) Apply(ctx context.Context, req plugins.ApplyRequest) error {
	if err := p.needCluster(req.Cluster); err != nil {
		return err
	}
	cl := *req.Cluster
	ns := cl.Namespace
	out, err := p.render(req.Topology, req.Pattern, ns)
	if err != nil {
		return err
	}
	var objs []*unstructured.Unstructured
	for _, d := range out.Documents {
		us, err := kube.DecodeYAML(d.Content)
		if err != nil {
			return plugins.Errorf(plugins.CodeInternal, "decode rendered %s: %v", d.Name, err)
		}
		objs = append(objs, us...)
	}
	kc, err := p.clientsFor(cl)
	if err != nil {
		return err
	}
	fail := func(what string, err error) error {
		return p.codeErr(ctx, fmt.Errorf("%s %s pattern: %w", what, p.spec.Name, err))
	}
	svcs, err := listServices(ctx, kc, ns)
	if err != nil {
		return fail("apply", err)
	}
	platform := platformServices(req.Topology)
	rendered := map[string]bool{}
	for _, o := range objs {
		labels := o.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		if labels[kube.ManagedByLabel] == "" {
			labels[kube.ManagedByLabel] = kube.ManagedByValue
		}
		if patternOwned(o, platform, svcs) {
			labels[PatternLabel] = PatternLabelValue
		} else {
			delete(labels, PatternLabel)
		}
		o.SetLabels(labels)
		rendered[objKey(o)] = true
	}
	if len(objs) > 0 {
		if err := kc.Apply(ctx, kube.PatternFieldManager, objs...); err != nil {
			return p.codeErr(ctx, fmt.Errorf("apply %s pattern %q: %w", p.spec.Name, req.Pattern.Kind, err))
		}
	}

	gone, err := p.leftovers(ctx, kc, ns, rendered)
	if err != nil {
		return fail("find the leftovers of an earlier", err)
	}
	var bare []*unstructured.Unstructured
	for _, s := range svcs {
		switch {
		case rendered[objKey(s)]:
		case s.GetLabels()[PatternLabel] == PatternLabelValue:
			gone = append(gone, s)
		case ownsFields(s, kube.PatternFieldManager):
			bare = append(bare, bareObject(s))
		}
	}
	nsObj := namespaceObject(ns, nil, nil)
	if !rendered[objKey(nsObj)] {
		cur, err := get(ctx, kc, nsObj)
		if err != nil {
			return fail("take the namespace fields of an earlier", err)
		}
		if cur != nil && ownsFields(cur, kube.PatternFieldManager) {
			bare = append(bare, nsObj)
		}
	}
	if len(bare) > 0 {
		if err := kc.Apply(ctx, kube.PatternFieldManager, bare...); err != nil {
			return fail("take the fields off of an earlier", err)
		}
	}
	if len(gone) > 0 {
		if err := kc.Delete(ctx, gone...); err != nil {
			return fail("delete the objects of an earlier", err)
		}
	}
	if len(objs) == 0 && len(gone) == 0 && len(bare) == 0 {
		return nil // nothing changed: nothing to wait for
	}
	if err := p.waitExist(ctx, kc, objs); err != nil {
		return err
	}
	if err := p.deps.Sleep(ctx, p.spec.Settle); err != nil {
		return p.codeErr(ctx, fmt.Errorf("wait for %s to push the pattern: %w", p.spec.Name, err))
	}
	return nil
}

// Remove implements plugins.Mesh: Apply with pattern off.
func (p *Plugin) Remove(ctx context.Context, req plugins.ApplyRequest) error {
	req.Pattern = scenarios.Pattern{}
	return p.Apply(ctx, req)
}

// Cleanup is pattern off on cl's lab namespace (cl.Namespace) for a
// deployment of topo: what Apply of a zero Pattern does — deletes every
// object labelled PatternLabel=true of Spec.ResourceKinds and of core v1
// Service there, and takes kube.PatternFieldManager's fields off the
// platform's Services and Namespace — so it also cleans up after a
// crashed run or another process. For the engine and CLI (before a run's
// first phase, `meshgym down`); errors as Apply's.
func (p *Plugin) Cleanup(ctx context.Context, cl sandbox.Cluster, topo scenarios.Topology) error {
	return p.Apply(ctx, plugins.ApplyRequest{Platform: "kind", Topology: topo, Cluster: &cl})
}

// objKey identifies an object across API versions: group, kind, namespace
// and name ("networking.istio.io/VirtualService/meshgym/payments"); a
// listed object and its rendering may differ in version only.
func objKey(u *unstructured.Unstructured) string {
	gvk := u.GroupVersionKind()
	return gvk.Group + "/" + gvk.Kind + "/" + u.GetNamespace() + "/" + u.GetName()
}

// platformServices are the names of the Services the platform deploys,
// one per topology service.
func platformServices(topo scenarios.Topology) map[string]bool {
	out := map[string]bool{}
	for _, s := range topo.Services {
		out[kubename.Name(s.Name)] = true
	}
	return out
}

// patternOwned reports whether the pattern owns o, so it is labelled
// PatternLabel and deleted once no longer rendered: every kind but
// Namespace, apps Deployment and v1 Service; a Service only when it is not
// a platform Service and did not exist before without the label (svcs are
// the namespace's Services before this Apply).
func patternOwned(o *unstructured.Unstructured, platform map[string]bool, svcs []*unstructured.Unstructured) bool {
	gvk := o.GroupVersionKind()
	switch {
	case gvk.Group == "" && gvk.Kind == "Namespace", gvk.Group == "apps" && gvk.Kind == "Deployment":
		return false
	case gvk.Group != "" || gvk.Kind != "Service":
		return true
	case platform[o.GetName()]:
		return false
	}
	for _, s := range svcs {
		if s.GetName() == o.GetName() {
			return s.GetLabels()[PatternLabel] == PatternLabelValue
		}
	}
	return true
}

// listServices returns the Services in ns.
func listServices(ctx context.Context, kc *kube.Clients, ns string) ([]*unstructured.Unstructured, error) {
	l, err := kc.Dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "services"}).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list services in %s: %w", ns, err)
	}
	out := make([]*unstructured.Unstructured, len(l.Items))
	for i := range l.Items {
		out[i] = &l.Items[i]
		out[i].SetAPIVersion("v1")
		out[i].SetKind("Service")
	}
	return out, nil
}

// leftovers lists, for each of Spec.ResourceKinds, the objects in ns
// labelled PatternLabel=true that are not in rendered (objKey). A kind the
// cluster does not serve is skipped; the mapper's discovery cache is reset
// once first, in case the CRDs were installed after it was filled.
func (p *Plugin) leftovers(ctx context.Context, kc *kube.Clients, ns string, rendered map[string]bool) ([]*unstructured.Unstructured, error) {
	sel := metav1.ListOptions{LabelSelector: PatternLabel + "=" + PatternLabelValue}
	reset := false
	var out []*unstructured.Unstructured
	for _, gvk := range p.spec.ResourceKinds {
		m, err := kc.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil && meta.IsNoMatchError(err) && !reset {
			if r, ok := kc.Mapper.(interface{ Reset() }); ok {
				r.Reset()
				reset = true
				m, err = kc.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			}
		}
		if err != nil {
			if meta.IsNoMatchError(err) {
				continue // not served: no CRD, so no object of it
			}
			return nil, fmt.Errorf("%s: %w", gvk, err)
		}
		ri := kc.Dynamic.Resource(m.Resource)
		var l *unstructured.UnstructuredList
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			l, err = ri.Namespace(ns).List(ctx, sel)
		} else {
			l, err = ri.List(ctx, sel)
		}
		if apierrors.IsNotFound(err) {
			continue // the CRD went away since discovery
		}
		if err != nil {
			return nil, fmt.Errorf("list %s in %s: %w", m.Resource.Resource, ns, err)
		}
		for i := range l.Items {
			o := &l.Items[i]
			o.SetGroupVersionKind(gvk)
			if !rendered[objKey(o)] {
				out = append(out, o)
			}
		}
	}
	return out, nil
}

// ownsFields reports whether manager owns fields of u other than its
// identity (metadata name and namespace), by u's managedFields.
func ownsFields(u *unstructured.Unstructured, manager string) bool {
	for _, m := range u.GetManagedFields() {
		if m.Manager != manager || m.FieldsV1 == nil {
			continue
		}
		var f map[string]any
		if err := json.Unmarshal(m.FieldsV1.Raw, &f); err != nil {
			return true // unreadable: assume it does
		}
		if md, ok := f["f:metadata"].(map[string]any); ok {
			delete(md, "f:name")
			delete(md, "f:namespace")
			if len(md) == 0 {
				delete(f, "f:metadata")
			}
		}
		if len(f) > 0 {
			return true
		}
	}
	return false
}

// bareObject is u's apiVersion, kind, name and namespace only.
func bareObject(u *unstructured.Unstructured) *unstructured.Unstructured {
	b := &unstructured.Unstructured{Object: map[string]any{}}
	b.SetAPIVersion(u.GetAPIVersion())
	b.SetKind(u.GetKind())
	b.SetName(u.GetName())
	if ns := u.GetNamespace(); ns != "" {
		b.SetNamespace(ns)
	}
	return b
}

// get returns the cluster's u, or nil when there is none.
func get(ctx context.Context, kc *kube.Clients, u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	gvk := u.GroupVersionKind()
	m, err := kc.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
	}
	var ri interface {
		Get(context.Context, string, metav1.GetOptions, ...string) (*unstructured.Unstructured, error)
	} = kc.Dynamic.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = kc.Dynamic.Resource(m.Resource).Namespace(u.GetNamespace())
	}
	got, err := ri.Get(ctx, u.GetName(), metav1.GetOptions{})
	switch {
	case err == nil:
		return got, nil
	case apierrors.IsNotFound(err):
		return nil, nil
	}
	return nil, fmt.Errorf("get %s %s: %w", u.GetKind(), u.GetName(), err)
}

// exists reports whether the cluster has u.
func (p *Plugin) exists(ctx context.Context, kc *kube.Clients, u *unstructured.Unstructured) (bool, error) {
	got, err := get(ctx, kc, u)
	return got != nil, err
}

// waitExist polls until every object can be read back, up to
// Deps.ApplyTimeout.
func (p *Plugin) waitExist(ctx context.Context, kc *kube.Clients, objs []*unstructured.Unstructured) error {
	deadline := p.deps.Now().Add(p.deps.ApplyTimeout)
	for _, o := range objs {
		for {
			ok, err := p.exists(ctx, kc, o)
			if err != nil {
				return p.codeErr(ctx, err)
			}
			if ok {
				break
			}
			if !p.deps.Now().Before(deadline) {
				return plugins.Errorf(plugins.CodeUnavailable, "%s %s/%s applied but not readable after %s", o.GetKind(), o.GetNamespace(), o.GetName(), p.deps.ApplyTimeout)
			}
			if err := p.deps.Sleep(ctx, 200*time.Millisecond); err != nil {
				return p.codeErr(ctx, err)
			}
		}
	}
	return nil
}
