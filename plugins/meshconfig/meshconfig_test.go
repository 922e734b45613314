package meshconfig

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	yaml "github.com/goccy/go-yaml"

	"meshgym/scenarios"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// builtin loads a built-in scenario and returns its after-phase policies.
func builtin(t *testing.T, name string) (*scenarios.Scenario, scenarios.Pattern) {
	t.Helper()
	sc, err := scenarios.Builtin(name)
	if err != nil {
		t.Fatalf("load builtin %s: %v", name, err)
	}
	return sc, sc.Phase(true)
}

func render(t *testing.T, mesh, version string, sc *scenarios.Scenario, p scenarios.Pattern) Output {
	t.Helper()
	out, err := Render(mesh, version, sc.Topology, p, Options{})
	if err != nil {
		t.Fatalf("Render(%s, %q, %s): %v", mesh, version, sc.Name, err)
	}
	return out
}

// TestGolden renders every built-in scenario for every mesh and compares
// with testdata/<scenario>.<mesh>.golden (go test -update rewrites them).
func TestGolden(t *testing.T) {
	for _, info := range scenarios.BuiltinNames() {
		for _, mesh := range Meshes() {
			t.Run(info.Name+"/"+mesh, func(t *testing.T) {
				sc, p := builtin(t, info.Name)
				got := render(t, mesh, "", sc, p).YAML()
				path := filepath.Join("testdata", info.Name+"."+mesh+".golden")
				if *update {
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./plugins/meshconfig -update)", err)
				}
				if got != string(want) {
					t.Errorf("%s differs from the rendering (go test ./plugins/meshconfig -update rewrites it):\n%s", path, got)
				}
			})
		}
	}
}

// docs parses every document of out.
func docs(t *testing.T, out Output) []map[string]any {
	t.Helper()
	var res []map[string]any
	for _, d := range out.Documents {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(d.Content), &m); err != nil {
			t.Fatalf("document %s does not parse: %v\n%s", d.Name, err, d.Content)
		}
		res = append(res, m)
	}
	return res
}

// find returns the first document of kind named name ("" = any name).
func find(t *testing.T, out Output, kind, name string) map[string]any {
	t.Helper()
	for _, m := range docs(t, out) {
		if fmt.Sprint(m["kind"]) == kind && (name == "" || fmt.Sprint(get(m, "metadata.name")) == name) {
			return m
		}
	}
	t.Fatalf("no %s %q in:\n%s", kind, name, out.YAML())
	return nil
}

// get walks a dotted path of map keys and list indexes.
func get(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func str(v any) string { return fmt.Sprint(v) }

func hasNote(out Output, substr string) bool {
	for _, n := range out.Notes {
		if strings.Contains(n, substr) {
			return true
		}
	}
	return false
}

var (
	dns1123Label     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	envoyKey         = regexp.MustCompile(`^(@type|[a-z0-9_]+)$`)
)

// keys calls f for every map key below v with its parent key.
func keys(v any, parent string, f func(parent, key string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			f(parent, k)
			keys(c, k, f)
		}
	case []any:
		for _, c := range x {
			keys(c, parent, f)
		}
	}
}

