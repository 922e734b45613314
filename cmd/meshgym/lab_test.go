package main

import (
	"bytes"
	"strings"
	"testing"
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
			"meshgym run retries --set load.duration=8s --set retry.attempts=0",
			"Solution: --set retry.attempts=3",
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
