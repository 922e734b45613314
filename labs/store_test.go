package labs

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStore(t *testing.T) {
	cases := []struct {
		name    string
		content string // "" = no file
		wantErr string // substring; "" = no error
		wantBad bool   // the file was moved to .bad
		labs    int
	}{
		{"missing file is empty progress", "", "", false, 0},
		{"valid", `{"labs":{"retries":{"current":"run-retries","steps":{"problem":"done"}}}}`, "", false, 1},
		{"null labs", `{"labs":null}`, "", false, 0},
		{"corrupt", `{"labs":{"retries":`, "is not valid progress", true, 0},
		{"wrong type", `{"labs":[1,2]}`, "is not valid progress", true, 0},
		{"trailing data", `{"labs":{}} {}`, "data after", true, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "meshgym", "labs", "progress.json")
			if c.content != "" {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			st := &Store{Path: path}
			p, err := st.Load()
			if c.wantErr == "" && err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), path)) {
				t.Fatalf("Load error %v, want one naming %s and %q", err, path, c.wantErr)
			}
			if p == nil || p.Labs == nil || len(p.Labs) != c.labs {
				t.Fatalf("progress %+v, want %d labs and a non-nil map", p, c.labs)
			}
			bad, berr := os.ReadFile(path + ".bad")
			if c.wantBad {
				if berr != nil || string(bad) != c.content {
					t.Errorf(".bad = %q, %v; want the corrupt content kept", bad, berr)
				}
				if !strings.Contains(err.Error(), path+".bad") {
					t.Errorf("error %v does not say where the file went", err)
				}
				if _, err := os.Stat(path); !os.IsNotExist(err) {
					t.Errorf("corrupt file still in place: %v", err)
				}
			} else if berr == nil {
				t.Errorf("a .bad file appeared for a good file")
			}
		})
	}
}

func TestStoreRoundTripAndAtomicSave(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "progress.json")
	st := &Store{Path: path}
	when := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	in := &Progress{Labs: map[string]*LabProgress{
		"retries": {Current: "run-retries", Steps: map[string]StepStatus{"problem": StatusDone, "run-retries": StatusFailed},
			Knobs: map[string]string{"retry.attempts": "1"}, Predictions: map[string]int{"predict-failures": 2},
			Judged:  map[string]*PredictionResult{"predict-failures": {StepID: "predict-failures", Chosen: 2, Right: 2, Measured: 24.6, Unit: "%", Correct: true, Line: "Right"}},
			LastRun: "20261201-100000-retries", UpdatedAt: when},
	}}
	if err := st.Save(in); err != nil {
		t.Fatal(err)
	}
	out, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	got := out.Labs["retries"]
	if got == nil || got.Current != "run-retries" || got.Steps["run-retries"] != StatusFailed || got.Knobs["retry.attempts"] != "1" ||
		got.Predictions["predict-failures"] != 2 || got.Judged["predict-failures"].Measured != 24.6 || got.LastRun != in.Labs["retries"].LastRun ||
		!got.UpdatedAt.Equal(when) {
		t.Errorf("round trip: %+v", got)
	}
	// Save leaves no temporary file behind and replaces the old file.
	in.Labs["retries"].Current = "explain"
	if err := st.Save(in); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 || entries[0].Name() != "progress.json" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only progress.json", names)
	}
	out, _ = st.Load()
	if out.Labs["retries"].Current != "explain" {
		t.Errorf("second save not read back: %+v", out.Labs["retries"])
	}

	// A corrupt file is moved aside by Save too, never overwritten.
	if err := os.WriteFile(path, []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := st.Save(in); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path + ".bad"); err != nil || string(b) != "not json" {
		t.Errorf(".bad = %q, %v", b, err)
	}

	// A directory that cannot be created is an error naming it and the way out.
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err = (&Store{Path: filepath.Join(blocker, "progress.json")}).Save(in)
	if err == nil || !strings.Contains(err.Error(), "MESHGYM_LABS_PROGRESS") {
		t.Errorf("Save under a file: %v", err)
	}
}

