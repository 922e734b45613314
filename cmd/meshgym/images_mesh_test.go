package main

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/moby/client"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/repo"

	"meshgym/plugins/kubemesh"
	"meshgym/plugins/meshinstall"
	"meshgym/sandbox/docker/images"
)

// localChartRepo serves chart demo 0.1.0 from a loopback Helm repository
// (index.yaml and the archive), as plugins/meshinstall's tests do.
func localChartRepo(t *testing.T) meshinstall.Chart {
	t.Helper()
	dir := t.TempDir()
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	ch := &chart.Chart{
		Metadata:  &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "demo", Version: "0.1.0", Type: "application"},
		Templates: []*chart.File{{Name: "templates/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\n")}},
	}
	if _, err := chartutil.Save(ch, dir); err != nil {
		t.Fatal(err)
	}
	idx, err := repo.IndexDirectory(dir, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	return meshinstall.Chart{Repo: srv.URL, Name: "demo", Version: "0.1.0", Release: "demo", Namespace: "demo-system"}
}

// withDemoMesh makes "demo" the only real mesh for the images commands:
// its images are given, its chart is ch. Nothing is pulled from the
// internet.
func withDemoMesh(t *testing.T, ch meshinstall.Chart, imgs ...string) kubemesh.Spec {
	t.Helper()
	spec := kubemesh.Spec{Name: "demo", Version: "0.1.0", Charts: []meshinstall.Chart{ch}, Images: imgs}
	oldSpecs, oldLookup := imagesMeshSpecs, imagesMeshLookup
	imagesMeshSpecs = func() []kubemesh.Spec { return []kubemesh.Spec{spec} }
	imagesMeshLookup = func(name string) (kubemesh.Spec, bool) { return spec, name == "demo" }
	t.Cleanup(func() { imagesMeshSpecs, imagesMeshLookup = oldSpecs, oldLookup })
	return spec
}

// tempChartCache points the user cache directory (os.UserCacheDir) at a
// new temporary directory and returns meshinstall.DefaultCacheDir in it.
func tempChartCache(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", root)
	t.Setenv("HOME", root)
	t.Setenv("LocalAppData", root)
	d, err := meshinstall.DefaultCacheDir()
	if err != nil || !strings.HasPrefix(d, root) {
		t.Skipf("cannot move the user cache directory here (%q, %v)", d, err)
	}
	return d
}

// TestImagesSaveMeshFlag: an unknown --mesh is bad input naming the
// meshes, found before Docker or any repository is asked.
func TestImagesSaveMeshFlag(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	file := filepath.Join(t.TempDir(), "x.tar")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--mesh", "kuma"}, "--mesh kuma: not a mesh meshgym installs; choose istio, linkerd or consul"},
		{[]string{"--mesh", "istio,nope"}, "--mesh nope: not a mesh meshgym installs; choose istio, linkerd or consul"},
		{[]string{"--mesh", "linkerd", "--mesh", "Istio"}, "--mesh Istio: not a mesh"},
	} {
		out, stderr, code := traceCLI(t, append(append([]string{"images", "save"}, tc.args...), file)...)
		if code != exitUsage || out != "" || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and one line %q", tc.args, code, out, stderr, tc.want)
		}
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("a refused save wrote %s: %v", file, err)
	}
	help, _, _ := traceCLI(t, "images", "save", "--help")
	for _, w := range []string{"--mesh", "--node-image", "meshgym-charts/", "kindest/node:"} {
		if !strings.Contains(help, w) {
			t.Errorf("save --help lacks %q", w)
		}
	}
}

