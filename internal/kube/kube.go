// Package kube is meshgym's small layer over client-go, shared by the kind
// platform (sandbox/kind) and the real-mesh plugins (plugins/kubemesh):
// clients from a kubeconfig, server-side apply with meshgym's field
// manager, deletion, rollout waits with readable progress, and a local
// proxy that reaches pod ports through the API server's pod proxy with the
// kubeconfig's credentials (so plain HTTP clients — the engine's scraper,
// the builtin plugin's config push — need no credentials of their own).
package kube

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// FieldManager is the server-side apply field manager of the objects
// meshgym owns (the sample system, namespaces).
const FieldManager = "meshgym"

// PatternFieldManager is the field manager of a pattern's resources, so
// applying "pattern off" with it removes exactly the fields the pattern
// set (server-side apply drops fields a manager stops sending:
// https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management).
const PatternFieldManager = "meshgym-pattern"

// ManagedByLabel = ManagedByValue marks every object meshgym creates.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "meshgym"
)

// Clients reach one cluster. Tests build it from client-go fakes
// (k8s.io/client-go/kubernetes/fake, k8s.io/client-go/dynamic/fake and a
// meta.DefaultRESTMapper); Config is nil then.
type Clients struct {
	Typed   kubernetes.Interface
	Dynamic dynamic.Interface
	Mapper  meta.RESTMapper
	// Config is the REST config the clients were made from (nil in tests).
	Config *rest.Config
}

// ErrNotImplemented marks a stub not yet written (kept for callers that
// compiled against the first contract; nothing returns it now).
var ErrNotImplemented = errors.New("not implemented")

// New builds clients from kubeconfig content (YAML) and a context name
// ("" = the current context): a typed clientset, a dynamic client and a
// RESTMapper that asks the API server's discovery lazily and caches the
// answer in memory (restmapper.NewDeferredDiscoveryRESTMapper; Apply
// resets it once when a kind is unknown, e.g. CRDs a Helm chart just
// installed). Errors name what is wrong with the kubeconfig (unparsable,
// unknown context, no server). Nothing is contacted until the first call.
func New(kubeconfig, context string) (*Clients, error) {
	if strings.TrimSpace(kubeconfig) == "" {
		return nil, errors.New("kubeconfig: empty")
	}
	raw, err := clientcmd.Load([]byte(kubeconfig))
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	cfg, err := clientcmd.NewDefaultClientConfig(*raw, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		if context != "" {
			return nil, fmt.Errorf("kubeconfig context %q: %w", context, err)
		}
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	// Rollout polls and scrapes through the pod proxy are frequent; the
	// client-go default (5 qps, burst 10) would throttle them.
	cfg.QPS, cfg.Burst = 50, 100
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	typed, err := kubernetes.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	disc, err := discovery.NewDiscoveryClientForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	return &Clients{Typed: typed, Dynamic: dyn, Mapper: mapper, Config: cfg}, nil
}

// DecodeYAML splits a multi-document YAML text (comments and empty
// documents skipped) into objects; a "kind: List" document is expanded
// into its items. An object without apiVersion, kind or metadata.name is
// an error naming the document's position (1-based, counting the
// documents that are not empty).
func DecodeYAML(src string) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(src)))
	var out []*unstructured.Unstructured
	n := 0
	for {
		doc, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("yaml document %d: %w", n+1, err)
		}
		js, err := utilyaml.ToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("yaml document %d: %w", n+1, err)
		}
		js = bytes.TrimSpace(js)
		if len(js) == 0 || string(js) == "null" {
			continue // empty, or comments only
		}
		n++
		u := &unstructured.Unstructured{}
		if err := json.Unmarshal(js, &u.Object); err != nil {
			return nil, fmt.Errorf("yaml document %d: not an object: %w", n, err)
		}
		objs := []*unstructured.Unstructured{u}
		if u.IsList() {
			l, err := u.ToList()
			if err != nil {
				return nil, fmt.Errorf("yaml document %d: %w", n, err)
			}
			objs = objs[:0]
			for i := range l.Items {
				objs = append(objs, &l.Items[i])
			}
		}
		for _, o := range objs {
			switch {
			case o.GetAPIVersion() == "":
				return nil, fmt.Errorf("yaml document %d: no apiVersion", n)
			case o.GetKind() == "":
				return nil, fmt.Errorf("yaml document %d: no kind", n)
			case o.GetName() == "":
				return nil, fmt.Errorf("yaml document %d (%s): no metadata.name", n, o.GetKind())
			}
			out = append(out, o)
		}
	}
}