func TestDefaultStore(t *testing.T) {
	t.Setenv("MESHGYM_LABS_PROGRESS", "/tmp/x/progress.json")
	st, err := DefaultStore()
	if err != nil || st.Path != "/tmp/x/progress.json" {
		t.Errorf("with the variable: %+v, %v", st, err)
	}
	t.Setenv("MESHGYM_LABS_PROGRESS", "")
	t.Setenv("XDG_CONFIG_HOME", "/tmp/cfg")
	t.Setenv("HOME", "/tmp/home")
	st, err = DefaultStore()
	if err != nil || !strings.HasSuffix(st.Path, filepath.Join("meshgym", "labs", "progress.json")) {
		t.Errorf("default: %+v, %v", st, err)
	}
}

// writeFile writes content to path with mode (creating its directory).
func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var someProgress = &Progress{Labs: map[string]*LabProgress{"retries": {Current: "explain"}}}

// Valid JSON that is not progress (a package.json, unknown fields) is
// moved aside by Load, never read as empty progress and saved over.
func TestStoreStrictDecode(t *testing.T) {
	cases := []struct{ name, content string }{
		{"package.json", `{"name":"my-app","version":"1.0.0","dependencies":{}}`},
		{"empty object", `{}`},
		{"top-level null", `null`},
		{"top-level array", `[]`},
		{"unknown top-level field", `{"labs":{},"theme":"dark"}`},
		{"unknown lab field", `{"labs":{"retries":{"current":"explain","colour":"red"}}}`},
		{"unknown judged field", `{"labs":{"retries":{"current":"x","judged":{"p":{"step_id":"p","extra":1}}}}}`},
		{"empty file", ``},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "package.json")
			writeFile(t, path, c.content, 0o644)
			st := &Store{Path: path}
			p, err := st.Load()
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not valid progress") {
				t.Fatalf("Load error %v, want one naming %s", err, path)
			}
			if p == nil || p.Labs == nil || len(p.Labs) != 0 {
				t.Fatalf("progress %+v, want empty", p)
			}
			if got := readString(t, path+".bad"); got != c.content {
				t.Errorf(".bad = %q, want the original %q", got, c.content)
			}
			if err := st.Save(someProgress); err != nil {
				t.Fatal(err)
			}
			if got := readString(t, path+".bad"); got != c.content {
				t.Errorf("after Save .bad = %q, want the original %q", got, c.content)
			}
		})
	}

	// Save alone (no Load) does not overwrite such a file either.
	path := filepath.Join(t.TempDir(), "progress.json")
	writeFile(t, path, `{"name":"my-app"}`, 0o644)
	if err := (&Store{Path: path}).Save(someProgress); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, path+".bad"); got != `{"name":"my-app"}` {
		t.Errorf("Save without Load: .bad = %q", got)
	}
}