// TestDocumentsAreResources checks every rendered document of every
// built-in scenario: it parses back; a Kubernetes object has apiVersion,
// kind and a valid metadata.name and namespace; its spec uses camelCase
// field names (no '_'), except in label maps and Envoy config; an Envoy
// resource has an "@type" and snake_case field names only.
func TestDocumentsAreResources(t *testing.T) {
	for _, info := range scenarios.BuiltinNames() {
		for _, mesh := range Meshes() {
			sc, p := builtin(t, info.Name)
			out := render(t, mesh, "", sc, p)
			if len(out.Documents) == 0 && !hasNote(out, "not supported by "+mesh) && !hasNote(out, mesh+": ") {
				t.Errorf("%s/%s: no document and no note", info.Name, mesh)
			}
			for i, m := range docs(t, out) {
				name := out.Documents[i].Name
				if out.Documents[i].Format != "yaml" || !strings.HasSuffix(out.Documents[i].Content, "\n") {
					t.Errorf("%s/%s %s: format %q, content must end in a newline", info.Name, mesh, name, out.Documents[i].Format)
				}
				if mesh == "envoy" {
					if !strings.HasPrefix(str(m["@type"]), "type.googleapis.com/envoy.") {
						t.Errorf("%s/envoy %s: @type %v", info.Name, name, m["@type"])
					}
					keys(m, "", func(_, k string) {
						if !envoyKey.MatchString(k) {
							t.Errorf("%s/envoy %s: key %q is not an Envoy proto field name", info.Name, name, k)
						}
					})
					continue
				}
				av, kind, mn := str(m["apiVersion"]), str(m["kind"]), str(get(m, "metadata.name"))
				if m["apiVersion"] == nil || m["kind"] == nil || get(m, "metadata.name") == nil {
					t.Errorf("%s/%s %s: apiVersion %q kind %q metadata.name %q", info.Name, mesh, name, av, kind, mn)
					continue
				}
				valid := dns1123Label.MatchString(mn)
				if kind == "ServiceProfile" {
					valid = dns1123Subdomain.MatchString(mn)
				}
				if !valid {
					t.Errorf("%s/%s %s: metadata.name %q is not a Kubernetes name", info.Name, mesh, name, mn)
				}
				if kind != "Namespace" && str(get(m, "metadata.namespace")) != DefaultNamespace {
					t.Errorf("%s/%s %s: namespace %v", info.Name, mesh, name, get(m, "metadata.namespace"))
				}
				if kind == "EnvoyFilter" {
					continue
				}
				keys(m["spec"], "spec", func(parent, k string) {
					if parent != "labels" && parent != "matchLabels" && parent != "selector" && strings.Contains(k, "_") {
						t.Errorf("%s/%s %s: spec key %q is not a camelCase field", info.Name, mesh, name, k)
					}
				})
			}
		}
	}
}

func TestIstioRetries(t *testing.T) {
	sc, p := builtin(t, "retries")
	for _, tt := range []struct {
		version, apiVersion string
		backoff             any
	}{
		{"", "networking.istio.io/v1", "25ms"},
		{"1.26", "networking.istio.io/v1", "25ms"},
		{"1.22.3", "networking.istio.io/v1", nil},
		{"1.21", "networking.istio.io/v1beta1", nil},
	} {
		t.Run("istio@"+tt.version, func(t *testing.T) {
			out := render(t, "istio", tt.version, sc, p)
			vs := find(t, out, "VirtualService", "currency")
			if got := str(vs["apiVersion"]); got != tt.apiVersion {
				t.Errorf("apiVersion %s, want %s", got, tt.apiVersion)
			}
			if got := str(get(vs, "spec.hosts.0")); got != "currency.meshgym.svc.cluster.local" {
				t.Errorf("host %s", got)
			}
			r := get(vs, "spec.http.0.retries")
			if got := str(get(r, "attempts")); got != "3" {
				t.Errorf("attempts %s, want 3", got)
			}
			on := strings.Split(str(get(r, "retryOn")), ",")
			if len(on) != 2 || on[0] != "5xx" || on[1] != "connect-failure" {
				t.Errorf("retryOn %v, want [5xx connect-failure]", on)
			}
			if got := get(r, "backoff"); fmt.Sprint(got) != fmt.Sprint(tt.backoff) {
				t.Errorf("backoff %v, want %v", got, tt.backoff)
			}
			// preferNewHost: true is Istio's retryIgnorePreviousHosts: true
			// (the previous_hosts predicate), from 1.26 on.
			wantIgnore := "<nil>"
			if tt.backoff != nil {
				wantIgnore = "true"
			}
			if got := fmt.Sprint(get(r, "retryIgnorePreviousHosts")); got != wantIgnore {
				t.Errorf("retryIgnorePreviousHosts %s, want %s (the scenario prefers a new host)", got, wantIgnore)
			}
			if !hasNote(out, "replaces Istio's default list") {
				t.Errorf("no note on retryOn replacing the default list: %q", out.Notes)
			}
			if tt.backoff == nil && !hasNote(out, "not supported by istio: retries.backoff before Istio 1.26") {
				t.Errorf("no unsupported-backoff note: %q", out.Notes)
			}
		})
	}
}

