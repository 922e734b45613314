package meshinstall

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/kube"
	kubefake "helm.sh/helm/v3/pkg/kube/fake"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/repo"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"

	"meshgym/sandbox"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// chartRepo is a chart repository on loopback serving the testdata chart
// at several versions, counting archive downloads.
type chartRepo struct {
	srv       *httptest.Server
	dir       string
	downloads atomic.Int64
}

func newChartRepo(t *testing.T, versions ...string) *chartRepo {
	t.Helper()
	r := &chartRepo{dir: t.TempDir()}
	files := http.FileServer(http.Dir(r.dir))
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasSuffix(req.URL.Path, ".tgz") {
			r.downloads.Add(1)
		}
		files.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	ch, err := loader.LoadDir("testdata/demo")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range versions {
		ch.Metadata.Version = v
		if _, err := chartutil.Save(ch, r.dir); err != nil {
			t.Fatal(err)
		}
	}
	idx, err := repo.IndexDirectory(r.dir, r.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.WriteFile(filepath.Join(r.dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *chartRepo) chart(version string) Chart {
	return Chart{
		Repo:      r.srv.URL,
		Name:      "demo",
		Version:   version,
		Release:   "demo",
		Namespace: "demo-system",
		Values:    map[string]any{"greeting": "hi from meshgym", "replicas": 3},
		Timeout:   30 * time.Second,
	}
}

// flakyKube is Helm's fake kube client whose next failWaits waits for
// readiness fail.
type flakyKube struct {
	*kubefake.FailingKubeClient
	mu        sync.Mutex
	failWaits int
}

func (k *flakyKube) failNextWaits(n int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.failWaits = n
}

func (k *flakyKube) waitErr() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.failWaits > 0 {
		k.failWaits--
		return errors.New("pods never became ready")
	}
	return nil
}

func (k *flakyKube) Wait(resources kube.ResourceList, d time.Duration) error {
	if err := k.waitErr(); err != nil {
		return err
	}
	return k.FailingKubeClient.Wait(resources, d)
}

func (k *flakyKube) WaitWithJobs(resources kube.ResourceList, d time.Duration) error {
	if err := k.waitErr(); err != nil {
		return err
	}
	return k.FailingKubeClient.WaitWithJobs(resources, d)
}

// fakeCluster makes Helm configurations over a fake kube client and
// memory release storage, one per namespace.
type fakeCluster struct {
	kube *flakyKube

	mu    sync.Mutex
	lines []string
}

func newFakeCluster() *fakeCluster {
	return &fakeCluster{kube: &flakyKube{FailingKubeClient: &kubefake.FailingKubeClient{PrintingKubeClient: kubefake.PrintingKubeClient{Out: io.Discard}}}}
}

func (f *fakeCluster) configFor(namespace string) (*action.Configuration, error) {
	mem := driver.NewMemory()
	mem.SetNamespace(namespace)
	return &action.Configuration{
		Releases:     storage.Init(mem),
		KubeClient:   f.kube,
		Capabilities: chartutil.DefaultCapabilities,
	}, nil
}

func (f *fakeCluster) logf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lines = append(f.lines, fmt.Sprintf(format, args...))
}

func (f *fakeCluster) logged(sub string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range f.lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

func (f *fakeCluster) installer(cacheDir string) *installer {
	return newInstaller(f.configFor, Options{CacheDir: cacheDir, Logf: f.logf})
}

// history is the release's revisions, oldest first (nil when none).
func history(t *testing.T, in *installer, name, namespace string) []*release.Release {
	t.Helper()
	cfg, err := in.config(namespace)
	if err != nil {
		t.Fatal(err)
	}
	h, err := action.NewHistory(cfg).Run(name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mustInstalled(t *testing.T, in *installer, wantVersion string, wantOK bool) {
	t.Helper()
	v, ok, err := in.Installed(context.Background(), "demo", "demo-system")
	if err != nil {
		t.Fatal(err)
	}
	if v != wantVersion || ok != wantOK {
		t.Fatalf("Installed = %q, %v; want %q, %v", v, ok, wantVersion, wantOK)
	}
}

func TestInstallUpgradeNoopUninstall(t *testing.T) {
	r := newChartRepo(t, "0.1.0", "0.2.0")
	f := newFakeCluster()
	cache := t.TempDir()
	in := f.installer(cache)
	ctx := context.Background()

	mustInstalled(t, in, "", false)
	c := r.chart("0.1.0")
	if err := in.Install(ctx, c); err != nil {
		t.Fatal(err)
	}
	mustInstalled(t, in, "0.1.0", true)
	h := history(t, in, "demo", "demo-system")
	if len(h) != 1 || h[0].Version != 1 || h[0].Info.Status != release.StatusDeployed {
		t.Fatalf("history after install = %v", summary(h))
	}
	if h[0].Namespace != "demo-system" || h[0].Chart.Metadata.Version != "0.1.0" {
		t.Fatalf("release = %s in %s at %s", h[0].Name, h[0].Namespace, h[0].Chart.Metadata.Version)
	}
	if !reflect.DeepEqual(h[0].Config, map[string]any{"greeting": "hi from meshgym", "replicas": 3}) {
		t.Fatalf("release values = %#v", h[0].Config)
	}
	golden(t, "demo-0.1.0.manifest", h[0].Manifest)
	if got := r.downloads.Load(); got != 1 {
		t.Fatalf("archive downloads = %d, want 1", got)
	}
	if _, err := os.Stat(ChartCachePath(cache, c)); err != nil {
		t.Fatalf("chart not cached: %v", err)
	}
	// Helm must not have changed the caller's values.
	if !reflect.DeepEqual(c.Values, map[string]any{"greeting": "hi from meshgym", "replicas": 3}) {
		t.Fatalf("caller's values changed: %#v", c.Values)
	}

	// Same version again: no new revision, no fetch.
	if err := in.Install(ctx, c); err != nil {
		t.Fatal(err)
	}
	if h := history(t, in, "demo", "demo-system"); len(h) != 1 {
		t.Fatalf("second install made revisions %v", summary(h))
	}
	if !f.logged("demo 0.1.0 already installed in demo-system") {
		t.Fatalf("no 'already installed' note in %q", f.lines)
	}

	// Another version: upgrade to revision 2.
	c2 := r.chart("0.2.0")
	c2.Values = map[string]any{"greeting": "upgraded"}
	if err := in.Install(ctx, c2); err != nil {
		t.Fatal(err)
	}
	mustInstalled(t, in, "0.2.0", true)
	h = history(t, in, "demo", "demo-system")
	if len(h) != 2 || h[1].Version != 2 || h[1].Info.Status != release.StatusDeployed || h[0].Info.Status != release.StatusSuperseded {
		t.Fatalf("history after upgrade = %v", summary(h))
	}
	if !strings.Contains(h[1].Manifest, `greeting: "upgraded"`) || !strings.Contains(h[1].Manifest, `replicas: "1"`) {
		t.Fatalf("upgrade did not reset values to the chart's plus ours:\n%s", h[1].Manifest)
	}

	// Uninstall removes it; twice (and a release never installed) is fine.
	for i := 0; i < 2; i++ {
		if err := in.Uninstall(ctx, "demo", "demo-system"); err != nil {
			t.Fatalf("uninstall %d: %v", i+1, err)
		}
		mustInstalled(t, in, "", false)
		if h := history(t, in, "demo", "demo-system"); h != nil {
			t.Fatalf("history after uninstall = %v", summary(h))
		}
	}
	if err := in.Uninstall(ctx, "never", "elsewhere"); err != nil {
		t.Fatal(err)
	}
}

func summary(h []*release.Release) []string {
	var out []string
	for _, r := range h {
		out = append(out, fmt.Sprintf("r%d %s %s", r.Version, r.Chart.Metadata.Version, r.Info.Status))
	}
	return out
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Fatalf("%s differs from %s:\n%s", name, path, got)
	}
}

func TestInstallFromCacheWhenRepositoryIsGone(t *testing.T) {
	r := newChartRepo(t, "0.1.0")
	cache := t.TempDir()
	ctx := context.Background()
	if err := newFakeCluster().installer(cache).Install(ctx, r.chart("0.1.0")); err != nil {
		t.Fatal(err)
	}
	r.srv.Close()

	f := newFakeCluster()
	in := f.installer(cache)
	if err := in.Install(ctx, r.chart("0.1.0")); err != nil {
		t.Fatalf("install from cache: %v", err)
	}
	mustInstalled(t, in, "0.1.0", true)
	if !f.logged("using cached chart demo 0.1.0") {
		t.Fatalf("no cache note in %q", f.lines)
	}

	// A version that is not cached cannot be fetched: say so and how to carry charts.
	err := in.Install(ctx, r.chart("0.2.0"))
	for _, want := range []string{"fetch chart demo 0.2.0 from " + r.srv.URL, "the chart is not in the cache " + cache, "meshgym images save --mesh"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("offline error = %v; want it to say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("error spans lines: %q", err)
	}
	mustInstalled(t, in, "0.1.0", true)
}

func TestFetchChart(t *testing.T) {
	r := newChartRepo(t, "0.1.0", "0.2.0", "0.3.0")
	ctx := context.Background()
	cache := t.TempDir()

	path, err := FetchChart(ctx, r.chart("0.2.0"), cache)
	if err != nil {
		t.Fatal(err)
	}
	if want := ChartCachePath(cache, r.chart("0.2.0")); path != want {
		t.Fatalf("path = %s, want %s", path, want)
	}
	if ch, err := loader.Load(path); err != nil || ch.Metadata.Version != "0.2.0" {
		t.Fatalf("cached archive: %v, %v", ch, err)
	}
	if _, err := FetchChart(ctx, r.chart("0.2.0"), cache); err != nil || r.downloads.Load() != 1 {
		t.Fatalf("second fetch: err %v, downloads %d (want 1)", err, r.downloads.Load())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("cache holds %v, want only the archive", entries)
	}
	if left, _ := filepath.Glob(filepath.Join(cache, ".index-*")); len(left) != 0 {
		t.Fatalf("index files left in the cache: %v", left)
	}

	// A corrupt cached archive is fetched again.
	if err := os.WriteFile(path, []byte("not a chart"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := FetchChart(ctx, r.chart("0.2.0"), cache); err != nil {
		t.Fatal(err)
	}
	if ch, err := loader.Load(path); err != nil || ch.Metadata.Version != "0.2.0" || r.downloads.Load() != 2 {
		t.Fatalf("after refetch: %v, %v, downloads %d", ch, err, r.downloads.Load())
	}

	tests := []struct {
		name    string
		chart   Chart
		wantErr []string
	}{
		{"version not in index", r.chart("0.9.0"), []string{"fetch chart demo 0.9.0 from " + r.srv.URL, "version 0.9.0 is not in the repository's index", "newest: 0.3.0, 0.2.0, 0.1.0"}},
		{"chart not in index", func() Chart { c := r.chart("0.1.0"); c.Name = "other"; return c }(), []string{"fetch chart other 0.1.0", "chart other is not in the repository's index"}},
		{"no index at repo", func() Chart { c := r.chart("0.1.0"); c.Repo = r.srv.URL + "/nothing"; return c }(), []string{"read the repository index", "404"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FetchChart(ctx, tt.chart, t.TempDir())
			for _, want := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("err = %v; want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestFetchChartRejectsDigestMismatch(t *testing.T) {
	r := newChartRepo(t, "0.1.0")
	idxPath := filepath.Join(r.dir, "index.yaml")
	idx, err := repo.LoadIndexFile(idxPath)
	if err != nil {
		t.Fatal(err)
	}
	idx.Entries["demo"][0].Digest = strings.Repeat("0", 64)
	if err := idx.WriteFile(idxPath, 0o644); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	_, err = FetchChart(context.Background(), r.chart("0.1.0"), cache)
	if err == nil || !strings.Contains(err.Error(), "does not match the index's digest") {
		t.Fatalf("err = %v, want a digest mismatch", err)
	}
	if _, err := os.Stat(ChartCachePath(cache, r.chart("0.1.0"))); !os.IsNotExist(err) {
		t.Fatalf("rejected archive was cached (stat: %v)", err)
	}
}

func TestFetchChartStopsWithContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select { // a repository that never answers
		case <-req.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	c := Chart{Repo: srv.URL, Name: "demo", Version: "0.1.0"}
	_, err := FetchChart(ctx, c, t.TempDir())
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "fetch chart demo 0.1.0") {
		t.Fatalf("err = %v, want the deadline, naming the chart", err)
	}
}

func TestFailedInstallLeavesNothing(t *testing.T) {
	r := newChartRepo(t, "0.1.0", "0.2.0")
	f := newFakeCluster()
	in := f.installer(t.TempDir())
	ctx := context.Background()

	f.kube.failNextWaits(1)
	err := in.Install(ctx, r.chart("0.1.0"))
	for _, want := range []string{"install demo 0.1.0 into demo-system", "pods never became ready", "uninstalled"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v; want it to contain %q", err, want)
		}
	}
	mustInstalled(t, in, "", false)
	if h := history(t, in, "demo", "demo-system"); h != nil {
		t.Fatalf("a failed install left %v", summary(h))
	}

	// A failed upgrade is rolled back to the deployed version.
	if err := in.Install(ctx, r.chart("0.1.0")); err != nil {
		t.Fatal(err)
	}
	f.kube.failNextWaits(1) // the upgrade's wait fails, the rollback's succeeds
	err = in.Install(ctx, r.chart("0.2.0"))
	if err == nil || !strings.Contains(err.Error(), "upgrade demo 0.1.0 to 0.2.0 in demo-system") || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("err = %v, want a rolled-back upgrade", err)
	}
	mustInstalled(t, in, "0.1.0", true)
	h := history(t, in, "demo", "demo-system")
	if last := h[len(h)-1]; last.Info.Status != release.StatusDeployed || last.Chart.Metadata.Version != "0.1.0" {
		t.Fatalf("history after the failed upgrade = %v", summary(h))
	}
}

func TestInstallRecoversFromInterruptedInstall(t *testing.T) {
	r := newChartRepo(t, "0.1.0")
	ch, err := loader.LoadDir("testdata/demo")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		status  release.Status
		wantErr string // "" = the install replaces it
	}{
		{release.StatusPendingInstall, ""},
		{release.StatusFailed, ""},
		{release.StatusUninstalling, ""},
		{release.StatusPendingUpgrade, "release demo is pending-upgrade"},
	}
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			in := newFakeCluster().installer(t.TempDir())
			cfg, err := in.config("demo-system")
			if err != nil {
				t.Fatal(err)
			}
			left := &release.Release{Name: "demo", Namespace: "demo-system", Version: 1, Chart: ch, Info: &release.Info{Status: tt.status}}
			if err := cfg.Releases.Create(left); err != nil {
				t.Fatal(err)
			}
			err = in.Install(context.Background(), r.chart("0.1.0"))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			h := history(t, in, "demo", "demo-system")
			if len(h) != 1 || h[0].Info.Status != release.StatusDeployed {
				t.Fatalf("history = %v, want one deployed revision", summary(h))
			}
		})
	}
}

func TestChartValidate(t *testing.T) {
	ok := Chart{Repo: "https://charts.example/istio", Name: "istiod", Version: "1.27.3", Release: "istiod", Namespace: "istio-system"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(*Chart)
		want   string
	}{
		{"no name", func(c *Chart) { c.Name = "" }, "name is empty"},
		{"path as name", func(c *Chart) { c.Name = "istio/istiod" }, "plain chart name"},
		{"no repo", func(c *Chart) { c.Repo = "" }, "repo is empty"},
		{"oci repo", func(c *Chart) { c.Repo = "oci://registry/charts" }, "repo \"oci://registry/charts\" is not an http(s) URL"},
		{"relative repo", func(c *Chart) { c.Repo = "charts/istio" }, "is not an http(s) URL"},
		{"no version", func(c *Chart) { c.Version = "" }, "version is empty"},
		{"caret range", func(c *Chart) { c.Version = "^1.27.3" }, "version \"^1.27.3\" is not an exact semantic version"},
		{"tilde range", func(c *Chart) { c.Version = "~1.27" }, "is not an exact semantic version"},
		{"wildcard", func(c *Chart) { c.Version = "1.27.x" }, "is not an exact semantic version"},
		{"comparison", func(c *Chart) { c.Version = ">=1.27.0" }, "is not an exact semantic version"},
		{"short", func(c *Chart) { c.Version = "1.27" }, "is not an exact semantic version"},
		{"v prefix", func(c *Chart) { c.Version = "v1.27.3" }, "is not an exact semantic version"},
		{"no release", func(c *Chart) { c.Release = "" }, "release \"\""},
		{"bad release", func(c *Chart) { c.Release = "Istio_D" }, "release \"Istio_D\""},
		{"no namespace", func(c *Chart) { c.Namespace = "" }, "namespace \"\""},
		{"bad namespace", func(c *Chart) { c.Namespace = "Istio.System" }, "namespace \"Istio.System\""},
	}
	f := newFakeCluster()
	in := f.installer(t.TempDir())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.change(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want %q", err, tt.want)
			}
			if ierr := in.Install(context.Background(), c); ierr == nil || ierr.Error() != err.Error() {
				t.Fatalf("Install = %v, want the validation error", ierr)
			}
		})
	}
	if err := (Chart{Repo: "https://x", Name: "a", Version: "2025.10.1-rc.1", Release: "a", Namespace: "b"}).Validate(); err != nil {
		t.Fatalf("prerelease version rejected: %v", err)
	}
}

const testKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: kind-meshgym-test
  cluster:
    server: https://127.0.0.1:1
contexts:
- name: kind-meshgym-test
  context:
    cluster: kind-meshgym-test
    user: kind-meshgym-test
- name: dangling
  context:
    cluster: nowhere
    user: kind-meshgym-test
current-context: kind-meshgym-test
users:
- name: kind-meshgym-test
  user:
    token: not-a-secret
`

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cl      sandbox.Cluster
		wantErr string
	}{
		{"current context", sandbox.Cluster{Name: "meshgym-test", Kubeconfig: testKubeconfig}, ""},
		{"named context", sandbox.Cluster{Name: "meshgym-test", Kubeconfig: testKubeconfig, Context: "kind-meshgym-test"}, ""},
		{"missing context", sandbox.Cluster{Name: "meshgym-test", Kubeconfig: testKubeconfig, Context: "other"}, `kubeconfig of cluster meshgym-test: no context "other"`},
		{"context without cluster", sandbox.Cluster{Name: "meshgym-test", Kubeconfig: testKubeconfig, Context: "dangling"}, `names cluster "nowhere"`},
		{"empty kubeconfig", sandbox.Cluster{Name: "meshgym-test"}, "no current context"},
		{"garbage", sandbox.Cluster{Name: "meshgym-test", Kubeconfig: "{not yaml"}, "kubeconfig of cluster meshgym-test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := New(tt.cl, Options{CacheDir: t.TempDir()})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || in == nil {
				t.Fatalf("New = %v, %v", in, err)
			}
		})
	}
}

// TestNewReachesTheKubeconfigServer checks that the real configuration
// talks to the kubeconfig's API server (here: a port nothing listens on)
// through the "secret" storage driver in the release's namespace.
func TestNewReachesTheKubeconfigServer(t *testing.T) {
	var paths []string
	var mu sync.Mutex
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		paths = append(paths, req.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case req.URL.Path == "/version":
			fmt.Fprint(w, `{"major":"1","minor":"33","gitVersion":"v1.33.1"}`)
		case strings.HasSuffix(req.URL.Path, "/secrets"):
			fmt.Fprint(w, `{"kind":"SecretList","apiVersion":"v1","metadata":{},"items":[]}`)
		default:
			http.NotFound(w, req)
		}
	}))
	defer api.Close()
	kc := strings.Replace(testKubeconfig, "https://127.0.0.1:1", api.URL, 1)
	in, err := New(sandbox.Cluster{Name: "meshgym-test", Kubeconfig: kc}, Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	v, ok, err := in.Installed(context.Background(), "istiod", "istio-system")
	if err != nil || ok || v != "" {
		t.Fatalf("Installed = %q, %v, %v; want none", v, ok, err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := "/api/v1/namespaces/istio-system/secrets"
	found := false
	for _, p := range paths {
		found = found || p == want
	}
	if !found {
		t.Fatalf("requests %v; want a list of %s", paths, want)
	}

	unreachable, err := New(sandbox.Cluster{Name: "meshgym-test", Kubeconfig: testKubeconfig}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = unreachable.Installed(context.Background(), "istiod", "istio-system")
	if err == nil || !strings.Contains(err.Error(), "read release istiod in istio-system") {
		t.Fatalf("Installed on an unreachable cluster = %v", err)
	}
}
