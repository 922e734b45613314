package kind

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"meshgym/internal/fsutil"
)

// RegistryEnv names the environment variable that overrides the default
// registry file (KindOptions.RegistryPath beats it).
const RegistryEnv = "MESHGYM_KIND_REGISTRY"

// registryVersion is the version of the registry file's format this
// meshgym writes and reads; a file of a higher version is left alone.
const registryVersion = 1

// DefaultRegistryPath returns the registry file used when
// KindOptions.RegistryPath is "": $MESHGYM_KIND_REGISTRY when set,
// otherwise <os.UserConfigDir()>/meshgym/kind-clusters.json. The error is
// os.UserConfigDir's (no $HOME / $XDG_CONFIG_HOME), with the variable to
// set instead.
func DefaultRegistryPath() (string, error) {
	if p := os.Getenv(RegistryEnv); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no place for the kind cluster registry: %v; set %s to a file path (e.g. %s=$HOME/.meshgym-kind-clusters.json)", err, RegistryEnv, RegistryEnv)
	}
	return filepath.Join(dir, "meshgym", "kind-clusters.json"), nil
}

// entry is one cluster in the registry file.
type entry struct {
	ClusterInfo
	// Creating is true from the moment the cluster is recorded until kind
	// returned from creating it: a crash in between leaves it true, and
	// the cluster (whatever kind made of it) is still meshgym's.
	Creating bool `json:"creating,omitempty"`
	// CreateID tells apart two processes that created the same name one
	// after the other: a failed create drops the entry only if it is
	// still its own.
	CreateID string `json:"create_id,omitempty"`
	// PID and Host are the creating process's, so an entry left by a
	// crash (that process gone) is told from a create still running.
	PID  int    `json:"pid,omitempty"`
	Host string `json:"host,omitempty"`
	// DockerHost is the DOCKER_HOST the cluster was created on ("" = the
	// default daemon): a process on another daemon does not see its
	// nodes, and must not take it for gone.
	DockerHost string `json:"docker_host,omitempty"`
}

// registryFile is the registry's JSON document.
type registryFile struct {
	Version  int      `json:"version"`
	Clusters []*entry `json:"clusters"`
}

// registry is the JSON file that lists the kind clusters meshgym created.
// Every change is a read-modify-write under an exclusive lock on
// path+".lock" (flock on unix), written atomically (temp file + rename,
// mode 0600), so two meshgym processes never lose each other's entries.
type registry struct {
	path string
	logf func(string, ...any)
}

// load reads the registry; the caller holds the lock. A missing file is
// empty. A damaged registry (a JSON object with "version" and "clusters"
// whose content is wrong) is moved aside to the first free name of
// path.bad, path.bad.1, … (never overwriting a backup), a warning goes to
// logf, and it reads as empty. Anything else — not a regular file, over
// maxRegistryBytes, not JSON of that shape, unreadable, a newer format —
// is an error and is not touched.
func (r *registry) load() (map[string]*entry, error) {
	out := map[string]*entry{}
	// Only a regular file of a sane size is read: a FIFO would block
	// forever, a device or someone's large file is not a registry.
	if fi, err := os.Stat(r.path); err == nil {
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("kind cluster registry %s is not a regular file (%s); set %s to a file path", r.path, fi.Mode().Type(), RegistryEnv)
		}
		if fi.Size() > maxRegistryBytes {
			return nil, fmt.Errorf("kind cluster registry %s is %d bytes, too large to be meshgym's (at most %d); set %s to another file", r.path, fi.Size(), maxRegistryBytes, RegistryEnv)
		}
	}
	data, err := os.ReadFile(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read kind cluster registry %s: %v; fix its permissions or set %s to another file", r.path, err, RegistryEnv)
	}
	f, derr := decodeRegistry(data)
	if derr == nil && f.Version > registryVersion {
		return nil, fmt.Errorf("kind cluster registry %s has format version %d, newer than this meshgym's (%d); use the newer meshgym, or set %s to another file", r.path, f.Version, registryVersion, RegistryEnv)
	}
	if derr != nil && !looksLikeRegistry(data) {
		// Not a file meshgym wrote (a mistyped MESHGYM_KIND_REGISTRY
		// pointing at a kubeconfig, a dotfile …): never moved, never
		// overwritten.
		return nil, fmt.Errorf("%s is not meshgym's kind cluster registry (%v); it was left as it is; set %s to another file", r.path, derr, RegistryEnv)
	}
	if derr != nil {
		bad, err := fsutil.MoveAside(r.path)
		if err != nil {
			return nil, fmt.Errorf("kind cluster registry %s is not a registry (%v) and could not be moved aside (%v); move or delete it by hand", r.path, derr, err)
		}
		r.logf("warning: kind cluster registry %s is not a registry (%v); moved it to %s and starting empty (clusters it listed are no longer removed by `meshgym down`; delete them with `docker rm -f NAME-control-plane` or the kind CLI)", r.path, derr, bad)
		return out, nil
	}
	for _, e := range f.Clusters {
		out[e.Name] = e
	}
	return out, nil
}

