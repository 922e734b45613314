package kind

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	kindlog "sigs.k8s.io/kind/pkg/log"
	"sigs.k8s.io/yaml"
)

// DefaultWait bounds the wait for the control plane when ClusterSpec.Wait
// is 0.
const DefaultWait = 3 * time.Minute

// MaxImageArchiveBytes bounds the temporary `docker save` tarball
// LoadImages writes (8 GiB); a larger save fails instead of filling the
// disk.
const MaxImageArchiveBytes int64 = 8 << 30

// ImagesHint is what a missing image's error tells the user to do.
const ImagesHint = "build meshgym's images with `meshgym images build`, or load a saved tarball offline with `meshgym images load FILE`"

// KindOptions configures NewKindClusters.
type KindOptions struct {
	// RegistryPath is the registry file of the clusters meshgym created
	// ("" = DefaultRegistryPath: $MESHGYM_KIND_REGISTRY, else
	// <os.UserConfigDir()>/meshgym/kind-clusters.json).
	RegistryPath string
	// KubeconfigPath is the kubeconfig file kind merges a new cluster's
	// context into and removes it from on delete, as `kind create cluster
	// --kubeconfig` ("" = kind's default: $KUBECONFIG, else
	// ~/.kube/config), so kubectl reaches the cluster as
	// kind-<name>.
	KubeconfigPath string
	// Logf receives warnings (a corrupt registry) and kind's own progress
	// lines outside Create (nil = standard error).
	Logf func(format string, args ...any)

	// Seams for tests: kind's provider and the Docker image store
	// (nil = the real ones).
	provider kindProvider
	docker   dockerImages
}

// kindProvider is the part of sigs.k8s.io/kind's cluster.Provider that
// KindClusters uses; kindAdapter is the real one, tests use a fake.
type kindProvider interface {
	// Create creates cluster name from a v1alpha4 config (YAML), waiting
	// up to wait for the control plane, merging its kubeconfig into
	// kubeconfigPath ("" = kind's default).
	Create(name string, rawConfig []byte, wait time.Duration, kubeconfigPath string) error
	Delete(name, kubeconfigPath string) error
	List() ([]string, error)
	KubeConfig(name string, internal bool) (string, error)
	ListInternalNodes(name string) ([]nodes.Node, error)
}

// dockerImages is the part of the local Docker daemon KindClusters uses.
type dockerImages interface {
	// ImageID returns the image's ID (`docker image inspect -f {{.Id}}`);
	// present is false when the daemon does not have it.
	ImageID(ctx context.Context, ref string) (id string, present bool, err error)
	// Save streams `docker save refs...` (one tarball).
	Save(ctx context.Context, refs []string) (io.ReadCloser, error)
	// EntryHostPorts returns the host ports published for EntryNodePort
	// by the container called node (exists false when there is none):
	// the fingerprint of a cluster meshgym made, whose config maps its
	// recorded EntryHostPort there.
	EntryHostPorts(ctx context.Context, node string) (ports []int, exists bool, err error)
}

// KindClusters is the Clusters lifecycle on sigs.k8s.io/kind's Go API
// (the Docker node provider), with meshgym's registry of the clusters it
// created. Safe for concurrent use; two meshgym processes share the
// registry through its lock.
type KindClusters struct {
	reg            *registry
	kubeconfigPath string
	logf           func(string, ...any)
	provider       kindProvider
	docker         dockerImages
	closeDocker    func() error
	host           string
	dockerHost     string // DOCKER_HOST of this process ("" = default)
	now            func() time.Time

	sinkMu sync.Mutex
	sink   func(string) // where kind's progress lines go during Create
}

var _ Clusters = (*KindClusters)(nil)

// NewKindClusters returns the kind cluster lifecycle. It contacts neither
// Docker nor kind: the Docker client is made on first use. The error is
// DefaultRegistryPath's when no registry path can be found.
func NewKindClusters(opts KindOptions) (*KindClusters, error) {
	path := opts.RegistryPath
	if path == "" {
		p, err := DefaultRegistryPath()
		if err != nil {
			return nil, err
		}
		path = p
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	}
	host, _ := os.Hostname()
	k := &KindClusters{
		reg:            &registry{path: path, logf: logf},
		kubeconfigPath: opts.KubeconfigPath,
		logf:           logf,
		provider:       opts.provider,
		docker:         opts.docker,
		host:           host,
		dockerHost:     os.Getenv("DOCKER_HOST"),
		now:            time.Now,
	}
	if k.provider == nil {
		k.provider = kindAdapter{cluster.NewProvider(cluster.ProviderWithDocker(), cluster.ProviderWithLogger(kindLogger{k.kindLine}))}
	}
	if k.docker == nil {
		m := &mobyImages{}
		k.docker, k.closeDocker = m, m.Close
	}
	return k, nil
}

