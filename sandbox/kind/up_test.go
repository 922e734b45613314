package kind_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"meshgym/sandbox"
	"meshgym/sandbox/kind"
)

// memClusters is kind.Clusters in memory: clusters are map entries, every
// call is recorded, and a step can be made to fail.
type memClusters struct {
	mu       sync.Mutex
	clusters map[string]kind.ClusterInfo
	loaded   map[string][]string // cluster → images loaded
	calls    []string

	createErr error
	loadErr   error
	deleteErr error
}

func newMemClusters(existing ...string) *memClusters {
	m := &memClusters{clusters: map[string]kind.ClusterInfo{}, loaded: map[string][]string{}}
	for _, n := range existing {
		m.clusters[n] = kind.ClusterInfo{Name: n, Kubeconfig: "kubeconfig-of-" + n, EntryHostPort: 8200}
	}
	return m
}

func (m *memClusters) record(s string) {
	m.calls = append(m.calls, s)
}

func (m *memClusters) Get(_ context.Context, name string) (kind.ClusterInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.record("get " + name)
	info, ok := m.clusters[name]
	if !ok {
		return kind.ClusterInfo{}, fmt.Errorf("cluster %s: %w", name, kind.ErrNoCluster)
	}
	return info, nil
}

func (m *memClusters) Create(ctx context.Context, spec kind.ClusterSpec, pull bool, progress func(string)) (kind.ClusterInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.record(fmt.Sprintf("create %s pull=%v", spec.Name, pull))
	if info, ok := m.clusters[spec.Name]; ok {
		return info, nil // reused, as KindClusters.Create does for one meshgym made
	}
	info := kind.ClusterInfo{Name: spec.Name, Mesh: spec.Mesh, EntryHostPort: 8200, NodeImage: kind.NodeImage,
		Kubeconfig: "kubeconfig-of-" + spec.Name}
	if m.createErr != nil {
		return kind.ClusterInfo{}, m.createErr
	}
	progress("created " + spec.Name)
	m.clusters[spec.Name] = info
	return info, nil
}

func (m *memClusters) Delete(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.record("delete " + name)
	if m.deleteErr != nil {
		return m.deleteErr
	}
	delete(m.clusters, name)
	delete(m.loaded, name)
	return nil
}

func (m *memClusters) List(context.Context) ([]kind.ClusterInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []kind.ClusterInfo
	for _, n := range slices.Sorted(mapsKeys(m.clusters)) {
		out = append(out, m.clusters[n])
	}
	return out, nil
}

func (m *memClusters) LoadImages(_ context.Context, name string, images []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.record(fmt.Sprintf("load %s %s", name, strings.Join(images, ",")))
	if _, ok := m.clusters[name]; !ok {
		return fmt.Errorf("cluster %s: %w", name, kind.ErrNoCluster)
	}
	if m.loadErr != nil {
		return m.loadErr
	}
	m.loaded[name] = append(m.loaded[name], images...)
	return nil
}

