package main

import (
	"bytes"
	"encoding/json"
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

const bookRetries = `deployment:
  retry:
    upstream_services: 2
    upstream_retries: 3
    upstream_error_rate: [0, 50]
performance_test:
  duration: 10s
  rps: 10
  threads: 2
`

// TestMeshInput: a bad --mesh or mesh: is bad input (exit 2, one line
// naming the problem) and nothing runs.
func TestMeshInput(t *testing.T) {
	old := writeFile(t, "old.yaml", "mesh: istio@1.10\n"+bookRetries)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown profile", []string{"run", "retries", "--mesh", "istoi"}, `unknown mesh profile "istoi"; known: book, consul, envoy, istio, kuma, linkerd`},
		{"too old in file", []string{"run", old}, "old.yaml:1:7: mesh: istio@1.10 is older than the oldest release reproduced"},
		{"explain unknown", []string{"explain", "retries", "--mesh", "nosuch@1"}, `unknown mesh profile "nosuch"`},
		{"explain format", []string{"explain", "retries", "--format", "helm"}, `unknown format "helm"`},
		{"compare one", []string{"compare", "retries", "--mesh", "istio"}, "at least two profiles"},
		{"compare typo", []string{"compare", "retries", "--mesh", "book,istoi", "-d", "1s"}, `--mesh istoi: mesh plugin builtin: unknown mesh profile "istoi"`},
		{"compare twice", []string{"compare", "retries", "--mesh", "book,book"}, "book is named twice"},
		{"compare runs one", []string{"compare", "--runs", "last"}, "at least two stored runs"},
		{"compare runs empty", []string{"compare", "--runs", ""}, "--runs: give stored run IDs"},
		{"compare same profile", []string{"compare", "retries", "--mesh", "istio,istio@1.27"}, "istio and istio@1.27 are the same profile (istio@1.27)"},
		{"explain checks mesh:", []string{"explain", old}, "old.yaml:1:7: mesh: istio@1.10 is older"},
		{"unknown profile hints plugins", []string{"run", "retries", "--mesh", "minimal"}, "--mesh also takes the name of a plugin, but none was found in"},
		{"compare unknown run", []string{"compare", "--runs", "nosuch,last"}, "--runs:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, stderr, code := meshgym(t, c.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr %q", code, stderr)
			}
			if !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("stderr %q, want one line containing %q", stderr, c.want)
			}
			if time.Since(start) > 20*time.Second {
				t.Errorf("took %s: bad input must be refused before anything runs", time.Since(start))
			}
		})
	}
}

// TestExplainMesh prints the pattern in the mesh's own language with the
// knobs' origins.
func TestExplainMesh(t *testing.T) {
	out, stderr, code := meshgym(t, "explain", "circuit-breaking", "--mesh", "istio")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"# circuit-breaking (circuit_breaking) under istio@1.27",
		"payments.outlier.max_ejection_percent", "10", "profile istio@1.27 (https://istio.io/",
		"payments.outlier.consecutive_5xx", "scenario",
		"kind: DestinationRule", "consecutive5xxErrors: 2", "# note: circuitBreaker.algorithm: book ignored"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain --mesh istio lacks %q:\n%s", want, out)
		}
	}
	out, _, code = meshgym(t, "plugin", "list")
	if code != 0 || !strings.Contains(out, "builtin") || !strings.Contains(out, "istio@1.23") {
		t.Errorf("plugin list: exit %d\n%s", code, out)
	}
}

