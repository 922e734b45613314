package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"meshgym/doctor"
	"meshgym/sandbox/docker"
)

// doctorCmd runs the built meshgym doctor with extra environment.
func doctorCmd(t *testing.T, env []string, args ...string) (stdout, stderr string, code int, took time.Duration) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "meshgym"), append([]string{"doctor"}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(append(os.Environ(), "MESHGYM_PLUGIN_DIR="+t.TempDir()), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	start := time.Now()
	err := cmd.Run()
	took = time.Since(start)
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code, took
}

// TestDoctorNoDaemon: with DOCKER_HOST naming a socket that does not
// exist, Docker fails with its fix line, local (lean executables beside
// the binary) works, and doctor exits 0.
func TestDoctorNoDaemon(t *testing.T) {
	sock := "unix://" + filepath.Join(t.TempDir(), "docker.sock")
	// Unset the override CI exports, so the line says the daemon is local.
	out, errOut, code, took := doctorCmd(t, []string{"DOCKER_HOST=" + sock, "TESTCONTAINERS_HOST_OVERRIDE="})
	if code != 0 {
		t.Fatalf("exit %d, want 0 (local works)\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"local\n  ✓ executables: lean meshgym-app and meshgym-sidecar in " + binDir + "\n",
		"  ✓ child process: started meshgym-app, READY after ",
		"docker\n  ✗ daemon: cannot reach the daemon at " + sock + ": ",
		"      fix: start the daemon (systemctl start docker",
		"  ✓ published ports: 127.0.0.1 (the daemon is local); change it with TESTCONTAINERS_HOST_OVERRIDE=ADDRESS; not tried\n",
		"kind\n  ✗ docker: kind runs on Docker, which is not reachable\n",
		"plugins\n  ✓ mesh plugins: builtin (built in), istio (built in), linkerd (built in), consul (built in); plugin directory ",
		"\nusable platforms here: local\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if took > 10*time.Second {
		t.Errorf("doctor took %v; its checks are bounded to under 10 s", took)
	}
}

func TestDoctorBadOutput(t *testing.T) {
	_, errOut, code, _ := doctorCmd(t, nil, "-o", "yaml")
	if code != exitUsage || !strings.Contains(errOut, `--output: unknown format "yaml"; use text or json`) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// TestDockerDoctor runs doctor -o json against this machine's daemon.
func TestDockerDoctor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := docker.Ping(ctx); err != nil {
		t.Skipf("skipping: no Docker daemon here (%v); doctor's Docker checks are not tried against a real one", err)
	}
	out, errOut, code, took := doctorCmd(t, nil, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	var r doctor.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	checks := map[string]doctor.Check{}
	for _, c := range r.Checks {
		checks[c.Group+"/"+c.Name] = c
	}
	for _, name := range []string{"docker/daemon", "docker/network", "docker/published ports", "local/child process"} {
		if c := checks[name]; c.Status != doctor.StatusOK {
			t.Errorf("%s = %s %q fix %q, want ok", name, c.Status, c.Detail, c.Fix)
		}
	}
	// The container is probed when meshgym's images are built, and must
	// then run; otherwise doctor says how to build them.
	switch c := checks["docker/container"]; c.Status {
	case doctor.StatusOK:
		if !strings.Contains(checks["docker/published ports"].Detail, "reached the probe container at http://") {
			t.Errorf("container ran but its published port was not tried: %q", checks["docker/published ports"].Detail)
		}
	case doctor.StatusWarn:
		if c.Fix != "meshgym images build, then meshgym doctor again" {
			t.Errorf("container not tried without the fix: %+v", c)
		}
	default:
		t.Errorf("container = %s %q fix %q", c.Status, c.Detail, c.Fix)
	}
	if !slices.Equal(r.Usable, []string{"local", "docker"}) {
		t.Errorf("usable = %v, want [local docker]", r.Usable)
	}
	t.Logf("doctor took %v; container: %s", took, checks["docker/container"].Detail)
}
