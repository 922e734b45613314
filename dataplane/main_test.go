package dataplane

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func goTool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err != nil {
		t.Skip("go tool not found; cannot build the executable")
	}
	return p
}

func runCaptured(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	stdout, stderr = &out, &errb
	defer func() { stdout, stderr = os.Stdout, os.Stderr }()
	code := run(args, nil)
	return code, out.String(), errb.String()
}

func TestMainBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--bogus"},
		{"--admin", "127.0.0.1:0"},
		{"--name", "x", "--inbound", "127.0.0.1:0"},
		{"--name", "x", "--outbound", "currency"},
		{"--name", "x", "--outbound", "a=127.0.0.1:0", "--outbound", "a=127.0.0.1:0"},
		{"--name", "x", "--seed", "-1"},
		{"--name", "x", "extra"},
	} {
		code, out, errs := runCaptured(t, args...)
		if code != ExitUsage || out != "" || strings.Count(errs, "\n") != 1 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and one stderr line", args, code, out, errs)
		}
	}
}

func TestMainBindFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().String()
	code, out, errs := runCaptured(t, "--name", "x", "--admin", "127.0.0.1:0", "--outbound", "currency="+taken)
	if code != ExitBind || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, taken) {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 3 naming %s", code, out, errs, taken)
	}
}

// TestExecutable builds cmd/meshgym-sidecar, starts it with a stdin pipe,
// pushes a config, proxies a request and checks it exits when stdin closes.
func TestExecutable(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the executable")
	}
	bin := filepath.Join(t.TempDir(), "meshgym-sidecar")
	build := exec.Command(goTool(t), "build", "-o", bin, "meshgym/cmd/meshgym-sidecar")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from upstream, attempt "+r.Header.Get(AttemptCountHeader))
	}))
	defer up.Close()

	cmd := exec.Command(bin, "--name", "api_sidecar", "--admin", "127.0.0.1:0",
		"--inbound", "127.0.0.1:0", "--app", up.Listener.Addr().String(),
		"--outbound", "currency=127.0.0.1:0", "--seed", "42")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdoutPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(stdoutPipe)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var ready string
	select {
	case ready = <-lines:
	case <-time.After(10 * time.Second):
		t.Fatalf("no READY line; stderr: %s", errb.String())
	}
	payload, ok := strings.CutPrefix(ready, "READY ")
	if !ok {
		t.Fatalf("first line %q", ready)
	}
	var addrs Addresses
	if err := json.Unmarshal([]byte(payload), &addrs); err != nil {
		t.Fatalf("READY json %q: %v", payload, err)
	}
	if addrs.Name != "api_sidecar" || addrs.Admin == "" || addrs.Inbound == "" || addrs.Outbound["currency"] == "" || addrs.Listen != addrs.Inbound {
		t.Fatalf("READY %+v", addrs)
	}

	body := `{"version":1,"clusters":{"currency":{"endpoints":[{"name":"currency_v1","address":"` + up.Listener.Addr().String() + `"}],"retry":{"num_retries":2,"retry_on":["5xx"]}}}}`
	req, _ := http.NewRequest(http.MethodPut, "http://"+addrs.Admin+"/config", strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT /config: %d", resp.StatusCode)
	}
	if code, _, _ := get(t, http.DefaultClient, "http://"+addrs.Admin+"/ready"); code != 200 {
		t.Fatalf("/ready %d", code)
	}
	code, got, _ := get(t, http.DefaultClient, "http://"+addrs.Outbound["currency"]+"/x")
	if code != 200 || got != "hello from upstream, attempt 1" {
		t.Fatalf("proxied: %d %q", code, got)
	}
	if code, _, _ := get(t, http.DefaultClient, "http://"+addrs.Inbound+"/"); code != 200 {
		t.Fatalf("inbound: %d", code)
	}
	_, metrics, _ := get(t, http.DefaultClient, "http://"+addrs.Admin+"/metrics")
	if !strings.Contains(metrics, `meshgym_requests_total{attempt="1",direction="inbound",name="api_sidecar",status_code="200"} 1`) {
		t.Fatalf("metrics:\n%s", metrics)
	}

	stdin.Close()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v; stderr: %s", err, errb.String())
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Fatalf("exited after %v", el)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("still running 2s after stdin closed")
	}
	if extra, ok := <-lines; ok {
		t.Fatalf("more than one stdout line: %q", extra)
	}
}

// TestExecutableSIGTERM checks graceful shutdown on a signal.
func TestExecutableSignal(t *testing.T) {
	if testing.Short() || runtime.GOOS == "windows" {
		t.Skip("builds the executable; needs SIGTERM")
	}
	bin := filepath.Join(t.TempDir(), "meshgym-sidecar")
	if out, err := exec.Command(goTool(t), "build", "-o", bin, "meshgym/cmd/meshgym-sidecar").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--name", "x", "--admin", "127.0.0.1:0")
	stdin, _ := cmd.StdinPipe()
	defer stdin.Close()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || !strings.HasPrefix(line, "READY ") {
		t.Fatalf("READY: %q %v", line, err)
	}
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGINT: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still running after SIGINT")
	}
}

func TestSidecarIsLean(t *testing.T) {
	out, err := exec.Command(goTool(t), "list", "-deps", "meshgym/cmd/meshgym-sidecar").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	// Tracing uses meshgym/tracing/tracelite (standard library only):
	// OpenTelemetry's OTLP/HTTP trace exporter links gRPC and grpc-gateway
	// through go.opentelemetry.io/proto/otlp/collector/trace/v1.
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"k8s.io/", "sigs.k8s.io/kind", "helm.sh/", "github.com/testcontainers", "github.com/spf13/cobra",
			"google.golang.org/grpc", "github.com/grpc-ecosystem/", "go.opentelemetry.io/proto/otlp/collector"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("meshgym-sidecar links %s", dep)
			}
		}
		if strings.HasPrefix(dep, "meshgym/") && dep != "meshgym/dataplane" && dep != "meshgym/cmd/meshgym-sidecar" && dep != "meshgym/tracing/tracelite" {
			t.Errorf("meshgym-sidecar links meshgym package %s", dep)
		}
	}
}