// maxRegistryBytes bounds the registry file (an entry is ~300 bytes).
const maxRegistryBytes = 4 << 20

// looksLikeRegistry reports whether data is a JSON object with the
// registry's top-level keys, so a damaged registry (moved aside) is told
// from a file that was never one (left alone).
func looksLikeRegistry(data []byte) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil {
		return false
	}
	_, v := top["version"]
	_, c := top["clusters"]
	return v && c
}

// decodeRegistry decodes one JSON object with a "version" and a
// "clusters" array of named entries, and nothing after it. Unknown fields
// are allowed (a newer meshgym of the same format version may add some).
func decodeRegistry(data []byte) (*registryFile, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, err
	}
	if _, ok := top["version"]; !ok {
		return nil, errors.New(`no "version" at the top level`)
	}
	if _, ok := top["clusters"]; !ok {
		return nil, errors.New(`no "clusters" at the top level`)
	}
	var f registryFile
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	if f.Version < 1 {
		return nil, fmt.Errorf("version %d", f.Version)
	}
	for i, e := range f.Clusters {
		if e == nil || e.Name == "" {
			return nil, fmt.Errorf("cluster %d has no name", i)
		}
	}
	return &f, nil
}

// save writes entries atomically (temp file in the same directory, fsync,
// rename), mode 0600; the caller holds the lock.
func (r *registry) save(entries map[string]*entry) error {
	f := registryFile{Version: registryVersion, Clusters: []*entry{}}
	for _, e := range entries {
		f.Clusters = append(f.Clusters, e)
	}
	sort.Slice(f.Clusters, func(i, j int) bool { return f.Clusters[i].Name < f.Clusters[j].Name })
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode kind cluster registry: %w", err)
	}
	if err := fsutil.WriteAtomic(r.path, ".kind-clusters-*.json", append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save kind cluster registry %s: %v; check the directory's permissions and free space", r.path, err)
	}
	return nil
}

// update runs fn on the registry's entries under the exclusive lock and
// writes them back when fn returns nil and changed them (fn reports
// whether it did). The lock is held only for the read-modify-write, never
// while kind works.
func (r *registry) update(fn func(entries map[string]*entry) (changed bool, err error)) error {
	if err := os.MkdirAll(filepath.Dir(r.path), 0o755); err != nil {
		return fmt.Errorf("kind cluster registry: %v; check that %s can be created, or set %s to another file", err, filepath.Dir(r.path), RegistryEnv)
	}
	unlock, err := lockFile(r.path + ".lock")
	if err != nil {
		return fmt.Errorf("lock kind cluster registry %s: %w", r.path, err)
	}
	defer unlock()
	entries, err := r.load()
	if err != nil {
		return err
	}
	changed, err := fn(entries)
	if err != nil {
		return err
	}
	if !changed {
		return nil
	}
	return r.save(entries)
}

// snapshot returns a copy of the registry's entries (read under the lock).
func (r *registry) snapshot() (map[string]entry, error) {
	out := map[string]entry{}
	err := r.update(func(entries map[string]*entry) (bool, error) {
		for n, e := range entries {
			out[n] = *e
		}
		return false, nil
	})
	return out, err
}

// creatingGrace is how long an entry still being created is kept although
// kind does not list the cluster yet (kind makes the node containers a few
// seconds into a create; the wait for readiness is bounded by
// ClusterSpec.Wait). After it, an entry left by a crash before kind made
// anything is dropped.
const creatingGrace = 30 * time.Minute
