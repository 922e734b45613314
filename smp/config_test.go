package smp

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadWrapped(t *testing.T) {
	cfg, err := Load("testdata/wrapped.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := &TestConfig{
		File: "testdata/wrapped.yaml", SMPVersion: "v0.0.1", ID: "check-1", Name: "quick check",
		Labels: map[string]string{"team": "payments"}, Duration: 30 * time.Second, DurationText: "30s",
		Mesh: "ISTIO", MeshVersion: "1.27.0", Wrapped: true,
		Clients: []Client{{LoadGenerator: "fortio", Protocol: "http", Connections: 2, RPS: 50,
			EndpointURLs: []string{"http://127.0.0.1:8200/", "https://example.test:8443/health"}}},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got  %+v\nwant %+v", cfg, want)
	}
}

func TestLoadBareJSONWithDefaults(t *testing.T) {
	cfg, err := Load("testdata/bare.json")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Wrapped || cfg.Name != "json form" || cfg.Duration != 2*time.Second || len(cfg.Clients) != 1 {
		t.Fatalf("cfg = %+v", cfg)
	}
	c := cfg.Clients[0]
	// endpoint_url (the spec proto's name) is read too; connections defaults to 1.
	if c.Connections != 1 || c.RPS != 0 || !reflect.DeepEqual(c.EndpointURLs, []string{"http://127.0.0.1:9/"}) || c.LoadGenerator != "fortio" {
		t.Errorf("client = %+v", c)
	}
}

