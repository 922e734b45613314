package plugins

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
)

func writeFile(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
		t.Fatal(err)
	}
}

func TestFind(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes and names are the Unix ones")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "meshgym-plugin-zeta"), 0o755)
	writeFile(t, filepath.Join(dir, "meshgym-plugin-alpha"), 0o755)
	writeFile(t, filepath.Join(dir, "meshgym-plugin-noexec"), 0o644)
	writeFile(t, filepath.Join(dir, "meshgym-plugin-builtin"), 0o755) // never shadows the built-in
	writeFile(t, filepath.Join(dir, "meshgym-plugin-"), 0o755)        // no name
	writeFile(t, filepath.Join(dir, "other-tool"), 0o755)
	if err := os.Mkdir(filepath.Join(dir, "meshgym-plugin-adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "meshgym-plugin-alpha"), filepath.Join(dir, "meshgym-plugin-link")); err != nil {
		t.Fatal(err)
	}

	l := NewLoader(LoaderOptions{Dir: dir, Self: "/opt/meshgym", Builtins: []string{"builtin"}})
	got, err := l.Find()
	if err != nil {
		t.Fatal(err)
	}
	want := []Found{
		{Name: "builtin", Builtin: true, Path: "/opt/meshgym"},
		{Name: "alpha", Path: filepath.Join(dir, "meshgym-plugin-alpha")},
		{Name: "link", Path: filepath.Join(dir, "meshgym-plugin-link")},
		{Name: "zeta", Path: filepath.Join(dir, "meshgym-plugin-zeta")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Find =\n%+v\nwant\n%+v", got, want)
	}
}

func TestFindDefaults(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(PluginDirEnv, dir)
	l := NewLoader(LoaderOptions{Builtins: []string{"builtin"}})
	if d, err := l.Dir(); err != nil || d != dir {
		t.Errorf("Dir = %q, %v; want $%s = %q", d, err, PluginDirEnv, dir)
	}
	got, err := l.Find()
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	if want := []Found{{Name: "builtin", Builtin: true, Path: exe}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Find = %+v, want %+v", got, want)
	}

	t.Setenv(PluginDirEnv, "")
	cfg, err := os.UserConfigDir()
	if err != nil {
		t.Skip("no user config dir:", err)
	}
	if d, _ := NewLoader(LoaderOptions{}).Dir(); d != filepath.Join(cfg, "meshgym", "plugins") {
		t.Errorf("default Dir = %q", d)
	}

	// A missing plugin directory is no error.
	l = NewLoader(LoaderOptions{Dir: filepath.Join(dir, "missing"), Builtins: []string{"builtin"}})
	if got, err := l.Find(); err != nil || len(got) != 1 {
		t.Errorf("Find with a missing dir = %+v, %v", got, err)
	}
}

func TestOpenUnknown(t *testing.T) {
	dir := t.TempDir()
	if runtime.GOOS != "windows" {
		writeFile(t, filepath.Join(dir, "meshgym-plugin-minimal"), 0o755)
	}
	l := NewLoader(LoaderOptions{Dir: dir, Builtins: []string{"builtin"}})
	defer l.Close()
	_, err := l.Open(context.Background(), "istio")
	pe := asError(t, err)
	if pe.Code != CodeInvalid {
		t.Errorf("code = %v, want CodeInvalid", pe.Code)
	}
	want := "builtin"
	if runtime.GOOS != "windows" {
		want = "builtin, minimal"
	}
	if !contains(pe.Error(), `"istio"`, "available: "+want, dir) {
		t.Errorf("message %q should name the plugin, the available ones and the directory", pe.Error())
	}
}

func TestOpenCanceled(t *testing.T) {
	l := NewLoader(LoaderOptions{Dir: t.TempDir(), Builtins: []string{"fake"}})
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := l.Open(ctx, "fake")
	if pe := asError(t, err); pe.Code != CodeCanceled {
		t.Errorf("got %#v, want CodeCanceled", pe)
	}
}
