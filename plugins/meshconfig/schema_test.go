package meshconfig

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"meshgym/internal/crdschema"
	"meshgym/scenarios"
)

// Issue 7, "Done when" #1: every resource the real-mesh plugins would
// apply is validated against the mesh's published CRD schema for the
// pinned module version (Istio from istio.io/api, HTTPRoute from
// sigs.k8s.io/gateway-api, read from the module cache at test time), by
// strict decoding into k8s.io/api types for built-in kinds, and by strict
// decoding into crdschema's typed structs (written from the reference
// docs) for Consul and Linkerd's own kinds.

var (
	schemaOnce sync.Once
	schemaV    *crdschema.Validator
	schemaErr  error
)

func schemaValidator(t *testing.T) *crdschema.Validator {
	t.Helper()
	schemaOnce.Do(func() { schemaV, schemaErr = crdschema.Default() })
	if schemaErr != nil {
		t.Fatalf("load CRD schemas from the module cache: %v", schemaErr)
	}
	return schemaV
}

// schemaMeshes are the meshes with a real-mesh plugin (issue 7), each
// rendered at its current version (""), at the release the plugin
// renders for (plugins/kubemesh Spec.Release: istio 1.27, linkerd 2.18,
// consul 1.21; kubemesh imports meshconfig, so they are repeated here)
// and at older versions whose resources differ (Istio
// networking.istio.io/v1beta1 before 1.22; Linkerd's policy.linkerd.io/v1beta3
// HTTPRoute before 2.18). Duplicates are rendered once.
var schemaMeshes = []struct{ mesh, version string }{
	{"istio", ""},
	{"istio", "1.27"},
	{"istio", "1.21"},
	{"linkerd", ""},
	{"linkerd", "2.18"},
	{"linkerd", "2.17"},
	{"consul", ""},
	{"consul", "1.21"},
}

// knownInvalid lists rendered documents that are invalid against the real
// schema, until meshconfig is fixed: key "case: error substring", value
// why. The test fails when a listed error no longer occurs, so the list
// only shrinks. Empty = every rendered document is valid.
var knownInvalid = map[string]string{}

// schemaCase is one rendering: a scenario, a mesh@version and a phase.
type schemaCase struct {
	name string // "retries/istio@1.29/on"
	sc   *scenarios.Scenario
	p    scenarios.Pattern
	mesh string
	ver  string
}

// schemaCases renders every built-in scenario for every real mesh with
// the pattern on (Phase(true)) and off (Phase(false): the baseline alone),
// plus variants that reach resources the built-ins do not (see
// schemaVariant).
func schemaCases(t *testing.T) []schemaCase {
	t.Helper()
	var out []schemaCase
	add := func(label string, sc *scenarios.Scenario) {
		seen := map[string]bool{}
		for _, m := range schemaMeshes {
			ver := m.version
			if ver == "" {
				ver, _ = CurrentVersion(m.mesh)
			}
			if seen[m.mesh+"@"+ver] {
				continue
			}
			seen[m.mesh+"@"+ver] = true
			for _, on := range []bool{true, false} {
				phase := "off"
				if on {
					phase = "on"
				}
				out = append(out, schemaCase{name: fmt.Sprintf("%s/%s@%s/%s", label, m.mesh, ver, phase), sc: sc, p: sc.Phase(on), mesh: m.mesh, ver: ver})
			}
		}
	}
	for _, info := range scenarios.BuiltinNames() {
		sc, _ := builtin(t, info.Name)
		add(info.Name, sc)
	}
	for _, name := range []string{"retry-budgets+linkerd", "retry-budgets+max_retries", "canary+match"} {
		add(name, schemaVariant(t, name))
	}
	return out
}

