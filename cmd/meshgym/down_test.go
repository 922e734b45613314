package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"meshgym/sandbox/docker"
	"meshgym/sandbox/docker/images"
)

// dockerOrSkip skips when no Docker daemon answers, saying so.
func dockerOrSkip(t *testing.T) *client.Client {
	t.Helper()
	t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	t.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	cli, _, err := docker.Connect(context.Background())
	if err != nil {
		t.Skipf("docker: no daemon reachable (%v); start dockerd to run the Docker tests", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// TestDockerDown: `meshgym down` removes every object labelled managed by
// meshgym and prints each; a second run says there is nothing left.
func TestDockerDown(t *testing.T) {
	cli := dockerOrSkip(t)
	defer lockDockerTests()()
	ctx := context.Background()
	name := "meshgym-test-down-" + strconv.Itoa(os.Getpid())
	labels := map[string]string{docker.LabelManaged: "true", docker.LabelRun: name, docker.LabelOwnerPID: strconv.Itoa(os.Getpid())}
	if _, err := cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "bridge", Labels: labels}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: name, Labels: labels}); err != nil {
		t.Fatal(err)
	}
	defer docker.RemoveRun(ctx, name)
	var out, errb bytes.Buffer
	if code := Main([]string{"down"}, &out, &errb); code != 0 {
		t.Fatalf("meshgym down: exit %d, stderr %s", code, errb.String())
	}
	for _, want := range []string{"removed network " + name, "removed volume " + name} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("meshgym down printed %q; want %q", out.String(), want)
		}
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: client.Filters{}.Add("label", docker.LabelManaged+"=true")})
	if err != nil || len(ns.Items) != 0 {
		t.Errorf("after down: %d managed networks remain (%v)", len(ns.Items), err)
	}
	out.Reset()
	if code := Main([]string{"down"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "nothing to remove") {
		t.Errorf("second meshgym down: exit %d, %q; want nothing to remove", code, out.String())
	}
}

// TestDockerDownNoDaemon: without a daemon, down says so and exits 3.
func TestDockerDownNoDaemon(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	var out, errb bytes.Buffer
	code := Main([]string{"down"}, &out, &errb)
	if code != exitPlatform || !strings.Contains(errb.String(), "not reachable") || !strings.Contains(errb.String(), "no-docker.sock") {
		t.Errorf("meshgym down without a daemon: exit %d, stderr %q; want 3 naming the address", code, errb.String())
	}
}

// TestDockerImagesCLI: load of a missing file exits 2 naming it; save and
// load round-trip meshgym's images when present, or save says to build
// them first.
func TestDockerImagesCLI(t *testing.T) {
	var out, errb bytes.Buffer
	missing := filepath.Join(t.TempDir(), "nope.tar")
	if code := Main([]string{"images", "load", missing}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), missing) {
		t.Errorf("images load of a missing file: exit %d, %q; want 2 naming the file", code, errb.String())
	}
	cli := dockerOrSkip(t)
	// Loading images retags meshgym's own: not while sandbox/docker's
	// tests build and compare them.
	defer lockDockerTests()()
	app, sc := images.Refs()
	present, err := docker.ImagesPresent(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "images.tar")
	// A user's own FILE.partial: save must neither overwrite nor delete it.
	if err := os.WriteFile(file+".partial", []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	code := Main([]string{"images", "save", file}, &out, &errb)
	if !present[app] || !present[sc] {
		if code != exitPlatform || !strings.Contains(errb.String(), "meshgym images build") || !strings.Contains(errb.String(), file) {
			t.Errorf("images save without images: exit %d, %q; want 3 with the build hint and the file", code, errb.String())
		}
		return
	}
	if code != 0 || !strings.Contains(out.String(), file) {
		t.Fatalf("images save: exit %d, %q %q", code, out.String(), errb.String())
	}
	if b, err := os.ReadFile(file + ".partial"); err != nil || string(b) != "mine" {
		t.Errorf("images save touched the user's %s.partial: %q, %v", file, b, err)
	}
	// --force replaces an existing regular file, through a temporary file
	// that does not stay behind.
	if code := Main([]string{"images", "save", "--force", file}, &out, &errb); code != 0 {
		t.Errorf("images save --force onto the saved file: exit %d, %q", code, errb.String())
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".meshgym-images-*")); len(left) != 0 {
		t.Errorf("images save left temporary files: %v", left)
	}
	out.Reset()
	if code := Main([]string{"images", "load", file}, &out, &errb); code != 0 || !strings.Contains(out.String(), "loaded "+app) || !strings.Contains(out.String(), "loaded "+sc) {
		t.Errorf("images load: exit %d, %q %q; want both images loaded", code, out.String(), errb.String())
	}
	out.Reset()
	if code := Main([]string{"images", "list"}, &out, &errb); code != 0 || !strings.Contains(out.String(), app) {
		t.Errorf("images list: exit %d, %q", code, out.String())
	}
	_ = cli
}