func TestIstioCircuitBreaking(t *testing.T) {
	for _, tt := range []struct {
		scenario                      string
		interval, minHealth, maxEject any
		noteMaxEject                  string
	}{
		// The book's breakers give no cap: none is rendered (Istio's 10%
		// applies, as the istio profile simulates) and a note says how to
		// get the book's uncapped behaviour.
		{"circuit-breaking", nil, nil, nil, "set circuitBreaker.maxEjectionPercent: 100 to eject as the book does"},
		{"circuit-breaking-half-open", nil, nil, nil, "no outlier-detection equivalent"},
		{"circuit-breaking-envoy", "1s", "0", "100", "maxEjectionTime 300s is Envoy's default"},
	} {
		t.Run(tt.scenario, func(t *testing.T) {
			sc, p := builtin(t, tt.scenario)
			out := render(t, "istio", "", sc, p)
			od := get(find(t, out, "DestinationRule", "payments"), "spec.trafficPolicy.outlierDetection")
			for k, want := range map[string]any{"consecutive5xxErrors": "2", "baseEjectionTime": "60s", "maxEjectionPercent": tt.maxEject, "interval": tt.interval, "minHealthPercent": tt.minHealth} {
				if got := get(od, k); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("outlierDetection.%s = %v, want %v", k, got, want)
				}
			}
			if !hasNote(out, tt.noteMaxEject) {
				t.Errorf("no note containing %q: %q", tt.noteMaxEject, out.Notes)
			}
		})
	}
	// An envoy breaker without maxEjectionPercent is rendered without one,
	// and the note says that nothing will be ejected.
	sc, p := builtin(t, "circuit-breaking-envoy")
	p.CircuitBreaker.MaxEjectionPercent = 0
	out := render(t, "istio", "", sc, p)
	od := get(find(t, out, "DestinationRule", "payments"), "spec.trafficPolicy.outlierDetection")
	if got := get(od, "maxEjectionPercent"); got != nil {
		t.Errorf("maxEjectionPercent %v rendered though the scenario gives none", got)
	}
	if !hasNote(out, "nothing is ever ejected") {
		t.Errorf("no note on the 10%% default: %q", out.Notes)
	}
}

