package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// model returns a copy of s without provenance (Source, Notes, positions),
// for comparing what two files mean.
func model(s *Scenario) Scenario {
	c := *s
	c.Source, c.Notes, c.MeshPos = "", nil, Position{}
	c.Conditions = append([]Condition(nil), s.Conditions...)
	for i := range c.Conditions {
		c.Conditions[i].Pos = Position{}
	}
	return c
}

func bookFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/book/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no book files: %v", err)
	}
	return files
}

func mustBuiltin(t *testing.T, name string) *Scenario {
	t.Helper()
	s, err := Builtin(name)
	if err != nil {
		t.Fatalf("Builtin(%q): %v", name, err)
	}
	return s
}

func TestBuiltinRetries(t *testing.T) {
	s := mustBuiltin(t, "retries")
	if s.Source != "builtin:retries" || s.Name != "retries" || s.APIVersion != APIVersion || s.Kind != "Scenario" {
		t.Errorf("header: source %q name %q apiVersion %q kind %q", s.Source, s.Name, s.APIVersion, s.Kind)
	}
	wantTopo := Topology{Entry: "api", Services: []Service{
		{Name: "api", Upstreams: []string{"payments"}, Sidecar: true, Versions: []Version{{Name: "api", Instances: 1, ErrorCode: 500}}},
		{Name: "payments", Upstreams: []string{"currency"}, Sidecar: true, Versions: []Version{{Name: "payments", Instances: 1, ErrorCode: 500}}},
		{Name: "currency", Sidecar: true, Versions: []Version{
			{Name: "currency_v1", Instances: 1, ErrorCode: 500},
			{Name: "currency_v2", Instances: 1, ErrorRate: 50, ErrorCode: 500},
		}},
	}}
	if !reflect.DeepEqual(s.Topology, wantTopo) {
		t.Errorf("topology:\n got %+v\nwant %+v", s.Topology, wantTopo)
	}
	wantPattern := Pattern{Kind: KindRetries, Retries: []RetryPolicy{{Service: "currency", Attempts: 3, RetryOn: []string{"5xx", "connect-failure"}, BackoffBase: Duration(25 * time.Millisecond), PreferNewHost: true}}}
	if !reflect.DeepEqual(s.Pattern, wantPattern) {
		t.Errorf("pattern:\n got %+v %+v\nwant %+v %+v", s.Pattern, s.Pattern.Retries, wantPattern, wantPattern.Retries)
	}
	if want := (LoadSpec{Duration: Duration(200 * time.Second), RPS: 100, Connections: 10}); s.Load != want {
		t.Errorf("load: got %+v, want %+v", s.Load, want)
	}
	want := []string{
		"request_count[name=payments, status_code=200] = 100%",
		"request_count[name=payments, status_code!=200] = 0%",
		"request_count[name=currency_v1, status_code=200] = 100%",
		"request_count[name=currency_v1, status_code=500] = 0%",
		"request_count[name=currency_v2, status_code=200] = 50% ± 0.1",
		"request_count[name=currency_v2, status_code=500] = 50% ± 0.1",
	}
	if len(s.Conditions) != len(want) {
		t.Fatalf("got %d conditions, want %d", len(s.Conditions), len(want))
	}
	for i, c := range s.Conditions {
		if c.Text != want[i] || c.String() != want[i] {
			t.Errorf("condition %d: text %q string %q, want %q", i, c.Text, c.String(), want[i])
		}
		if !c.Share || c.Metric != MetricRequestCount {
			t.Errorf("condition %d: share %v metric %q", i, c.Share, c.Metric)
		}
		if c.Pos.Line == 0 || c.Pos.File != "builtin/retries.yaml" {
			t.Errorf("condition %d: position %+v", i, c.Pos)
		}
	}
}