// A file Load could not read is never replaced by Save.
func TestStoreUnreadableNotReplaced(t *testing.T) {
	const content = `{"labs":{"retries":{"current":"run-retries"}}}`
	t.Run("permission denied", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "progress.json")
		writeFile(t, path, content, 0o644)
		// Root reads mode 000 files, so fake the error an ordinary user gets.
		orig := readFile
		readFile = func(name string) ([]byte, error) {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
		}
		defer func() { readFile = orig }()
		st := &Store{Path: path}
		if _, err := st.Load(); err == nil || !strings.Contains(err.Error(), "permission denied") || !strings.Contains(err.Error(), path) {
			t.Fatalf("Load error %v", err)
		}
		err := st.Save(someProgress)
		if err == nil || !strings.Contains(err.Error(), "cannot save progress: "+path+" could not be read") ||
			!strings.Contains(err.Error(), "permission denied") || !strings.Contains(err.Error(), "MESHGYM_LABS_PROGRESS") {
			t.Fatalf("Save error %v", err)
		}
		readFile = orig
		// Still refused once readable again: saving would drop what Load missed.
		if err := st.Save(someProgress); err == nil {
			t.Fatal("Save after a failed Load succeeded")
		}
		if got := readString(t, path); got != content {
			t.Errorf("file = %q, want it untouched", got)
		}
		if _, err := os.Stat(path + ".bad"); err == nil {
			t.Error("an unreadable file was moved aside")
		}
		// A new Load that reads it clears the refusal.
		if p, err := st.Load(); err != nil || p.Labs["retries"] == nil {
			t.Fatalf("reload: %+v, %v", p, err)
		}
		if err := st.Save(someProgress); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("real mode 000", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root reads mode 000 files")
		}
		path := filepath.Join(t.TempDir(), "progress.json")
		writeFile(t, path, content, 0o000)
		st := &Store{Path: path}
		if _, err := st.Load(); err == nil {
			t.Fatal("Load of a mode 000 file succeeded")
		}
		if err := st.Save(someProgress); err == nil {
			t.Fatal("Save replaced an unreadable file")
		}
		_ = os.Chmod(path, 0o644)
		if got := readString(t, path); got != content {
			t.Errorf("file = %q, want it untouched", got)
		}
	})
	t.Run("a directory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "progress.json")
		writeFile(t, filepath.Join(path, "keep"), "mine", 0o644)
		st := &Store{Path: path}
		if _, err := st.Load(); err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("Load error %v", err)
		}
		if err := st.Save(someProgress); err == nil || !strings.Contains(err.Error(), "could not be read") {
			t.Fatalf("Save error %v", err)
		}
		// Save without Load refuses too.
		if err := (&Store{Path: path}).Save(someProgress); err == nil || !strings.Contains(err.Error(), "could not be read") {
			t.Fatalf("Save without Load: %v", err)
		}
		if got := readString(t, filepath.Join(path, "keep")); got != "mine" {
			t.Errorf("directory content changed: %q", got)
		}
	})
}

// A second corrupt file goes to .bad.1, a third to .bad.2: no backup is
// overwritten.
func TestStoreBackupsNotOverwritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "progress.json")
	st := &Store{Path: path}
	bads := []string{path + ".bad", path + ".bad.1", path + ".bad.2"}
	for i, want := range bads {
		content := "corrupt " + string(rune('A'+i))
		writeFile(t, path, content, 0o644)
		_, err := st.Load()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("corruption %d: error %v, want it to name %s", i, err, want)
		}
	}
	for i, bad := range bads {
		if got, want := readString(t, bad), "corrupt "+string(rune('A'+i)); got != want {
			t.Errorf("%s = %q, want %q", bad, got, want)
		}
	}
	// Save moving a corrupt file aside uses the next free name as well.
	writeFile(t, path, "corrupt D", 0o644)
	if err := st.Save(someProgress); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, path+".bad.3"); got != "corrupt D" {
		t.Errorf(".bad.3 = %q", got)
	}
	if got := readString(t, path+".bad"); got != "corrupt A" {
		t.Errorf(".bad = %q after Save", got)
	}
}

// Save keeps an existing file's permission bits.
func TestStoreSaveKeepsMode(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o600, 0o640} {
		path := filepath.Join(t.TempDir(), "progress.json")
		writeFile(t, path, `{"labs":{}}`, mode)
		st := &Store{Path: path}
		if _, err := st.Load(); err != nil {
			t.Fatal(err)
		}
		if err := st.Save(someProgress); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("mode %v after Save, want %v", fi.Mode().Perm(), mode)
		}
		if p, err := st.Load(); err != nil || p.Labs["retries"].Current != "explain" {
			t.Errorf("reload: %+v, %v", p, err)
		}
	}
	// A new file is private to the user.
	path := filepath.Join(t.TempDir(), "new", "progress.json")
	if err := (&Store{Path: path}).Save(someProgress); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("new file: %v, %v; want 0600", fi, err)
	}
}