func TestLoadDurations(t *testing.T) {
	for text, want := range map[string]time.Duration{
		"30s": 30 * time.Second, "1m": time.Minute, "1h30m": 90 * time.Minute, "45": 45 * time.Second,
		"2.5": 2500 * time.Millisecond, `"10"`: 10 * time.Second,
	} {
		cfg, err := LoadBytes("d.yaml", []byte("duration: "+text+"\nclients: [{endpoint_urls: [http://h/]}]\n"))
		if err != nil {
			t.Errorf("%s: %v", text, err)
			continue
		}
		if cfg.Duration != want {
			t.Errorf("%s: %s, want %s", text, cfg.Duration, want)
		}
	}
	cfg, err := LoadBytes("d.yaml", []byte("clients: [{endpoint_urls: [http://h/]}]\n"))
	if err != nil || cfg.Duration != DefaultDuration || len(cfg.Notes) != 1 || cfg.Name != "d" {
		t.Errorf("no duration: %+v, %v", cfg, err)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // one line per problem, in order
	}{
		{"missing endpoint_urls", "test:\n  duration: 2s\n  clients:\n    - rps: 5\n",
			[]string{"f.yaml:4:7: test.clients[0].endpoint_urls: missing: the client has no endpoint to load; hint: list the URLs to load"}},
		{"empty endpoint_urls", "clients:\n  - endpoint_urls: []\n",
			[]string{"f.yaml:2:20: clients[0].endpoint_urls: needs at least one endpoint URL; hint: list the URLs to load"}},
		{"null endpoint_urls", "clients:\n  - endpoint_urls:\n",
			[]string{"f.yaml:2:20: clients[0].endpoint_urls: expected a list of URLs, found nothing"}},
		{"mapping endpoint_urls", "clients:\n  - endpoint_urls: {a: b}\n",
			[]string{"f.yaml:2:21: clients[0].endpoint_urls: expected a list of URLs, found a mapping"}},
		{"empty clients", "test:\n  clients: []\n",
			[]string{"f.yaml:2:12: test.clients: needs at least one client; hint: add one"}},
		{"clients not a list", "clients: 5\n",
			[]string{"f.yaml:1:10: clients: expected a list of clients, found the number 5"}},
		{"bad URLs", "clients:\n  - endpoint_urls:\n      - ftp://h/x\n      - http://\n      - ://nope\n",
			[]string{
				`f.yaml:3:9: clients[0].endpoint_urls[0]: bad URL "ftp://h/x": the scheme must be http or https`,
				`f.yaml:4:9: clients[0].endpoint_urls[1]: bad URL "http://": no host`,
				`f.yaml:5:9: clients[0].endpoint_urls[2]: bad URL "://nope": missing protocol scheme`}},
		{"negative rps", "clients:\n  - endpoint_urls: [http://h/]\n    rps: -5\n",
			[]string{"f.yaml:3:10: clients[0].rps: must be from 0 to 1000000 requests per second (got -5); hint: use 0 for as fast as possible"}},
		{"connections < 1", "clients:\n  - endpoint_urls: [http://h/]\n    connections: 0\n",
			[]string{"f.yaml:3:18: clients[0].connections: must be a whole number ≥ 1 (got 0)"}},
		{"bad duration", "duration: soon\nclients:\n  - endpoint_urls: [http://h/]\n",
			[]string{`f.yaml:1:11: duration: cannot read "soon" as a duration; hint: write a Go duration such as "30s", "1m" or "1h30m", or a number of seconds`}},
		{"zero duration", "duration: 0s\nclients:\n  - endpoint_urls: [http://h/]\n",
			[]string{"f.yaml:1:11: duration: must be more than 0 and at most 168h0m0s (got 0s)"}},
		{"wrk2", "test:\n  clients:\n    - load_generator: wrk2\n      endpoint_urls: [http://h/]\n",
			[]string{`f.yaml:3:23: test.clients[0].load_generator: load generator "wrk2" is not supported: only fortio is; hint: use load_generator: fortio`}},
		{"grpc", "clients:\n  - protocol: grpc\n    endpoint_urls: [http://h/]\n",
			[]string{`f.yaml:2:15: clients[0].protocol: protocol "grpc" is not supported: only http is`}},
		{"headers", "clients:\n  - endpoint_urls: [http://h/]\n    headers: {x-a: b}\n",
			[]string{"f.yaml:3:5: clients[0].headers: headers is not supported: meshgym's load generator sends plain GET requests"}},
		{"unknown key", "test:\n  clients:\n    - endpoint_urls: [http://h/]\n      qps: 5\n",
			[]string{`f.yaml:4:7: test.clients[0].qps: unknown key "qps"; hint: known keys here: internal, load_generator`}},
		{"no clients", "test:\n  duration: 5s\n",
			[]string{"f.yaml:2:3: test: no clients: the test has no load generator"}},
		{"not a mapping", "- a\n- b\n", []string{"f.yaml:1:1: expected a mapping, found a list"}},
		{"bad yaml", "clients: [\n", []string{"f.yaml:"}},
		{"every problem at once", "duration: x\nclients:\n  - rps: -1\n    connections: 0\n",
			[]string{"f.yaml:1:11: duration:", "f.yaml:3:5: clients[0].endpoint_urls: missing", "f.yaml:3:10: clients[0].rps:", "f.yaml:4:18: clients[0].connections:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := LoadBytes("f.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("no error; cfg = %+v", cfg)
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("err is %T, not Errors", err)
			}
			if len(es) != len(tc.want) {
				t.Fatalf("%d problems, want %d:\n%v", len(es), len(tc.want), err)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(es[i].Error(), w) {
					t.Errorf("problem %d:\n got %s\nwant %s…", i, es[i].Error(), w)
				}
				if strings.Contains(es[i].Error(), "\n") {
					t.Errorf("problem %d is not one line", i)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.yaml"))
	if err == nil || !strings.Contains(err.Error(), "none.yaml: cannot read the file: no such file or directory") {
		t.Fatalf("err = %v", err)
	}
}

func TestIsTestConfig(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct {
		body string
		want bool
	}{
		"wrapped.yaml":  {"test:\n  clients: []\n", true},
		"bare.yaml":     {"name: x\nclients: [{endpoint_urls: [http://h/]}]\n", true},
		"bare.json":     {`{"clients": [{"endpoint_urls": ["http://h/"]}]}`, true},
		"longform.yaml": {"apiVersion: meshgym.dev/v1alpha1\nkind: Scenario\ntopology: {}\n", false},
		"book.yaml":     {"deployment:\n  retry: {}\nperformance_test:\n  duration: 20s\n", false},
		"mixed.yaml":    {"test:\n  clients: []\ntopology: {}\n", false},
		"other.yaml":    {"name: x\n", false},
		"list.yaml":     {"- test\n", false},
		"broken.yaml":   {"test: [\n", false},
	}
	for name, tc := range cases {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(tc.body), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := IsTestConfig(p); got != tc.want {
			t.Errorf("IsTestConfig(%s) = %v, want %v", name, got, tc.want)
		}
	}
	if IsTestConfig(dir) || IsTestConfig(filepath.Join(dir, "missing.yaml")) {
		t.Error("a directory or a missing file is not a test config")
	}
	// The built-in scenarios are never taken for SMP tests.
	builtin, _ := filepath.Glob("../scenarios/builtin/*.yaml")
	for _, b := range builtin {
		if IsTestConfig(b) {
			t.Errorf("IsTestConfig(%s) = true", b)
		}
	}
	if len(builtin) == 0 {
		t.Error("no built-in scenarios found")
	}
}

func TestOverride(t *testing.T) {
	base := func() *TestConfig {
		return &TestConfig{Duration: 30 * time.Second, Clients: []Client{
			{Connections: 1, RPS: 10, EndpointURLs: []string{"http://a/"}},
			{Connections: 4, RPS: 20, EndpointURLs: []string{"http://b/"}},
		}}
	}
	d, rps, zero, conns, bad := 5*time.Second, 50.0, 0.0, 3, 0
	negD := -time.Second
	cfg := base()
	notes, err := cfg.Override(Overrides{Duration: &d, RPS: &rps, Connections: &conns})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Duration != d || cfg.Clients[0].RPS != 50 || cfg.Clients[1].RPS != 50 || cfg.Clients[0].Connections != 3 || cfg.Clients[1].Connections != 3 {
		t.Errorf("cfg = %+v", cfg)
	}
	want := []string{"duration: 5s per endpoint (the file says 30s)", "rps: 50 for every client (the file says 10, 20)",
		"connections: 3 for every client (the file says 1, 4)"}
	if !reflect.DeepEqual(notes, want) {
		t.Errorf("notes = %q", notes)
	}
	cfg = base()
	if _, err := cfg.Override(Overrides{RPS: &zero}); err != nil || cfg.Clients[1].RPS != 0 || cfg.Duration != 30*time.Second || cfg.Clients[1].Connections != 4 {
		t.Errorf("rps 0 (as fast as possible): %v, %+v", err, cfg)
	}
	for _, o := range []Overrides{{Duration: &negD}, {Connections: &bad}} {
		cfg = base()
		if _, err := cfg.Override(o); err == nil || !reflect.DeepEqual(cfg, base()) {
			t.Errorf("%+v: err %v, cfg %+v", o, err, cfg)
		}
	}
}