func TestCanaryWeights(t *testing.T) {
	sc, p := builtin(t, "canary")
	sum := func(t *testing.T, list any, path string) float64 {
		t.Helper()
		items, ok := list.([]any)
		if !ok || len(items) != 2 {
			t.Fatalf("want 2 weighted destinations, got %v", list)
		}
		s := 0.0
		for _, it := range items {
			f, err := strconv.ParseFloat(str(get(it, path)), 64)
			if err != nil {
				t.Fatalf("weight %v: %v", get(it, path), err)
			}
			s += f
		}
		return s
	}
	out := render(t, "istio", "", sc, p)
	vs := find(t, out, "VirtualService", "payments")
	if s := sum(t, get(vs, "spec.http.0.route"), "weight"); s != 100 {
		t.Errorf("istio weights sum to %v", s)
	}
	if got := str(get(vs, "spec.http.0.route.1.destination.subset")); got != "payments-v2" {
		t.Errorf("istio subset %s, want payments-v2", got)
	}
	dr := find(t, out, "DestinationRule", "payments")
	if got := str(get(dr, "spec.subsets.1.labels.version")); got != "payments_v2" {
		t.Errorf("subset selects version %s, want the label value payments_v2", got)
	}
	out = render(t, "consul", "", sc, p)
	sp := find(t, out, "ServiceSplitter", "payments")
	if s := sum(t, get(sp, "spec.splits"), "weight"); s != 100 {
		t.Errorf("consul weights sum to %v", s)
	}
	res := find(t, out, "ServiceResolver", "payments")
	if got := str(get(res, "spec.subsets.payments-v1.filter")); got != `Service.Meta.version == "payments_v1"` {
		t.Errorf("consul subset filter %s", got)
	}
	// Fractional weights: Istio rounds to whole percents summing to 100,
	// Consul keeps the floats.
	p.Split.Targets[0].Weight, p.Split.Targets[1].Weight = 66.66, 33.34
	vs = find(t, render(t, "istio", "", sc, p), "VirtualService", "payments")
	if s := sum(t, get(vs, "spec.http.0.route"), "weight"); s != 100 {
		t.Errorf("istio fractional weights sum to %v", s)
	}
	sp = find(t, render(t, "consul", "", sc, p), "ServiceSplitter", "payments")
	if s := sum(t, get(sp, "spec.splits"), "weight"); math.Abs(s-100) > 1e-9 {
		t.Errorf("consul fractional weights sum to %v", s)
	}
	if got := str(get(sp, "spec.splits.0.weight")); got != "66.66" {
		t.Errorf("consul weight %s, want 66.66", got)
	}
}

func TestKumaRetryAndTimeout(t *testing.T) {
	sc, p := builtin(t, "retries")
	out := render(t, "kuma", "", sc, p)
	mr := find(t, out, "MeshRetry", "currency")
	if got := str(get(mr, "spec.to.0.default.http.numRetries")); got != "3" {
		t.Errorf("numRetries %s, want 3", got)
	}
	if got := fmt.Sprint(get(mr, "spec.to.0.default.http.retryOn")); got != "[5xx ConnectFailure]" {
		t.Errorf("retryOn %s, want [5xx ConnectFailure]", got)
	}
	if got := str(get(mr, "spec.to.0.targetRef.sectionName")); got != "http" {
		t.Errorf("sectionName %s", got)
	}
	if got := str(get(mr, "spec.to.0.default.http.hostSelection.0.predicate")); got != "OmitPreviousHosts" {
		t.Errorf("hostSelection %s", got)
	}
	legacy := find(t, render(t, "kuma", "2.9", sc, p), "MeshRetry", "currency")
	if got := str(get(legacy, "spec.to.0.targetRef.name")); got != "currency_meshgym_svc_9090" {
		t.Errorf("kuma 2.9 target %s, want the kuma.io/service name", got)
	}

	sc, p = builtin(t, "timeouts")
	out = render(t, "kuma", "", sc, p)
	if got := str(get(find(t, out, "MeshTimeout", "currency"), "spec.to.0.default.http.requestTimeout")); got != "100ms" {
		t.Errorf("requestTimeout %s", got)
	}
	if got := str(get(find(t, out, "MeshRetry", "currency"), "spec.to.0.default.http.perTryTimeout")); got != "50ms" {
		t.Errorf("perTryTimeout %s", got)
	}
}

