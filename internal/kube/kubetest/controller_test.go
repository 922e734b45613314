package kubetest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"meshgym/internal/kube"
	"meshgym/internal/kube/kubetest"
)

func deployment(name string, replicas int64) *unstructured.Unstructured {
	labels := map[string]any{"app": name}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name, "namespace": "lab"},
		"spec": map[string]any{
			"replicas": replicas,
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": "app", "image": "meshgym/app:test"}}},
			},
		},
	}}
}

func TestControllerRollsOutAndDeletes(t *testing.T) {
	kube.RolloutPoll = 10 * time.Millisecond
	tests := []struct {
		name     string
		notReady bool
		replicas int64
		phase    corev1.PodPhase
		waitErr  string
	}{
		{name: "ready", replicas: 2, phase: corev1.PodRunning},
		{name: "not ready", notReady: true, replicas: 1, phase: corev1.PodPending,
			waitErr: `ErrImageNeverPull: Container image "meshgym/app:test" is not present with pull policy of Never`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := kubetest.New()
			ctl := f.SimulateControllers(kubetest.ControllerOptions{Node: "n1", Sidecar: "istio-proxy", NotReady: tt.notReady})
			ctx := context.Background()
			if err := f.Clients.Apply(ctx, kube.FieldManager, deployment("web", tt.replicas)); err != nil {
				t.Fatal(err)
			}
			pods, err := f.Typed.CoreV1().Pods("lab").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(pods.Items)) != tt.replicas || ctl.Rollouts() != 1 {
				t.Fatalf("%d pods, %d rollouts; want %d pods, 1 rollout", len(pods.Items), ctl.Rollouts(), tt.replicas)
			}
			ips := map[string]bool{}
			names := map[string]bool{}
			for i := range tt.replicas {
				names[kubetest.PodName("web", int(i))] = true
			}
			for i, p := range pods.Items {
				if !names[p.Name] || p.Spec.NodeName != "n1" || p.Status.Phase != tt.phase ||
					len(p.Spec.Containers) != 2 || p.Spec.Containers[0].Name != "istio-proxy" || p.Spec.Containers[1].Name != "app" ||
					len(p.OwnerReferences) != 1 || p.OwnerReferences[0].Name != "web" {
					t.Errorf("pod %d: %s node %s phase %s containers %v owners %v", i, p.Name, p.Spec.NodeName, p.Status.Phase, p.Spec.Containers, p.OwnerReferences)
				}
				if p.Status.PodIP == "" || ips[p.Status.PodIP] {
					t.Errorf("pod %s IP %q (not unique)", p.Name, p.Status.PodIP)
				}
				ips[p.Status.PodIP] = true
			}
			wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			err = f.Clients.WaitRollout(wctx, "lab", []string{"web"}, nil)
			cancel()
			if tt.waitErr == "" && err != nil {
				t.Fatalf("WaitRollout: %v", err)
			}
			if tt.waitErr != "" && (!errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), tt.waitErr)) {
				t.Fatalf("WaitRollout err = %v, want a deadline naming %q", err, tt.waitErr)
			}
			// Deleting the Deployment takes its pods (and only its pods).
			other := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "not-owned", Namespace: "lab", Labels: map[string]string{"app": "web"}}}
			if err := f.Typed.Tracker().Add(other); err != nil {
				t.Fatal(err)
			}
			if err := f.Clients.Delete(ctx, deployment("web", tt.replicas)); err != nil {
				t.Fatal(err)
			}
			pods, _ = f.Typed.CoreV1().Pods("lab").List(ctx, metav1.ListOptions{})
			if len(pods.Items) != 1 || pods.Items[0].Name != "not-owned" {
				t.Errorf("pods after delete: %v", pods.Items)
			}
			if _, err := f.Typed.AppsV1().Deployments("lab").Get(ctx, "web", metav1.GetOptions{}); err == nil {
				t.Error("Deployment still there after delete")
			}
		})
	}
}

func TestControllerReapplyReplacesPods(t *testing.T) {
	f := kubetest.New()
	ctl := f.SimulateControllers(kubetest.ControllerOptions{})
	ctx := context.Background()
	for range 2 {
		if err := f.Clients.Apply(ctx, kube.FieldManager, deployment("web", 1)); err != nil {
			t.Fatal(err)
		}
	}
	pods, _ := f.Typed.CoreV1().Pods("lab").List(ctx, metav1.ListOptions{})
	if len(pods.Items) != 1 || ctl.Rollouts() != 2 || pods.Items[0].Spec.NodeName != "kind-control-plane" {
		t.Fatalf("after two applies: %d pods, %d rollouts, %+v", len(pods.Items), ctl.Rollouts(), pods.Items)
	}
	if !strings.HasSuffix(string(pods.Items[0].UID), "-2-0") {
		t.Errorf("pod UID %s: not the second rollout's pod", pods.Items[0].UID)
	}
}
