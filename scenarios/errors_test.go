package scenarios

import (
	"path/filepath"
	"strings"
	"testing"
)

// wantErr is one expected problem: its exact place and field, and a part
// of its message.
type wantErr struct {
	line, col int
	field     string
	msg       string
}

func checkErrors(t *testing.T, err error, want []wantErr) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	list, ok := err.(Errors)
	if !ok {
		t.Fatalf("error is %T, want Errors: %v", err, err)
	}
	if len(list) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(list), len(want), err)
	}
	for i, w := range want {
		e := list[i]
		if e.Line != w.line || e.Column != w.col || e.Field != w.field || !strings.Contains(e.Msg, w.msg) {
			t.Errorf("problem %d:\n got %d:%d %q %q\nwant %d:%d %q containing %q", i, e.Line, e.Column, e.Field, e.Msg, w.line, w.col, w.field, w.msg)
		}
		if s := e.Error(); strings.ContainsAny(s, "\r\n") {
			t.Errorf("problem %d is not one line: %q", i, s)
		}
		if e.Hint == "" {
			t.Errorf("problem %d has no hint: %q", i, e.Error())
		}
	}
}

func TestLoadErrors(t *testing.T) {
	perf := "performance_test:\n  duration: 10s\n"
	tests := []struct {
		name string
		yaml string
		want []wantErr
	}{
		{"rps negative", retryDeployment + "performance_test:\n  duration: 10s\n  rps: -5\n",
			[]wantErr{{5, 8, "performance_test.rps", "must be ≥ 0 (got -5)"}}},
		{"connections < 1", retryDeployment + "performance_test:\n  duration: 10s\n  threads: 0\n",
			[]wantErr{{5, 12, "performance_test.threads", "must be from 1 to 10000 (got 0)"}}},
		{"zero duration", retryDeployment + "performance_test:\n  duration: 0s\n",
			[]wantErr{{4, 13, "performance_test.duration", "must be > 0 (got 0s)"}}},
		{"negative duration", retryDeployment + "performance_test:\n  duration: -5s\n",
			[]wantErr{{4, 13, "performance_test.duration", "must be > 0 (got -5s)"}}},
		{"duration without unit word", retryDeployment + "performance_test:\n  duration: soon\n",
			[]wantErr{{4, 13, "performance_test.duration", `expected a duration, found the text "soon"`}}},
		{"missing duration", retryDeployment + "performance_test:\n  rps: 5\n",
			[]wantErr{{4, 3, "performance_test", "missing duration"}}},
		{"missing performance_test", retryDeployment,
			[]wantErr{{1, 1, "", "missing performance_test"}}},
		{"missing deployment", perf,
			[]wantErr{{1, 1, "", "missing deployment"}}},
		{"unknown key", retryDeployment + perf + "  rsp: 4\n",
			[]wantErr{{5, 3, "performance_test.rsp", `unknown key "rsp"`}}},
		{"rps and qps", retryDeployment + perf + "  rps: 4\n  qps: 4\n",
			[]wantErr{{6, 3, "performance_test.qps", "qps and rps mean the same"}}},
		{"duplicate key", retryDeployment + perf + "  rps: 4\n  rps: 5\n",
			[]wantErr{{6, 3, "", `mapping key "rps" already defined at [5:3]`}}},
		{"unknown pattern", "deployment:\n  retyr: {}\n" + perf,
			[]wantErr{{2, 3, "deployment.retyr", `unknown pattern "retyr"`}}},
		{"two patterns", "deployment:\n  retry: {}\n  canary: {}\n" + perf,
			[]wantErr{{3, 3, "deployment.canary", "deployment names 2 patterns"}}},
		{"no pattern", "deployment:\n" + perf,
			[]wantErr{{1, 12, "deployment", "deployment names no pattern"}}},
		{"unknown knob", "deployment:\n  retry: {upstream_services: 2, upstream_retries: 3, upstream_retry: 3}\n" + perf,
			[]wantErr{{2, 54, "deployment.retry.upstream_retry", `unknown key "upstream_retry"`}}},
		{"negative error rate", "deployment:\n  retry:\n    upstream_retries: 3\n    upstream_error_rate: [-5, 50]\n" + perf,
			[]wantErr{{4, 27, "deployment.retry.upstream_error_rate[0]", "error rate must be ≥ 0 (got -5)"}}},
		{"error rate above 100%", "deployment:\n  retry:\n    upstream_retries: 3\n    upstream_error_rate: [0, 150%]\n" + perf,
			[]wantErr{{4, 30, "deployment.retry.upstream_error_rate[1]", "error rate must be ≤ 100% (got 150%)"}}},
		{"rates do not match services", "deployment:\n  retry:\n    upstream_services: 3\n    upstream_retries: 3\n    upstream_error_rate: [0, 50]\n" + perf,
			[]wantErr{{5, 26, "deployment.retry.upstream_error_rate", "has 2 rates for 3 upstream_services"}}},
		{"zero upstream services", "deployment:\n  retry: {upstream_services: 0, upstream_retries: 3}\n" + perf,
			[]wantErr{{2, 30, "deployment.retry.upstream_services", "must be from 1 to 20 (got 0)"}}},
		{"missing upstream_retries", "deployment:\n  retry:\n    upstream_services: 2\n" + perf,
			[]wantErr{{3, 5, "deployment.retry", "missing upstream_retries"}}},
		{"retries not a number", "deployment:\n  retry: {upstream_services: 2, upstream_retries: many}\n" + perf,
			[]wantErr{{2, 51, "deployment.retry.upstream_retries", `expected a whole number, found the text "many"`}}},
		{"weights not summing to 100", "deployment:\n  canary:\n    upstreams:\n      - {name: payments_v1, weight: 50%}\n      - {name: payments_v2, weight: 40}\n" + perf,
			[]wantErr{{4, 7, "deployment.canary.upstreams", "weights add up to 90, not 100"}}},
		{"negative weight", "deployment:\n  canary:\n    upstreams:\n      - {name: payments_v1, weight: 110%}\n      - {name: payments_v2, weight: -10}\n" + perf,
			[]wantErr{{4, 37, "deployment.canary.upstreams[0].weight", "weight must be ≤ 100%"}, {5, 37, "deployment.canary.upstreams[1].weight", "weight must be ≥ 0"}}},
		{"circuit breaker threshold", "deployment:\n  circuit-breaking: {upstream_services: 2, error_threshold: 0, ejection_duration: 0s}\n" + perf,
			[]wantErr{{2, 61, "deployment.circuit-breaking.error_threshold", "must be from 1 to 1000 (got 0)"}, {2, 83, "deployment.circuit-breaking.ejection_duration", "must be > 0 (got 0s)"}}},
		{"unknown protocol", "deployment:\n  sidecar_proxy: {protocol: smtp}\n" + perf,
			[]wantErr{{2, 29, "deployment.sidecar_proxy.protocol", `unknown protocol "smtp"`}}},
		{"several problems at once", retryDeployment + "performance_test:\n  duration: 10s\n  rps: -5\n  threads: 0\n  colour: red\n",
			[]wantErr{{5, 8, "performance_test.rps", "must be ≥ 0"}, {6, 12, "performance_test.threads", "must be from 1"}, {7, 3, "performance_test.colour", "unknown key"}}},
		{"not a mapping", "- a\n- b\n",
			[]wantErr{{1, 1, "", "expected a mapping at the top, found a list"}}},
		{"not a scenario", "hello: world\n",
			[]wantErr{{1, 1, "", "not a scenario: unknown top-level keys hello"}}},
		{"bad YAML", "deployment: [\n",
			[]wantErr{{1, 13, "", "not valid YAML"}}},
		{"bad YAML tab", "deployment:\n\tretry: {}\n",
			[]wantErr{{2, 1, "", "not valid YAML"}}},
		{"empty file", "", []wantErr{{1, 1, "", "the file is empty"}}},
		{"only comments", "# nothing\n---\n", []wantErr{{1, 1, "", "the file is empty"}}},
		{"unknown alias", retryDeployment + "performance_test: *nope\n", []wantErr{{3, 19, "", "unknown alias"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := LoadBytes("t.yaml", []byte(tt.yaml))
			if s != nil {
				t.Errorf("scenario returned with an error")
			}
			checkErrors(t, err, tt.want)
		})
	}
}

func TestConditionErrorsInFiles(t *testing.T) {
	head := retryDeployment + "performance_test:\n  duration: 1s\n  success_conditions:\n"
	// Line 6 is the first condition; "    - " puts the metric at column 7.
	tests := []struct {
		name string
		item string
		want []wantErr
	}{
		{"unknown metric", "    - request_cnt[name=payments]: {value: 1}\n",
			[]wantErr{{6, 7, "performance_test.success_conditions[0]", `unknown metric "request_cnt"`}}},
		{"unknown label", "    - request_count[nmae=payments]: {value: 1}\n",
			[]wantErr{{6, 21, "performance_test.success_conditions[0]", `unknown label "nmae"`}}},
		{"unknown name", "    - request_count[name=paymnets]: {value: 1}\n",
			[]wantErr{{6, 7, "performance_test.success_conditions[0]", "name=paymnets is not a service, version or sidecar"}}},
		{"selector not closed", "    - request_count[name=payments: 5\n",
			[]wantErr{{6, 34, "performance_test.success_conditions[0]", "selector is not closed"}}},
		{"bad status", "    - request_count[name=payments, status_code=ok]: {value: 1}\n",
			[]wantErr{{6, 48, "performance_test.success_conditions[0]", `status_code must be a number from 0 to 999, not "ok"`}}},
		{"missing operator", "    - request_count[name payments]: {value: 1}\n",
			[]wantErr{{6, 26, "performance_test.success_conditions[0]", "expected = or != after name"}}},
		{"quoted key offset", "    - \"request_count[nmae=payments]\": {value: 1}\n",
			[]wantErr{{6, 22, "performance_test.success_conditions[0]", `unknown label "nmae"`}}},
		{"value not a number", "    - request_count[name=payments]:\n        value: \"> lots\"\n",
			[]wantErr{{7, 19, "performance_test.success_conditions[0].value", `expected a number in "> lots"`}}},
		{"unknown unit", "    - request_duration_p50:\n        value: 100kb\n",
			[]wantErr{{7, 19, "performance_test.success_conditions[0].value", `unknown unit "kb"`}}},
		{"duration without unit", "    - request_duration_p50: \"< 100\"\n",
			[]wantErr{{6, 35, "performance_test.success_conditions[0].value", "request_duration_p50 needs a unit (ms or s)"}}},
		{"share above 100", "    - request_count[name=payments]:\n        value: 150%\n",
			[]wantErr{{7, 16, "performance_test.success_conditions[0].value", "share must be ≤ 100% (got 150%)"}}},
		{"percent on a latency", "    - request_duration_p50: 50%\n",
			[]wantErr{{6, 31, "performance_test.success_conditions[0].value", "request_duration_p50 needs a unit"}}},
		{"fractional count", "    - request_count[name=payments]: 2.5\n",
			[]wantErr{{6, 37, "performance_test.success_conditions[0].value", "a count must be a whole number"}}},
		{"negative tolerance", "    - request_count[name=payments]:\n        value: 5\n        tolerance: -1\n",
			[]wantErr{{8, 20, "performance_test.success_conditions[0].tolerance", "tolerance must be ≥ 0 (got -1)"}}},
		{"tolerance not a number", "    - request_count[name=payments]:\n        value: 5\n        tolerance: some\n",
			[]wantErr{{8, 20, "performance_test.success_conditions[0].tolerance", "expected a number"}}},
		{"no value", "    - request_count[name=payments]:\n",
			[]wantErr{{6, 7, "performance_test.success_conditions[0]", "condition request_count[name=payments] has no value"}}},
		{"value twice", "    - request_count[name=payments]: 5\n      value: 6\n",
			[]wantErr{{7, 7, "performance_test.success_conditions[0].value", "value given twice"}}},
		{"two metrics", "    - request_count[name=payments]: 5\n      retries_total: 6\n",
			[]wantErr{{7, 7, "performance_test.success_conditions[0]", "two metrics in one condition"}}},
		{"unknown key under metric", "    - request_count[name=payments]:\n        value: 5\n        tolerence: 1\n",
			[]wantErr{{8, 9, "performance_test.success_conditions[0].request_count[name=payments].tolerence", `unknown key "tolerence"`}}},
		{"list item not a condition", "    - [a, b]\n",
			[]wantErr{{6, 7, "performance_test.success_conditions[0]", "expected a condition, found a list"}}},
		{"one-line string bad", "    - 'request_count[name=payments] = lots'\n",
			[]wantErr{{6, 39, "performance_test.success_conditions[0]", `expected a number in "= lots"`}}},
		{"two bad conditions", "    - request_cnt: 1\n    - request_count[name=payments]: 101%\n",
			[]wantErr{{6, 7, "performance_test.success_conditions[0]", "unknown metric"}, {7, 37, "performance_test.success_conditions[1].value", "share must be ≤ 100%"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadBytes("c.yaml", []byte(head+tt.item))
			checkErrors(t, err, tt.want)
		})
	}
}

func TestLongFormErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
		want []wantErr
	}{
		{"wrong apiVersion", func(s string) string { return strings.Replace(s, "meshgym.dev/v1alpha1", "meshgym.dev/v1", 1) },
			[]wantErr{{5, 13, "apiVersion", `unknown apiVersion "meshgym.dev/v1"`}}},
		{"wrong kind", func(s string) string { return strings.Replace(s, "kind: Scenario", "kind: Lab", 1) },
			[]wantErr{{6, 7, "kind", `kind must be Scenario (got "Lab")`}}},
		{"unknown entry", func(s string) string { return strings.Replace(s, "entry: api", "entry: web", 1) },
			[]wantErr{{10, 10, "topology.entry", `unknown service "web"`}}},
		{"unknown upstream", func(s string) string { return strings.Replace(s, "upstreams: [payments]", "upstreams: [paymnts]", 1) },
			[]wantErr{{13, 19, "topology.services[0].upstreams[0]", `unknown service "paymnts"`}}},
		{"unknown version key", func(s string) string {
			return strings.Replace(s, "errorRate: 50", "errorRate: 50\n          colour: red", 1)
		},
			[]wantErr{{38, 11, "topology.services[2].versions[1].colour", `unknown key "colour"`}}},
		{"error rate above 100", func(s string) string { return strings.Replace(s, "errorRate: 50", "errorRate: 101", 1) },
			[]wantErr{{37, 22, "topology.services[2].versions[1].errorRate", "error rate must be ≤ 100% (got 101%)"}}},
		{"duplicate version", func(s string) string { return strings.Replace(s, "name: currency_v2", "name: currency_v1", 1) },
			[]wantErr{{35, 17, "topology.services[2].versions[1].name", `version "currency_v1" is also a version of currency`},
				{60, 5, "conditions[4]", "name=currency_v2 is not a service"}, {63, 5, "conditions[5]", "name=currency_v2 is not a service"}}},
		{"zero instances", func(s string) string { return strings.Replace(s, "instances: 1", "instances: 0", 1) },
			[]wantErr{{17, 22, "topology.services[0].versions[0].instances", "must be ≥ 1 (got 0)"}}},
		{"bad error code", func(s string) string { return strings.Replace(s, "errorCode: 500", "errorCode: 42", 1) },
			[]wantErr{{19, 22, "topology.services[0].versions[0].errorCode", "must be an HTTP status from 100 to 599 (got 42)"}}},
		{"unknown pattern kind", func(s string) string { return strings.Replace(s, "kind: retries", "kind: retry", 1) },
			[]wantErr{{40, 9, "pattern.kind", `unknown pattern "retry"`}}},
		{"unknown retryOn", func(s string) string { return strings.Replace(s, "5xx,", "5xxx,", 1) },
			[]wantErr{{44, 17, "pattern.retries[0].retryOn[0]", `unknown retryOn "5xxx"`}}},
		{"negative attempts", func(s string) string { return strings.Replace(s, "attempts: 3", "attempts: -1", 1) },
			[]wantErr{{43, 17, "pattern.retries[0].attempts", "must be from 0 to 10 (got -1)"}}},
		{"retry service nobody calls", func(s string) string { return strings.Replace(s, "service: currency", "service: api", 1) },
			[]wantErr{{42, 16, "pattern.retries[0].service", "no service calls api"}}},
		{"missing load key", func(s string) string { return strings.Replace(s, "  connections: 10\n", "", 1) },
			[]wantErr{{48, 3, "load", "missing connections"}}},
		{"upstream loop", func(s string) string {
			return strings.Replace(s, "    - name: currency\n      sidecar", "    - name: currency\n      upstreams: [api]\n      sidecar", 1)
		},
			[]wantErr{{12, 5, "topology.services", "services call each other in a loop: api → payments → currency → api"}}},
		{"bad condition", func(s string) string { return strings.Replace(s, "value: 0%", "value: 0%%", 1) },
			[]wantErr{{55, 13, "conditions[1].value", `unknown unit "%%"`}}},
	}
	base := readFile(t, "builtin/retries.yaml")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			edited := tt.edit(base)
			if edited == base {
				t.Fatal("edit changed nothing")
			}
			_, err := LoadBytes("l.yaml", []byte(edited))
			checkErrors(t, err, tt.want)
		})
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "retries.yaml"))
	checkErrors(t, err, []wantErr{{0, 0, "", "no such file"}})
	if !strings.Contains(err.Error(), `"retries" is also a built-in scenario`) {
		t.Errorf("hint: %v", err)
	}
	_, err = Load(filepath.Join(t.TempDir(), "other.yaml"))
	if !strings.Contains(err.Error(), "the built-in scenarios are ") || !strings.Contains(err.Error(), " retries,") {
		t.Errorf("hint: %v", err)
	}
}

func TestErrorLine(t *testing.T) {
	e := &Error{File: "retries.yaml", Line: 12, Column: 5, Field: "performance_test.rps", Msg: "must be ≥ 0 (got -5)", Hint: "use 0 for as fast as possible"}
	if got, want := e.Error(), "retries.yaml:12:5: performance_test.rps: must be ≥ 0 (got -5); hint: use 0 for as fast as possible"; got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	e = &Error{File: "x.yaml", Msg: "two\nlines"}
	if got := e.Error(); got != "x.yaml: two lines" {
		t.Errorf("got %q", got)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := builtinFS.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