func TestLinkerd(t *testing.T) {
	sc, p := builtin(t, "retries")
	out := render(t, "linkerd", "", sc, p)
	svc := find(t, out, "Service", "currency")
	for k, want := range map[string]string{"retry.linkerd.io/limit": "3", "retry.linkerd.io/http": "5xx"} {
		if got := str(get(svc, "metadata.annotations").(map[string]any)[k]); got != want {
			t.Errorf("annotation %s = %s, want %s", k, got, want)
		}
	}
	if !hasNote(out, "not supported by linkerd: retryOn connect-failure") {
		t.Errorf("no note on connect-failure: %q", out.Notes)
	}

	sc, p = builtin(t, "canary")
	for _, tt := range []struct{ version, api string }{{"", "gateway.networking.k8s.io/v1"}, {"2.18", "gateway.networking.k8s.io/v1"}, {"2.17", "policy.linkerd.io/v1beta3"}} {
		out := render(t, "linkerd", tt.version, sc, p)
		hr := find(t, out, "HTTPRoute", "payments")
		if got := str(hr["apiVersion"]); got != tt.api {
			t.Errorf("linkerd@%s HTTPRoute apiVersion %s, want %s", tt.version, got, tt.api)
		}
		if got := str(get(hr, "spec.parentRefs.0.kind")) + "/" + str(get(hr, "spec.parentRefs.0.name")); got != "Service/payments" {
			t.Errorf("parentRef %s", got)
		}
		if got := str(get(hr, "spec.rules.0.backendRefs.1.name")); got != "payments-v2" {
			t.Errorf("backendRef %s, want payments-v2", got)
		}
		vsvc := find(t, out, "Service", "payments-v2")
		if got := str(get(vsvc, "spec.selector.version")); got != "payments_v2" {
			t.Errorf("per-version Service selects version %s", got)
		}
	}

	sc, p = builtin(t, "circuit-breaking")
	svc = find(t, render(t, "linkerd", "", sc, p), "Service", "payments")
	for k, want := range map[string]string{
		"balancer.linkerd.io/failure-accrual":                          "consecutive",
		"balancer.linkerd.io/failure-accrual-consecutive-max-failures": "2",
		"balancer.linkerd.io/failure-accrual-consecutive-min-penalty":  "60s",
		"balancer.linkerd.io/failure-accrual-consecutive-max-penalty":  "60s",
	} {
		if got := str(get(svc, "metadata.annotations").(map[string]any)[k]); got != want {
			t.Errorf("annotation %s = %s, want %s", k, got, want)
		}
	}

	sc, p = builtin(t, "rate-limiting")
	out = render(t, "linkerd", "", sc, p)
	rl := find(t, out, "HTTPLocalRateLimitPolicy", "payments")
	if got := str(get(rl, "spec.total.requestsPerSecond")); got != "50" {
		t.Errorf("requestsPerSecond %s", got)
	}
	if got := str(get(find(t, out, "Server", "payments"), "spec.accessPolicy")); got != "all-unauthenticated" {
		t.Errorf("accessPolicy %s", got)
	}
	if out := render(t, "linkerd", "2.16", sc, p); !hasNote(out, "not supported by linkerd: HTTPLocalRateLimitPolicy before Linkerd 2.17") || len(out.Documents) != 0 {
		t.Errorf("linkerd@2.16 rate limit: %d documents, notes %q", len(out.Documents), out.Notes)
	}
}

// TestUnsupportedNotes checks the notes of patterns a mesh cannot express.
func TestUnsupportedNotes(t *testing.T) {
	for _, tt := range []struct{ scenario, mesh, note string }{
		{"fault-injection", "linkerd", "not supported by linkerd: fault injection"},
		{"fault-injection", "consul", "not supported by consul: fault injection"},
		{"rate-limiting", "consul", "not supported by consul: rate limiting in Consul CE"},
		{"retry-budgets", "consul", "not supported by consul: retry budgets"},
		{"retry-budgets", "linkerd", "not supported by linkerd: a cap on concurrent retries"},
		{"retry-budgets", "kuma", "not supported by kuma: Envoy's retry_budget"},
		{"timeouts", "consul", "not supported by consul: a per-try timeout"},
		{"circuit-breaking-envoy", "consul", "not supported by consul: maxEjectionTime 300s"},
	} {
		t.Run(tt.scenario+"/"+tt.mesh, func(t *testing.T) {
			sc, p := builtin(t, tt.scenario)
			if out := render(t, tt.mesh, "", sc, p); !hasNote(out, tt.note) {
				t.Errorf("no note %q in %q", tt.note, out.Notes)
			}
		})
	}
}