func TestBuiltinNames(t *testing.T) {
	infos := BuiltinNames()
	if !slices.ContainsFunc(infos, func(in BuiltinInfo) bool { return in.Name == "retries" }) ||
		!slices.IsSortedFunc(infos, func(a, b BuiltinInfo) int { return strings.Compare(a.Name, b.Name) }) {
		t.Fatalf("BuiltinNames() = %+v", infos)
	}
	for _, in := range infos {
		if in.Description == "" || strings.Contains(in.Description, "\n") {
			t.Errorf("%s: description %q is not one line", in.Name, in.Description)
		}
		if _, err := Builtin(in.Name); err != nil {
			t.Errorf("Builtin(%q): %v", in.Name, err)
		}
	}
	for _, bad := range []string{"nope", "", "../retries", "retries.yaml"} {
		if _, err := Builtin(bad); err == nil {
			t.Errorf("Builtin(%q) = nil error", bad)
		}
	}
}

// The book's retry shorthand expands to exactly the built-in long form.
func TestBookRetriesMatchesBuiltin(t *testing.T) {
	book, err := Load("testdata/book/retries.yaml")
	if err != nil {
		t.Fatal(err)
	}
	builtin := mustBuiltin(t, "retries")
	got, want := model(book), model(builtin)
	want.Description = ""
	if !reflect.DeepEqual(got, want) {
		gb, _ := Marshal(&got)
		wb, _ := Marshal(&want)
		t.Errorf("book retries differs from builtin:\n--- book\n%s\n--- builtin\n%s", gb, wb)
	}
}

