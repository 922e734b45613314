package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"meshgym/engine"
	"meshgym/report"
	"meshgym/results"
	"meshgym/scenarios"
)

// resultsStore makes a store with one good run (a retries run that
// stopped after deploying, so it needs no phases) and the given extra
// result.json bodies, by run ID; a nil body makes result.json a directory.
func resultsStore(t *testing.T, name string, extra map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	sc, err := scenarios.Builtin("retries")
	if err != nil {
		t.Fatal(err)
	}
	if name != "" {
		sc.Name = name
	}
	res := &engine.Result{Scenario: sc, Source: sc.Source, Platform: "local", Mesh: "builtin", Seed: 7, Error: "deploy: stopped"}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if extra == nil {
		extra = map[string][]byte{}
	}
	extra["20261129-140538-retries"] = b
	for id, body := range extra {
		path := filepath.Join(dir, id, results.ResultFile)
		if body == nil {
			err = os.MkdirAll(path, 0o755)
		} else if err = os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
			err = os.WriteFile(path, body, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// oneErrLine checks stderr is exactly "meshgym: "+want and one line.
func oneErrLine(t *testing.T, what, stderr, want string) {
	t.Helper()
	if stderr != "meshgym: "+want+"\n" {
		t.Errorf("%s: stderr = %q, want %q", what, stderr, "meshgym: "+want+"\n")
	}
}

// TestResultsNotAResult: result.json that is not a meshgym result (null,
// {}, no scenario) or cannot be read (not JSON, empty, an array, a
// directory) is bad input: show and export exit 2 with one line naming
// the run directory and what is wrong, write nothing, and list leaves the
// run out with a note.
func TestResultsNotAResult(t *testing.T) {
	const noScenario = "result.json is not a meshgym result (no scenario recorded)"
	cases := map[string]struct {
		body []byte
		want string
	}{
		"20261201-000001-null":       {[]byte("null"), noScenario},
		"20261201-000002-empty-obj":  {[]byte("{}"), noScenario},
		"20261201-000003-noscenario": {[]byte(`{"platform": "local", "passed": false}`), noScenario},
		"20261201-000004-nullscen":   {[]byte(`{"scenario": null, "passed": true}`), noScenario},
		"20261201-000005-notjson":    {[]byte("not json at all"), "result.json is not a meshgym result: invalid character 'o' in literal null (expecting 'u')"},
		"20261201-000006-emptyfile":  {[]byte(""), "result.json is empty (the run was cut off while writing it)"},
		"20261201-000007-array":      {[]byte("[1, 2]"), "result.json is not a meshgym result (a JSON array, not an object)"},
		"20261201-000008-dirresult":  {nil, "result.json is a directory, not a file"},
	}
	extra := map[string][]byte{}
	for id, c := range cases {
		extra[id] = c.body
	}
	store := resultsStore(t, "", extra)

	out, stderr, code := meshgym(t, "results", "--results-dir", store, "list")
	if code != 0 {
		t.Fatalf("list: exit %d: %s", code, stderr)
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[1], "20261129-140538-retries") {
		t.Errorf("list shows broken runs:\n%s", out)
	}
	for id, c := range cases {
		if note := "note: skipped " + filepath.Join(store, id) + ": " + c.want + "\n"; !strings.Contains(stderr, note) {
			t.Errorf("list stderr lacks %q:\n%s", note, stderr)
		}
	}

	for id, c := range cases {
		want := filepath.Join(store, id) + ": " + c.want
		out, stderr, code := meshgym(t, "results", "--results-dir", store, "show", id)
		if code != exitUsage || out != "" {
			t.Errorf("show %s: exit %d, stdout %q; want exit 2, nothing", id, code, out)
		}
		oneErrLine(t, "show "+id, stderr, want)
		for _, f := range []string{"html", "smp", "json"} {
			file := filepath.Join(t.TempDir(), "x."+f)
			_, stderr, code := meshgym(t, "results", "--results-dir", store, "export", id, "--format", f, "-o", file)
			if code != exitUsage {
				t.Errorf("export %s --format %s: exit %d, want 2", id, f, code)
			}
			oneErrLine(t, "export "+id+" "+f, stderr, want)
			if _, err := os.Stat(file); err == nil {
				t.Errorf("export %s --format %s wrote %s", id, f, file)
			}
		}
	}
	// The good run still shows.
	if out, stderr, code := meshgym(t, "results", "--results-dir", store, "show", "last"); code != 0 || !strings.Contains(out, "meshgym · retries") {
		t.Errorf("show last: exit %d: %s%s", code, out, stderr)
	}
}

// TestResultsBadStoreDir: a --results-dir that is a file or a symlink
// loop is bad input (exit 2), one line naming it.
func TestResultsBadStoreDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	loop := filepath.Join(dir, "loop")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	for path, cause := range map[string]string{file: "not a directory", loop: "too many levels of symbolic links"} {
		for _, args := range [][]string{{"list"}, {"list", "-o", "json"}, {"show", "last"}, {"show", "2026"}, {"export", "last", "--format", "json"}} {
			out, stderr, code := meshgym(t, append([]string{"results", "--results-dir", path}, args...)...)
			if code != exitUsage || out != "" {
				t.Errorf("%v on %s: exit %d, stdout %q; want exit 2", args, path, code, out)
			}
			oneErrLine(t, strings.Join(args, " "), stderr, "results directory "+path+": "+cause)
		}
	}
}

// TestResultsListLongFields: one huge field does not widen every row.
func TestResultsListLongFields(t *testing.T) {
	long := strings.Repeat("é", 10<<10) // 10 K characters
	store := resultsStore(t, "", map[string][]byte{
		"20261201-000001-long": []byte(`{"scenario": {"name": "` + long + `"}, "platform": "local\twith\ttabs", "mesh": "` + strings.Repeat("m", 100) + `"}`),
	})
	out, stderr, code := meshgym(t, "results", "--results-dir", store, "list")
	if code != 0 {
		t.Fatalf("list: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("list:\n%s", out)
	}
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n > 6*resultsCellWidth {
			t.Errorf("row of %d characters: %.120s…", n, l)
		}
	}
	cut := strings.Repeat("é", resultsCellWidth-1) + "…"
	if !strings.Contains(lines[1], cut) || strings.Contains(lines[1], cut[:len(cut)-len("…")]+"é") {
		t.Errorf("long name not cut to %d characters: %.200s", resultsCellWidth, lines[1])
	}
	if !strings.Contains(lines[1], "local with tabs") || !strings.Contains(lines[1], strings.Repeat("m", resultsCellWidth-1)+"…") {
		t.Errorf("platform/mesh cells: %s", lines[1])
	}
	// JSON keeps the whole field: it is data, not a table.
	out, _, code = meshgym(t, "results", "--results-dir", store, "list", "-o", "json")
	if code != 0 || !strings.Contains(out, long) {
		t.Errorf("list -o json: exit %d, full name kept: %v", code, strings.Contains(out, long))
	}
}

func TestResultsCellText(t *testing.T) {
	for _, tc := range []struct {
		in    string
		width int
		want  string
	}{
		{"", 5, "—"},
		{"abc", 5, "abc"},
		{"abcde", 5, "abcde"},
		{"abcdef", 5, "abcd…"},
		{"a\tb\nc\x1b", 8, "a b c "},
		{"ééééééé", 4, "ééé…"},
	} {
		if got := resultsCellText(tc.in, tc.width); got != tc.want {
			t.Errorf("resultsCellText(%q, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
		}
	}
}

// TestResultsWriteErrors: a full stdout is a platform failure (exit 3,
// "meshgym: write output: …", no help hint), not a usage error.
func TestResultsWriteErrors(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full:", err)
	}
	defer full.Close()
	store := resultsStore(t, "", nil)
	for _, args := range [][]string{
		{"list"}, {"list", "-o", "json"},
		{"show", "last"}, {"show", "last", "-o", "json"},
		{"export", "last", "--format", "json"}, {"export", "last", "--format", "html"}, {"export", "last", "--format", "smp"},
	} {
		cmd := exec.Command(filepath.Join(binDir, "meshgym"), append([]string{"results", "--results-dir", store}, args...)...)
		var e bytes.Buffer
		cmd.Stdout, cmd.Stderr = full, &e
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != exitPlatform {
			t.Errorf("%v > /dev/full: exit %d, want 3; stderr %q", args, code, e.String())
		}
		if want := "meshgym: write output: write /dev/stdout: no space left on device\n"; e.String() != want {
			t.Errorf("%v > /dev/full: stderr %q, want %q", args, e.String(), want)
		}
	}
}

// TestTextNoScenario: report.Text does not panic on a result without a
// scenario (results.Load refuses those, but Text is public).
func TestTextNoScenario(t *testing.T) {
	var b bytes.Buffer
	report.Text(&b, nil, report.TextOptions{})
	if b.Len() != 0 {
		t.Errorf("Text(nil) wrote %q", b.String())
	}
	for _, res := range []*engine.Result{{}, {Platform: "local", Error: "x"}} {
		b.Reset()
		report.Text(&b, res, report.TextOptions{})
		if !strings.Contains(b.String(), "(no scenario recorded)") {
			t.Errorf("Text without a scenario:\n%s", b.String())
		}
		if res.Scenario != nil {
			t.Errorf("Text changed its argument")
		}
	}
}
