package kind

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRegistryCorruptMovedAside(t *testing.T) {
	tests := []struct {
		name    string
		content string
	}{
		{"wrong type", `{"version":1,"clusters":{"meshgym-a":{}}}`},
		{"nameless entry", `{"version":1,"clusters":[{"mesh":"istio"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t, NodeImage)
			if err := os.MkdirAll(filepath.Dir(e.regPath), 0o755); err != nil {
				t.Fatal(err)
			}
			// An earlier backup is never overwritten.
			if err := os.WriteFile(e.regPath+".bad", []byte("older backup"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(e.regPath, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			list, err := e.k.List(context.Background())
			if err != nil || len(list) != 0 {
				t.Fatalf("List = %v, %v; want empty and no error", list, err)
			}
			if b, _ := os.ReadFile(e.regPath + ".bad"); string(b) != "older backup" {
				t.Errorf(".bad = %q, want the older backup kept", b)
			}
			if b, err := os.ReadFile(e.regPath + ".bad.1"); err != nil || string(b) != tt.content {
				t.Errorf(".bad.1 = %q, %v; want the corrupt content", b, err)
			}
			if _, err := os.Stat(e.regPath); !os.IsNotExist(err) {
				t.Errorf("corrupt registry still in place: %v", err)
			}
			if !strings.Contains(e.logs(), "is not a registry") || !strings.Contains(e.logs(), e.regPath+".bad.1") {
				t.Errorf("warning = %q, want it to name the backup", e.logs())
			}
			// The registry works again afterwards.
			if _, err := e.k.Create(context.Background(), ClusterSpec{Name: "meshgym-a", EntryHostPort: explicitFreePort(t)}, false, nil); err != nil {
				t.Fatal(err)
			}
			if _, ok := e.registryEntries(t)["meshgym-a"]; !ok {
				t.Error("no entry after the corrupt file was moved aside")
			}
		})
	}
}

// A file that was never a registry (a mistyped MESHGYM_KIND_REGISTRY
// pointing at a kubeconfig, a truncated or foreign JSON file, a FIFO, a
// device) is an error and is left exactly as it was: never moved, never
// read when it is not a regular file (a FIFO would block).
func TestRegistryForeignFileUntouched(t *testing.T) {
	for _, tt := range []struct{ name, content string }{
		{"kubeconfig", "apiVersion: v1\nkind: Config\nclusters: []\n"},
		{"truncated", `{"version":1,"clusters":[{"name":"meshgym-a"`},
		{"another shape", `{"labs":{"retries":{}}}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t, NodeImage)
			os.MkdirAll(filepath.Dir(e.regPath), 0o755)
			if err := os.WriteFile(e.regPath, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := e.k.List(context.Background()); err == nil || !strings.Contains(err.Error(), "is not meshgym's kind cluster registry") {
				t.Errorf("List err = %v, want it to refuse the file", err)
			}
			if _, err := e.k.Create(context.Background(), ClusterSpec{Name: "meshgym-a", EntryHostPort: explicitFreePort(t)}, false, nil); err == nil {
				t.Error("Create wrote over a foreign file")
			}
			if b, _ := os.ReadFile(e.regPath); string(b) != tt.content {
				t.Errorf("file = %q, want it untouched", b)
			}
			if _, err := os.Stat(e.regPath + ".bad"); !os.IsNotExist(err) {
				t.Errorf("a .bad backup appeared: %v", err)
			}
		})
	}
	t.Run("fifo", func(t *testing.T) {
		e := newTestEnv(t, NodeImage)
		os.MkdirAll(filepath.Dir(e.regPath), 0o755)
		if err := mkfifo(e.regPath); err != nil {
			t.Skip("no FIFOs here:", err)
		}
		done := make(chan error, 1)
		go func() { _, err := e.k.List(context.Background()); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("List err = %v, want not a regular file", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("List blocked on a FIFO")
		}
	})
}

// A registry of a newer format is left alone, and nothing is written over
// it.
func TestRegistryNewerVersionUntouched(t *testing.T) {
	e := newTestEnv(t, NodeImage)
	content := `{"version":2,"clusters":[{"name":"meshgym-future"}]}`
	os.MkdirAll(filepath.Dir(e.regPath), 0o755)
	if err := os.WriteFile(e.regPath, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := e.k.List(context.Background()); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("List: %v, want an error about a newer format", err)
	}
	if _, err := e.k.Create(context.Background(), ClusterSpec{Name: "meshgym-a"}, false, nil); err == nil {
		t.Error("Create wrote over a newer registry")
	}
	if b, _ := os.ReadFile(e.regPath); string(b) != content {
		t.Errorf("registry = %q, want it untouched", b)
	}
	if len(e.prov.creates) != 0 {
		t.Error("kind was called although the cluster could not be recorded")
	}
}

func TestRegistryFileModeAndUnknownFields(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no unix permission bits")
	}
	e := newTestEnv(t, NodeImage)
	os.MkdirAll(filepath.Dir(e.regPath), 0o755)
	// Fields a newer meshgym of the same version adds are kept readable.
	if err := os.WriteFile(e.regPath, []byte(`{"version":1,"clusters":[{"name":"meshgym-a","entry_host_port":8200,"future":true}],"extra":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	e.prov.userCluster("meshgym-a") // kind lists it
	if _, err := e.k.Create(context.Background(), ClusterSpec{Name: "meshgym-b", EntryHostPort: explicitFreePort(t)}, false, nil); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(e.regPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("registry mode = %v, want 0600", st.Mode().Perm())
	}
	got := e.registryEntries(t)
	if got["meshgym-a"] == nil || got["meshgym-a"].EntryHostPort != 8200 || got["meshgym-b"] == nil {
		t.Errorf("registry = %v, want both entries", got)
	}
}

func TestDefaultRegistryPath(t *testing.T) {
	t.Setenv(RegistryEnv, "/some/where/clusters.json")
	if p, err := DefaultRegistryPath(); err != nil || p != "/some/where/clusters.json" {
		t.Errorf("with %s: %q, %v", RegistryEnv, p, err)
	}
	t.Setenv(RegistryEnv, "")
	t.Setenv("XDG_CONFIG_HOME", "/cfg")
	t.Setenv("HOME", "/home/u")
	want := "/cfg/meshgym/kind-clusters.json"
	if runtime.GOOS == "darwin" {
		want = "/home/u/Library/Application Support/meshgym/kind-clusters.json"
	}
	if runtime.GOOS != "windows" {
		if p, err := DefaultRegistryPath(); err != nil || p != want {
			t.Errorf("default = %q, %v; want %q", p, err, want)
		}
	}
	k, err := NewKindClusters(KindOptions{RegistryPath: "/explicit.json", provider: newFakeProvider(), docker: newFakeDocker()})
	if err != nil || k.RegistryPath() != "/explicit.json" {
		t.Errorf("explicit path: %v, %v", k, err)
	}
}

// addEntries adds n entries named prefix-0 … through separate registry
// values (separate lock file descriptors), as separate processes would.
func addEntries(path, prefix string, n int) error {
	for i := 0; i < n; i++ {
		r := &registry{path: path, logf: func(string, ...any) {}}
		name := fmt.Sprintf("%s-%d", prefix, i)
		err := r.update(func(en map[string]*entry) (bool, error) {
			en[name] = &entry{ClusterInfo: ClusterInfo{Name: name, Created: time.Now().UTC()}}
			return true, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func TestRegistryConcurrentWritersKeepAllEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kind-clusters.json")
	const per = 40
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[g] = addEntries(path, fmt.Sprintf("g%d", g), per)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	r := &registry{path: path, logf: t.Logf}
	snap, err := r.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if len(snap) != 2*per {
		t.Errorf("entries = %d, want %d: a writer lost the other's", len(snap), 2*per)
	}
}

// Two processes (this test binary re-run as a helper) write the same
// registry at once; neither loses the other's entries.
func TestRegistryConcurrentProcesses(t *testing.T) {
	if os.Getenv("MESHGYM_KIND_REGISTRY_HELPER") != "" {
		t.Skip("helper")
	}
	path := filepath.Join(t.TempDir(), "kind-clusters.json")
	const per = 25
	var cmds []*exec.Cmd
	for p := 0; p < 2; p++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRegistryHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(),
			"MESHGYM_KIND_REGISTRY_HELPER=1",
			"HELPER_PATH="+path,
			"HELPER_PREFIX=p"+strconv.Itoa(p),
			"HELPER_N="+strconv.Itoa(per))
		cmds = append(cmds, cmd)
	}
	outs := make([][]byte, len(cmds))
	errs := make([]error, len(cmds))
	var wg sync.WaitGroup
	for i, c := range cmds {
		wg.Add(1)
		go func() { defer wg.Done(); outs[i], errs[i] = c.CombinedOutput() }()
	}
	wg.Wait()
	for i := range cmds {
		if errs[i] != nil {
			t.Fatalf("helper %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	snap, err := (&registry{path: path, logf: t.Logf}).snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if len(snap) != 2*per {
		t.Errorf("entries = %d, want %d: a process lost the other's", len(snap), 2*per)
	}
}

func TestRegistryHelperProcess(t *testing.T) {
	if os.Getenv("MESHGYM_KIND_REGISTRY_HELPER") == "" {
		t.Skip("run by TestRegistryConcurrentProcesses")
	}
	n, _ := strconv.Atoi(os.Getenv("HELPER_N"))
	if err := addEntries(os.Getenv("HELPER_PATH"), os.Getenv("HELPER_PREFIX"), n); err != nil {
		t.Fatal(err)
	}
}