// objName is "Kind ns/name" or "Kind name" for errors.
func objName(o *unstructured.Unstructured) string {
	if o.GetNamespace() != "" {
		return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
	}
	return o.GetKind() + " " + o.GetName()
}

// resourceFor maps obj's kind to its resource client (namespaced or not,
// from the mapping's scope). A kind the mapper does not know is retried
// once after resetting a discovery-backed mapper (CRDs installed since
// the cache was filled).
func (c *Clients) resourceFor(obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	m, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil && meta.IsNoMatchError(err) {
		if r, ok := c.Mapper.(interface{ Reset() }); ok {
			r.Reset()
			m, err = c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		}
	}
	if err != nil {
		return nil, err
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			return nil, errors.New("namespaced kind without metadata.namespace")
		}
		return c.Dynamic.Resource(m.Resource).Namespace(obj.GetNamespace()), nil
	}
	return c.Dynamic.Resource(m.Resource), nil
}

// Apply server-side applies objs in order with fieldManager and force
// (meshgym owns what it applies), mapping each kind to its resource with
// Mapper. It stops at the first error, naming the object ("apply
// VirtualService meshgym/payments: …").
// Semantics: https://kubernetes.io/docs/reference/using-api/server-side-apply/
// (a field another manager set is kept; one this manager stops sending
// is removed).
func (c *Clients) Apply(ctx context.Context, fieldManager string, objs ...*unstructured.Unstructured) error {
	for _, o := range objs {
		ri, err := c.resourceFor(o)
		if err != nil {
			return fmt.Errorf("apply %s: %w", objName(o), err)
		}
		if _, err := ri.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
			return fmt.Errorf("apply %s: %w", objName(o), err)
		}
	}
	return nil
}

// Delete deletes objs (foreground propagation); objects already gone and
// kinds the cluster does not know are not errors. It tries every object
// and returns the errors of those it could not delete, joined.
func (c *Clients) Delete(ctx context.Context, objs ...*unstructured.Unstructured) error {
	var errs []error
	fg := metav1.DeletePropagationForeground
	for _, o := range objs {
		ri, err := c.resourceFor(o)
		if err != nil {
			if meta.IsNoMatchError(err) {
				continue
			}
			errs = append(errs, fmt.Errorf("delete %s: %w", objName(o), err))
			continue
		}
		err = ri.Delete(ctx, o.GetName(), metav1.DeleteOptions{PropagationPolicy: &fg})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s: %w", objName(o), err))
		}
	}
	return errors.Join(errs...)
}

// EnsureNamespace creates or updates (server-side apply, field manager
// FieldManager) the namespace with these labels and annotations, labelled
// ManagedByLabel. Labels and annotations other field managers set (a
// mesh's injection label) are kept; those FieldManager set before and
// does not send now are removed.
func (c *Clients) EnsureNamespace(ctx context.Context, name string, labels, annotations map[string]string) error {
	l := map[string]any{ManagedByLabel: ManagedByValue}
	for k, v := range labels {
		l[k] = v
	}
	md := map[string]any{"name": name, "labels": l}
	if len(annotations) > 0 {
		a := map[string]any{}
		for k, v := range annotations {
			a[k] = v
		}
		md["annotations"] = a
	}
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": md}}
	return c.Apply(ctx, FieldManager, ns)
}

// RolloutPoll is how often WaitRollout reads the Deployments.
var RolloutPoll = 500 * time.Millisecond

// deploymentReady reports whether d has rolled out, as `kubectl rollout
// status` judges it (k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go):
// the controller observed the current generation, every desired replica
// is updated and ready, and no old replica is left.
func deploymentReady(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	st := d.Status
	return st.ObservedGeneration >= d.Generation && st.UpdatedReplicas == want &&
		st.ReadyReplicas == want && st.Replicas == want
}

