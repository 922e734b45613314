//go:build unix

package plugins

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests start hostile plugins: shell scripts that never answer, print
// garbage, exit at once or leave a child behind, and the test binary as a
// plugin that panics or spawns a child (see TestMain).

// openLimit bounds how long a test waits for Open before calling the loader
// deadlocked; far above StartTimeout + killWait.
const openLimit = 20 * time.Second

// hostile writes the script body as the plugin NAME in a new plugin
// directory; "PIDFILE" in body is replaced by a path the test can read.
func hostile(t *testing.T, name, body string) (dir, pidfile string) {
	t.Helper()
	dir = t.TempDir()
	pidfile = filepath.Join(t.TempDir(), "child.pid")
	script := "#!/bin/sh\n" + strings.ReplaceAll(body, "PIDFILE", pidfile) + "\n"
	if err := os.WriteFile(filepath.Join(dir, ExecutablePrefix+name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, pidfile
}

// procAlive reports whether pid runs; a zombie counts as gone.
func procAlive(pid int) bool {
	if runtime.GOOS == "linux" {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
	}
	return syscall.Kill(pid, 0) == nil
}

// childPID waits for the plugin's child to write its pid file.
func childPID(t *testing.T, pidfile string) int {
	t.Helper()
	var pid int
	if !waitFor(5*time.Second, func() bool {
		b, err := os.ReadFile(pidfile)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	}) {
		t.Fatalf("the plugin's child did not write %s", pidfile)
	}
	return pid
}

// assertGone fails if pid still runs shortly after; it kills it then, so
// that no process outlives the test.
func assertGone(t *testing.T, pid int, what string) {
	t.Helper()
	if !waitFor(3*time.Second, func() bool { return !procAlive(pid) }) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("%s (pid %d) still running", what, pid)
	}
}

// openBounded runs Open and fails the test if it does not return within
// openLimit (the deadlock this guards against).
func openBounded(t *testing.T, l *Loader, ctx context.Context, name string) (*Client, error) {
	t.Helper()
	type res struct {
		c   *Client
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := l.Open(ctx, name)
		ch <- res{c, err}
	}()
	select {
	case r := <-ch:
		if r.c != nil {
			t.Cleanup(func() { _ = r.c.Close() })
		}
		return r.c, r.err
	case <-time.After(openLimit):
		t.Fatalf("Open(%q) did not return within %s", name, openLimit)
		return nil, nil
	}
}

// lockedBuffer collects LoaderOptions.Stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A failed start gives one short line per cause, naming the plugin, and
// kills the plugin's whole process group: a child holding the plugin's
// stdout open neither hangs Open nor survives it.
func TestOpenHostileScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	tests := []struct {
		name, body string
		child      bool   // the script writes PIDFILE
		want       string // the whole message after "mesh plugin NAME: "
	}{
		{
			name:  "sleeper",
			body:  "sleep 100000 &\necho $! > PIDFILE\nwait",
			child: true,
			want:  "plugin did not complete the handshake within 1s",
		},
		{
			name: "exiter",
			body: "echo 'reading config' >&2\necho 'config.yaml: no such file' >&2\nexit 3",
			want: "plugin exited with status 3 before the handshake (not a meshgym plugin, or it failed at start): config.yaml: no such file",
		},
		{
			name: "exitpanic",
			body: "echo 'panic: bad init' >&2\necho 'goroutine 1 [running]:' >&2\nexit 2",
			want: "plugin exited with status 2 before the handshake (not a meshgym plugin, or it failed at start): panic: bad init",
		},
		{
			name:  "garbage",
			body:  "sleep 100000 &\necho $! > PIDFILE\necho garbage\nwait",
			child: true,
			want:  `plugin printed "garbage" instead of the handshake line; it is not a meshgym plugin`,
		},
		{
			name: "longgarbage",
			body: "echo " + strings.Repeat("x", 100) + "\nsleep 5",
			want: `plugin printed "` + strings.Repeat("x", 60) + `…" instead of the handshake line; it is not a meshgym plugin`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, pidfile := hostile(t, tt.name, tt.body)
			var stderr lockedBuffer
			l := NewLoader(LoaderOptions{Dir: dir, StartTimeout: time.Second, Stderr: &stderr})
			t.Cleanup(func() { _ = l.Close() })
			_, err := openBounded(t, l, context.Background(), tt.name)
			pe := asError(t, err)
			if pe.Code != CodeUnavailable || pe.Plugin != tt.name {
				t.Errorf("got code %v plugin %q, want CodeUnavailable from %q", pe.Code, pe.Plugin, tt.name)
			}
			if pe.Msg != tt.want {
				t.Errorf("message\n %q\nwant\n %q", pe.Msg, tt.want)
			}
			if strings.Contains(pe.Msg, "\n") {
				t.Errorf("message spans lines: %q", pe.Msg)
			}
			if tt.child {
				assertGone(t, childPID(t, pidfile), "the plugin's child")
			}
		})
	}
}

