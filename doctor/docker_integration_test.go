package doctor

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"
)

// realClient reaches this machine's daemon, or skips the test saying why.
func realClient(t *testing.T) *DockerClient {
	t.Helper()
	cl, err := NewDockerClient()
	if err != nil {
		t.Skipf("skipping: no Docker client here (%v); the doctor's real probe is not tried", err)
	}
	t.Cleanup(func() { cl.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), PingTimeout)
	defer cancel()
	if _, err := cl.Ping(ctx); err != nil {
		t.Skipf("skipping: no Docker daemon here (%v); the doctor's real probe is not tried (.ci/run starts one)", err)
	}
	return cl
}

// probeImage builds a throwaway FROM-scratch image of meshgym-app (as
// meshgym's own images are made) and removes it when the test ends.
func probeImage(t *testing.T, cl *DockerClient) string {
	t.Helper()
	dir := t.TempDir()
	gobuild := exec.Command("go", "build", "-o", dir, "meshgym/cmd/meshgym-app")
	gobuild.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := gobuild.CombinedOutput(); err != nil {
		t.Fatalf("build meshgym-app: %v\n%s", err, out)
	}
	exe, err := os.ReadFile(filepath.Join(dir, "meshgym-app"))
	if err != nil {
		t.Fatal(err)
	}
	var ctxTar bytes.Buffer
	tw := tar.NewWriter(&ctxTar)
	for _, f := range []struct {
		name string
		mode int64
		body []byte
	}{
		{"Dockerfile", 0o644, []byte("FROM scratch\nCOPY meshgym-app /meshgym-app\nENTRYPOINT [\"/meshgym-app\"]\n")},
		{"meshgym-app", 0o755, exe},
	} {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body))})
		tw.Write(f.body)
	}
	tw.Close()
	ref := "meshgym-doctor-test/app:" + randomSuffix()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := cl.c.ImageBuild(ctx, &ctxTar, client.ImageBuildOptions{
		Tags: []string{ref}, Remove: true, ForceRemove: true, Version: build.BuilderV1,
		Labels: map[string]string{labelManaged: "true"},
	})
	if err != nil {
		t.Fatalf("build probe image: %v", err)
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	for {
		var msg struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("build probe image: %v", err)
		}
		if msg.Error != "" {
			t.Fatalf("build probe image: %s", msg.Error)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cl.c.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})
	return ref
}

// withImage is the real client with the probe image counted as meshgym's.
type withImage struct {
	*DockerClient
	ref string
}

func (w withImage) ImagesPresent(ctx context.Context) (map[string]bool, error) {
	return map[string]bool{w.ref: true}, nil
}

// doctorLeftovers lists containers and networks the doctor made that
// still exist.
func doctorLeftovers(t *testing.T, cl *DockerClient) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Only this process's probes: another meshgym doctor (a user's, or a
	// test package running at the same time) has its own owner PID.
	f := make(client.Filters).Add("label", labelManaged+"=true").Add("label", labelOwnerPID+"="+strconv.Itoa(os.Getpid())).Add("name", "meshgym-doctor-")
	var out []string
	cs, err := cl.c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatalf("list containers: %v", err)
	}
	for _, c := range cs.Items {
		out = append(out, "container "+strings.Join(c.Names, ","))
	}
	ns, err := cl.c.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		t.Fatalf("list networks: %v", err)
	}
	for _, n := range ns.Items {
		out = append(out, "network "+n.Name)
	}
	return out
}

// TestDockerDoctorProbe runs the Docker checks against this machine's
// daemon with a real FROM-scratch sample-app image: the network, the
// container and the published port on 127.0.0.1 (or
// TESTCONTAINERS_HOST_OVERRIDE) must work, and nothing may remain, also
// when the run is interrupted at different moments.
func TestDockerDoctorProbe(t *testing.T) {
	cl := realClient(t)
	ref := probeImage(t, cl)
	d := withImage{cl, ref}
	opts := Options{
		Executables: fakeApp(t, "ready"), EntryPort: closedPort(),
		Docker: d, AppImage: ref, SidecarImage: "meshgym-doctor-test/sidecar:absent",
		Getenv: os.Getenv,
	}
	start := time.Now()
	r := Run(context.Background(), opts)
	if took := time.Since(start); took > DefaultTimeout+CleanupTimeout {
		t.Errorf("Run took %v, beyond its bound", took)
	}
	got := map[string]Check{}
	for _, c := range r.Checks {
		if c.Group == PlatformDocker {
			got[c.Name] = c
		}
	}
	for name, w := range map[string]want{
		"daemon":          {StatusOK, "server ", ""},
		"network":         {StatusOK, "ran the probe container on it, removed both", ""},
		"container":       {StatusOK, "created, started and removed a container of " + ref, ""},
		"published ports": {StatusOK, "reached the probe container at http://", ""},
		"images":          {StatusWarn, "meshgym-doctor-test/sidecar:absent", "meshgym images build"},
	} {
		c := got[name]
		if c.Status != w.status || !strings.Contains(c.Detail, w.detail) || !strings.Contains(c.Fix, w.fix) {
			t.Errorf("%s = %s %q fix %q; want %s, %q", name, c.Status, c.Detail, c.Fix, w.status, w.detail)
		}
	}
	t.Logf("probe run took %v: %s", time.Since(start), got["container"].Detail)
	if left := doctorLeftovers(t, cl); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}

	// Ctrl-C at different moments of the probe: still nothing left.
	for _, after := range []time.Duration{250 * time.Millisecond, 700 * time.Millisecond, 1200 * time.Millisecond} {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(after, cancel)
		r := Run(ctx, opts)
		cancel()
		for _, c := range r.Checks {
			if c.Name == "network" || c.Name == "container" {
				t.Logf("interrupted after %v: %s %s: %s", after, c.Status.Mark(), c.Name, c.Detail)
			}
		}
		if left := doctorLeftovers(t, cl); len(left) > 0 {
			t.Errorf("interrupted after %v (interrupted=%v): left behind %v", after, r.Interrupted, left)
		}
	}
}
