package kind

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/exec"
	"sigs.k8s.io/yaml"
)

// fakeProvider is kind's cluster.Provider without Docker: clusters are
// names with fake nodes; Create decodes the rendered config strictly as
// kind would read it.
type fakeProvider struct {
	mu       sync.Mutex
	clusters map[string]*fakeCluster
	creates  []createCall
	deletes  []string

	nodesPerCluster int               // 0 = 1
	onCreate        func(name string) // runs inside Create, after the nodes exist
	createErr       error             // returned by Create (the nodes stay, as with kind's retain)
	panicOnCreate   bool              // Create panics after making the nodes (a crash)
	deleteErr       map[string]error
}

type createCall struct {
	name           string
	cfg            v1alpha4.Cluster
	wait           time.Duration
	kubeconfigPath string
}

type fakeCluster struct {
	nodes []*fakeNode
}

func newFakeProvider() *fakeProvider {
	return &fakeProvider{clusters: map[string]*fakeCluster{}}
}

// userCluster adds a cluster made outside meshgym.
func (f *fakeProvider) userCluster(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clusters[name] = &fakeCluster{nodes: []*fakeNode{newFakeNode(name + "-control-plane")}}
}

func (f *fakeProvider) has(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.clusters[name]
	return ok
}

// vanish deletes a cluster behind meshgym's back (`kind delete cluster`).
func (f *fakeProvider) vanish(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.clusters, name)
}

func (f *fakeProvider) Create(name string, raw []byte, wait time.Duration, kubeconfigPath string) error {
	var cfg v1alpha4.Cluster
	if err := yaml.UnmarshalStrict(raw, &cfg); err != nil {
		return fmt.Errorf("fake kind: config: %w", err)
	}
	f.mu.Lock()
	f.creates = append(f.creates, createCall{name, cfg, wait, kubeconfigPath})
	if _, ok := f.clusters[name]; ok {
		f.mu.Unlock()
		return fmt.Errorf("node(s) already exist for a cluster with the name %q", name)
	}
	n := f.nodesPerCluster
	if n == 0 {
		n = 1
	}
	c := &fakeCluster{}
	for i := 0; i < n; i++ {
		nn := name + "-control-plane"
		if i > 0 {
			nn = fmt.Sprintf("%s-worker%d", name, i)
		}
		c.nodes = append(c.nodes, newFakeNode(nn))
	}
	f.clusters[name] = c
	onCreate, panicking, err := f.onCreate, f.panicOnCreate, f.createErr
	f.mu.Unlock()
	if onCreate != nil {
		onCreate(name)
	}
	if panicking {
		panic("fake kind: crash mid-create")
	}
	return err
}

func (f *fakeProvider) Delete(name, kubeconfigPath string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.deleteErr[name]; err != nil {
		return err
	}
	f.deletes = append(f.deletes, name)
	delete(f.clusters, name)
	return nil
}

