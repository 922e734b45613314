package main

import "testing"

// TestRunOTLPBad: a malformed --otlp endpoint fails `meshgym run` (and
// run --all) up front with exit 2 and one line, before any
// scenario is loaded or deployed.
func TestRunOTLPBad(t *testing.T) {
	for _, bad := range []string{"garbage", "http://", "https://", "ftp://x", "http://[::1", "http://a b", ":99999",
		"localhost:4318", "http:localhost", "http://x:0", "http://x:65536", "http://x:", "http://:4318", "//x:4318"} {
		want := `--otlp "` + bad + `": want an http(s) URL such as http://localhost:4318`
		for _, args := range [][]string{
			{"run", "retries", "-d", "1s", "--otlp", bad},
			{"run", "--all", "--otlp", bad},
		} {
			out, stderr, code := traceCLI(t, args...)
			if code != exitUsage || out != "" {
				t.Errorf("%q: exit %d, stdout %q; want 2 and nothing", args, code, out)
			}
			oneErrLine(t, bad, stderr, want)
		}
	}
}

// TestOTLPEndpointOK: the endpoints --otlp accepts.
func TestOTLPEndpointOK(t *testing.T) {
	for _, tc := range []struct {
		s  string
		ok bool
	}{
		{"http://localhost:4318", true},
		{"https://otel.example.com", true},
		{"http://[::1]:4318/v1/traces", true},
		{"HTTP://LOCALHOST:4318", true},
		{"http://127.0.0.1:1", true},
		{"http://127.0.0.1:65535", true},
		{"garbage", false},
		{"http://", false},
		{"ftp://x", false},
		{"http://[::1", false},
		{"http://a b", false},
		{":99999", false},
		{"http://x:99999", false},
		{"http://x:0", false},
		{"http://x:-1", false},
	} {
		if got := otlpEndpointOK(tc.s); got != tc.ok {
			t.Errorf("otlpEndpointOK(%q) = %v, want %v", tc.s, got, tc.ok)
		}
	}
}