func TestEnvoy(t *testing.T) {
	sc, p := builtin(t, "retry-budgets")
	out := render(t, "envoy", "", sc, p)
	var cluster, route map[string]any
	for i, m := range docs(t, out) {
		switch out.Documents[i].Name {
		case "currency Cluster":
			cluster = m
		case "currency RouteConfiguration":
			route = m
		}
	}
	if cluster == nil || route == nil {
		t.Fatalf("no currency Cluster or RouteConfiguration:\n%s", out.YAML())
	}
	th := get(cluster, "circuit_breakers.thresholds.0")
	if got := str(get(th, "retry_budget.budget_percent.value")) + "/" + str(get(th, "retry_budget.min_retry_concurrency")); got != "20/3" {
		t.Errorf("retry_budget %s, want 20/3", got)
	}
	rp := get(route, "virtual_hosts.0.routes.0.route.retry_policy")
	if got := str(get(rp, "num_retries")) + " " + str(get(rp, "retry_on")) + " " + str(get(rp, "retry_back_off.base_interval")); got != "3 5xx 0.025s" {
		t.Errorf("retry_policy %s", got)
	}

	sc, p = builtin(t, "fault-injection")
	out = render(t, "envoy", "", sc, p)
	hcm := docs(t, out)[len(out.Documents)-1]
	fault := get(hcm, "http_filters.0.typed_config")
	if got := str(get(fault, "abort.http_status")) + " " + str(get(fault, "abort.percentage.numerator")) + " " + str(get(fault, "delay.fixed_delay")); got != "503 10 0.1s" {
		t.Errorf("fault %s", got)
	}
	if got := str(get(hcm, "http_filters.1.name")); got != "envoy.filters.http.router" {
		t.Errorf("the router must be the last filter, got %s", got)
	}
}

func TestMatchRoutes(t *testing.T) {
	sc, p := builtin(t, "canary")
	p.Split.Match = []scenarios.MatchRoute{{Headers: map[string]string{"X-Canary": "always"}, Cookies: map[string]string{"tester": "yes"}, Version: "payments_v2"}}
	out := render(t, "istio", "", sc, p)
	vs := find(t, out, "VirtualService", "payments")
	if got := str(get(vs, "spec.http.0.match.0.headers.x-canary.exact")); got != "always" {
		t.Errorf("header match %s (names must be lower case)", got)
	}
	if got := str(get(vs, "spec.http.0.route.0.destination.subset")); got != "payments-v2" {
		t.Errorf("match route goes to %s", got)
	}
	re := regexp.MustCompile(str(get(vs, "spec.http.0.match.0.headers.cookie.regex")))
	for cookie, want := range map[string]bool{"tester=yes": true, "a=1; tester=yes": true, "tester=yes; b=2": true, "tester=no": false, "xtester=yes": false, "tester=yesno": false} {
		if re.MatchString(cookie) != want {
			t.Errorf("cookie regex %s on %q: %v, want %v", re, cookie, !want, want)
		}
	}
	for _, mesh := range Meshes() {
		out := render(t, mesh, "", sc, p)
		if !strings.Contains(out.YAML(), "x-canary") || !strings.Contains(out.YAML(), "tester=yes") {
			t.Errorf("%s: header or cookie match missing:\n%s", mesh, out.YAML())
		}
	}
	// Consul: the match route is a router route to the subset.
	r := find(t, render(t, "consul", "", sc, p), "ServiceRouter", "payments")
	if got := str(get(r, "spec.routes.0.destination.serviceSubset")); got != "payments-v2" {
		t.Errorf("consul match destination %s", got)
	}
}