func (f *fakeProvider) List() ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for n := range f.clusters {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

func (f *fakeProvider) KubeConfig(name string, internal bool) (string, error) {
	if internal {
		return "", errors.New("fake kind: meshgym must ask for the external kubeconfig")
	}
	if !f.has(name) {
		return "", fmt.Errorf("fake kind: no cluster %s", name)
	}
	return "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://127.0.0.1:40000\n  name: kind-" + name + "\n", nil
}

func (f *fakeProvider) ListInternalNodes(name string) ([]nodes.Node, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.clusters[name]
	if !ok {
		return nil, nil
	}
	var out []nodes.Node
	for _, n := range c.nodes {
		out = append(out, n)
	}
	return out, nil
}

func (f *fakeProvider) nodesOf(name string) []*fakeNode {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.clusters[name]; ok {
		return c.nodes
	}
	return nil
}

// fakeNode answers the commands kind's nodeutils runs on a node:
// `containerd config dump`, `crictl inspecti REF`, and `ctr … images
// import … -` (which reads the docker-save tarball from stdin and records
// its images by manifest.json).
type fakeNode struct {
	name    string
	mu      sync.Mutex
	images  map[string]string // ref → image ID
	imports [][]string        // argv of each import
}

func newFakeNode(name string) *fakeNode { return &fakeNode{name: name, images: map[string]string{}} }

func (n *fakeNode) String() string               { return n.name }
func (n *fakeNode) Role() (string, error)        { return "control-plane", nil }
func (n *fakeNode) IP() (string, string, error)  { return "172.18.0.2", "", nil }
func (n *fakeNode) SerialLogs(w io.Writer) error { return nil }
func (n *fakeNode) Command(c string, a ...string) exec.Cmd {
	return &fakeCmd{node: n, argv: append([]string{c}, a...)}
}
func (n *fakeNode) CommandContext(_ context.Context, c string, a ...string) exec.Cmd {
	return n.Command(c, a...)
}

type fakeCmd struct {
	node   *fakeNode
	argv   []string
	stdin  io.Reader
	stdout io.Writer
}

func (c *fakeCmd) SetEnv(...string) exec.Cmd      { return c }
func (c *fakeCmd) SetStdin(r io.Reader) exec.Cmd  { c.stdin = r; return c }
func (c *fakeCmd) SetStdout(w io.Writer) exec.Cmd { c.stdout = w; return c }
func (c *fakeCmd) SetStderr(io.Writer) exec.Cmd   { return c }
func (c *fakeCmd) fail(msg string) error {
	return &exec.RunError{Command: c.argv, Output: []byte(msg), Inner: errors.New(msg)}
}

func (c *fakeCmd) Run() error {
	line := strings.Join(c.argv, " ")
	out := c.stdout
	if out == nil {
		out = io.Discard
	}
	switch {
	case line == "containerd config dump":
		_, err := io.WriteString(out, "version = 3\n\n[plugins]\n  [plugins.'io.containerd.cri.v1.images']\n    snapshotter = 'overlayfs'\n")
		return err
	case len(c.argv) == 3 && c.argv[0] == "crictl" && c.argv[1] == "inspecti":
		c.node.mu.Lock()
		id, ok := c.node.images[c.argv[2]]
		c.node.mu.Unlock()
		if !ok {
			return c.fail("no such image " + c.argv[2])
		}
		return json.NewEncoder(out).Encode(map[string]any{"status": map[string]any{"id": id}})
	case strings.HasPrefix(line, "ctr --namespace=k8s.io images import ") && strings.HasSuffix(line, " -"):
		if !strings.Contains(line, "--snapshotter=overlayfs") {
			return c.fail("wrong snapshotter in " + line)
		}
		imgs, err := readSaveTar(c.stdin)
		if err != nil {
			return c.fail(err.Error())
		}
		c.node.mu.Lock()
		defer c.node.mu.Unlock()
		for ref, id := range imgs {
			c.node.images[ref] = id
		}
		c.node.imports = append(c.node.imports, c.argv)
		return nil
	}
	return c.fail("fake node: unexpected command " + line)
}

// saveManifest is one entry of a docker-save tarball's manifest.json.
type saveManifest struct {
	Config   string
	RepoTags []string
}

// readSaveTar returns ref → image ID from a docker-save tarball.
func readSaveTar(r io.Reader) (map[string]string, error) {
	if r == nil {
		return nil, errors.New("no stdin")
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("no manifest.json in the archive: %v", err)
		}
		if h.Name != "manifest.json" {
			continue
		}
		var ms []saveManifest
		if err := json.NewDecoder(tr).Decode(&ms); err != nil {
			return nil, err
		}
		out := map[string]string{}
		for _, m := range ms {
			for _, t := range m.RepoTags {
				out[t] = "sha256:" + strings.TrimPrefix(m.Config, "blobs/sha256/")
			}
		}
		return out, nil
	}
}

// fakeDocker is the local Docker's image store.
type fakeDocker struct {
	mu     sync.Mutex
	images map[string]string // ref → ID ("sha256:…")
	saves  [][]string
	// prov answers EntryHostPorts from the configs kind was given; a
	// cluster the user made (no create call) publishes userPorts.
	prov      *fakeProvider
	userPorts []int
}

func (d *fakeDocker) EntryHostPorts(_ context.Context, node string) ([]int, bool, error) {
	if d.prov == nil {
		return nil, false, nil
	}
	name := strings.TrimSuffix(node, "-control-plane")
	d.prov.mu.Lock()
	defer d.prov.mu.Unlock()
	if _, ok := d.prov.clusters[name]; !ok {
		return nil, false, nil
	}
	for i := len(d.prov.creates) - 1; i >= 0; i-- {
		c := d.prov.creates[i]
		if c.name == name && len(c.cfg.Nodes) > 0 && len(c.cfg.Nodes[0].ExtraPortMappings) > 0 {
			return []int{int(c.cfg.Nodes[0].ExtraPortMappings[0].HostPort)}, true, nil
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.userPorts, true, nil
}

func newFakeDocker(refs ...string) *fakeDocker {
	d := &fakeDocker{images: map[string]string{}}
	for i, r := range refs {
		d.images[r] = fmt.Sprintf("sha256:%064x", i+1)
	}
	return d
}

func (d *fakeDocker) ImageID(_ context.Context, ref string) (string, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	id, ok := d.images[ref]
	return id, ok, nil
}

func (d *fakeDocker) Save(_ context.Context, refs []string) (io.ReadCloser, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.saves = append(d.saves, slices.Clone(refs))
	var ms []saveManifest
	for _, r := range refs {
		id, ok := d.images[r]
		if !ok {
			return nil, fmt.Errorf("fake docker: no image %s", r)
		}
		ms = append(ms, saveManifest{Config: "blobs/sha256/" + strings.TrimPrefix(id, "sha256:"), RepoTags: []string{r}})
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mj, _ := json.Marshal(ms)
	for _, f := range []struct {
		name string
		data []byte
	}{{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)}, {"manifest.json", mj}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return io.NopCloser(&buf), nil
}

func (d *fakeDocker) saveCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.saves)
}