// WaitRollout waits until every named Deployment of namespace has rolled
// out (observed generation current, updated = ready = desired replicas),
// reading them every RolloutPoll and calling progress (may be nil) with
// one line when the state changes ("waiting for 2 of 4 deployments:
// currency-v1 0/1 ready, payments 0/1 ready"). When ctx ends first the
// error wraps ctx.Err() and names the deployments not ready and, for
// each, the reason a pod gives (ImagePullBackOff with its message,
// CrashLoopBackOff with its last log line, Unschedulable …).
func (c *Clients) WaitRollout(ctx context.Context, namespace string, deployments []string, progress func(string)) error {
	if progress == nil {
		progress = func(string) {}
	}
	last := ""
	t := time.NewTicker(RolloutPoll)
	defer t.Stop()
	for {
		var waiting []string
		var notReady []string
		for _, name := range deployments {
			d, err := c.Typed.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
			switch {
			case err != nil && ctx.Err() != nil:
				notReady = append(notReady, name)
				waiting = append(waiting, name+" (unknown)")
			case apierrors.IsNotFound(err):
				notReady = append(notReady, name)
				waiting = append(waiting, name+" (not found)")
			case err != nil:
				notReady = append(notReady, name)
				waiting = append(waiting, fmt.Sprintf("%s (%v)", name, err))
			case !deploymentReady(d):
				want := int32(1)
				if d.Spec.Replicas != nil {
					want = *d.Spec.Replicas
				}
				notReady = append(notReady, name)
				waiting = append(waiting, fmt.Sprintf("%s %d/%d ready", name, d.Status.ReadyReplicas, want))
			}
		}
		line := fmt.Sprintf("%d deployments ready", len(deployments))
		if len(notReady) > 0 {
			line = fmt.Sprintf("waiting for %d of %d deployments: %s", len(notReady), len(deployments), strings.Join(waiting, ", "))
		}
		if line != last {
			progress(line)
			last = line
		}
		if len(notReady) == 0 {
			return nil
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			var why []string
			for _, name := range notReady {
				why = append(why, c.diagnose(dctx, namespace, name))
			}
			return fmt.Errorf("deployments not ready: %s: %w", strings.Join(why, "; "), ctx.Err())
		}
	}
}

// diagnose says why a deployment is not ready: its ready count and the
// first reason one of its pods gives.
func (c *Clients) diagnose(ctx context.Context, namespace, name string) string {
	d, err := c.Typed.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return name + " not found"
		}
		return fmt.Sprintf("%s: %v", name, err)
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	head := fmt.Sprintf("%s %d/%d ready", name, d.Status.ReadyReplicas, want)
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return head
	}
	pods, err := c.Typed.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return fmt.Sprintf("%s (pods: %v)", head, err)
	}
	if len(pods.Items) == 0 {
		return head + " (no pods)"
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	for i := range pods.Items {
		if r := c.PodReason(ctx, &pods.Items[i]); r != "" {
			return fmt.Sprintf("%s: pod %s: %s", head, pods.Items[i].Name, r)
		}
	}
	return head
}

// PodReason says why a pod is not running and ready, in one line, or ""
// when nothing is wrong: a container's waiting reason and message
// (ImagePullBackOff, ErrImageNeverPull …; for CrashLoopBackOff with the
// last line of the previous run's log), a terminated container's reason
// and exit code, an unschedulable pod's message, or the pod's phase.
func (c *Clients) PodReason(ctx context.Context, pod *corev1.Pod) string {
	statuses := append(append([]corev1.ContainerStatus(nil), pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
	for _, cs := range statuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" && w.Reason != "PodInitializing" {
			msg := "container " + cs.Name + ": " + w.Reason
			if w.Message != "" {
				msg += ": " + oneLine(w.Message)
			}
			if w.Reason == "CrashLoopBackOff" {
				if l := c.lastLogLine(ctx, pod.Namespace, pod.Name, cs.Name, true); l != "" {
					msg += "; last log line: " + l
				}
			}
			return msg
		}
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
			msg := fmt.Sprintf("container %s: %s (exit code %d)", cs.Name, t.Reason, t.ExitCode)
			if t.Message != "" {
				msg += ": " + oneLine(t.Message)
			}
			if l := c.lastLogLine(ctx, pod.Namespace, pod.Name, cs.Name, false); l != "" {
				msg += "; last log line: " + l
			}
			return msg
		}
	}
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
			return "not scheduled: " + cond.Reason + ": " + oneLine(cond.Message)
		}
	}
	switch pod.Status.Phase {
	case corev1.PodRunning:
		for _, cs := range pod.Status.ContainerStatuses {
			if !cs.Ready {
				return "container " + cs.Name + " running, not ready (readiness probe)"
			}
		}
		return ""
	case "":
		return "no status yet"
	default:
		msg := "phase " + string(pod.Status.Phase)
		if pod.Status.Reason != "" {
			msg += ": " + pod.Status.Reason
		}
		if pod.Status.Message != "" {
			msg += ": " + oneLine(pod.Status.Message)
		}
		return msg
	}
}

