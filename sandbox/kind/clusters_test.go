package kind

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

// updateGolden is the package's -update flag (rewrite testdata golden
// files); looked up first so another test file of the package may define
// it too.
var updateGolden = func() func() bool {
	if f := flag.Lookup("update"); f != nil {
		return func() bool { return f.Value.String() == "true" }
	}
	b := flag.Bool("update", false, "rewrite the golden files in testdata")
	return func() bool { return *b }
}()

// testEnv is a KindClusters on fakes with a registry in a temp dir.
type testEnv struct {
	k        *KindClusters
	prov     *fakeProvider
	docker   *fakeDocker
	regPath  string
	mu       sync.Mutex
	logLines []string
}

func newTestEnv(t *testing.T, dockerImages ...string) *testEnv {
	t.Helper()
	e := &testEnv{prov: newFakeProvider(), docker: newFakeDocker(dockerImages...)}
	e.docker.prov = e.prov
	e.regPath = filepath.Join(t.TempDir(), "meshgym", "kind-clusters.json")
	k, err := NewKindClusters(KindOptions{
		RegistryPath:   e.regPath,
		KubeconfigPath: "/tmp/meshgym-test-kubeconfig",
		Logf: func(f string, a ...any) {
			e.mu.Lock()
			e.logLines = append(e.logLines, fmt.Sprintf(f, a...))
			e.mu.Unlock()
		},
		provider: e.prov,
		docker:   e.docker,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.k = k
	return e
}

func (e *testEnv) logs() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.logLines, "\n")
}

// registryEntries reads the registry file as another process would.
func (e *testEnv) registryEntries(t *testing.T) map[string]*entry {
	t.Helper()
	data, err := os.ReadFile(e.regPath)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]*entry{}
	}
	if err != nil {
		t.Fatal(err)
	}
	f, err := decodeRegistry(data)
	if err != nil {
		t.Fatalf("registry file is not a registry: %v\n%s", err, data)
	}
	out := map[string]*entry{}
	for _, en := range f.Clusters {
		out[en.Name] = en
	}
	return out
}

type progressLog struct {
	mu    sync.Mutex
	lines []string
}

func (p *progressLog) add(s string) { p.mu.Lock(); p.lines = append(p.lines, s); p.mu.Unlock() }
func (p *progressLog) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// explicitFreePort returns a port free right now that is not the default.
func explicitFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestRenderConfigGolden(t *testing.T) {
	raw, err := RenderConfig("meshgym-istio", NodeImage, DefaultEntryHostPort)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "kind-config.golden.yaml")
	if updateGolden() {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./sandbox/kind -run TestRenderConfigGolden -update)", err)
	}
	if !bytes.Equal(raw, want) {
		t.Errorf("rendered kind config differs from %s (rerun with -update if intended):\n%s", golden, raw)
	}
	// kind reads it: strict decoding into its v1alpha4 types, and the
	// fields that matter.
	var c v1alpha4.Cluster
	if err := yaml.UnmarshalStrict(raw, &c); err != nil {
		t.Fatalf("kind's v1alpha4.Cluster does not decode the config strictly: %v", err)
	}
	if c.Kind != "Cluster" || c.APIVersion != "kind.x-k8s.io/v1alpha4" || c.Name != "meshgym-istio" {
		t.Errorf("type meta / name = %q %q %q", c.Kind, c.APIVersion, c.Name)
	}
	if len(c.Nodes) != 1 || c.Nodes[0].Role != v1alpha4.ControlPlaneRole || c.Nodes[0].Image != NodeImage {
		t.Fatalf("nodes = %+v, want one control-plane of %s", c.Nodes, NodeImage)
	}
	pm := c.Nodes[0].ExtraPortMappings
	want1 := v1alpha4.PortMapping{ContainerPort: EntryNodePort, HostPort: DefaultEntryHostPort, ListenAddress: "127.0.0.1", Protocol: v1alpha4.PortMappingProtocolTCP}
	if len(pm) != 1 || pm[0] != want1 {
		t.Errorf("extraPortMappings = %+v, want [%+v]", pm, want1)
	}
	for _, bad := range []int{0, -1, 65536} {
		if _, err := RenderConfig("x", NodeImage, bad); err == nil {
			t.Errorf("RenderConfig port %d: no error", bad)
		}
	}
}

