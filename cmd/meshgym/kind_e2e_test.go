package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meshgym/sandbox/kind"
)

// kindE2EMissing says what the kind end-to-end test lacks here ("" =
// nothing): the Docker daemon, the kind node image (never pulled by a
// test), or the opt-in for a test that takes several minutes per mesh
// and whose mesh images and charts come from the internet.
func kindE2EMissing(t *testing.T) string {
	t.Helper()
	if err := exec.Command("docker", "info").Run(); err != nil {
		return "no Docker daemon answers ('docker info' failed)"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ok, err := kind.NodeImagePresent(ctx)
	if err != nil {
		return "cannot look for the kind node image: " + err.Error()
	}
	if !ok {
		return "no kind node image " + kind.NodeImage + " in the local Docker ('make kind-node-image' pulls it; offline, 'meshgym images load' an archive saved with --node-image)"
	}
	if os.Getenv("MESHGYM_KIND_E2E") == "" {
		return "Docker and the node image are here, but MESHGYM_KIND_E2E is not set: the test takes about 10 minutes a mesh and needs internet for the mesh charts and images; run 'make test-kind'"
	}
	return ""
}

// TestKindEndToEnd runs the retries scenario on a kind cluster with each
// real mesh: meshgym up → meshgym run → meshgym down, and asserts that
// the pattern took the user-visible error rate down and that down removed
// the cluster. MESHGYM_KIND_MESHES=istio,linkerd narrows the meshes.
func TestKindEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("kind end-to-end: skipped under -short")
	}
	if missing := kindE2EMissing(t); missing != "" {
		t.Skip("kind end-to-end: skipped: " + missing)
	}
	meshes := []string{"istio", "linkerd", "consul"}
	if v := os.Getenv("MESHGYM_KIND_MESHES"); v != "" {
		meshes = strings.Split(v, ",")
	}
	registry := filepath.Join(t.TempDir(), "kind-clusters.json")
	env := []string{"MESHGYM_KIND_REGISTRY=" + registry}
	for _, mesh := range meshes {
		t.Run(mesh, func(t *testing.T) {
			cluster := "meshgym-e2e-" + mesh
			t.Cleanup(func() { meshgymEnv(t, env, "down") })
			out, errOut, code := meshgymEnv(t, env, "up", "--platform", "kind", "--mesh", mesh, "--cluster", cluster)
			if code != 0 {
				t.Fatalf("up exit %d\n%s\n%s", code, out, errOut)
			}
			runDir := filepath.Join(t.TempDir(), "run")
			_, errOut, code = meshgymEnv(t, env, "run", "retries", "--platform", "kind", "--mesh", mesh, "--cluster", cluster,
				"-d", "30s", "--seed", "7", "--run-dir", runDir)
			if code != 0 && code != 1 {
				t.Fatalf("run exit %d\n%s", code, errOut)
			}
			raw, err := os.ReadFile(filepath.Join(runDir, "result.json"))
			if err != nil {
				t.Fatalf("no result.json: %v\n%s", err, errOut)
			}
			before, after := userErrorShare(t, raw, "before"), userErrorShare(t, raw, "after")
			t.Logf("%s: user-visible errors %.1f%% before, %.1f%% after", mesh, 100*before, 100*after)
			if !(before > 0.1 && after < before/2) {
				t.Errorf("%s: retries did not cut the user-visible errors: %.1f%% before, %.1f%% after", mesh, 100*before, 100*after)
			}
			out, errOut, code = meshgymEnv(t, env, "down")
			if code != 0 || !strings.Contains(out, "removed kind cluster "+cluster) {
				t.Errorf("down exit %d, want the cluster removed:\n%s\n%s", code, out, errOut)
			}
			if b, _ := exec.Command("docker", "ps", "-a", "--filter", "label=io.x-k8s.kind.cluster="+cluster, "-q").Output(); strings.TrimSpace(string(b)) != "" {
				t.Errorf("kind node containers of %s left after down: %s", cluster, b)
			}
		})
	}
}

// userErrorShare reads the share of non-2xx answers the load generator
// saw in one phase of a result.json.
func userErrorShare(t *testing.T, raw []byte, phase string) float64 {
	t.Helper()
	var r map[string]json.RawMessage
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	var p struct {
		Load struct {
			Client struct {
				Codes map[string]int64 `json:"status_codes"`
			} `json:"client"`
		} `json:"load"`
	}
	if err := json.Unmarshal(r[phase], &p); err != nil {
		t.Fatalf("result.json %s: %v", phase, err)
	}
	var all, bad int64
	for code, n := range p.Load.Client.Codes {
		all += n
		if !strings.HasPrefix(code, "2") {
			bad += n
		}
	}
	if all == 0 {
		t.Fatalf("result.json %s: no client answers", phase)
	}
	return float64(bad) / float64(all)
}

// meshgymEnv is meshgym with extra environment variables.
func meshgymEnv(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		t.Setenv(k, v)
	}
	return meshgym(t, args...)
}