// schemaVariant returns a built-in scenario ("retries") or a variant of
// one: "retry-budgets+linkerd" and "retry-budgets+max_retries" (the
// pattern's budgets of that kind: ServiceProfile, connectionPool
// maxRetries), "canary+match" (header and cookie match routes before the
// weights: Istio match, Gateway API header matches, Consul router
// header matches).
func schemaVariant(t *testing.T, name string) *scenarios.Scenario {
	t.Helper()
	base, variant, _ := strings.Cut(name, "+")
	sc, _ := builtin(t, base)
	switch {
	case variant == "":
	case base == "retry-budgets":
		for i, b := range sc.Pattern.RetryBudgets {
			sc.Pattern.RetryBudgets[i] = scenarios.DefaultRetryBudget(b.Service, variant)
		}
	case name == "canary+match":
		sp := *sc.Pattern.Split
		canary := sp.Targets[len(sp.Targets)-1].Version
		sp.Match = []scenarios.MatchRoute{
			{Headers: map[string]string{"X-Canary": "always"}, Version: canary},
			{Cookies: map[string]string{"tester": "yes", "beta": "1"}, Version: canary},
		}
		sc.Pattern.Split = &sp
	default:
		t.Fatalf("unknown scenario variant %q", name)
	}
	return sc
}

// TestRenderedResourcesMatchSchemas validates every document of every
// rendering (see schemaCases) and fails on any invalid document, on a
// kind with no schema or typed struct (coverage), and when an Istio or
// Gateway API kind is not checked against its CRD.
func TestRenderedResourcesMatchSchemas(t *testing.T) {
	v := schemaValidator(t)
	type kindKey struct{ apiVersion, kind string }
	counts := map[kindKey]int{}
	methods := map[kindKey]crdschema.Method{}
	seenKnown := map[string]bool{}
	perMesh := map[string]int{}
	for _, c := range schemaCases(t) {
		out, err := Render(c.mesh, c.ver, c.sc.Topology, c.p, Options{})
		if err != nil {
			t.Errorf("%s: Render: %v", c.name, err)
			continue
		}
		for i, d := range out.Documents {
			u, err := crdschema.DecodeDocument([]byte(d.Content))
			if err != nil {
				t.Errorf("%s: document %d (%s): %v", c.name, i+1, d.Name, err)
				continue
			}
			api, _ := u["apiVersion"].(string)
			kind, _ := u["kind"].(string)
			k := kindKey{api, kind}
			m := v.Method(api, kind)
			if m == crdschema.MethodNone {
				t.Errorf("%s: %s %s has no CRD schema, built-in type or typed struct: add one to internal/crdschema", c.name, api, kind)
				continue
			}
			group, _, _ := strings.Cut(api, "/")
			if (strings.HasSuffix(group, ".istio.io") || group == "gateway.networking.k8s.io") && m != crdschema.MethodCRD {
				t.Errorf("%s: %s %s is checked by %s, want its published CRD", c.name, api, kind, m)
			}
			counts[k]++
			methods[k] = m
			perMesh[c.mesh]++
			for _, e := range v.Validate(u) {
				if key := knownKey(c.name, e.Error()); key != "" {
					seenKnown[key] = true
					continue
				}
				t.Errorf("%s: %v", c.name, e)
			}
		}
		// The full text (with "# note:" lines) validates the same way.
		if errs := crdschema.ValidateYAML(v, out.YAML()); len(errs) > 0 && len(knownInvalid) == 0 {
			t.Errorf("%s: ValidateYAML of the joined output: %v", c.name, errs)
		}
	}
	for key, why := range knownInvalid {
		if !seenKnown[key] {
			t.Errorf("known-invalid %q (%s) no longer occurs: remove it from knownInvalid", key, why)
		}
	}
	for _, m := range []string{"istio", "linkerd", "consul"} {
		if perMesh[m] == 0 {
			t.Errorf("no %s documents were validated", m)
		}
	}
	keys := make([]kindKey, 0, len(counts))
	total := 0
	for k, n := range counts {
		keys = append(keys, k)
		total += n
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].apiVersion+keys[i].kind < keys[j].apiVersion+keys[j].kind
	})
	var b strings.Builder
	fmt.Fprintf(&b, "validated %d documents (istio %d, linkerd %d, consul %d), %d known-invalid:\n", total, perMesh["istio"], perMesh["linkerd"], perMesh["consul"], len(knownInvalid))
	for _, k := range keys {
		fmt.Fprintf(&b, "  %4d  %-36s %-26s %s\n", counts[k], k.apiVersion, k.kind, methods[k])
	}
	t.Log(b.String())
}