func TestCreateRecordsBeforeKindThenReady(t *testing.T) {
	e := newTestEnv(t, NodeImage)
	port := explicitFreePort(t)
	var during *entry
	e.prov.onCreate = func(name string) { during = e.registryEntries(t)[name] }
	var p progressLog
	info, err := e.k.Create(context.Background(), ClusterSpec{Name: "meshgym-istio", Mesh: "istio", EntryHostPort: port}, false, p.add)
	if err != nil {
		t.Fatal(err)
	}
	if during == nil || !during.Creating || during.PID != os.Getpid() || during.EntryHostPort != port || during.Mesh != "istio" {
		t.Fatalf("registry entry while kind was creating = %+v; want it recorded (creating, this pid, port %d, mesh istio)", during, port)
	}
	after := e.registryEntries(t)["meshgym-istio"]
	if after == nil || after.Creating {
		t.Fatalf("registry entry after create = %+v; want it recorded and no longer creating", after)
	}
	if info.Name != "meshgym-istio" || info.EntryHostPort != port || info.NodeImage != NodeImage || info.Mesh != "istio" || info.Created.IsZero() {
		t.Errorf("info = %+v", info)
	}
	if !strings.Contains(info.Kubeconfig, "server: https://127.0.0.1:") {
		t.Errorf("kubeconfig = %q, want the external one", info.Kubeconfig)
	}
	if len(e.prov.creates) != 1 {
		t.Fatalf("kind creates = %d, want 1", len(e.prov.creates))
	}
	c := e.prov.creates[0]
	if c.wait != DefaultWait || c.kubeconfigPath != "/tmp/meshgym-test-kubeconfig" {
		t.Errorf("kind create wait %v kubeconfig %q; want %v and the option's path", c.wait, c.kubeconfigPath, DefaultWait)
	}
	if got := c.cfg.Nodes[0].ExtraPortMappings[0].HostPort; int(got) != port {
		t.Errorf("kind config hostPort = %d, want %d", got, port)
	}
	wantLine := "creating kind cluster meshgym-istio (node image kindest/node:v1.37.0, entry on 127.0.0.1:"
	if !strings.Contains(p.String(), wantLine) || !strings.Contains(p.String(), "about a minute") {
		t.Errorf("progress = %q, want a line %q… about a minute", p.String(), wantLine)
	}

	// A second Create of the same name reuses it: no second kind create.
	var p2 progressLog
	again, err := e.k.Create(context.Background(), ClusterSpec{Name: "meshgym-istio", Wait: time.Minute}, false, p2.add)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.prov.creates) != 1 || again.EntryHostPort != port || !strings.Contains(p2.String(), "reusing kind cluster meshgym-istio") {
		t.Errorf("second create: kind creates %d, info %+v, progress %q; want reuse", len(e.prov.creates), again, p2.String())
	}
	// Get returns it with its kubeconfig.
	got, err := e.k.Get(context.Background(), "meshgym-istio")
	if err != nil || got.EntryHostPort != port || got.Kubeconfig == "" {
		t.Errorf("Get = %+v, %v", got, err)
	}
}

func TestCreateFailures(t *testing.T) {
	tests := []struct {
		name        string
		createErr   error
		wantDeleted bool // what kind made is deleted
	}{
		{"kubeadm fails", errors.New("failed to init node with kubeadm"), true},
		// Someone else's cluster of that name appeared meanwhile: kind
		// refuses, and meshgym must not delete theirs.
		{"appeared meanwhile", errors.New(`node(s) already exist for a cluster with the name "meshgym-x"`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t, NodeImage)
			e.prov.createErr = tt.createErr
			var recorded bool
			e.prov.onCreate = func(name string) { _, recorded = e.registryEntries(t)[name] }
			_, err := e.k.Create(context.Background(), ClusterSpec{Name: "meshgym-x"}, false, nil)
			if err == nil || !strings.Contains(err.Error(), tt.createErr.Error()) {
				t.Fatalf("err = %v, want kind's", err)
			}
			if !recorded {
				t.Error("the cluster was not in the registry while kind was creating it")
			}
			if deleted := slices.Contains(e.prov.deletes, "meshgym-x"); deleted != tt.wantDeleted {
				t.Errorf("kind delete called = %v, want %v", deleted, tt.wantDeleted)
			}
			if tt.wantDeleted && e.prov.has("meshgym-x") {
				t.Error("the half-made cluster is still there")
			}
			if _, ok := e.registryEntries(t)["meshgym-x"]; ok {
				t.Error("the registry entry was not dropped after the failed create")
			}
		})
	}
}