// TestImagesSaveFetchesChartsFirst: the mesh's charts are fetched into
// the chart cache before Docker is asked (so no image is pulled when a
// chart cannot be had); a repository that cannot be reached exits 3
// naming the chart.
func TestImagesSaveFetchesChartsFirst(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	cache := tempChartCache(t)
	ch := localChartRepo(t)
	withDemoMesh(t, ch)
	file := filepath.Join(t.TempDir(), "x.tar")
	_, stderr, code := traceCLI(t, "images", "save", "--mesh", "demo", file)
	if code != exitPlatform || !strings.Contains(stderr, "no-docker.sock") {
		t.Errorf("exit %d, %q; want 3 (the chart is fetched, then Docker is not reachable)", code, stderr)
	}
	if st, err := os.Stat(meshinstall.ChartCachePath(cache, ch)); err != nil || st.Size() == 0 {
		t.Errorf("the chart is not in the cache: %v", err)
	}

	gone := ch
	gone.Repo = "http://127.0.0.1:1"
	gone.Version = "0.2.0"
	withDemoMesh(t, gone)
	_, stderr, code = traceCLI(t, "images", "save", "--mesh", "demo", file)
	if code != exitPlatform || !strings.Contains(stderr, "fetch chart demo 0.2.0 from http://127.0.0.1:1") || strings.Contains(stderr, "no-docker.sock") {
		t.Errorf("unreachable repository: exit %d, %q; want 3 naming the chart, before Docker", code, stderr)
	}
}

// chartArchive is an image archive (manifest.json only: the checks read
// no further) carrying the given extra entries (name → content; a name
// ending in "@link" is a symbolic link).
func chartArchive(t *testing.T, entries ...string) string {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "manifest.json", Mode: 0o644, Size: 2})
	tw.Write([]byte("[]"))
	for i := 0; i+1 < len(entries); i += 2 {
		h := &tar.Header{Name: entries[i], Mode: 0o644, Size: int64(len(entries[i+1]))}
		if n, ok := strings.CutSuffix(entries[i], "@link"); ok {
			h = &tar.Header{Name: n, Typeflag: tar.TypeSymlink, Linkname: entries[i+1]}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeSymlink {
			tw.Write([]byte(entries[i+1]))
		}
	}
	tw.Close()
	file := filepath.Join(t.TempDir(), "a.tar")
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestImagesLoadRefusesUnsafeCharts: a chart entry that would land
// outside the cache, a link, or a different file already cached exits 2
// naming it before Docker is asked (DOCKER_HOST points nowhere), and
// nothing is written.
func TestImagesLoadRefusesUnsafeCharts(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	cache := tempChartCache(t)
	mine := filepath.Join(cache, "h_1", "demo-0.1.0.tgz")
	os.MkdirAll(filepath.Dir(mine), 0o755)
	os.WriteFile(mine, []byte("my chart"), 0o644)
	for _, tc := range []struct {
		name    string
		entries []string
		want    string
	}{
		{"dotdot", []string{"meshgym-charts/../../evil.tgz", "x"}, `contains ".."`},
		{"absolute", []string{"meshgym-charts//tmp/evil.tgz", "x"}, "absolute path"},
		{"link", []string{"meshgym-charts/h_2/x.tgz@link", "/etc/passwd"}, "not a regular file"},
		{"conflict", []string{"meshgym-charts/h_2/ok-1.0.0.tgz", "fine", "meshgym-charts/h_1/demo-0.1.0.tgz", "other"}, "a different file exists at " + mine},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := chartArchive(t, tc.entries...)
			out, stderr, code := traceCLI(t, "images", "load", file)
			if code != exitUsage || out != "" || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, file) || strings.Contains(stderr, "no-docker.sock") {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 naming %s and %q, before Docker", code, out, stderr, file, tc.want)
			}
			if _, err := os.Stat(filepath.Join(cache, "h_2")); !os.IsNotExist(err) {
				t.Errorf("something was extracted: %v", err)
			}
			if b, _ := os.ReadFile(mine); string(b) != "my chart" {
				t.Errorf("the cached chart was overwritten: %q", b)
			}
		})
	}
	// The same content already cached is fine: the load goes on to
	// Docker (not reachable: 3).
	file := chartArchive(t, "meshgym-charts/h_1/demo-0.1.0.tgz", "my chart")
	if _, stderr, code := traceCLI(t, "images", "load", file); code != exitPlatform || !strings.Contains(stderr, "no-docker.sock") {
		t.Errorf("same content: exit %d, %q; want 3 (Docker not reachable)", code, stderr)
	}
}

