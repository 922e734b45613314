package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "meshgym-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	build := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), "meshgym/cmd/...")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func meshgym(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "meshgym"), args...)
	cmd.Dir = t.TempDir()
	// No plugin of the user's: the tests see the built-in one only.
	cmd.Env = append(os.Environ(), "MESHGYM_PLUGIN_DIR="+t.TempDir())
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBadInput: every malformed input ends with exit 2 and one clear line.
func TestBadInput(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	takenPort := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	badYAML := writeFile(t, "bad.yaml", "deployment:\n  retry: [\n")
	unknownPattern := writeFile(t, "p.yaml", "deployment:\n  teleport:\n    upstream_services: 2\nperformance_test:\n  duration: 10s\n")
	unknownMetric := writeFile(t, "m.yaml", `deployment:
  retry:
    upstream_services: 2
    upstream_retries: 3
    upstream_error_rate: [0, 50]
performance_test:
  duration: 10s
  rps: 10
  threads: 2
  success_conditions:
    - bogus_metric[name="payments"]:
        value: 100%
`)
	badRate := writeFile(t, "r.yaml", `deployment:
  retry:
    upstream_services: 2
    upstream_retries: 3
    upstream_error_rate: [0, 150]
performance_test:
  duration: 10s
  rps: 10
  threads: 2
`)
	empty := writeFile(t, "empty.yaml", "")
	fullDir := t.TempDir()
	os.WriteFile(filepath.Join(fullDir, "result.json"), []byte("precious"), 0o644)
	aFile := writeFile(t, "plain.txt", "x")
	cases := []struct {
		name string
		args []string
		want string // substring of the one line on stderr
	}{
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"unknown flag", []string{"run", "retries", "--frob"}, "unknown flag"},
		{"missing arg", []string{"run"}, "expects SCENARIO"},
		{"unknown scenario", []string{"run", "nosuch"}, "no built-in scenario or file named \"nosuch\""},
		{"missing file", []string{"run", "./nope.yaml"}, "nope.yaml: no such file"},
		{"bad yaml", []string{"run", badYAML}, "bad.yaml:"},
		{"unknown pattern", []string{"run", unknownPattern}, "teleport"},
		{"unknown metric", []string{"run", unknownMetric}, "bogus_metric"},
		{"rate above 100", []string{"run", badRate}, "150"},
		{"empty file", []string{"run", empty}, "empty.yaml"},
		{"bad output", []string{"run", "retries", "-o", "xml"}, "--output"},
		{"negative rps", []string{"run", "retries", "--rps", "-3"}, "--rps"},
		{"bad duration", []string{"run", "retries", "--duration", "soon"}, "invalid argument"},
		{"port taken", []string{"run", "retries", "-d", "1s", "--port", takenPort}, "port " + takenPort + " is already in use"},
		{"rps NaN", []string{"run", "retries", "--rps", "NaN"}, "--rps"},
		{"rps huge", []string{"run", "retries", "--rps", "1e9"}, "--rps"},
		{"duration 0", []string{"run", "retries", "-d", "0s"}, "--duration"},
		{"duration tiny", []string{"run", "retries", "-d", "1ms"}, "--duration"},
		{"connections 0", []string{"run", "retries", "-c", "0"}, "--connections"},
		{"connections huge", []string{"run", "retries", "-c", "100000"}, "--connections"},
		{"run-dir holds files", []string{"run", "retries", "--run-dir", fullDir}, "already holds files"},
		{"run-dir is a file", []string{"run", "retries", "--run-dir", aFile}, "is a file"},
		{"scenario is a directory", []string{"run", fullDir}, "directory"},
		{"bad set key", []string{"run", "retries", "--set", "foo=1"}, "--set foo: unknown key"},
		{"bad set value", []string{"run", "retries", "--set", "currency_v2.errorRate=150"}, "100"},
		{"explain missing", []string{"explain", "./nope.yaml"}, "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := meshgym(t, tc.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr: %s", code, errOut)
			}
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			last := lines[len(lines)-1]
			if !strings.Contains(last, tc.want) {
				t.Errorf("stderr last line %q does not contain %q", last, tc.want)
			}
			if strings.Contains(errOut, "goroutine ") || strings.Contains(errOut, "panic") {
				t.Errorf("stack trace on stderr: %s", errOut)
			}
			if !strings.HasPrefix(last, "meshgym: ") {
				t.Errorf("error line %q lacks the meshgym: prefix", last)
			}
			_ = out
		})
	}
}

