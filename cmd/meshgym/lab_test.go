package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"meshgym/engine"
	"meshgym/scenarios"
	"meshgym/tui"
)

// labMain runs the CLI in process; the test's buffers are no terminal.
func labMain(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	t.Setenv("MESHGYM_LABS_PROGRESS", t.TempDir()+"/progress.json")
	var o, e bytes.Buffer
	code := Main(args, &o, &e)
	return o.String(), e.String(), code
}

func TestLabWithoutATerminal(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		{"no arguments lists the labs", nil, exitOK, []string{"LAB", "retries", "Retries", "meshgym run retries -d 8s", "meshgym lab NAME"}, ""},
		{"lab without a name lists", []string{"lab"}, exitOK, []string{"retries", "MINUTES"}, ""},
		{"lab --list", []string{"lab", "--list"}, exitOK, []string{"LAB", "retries ", " Retries ", " 15 "}, ""},
		{"one lab as text with its CLI commands", []string{"lab", "retries"}, exitOK, []string{
			"Step 1 of", "(predict)", "1. almost none",
			"meshgym run retries --set load.duration=8s --set retry.attempts=0\n",
			"Solution: --set retry.attempts=3",
			// Step 5 carries step 3's solution, so its command can pass.
			"meshgym run retries --set load.duration=8s --set retry.attempts=3 --set currency_v2.errorRate=50\n",
			"Knob retry.attempts — retries per call: one of 0, 1, 2, 3, 5",
			"judges the scenario's own conditions",
			"request_count[status_code!=200] < 1%",
			"(measured in your run)",
		}, ""},
		{"unknown lab", []string{"lab", "nope"}, exitUsage, nil, `no lab named "nope"; the labs are: `},
		{"two names", []string{"lab", "a", "b"}, exitUsage, nil, "at most one lab NAME"},
		{"bad port", []string{"lab", "--port", "70000"}, exitUsage, nil, "--port"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := labMain(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.code, errOut)
			}
			if strings.Contains(out, "{{") {
				t.Errorf("stdout has a raw placeholder:\n%s", out)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			if !strings.Contains(errOut, tc.stderr) {
				t.Errorf("stderr %q, want %q", errOut, tc.stderr)
			}
		})
	}
}

func TestTUIExit(t *testing.T) {
	tests := []struct {
		err  error
		code int
		msg  string
	}{
		{nil, exitOK, ""},
		{tui.ErrRunStopped, exitInterrupted, "run stopped; everything it started was torn down"},
		{tea.ErrProgramKilled, exitInterrupted, "interrupted"},
		{errors.New("no tty"), exitPlatform, "terminal UI: no tty"},
	}
	for _, tc := range tests {
		err := tuiExit(tc.err)
		if tc.code == exitOK {
			if err != nil {
				t.Errorf("%v: %v", tc.err, err)
			}
			continue
		}
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != tc.code || ee.Error() != tc.msg && !strings.Contains(ee.Error(), tc.msg) {
			t.Errorf("%v: %#v, want exit %d %q", tc.err, err, tc.code, tc.msg)
		}
	}
}

// A lab run leaves report.txt beside result.json, as `meshgym run` does.
func TestLabRunWritesReport(t *testing.T) {
	dir := t.TempDir()
	sc, err := scenarios.Builtin("retries")
	if err != nil {
		t.Fatal(err)
	}
	res := &engine.Result{Scenario: sc, ID: "20261129-140000-retries", RunDir: dir, Error: "interrupted"}
	writeReport(res)
	data, err := os.ReadFile(filepath.Join(dir, "report.txt"))
	if err != nil || !strings.Contains(string(data), "retries") {
		t.Fatalf("report.txt: %v\n%s", err, data)
	}
	writeReport(nil) // a run that did not start writes nothing
}