func (m *memClusters) names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(mapsKeys(m.clusters))
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestUp(t *testing.T) {
	errCreate := errors.New("docker: no space left on device")
	errLoad := errors.New("ctr: image import failed")
	errInstall := errors.New("chart istiod 1.27.1: timed out waiting for the condition")
	images := []string{"meshgym/app:dev", "docker.io/istio/proxyv2:1.27.1"}
	tests := []struct {
		name     string
		existing []string
		setup    func(m *memClusters)
		install  func(ctx context.Context, cl sandbox.Cluster) error
		cancel   bool // cancel ctx during install
		err      error
		errText  string
		created  bool
		left     []string
		calls    []string
		installs int
	}{
		{name: "creates, loads, installs",
			created: true, left: []string{"meshgym-istio"}, installs: 1,
			calls: []string{"get meshgym-istio", "create meshgym-istio pull=true", "load meshgym-istio " + strings.Join(images, ",")}},
		{name: "create fails, nothing is left", setup: func(m *memClusters) { m.createErr = errCreate },
			err: errCreate, left: nil,
			calls: []string{"get meshgym-istio", "create meshgym-istio pull=true"}},
		{name: "loading images fails, the cluster is deleted", setup: func(m *memClusters) { m.loadErr = errLoad },
			err: errLoad, left: nil,
			calls: []string{"get meshgym-istio", "create meshgym-istio pull=true", "load meshgym-istio " + strings.Join(images, ","), "delete meshgym-istio"}},
		{name: "install fails, the cluster is deleted",
			install: func(context.Context, sandbox.Cluster) error { return errInstall },
			err:     errInstall, errText: "install istio into kind cluster meshgym-istio: chart istiod", left: nil, installs: 1,
			calls: []string{"get meshgym-istio", "create meshgym-istio pull=true", "load meshgym-istio " + strings.Join(images, ","), "delete meshgym-istio"}},
		{name: "install fails and the delete too: both said",
			setup:   func(m *memClusters) { m.deleteErr = errors.New("docker daemon gone") },
			install: func(context.Context, sandbox.Cluster) error { return errInstall },
			err:     errInstall, errText: "deleting the cluster failed too: docker daemon gone (run 'meshgym down')",
			left: []string{"meshgym-istio"}, installs: 1,
			calls: []string{"get meshgym-istio", "create meshgym-istio pull=true", "load meshgym-istio " + strings.Join(images, ","), "delete meshgym-istio"}},
		{name: "existing cluster is reused and kept when install fails", existing: []string{"meshgym-istio"},
			install: func(context.Context, sandbox.Cluster) error { return errInstall },
			err:     errInstall, left: []string{"meshgym-istio"}, installs: 1,
			calls: []string{"get meshgym-istio", "create meshgym-istio pull=true", "load meshgym-istio " + strings.Join(images, ",")}},
		{name: "existing cluster is reused", existing: []string{"meshgym-istio"},
			created: false, left: []string{"meshgym-istio"}, installs: 1,
			calls: []string{"get meshgym-istio", "create meshgym-istio pull=true", "load meshgym-istio " + strings.Join(images, ",")}},
		{name: "ctrl-c during install still deletes the cluster Up created", cancel: true,
			install: func(ctx context.Context, cl sandbox.Cluster) error {
				<-ctx.Done() // a Helm wait ends with the context
				return ctx.Err()
			},
			err: context.Canceled, left: nil, installs: 1,
			calls: []string{"get meshgym-istio", "create meshgym-istio pull=true", "load meshgym-istio " + strings.Join(images, ","), "delete meshgym-istio"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemClusters(tt.existing...)
			if tt.setup != nil {
				tt.setup(m)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var installed []sandbox.Cluster
			var mu sync.Mutex
			install := func(ictx context.Context, cl sandbox.Cluster) error {
				mu.Lock()
				installed = append(installed, cl)
				mu.Unlock()
				// The cluster exists while the mesh is installed.
				if !slices.Contains(m.names(), cl.Name) {
					t.Errorf("install into cluster %s, which is not there", cl.Name)
				}
				if tt.cancel {
					cancel()
				}
				if tt.install != nil {
					return tt.install(ictx, cl)
				}
				return nil
			}
			var progress []string
			res, err := kind.Up(ctx, kind.UpOptions{
				Clusters: m,
				Spec:     kind.ClusterSpec{Name: "meshgym-istio", Mesh: "istio"},
				Pull:     true,
				Images:   func(context.Context) ([]string, error) { return images, nil },
				Install:  install,
				Progress: func(s string) { progress = append(progress, s) },
			})
			if tt.err == nil && err != nil {
				t.Fatalf("Up: %v", err)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Fatalf("Up err = %v, want %v", err, tt.err)
			}
			if tt.errText != "" && !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("Up err = %q, want it to contain %q", err, tt.errText)
			}
			if err == nil && res.Created != tt.created {
				t.Errorf("Created = %v, want %v", res.Created, tt.created)
			}
			if got := m.names(); !slices.Equal(got, tt.left) {
				t.Errorf("clusters left %v, want %v", got, tt.left)
			}
			m.mu.Lock()
			calls := slices.Clone(m.calls)
			m.mu.Unlock()
			if !slices.Equal(calls, tt.calls) {
				t.Errorf("calls\n  %s\nwant\n  %s", strings.Join(calls, "\n  "), strings.Join(tt.calls, "\n  "))
			}
			if len(installed) != tt.installs {
				t.Fatalf("%d installs, want %d", len(installed), tt.installs)
			}
			if tt.installs > 0 {
				want := sandbox.Cluster{Name: "meshgym-istio", Kubeconfig: "kubeconfig-of-meshgym-istio", Namespace: "meshgym", Mesh: "istio"}
				if installed[0] != want {
					t.Errorf("installed into %+v, want %+v", installed[0], want)
				}
			}
			if err == nil && tt.installs > 0 {
				if got := m.loaded["meshgym-istio"]; !slices.Equal(got, images) {
					t.Errorf("images loaded %v, want %v", got, images)
				}
			}
			deleted := slices.Contains(calls, "delete meshgym-istio")
			said := strings.Contains(strings.Join(progress, "\n"), "deleting kind cluster meshgym-istio, which this failed 'up' created")
			if deleted != said {
				t.Errorf("deleted=%v but progress said so=%v: %q", deleted, said, progress)
			}
		})
	}
}

func TestUpWithoutInstallOrImages(t *testing.T) {
	m := newMemClusters()
	res, err := kind.Up(context.Background(), kind.UpOptions{Clusters: m, Spec: kind.ClusterSpec{Name: "meshgym-kind"}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Cluster.Name != "meshgym-kind" || res.Cluster.Kubeconfig != "kubeconfig-of-meshgym-kind" {
		t.Errorf("result %+v", res)
	}
	if got := strings.Join(m.calls, ","); got != "get meshgym-kind,create meshgym-kind pull=false" {
		t.Errorf("calls %s", got)
	}
	if _, err := kind.Up(context.Background(), kind.UpOptions{}); err == nil {
		t.Error("Up without Clusters succeeded")
	}
}