func TestErrors(t *testing.T) {
	sc, p := builtin(t, "canary")
	if _, err := Render("nginx", "", sc.Topology, p, Options{}); err == nil || !strings.Contains(err.Error(), "envoy, istio, kuma, consul, linkerd") {
		t.Errorf("unknown mesh: %v", err)
	}
	if _, err := Render("istio", "latest", sc.Topology, p, Options{}); err == nil || !strings.Contains(err.Error(), "major.minor") {
		t.Errorf("bad version: %v", err)
	}
	bad := p
	split := *p.Split
	split.Targets = []scenarios.WeightedTarget{{Version: "payments_v3", Weight: 100}}
	bad.Split = &split
	if _, err := Render("istio", "", sc.Topology, bad, Options{}); err == nil || !strings.Contains(err.Error(), "payments_v3") {
		t.Errorf("unknown version: %v", err)
	}
	bad = scenarios.Pattern{Retries: []scenarios.RetryPolicy{{Service: "ledger", Attempts: 1}}}
	if _, err := Render("kuma", "", sc.Topology, bad, Options{}); err == nil || !strings.Contains(err.Error(), "ledger") {
		t.Errorf("unknown service: %v", err)
	}
	if v, err := CurrentVersion("linkerd"); err != nil || v == "" {
		t.Errorf("CurrentVersion(linkerd) = %q, %v", v, err)
	}
}

func TestNamespaceOption(t *testing.T) {
	sc, p := builtin(t, "retries")
	out, err := Render("istio", "", sc.Topology, p, Options{Namespace: "lab"})
	if err != nil {
		t.Fatal(err)
	}
	vs := find(t, out, "VirtualService", "currency")
	if got := str(get(vs, "metadata.namespace")) + " " + str(get(vs, "spec.hosts.0")); got != "lab currency.lab.svc.cluster.local" {
		t.Errorf("namespace/host %s", got)
	}
}

func TestTokenBucket(t *testing.T) {
	for _, tt := range []struct {
		rps           float64
		burst         int
		maxT, perFill int
		fill          time.Duration
		exact         bool
	}{
		{50, 10, 10, 10, 200 * time.Millisecond, true},
		{3, 5, 5, 3, time.Second, true},
		{100, 100, 100, 100, time.Second, true},
		{1000, 10, 1000, 1000, time.Second, false},
	} {
		maxT, perFill, fill, exact := tokenBucket(tt.rps, tt.burst)
		if maxT != tt.maxT || perFill != tt.perFill || fill != tt.fill || exact != tt.exact {
			t.Errorf("tokenBucket(%v, %d) = %d, %d, %v, %v; want %d, %d, %v, %v", tt.rps, tt.burst, maxT, perFill, fill, exact, tt.maxT, tt.perFill, tt.fill, tt.exact)
		}
		if exact && float64(perFill)/fill.Seconds() != tt.rps {
			t.Errorf("tokenBucket(%v, %d): rate %v", tt.rps, tt.burst, float64(perFill)/fill.Seconds())
		}
	}
}

func TestHelpers(t *testing.T) {
	for in, want := range map[time.Duration]string{60 * time.Second: "60s", 100 * time.Millisecond: "100ms", 1500 * time.Microsecond: "2ms", 3 * time.Minute: "180s"} {
		if got := dur(scenarios.Duration(in)); got != want {
			t.Errorf("dur(%v) = %q, want %q", in, got, want)
		}
	}
	if got := protoDur(25 * time.Millisecond); got != "0.025s" {
		t.Errorf("protoDur = %s", got)
	}
	w, exact := percentWeights([]scenarios.WeightedTarget{{Weight: 33.3}, {Weight: 33.3}, {Weight: 33.4}})
	if w[0]+w[1]+w[2] != 100 || exact {
		t.Errorf("percentWeights = %v, %v", w, exact)
	}
	if f := fraction(0.5); f.Numerator != 50 || f.Denominator != "TEN_THOUSAND" {
		t.Errorf("fraction(0.5) = %+v", f)
	}
}
