package engine

import "testing"

func TestTraceSample(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  float64
		env  string
		want float64
	}{
		{"default", 0, "", DefaultTraceSample},
		{"env", 0, "0.25", 0.25},
		{"env ignored when bad", 0, "lots", DefaultTraceSample},
		{"env ignored when out of range", 0, "2", DefaultTraceSample},
		{"option beats env", 0.5, "0.25", 0.5},
		{"capped", 3, "", 1},
		{"off", -1, "0.25", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := traceSample(tc.opt, func(k string) string {
				if k == EnvTracesSamplerArg {
					return tc.env
				}
				return ""
			})
			if got != tc.want {
				t.Fatalf("traceSample(%v, %q) = %v, want %v", tc.opt, tc.env, got, tc.want)
			}
		})
	}
}

func TestTracingOffTellsComponents(t *testing.T) {
	var off *runTracing
	if env := off.env(); env["OTEL_SDK_DISABLED"] != "true" {
		t.Fatalf("env %v", env)
	}
	if off.load("after") != nil || off.stop() != nil {
		t.Fatal("tracing off still traces")
	}
}
