package labs

import (
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