// RegistryPath returns the registry file in use.
func (k *KindClusters) RegistryPath() string { return k.reg.path }

// Close releases the Docker client, if one was made.
func (k *KindClusters) Close() error {
	if k.closeDocker != nil {
		return k.closeDocker()
	}
	return nil
}

// validName is kind's cluster name rule
// (sigs.k8s.io/kind/pkg/internal/apis/config/validate.go).
var validName = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,48}[a-z0-9])?$`)

// ErrBadClusterName is wrapped by ValidClusterName's errors (bad input).
var ErrBadClusterName = errors.New("invalid kind cluster name")

// ValidClusterName checks a cluster name before anything is made: lower-case
// letters, digits, '.' and '-', starting and ending with a letter or digit,
// at most 50 characters (kind names its node containers NAME-control-plane
// and its kubeconfig context kind-NAME, which must stay valid DNS labels).
func ValidClusterName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("%w %q: use lower-case letters, digits, '.' and '-', starting and ending with a letter or digit, at most 50 characters", ErrBadClusterName, name)
	}
	return nil
}

// Create creates a kind cluster of one control-plane node from
// RenderConfig (the entry host port on 127.0.0.1 mapped to EntryNodePort),
// and returns it with its kubeconfig.
//
// In order: a name kind lists that is not in the registry is refused (the
// user's cluster); a cluster meshgym created that exists is reused
// (returned as Get returns it, said through progress); the node image
// must be in the local Docker (else an error wrapping ErrNoNodeImage with
// the `docker pull` command) unless pull is true (kind then pulls it);
// the entry port is DefaultEntryHostPort unless it is taken (then a free
// port, said through progress) or spec.EntryHostPort (which must be
// free); the cluster is recorded in the registry before kind is called,
// so a crash mid-create is still swept by Delete and Down. When kind
// fails, what it made is deleted and the entry dropped.
//
// kind's API takes no context: ctx is checked before kind is called, and
// kind's create (node image pull, kubeadm, the wait of spec.Wait, default
// DefaultWait) runs to its end.
func (k *KindClusters) Create(ctx context.Context, spec ClusterSpec, pull bool, progress func(string)) (ClusterInfo, error) {
	if progress == nil {
		progress = func(string) {}
	}
	name := spec.Name
	if err := ValidClusterName(name); err != nil {
		return ClusterInfo{}, err
	}
	image := spec.NodeImage
	if image == "" {
		image = NodeImage
	}
	wait := spec.Wait
	if wait <= 0 {
		wait = DefaultWait
	}
	if err := ctx.Err(); err != nil {
		return ClusterInfo{}, err
	}
	existing, err := k.kindNames()
	if err != nil {
		return ClusterInfo{}, err
	}
	snap, err := k.reg.snapshot()
	if err != nil {
		return ClusterInfo{}, err
	}
	if e, ok := snap[name]; ok && existing[name] {
		if e.Creating {
			return ClusterInfo{}, fmt.Errorf("kind cluster %s is half made (a create by meshgym process %d on %s since %s was interrupted or is still running); remove it with `meshgym down`, or wait for it", name, e.PID, e.Host, e.Created.Format(time.RFC3339))
		}
		info, err := k.Get(ctx, name)
		if err != nil {
			return ClusterInfo{}, err
		}
		progress(fmt.Sprintf("reusing kind cluster %s (created %s, node image %s, entry on 127.0.0.1:%d)", name, info.Created.Local().Format("2006-01-02 15:04"), shortImage(info.NodeImage), info.EntryHostPort))
		return info, nil
	} else if !ok && existing[name] {
		return ClusterInfo{}, fmt.Errorf("kind cluster %s exists but meshgym did not create it; choose another --cluster name", name)
	}

	image, present, err := k.resolveImage(ctx, image)
	if err != nil {
		return ClusterInfo{}, fmt.Errorf("check the kind node image %s: %w", image, err)
	}
	if !present {
		if !pull {
			return ClusterInfo{}, fmt.Errorf("%w: %s is not in the local Docker; pull it with `docker pull %s` (about 1 GB, needs internet), or copy it here with `docker save`/`docker load`", ErrNoNodeImage, image, image)
		}
		progress(fmt.Sprintf("node image %s is not in the local Docker; kind pulls it (about 1 GB, needs internet)", image))
	}

	createID, err := newCreateID()
	if err != nil {
		return ClusterInfo{}, err
	}
	var info ClusterInfo
	err = k.reg.update(func(entries map[string]*entry) (bool, error) {
		if e, ok := entries[name]; ok {
			// Recorded: look again under the lock, since another meshgym
			// may have recorded or finished it since the first look.
			now, err := k.kindNames()
			if err != nil {
				return false, err
			}
			switch {
			case now[name]:
				return false, fmt.Errorf("kind cluster %s was just created by another meshgym process; run again to use it", name)
			case e.Creating && !k.stale(e):
				return false, fmt.Errorf("kind cluster %s is being created by meshgym process %d on %s (since %s); wait for it, or choose another --cluster name", name, e.PID, e.Host, e.Created.Format(time.RFC3339))
			}
			// Gone, or left by a crash before kind made anything.
			delete(entries, name)
		}
		port, err := pickPort(spec.EntryHostPort, entries, progress)
		if err != nil {
			return false, err
		}
		info = ClusterInfo{Name: name, Mesh: spec.Mesh, EntryHostPort: port, NodeImage: image, Created: k.now().UTC().Truncate(time.Second)}
		entries[name] = &entry{ClusterInfo: info, Creating: true, CreateID: createID, PID: os.Getpid(), Host: k.host, DockerHost: k.dockerHost}
		return true, nil
	})
	if err != nil {
		return ClusterInfo{}, err
	}
	raw, err := RenderConfig(name, image, info.EntryHostPort)
	if err != nil {
		return ClusterInfo{}, k.failed(name, createID, err, false, progress)
	}
	progress(fmt.Sprintf("creating kind cluster %s (node image %s, entry on 127.0.0.1:%d) — about a minute", name, shortImage(image), info.EntryHostPort))
	k.setSink(progress)
	err = k.provider.Create(name, raw, wait, k.kubeconfigPath)
	k.setSink(nil)
	if err != nil {
		// kind refuses a name that appeared since it was checked (another
		// process's cluster): that one is not deleted.
		theirs := strings.Contains(err.Error(), "already exist")
		return ClusterInfo{}, k.failed(name, createID, fmt.Errorf("create kind cluster %s: %w", name, err), !theirs, progress)
	}
	err = k.reg.update(func(entries map[string]*entry) (bool, error) {
		if e, ok := entries[name]; ok && e.CreateID == createID {
			e.Creating = false
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return ClusterInfo{}, err
	}
	kc, err := k.provider.KubeConfig(name, false)
	if err != nil {
		return ClusterInfo{}, fmt.Errorf("kubeconfig of kind cluster %s: %w", name, err)
	}
	info.Kubeconfig = kc
	progress(fmt.Sprintf("kind cluster %s is ready (kubectl context kind-%s)", name, name))
	return info, nil
}

// failed cleans up after a failed create: deletes what kind made (when
// deleteCluster), then drops the registry entry if it is still this
// create's. A failed delete keeps the entry so `meshgym down` finds it.
func (k *KindClusters) failed(name, createID string, cause error, deleteCluster bool, progress func(string)) error {
	if deleteCluster {
		progress(fmt.Sprintf("deleting what was made of kind cluster %s", name))
		if err := k.provider.Delete(name, k.kubeconfigPath); err != nil {
			return fmt.Errorf("%w; deleting the half-made cluster failed too (%v): remove it with `meshgym down`", cause, err)
		}
	}
	err := k.reg.update(func(entries map[string]*entry) (bool, error) {
		if e, ok := entries[name]; ok && e.CreateID == createID {
			delete(entries, name)
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("%w; %v", cause, err)
	}
	return cause
}

// Get returns a cluster meshgym created with its external kubeconfig
// (server https://127.0.0.1:PORT). A name not in the registry, or whose
// cluster kind no longer lists, is an error wrapping ErrNoCluster; a gone
// cluster's entry is dropped (unless a create of it is still running).
func (k *KindClusters) Get(ctx context.Context, name string) (ClusterInfo, error) {
	if err := ctx.Err(); err != nil {
		return ClusterInfo{}, err
	}
	existing, err := k.kindNames()
	if err != nil {
		return ClusterInfo{}, err
	}
	var info ClusterInfo
	var inRegistry bool
	var otherDaemon string
	var elsewhere bool
	var ownErr error
	err = k.reg.update(func(entries map[string]*entry) (bool, error) {
		e, ok := entries[name]
		if !ok {
			return false, nil
		}
		if !k.onThisDaemon(e) {
			elsewhere, otherDaemon = true, daemonName(e.DockerHost)
			return false, nil
		}
		inRegistry = true
		if existing[name] {
			ok, err := k.ours(ctx, e)
			if err != nil {
				ownErr = err
				return false, nil
			}
			if !ok {
				// The user's cluster under the name of one meshgym made
				// and that is gone: drop the stale entry.
				delete(entries, name)
				inRegistry = false
				return true, nil
			}
			info = e.ClusterInfo
			return false, nil
		}
		if k.stale(e) || !e.Creating {
			delete(entries, name)
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return ClusterInfo{}, err
	}
	if ownErr != nil {
		return ClusterInfo{}, ownErr
	}
	switch {
	case elsewhere:
		return ClusterInfo{}, fmt.Errorf("kind cluster %s: %w on this Docker daemon: meshgym created it on %s", name, ErrNoCluster, otherDaemon)
	case !inRegistry && existing[name]:
		return ClusterInfo{}, fmt.Errorf("kind cluster %s: %w among meshgym's: it exists but meshgym did not create it", name, ErrNoCluster)
	case !inRegistry:
		return ClusterInfo{}, fmt.Errorf("kind cluster %s: %w; create it with `meshgym up`", name, ErrNoCluster)
	case !existing[name]:
		return ClusterInfo{}, fmt.Errorf("kind cluster %s: %w: meshgym created it but it is gone (deleted outside meshgym); create it again with `meshgym up`", name, ErrNoCluster)
	}
	kc, err := k.provider.KubeConfig(name, false)
	if err != nil {
		return ClusterInfo{}, fmt.Errorf("kubeconfig of kind cluster %s: %w", name, err)
	}
	info.Kubeconfig = kc
	return info, nil
}

// List returns the clusters meshgym created that kind still lists,
// sorted by name, half-made ones included (without kubeconfigs); entries
// whose cluster is gone are dropped from the registry (unless a create of
// it is still running).
func (k *KindClusters) List(ctx context.Context) ([]ClusterInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	existing, err := k.kindNames()
	if err != nil {
		return nil, err
	}
	var out []ClusterInfo
	err = k.reg.update(func(entries map[string]*entry) (bool, error) {
		changed := false
		for name, e := range entries {
			if !k.onThisDaemon(e) {
				continue
			}
			switch {
			case existing[name]:
				ok, err := k.ours(ctx, e)
				switch {
				case err != nil:
					k.logf("warning: %v; leaving kind cluster %s alone", err, name)
				case ok:
					out = append(out, e.ClusterInfo)
				default:
					k.logf("kind cluster %s is not the one meshgym created (its entry port differs): someone made it after meshgym's was deleted; forgetting meshgym's entry and leaving the cluster alone", name)
					delete(entries, name)
					changed = true
				}
			case !e.Creating || k.stale(e):
				delete(entries, name)
				changed = true
			}
		}
		return changed, nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Delete deletes a cluster meshgym created (kind's delete, which also
// removes its context from the kubeconfig) and drops its registry entry.
// A name neither kind nor the registry knows is already gone: nil. A
// cluster kind lists that is not in the registry is refused (it is the
// user's). A create still running elsewhere is an error.
func (k *KindClusters) Delete(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	existing, err := k.kindNames()
	if err != nil {
		return err
	}
	snap, err := k.reg.snapshot()
	if err != nil {
		return err
	}
	e, ok := snap[name]
	if ok && !k.onThisDaemon(&e) {
		return fmt.Errorf("kind cluster %s was created on %s; delete it from there", name, daemonName(e.DockerHost))
	}
	if ok && existing[name] {
		mine, err := k.ours(ctx, &e)
		if err != nil {
			return err
		}
		if !mine {
			_ = k.reg.update(func(entries map[string]*entry) (bool, error) {
				if cur, ok := entries[name]; ok && cur.CreateID == e.CreateID {
					delete(entries, name)
					return true, nil
				}
				return false, nil
			})
			return fmt.Errorf("kind cluster %s is not the one meshgym created (its entry port differs); it is left alone and meshgym's entry forgotten", name)
		}
	}
	switch {
	case !ok && existing[name]:
		return fmt.Errorf("kind cluster %s was not created by meshgym; it is left alone (delete it with `kind delete cluster --name %s` if you mean to)", name, name)
	case !ok:
		return nil
	case !existing[name] && e.Creating && !k.stale(&e):
		return fmt.Errorf("kind cluster %s is being created by meshgym process %d on %s; delete it when that finishes", name, e.PID, e.Host)
	}
	if existing[name] {
		if err := k.provider.Delete(name, k.kubeconfigPath); err != nil {
			// Another meshgym down may have deleted it meanwhile: gone is
			// what was asked.
			if now, lerr := k.kindNames(); lerr != nil || now[name] {
				return fmt.Errorf("delete kind cluster %s: %w", name, err)
			}
		}
	}
	return k.reg.update(func(entries map[string]*entry) (bool, error) {
		if cur, ok := entries[name]; ok && cur.CreateID == e.CreateID {
			delete(entries, name)
			return true, nil
		}
		return false, nil
	})
}

// LoadImages copies images from the local Docker daemon into every node
// of a cluster meshgym created, as `kind load docker-image` does
// (sigs.k8s.io/kind/pkg/cmd/kind/load/docker-image): nodes that already
// have every image under the same ID are skipped; otherwise the images are
// saved with `docker save` into one temporary tarball (at most
// MaxImageArchiveBytes, removed afterwards) and imported into each node
// with nodeutils.LoadImageArchive (containerd's `ctr images import`), the
// nodes concurrently. A missing image is an error naming it and
// ImagesHint; a cluster meshgym did not create wraps ErrNoCluster.
func (k *KindClusters) LoadImages(ctx context.Context, name string, images []string) error {
	refs := dedupe(images)
	if len(refs) == 0 {
		return nil
	}
	if _, err := k.Get(ctx, name); err != nil {
		return err
	}
	ids := make([]string, len(refs))
	var missing []string
	for i, ref := range refs {
		id, present, err := k.docker.ImageID(ctx, ref)
		if err != nil {
			return fmt.Errorf("inspect image %s: %w", ref, err)
		}
		if !present {
			missing = append(missing, ref)
		}
		ids[i] = id
	}
	if len(missing) > 0 {
		return fmt.Errorf("load images into kind cluster %s: %s not in the local Docker; %s", name, plural(missing), ImagesHint)
	}
	nodeList, err := k.provider.ListInternalNodes(name)
	if err != nil {
		return fmt.Errorf("nodes of kind cluster %s: %w", name, err)
	}
	if len(nodeList) == 0 {
		return fmt.Errorf("kind cluster %s has no nodes: %w", name, ErrNoCluster)
	}
	var selected []nodes.Node
	for _, n := range nodeList {
		for i, ref := range refs {
			if id, err := nodeutils.ImageID(n, ref); err != nil || id != ids[i] {
				selected = append(selected, n)
				break
			}
		}
	}
	if len(selected) == 0 {
		k.logf("images already in every node of kind cluster %s: %s", name, strings.Join(refs, ", "))
		return nil
	}
	tar, err := k.saveTar(ctx, refs)
	if err != nil {
		return fmt.Errorf("load images into kind cluster %s: %w", name, err)
	}
	defer os.Remove(tar)
	k.logf("loading %s into kind cluster %s (%d node(s))", strings.Join(refs, ", "), name, len(selected))
	errs := make([]error, len(selected))
	var wg sync.WaitGroup
	for i, n := range selected {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.Open(tar)
			if err != nil {
				errs[i] = err
				return
			}
			defer f.Close()
			if err := nodeutils.LoadImageArchive(n, f); err != nil {
				errs[i] = fmt.Errorf("node %s: %w", n.String(), err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("load images into kind cluster %s: %w", name, err)
	}
	return nil
}

// saveTar writes `docker save refs` to a temporary file (at most
// MaxImageArchiveBytes) and returns its path; the caller removes it.
func (k *KindClusters) saveTar(ctx context.Context, refs []string) (string, error) {
	f, err := os.CreateTemp("", "meshgym-kind-images-*.tar")
	if err != nil {
		return "", err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	rc, err := k.docker.Save(ctx, refs)
	if err != nil {
		return "", fmt.Errorf("docker save %s: %w", strings.Join(refs, " "), err)
	}
	n, err := io.Copy(f, io.LimitReader(rc, MaxImageArchiveBytes+1))
	rc.Close()
	if err != nil {
		return "", fmt.Errorf("docker save %s: %w", strings.Join(refs, " "), err)
	}
	if n > MaxImageArchiveBytes {
		return "", fmt.Errorf("docker save %s: more than %d bytes; load fewer images at a time", strings.Join(refs, " "), MaxImageArchiveBytes)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	ok = true
	return f.Name(), nil
}

// NodeImagePresent reports whether the pinned node image is in the local
// Docker (through this KindClusters' Docker seam).
func (k *KindClusters) NodeImagePresent(ctx context.Context) (bool, error) {
	_, present, err := k.resolveImage(ctx, NodeImage)
	return present, err
}

func (k *KindClusters) imagePresent(ctx context.Context, ref string) (bool, error) {
	_, present, err := k.docker.ImageID(ctx, ref)
	return present, err
}

// resolveImage finds a node image in the local Docker: by ref, else — for
// a ref pinned by digest ("name:tag@sha256:…") — by its tag alone, which
// is how `docker load` restores an image saved elsewhere (it keeps tags,
// not registry digests). It returns the reference to hand kind.
func (k *KindClusters) resolveImage(ctx context.Context, ref string) (string, bool, error) {
	return resolveImage(ctx, k.docker.ImageID, ref)
}

func resolveImage(ctx context.Context, lookup func(context.Context, string) (string, bool, error), ref string) (string, bool, error) {
	_, present, err := lookup(ctx, ref)
	if err != nil || present {
		return ref, present, err
	}
	if tag := tagOnly(ref); tag != "" {
		if _, ok, err := lookup(ctx, tag); err == nil && ok {
			return tag, true, nil
		}
	}
	return ref, false, nil
}

// tagOnly is "name:tag" of "name:tag@sha256:…" ("" without both).
func tagOnly(ref string) string {
	tagged, _, ok := strings.Cut(ref, "@")
	if !ok {
		return ""
	}
	if i := strings.LastIndex(tagged, "/"); !strings.Contains(tagged[i+1:], ":") {
		return ""
	}
	return tagged
}

// NodeImagePresent reports whether the pinned kind node image NodeImage is
// in the local Docker daemon (client configured from DOCKER_HOST etc.), for
// `meshgym doctor` and the end-to-end tests' skip message. An unreachable
// daemon is an error.
func NodeImagePresent(ctx context.Context) (bool, error) {
	m := &mobyImages{}
	defer m.Close()
	_, present, err := resolveImage(ctx, m.ImageID, NodeImage)
	return present, err
}

// Down deletes every cluster meshgym created (c.List) and returns the
// names it removed; a failed delete does not stop the others, and the
// errors are joined. Clusters meshgym did not create are never touched.
// logf (nil = silent) gets one line per cluster. Used by `meshgym down`.
func Down(ctx context.Context, c Clusters, logf func(string, ...any)) (removed []string, err error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	list, err := c.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list meshgym's kind clusters: %w", err)
	}
	var errs []error
	for _, ci := range list {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		logf("deleting kind cluster %s", ci.Name)
		if err := c.Delete(ctx, ci.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, ci.Name)
	}
	return removed, errors.Join(errs...)
}

// RenderConfig renders the kind v1alpha4 Cluster config meshgym creates:
// one control-plane node of nodeImage whose extraPortMappings map
// 127.0.0.1:hostPort (TCP) to EntryNodePort in the node, so the entry
// service's NodePort is reached from the host. Format:
// https://kind.sigs.k8s.io/docs/user/configuration/#extra-port-mappings
func RenderConfig(name, nodeImage string, hostPort int) ([]byte, error) {
	if hostPort <= 0 || hostPort > 65535 {
		return nil, fmt.Errorf("entry host port %d is not a port", hostPort)
	}
	cfg := v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Name:     name,
		Nodes: []v1alpha4.Node{{
			Role:  v1alpha4.ControlPlaneRole,
			Image: nodeImage,
			ExtraPortMappings: []v1alpha4.PortMapping{{
				ContainerPort: EntryNodePort,
				HostPort:      int32(hostPort),
				ListenAddress: "127.0.0.1",
				Protocol:      v1alpha4.PortMappingProtocolTCP,
			}},
		}},
	}
	return yaml.Marshal(cfg)
}

// pickPort returns the entry host port: want when set (it must be free
// and not recorded for another cluster), else DefaultEntryHostPort unless
// it is taken, else a free port (said through progress).
func pickPort(want int, entries map[string]*entry, progress func(string)) (int, error) {
	used := map[int]string{}
	for _, e := range entries {
		used[e.EntryHostPort] = e.Name
	}
	if want != 0 {
		if other, ok := used[want]; ok {
			return 0, fmt.Errorf("entry host port %d is kind cluster %s's; choose another, or 0 for a free one", want, other)
		}
		if !portFree(want) {
			return 0, fmt.Errorf("entry host port 127.0.0.1:%d is taken; choose another, or 0 for a free one", want)
		}
		return want, nil
	}
	if _, ok := used[DefaultEntryHostPort]; !ok && portFree(DefaultEntryHostPort) {
		return DefaultEntryHostPort, nil
	}
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free entry host port on 127.0.0.1: %w", err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if _, ok := used[p]; !ok {
			progress(fmt.Sprintf("host port %d on 127.0.0.1 is taken; the entry service will be on 127.0.0.1:%d", DefaultEntryHostPort, p))
			return p, nil
		}
	}
	return 0, errors.New("no free entry host port on 127.0.0.1")
}

// portFree reports whether 127.0.0.1:port can be listened on now.
func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// stale reports whether an entry still marked as being created was left
// by a process that is gone (same host, pid not alive) or is older than
// creatingGrace.
func (k *KindClusters) stale(e *entry) bool {
	if !e.Creating {
		return false
	}
	if e.Host == k.host && !processAlive(e.PID) {
		return true
	}
	return k.now().Sub(e.Created) > creatingGrace
}

// ours reports whether the cluster kind lists under e's name is the one
// meshgym made: its control-plane node publishes e.EntryHostPort for the
// entry NodePort (RenderConfig). A cluster the user made later under the
// same name (after deleting meshgym's outside meshgym) fails this, and its
// stale entry must not make meshgym delete or reuse it. An entry still
// being created has no node yet to check: ours.
func (k *KindClusters) ours(ctx context.Context, e *entry) (bool, error) {
	if e.Creating || e.EntryHostPort == 0 {
		return true, nil
	}
	ports, exists, err := k.docker.EntryHostPorts(ctx, e.Name+"-control-plane")
	if err != nil {
		return false, fmt.Errorf("inspect the node of kind cluster %s: %w", e.Name, err)
	}
	if !exists {
		return true, nil // a node of another name: nothing says it is not ours
	}
	return slices.Contains(ports, e.EntryHostPort), nil
}

// daemonName names a DOCKER_HOST for messages.
func daemonName(h string) string {
	if h == "" {
		return "the default Docker daemon (DOCKER_HOST unset)"
	}
	return "DOCKER_HOST=" + h
}

// onThisDaemon reports whether e was created on the Docker daemon this
// process talks to (DOCKER_HOST); entries of another daemon are neither
// listed nor dropped nor deleted here.
func (k *KindClusters) onThisDaemon(e *entry) bool { return e.DockerHost == k.dockerHost }

// kindNames returns the names of the clusters kind lists (its Docker
// node containers' cluster labels).
func (k *KindClusters) kindNames() (map[string]bool, error) {
	names, err := k.provider.List()
	if err != nil {
		return nil, fmt.Errorf("list kind clusters (is Docker running?): %w", err)
	}
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out, nil
}

func (k *KindClusters) setSink(f func(string)) {
	k.sinkMu.Lock()
	k.sink = f
	k.sinkMu.Unlock()
}

// kindLine passes one of kind's progress lines on: to the running
// Create's progress, else to Logf.
func (k *KindClusters) kindLine(s string) {
	s = strings.TrimRight(s, "\n")
	if strings.TrimSpace(s) == "" {
		return
	}
	k.sinkMu.Lock()
	sink := k.sink
	k.sinkMu.Unlock()
	if sink != nil {
		sink("kind:" + s)
		return
	}
	k.logf("kind:%s", s)
}

func newCreateID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// shortImage drops the digest of an image reference for progress lines.
func shortImage(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[:i]
	}
	return ref
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func plural(refs []string) string {
	if len(refs) == 1 {
		return "image " + refs[0] + " is"
	}
	return "images " + strings.Join(refs, ", ") + " are"
}

// kindAdapter is the real kindProvider: kind's cluster.Provider on Docker.
type kindAdapter struct{ p *cluster.Provider }

func (a kindAdapter) Create(name string, raw []byte, wait time.Duration, kubeconfigPath string) error {
	return a.p.Create(name,
		cluster.CreateWithRawConfig(raw),
		cluster.CreateWithWaitForReady(wait),
		cluster.CreateWithKubeconfigPath(kubeconfigPath),
		cluster.CreateWithDisplayUsage(false),
		cluster.CreateWithDisplaySalutation(false),
	)
}
func (a kindAdapter) Delete(name, kubeconfigPath string) error {
	return a.p.Delete(name, kubeconfigPath)
}
func (a kindAdapter) List() ([]string, error) { return a.p.List() }
func (a kindAdapter) KubeConfig(name string, internal bool) (string, error) {
	return a.p.KubeConfig(name, internal)
}
func (a kindAdapter) ListInternalNodes(name string) ([]nodes.Node, error) {
	return a.p.ListInternalNodes(name)
}

// kindLogger is a kind log.Logger that passes warnings, errors and
// verbosity-0 messages to line; more verbose ones are dropped.
type kindLogger struct{ line func(string) }

func (l kindLogger) Warn(m string)             { l.line(" warning: " + m) }
func (l kindLogger) Warnf(f string, a ...any)  { l.line(" warning: " + fmt.Sprintf(f, a...)) }
func (l kindLogger) Error(m string)            { l.line(" error: " + m) }
func (l kindLogger) Errorf(f string, a ...any) { l.line(" error: " + fmt.Sprintf(f, a...)) }
func (l kindLogger) V(v kindlog.Level) kindlog.InfoLogger {
	if v > 0 {
		return kindlog.NoopInfoLogger{}
	}
	return kindInfo(l)
}

type kindInfo kindLogger

func (l kindInfo) Info(m string)            { l.line(" " + m) }
func (l kindInfo) Infof(f string, a ...any) { l.line(" " + fmt.Sprintf(f, a...)) }
func (l kindInfo) Enabled() bool            { return true }

// mobyImages is the real dockerImages on the moby client, made on first
// use from the environment (DOCKER_HOST …, as sandbox/docker does).
type mobyImages struct {
	once sync.Once
	cli  *client.Client
	err  error
}

func (m *mobyImages) client() (*client.Client, error) {
	m.once.Do(func() {
		m.cli, m.err = client.New(client.FromEnv)
		if m.err != nil {
			m.err = fmt.Errorf("docker client: %w", m.err)
		}
	})
	return m.cli, m.err
}

func (m *mobyImages) ImageID(ctx context.Context, ref string) (string, bool, error) {
	cli, err := m.client()
	if err != nil {
		return "", false, err
	}
	res, err := cli.ImageInspect(ctx, ref)
	if errdefs.IsNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return res.ID, true, nil
}

func (m *mobyImages) Save(ctx context.Context, refs []string) (io.ReadCloser, error) {
	cli, err := m.client()
	if err != nil {
		return nil, err
	}
	return cli.ImageSave(ctx, refs)
}

func (m *mobyImages) EntryHostPorts(ctx context.Context, node string) ([]int, bool, error) {
	cli, err := m.client()
	if err != nil {
		return nil, false, err
	}
	res, err := cli.ContainerInspect(ctx, node, client.ContainerInspectOptions{})
	if errdefs.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var out []int
	if hc := res.Container.HostConfig; hc != nil {
		for port, binds := range hc.PortBindings {
			if int(port.Num()) != EntryNodePort {
				continue
			}
			for _, b := range binds {
				if n, err := strconv.Atoi(b.HostPort); err == nil {
					out = append(out, n)
				}
			}
		}
	}
	return out, true, nil
}

// Close closes the client if one was made.
func (m *mobyImages) Close() error {
	if m.cli != nil {
		return m.cli.Close()
	}
	return nil
}
