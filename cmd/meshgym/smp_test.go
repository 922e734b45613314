package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// smpFile writes an SMP test file loading url: 30 s at 5 req/s on one
// connection unless flags override it.
func smpFile(t *testing.T, url string) string {
	t.Helper()
	return writeFile(t, "perf.yaml", fmt.Sprintf("test:\n  name: t\n  duration: 30s\n  clients:\n    - rps: 5\n      connections: 1\n      endpoint_urls: [%s]\n", url))
}

// TestSMPUnreachable: a closed port makes every request a socket error:
// exit 3 and one line naming the URL and the cause; -q prints no progress.
func TestSMPUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String() + "/"
	l.Close()
	stdout, stderr, code := meshgym(t, "run", smpFile(t, url), "-d", "1s", "--rps", "10", "-q")
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if code != exitPlatform || len(lines) != 1 || !strings.Contains(lines[0], url+" is unreachable") || !strings.Contains(lines[0], "connection refused") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "socket error: 10") || strings.Contains(stdout, "Latency") {
		t.Errorf("stdout:\n%s", stdout)
	}
}

// TestSMPOverridesAndNo2xx: --duration, --rps and --connections replace
// the file's settings for every client; an endpoint answering only 404 is
// a warning, not a failure (exit 0).
func TestSMPOverridesAndNo2xx(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	file := smpFile(t, srv.URL+"/nope")

	stdout, stderr, code := meshgym(t, "run", file, "-d", "1s", "--rps", "20", "-c", "2", "-o", "json", "-q")
	var doc struct {
		Results []struct {
			Connections  int     `json:"connections"`
			RequestedQPS float64 `json:"requested_qps"`
			Meshgym      struct {
				Requests    int64            `json:"requests"`
				StatusCodes map[string]int64 `json:"status_codes"`
			} `json:"meshgym"`
		} `json:"results"`
	}
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || len(doc.Results) != 1 {
		t.Fatalf("%v: %s", err, stdout)
	}
	r := doc.Results[0]
	if r.Connections != 2 || r.RequestedQPS != 20 || r.Meshgym.Requests != 20 || r.Meshgym.StatusCodes["404"] != 20 {
		t.Errorf("result = %+v", r)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "meshgym: warning: "+srv.URL+"/nope answered none of 20 requests with 2xx (404: 20)") {
		t.Errorf("stderr with -q and --output json:\n%s", stderr)
	}

	stdout, stderr, code = meshgym(t, "run", file, "-d", "1s", "--rps", "10")
	if code != 0 || !strings.Contains(stdout, "warning: "+srv.URL+"/nope answered none of 10 requests with 2xx") ||
		!strings.Contains(stdout, "not kept in the results store") {
		t.Errorf("exit %d, stdout:\n%s", code, stdout)
	}
	for _, want := range []string{"flag: duration: 1s per endpoint (the file says 30s)", "flag: rps: 10 for every client (the file says 5)", "▶ smp"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// TestSMPRefusedFlags: the run flags that mean nothing for an SMP test end
// with exit 2 and one line that says why, before any load is sent.
func TestSMPRefusedFlags(t *testing.T) {
	file := smpFile(t, "http://127.0.0.1:9/")
	runDir := filepath.Join(t.TempDir(), "rd")
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--mesh", "istio"}, []string{"--mesh does not apply", "no mesh applies a pattern", "remove it"}},
		{[]string{"--seed", "3", "--port", "9000"}, []string{"--seed, --port do not apply", "no random choices", "endpoint_urls", "remove them"}},
		{[]string{"--set", "retry.attempts=1"}, []string{"--set does not apply", "no scenario knobs"}},
		{[]string{"--run-dir", runDir}, []string{"--run-dir does not apply", "not stored"}},
	} {
		_, stderr, code := meshgym(t, append([]string{"run", file}, tc.args...)...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != exitUsage || len(lines) != 1 {
			t.Errorf("%v: exit %d, stderr:\n%s", tc.args, code, stderr)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(lines[0], w) {
				t.Errorf("%v: %q lacks %q", tc.args, lines[0], w)
			}
		}
	}
	if _, _, code := meshgym(t, "run", "--all", file); code != exitUsage {
		t.Errorf("--all with a file: exit %d", code)
	}
	_ = os.Remove(runDir) // checkFlags creates it before the file is read
}

// TestResultsExportNeedsFormat: without --format the error points at the
// export command's help.
func TestResultsExportNeedsFormat(t *testing.T) {
	_, stderr, code := meshgym(t, "results", "export", "last")
	if code != exitUsage || !strings.Contains(stderr, "--format json, html or smp") || !strings.Contains(stderr, "see 'meshgym results export --help'") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}
