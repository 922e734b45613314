package scenarios

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

const bookWithMesh = `mesh: %s
deployment:
  retry:
    upstream_services: 2
    upstream_retries: 3
    upstream_error_rate: [0, 50]
performance_test:
  duration: 10s
  rps: 10
`

// mesh: is read in both spellings with its position, syntax-checked with
// file:line:col, and written back by Marshal.
func TestMeshField(t *testing.T) {
	long, err := os.ReadFile("builtin/retries.yaml")
	if err != nil {
		t.Fatal(err)
	}
	withMesh := func(v string) string {
		return strings.Replace(string(long), "name: retries\n", "name: retries\nmesh: "+v+"\n", 1)
	}
	line := strings.Count(string(long[:strings.Index(string(long), "name: retries\n")]), "\n") + 2
	tests := []struct {
		name, file, yaml string
		mesh             string
		line, col        int
		err              string
	}{
		{name: "long name", file: "l.yaml", yaml: withMesh("istio"), mesh: "istio", line: line, col: 7},
		{name: "long version", file: "l.yaml", yaml: withMesh("istio@1.23"), mesh: "istio@1.23", line: line, col: 7},
		{name: "long quoted", file: "l.yaml", yaml: withMesh(`"linkerd@2.18"`), mesh: "linkerd@2.18", line: line, col: 7},
		{name: "book", file: "b.yaml", yaml: strings.Replace(bookWithMesh, "%s", "consul", 1), mesh: "consul", line: 1, col: 7},
		{name: "book version", file: "b.yaml", yaml: strings.Replace(bookWithMesh, "%s", "envoy@1.26", 1), mesh: "envoy@1.26", line: 1, col: 7},
		{name: "absent", file: "l.yaml", yaml: string(long)},
		{name: "bad version", file: "l.yaml", yaml: withMesh("istio@1.x"), err: "l.yaml:" + strconv.Itoa(line) + ":7: mesh: \"istio@1.x\" is not a mesh profile: write a name or name@version"},
		{name: "upper case", file: "b.yaml", yaml: strings.Replace(bookWithMesh, "%s", "Istio", 1), err: "b.yaml:1:7: mesh: \"Istio\" is not a mesh profile"},
		{name: "empty version", file: "b.yaml", yaml: strings.Replace(bookWithMesh, "%s", "istio@", 1), err: "b.yaml:1:7: mesh:"},
		{name: "empty string", file: "b.yaml", yaml: strings.Replace(bookWithMesh, "%s", "''", 1), err: `b.yaml:1:7: mesh: must be one profile name on one line (got "")`},
		{name: "list", file: "b.yaml", yaml: strings.Replace(bookWithMesh, "%s", "[istio]", 1), err: "b.yaml:1:7: mesh: expected text, found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := LoadBytes(tt.file, []byte(tt.yaml))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				if !strings.Contains(err.Error(), "mesh: istio or mesh: istio@1.23") {
					t.Errorf("no hint in %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Mesh != tt.mesh {
				t.Errorf("Mesh = %q, want %q", s.Mesh, tt.mesh)
			}
			if tt.mesh != "" && (s.MeshPos.File != tt.file || s.MeshPos.Line != tt.line || s.MeshPos.Column != tt.col) {
				t.Errorf("MeshPos = %+v, want %s:%d:%d", s.MeshPos, tt.file, tt.line, tt.col)
			}
			b, err := Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			has := strings.Contains(string(b), "\nmesh: "+tt.mesh+"\n")
			if tt.mesh != "" && !has || tt.mesh == "" && strings.Contains(string(b), "\nmesh:") {
				t.Errorf("Marshal wrote mesh wrongly (want %q):\n%s", tt.mesh, b)
			}
			back, err := LoadBytes("m.yaml", b)
			if err != nil || back.Mesh != s.Mesh {
				t.Errorf("reload: %v, mesh %q", err, back.Mesh)
			}
		})
	}
	// Validate (after --set) checks the syntax too.
	s := mustBuiltin(t, "retries")
	s.Mesh = "istio@@1"
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "mesh") {
		t.Errorf("Validate: %v", err)
	}
}