// lastLogLine is the last non-empty line of a container's log ("" when
// it cannot be read).
func (c *Clients) lastLogLine(ctx context.Context, ns, pod, ctr string, previous bool) string {
	s := c.LogTail(ctx, ns, pod, ctr, 1, previous)
	return oneLine(s)
}

// LogTail returns the last n lines of a container's log (previous: of
// its last terminated run), "" when it cannot be read.
func (c *Clients) LogTail(ctx context.Context, ns, pod, ctr string, n int64, previous bool) string {
	rc, err := c.Typed.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: ctr, TailLines: &n, Previous: previous}).Stream(ctx)
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<10))
	if err != nil {
		return ""
	}
	return strings.TrimRight(string(b), "\n")
}

// oneLine is the last non-empty line of s, trimmed (log tails and
// kubelet messages shown inside one-line errors).
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[i+1:])
	}
	return s
}

// PodProxy is a local HTTP server on 127.0.0.1 that forwards every request
// to the API server with the kubeconfig's credentials: a request for
// Base+"/api/v1/namespaces/NS/pods/POD:PORT/proxy/PATH" reaches PATH on
// the pod's PORT. Only the API server's pod proxy and node proxy paths
// are forwarded (/api/v1/namespaces/NS/pods/POD[:PORT]/proxy…,
// /api/v1/nodes/NODE[:PORT]/proxy…); any other path is refused with 403,
// so the listener is no general door to the cluster. Close stops it.
type PodProxy struct {
	// Base is "http://127.0.0.1:P".
	Base  string
	close func() error
}

// Close stops the proxy; safe twice.
func (p *PodProxy) Close() error {
	if p == nil || p.close == nil {
		return nil
	}
	f := p.close
	p.close = nil
	return f()
}

// proxyPathAllowed reports whether path is under the API server's pod or
// node proxy (https://kubernetes.io/docs/tasks/access-application-cluster/access-cluster-services/#manually-constructing-apiserver-proxy-urls).
func proxyPathAllowed(path string) bool {
	seg := strings.Split(path, "/")
	for _, s := range seg[1:] {
		if s == "." || s == ".." {
			return false
		}
	}
	nonEmpty := func(ss ...string) bool {
		for _, s := range ss {
			if s == "" {
				return false
			}
		}
		return true
	}
	switch {
	case len(seg) >= 8 && seg[0] == "" && seg[1] == "api" && seg[2] == "v1" && seg[3] == "namespaces" &&
		seg[5] == "pods" && seg[7] == "proxy" && nonEmpty(seg[4], seg[6]):
		return true
	case len(seg) >= 6 && seg[0] == "" && seg[1] == "api" && seg[2] == "v1" && seg[3] == "nodes" &&
		seg[5] == "proxy" && nonEmpty(seg[4]):
		return true
	}
	return false
}

// StartPodProxy starts a PodProxy for cfg: an HTTP server on
// 127.0.0.1:0 whose handler is an httputil.ReverseProxy to cfg's API
// server over rest.TransportFor(cfg) (TLS and credentials of the
// kubeconfig; a client's own Authorization header is dropped so the
// kubeconfig's is used). Responses are flushed as they arrive (streams
// such as a sidecar's /events pass through). The error is a config
// without a usable host or credentials, or no free port.
func StartPodProxy(cfg *rest.Config) (*PodProxy, error) {
	if cfg == nil {
		return nil, errors.New("pod proxy: no REST config")
	}
	target, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("pod proxy: %w", err)
	}
	tr, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("pod proxy: %w", err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Del("Authorization")
		},
		Transport:     tr,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "meshgym pod proxy: "+err.Error(), http.StatusBadGateway)
		},
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !proxyPathAllowed(r.URL.Path) {
			http.Error(w, "meshgym pod proxy forwards only /api/v1/namespaces/NS/pods/POD[:PORT]/proxy/… and /api/v1/nodes/NODE/proxy/…", http.StatusForbidden)
			return
		}
		rp.ServeHTTP(w, r)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("pod proxy: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	return &PodProxy{Base: "http://" + l.Addr().String(), close: srv.Close}, nil
}
