//go:build unix

package plugins_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"meshgym/plugins"
	"meshgym/plugins/plugintest"
)

// These tests run real plugin processes; they live in package plugins_test
// because they use plugintest (which imports plugins). TestMain (package
// plugins) makes the test binary serve the built-in "fake".

func asError(t *testing.T, err error) *plugins.Error {
	t.Helper()
	var pe *plugins.Error
	if !errors.As(err, &pe) {
		t.Fatalf("got %T %v, want *plugins.Error", err, err)
	}
	return pe
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

func testLoader(t *testing.T, opts plugins.LoaderOptions) *plugins.Loader {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	stderr := &lockedWriter{w: &bytes.Buffer{}}
	if opts.Stderr == nil {
		opts.Stderr = stderr
	}
	l := plugins.NewLoader(opts)
	t.Cleanup(func() {
		_ = l.Close()
		if t.Failed() {
			t.Logf("plugin stderr:\n%s", stderr.String())
		}
	})
	return l
}

// A built-in is served by re-executing Self as `Self plugin serve NAME`
// (here the test binary, see TestMain).
func TestIntegrationBuiltinReexec(t *testing.T) {
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	l := testLoader(t, plugins.LoaderOptions{Builtins: []string{"fake"}})
	c, err := l.Open(context.Background(), "fake")
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(info.Notes, " "); got != "plugin serve fake" || info.Name != "fake" {
		t.Errorf("plugin ran with args %q (name %q), want \"plugin serve fake\"", got, info.Name)
	}
	if c.PID() <= 0 || c.PID() == os.Getpid() || !plugins.ProcAlive(c.PID()) {
		t.Fatalf("PID = %d, want a live child process", c.PID())
	}
	plugintest.Conformance(t, c, plugintest.ConformanceOptions{})

	pid := c.PID()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if plugins.ProcAlive(pid) {
		t.Errorf("plugin pid %d still running after Close", pid)
	}
	select {
	case err := <-c.Died():
		t.Errorf("Died fired after Close: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
}

// A plugin speaking another protocol version is refused with both versions
// named.
func TestIntegrationVersionMismatch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	t.Setenv("MESHGYM_TEST_PLUGIN_PROTOCOL", "2") // the child inherits it
	l := testLoader(t, plugins.LoaderOptions{Builtins: []string{"fake"}})
	_, err := l.Open(context.Background(), "fake")
	pe := asError(t, err)
	if pe.Code != plugins.CodeUnsupported || pe.Plugin != "fake" {
		t.Errorf("got %#v, want plugins.CodeUnsupported from plugin fake", pe)
	}
	if !contains(pe.Error(), "version 2", fmt.Sprintf("version %d", plugins.ProtocolVersion)) {
		t.Errorf("message %q should name both protocol versions", pe.Error())
	}
}

// The plugin process exits by itself when its host dies (SIGKILL: no
// cleanup runs in the host).
func TestIntegrationPluginExitsWhenHostDies(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	host := exec.Command(exe)
	host.Env = append(os.Environ(), "MESHGYM_TEST_HOST=1")
	var stderr bytes.Buffer
	host.Stderr = &stderr
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = host.Process.Kill(); _ = host.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	var pid int
	if _, serr := fmt.Sscanf(line, "PID %d", &pid); err != nil || serr != nil {
		t.Fatalf("host said %q (%v); stderr:\n%s", line, err, stderr.String())
	}
	if !plugins.ProcAlive(pid) {
		t.Fatalf("plugin pid %d not running while the host is", pid)
	}
	_ = host.Process.Kill()
	_ = host.Wait()
	if !waitFor(5*time.Second, func() bool { return !plugins.ProcAlive(pid) }) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("plugin pid %d still running 5 s after its host died", pid)
	}
}

// The example out-of-tree plugin: built, found in the plugin directory,
// opened, conformant, and watched: killed from outside, Died fires naming
// it and calls fail with plugins.CodeUnavailable; plugins.Loader.Close leaves no process.
func TestIntegrationExamplePlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the example plugin")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is needed to build the example plugin:", err)
	}
	dir := t.TempDir()
	build := exec.Command(goTool, "build", "-o", filepath.Join(dir, "meshgym-plugin-minimal"), "./examples/meshgym-plugin-minimal")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	l := testLoader(t, plugins.LoaderOptions{Dir: dir, Builtins: []string{"fake"}})
	found, err := l.Find()
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 || found[1].Name != "minimal" || found[1].Builtin {
		t.Fatalf("Find = %+v, want fake then minimal", found)
	}
	c, err := l.Open(context.Background(), "minimal")
	if err != nil {
		t.Fatal(err)
	}
	other, err := l.Open(context.Background(), "minimal") // a second process, left for plugins.Loader.Close
	if err != nil {
		t.Fatal(err)
	}
	plugintest.Conformance(t, c, plugintest.ConformanceOptions{})

	pid := c.PID()
	p, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	select {
	case err := <-c.Died():
		if err == nil || !contains(err.Error(), "mesh plugin minimal", fmt.Sprint(pid), "exited") {
			t.Errorf("Died said %v, want it to name plugin minimal and pid %d", err, pid)
		}
		if pe := asError(t, err); pe.Code != plugins.CodeUnavailable {
			t.Errorf("Died code = %v", pe.Code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Died did not fire after the plugin was killed")
	}
	_, err = c.Info(context.Background())
	if pe := asError(t, err); pe.Code != plugins.CodeUnavailable || pe.Plugin != "minimal" || !strings.Contains(pe.Error(), fmt.Sprint(pid)) {
		t.Errorf("call after death: %#v, want plugins.CodeUnavailable naming minimal and its pid", pe)
	}

	otherPID := other.PID()
	if !plugins.ProcAlive(otherPID) {
		t.Fatalf("second plugin pid %d not running", otherPID)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if plugins.ProcAlive(otherPID) || plugins.ProcAlive(pid) {
		t.Errorf("plugin processes left after plugins.Loader.Close: %d alive=%v, %d alive=%v", otherPID, plugins.ProcAlive(otherPID), pid, plugins.ProcAlive(pid))
	}
	if _, err := l.Open(context.Background(), "minimal"); err == nil {
		t.Error("Open after Close succeeded")
	}
}

// lockedWriter serialises writes from go-plugin's goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}