// TestStoredRunsCompare stores two short runs under two profiles, lists
// them, exports one as HTML and compares them.
func TestStoredRunsCompare(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the sample system twice")
	}
	store := t.TempDir()
	for _, m := range []string{"book", "istio@1.23"} {
		dir := filepath.Join(store, "run-"+strings.ReplaceAll(m, "@", "-"))
		_, stderr, code := meshgym(t, "run", "retries", "-d", "2s", "--rps", "50", "--port", "0", "--seed", "5", "--mesh", m, "--run-dir", dir, "-q")
		if code != 0 && code != 1 {
			t.Fatalf("run --mesh %s: exit %d: %s", m, code, stderr)
		}
	}
	out, stderr, code := meshgym(t, "results", "--results-dir", store, "list", "-o", "json")
	if code != 0 {
		t.Fatalf("results list: exit %d: %s", code, stderr)
	}
	var list []struct{ ID, Profile string }
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 2 {
		t.Fatalf("results list: %v %s", err, out)
	}
	html := filepath.Join(t.TempDir(), "r.html")
	if _, stderr, code := meshgym(t, "results", "--results-dir", store, "export", "run-book", "--format", "html", "-o", html); code != 0 {
		t.Fatalf("export: exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(html); !bytes.Contains(b, []byte("<svg")) {
		t.Errorf("exported HTML has no plot")
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--runs", "run-book,run-book"}, "are the same run"},
		{[]string{"--runs", "run-book,run-istio-1.23", "--mesh", "istio"}, "--mesh cannot be used with --runs"},
	} {
		_, stderr, code := meshgym(t, append([]string{"compare", "--results-dir", store}, bad.args...)...)
		if code != 2 || !strings.Contains(stderr, bad.want) {
			t.Errorf("compare %v: exit %d, stderr %q, want 2 and %q", bad.args, code, stderr, bad.want)
		}
	}
	out, stderr, code = meshgym(t, "compare", "--results-dir", store, "--runs", "run-book,run-istio-1.23", "-o", "json")
	if code != 0 {
		t.Fatalf("compare --runs: exit %d: %s", code, stderr)
	}
	var cmp struct {
		Runs []struct {
			Profile string
			Seed    int64
		}
		Conditions []struct{ Cells []struct{ Value string } }
	}
	if err := json.Unmarshal([]byte(out), &cmp); err != nil {
		t.Fatal(err)
	}
	if len(cmp.Runs) != 2 || cmp.Runs[0].Profile != "book" || cmp.Runs[1].Profile != "istio@1.23" || cmp.Runs[0].Seed != 5 {
		t.Errorf("compared runs %+v", cmp.Runs)
	}
	if len(cmp.Conditions) == 0 || len(cmp.Conditions[0].Cells) != 2 {
		t.Errorf("conditions %+v", cmp.Conditions)
	}
}

// TestPluginKilledMidRun: the mesh plugin dying ends the run with exit 3,
// a message naming the plugin, and nothing left running.
func TestPluginKilledMidRun(t *testing.T) {
	if testing.Short() || runtime.GOOS != "linux" {
		t.Skip("needs a real run and /proc")
	}
	runDir := t.TempDir()
	cmd, wait := startRun(t, runDir)
	plugin := pluginPID(t, cmd.Process.Pid)
	comps := childPIDs(t, runDir)
	syscall.Kill(plugin, syscall.SIGKILL)
	err, lines := wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Errorf("exit %v, want 3; stderr:\n%s", err, strings.Join(lines, "\n"))
	}
	last := lines[len(lines)-1]
	if !strings.Contains(last, "mesh plugin builtin") || !strings.Contains(last, strconv.Itoa(plugin)) {
		t.Errorf("last line %q does not name the plugin and its pid", last)
	}
	for _, pid := range append(comps, plugin) {
		if p, _ := os.FindProcess(pid); p != nil && p.Signal(syscall.Signal(0)) == nil {
			t.Errorf("pid %d still running", pid)
		}
	}
}

// pluginPID finds the `meshgym plugin serve builtin` child of parent.
func pluginPID(t *testing.T, parent int) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if !bytes.Contains(cmdline, []byte("plugin\x00serve\x00builtin")) {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(parent) {
			return pid
		}
	}
	t.Fatal("no plugin process found")
	return 0
}

// TestOutputWriteFailure: output that cannot be written is a failure
// (exit 3, one line), not a silent success.
func TestOutputWriteFailure(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full")
	}
	defer full.Close()
	for _, args := range [][]string{{"list"}, {"explain", "retries"}, {"explain", "retries", "--mesh", "istio"}} {
		cmd := exec.Command(filepath.Join(binDir, "meshgym"), args...)
		cmd.Stdout = full
		var e bytes.Buffer
		cmd.Stderr = &e
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Errorf("%v: %v, want exit 3", args, err)
		}
		if !strings.Contains(e.String(), "meshgym: write output:") || strings.Count(strings.TrimSpace(e.String()), "\n") != 0 {
			t.Errorf("%v: stderr %q", args, e.String())
		}
	}
}
