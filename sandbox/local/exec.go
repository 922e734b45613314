package local

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// Executables are the commands the local platform runs for sidecars and
// sample apps: a path and leading arguments.
type Executables struct {
	Sidecar []string
	App     []string
	// Note explains a fallback to the user (empty when the lean executables
	// were found).
	Note string
}

// ResolveExecutables finds the lean executables meshgym-sidecar and
// meshgym-app: next to the running meshgym binary first, then on PATH. When
// neither is there (e.g. under `go run`), it falls back to re-executing the
// running binary with its hidden `sidecar` / `app` sub-commands, which works
// but makes every component as big as meshgym itself; Note says so.
func ResolveExecutables() Executables {
	self, err := os.Executable()
	if err != nil {
		self = os.Args[0]
	}
	find := func(name string) string {
		if runtime.GOOS == "windows" {
			name += ".exe"
		}
		if p := filepath.Join(filepath.Dir(self), name); isFile(p) {
			return p
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		return ""
	}
	sc, app := find("meshgym-sidecar"), find("meshgym-app")
	if sc != "" && app != "" {
		return Executables{Sidecar: []string{sc}, App: []string{app}}
	}
	return Executables{
		Sidecar: []string{self, "sidecar"},
		App:     []string{self, "app"},
		Note: "lean executables meshgym-sidecar/meshgym-app not found next to meshgym or on PATH; " +
			"running components as `meshgym sidecar|app` (memory figures include meshgym's larger binary; `make build` fixes this)",
	}
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