// A crash mid-create (kind panics after making the node) leaves the entry:
// List finds the half-made cluster and Down deletes it.
func TestCreateCrashIsSweptByDown(t *testing.T) {
	e := newTestEnv(t, NodeImage)
	e.prov.panicOnCreate = true
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the fake kind did not panic")
			}
		}()
		e.k.Create(context.Background(), ClusterSpec{Name: "meshgym-crash"}, false, nil)
	}()
	en := e.registryEntries(t)["meshgym-crash"]
	if en == nil || !en.Creating {
		t.Fatalf("registry after the crash = %+v, want the cluster recorded as creating", en)
	}
	list, err := e.k.List(context.Background())
	if err != nil || len(list) != 1 || list[0].Name != "meshgym-crash" {
		t.Fatalf("List = %+v, %v; want the half-made cluster", list, err)
	}
	// Create of the same name refuses the half-made cluster.
	if _, err := e.k.Create(context.Background(), ClusterSpec{Name: "meshgym-crash"}, false, nil); err == nil || !strings.Contains(err.Error(), "half made") {
		t.Errorf("create over the half-made cluster: %v", err)
	}
	removed, err := Down(context.Background(), e.k, nil)
	if err != nil || !slices.Equal(removed, []string{"meshgym-crash"}) {
		t.Fatalf("Down = %v, %v", removed, err)
	}
	if e.prov.has("meshgym-crash") || len(e.registryEntries(t)) != 0 {
		t.Error("Down left the cluster or its entry")
	}
}

func TestCreateRefusals(t *testing.T) {
	tests := []struct {
		name      string
		docker    []string
		user      string // a cluster the user made with kind
		spec      ClusterSpec
		wantIs    error
		wantInErr []string
	}{
		{"foreign cluster", []string{NodeImage}, "meshgym-istio", ClusterSpec{Name: "meshgym-istio"}, nil,
			[]string{"kind cluster meshgym-istio exists but meshgym did not create it; choose another --cluster name"}},
		{"no node image", nil, "", ClusterSpec{Name: "meshgym-istio"}, ErrNoNodeImage,
			[]string{"docker pull " + NodeImage}},
		{"other node image missing", []string{NodeImage}, "", ClusterSpec{Name: "meshgym-istio", NodeImage: "kindest/node:v1.30.0"}, ErrNoNodeImage,
			[]string{"docker pull kindest/node:v1.30.0"}},
		{"bad name", []string{NodeImage}, "", ClusterSpec{Name: "Meshgym_Istio"}, ErrBadClusterName, []string{"invalid kind cluster name"}},
		{"name starting with a dash", []string{NodeImage}, "", ClusterSpec{Name: "-x"}, ErrBadClusterName, []string{"starting and ending with a letter or digit"}},
		{"name of a dot", []string{NodeImage}, "", ClusterSpec{Name: "."}, ErrBadClusterName, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t, tt.docker...)
			if tt.user != "" {
				e.prov.userCluster(tt.user)
			}
			_, err := e.k.Create(context.Background(), tt.spec, false, nil)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("err = %v, want it to wrap %v", err, tt.wantIs)
			}
			for _, s := range tt.wantInErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("err = %q, want it to contain %q", err, s)
				}
			}
			if len(e.prov.creates) != 0 || len(e.registryEntries(t)) != 0 {
				t.Errorf("kind creates %d, registry %v; want neither", len(e.prov.creates), e.registryEntries(t))
			}
			if tt.user != "" && !e.prov.has(tt.user) {
				t.Error("the user's cluster is gone")
			}
		})
	}
}