func TestBookFiles(t *testing.T) {
	tests := []struct {
		file       string
		kind       string
		entry      string
		components []string // versions, in topology order
		load       LoadSpec
		conditions []string
	}{
		{"retries.yaml", KindRetries, "api", []string{"api", "payments", "currency_v1", "currency_v2"},
			LoadSpec{Duration(200 * time.Second), 100, 10}, nil},
		{"sidecar.yaml", KindSidecarProxy, "api", []string{"api", "payments"},
			LoadSpec{Duration(3 * time.Minute), 0, 10}, []string{
				"requests_per_second_p50[name=api] > 180",
				"cpu_seconds_p50[name=api] < 2",
				"cpu_seconds_p50[name=api_sidecar] < 1",
				"memory_megabytes_max[name=payments] < 100MB",
				"memory_megabytes_min[name=payments] < 100MB",
				"memory_megabytes_max[name=api_sidecar] < 50MB",
				"memory_megabytes_min[name=api_sidecar] < 50MB",
			}},
		{"circuit-breaking.yaml", KindCircuitBreaking, "checkout", []string{"checkout", "payments_v1", "payments_v2"},
			LoadSpec{Duration(200 * time.Second), 10, 10}, []string{
				"request_count[name=checkout] = 2000",
				"request_count[name=payments_v1, status_code=200] = 1992",
				"request_count[name=payments_v1, status_code!=200] = 0",
				"request_count[name=payments_v2, status_code=200] = 0",
				"request_count[name=payments_v2, status_code!=200] = 8 ± 0.01",
			}},
		{"canary.yaml", KindCanary, "api", []string{"api", "payments_v1", "payments_v2"},
			LoadSpec{Duration(30 * time.Second), 100, 4}, []string{
				"request_duration_p50 = 100ms",
				"request_duration_p50[name=payments_v1] < 100ms",
				"request_duration_p50[name=payments_v2] < 100ms",
				"request_count[name=payments_v1] = 50% ± 0.1",
				"request_count[name=payments_v2] = 50% ± 0.1",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s, err := Load(filepath.Join("testdata/book", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if s.Pattern.Kind != tt.kind || s.Topology.Entry != tt.entry {
				t.Errorf("kind %q entry %q", s.Pattern.Kind, s.Topology.Entry)
			}
			var comps []string
			for _, svc := range s.Topology.Services {
				for _, v := range svc.Versions {
					comps = append(comps, v.Name)
				}
			}
			if !reflect.DeepEqual(comps, tt.components) {
				t.Errorf("components %v, want %v", comps, tt.components)
			}
			if s.Load != tt.load {
				t.Errorf("load %+v, want %+v", s.Load, tt.load)
			}
			if tt.conditions != nil {
				var got []string
				for _, c := range s.Conditions {
					got = append(got, c.String())
				}
				if !reflect.DeepEqual(got, tt.conditions) {
					t.Errorf("conditions:\n got %q\nwant %q", got, tt.conditions)
				}
			}
			if len(s.Notes) == 0 {
				t.Error("no notes")
			}
		})
	}
	t.Run("knobs", func(t *testing.T) {
		cb, err := Load("testdata/book/circuit-breaking.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if want := (CircuitBreakerPolicy{Service: "payments", Algorithm: BreakerBook, ErrorThreshold: 2, EjectionDuration: Duration(time.Minute)}); cb.Pattern.CircuitBreaker == nil || *cb.Pattern.CircuitBreaker != want {
			t.Errorf("circuit breaker %+v", cb.Pattern.CircuitBreaker)
		}
		if r := cb.Topology.Services[1].Versions[1].ErrorRate; r != 100 {
			t.Errorf("payments_v2 error rate %v, want 100", r)
		}
		ca, err := Load("testdata/book/canary.yaml")
		if err != nil {
			t.Fatal(err)
		}
		wantSplit := &SplitPolicy{Service: "payments", Targets: []WeightedTarget{{"payments_v1", 50}, {"payments_v2", 50}}}
		if !reflect.DeepEqual(ca.Pattern.Split, wantSplit) {
			t.Errorf("split %+v", ca.Pattern.Split)
		}
		sc, err := Load("testdata/book/sidecar.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if sc.Pattern.Sidecar == nil || sc.Pattern.Sidecar.Protocol != "http" {
			t.Errorf("sidecar %+v", sc.Pattern.Sidecar)
		}
	})
}

// Load(Marshal(x)) == x for every built-in and book file, and Marshal is
// stable across the trip.
func TestRoundTrip(t *testing.T) {
	var all []*Scenario
	for _, in := range BuiltinNames() {
		all = append(all, mustBuiltin(t, in.Name))
	}
	short, _ := filepath.Glob("testdata/shorthand/*.yaml")
	for _, f := range append(bookFiles(t), short...) {
		s, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, s)
	}
	for _, s := range all {
		t.Run(s.Source, func(t *testing.T) {
			b, err := Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			back, err := LoadBytes("marshalled.yaml", b)
			if err != nil {
				t.Fatalf("reload: %v\n%s", err, b)
			}
			if got, want := model(back), model(s); !reflect.DeepEqual(got, want) {
				t.Errorf("round trip differs:\n got %+v\nwant %+v", got, want)
			}
			b2, err := Marshal(back)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, b2) {
				t.Errorf("Marshal not stable:\n%s\n---\n%s", b, b2)
			}
		})
	}
}

func TestGoldenMarshal(t *testing.T) {
	for _, in := range BuiltinNames() {
		name := in.Name
		b, err := Marshal(mustBuiltin(t, name))
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", "golden", name+".long.yaml")
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if !bytes.Equal(b, want) {
			t.Errorf("Marshal(%s) differs from %s (go test -update rewrites it):\n%s", name, golden, b)
		}
	}
}

func TestMarshalNil(t *testing.T) {
	if _, err := Marshal(nil); err == nil {
		t.Error("Marshal(nil) = nil error")
	}
}

const retryDeployment = "deployment:\n  retry: {upstream_services: 2, upstream_retries: 3, upstream_error_rate: [0, 50]}\n"

