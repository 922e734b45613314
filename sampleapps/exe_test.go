package sampleapps

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

const appPkg = "meshgym/cmd/meshgym-app"

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// appBinary builds cmd/meshgym-app once per test run.
func appBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the executable")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "meshgym-app-test")
		if buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "meshgym-app")
		if runtime.GOOS == "windows" {
			buildBin += ".exe"
		}
		out, err := exec.Command(goBin, "build", "-o", buildBin, appPkg).CombinedOutput()
		if err != nil {
			buildErr = errors.New(err.Error() + ": " + string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("go build %s: %v", appPkg, buildErr)
	}
	return buildBin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitExit(t *testing.T, cmd *exec.Cmd, within time.Duration) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), time.Since(start)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, time.Since(start)
	case <-time.After(within):
		cmd.Process.Kill()
		<-done
		t.Fatalf("process did not exit within %v", within)
		return -1, 0
	}
}

func TestExecutableLifecycle(t *testing.T) {
	bin := appBinary(t)
	cmd := exec.Command(bin, "--name", "api", "--listen", "127.0.0.1:0", "--timing-50", "1ms")
	cmd.Env = append(os.Environ(), "ERROR_RATE=0")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	lineCh := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lineCh <- line
	}()
	var line string
	select {
	case line = <-lineCh:
	case <-time.After(5 * time.Second):
		t.Fatalf("no READY line; stderr: %s", stderr.String())
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "READY ")
	if !ok {
		t.Fatalf("first stdout line %q", line)
	}
	var ready ReadyLine
	if err := json.Unmarshal([]byte(rest), &ready); err != nil || ready.Name != "api" || !strings.HasPrefix(ready.Listen, "127.0.0.1:") || ready.PID != cmd.Process.Pid {
		t.Fatalf("READY json %q: %+v %v", rest, ready, err)
	}
	code, r, _ := get(t, "http://"+ready.Listen+"/", nil)
	if code != 200 || r.Name != "api" {
		t.Fatalf("GET /: %d %+v", code, r)
	}
	res, err := http.Get("http://" + ready.Listen + "/ready")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("/ready: %v %v", res, err)
	}
	res.Body.Close()
	mfs := scrapeApp(t, "http://"+ready.Listen)
	if got := counterSeriesOf(t, mfs[MetricRequests]); len(got) != 1 || got["attempt=1,direction=inbound,name=api,status_code=200"] != 1 {
		t.Fatalf("/metrics of the executable: %v", got)
	}

	stdin.Close()
	exit, took := waitExit(t, cmd, 2*time.Second)
	t.Logf("exited %d %v after stdin closed", exit, took)
	if exit != 0 {
		t.Fatalf("exit %d after stdin EOF; stderr: %s", exit, stderr.String())
	}
}

func TestExecutableBadEnvExits2(t *testing.T) {
	bin := appBinary(t)
	for _, c := range []struct {
		env, args []string
		name      string
	}{
		{[]string{"ERROR_RATE=1.5"}, nil, "ERROR_RATE"},
		{[]string{"TIMING_50_PERCENTILE=twenty"}, nil, "TIMING_50_PERCENTILE"},
		{nil, []string{"--error-code", "9999"}, "--error-code"},
	} {
		cmd := exec.Command(bin, c.args...)
		cmd.Env = append(os.Environ(), c.env...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%v %v: want exit 2, got %v (%s)", c.env, c.args, err, out)
			continue
		}
		msg := strings.TrimSpace(string(out))
		if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, c.name) {
			t.Errorf("want one line naming %s, got %q", c.name, msg)
		}
	}
}

func TestExecutableTakenPortExits3(t *testing.T) {
	bin := appBinary(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr := l.Addr().String()
	cmd := exec.Command(bin, "--listen", addr)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("want exit 3, got %v (%s)", err, out)
	}
	msg := strings.TrimSpace(string(out))
	if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, addr) {
		t.Fatalf("want one line naming %s, got %q", addr, msg)
	}
}

func TestExecutableSIGTERM(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGTERM delivery on Windows")
	}
	bin := appBinary(t)
	addr := freeAddr(t)
	cmd := exec.Command(bin, "--listen", addr)
	stdin, _ := cmd.StdinPipe() // kept open: only the signal stops it
	defer stdin.Close()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(os.Interrupt)
	if exit, _ := waitExit(t, cmd, 3*time.Second); exit != 0 {
		t.Fatalf("exit %d after SIGINT", exit)
	}
}

func TestLeanDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", appPkg).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	// The app writes its /metrics text itself (metrics.go): no OpenTelemetry
	// and no Prometheus libraries (client_golang, client_model, common,
	// procfs), whose memory would blur the sidecar scenarios' measurement of
	// the app.
	banned := []string{"k8s.io/", "sigs.k8s.io/kind", "helm.sh/", "github.com/testcontainers/", "github.com/spf13/cobra",
		"go.opentelemetry.io/", "github.com/prometheus/"}
	for _, p := range strings.Fields(string(out)) {
		for _, b := range banned {
			if strings.HasPrefix(p, b) {
				t.Errorf("%s links %s", appPkg, p)
			}
		}
		// tracelite (standard library only) records the app's spans.
		if strings.HasPrefix(p, "meshgym/") && p != "meshgym/sampleapps" && p != appPkg && p != "meshgym/tracing/tracelite" {
			t.Errorf("%s links meshgym package %s; it may link only sampleapps and tracing/tracelite", appPkg, p)
		}
	}
}