// TestRunDirNotOverwritten: a refused --run-dir keeps the user's files.
func TestRunDirNotOverwritten(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "result.json")
	os.WriteFile(p, []byte("precious"), 0o644)
	if _, _, code := meshgym(t, "run", "retries", "--run-dir", dir); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if b, _ := os.ReadFile(p); string(b) != "precious" {
		t.Errorf("result.json was overwritten: %q", b)
	}
}

func TestListAndVersion(t *testing.T) {
	out, _, code := meshgym(t, "list")
	if code != 0 || !strings.Contains(out, "retries") {
		t.Errorf("list: exit %d, output %q", code, out)
	}
	out, _, code = meshgym(t, "version")
	if code != 0 || !strings.HasPrefix(out, "meshgym ") {
		t.Errorf("version: exit %d, output %q", code, out)
	}
	out, _, code = meshgym(t, "explain", "retries")
	if code != 0 || !strings.Contains(out, "apiVersion: meshgym.dev/v1alpha1") || !strings.Contains(out, "currency_v2") {
		t.Errorf("explain: exit %d, output %q", code, out)
	}
}

// TestInterrupt sends SIGINT or SIGTERM mid-run: exit 130, every child is
// gone, and result.json records the interrupted run.
func TestInterrupt(t *testing.T) {
	if testing.Short() || runtime.GOOS == "windows" {
		t.Skip("needs a real run and POSIX signals")
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) { interrupt(t, sig) })
	}
}

func interrupt(t *testing.T, sig syscall.Signal) {
	runDir := t.TempDir()
	cmd, wait := startRun(t, runDir)
	time.Sleep(time.Second)
	pids := childPIDs(t, runDir)
	cmd.Process.Signal(sig)
	err, errLines := wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 130 {
		t.Errorf("exit %v, want 130; stderr: %s", err, strings.Join(errLines, "\n"))
	}
	if last := errLines[len(errLines)-1]; !strings.Contains(last, "interrupted") {
		t.Errorf("last stderr line %q does not say interrupted", last)
	}
	if b, err := os.ReadFile(filepath.Join(runDir, "result.json")); err != nil || !bytes.Contains(b, []byte(`"error": "interrupted`)) {
		t.Errorf("result.json of the interrupted run: %v %.200s", err, b)
	}
	for _, pid := range pids {
		if p, _ := os.FindProcess(pid); p != nil && p.Signal(syscall.Signal(0)) == nil {
			t.Errorf("child pid %d still running after SIGINT", pid)
		}
	}
}

// startRun starts `meshgym run retries -d 20s` into runDir and returns
// once its before phase began; wait returns its exit error and every line
// it wrote on stderr (within 20 s, else the test fails).
func startRun(t *testing.T, runDir string) (*exec.Cmd, func() (error, []string)) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "meshgym"), "run", "retries", "-d", "20s", "--port", "0", "--run-dir", runDir)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "MESHGYM_PLUGIN_DIR="+t.TempDir())
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	var lines []string
	started, scanned := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if strings.Contains(sc.Text(), "before") && !once {
				once = true
				close(started)
			}
		}
	}()
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("run did not start")
	}
	return cmd, func() (error, []string) {
		done := make(chan error, 1)
		go func() { <-scanned; done <- cmd.Wait() }()
		select {
		case err := <-done:
			return err, lines
		case <-time.After(20 * time.Second):
			t.Fatalf("the run did not end; stderr so far:\n%s", strings.Join(lines, "\n"))
			return nil, nil
		}
	}
}

// childPIDs finds the component processes of a run via /proc (Linux only).
func childPIDs(t *testing.T, runDir string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc")
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if bytes.Contains(cmdline, []byte(filepath.Join(binDir, "meshgym-"))) {
			pids = append(pids, pid)
		}
	}
	if len(pids) < 8 {
		t.Fatalf("found %d component processes, want 8", len(pids))
	}
	return pids
}