// Each quirk of the book's files, one at a time.
func TestBookQuirks(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		check func(t *testing.T, s *Scenario)
		note  string // a note that must be present
	}{
		{"leading --- and comments", "---\n# c\n" + retryDeployment + "performance_test: # c\n  duration: 10s # c\n",
			func(t *testing.T, s *Scenario) { eq(t, s.Load.Duration, Duration(10*time.Second)) }, ""},
		{"two documents", retryDeployment + "---\nperformance_test:\n  duration: 10s\n",
			func(t *testing.T, s *Scenario) { eq(t, s.Load.Duration, Duration(10*time.Second)) }, "2 YAML documents"},
		{"root indented by one space", " deployment:\n   retry: {upstream_services: 1, upstream_retries: 1}\n performance_test:\n   duration: 5s\n",
			func(t *testing.T, s *Scenario) { eq(t, s.Load.Duration, Duration(5*time.Second)) }, ""},
		{"performance_profile", retryDeployment + "performance_profile:\n  duration: 3m\n",
			func(t *testing.T, s *Scenario) { eq(t, s.Load.Duration, Duration(3*time.Minute)) }, "performance_profile: read as performance_test"},
		{"rps", retryDeployment + "performance_test: {duration: 1s, rps: 7}\n",
			func(t *testing.T, s *Scenario) { eq(t, s.Load.RPS, 7.0) }, ""},
		{"qps", retryDeployment + "performance_test: {duration: 1s, qps: 7.5}\n",
			func(t *testing.T, s *Scenario) { eq(t, s.Load.RPS, 7.5) }, "qps: read as rps"},
		{"threads", retryDeployment + "performance_test: {duration: 1s, threads: 3}\n",
			func(t *testing.T, s *Scenario) { eq(t, s.Load.Connections, 3) }, "threads: 3 read as 3 concurrent connections"},
		{"connections", retryDeployment + "performance_test: {duration: 1s, connections: 3}\n",
			func(t *testing.T, s *Scenario) { eq(t, s.Load.Connections, 3) }, ""},
		{"no threads", retryDeployment + "performance_test: {duration: 1s}\n",
			func(t *testing.T, s *Scenario) { eq(t, s.Load.Connections, 4) }, "fortio's default"},
		{"bare duration is seconds", retryDeployment + "performance_test: {duration: 30}\n",
			func(t *testing.T, s *Scenario) { eq(t, s.Load.Duration, Duration(30*time.Second)) }, "a bare number is seconds"},
		{"error rate 50", "deployment:\n  retry: {upstream_retries: 3, upstream_error_rate: [0, 50]}\nperformance_test: {duration: 1s}\n",
			func(t *testing.T, s *Scenario) { eq(t, s.Topology.Services[2].Versions[1].ErrorRate, 50.0) }, "50 read as 50%"},
		{"error rate 50%", "deployment:\n  retry: {upstream_retries: 3, upstream_error_rate: [0%, \"50%\"]}\nperformance_test: {duration: 1s}\n",
			func(t *testing.T, s *Scenario) { eq(t, s.Topology.Services[2].Versions[1].ErrorRate, 50.0) }, ""},
		{"one error rate for all", "deployment:\n  retry: {upstream_services: 3, upstream_retries: 3, upstream_error_rate: 10}\nperformance_test: {duration: 1s}\n",
			func(t *testing.T, s *Scenario) {
				eq(t, len(s.Topology.Services[2].Versions), 3)
				eq(t, s.Topology.Services[2].Versions[2].ErrorRate, 10.0)
			}, "one rate for all 3 versions"},
		{"fraction is a percent", "deployment:\n  retry: {upstream_retries: 3, upstream_error_rate: [0, 0.5]}\nperformance_test: {duration: 1s}\n",
			func(t *testing.T, s *Scenario) { eq(t, s.Topology.Services[2].Versions[1].ErrorRate, 0.5) }, "not a fraction"},
		{"circuit-breaking", "deployment:\n  circuit-breaking: {upstream_services: 2, upstream_error_rate: [0%, 100%], error_threshold: 2, ejection_duration: 60s}\nperformance_test: {duration: 1s}\n",
			func(t *testing.T, s *Scenario) { eq(t, s.Pattern.Kind, KindCircuitBreaking) }, "read as pattern circuit_breaking"},
		{"circuit_breaking", "deployment:\n  circuit_breaking: {upstream_services: 2, error_threshold: 2, ejection_duration: 60s}\nperformance_test: {duration: 1s}\n",
			func(t *testing.T, s *Scenario) { eq(t, s.Pattern.Kind, KindCircuitBreaking) }, ""},
		{"sidecar without knobs", "deployment:\n  sidecar_proxy:\nperformance_test: {duration: 1s}\n",
			func(t *testing.T, s *Scenario) { eq(t, s.Pattern.Sidecar.Protocol, "http") }, "no protocol given"},
		{"typographic quotes in a knob", "deployment:\n  sidecar_proxy: {protocol: ”http\"}\nperformance_test: {duration: 1s}\n",
			func(t *testing.T, s *Scenario) { eq(t, s.Pattern.Sidecar.Protocol, "http") }, "typographic quotes"},
		{"canary bare weights", "deployment:\n  canary:\n    upstreams: [{name: payments_v1, weight: 90}, {name: payments_v2, weight: 10, error_rate: 5}]\nperformance_test: {duration: 1s}\n",
			func(t *testing.T, s *Scenario) {
				eq(t, s.Pattern.Split.Targets[1].Weight, 10.0)
				eq(t, s.Topology.Services[1].Versions[1].ErrorRate, 5.0)
			}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := LoadBytes("q.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
			if tt.note != "" && !hasNote(s, tt.note) {
				t.Errorf("no note containing %q in:\n%s", tt.note, strings.Join(s.Notes, "\n"))
			}
		})
	}
}

