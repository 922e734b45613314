//go:build unix

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"meshgym/tracing"
)

// TestTraceInterruptFIFO: a spans file that is a FIFO with a writer that
// never writes blocks `meshgym trace` in its read; SIGINT still ends it
// with exit 130 and "meshgym: interrupted".
func TestTraceInterruptFIFO(t *testing.T) {
	store := traceStore(t, nil)
	fifo := filepath.Join(store, traceRun, filepath.FromSlash(tracing.SpansFile))
	if err := os.MkdirAll(filepath.Dir(fifo), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	cmd := exec.Command(filepath.Join(binDir, "meshgym"), "trace", "--results-dir", store)
	cmd.Env = append(os.Environ(), "MESHGYM_PLUGIN_DIR="+t.TempDir())
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// Opening the FIFO's write end without blocking succeeds once trace
	// has opened its read end: trace is then blocked reading it, past
	// Main's signal set-up.
	var w *os.File
	for deadline := time.Now().Add(20 * time.Second); ; {
		f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			w = f
			break
		}
		if !errors.Is(err, syscall.ENXIO) || time.Now().After(deadline) {
			t.Fatalf("trace never opened the spans FIFO: %v (stderr %q)", err, e.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	defer w.Close()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
			t.Fatalf("trace ended with %v, want exit %d; stderr %q", err, exitInterrupted, e.String())
		}
		if got := strings.TrimSpace(e.String()); got != "meshgym: interrupted" {
			t.Errorf("stderr %q, want %q", got, "meshgym: interrupted")
		}
	case <-time.After(2 * time.Second):
		t.Fatalf("trace still running 2s after SIGINT; stderr %q", e.String())
	}
}
