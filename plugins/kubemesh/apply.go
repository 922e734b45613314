package kubemesh

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"meshgym/internal/kube"
	"meshgym/plugins"
	"meshgym/scenarios"
)

// appliedObject is one object an Apply put in force.
type appliedObject struct {
	obj *unstructured.Unstructured
	// shared is true for an object that existed before the pattern's first
	// apply (a Service or the Namespace the platform made): pattern off
	// re-applies it empty under kube.PatternFieldManager, which drops the
	// fields only the pattern set; otherwise pattern off deletes it.
	shared bool
}

func (a appliedObject) key() string { return objKey(a.obj) }

func objKey(u *unstructured.Unstructured) string {
	return u.GetAPIVersion() + "/" + u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
}

// sharedKinds are the core kinds a pattern renders that the platform may
// own (meshconfig's Service annotations of Linkerd, per-version Services,
// the Namespace of the sidecar pattern): they are never deleted by pattern
// off when they existed before.
var sharedKinds = map[string]bool{"v1/Service": true, "v1/Namespace": true}

// Apply implements plugins.Mesh: render the pattern for the lab
// namespace, server-side apply every object with kube.PatternFieldManager,
// then take out what the previous Apply on this cluster and namespace put
// there and this one does not render: deleted when the pattern created it
// (VirtualService, HTTPRoute, Consul config entries …), re-applied as bare
// apiVersion/kind/metadata under kube.PatternFieldManager when it existed
// before (the Services Linkerd's pattern annotates), so server-side apply
// drops exactly the pattern's fields. A zero Pattern is pattern off.
//
// It returns once every applied object can be read back (bounded by
// Deps.ApplyTimeout) and Spec.Settle has passed: a fixed wait for the
// control plane to reach the proxies, not a check of their config.
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
	key := cl.Name + "/" + ns
	p.mu.Lock()
	prev := p.applied[key]
	p.mu.Unlock()
	known := map[string]appliedObject{}
	for _, a := range prev {
		known[a.key()] = a
	}

	next := make([]appliedObject, 0, len(objs))
	for _, o := range objs {
		a := appliedObject{obj: o}
		if k, ok := known[a.key()]; ok {
			a.shared = k.shared
		} else if sharedKinds[o.GetAPIVersion()+"/"+o.GetKind()] {
			ok, err := p.exists(ctx, kc, o)
			if err != nil {
				return p.codeErr(ctx, fmt.Errorf("apply %s pattern: %w", p.spec.Name, err))
			}
			a.shared = ok
		}
		next = append(next, a)
	}
	// Remember what is about to be applied before applying, so a failure
	// half-way is still cleaned up by the next Apply (pattern off).
	p.remember(key, merge(prev, next))
	if len(objs) > 0 {
		if err := kc.Apply(ctx, kube.PatternFieldManager, objs...); err != nil {
			return p.codeErr(ctx, fmt.Errorf("apply %s pattern %q: %w", p.spec.Name, req.Pattern.Kind, err))
		}
	}
	inNext := map[string]bool{}
	for _, a := range next {
		inNext[a.key()] = true
	}
	var gone, bare []*unstructured.Unstructured
	for _, a := range prev {
		if inNext[a.key()] {
			continue
		}
		if a.shared {
			bare = append(bare, bareObject(a.obj))
		} else {
			gone = append(gone, a.obj)
		}
	}
	if len(bare) > 0 {
		if err := kc.Apply(ctx, kube.PatternFieldManager, bare...); err != nil {
			return p.codeErr(ctx, fmt.Errorf("take %s pattern fields off: %w", p.spec.Name, err))
		}
	}
	if len(gone) > 0 {
		if err := kc.Delete(ctx, gone...); err != nil {
			return p.codeErr(ctx, fmt.Errorf("delete %s pattern objects: %w", p.spec.Name, err))
		}
	}
	p.remember(key, next)
	if len(objs) == 0 && len(prev) == 0 {
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

func (p *Plugin) remember(key string, objs []appliedObject) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(objs) == 0 {
		delete(p.applied, key)
		return
	}
	p.applied[key] = objs
}

// merge is prev with next's objects added (next wins for a key).
func merge(prev, next []appliedObject) []appliedObject {
	out := append([]appliedObject(nil), next...)
	seen := map[string]bool{}
	for _, a := range next {
		seen[a.key()] = true
	}
	for _, a := range prev {
		if !seen[a.key()] {
			out = append(out, a)
		}
	}
	return out
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

// exists reports whether the cluster has u.
func (p *Plugin) exists(ctx context.Context, kc *kube.Clients, u *unstructured.Unstructured) (bool, error) {
	gvk := u.GroupVersionKind()
	m, err := kc.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return false, fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
	}
	var ri interface {
		Get(context.Context, string, metav1.GetOptions, ...string) (*unstructured.Unstructured, error)
	} = kc.Dynamic.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = kc.Dynamic.Resource(m.Resource).Namespace(u.GetNamespace())
	}
	_, err = ri.Get(ctx, u.GetName(), metav1.GetOptions{})
	switch {
	case err == nil:
		return true, nil
	case apierrors.IsNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("get %s %s: %w", u.GetKind(), u.GetName(), err)
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
