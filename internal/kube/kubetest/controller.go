package kubetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
)

// Istio-like kinds of networking.istio.io/v1 the mesh patterns render,
// for NewWithKinds.
var (
	VirtualService  = Kind{GVK: gvk("networking.istio.io", "v1", "VirtualService"), Resource: "virtualservices", Namespaced: true}
	DestinationRule = Kind{GVK: gvk("networking.istio.io", "v1", "DestinationRule"), Resource: "destinationrules", Namespaced: true}
)

// ControllerOptions shape the pods SimulateControllers makes.
type ControllerOptions struct {
	// Node is the pods' spec.nodeName ("" = "kind-control-plane").
	Node string
	// Sidecar, when set, is the name of an injected container put first
	// in every pod ("istio-proxy"), as a mesh's injector would.
	Sidecar string
	// NotReady starts the controller with pods that never become ready
	// (SetReady changes it for Deployments applied later).
	NotReady bool
}

// Controller stands in for the Deployment controller, the scheduler and
// the kubelet on a Fake: when a Deployment is applied (server-side apply
// through the dynamic client, as kube.Clients.Apply does) it creates the
// Deployment's pods (spec.replicas of them, labelled with the pod
// template's labels, owned by the Deployment, scheduled on Node, with a
// pod IP from 10.244.0.0/16) and sets the Deployment's status as the
// real controller would once they run: observedGeneration current and
// replicas = updatedReplicas = readyReplicas = availableReplicas. Not
// ready, the pods stay Pending with their app container waiting in
// ErrImageNeverPull and readyReplicas stays 0, so a rollout wait times
// out with a reason. Deleting a Deployment deletes its pods at once (the
// garbage collector, without a grace period).
type Controller struct {
	f     *Fake
	opts  ControllerOptions
	ready atomic.Bool
	mu    sync.Mutex
	ips   int
	// rollouts counts the Deployments rolled out (applies of one).
	rollouts atomic.Int32
}

// SimulateControllers installs the Controller's reactors on f (in front
// of the reactors already there; a reactor a test prepends later runs
// before them, so it can fail an apply first).
func (f *Fake) SimulateControllers(opts ControllerOptions) *Controller {
	if opts.Node == "" {
		opts.Node = "kind-control-plane"
	}
	c := &Controller{f: f, opts: opts}
	c.ready.Store(!opts.NotReady)
	shared := k8stesting.ObjectReaction(f.Typed.Tracker())
	f.Dynamic.PrependReactor("patch", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p, ok := a.(k8stesting.PatchActionImpl)
		if !ok || p.GetPatchType() != types.ApplyPatchType {
			return false, nil, nil
		}
		handled, obj, err := shared(a)
		if err == nil {
			if rerr := c.rollout(p.GetNamespace(), p.GetName()); rerr != nil {
				return true, nil, rerr
			}
		}
		return handled, obj, err
	})
	f.Dynamic.PrependReactor("delete", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		d := a.(k8stesting.DeleteActionImpl)
		c.deletePods(d.GetNamespace(), d.GetName())
		return shared(a)
	})
	return c
}

// SetReady says whether pods of Deployments applied from now on become
// ready.
func (c *Controller) SetReady(ready bool) { c.ready.Store(ready) }

// Rollouts is how many Deployment applies the controller acted on.
func (c *Controller) Rollouts() int { return int(c.rollouts.Load()) }

// PodName is the name the controller gives a Deployment's i-th pod
// (as "NAME-<replicaset hash>-<suffix>").
func PodName(deployment string, i int) string {
	suffixes := []string{"x2k4q", "p7m2z", "h8d3w", "b5n9r", "t4c6v"}
	s := fmt.Sprintf("r%d", i)
	if i < len(suffixes) {
		s = suffixes[i]
	}
	return deployment + "-6d5f8c7b9d-" + s
}

func (c *Controller) rollout(ns, name string) error {
	ctx := context.Background()
	d, err := c.f.Typed.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("kubetest controller: %w", err)
	}
	c.rollouts.Add(1)
	n := int32(1)
	if d.Spec.Replicas != nil {
		n = *d.Spec.Replicas
	}
	ready := c.ready.Load()
	c.deletePods(ns, name) // a new template replaces the old pods
	for i := int32(0); i < n; i++ {
		c.mu.Lock()
		c.ips++
		ip := fmt.Sprintf("10.244.%d.%d", c.ips/250, 10+c.ips%250)
		c.mu.Unlock()
		ctrs := d.Spec.Template.Spec.Containers
		var statuses []corev1.ContainerStatus
		if c.opts.Sidecar != "" {
			ctrs = append([]corev1.Container{{Name: c.opts.Sidecar}}, ctrs...)
		}
		for _, ct := range ctrs {
			st := corev1.ContainerStatus{Name: ct.Name, Ready: ready, Image: ct.Image}
			if ready {
				st.State.Running = &corev1.ContainerStateRunning{}
			} else if ct.Name != c.opts.Sidecar {
				st.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull",
					Message: fmt.Sprintf("Container image %q is not present with pull policy of Never", ct.Image)}
			}
			statuses = append(statuses, st)
		}
		phase := corev1.PodRunning
		if !ready {
			phase = corev1.PodPending
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: PodName(name, int(i)), Namespace: ns, Labels: d.Spec.Template.Labels,
				UID:             types.UID(fmt.Sprintf("uid-%s-%d-%d", name, c.rollouts.Load(), i)),
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: name, UID: d.UID}}},
			Spec:   corev1.PodSpec{NodeName: c.opts.Node, Containers: ctrs},
			Status: corev1.PodStatus{Phase: phase, PodIP: ip, ContainerStatuses: statuses},
		}
		if err := c.f.Typed.Tracker().Add(pod); err != nil {
			return fmt.Errorf("kubetest controller: pod %s: %w", pod.Name, err)
		}
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n}
	if ready {
		d.Status.ReadyReplicas, d.Status.AvailableReplicas = n, n
	}
	if _, err := c.f.Typed.AppsV1().Deployments(ns).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("kubetest controller: status of %s: %w", name, err)
	}
	return nil
}

// deletePods deletes the pods the Deployment owns.
func (c *Controller) deletePods(ns, deployment string) {
	pods, err := c.f.Typed.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, p := range pods.Items {
		for _, o := range p.OwnerReferences {
			if o.Kind == "Deployment" && o.Name == deployment {
				_ = c.f.Typed.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), ns, p.Name)
			}
		}
	}
}

func gvk(group, version, kind string) schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: group, Version: version, Kind: kind}
}