// Every spelling of a success condition the book uses.
func TestBookConditionSpellings(t *testing.T) {
	tests := []struct {
		name, item string
		want       string // canonical String()
		note       string
	}{
		{"nested value", "- request_count[name=payments]:\n      value: 100%", "request_count[name=payments] = 100%", "read as a share"},
		{"value beside the metric", "- request_count[name=payments]:\n    value: 100%", "request_count[name=payments] = 100%", ""},
		{"value indented oddly", "- request_count[name=payments]:\n     value: 100%\n     tolerance: 0.1", "request_count[name=payments] = 100% ± 0.1", ""},
		{"no value key", "- request_duration_p50: 100ms", "request_duration_p50 = 100ms", "has no value: key"},
		{"quoted selector", "- request_count[\"name=currency_v1, status=200\"]: {value: 1992}", "request_count[name=currency_v1, status_code=200] = 1992", "status read as status_code"},
		{"bare labels, status first", "- request_count[status_code=200, name=\"payments\"]: {value: 50%}", "request_count[name=payments, status_code=200] = 50%", ""},
		{"typographic quote", "- request_count[status_code=200, name=”payments\"]: {value: 50%}", "request_count[name=payments, status_code=200] = 50%", "typographic quotes"},
		{"curly quotes both sides", "- request_count[name=“payments”]: {value: 50%}", "request_count[name=payments] = 50%", ""},
		{"not equal", "- request_count[name=payments, status_code!=200]: {value: 0%}", "request_count[name=payments, status_code!=200] = 0%", ""},
		{"space separated", "- request_count[name=currency_v2 status_code=500]: {value: 50%}", "request_count[name=currency_v2, status_code=500] = 50%", "separated by a space"},
		{"greater than", "- requests_per_second_p50[name=\"api\"]: {value: \"> 180\"}", "requests_per_second_p50[name=api] > 180", ""},
		{"less than MB", "- memory_megabytes_max[name=payments]: {value: \"< 100MB\"}", "memory_megabytes_max[name=payments] < 100MB", ""},
		{"unquoted < 100ms", "- request_duration_p50[name=currency_v1]:\n      value: < 100ms", "request_duration_p50[name=currency_v1] < 100ms", ""},
		{"bare count", "- request_count[name=api]: {value: 2000}", "request_count[name=api] = 2000", "count of requests"},
		{"percent tolerance", "- request_count[name=currency_v2, status_code!=200]: {value: 8, tolerance: 0.01%}", "request_count[name=currency_v2, status_code!=200] = 8 ± 0.01", "% of the value"},
		{"cpu bare seconds", "- cpu_seconds_p50[name=api]: {value: \"< 2\"}", "cpu_seconds_p50[name=api] < 2", "CPU seconds"},
		{"one-line string", "- 'request_count[name=payments, status_code=200] >= 99.5% ± 0.5'", "request_count[name=payments, status_code=200] >= 99.5% ± 0.5", ""},
		{"long form mapping", "- {condition: 'request_count[name=payments]', value: '100%', tolerance: 0.1}", "request_count[name=payments] = 100% ± 0.1", ""},
		{"long form without value", "- condition: request_count[name=payments] = 100%\n  tolerance: 1", "request_count[name=payments] = 100% ± 1", ""},
		{"error rate bare", "- error_rate[name=payments]: {value: \"< 1\"}", "error_rate[name=payments] < 1%", "a bare number is a percent"},
		{"retries_total", "- retries_total: {value: \"<= 500\"}", "retries_total <= 500", ""},
		{"p999", "- request_duration_p999: {value: \"< 1s\"}", "request_duration_p999 < 1s", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := retryDeployment + "performance_test:\n  duration: 1s\n  success_conditions:\n  " + strings.ReplaceAll(tt.item, "\n", "\n  ") + "\n"
			s, err := LoadBytes("c.yaml", []byte(y))
			if err != nil {
				t.Fatalf("%v\n%s", err, y)
			}
			if len(s.Conditions) != 1 {
				t.Fatalf("%d conditions", len(s.Conditions))
			}
			if got := s.Conditions[0].String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if tt.note != "" && !hasNote(s, tt.note) {
				t.Errorf("no note containing %q in:\n%s", tt.note, strings.Join(s.Notes, "\n"))
			}
		})
	}
}