// knownKey returns the knownInvalid key matching a case's error, or "".
func knownKey(caseName, msg string) string {
	for key := range knownInvalid {
		c, sub, _ := strings.Cut(key, ": ")
		if c == caseName && strings.Contains(msg, sub) {
			return key
		}
	}
	return ""
}

// TestSchemaCatchesRenderingMistakes proves the check is not vacuous on
// real renderings: a typo'd field, a wrong type and a bad enum injected
// into rendered documents of each mesh fail.
func TestSchemaCatchesRenderingMistakes(t *testing.T) {
	v := schemaValidator(t)
	tests := []struct {
		scenario, mesh, version string
		old, new                string
		want                    string
	}{
		{"retries", "istio", "", "attempts: 3", "attemps: 3", `unknown field "spec.http[0].retries.attemps"`},
		{"retries", "istio", "", "attempts: 3", `attempts: "3"`, "spec.http[0].retries.attempts: Invalid value"},
		{"circuit-breaking", "istio", "", "baseEjectionTime: ", "baseEjectionTim: ", `unknown field "spec.trafficPolicy.outlierDetection.baseEjectionTim"`},
		{"canary+match", "linkerd", "", "type: Exact", "type: exact", `Unsupported value: "exact"`},
		{"canary+match", "linkerd", "2.17", "type: Exact", "type: exact", `Unsupported value: "exact"`},
		{"canary+match", "istio", "", "exact: always", "exactly: always", `unknown field "spec.http[0].match[0].headers.x-canary.exactly"`},
		{"canary+match", "consul", "", "exact: always", "exact: 1", `spec.routes[0].match.http.header[0].exact: Invalid value: "integer": must be of type string`},
		{"canary", "linkerd", "", "weight: ", "weigth: ", `unknown field "spec.rules`},
		{"retries", "consul", "", "numRetries: 3", "numRetries: three", "numRetries: Invalid value"},
		{"retries", "consul", "", "- 5xx", "- 5XX", `Unsupported value: "5XX"`},
		{"retries", "consul", "", "protocol: http", "protocol: https", `spec.protocol: Unsupported value: "https"`},
		{"retries", "linkerd", "", "retry.linkerd.io/limit", "retry.linkerd.io/limt", `unknown field "metadata.annotations[retry.linkerd.io/limt]"`},
		{"rate-limiting", "linkerd", "", "proxyProtocol: HTTP/1", "proxyProtocol: http1", `spec.proxyProtocol: Unsupported value: "http1"`},
	}
	for _, tt := range tests {
		t.Run(tt.scenario+"/"+tt.mesh+"/"+tt.new, func(t *testing.T) {
			sc := schemaVariant(t, tt.scenario)
			src := render(t, tt.mesh, tt.version, sc, sc.Phase(true)).YAML()
			if errs := crdschema.ValidateYAML(v, src); len(errs) > 0 {
				t.Skipf("rendering is already invalid (see TestRenderedResourcesMatchSchemas): %v", errs)
			}
			if !strings.Contains(src, tt.old) {
				t.Fatalf("rendering lacks %q:\n%s", tt.old, src)
			}
			errs := crdschema.ValidateYAML(v, strings.Replace(src, tt.old, tt.new, 1))
			var all strings.Builder
			for _, e := range errs {
				all.WriteString(e.Error() + "\n")
			}
			if !strings.Contains(all.String(), tt.want) {
				t.Errorf("want an error containing %q, got:\n%s", tt.want, all.String())
			}
		})
	}
}