// An image saved elsewhere and `docker load`ed here has its tag but not
// its registry digest: the pinned node image is found by its tag, and
// kind is handed the tag (so it does not try to pull).
func TestCreateFindsTheNodeImageByTag(t *testing.T) {
	tag := tagOnly(NodeImage)
	if tag == "" || strings.Contains(tag, "@") {
		t.Fatalf("tagOnly(%s) = %q", NodeImage, tag)
	}
	e := newTestEnv(t, tag)
	if ok, err := e.k.NodeImagePresent(context.Background()); err != nil || !ok {
		t.Errorf("NodeImagePresent = %v, %v; want true by tag", ok, err)
	}
	info, err := e.k.Create(context.Background(), ClusterSpec{Name: "meshgym-tag", EntryHostPort: explicitFreePort(t)}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.prov.creates[0].cfg.Nodes[0].Image; got != tag || info.NodeImage != tag {
		t.Errorf("kind got node image %q (info %q), want the tag %q", got, info.NodeImage, tag)
	}
}

func TestCreatePullsWhenAsked(t *testing.T) {
	e := newTestEnv(t) // no node image
	var p progressLog
	if _, err := e.k.Create(context.Background(), ClusterSpec{Name: "meshgym-pull", EntryHostPort: explicitFreePort(t)}, true, p.add); err != nil {
		t.Fatal(err)
	}
	if len(e.prov.creates) != 1 || !strings.Contains(p.String(), "kind pulls it") {
		t.Errorf("creates %d, progress %q; want kind to create (and pull)", len(e.prov.creates), p.String())
	}
}

func TestCreateEntryPort(t *testing.T) {
	// Hold the default port (if something else holds it already, it is
	// taken all the same).
	if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", DefaultEntryHostPort)); err == nil {
		defer l.Close()
	}
	e := newTestEnv(t, NodeImage)
	var p progressLog
	info, err := e.k.Create(context.Background(), ClusterSpec{Name: "meshgym-a"}, false, p.add)
	if err != nil {
		t.Fatal(err)
	}
	if info.EntryHostPort == DefaultEntryHostPort || info.EntryHostPort <= 0 {
		t.Fatalf("entry port = %d, want a free one other than %d", info.EntryHostPort, DefaultEntryHostPort)
	}
	want := fmt.Sprintf("host port %d on 127.0.0.1 is taken; the entry service will be on 127.0.0.1:%d", DefaultEntryHostPort, info.EntryHostPort)
	if !strings.Contains(p.String(), want) {
		t.Errorf("progress = %q, want %q", p.String(), want)
	}
	if got := e.prov.creates[0].cfg.Nodes[0].ExtraPortMappings[0].HostPort; int(got) != info.EntryHostPort {
		t.Errorf("kind config hostPort %d, want %d", got, info.EntryHostPort)
	}

	// An explicit port that is taken, or recorded for another cluster, is
	// an error.
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	heldPort := held.Addr().(*net.TCPAddr).Port
	for _, tc := range []struct {
		port int
		want string
	}{
		{heldPort, fmt.Sprintf("127.0.0.1:%d is taken", heldPort)},
		{info.EntryHostPort, "is kind cluster meshgym-a's"},
	} {
		_, err := e.k.Create(context.Background(), ClusterSpec{Name: "meshgym-b", EntryHostPort: tc.port}, false, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("explicit port %d: err = %v, want %q", tc.port, err, tc.want)
		}
	}
	if len(e.prov.creates) != 1 {
		t.Errorf("kind creates = %d, want 1", len(e.prov.creates))
	}
}