// Open honours its context: canceled or past its deadline during the
// handshake, it returns CodeCanceled at once (well before StartTimeout) and
// the plugin's group is killed.
func TestOpenHostileContext(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	for _, tt := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 500*time.Millisecond)
		}},
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(300*time.Millisecond, cancel)
			return ctx, cancel
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir, pidfile := hostile(t, "sleeper", "sleep 100000 &\necho $! > PIDFILE\nwait")
			l := NewLoader(LoaderOptions{Dir: dir, StartTimeout: time.Minute})
			t.Cleanup(func() { _ = l.Close() })
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			_, err := openBounded(t, l, ctx, "sleeper")
			pe := asError(t, err)
			if pe.Code != CodeCanceled || pe.Plugin != "sleeper" {
				t.Errorf("got %#v, want CodeCanceled from sleeper", pe)
			}
			// StartTimeout is a minute: returning before it shows the
			// context ended the start.
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("Open took %s, ignoring its context", d)
			}
			assertGone(t, childPID(t, pidfile), "the plugin's child")
		})
	}
}

// Loader.Close ends a start in flight: Open returns CodeUnavailable "plugin
// loader is closed" and the plugin's group is killed.
func TestLoaderCloseDuringStart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir, pidfile := hostile(t, "sleeper", "sleep 100000 &\necho $! > PIDFILE\nwait")
	l := NewLoader(LoaderOptions{Dir: dir, StartTimeout: time.Minute})
	errc := make(chan error, 1)
	go func() {
		_, err := l.Open(context.Background(), "sleeper")
		errc <- err
	}()
	pid := childPID(t, pidfile)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if pe := asError(t, err); pe.Code != CodeUnavailable || !strings.Contains(pe.Msg, "plugin loader is closed") {
			t.Errorf("got %#v, want CodeUnavailable: plugin loader is closed", pe)
		}
	case <-time.After(openLimit):
		t.Fatal("Open did not return after Loader.Close")
	}
	assertGone(t, pid, "the plugin's child")
}

// A plugin that panics: Died names the plugin, its pid and the panic line;
// the plugin's output reaches LoaderOptions.Stderr line by line, prefixed.
func TestDiedCarriesPanic(t *testing.T) {
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	t.Setenv("MESHGYM_TEST_PLUGIN_PANIC", "1") // the child inherits it
	var stderr lockedBuffer
	l := NewLoader(LoaderOptions{Dir: t.TempDir(), Builtins: []string{"panicapply"}, Stderr: &stderr})
	t.Cleanup(func() { _ = l.Close() })
	c, err := openBounded(t, l, context.Background(), "panicapply")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(context.Background(), ApplyRequest{}); err == nil {
		t.Fatal("Apply succeeded on a plugin that panics")
	}
	select {
	case err := <-c.Died():
		want := fmt.Sprintf("mesh plugin panicapply: plugin process (pid %d) exited: panic: evil plugin panics in apply", c.PID())
		if err == nil || err.Error() != want {
			t.Errorf("Died said\n %v\nwant\n %s", err, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Died did not fire after the plugin panicked")
	}
	if out := stderr.String(); !strings.Contains(out, "[plugin panicapply] panic: evil plugin panics in apply\n") ||
		!strings.Contains(out, "[plugin panicapply] goroutine ") {
		t.Errorf("LoaderOptions.Stderr got\n%s\nwant the prefixed panic and its stack", out)
	}
}

// What a Go plugin prints after the handshake (stdout and stderr) goes to
// LoaderOptions.Stderr, prefixed, and never to the host's own output.
func TestPluginOutputCaptured(t *testing.T) {
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	t.Setenv("MESHGYM_TEST_PLUGIN_NOISE", "1")
	var stderr lockedBuffer
	l := NewLoader(LoaderOptions{Dir: t.TempDir(), Builtins: []string{"noisy"}, Stderr: &stderr})
	t.Cleanup(func() { _ = l.Close() })
	c, err := openBounded(t, l, context.Background(), "noisy")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Info(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !waitFor(5*time.Second, func() bool {
		out := stderr.String()
		return strings.Contains(out, "[plugin noisy] noise on stdout\n") && strings.Contains(out, "[plugin noisy] noise on stderr\n")
	}) {
		t.Errorf("LoaderOptions.Stderr got\n%s\nwant both noise lines, prefixed", stderr.String())
	}
	if got := c.proc.tail.summary(); got != "noise on stderr" && got != "noise on stdout" {
		t.Errorf("tail summary = %q", got)
	}
}

// Close kills the plugin's process group: a child the plugin started does
// not outlive it.
func TestCloseKillsPluginChildren(t *testing.T) {
	if testing.Short() {
		t.Skip("starts plugin processes")
	}
	pidfile := filepath.Join(t.TempDir(), "child.pid")
	t.Setenv("MESHGYM_TEST_PLUGIN_CHILD", pidfile)
	l := NewLoader(LoaderOptions{Dir: t.TempDir(), Builtins: []string{"spawner"}})
	t.Cleanup(func() { _ = l.Close() })
	c, err := openBounded(t, l, context.Background(), "spawner")
	if err != nil {
		t.Fatal(err)
	}
	child := childPID(t, pidfile)
	if !procAlive(child) {
		t.Fatalf("child %d not running while the plugin is", child)
	}
	pid := c.PID()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, pid, "the plugin")
	assertGone(t, child, "the plugin's child")
}

func TestStartedByHost(t *testing.T) {
	t.Setenv(MagicCookieKey, "")
	if StartedByHost() {
		t.Error("StartedByHost without the cookie")
	}
	t.Setenv(MagicCookieKey, "wrong")
	if StartedByHost() {
		t.Error("StartedByHost with a wrong cookie value")
	}
	t.Setenv(MagicCookieKey, MagicCookieValue)
	if !StartedByHost() {
		t.Error("not StartedByHost with the cookie")
	}
}
