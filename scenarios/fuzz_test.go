package scenarios

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzLoadBytes(f *testing.F) {
	for _, in := range BuiltinNames() {
		b, _ := builtinFile(in.Name)
		f.Add(b)
	}
	files, _ := filepath.Glob("testdata/book/*.yaml")
	short, _ := filepath.Glob("testdata/shorthand/*.yaml")
	for _, p := range append(files, short...) {
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"", "---\n", "deployment: [\n", " deployment:\n   retry: {}\n",
		retryDeployment + "performance_test: {duration: 1s, rps: -5, threads: 0}\n",
		"deployment:\n  canary:\n    upstreams: [{name: a, weight: 50}, {name: b, weight: 50}]\nperformance_test: {duration: 1s}\n",
		"a: &x {b: *x}\n", "deployment: *x\n", "<<: {a: 1}\n", "? [a]\n: b\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := LoadBytes("f.yaml", data)
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("panic while loading: %v", err)
			}
			var list Errors
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error is not Errors: %T %v", err, err)
			}
			for _, e := range list {
				if e.Msg == "" || e.Hint == "" || strings.ContainsAny(e.Error(), "\r\n") {
					t.Fatalf("bad problem line %q", e.Error())
				}
				// Text quoted from the file is cut: no message echoes a
				// whole file.
				if n := utf8.RuneCountInString(e.Msg); n > 400 {
					t.Fatalf("message of %d characters: %q", n, e.Msg)
				}
			}
			return
		}
		b, err := Marshal(s)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		back, err := LoadBytes("m.yaml", b)
		if err != nil {
			t.Fatalf("reload of Marshal output: %v\n%s", err, b)
		}
		if got, want := model(back), model(s); !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip differs:\n got %+v\nwant %+v\n%s", got, want, b)
		}
		b2, err := Marshal(back)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("Marshal not stable: %v\n%s\n---\n%s", err, b, b2)
		}
	})
}

func FuzzParseCondition(f *testing.F) {
	for _, s := range [][2]string{
		{"request_count[name=payments, status_code=200]", "100%"},
		{`request_count["name=payments_v1, status=200"]`, "1992"},
		{`request_count[status_code!=200, name=”payments"]`, "0%"},
		{"request_count[name=currency_v2 status_code=500]", "50%"},
		{`requests_per_second_p50[name="api"]`, "> 180"},
		{"request_duration_p50", "100ms"},
		{"memory_megabytes_max[name=api_sidecar]", "< 50MB"},
		{"cpu_seconds_p50[name=api]", "< 2"},
		{"error_rate", "<= 0.5%"},
		{"retries_total", "≥ 3"},
		{"request_duration_p999", "< 1e-3s"},
		{"request_count[name=“a”]", "“5”"},
	} {
		f.Add(s[0], s[1], 0.1, true)
		f.Add(s[0], s[1], 0.0, false)
	}
	f.Fuzz(func(t *testing.T, metric, value string, tol float64, hasTol bool) {
		var tp *float64
		if hasTol {
			tp = &tol
		}
		c, err := ParseCondition(metric, value, tp)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Msg == "" || strings.ContainsAny(e.Error(), "\r\n") {
				t.Fatalf("bad error %T %q", err, err)
			}
			return
		}
		if math.IsNaN(c.Value) || math.IsInf(c.Value, 0) || c.Value < 0 {
			t.Fatalf("value %v", c.Value)
		}
		back, err := ParseConditionString(c.String())
		if err != nil {
			t.Fatalf("ParseConditionString(%q): %v", c.String(), err)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("String round trip %q:\n got %+v\nwant %+v", c.String(), back, c)
		}
		again, err := ParseCondition(c.Selector(), c.ValueString(), c.Tolerance)
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("Selector/ValueString round trip %q %q: %+v %v", c.Selector(), c.ValueString(), again, err)
		}
	})
}