// TestDockerImagesSaveLoadMesh: with a real daemon, `images save --mesh`
// writes one archive with meshgym's images, the mesh's image and its
// chart as a meshgym-charts/ entry; `docker load` of that archive works
// (the extra entry is ignored), and `images load` restores the mesh
// image and puts the chart into an empty chart cache; `images list`
// shows both. Nothing is pulled: the mesh image is a local tag of
// meshgym's own sample-app image and the chart comes from a loopback
// repository.
func TestDockerImagesSaveLoadMesh(t *testing.T) {
	cli := dockerOrSkip(t)
	defer lockDockerTests()()
	ctx := context.Background()
	app, sc := images.Refs()
	for _, r := range []string{app, sc} {
		if _, err := cli.ImageInspect(ctx, r); err != nil {
			t.Skipf("image %s is not built (%v); meshgym images build", r, err)
		}
	}
	meshImage := "meshgym-test/demo-proxy:" + strconv.Itoa(os.Getpid())
	if _, err := cli.ImageTag(ctx, client.ImageTagOptions{Source: app, Target: meshImage}); err != nil {
		t.Fatal(err)
	}
	removeTag := func() { _, _ = cli.ImageRemove(ctx, meshImage, client.ImageRemoveOptions{}) }
	t.Cleanup(removeTag)

	saveCache := tempChartCache(t)
	ch := localChartRepo(t)
	withDemoMesh(t, ch, meshImage, app)
	file := filepath.Join(t.TempDir(), "classroom.tar")
	out, stderr, code := traceCLI(t, "images", "save", "--mesh", "demo", file)
	if code != 0 {
		t.Fatalf("save: exit %d, %q %q", code, out, stderr)
	}
	entry := "meshgym-charts/" + filepath.ToSlash(strings.TrimPrefix(meshinstall.ChartCachePath(saveCache, ch), saveCache+string(filepath.Separator)))
	if !strings.Contains(out, "saved 3 images and 1 chart to "+file) || !strings.Contains(out, "saved "+meshImage) {
		t.Errorf("save output %q", out)
	}
	chartData, err := os.ReadFile(meshinstall.ChartCachePath(saveCache, ch))
	if err != nil {
		t.Fatal(err)
	}
	// The archive: Docker's manifest plus the chart entry, byte for byte.
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(f)
	var gotChart []byte
	manifest := false
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		switch h.Name {
		case "manifest.json":
			manifest = true
		case entry:
			if gotChart, err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.Close()
	if !manifest || !bytes.Equal(gotChart, chartData) {
		t.Fatalf("archive: manifest.json %v, %s %d bytes (want %d)", manifest, entry, len(gotChart), len(chartData))
	}

	// Load on a "new machine": the mesh image is gone, the cache empty.
	removeTag()
	loadCache := tempChartCache(t)
	out, stderr, code = traceCLI(t, "images", "load", file)
	if code != 0 {
		t.Fatalf("load: exit %d, %q %q", code, out, stderr)
	}
	if _, err := cli.ImageInspect(ctx, meshImage); err != nil {
		t.Errorf("the mesh image was not loaded: %v", err)
	}
	want := "loaded 3 images and 1 chart; the charts are cached in " + loadCache + "; 'meshgym up --platform kind --mesh demo' now works without internet\n"
	if !strings.Contains(out, "loaded "+meshImage) || !strings.HasSuffix(out, want) {
		t.Errorf("load output %q; want it to end %q", out, want)
	}
	if b, err := os.ReadFile(meshinstall.ChartCachePath(loadCache, ch)); err != nil || !bytes.Equal(b, chartData) {
		t.Errorf("the chart in the cache: %d bytes, %v; want the saved chart", len(b), err)
	}
	// The extracted chart is where meshinstall looks: FetchChart uses it.
	if p, err := meshinstall.FetchChart(ctx, ch, loadCache); err != nil || p != meshinstall.ChartCachePath(loadCache, ch) {
		t.Errorf("FetchChart after load: %q %v", p, err)
	}
	// Loading again: the chart is already cached, not an error.
	out, _, code = traceCLI(t, "images", "load", file)
	if code != 0 || !strings.Contains(out, "(already cached)") {
		t.Errorf("second load: exit %d, %q", code, out)
	}

	out, _, code = traceCLI(t, "images", "list")
	if code != 0 || !strings.Contains(out, meshImage) || !strings.Contains(out, "Helm charts cached in "+loadCache) ||
		!strings.Contains(out, strings.TrimPrefix(entry, "meshgym-charts/")) {
		t.Errorf("list: exit %d\n%s", code, out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, meshImage) && !strings.Contains(l, " demo ") {
			t.Errorf("list does not mark the mesh image with its mesh: %q", l)
		}
	}
}
