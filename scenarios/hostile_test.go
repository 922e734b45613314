package scenarios

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Inputs that make YAML parsers slow or crash are refused quickly with a
// one-line error, never a panic or a hang.
func TestHostileInputs(t *testing.T) {
	indent := func(n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(strings.Repeat(" ", i) + "a:\n")
		}
		return b.String()
	}
	anchors := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "k%d: &a%d v\n", i, i)
		}
		return b.String()
	}
	tests := []struct {
		name, in, want string
	}{
		{"larger than MaxFileSize", strings.Repeat("#", MaxFileSize+1), "file is too large"},
		{"deep flow within size", strings.Repeat("[", 1001), "too many [ and {"},
		{"deep mapping nesting", strings.Repeat("{a: ", 1001), "too many [ and {"},
		{"deep block nesting", indent(400), "nested more than 64 levels"},
		{"many documents", strings.Repeat("---\na: 1\n", 2000), "too many YAML documents"},
		{"many anchors", anchors(2000), "too many & characters"},
		{"alias fan-out", "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: [*c, *c]\n", "not a scenario"},
		{"binary", "\x00\x01\x02\xff", ""},
		{"huge integer", "deployment:\n  retry: {upstream_services: 99999999999999999999, upstream_retries: 3}\nperformance_test: {duration: 1s}\n", "is out of range"},
		{"huge duration", retryDeployment + "performance_test: {duration: 1e300}\n", "too long"},
		{"infinite rps", retryDeployment + "performance_test: {duration: 1s, rps: .inf}\n", "expected a number"},
		{"NaN rps", retryDeployment + "performance_test: {duration: 1s, rps: .nan}\n", "expected a number"},
		{"overflowing rps", retryDeployment + "performance_test: {duration: 1s, rps: 1e309}\n", "expected a number"},
		{"merge key", "<<: {a: 1}\n", "merge keys"},
		{"complex key", "? [a]\n: b\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			s, err := LoadBytes("h.yaml", []byte(tt.in))
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			if err == nil || s != nil {
				t.Fatalf("accepted: %+v", s)
			}
			if strings.Contains(err.Error(), "internal error") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestWindowsFiles(t *testing.T) {
	in := "\ufeff" + strings.ReplaceAll(retryDeployment+"performance_test:\n  duration: 1s\n", "\n", "\r\n")
	s, err := LoadBytes("w.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if s.Load.Duration != Duration(time.Second) {
		t.Errorf("duration %v", s.Load.Duration)
	}
}