// TestPlatformFlag: --platform takes local, docker or kind; anything else
// is a usage error listing them; kind needs a real mesh; --cluster is
// kind's only.
func TestPlatformFlag(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main([]string{"run", "retries", "--platform", "k8s"}, &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "local, docker, kind") {
		t.Errorf("--platform k8s: exit %d, %q; want 2 listing the platforms", code, errb.String())
	}
	for _, args := range [][]string{
		{"run", "retries", "--platform", "kind"},
		{"compare", "retries", "--platform", "kind"},
	} {
		errb.Reset()
		code = Main(args, &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), "add --mesh istio, linkerd or consul") || !strings.Contains(errb.String(), "meshgym up --platform kind") {
			t.Errorf("%v: exit %d, %q; want 2 naming the real meshes and meshgym up", args, code, errb.String())
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "retries", "--platform", "kind", "--mesh", "kuma"}, "--mesh kuma: on --platform kind the mesh is a real one the cluster runs: istio, linkerd or consul"},
		{[]string{"run", "retries", "--platform", "kind", "--mesh", "istio@1.23"}, "the cluster runs the istio meshgym installed (1.27.1)"},
		{[]string{"run", "retries", "--platform", "kind", "--mesh", "istio", "--cluster", "BAD_NAME"}, `--cluster: invalid kind cluster name "BAD_NAME"`},
		{[]string{"up", "--mesh", "istio", "--cluster=-x"}, `--cluster: invalid kind cluster name "-x"`},
		{[]string{"up", "--mesh", "kuma"}, "--mesh kuma: not a mesh meshgym installs; choose istio, linkerd or consul"},
		{[]string{"up", "--platform", "docker", "--mesh", "istio"}, "nothing to bring up"},
		{[]string{"lab", "retries", "--platform", "kind", "--mesh", "linkerd@2.17"}, "the cluster runs the linkerd meshgym installed"},
	} {
		errb.Reset()
		code = Main(tc.args, &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 with %q", tc.args, code, errb.String(), tc.want)
		}
	}
	errb.Reset()
	code = Main([]string{"run", "retries", "--cluster", "meshgym-istio"}, &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "--cluster applies to --platform kind only") {
		t.Errorf("--cluster without kind: exit %d, %q", code, errb.String())
	}
	errb.Reset()
	code = Main([]string{"run", "retries", "--image-source", "upstream"}, &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "--platform docker or kind") {
		t.Errorf("--image-source without docker: exit %d, %q", code, errb.String())
	}
	p, err := newPlatform("docker", nil)
	if err != nil || p == nil || p.Name() != "docker" {
		t.Errorf("newPlatform(docker) = %v, %v", p, err)
	}
	if p, err := newPlatform("local", nil); err != nil || p != nil {
		t.Errorf("newPlatform(local) = %v, %v; want nil (the engine's default)", p, err)
	}
}