func TestNotesSayHowValuesWereRead(t *testing.T) {
	s, err := Load("testdata/book/retries.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"deployment.retry.upstream_error_rate[1]: 50 read as 50% (a bare number is a percent)",
		"performance_test.success_conditions[2]: request_count[name=\"currency_v1\", status=200] 100% read as request_count[name=currency_v1, status_code=200] = 100% (status read as status_code; 100% read as a share)",
		"performance_test.success_conditions[4]: 50% is the count of request_count[name=currency_v2, status_code=200] ÷ the count of request_count[name=currency_v2]",
		"meshgym's defaults",
	} {
		if !hasNote(s, want) {
			t.Errorf("no note %q in:\n%s", want, strings.Join(s.Notes, "\n"))
		}
	}
}

func hasNote(s *Scenario, sub string) bool {
	for _, n := range s.Notes {
		if strings.Contains(n, sub) {
			return true
		}
	}
	return false
}

func eq[T comparable](t *testing.T, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestValidateMethod(t *testing.T) {
	s := mustBuiltin(t, "retries")
	if err := s.Validate(); err != nil {
		t.Fatalf("builtin does not validate: %v", err)
	}
	s.Load.RPS = -5
	s.Topology.Services[2].Versions[1].ErrorRate = 150
	err := s.Validate()
	want := "builtin:retries: topology.services[2].versions[1].errorRate: error rate must be ≤ 100% (got 150%); hint: percentages are written 50 or 50%, not as fractions; at most 100\n" +
		"builtin:retries: load.rps: must be ≥ 0 (got -5); hint: use 0 for as fast as possible"
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

func TestDurationText(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		text string
	}{{200 * time.Second, "200s"}, {3 * time.Minute, "3m"}, {60 * time.Second, "60s"}, {25 * time.Millisecond, "25ms"}, {1500 * time.Microsecond, "1500us"}, {0, "0s"}, {2 * time.Hour, "2h"}, {-5 * time.Second, "-5s"}, {7, "7ns"}} {
		if got := Duration(tt.d).String(); got != tt.text {
			t.Errorf("%v: got %q, want %q", tt.d, got, tt.text)
		}
		var back Duration
		if err := back.UnmarshalText([]byte(tt.text)); err != nil || back.D() != tt.d {
			t.Errorf("%q: back %v, %v", tt.text, back, err)
		}
	}
}

func TestErrorsAs(t *testing.T) {
	_, err := LoadBytes("x.yaml", []byte(retryDeployment+"performance_test: {duration: 1s, rps: -1, threads: 0}\n"))
	var list Errors
	if !errors.As(err, &list) || len(list) != 2 {
		t.Fatalf("errors.As Errors: %v", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Field != "performance_test.rps" || e.Line != 3 {
		t.Errorf("errors.As *Error: %+v", e)
	}
	if strings.Count(err.Error(), "\n") != 1 {
		t.Errorf("want one line per problem: %q", err.Error())
	}
}

// Durations serialise as text in JSON too (engine/report JSON output).
func TestScenarioJSON(t *testing.T) {
	s := mustBuiltin(t, "retries")
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"duration":"200s"`) || !strings.Contains(string(b), `"backoffBase":"25ms"`) {
		t.Errorf("durations not written as text: %s", b)
	}
	var back Scenario
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	back.Source = s.Source
	if got, want := model(&back), model(s); !reflect.DeepEqual(got, want) {
		t.Errorf("JSON round trip differs:\n got %+v\nwant %+v", got, want)
	}
}

// Every pattern kind has a built-in scenario; each built-in validates, and
// its pattern is the kind's.
func TestBuiltinsCoverEveryPattern(t *testing.T) {
	kinds := map[string][]string{}
	for _, in := range BuiltinNames() {
		s := mustBuiltin(t, in.Name)
		if err := s.Validate(); err != nil {
			t.Errorf("%s: %v", in.Name, err)
		}
		if s.Name != in.Name {
			t.Errorf("%s: name %q differs from the file name", in.Name, s.Name)
		}
		if len(s.Conditions) == 0 {
			t.Errorf("%s: no conditions", in.Name)
		}
		if s.Load.RPS > 100 || s.Load.Connections > 32 {
			t.Errorf("%s: load %v rps, %d connections: too heavy for a laptop", in.Name, s.Load.RPS, s.Load.Connections)
		}
		kinds[s.Pattern.Kind] = append(kinds[s.Pattern.Kind], in.Name)
	}
	for _, k := range PatternKinds {
		if len(kinds[k]) == 0 {
			t.Errorf("no built-in scenario for pattern %s", k)
		}
	}
}

// The expected outcomes the built-ins state in their conditions.
func TestBuiltinOutcomes(t *testing.T) {
	cond := func(s *Scenario, sel string) Condition {
		t.Helper()
		for _, c := range s.Conditions {
			if c.Selector() == sel {
				return c
			}
		}
		t.Fatalf("%s: no condition on %s", s.Name, sel)
		return Condition{}
	}
	for _, tt := range []struct {
		name, selector string
		value          float64
	}{
		{"circuit-breaking", "request_count[name=payments_v2, status_code!=200]", 8},
		{"circuit-breaking-half-open", "request_count[name=payments_v2, status_code!=200]", 5},
		{"circuit-breaking-envoy", "request_count[name=payments_v2, status_code!=200]", 6},
		{"canary-rollout", "canary_weight", 100},
		{"canary-rollout-faulty", "canary_weight", 0},
		{"retry-budgets", "amplification[name=currency]", 6},
	} {
		s := mustBuiltin(t, tt.name)
		if c := cond(s, tt.selector); c.Value != tt.value {
			t.Errorf("%s: %s = %v, want %v", tt.name, tt.selector, c.Value, tt.value)
		}
	}
	// The breakers' counts add up to the 2000 requests.
	for _, name := range []string{"circuit-breaking", "circuit-breaking-half-open", "circuit-breaking-envoy"} {
		s := mustBuiltin(t, name)
		ok := cond(s, "request_count[name=payments_v1, status_code=200]").Value
		bad := cond(s, "request_count[name=payments_v2, status_code!=200]").Value
		if total := cond(s, "request_count[name=checkout]").Value; ok+bad != total || total != s.Load.RPS*s.Load.Duration.D().Seconds() {
			t.Errorf("%s: %v + %v ≠ %v requests", name, ok, bad, total)
		}
	}
	// The retry-budget exercise: retries at both hops in both phases, the
	// budget only after; currency gets 16× before.
	s := mustBuiltin(t, "retry-budgets")
	before, after := s.Phase(false), s.Phase(true)
	amp := 1.0
	for _, svc := range []string{"payments", "currency"} {
		r := before.Retry(svc)
		if r == nil || after.Retry(svc) == nil {
			t.Fatalf("retry-budgets: no retry policy for %s in both phases", svc)
		}
		amp *= float64(1 + r.Attempts)
		if b := before.RetryBudget(svc); b == nil || b.Kind != BudgetNone {
			t.Errorf("retry-budgets before: budget for %s = %+v, want none", svc, b)
		}
		if b := after.RetryBudget(svc); b == nil || b.Kind != BudgetEnvoy {
			t.Errorf("retry-budgets after: budget for %s = %+v, want envoy", svc, b)
		}
	}
	if amp != 16 {
		t.Errorf("retry-budgets: before amplification %v, want 16", amp)
	}
}

// meshgym's shorthand for the patterns the book does not print expands to
// the built-in long forms.
func TestShorthandMatchesBuiltins(t *testing.T) {
	for _, name := range []string{"timeouts", "rate-limiting", "fault-injection", "retry-budgets", "circuit-breaking-envoy", "circuit-breaking-half-open"} {
		t.Run(name, func(t *testing.T) {
			short, err := Load("testdata/shorthand/" + name + ".yaml")
			if err != nil {
				t.Fatal(err)
			}
			got, want := model(short), model(mustBuiltin(t, name))
			want.Description = ""
			if !reflect.DeepEqual(got, want) {
				gb, _ := Marshal(&got)
				wb, _ := Marshal(&want)
				t.Errorf("shorthand %s differs from the builtin:\n--- shorthand\n%s\n--- builtin\n%s", name, gb, wb)
			}
			if len(short.Notes) == 0 {
				t.Error("no notes")
			}
		})
	}
	t.Run("canary-rollout", func(t *testing.T) {
		s, err := Load("testdata/shorthand/canary-rollout.yaml")
		if err != nil {
			t.Fatal(err)
		}
		sp := s.Pattern.Split
		if sp == nil || sp.Rollout == nil || *sp.Rollout != DefaultRollout("payments_v2") {
			t.Fatalf("rollout %+v", sp)
		}
		if want := []MatchRoute{{Headers: map[string]string{"x-canary": "true"}, Version: "payments_v2"}}; !reflect.DeepEqual(sp.Match, want) {
			t.Errorf("match %+v, want %+v", sp.Match, want)
		}
		if b := s.Baseline.Split; b == nil || b.Rollout != nil || len(b.Match) != 0 || !reflect.DeepEqual(b.Targets, sp.Targets) {
			t.Errorf("baseline split %+v", b)
		}
		if got := s.Topology.Services[1].Versions[1].Latency.P50; got != Duration(18*time.Millisecond) {
			t.Errorf("payments_v2 latency %v", got)
		}
	})
}