func TestGetAndListReconcile(t *testing.T) {
	e := newTestEnv(t, NodeImage)
	ctx := context.Background()
	for _, n := range []string{"meshgym-a", "meshgym-b"} {
		if _, err := e.k.Create(ctx, ClusterSpec{Name: n, EntryHostPort: explicitFreePort(t)}, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	e.prov.userCluster("meshgym-user")
	e.prov.vanish("meshgym-a") // deleted with `kind delete cluster`

	_, err := e.k.Get(ctx, "meshgym-a")
	if !errors.Is(err, ErrNoCluster) || !strings.Contains(err.Error(), "gone") {
		t.Errorf("Get of a gone cluster: %v, want ErrNoCluster saying it is gone", err)
	}
	if _, ok := e.registryEntries(t)["meshgym-a"]; ok {
		t.Error("Get left the gone cluster in the registry")
	}
	if _, err := e.k.Get(ctx, "meshgym-user"); !errors.Is(err, ErrNoCluster) || !strings.Contains(err.Error(), "did not create") {
		t.Errorf("Get of the user's cluster: %v", err)
	}
	if _, err := e.k.Get(ctx, "meshgym-none"); !errors.Is(err, ErrNoCluster) {
		t.Errorf("Get of an unknown cluster: %v", err)
	}

	// Entries being created: one by a live process (this one) that kind
	// does not list yet is kept; one left by a dead process is dropped.
	err = e.k.reg.update(func(en map[string]*entry) (bool, error) {
		now := time.Now().UTC()
		en["meshgym-live"] = &entry{ClusterInfo: ClusterInfo{Name: "meshgym-live", Created: now, EntryHostPort: 1}, Creating: true, PID: os.Getpid(), Host: e.k.host}
		en["meshgym-dead"] = &entry{ClusterInfo: ClusterInfo{Name: "meshgym-dead", Created: now, EntryHostPort: 2}, Creating: true, PID: 1 << 30, Host: e.k.host}
		en["meshgym-old"] = &entry{ClusterInfo: ClusterInfo{Name: "meshgym-old", Created: now.Add(-2 * creatingGrace), EntryHostPort: 3}, Creating: true, PID: 1, Host: "elsewhere"}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	list, err := e.k.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range list {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"meshgym-b"}) {
		t.Errorf("List = %v, want [meshgym-b]", names)
	}
	var left []string
	for n := range e.registryEntries(t) {
		left = append(left, n)
	}
	slices.Sort(left)
	if !slices.Equal(left, []string{"meshgym-b", "meshgym-live"}) {
		t.Errorf("registry after List = %v, want [meshgym-b meshgym-live]", left)
	}
	// Deleting or creating the one still being created elsewhere is
	// refused.
	if err := e.k.Delete(ctx, "meshgym-live"); err == nil || !strings.Contains(err.Error(), "being created") {
		t.Errorf("Delete of a running create: %v", err)
	}
	if _, err := e.k.Create(ctx, ClusterSpec{Name: "meshgym-live"}, false, nil); err == nil || !strings.Contains(err.Error(), "being created") {
		t.Errorf("Create of a running create: %v", err)
	}

	// A recorded cluster that vanished (entry not yet reconciled) is
	// created anew.
	e.prov.vanish("meshgym-b")
	if _, err := e.k.Create(ctx, ClusterSpec{Name: "meshgym-b", EntryHostPort: explicitFreePort(t)}, false, nil); err != nil {
		t.Errorf("re-create of a vanished cluster: %v", err)
	}
	if !e.prov.has("meshgym-b") || e.registryEntries(t)["meshgym-b"].Creating {
		t.Error("re-created cluster missing or still marked creating")
	}
}

func TestDeleteAndDown(t *testing.T) {
	e := newTestEnv(t, NodeImage)
	ctx := context.Background()
	for _, n := range []string{"meshgym-istio", "meshgym-linkerd", "meshgym-consul"} {
		if _, err := e.k.Create(ctx, ClusterSpec{Name: n, EntryHostPort: explicitFreePort(t)}, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	e.prov.userCluster("meshgym-foo") // the user's, with meshgym's prefix
	e.prov.userCluster("kind")

	if err := e.k.Delete(ctx, "meshgym-foo"); err == nil || !strings.Contains(err.Error(), "not created by meshgym") {
		t.Errorf("Delete of the user's cluster: %v", err)
	}
	if err := e.k.Delete(ctx, "meshgym-never"); err != nil {
		t.Errorf("Delete of a cluster that does not exist: %v, want nil", err)
	}
	if err := e.k.Delete(ctx, "meshgym-consul"); err != nil {
		t.Fatal(err)
	}
	if e.prov.has("meshgym-consul") {
		t.Error("Delete left the cluster")
	}
	if err := e.k.Delete(ctx, "meshgym-consul"); err != nil {
		t.Errorf("second Delete: %v, want nil (gone)", err)
	}

	var lines []string
	removed, err := Down(ctx, e.k, func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, []string{"meshgym-istio", "meshgym-linkerd"}) {
		t.Errorf("Down removed %v", removed)
	}
	if left, _ := e.prov.List(); !slices.Equal(left, []string{"kind", "meshgym-foo"}) {
		t.Errorf("clusters after Down = %v, want only the user's", left)
	}
	if len(e.registryEntries(t)) != 0 {
		t.Errorf("registry after Down = %v", e.registryEntries(t))
	}
	if len(lines) != 2 || !strings.Contains(lines[0], "deleting kind cluster meshgym-istio") {
		t.Errorf("Down lines = %q", lines)
	}
	if removed, err := Down(ctx, e.k, nil); err != nil || len(removed) != 0 {
		t.Errorf("second Down = %v, %v", removed, err)
	}
}

// A failed delete does not stop Down: the others are removed, the error
// is returned and the failed one stays recorded.
func TestDownContinuesAfterAFailure(t *testing.T) {
	e := newTestEnv(t, NodeImage)
	ctx := context.Background()
	for _, n := range []string{"meshgym-a", "meshgym-b"} {
		if _, err := e.k.Create(ctx, ClusterSpec{Name: n, EntryHostPort: explicitFreePort(t)}, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	e.prov.deleteErr = map[string]error{"meshgym-a": errors.New("docker rm: device busy")}
	removed, err := Down(ctx, e.k, nil)
	if err == nil || !strings.Contains(err.Error(), "device busy") {
		t.Errorf("err = %v, want the failed delete's", err)
	}
	if !slices.Equal(removed, []string{"meshgym-b"}) {
		t.Errorf("removed = %v", removed)
	}
	if _, ok := e.registryEntries(t)["meshgym-a"]; !ok {
		t.Error("the cluster that failed to delete left the registry")
	}
}

func TestLoadImages(t *testing.T) {
	app, sidecar, proxy := "meshgym-app:0.1.0", "meshgym-sidecar:0.1.0", "docker.io/istio/proxyv2:1.32.0"
	e := newTestEnv(t, NodeImage, app, sidecar, proxy)
	e.prov.nodesPerCluster = 2
	ctx := context.Background()
	if _, err := e.k.Create(ctx, ClusterSpec{Name: "meshgym-istio", EntryHostPort: explicitFreePort(t)}, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.k.LoadImages(ctx, "meshgym-istio", []string{app, sidecar, proxy, app}); err != nil {
		t.Fatal(err)
	}
	if e.docker.saveCount() != 1 || !slices.Equal(e.docker.saves[0], []string{app, sidecar, proxy}) {
		t.Errorf("docker saves = %v, want one of the three images", e.docker.saves)
	}
	nodes := e.prov.nodesOf("meshgym-istio")
	if len(nodes) != 2 {
		t.Fatalf("nodes = %d", len(nodes))
	}
	for _, n := range nodes {
		if len(n.imports) != 1 {
			t.Errorf("node %s: %d imports, want 1", n.name, len(n.imports))
		}
		for _, ref := range []string{app, sidecar, proxy} {
			if n.images[ref] != e.docker.images[ref] {
				t.Errorf("node %s: image %s has ID %q, want %q", n.name, ref, n.images[ref], e.docker.images[ref])
			}
		}
	}
	// Present on every node with the same IDs: nothing is saved again.
	if err := e.k.LoadImages(ctx, "meshgym-istio", []string{app, proxy}); err != nil {
		t.Fatal(err)
	}
	if e.docker.saveCount() != 1 {
		t.Errorf("docker saves = %d after loading present images, want still 1", e.docker.saveCount())
	}
	// A rebuilt image (new ID) is loaded again.
	e.docker.images[app] = "sha256:" + strings.Repeat("f", 64)
	if err := e.k.LoadImages(ctx, "meshgym-istio", []string{app}); err != nil {
		t.Fatal(err)
	}
	if e.docker.saveCount() != 2 || nodes[0].images[app] != e.docker.images[app] {
		t.Errorf("rebuilt image not reloaded: saves %d, node ID %q", e.docker.saveCount(), nodes[0].images[app])
	}

	tests := []struct {
		name    string
		cluster string
		images  []string
		want    []string
		is      error
	}{
		{"missing image", "meshgym-istio", []string{app, "meshgym-app:9.9.9"}, []string{"image meshgym-app:9.9.9 is not in the local Docker", "meshgym images build", "meshgym images load FILE"}, nil},
		{"two missing", "meshgym-istio", []string{"a:1", "b:2"}, []string{"images a:1, b:2 are not in the local Docker"}, nil},
		{"not meshgym's cluster", "meshgym-user", []string{app}, []string{"did not create"}, ErrNoCluster},
	}
	e.prov.userCluster("meshgym-user")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.docker.saveCount()
			err := e.k.LoadImages(ctx, tt.cluster, tt.images)
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("err = %q, want %q", err, s)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want it to wrap %v", err, tt.is)
			}
			if e.docker.saveCount() != before {
				t.Error("images were saved although the load was refused")
			}
		})
	}
}

func TestNodeImagePresentSeam(t *testing.T) {
	for _, tc := range []struct {
		images []string
		want   bool
	}{{[]string{NodeImage}, true}, {[]string{"kindest/node:v1.30.0"}, false}} {
		e := newTestEnv(t, tc.images...)
		got, err := e.k.NodeImagePresent(context.Background())
		if err != nil || got != tc.want {
			t.Errorf("images %v: NodeImagePresent = %v, %v; want %v", tc.images, got, err, tc.want)
		}
	}
}

// kind's progress lines reach Create's progress while it runs, Logf
// otherwise.
func TestKindLoggerRoutesLines(t *testing.T) {
	e := newTestEnv(t, NodeImage)
	var p progressLog
	e.prov.onCreate = func(string) {
		kindLogger{e.k.kindLine}.V(0).Infof(" • Ensuring node image (%s) 🖼  ...\n", "kindest/node:v1.37.0")
		kindLogger{e.k.kindLine}.V(1).Info("debug line")
	}
	if _, err := e.k.Create(context.Background(), ClusterSpec{Name: "meshgym-log", EntryHostPort: explicitFreePort(t)}, false, p.add); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.String(), "Ensuring node image (kindest/node:v1.37.0)") || strings.Contains(p.String(), "debug line") {
		t.Errorf("progress = %q", p.String())
	}
	kindLogger{e.k.kindLine}.Warn("outside a create")
	if !strings.Contains(e.logs(), "warning: outside a create") {
		t.Errorf("logs = %q", e.logs())
	}
}

// A registry entry whose cluster was deleted outside meshgym, and a
// cluster the user then made under the same name: down (and List, Get,
// Delete) must leave the user's cluster alone and forget the stale entry.
func TestStaleEntryNeverTakesTheUsersCluster(t *testing.T) {
	e := newTestEnv(t, NodeImage)
	ctx := context.Background()
	if _, err := e.k.Create(ctx, ClusterSpec{Name: "lab", EntryHostPort: explicitFreePort(t)}, false, nil); err != nil {
		t.Fatal(err)
	}
	// The user: `kind delete cluster --name lab`, then `kind create cluster --name lab`.
	e.prov.mu.Lock()
	delete(e.prov.clusters, "lab")
	e.prov.creates = nil
	e.prov.mu.Unlock()
	e.prov.userCluster("lab")
	e.docker.userPorts = nil // kind's default config publishes no entry port
	removed, err := Down(ctx, e.k, nil)
	if err != nil || len(removed) != 0 {
		t.Errorf("Down = %v, %v; want nothing removed", removed, err)
	}
	if !e.prov.has("lab") {
		t.Fatal("Down deleted the user's cluster")
	}
	if _, ok := e.registryEntries(t)["lab"]; ok {
		t.Error("the stale entry is still in the registry")
	}
	if _, err := e.k.Get(ctx, "lab"); !errors.Is(err, ErrNoCluster) {
		t.Errorf("Get = %v, want ErrNoCluster (not meshgym's)", err)
	}
	if err := e.k.Delete(ctx, "lab"); err == nil || !e.prov.has("lab") {
		t.Errorf("Delete = %v; want a refusal and the cluster kept", err)
	}
}

// An entry made on another Docker daemon (DOCKER_HOST) is neither listed
// nor dropped by a process that talks to this one: its nodes are just not
// visible here.
func TestEntriesOfAnotherDaemonAreKept(t *testing.T) {
	e := newTestEnv(t, NodeImage)
	ctx := context.Background()
	if _, err := e.k.Create(ctx, ClusterSpec{Name: "far", EntryHostPort: explicitFreePort(t)}, false, nil); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_HOST", "tcp://10.0.0.9:2375")
	other, err := NewKindClusters(KindOptions{RegistryPath: e.regPath, Logf: func(string, ...any) {}, provider: newFakeProvider(), docker: newFakeDocker(NodeImage)})
	if err != nil {
		t.Fatal(err)
	}
	if list, err := other.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("List on another daemon = %v, %v; want none", list, err)
	}
	if _, err := other.Get(ctx, "far"); !errors.Is(err, ErrNoCluster) || !strings.Contains(err.Error(), "the default Docker daemon") {
		t.Errorf("Get on another daemon = %v", err)
	}
	if removed, err := Down(ctx, other, nil); err != nil || len(removed) != 0 {
		t.Errorf("Down on another daemon = %v, %v", removed, err)
	}
	if _, ok := e.registryEntries(t)["far"]; !ok {
		t.Fatal("the entry was dropped by a process on another daemon")
	}
	if list, err := e.k.List(ctx); err != nil || len(list) != 1 {
		t.Errorf("List on its own daemon = %v, %v; want it", list, err)
	}
}
