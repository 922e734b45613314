package builtin

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"meshgym/sandbox"
	"meshgym/scenarios"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// goldenEndpoints gives every service of topo one endpoint per version
// instance, on fixed loopback ports.
func goldenEndpoints(topo scenarios.Topology) fakeEndpoints {
	eps := fakeEndpoints{}
	port := 9000
	for _, svc := range topo.Services {
		for _, v := range svc.Versions {
			for range v.Instances {
				port++
				eps[svc.Name] = append(eps[svc.Name], sandbox.Endpoint{Name: v.Name, Address: fmt.Sprintf("127.0.0.1:%d", port)})
			}
		}
	}
	return eps
}

// renderAllBuiltins renders both phases of every built-in scenario with
// render and writes them as indented JSON (config versions zeroed).
func renderAllBuiltins(t *testing.T, render func(topo scenarios.Topology, eps Endpoints, p scenarios.Pattern) (any, error)) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, in := range scenarios.BuiltinNames() {
		sc, err := scenarios.Builtin(in.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, after := range []bool{false, true} {
			out, err := render(sc.Topology, goldenEndpoints(sc.Topology), sc.Phase(after))
			if err != nil {
				t.Fatalf("%s after=%v: %v", in.Name, after, err)
			}
			b, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&buf, "== %s after=%v\n%s\n", in.Name, after, b)
		}
	}
	return buf.Bytes()
}

// The book profile renders exactly what Render rendered before profiles
// existed: testdata/book_render.golden was written by the pre-profile
// Render (go test -update rewrites it from the current Render).
func TestBookProfileMatchesPreProfileRender(t *testing.T) {
	got := renderAllBuiltins(t, func(topo scenarios.Topology, eps Endpoints, p scenarios.Pattern) (any, error) {
		cfgs, err := New().Render(topo, eps, p)
		for k, c := range cfgs {
			c.Version = 0
			cfgs[k] = c
		}
		return cfgs, err
	})
	golden := filepath.Join("testdata", "book_render.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Render (book profile) differs from %s", golden)
	}
}
