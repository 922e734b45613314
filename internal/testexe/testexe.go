// Package testexe builds meshgym's lean executables (meshgym-sidecar and
// meshgym-app) once for a test binary, so end-to-end tests run the real
// processes on loopback. It is for tests only (it runs `go build`).
package testexe

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"meshgym/sandbox/local"
)

// Build compiles meshgym-sidecar and meshgym-app into a new temporary
// directory named after prefix and returns them as local.Executables, with
// a cleanup that removes the directory. The error carries the build's
// failure (its output goes to stderr).
func Build(prefix string) (local.Executables, func(), error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return local.Executables{}, func() {}, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	build := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), "meshgym/cmd/meshgym-sidecar", "meshgym/cmd/meshgym-app")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		cleanup()
		return local.Executables{}, func() {}, err
	}
	suffix := ""
	if runtime.GOOS == "windows" {
		suffix = ".exe"
	}
	return local.Executables{
		Sidecar: []string{filepath.Join(dir, "meshgym-sidecar"+suffix)},
		App:     []string{filepath.Join(dir, "meshgym-app"+suffix)},
	}, cleanup, nil
}
