package docker_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"meshgym/sandbox"
	"meshgym/sandbox/docker"
	"meshgym/sandbox/docker/images"
	"meshgym/scenarios"
)

// Environment of the test helper process (TestDockerWatchdog): it deploys
// a topology into helperRunDir, prints "DEPLOYED" and waits to be killed.
const (
	helperEnv    = "MESHGYM_DOCKER_TEST_HELPER"
	helperRunDir = "MESHGYM_DOCKER_TEST_RUNDIR"
	helperExeApp = "MESHGYM_DOCKER_TEST_APP"
	helperExeSc  = "MESHGYM_DOCKER_TEST_SIDECAR"
)

var (
	// pingErr is why the daemon is not usable (nil when it is).
	pingErr error
	// exe are the lean static executables built for the images.
	exe images.Executables
	// buildErr is a failed build of those executables.
	buildErr error
)

func TestMain(m *testing.M) {
	// This binary is also the watchdog the platform re-executes, and the
	// helper process that gets SIGKILLed.
	if len(os.Args) > 1 && os.Args[1] == docker.WatchdogCommand {
		os.Exit(docker.WatchdogMain(os.Args[2:]))
	}
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperMain())
	}
	_, pingErr = docker.Ping(context.Background())
	dir, err := os.MkdirTemp("", "meshgym-docker-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	unlock := func() {}
	if pingErr == nil {
		unlock = lockDockerTests()
		exe, buildErr = buildExecutables(dir)
	}
	code := m.Run()
	unlock()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildExecutables builds meshgym-app and meshgym-sidecar static for Linux.
func buildExecutables(dir string) (images.Executables, error) {
	cmd := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), "meshgym/cmd/meshgym-app", "meshgym/cmd/meshgym-sidecar")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		return images.Executables{}, fmt.Errorf("build lean executables: %v: %s", err, out)
	}
	return images.Executables{App: filepath.Join(dir, "meshgym-app"), Sidecar: filepath.Join(dir, "meshgym-sidecar")}, nil
}

// needDocker skips a test when no daemon answers, and fails it when the
// executables could not be built.
func needDocker(t *testing.T) {
	t.Helper()
	if pingErr != nil {
		t.Skipf("docker: no daemon reachable (%v); start dockerd to run the Docker tests", pingErr)
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	t.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
}

// newProvider is the Docker platform on the test's executables.
func newProvider(t *testing.T) *docker.Provider {
	t.Helper()
	p, err := docker.New(docker.Options{Executables: exe})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// helperMain deploys the retries topology and waits to be killed.
func helperMain() int {
	p, err := docker.New(docker.Options{Executables: images.Executables{App: os.Getenv(helperExeApp), Sidecar: os.Getenv(helperExeSc)}})
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	sc, err := scenarios.Builtin("retries")
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	_, err = p.Deploy(context.Background(), sandbox.DeploySpec{Topology: sc.Topology, RunDir: os.Getenv(helperRunDir), Seed: 1, EntryPort: 0})
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	fmt.Println("DEPLOYED")
	time.Sleep(10 * time.Minute)
	return 0
}
