package sampleapps

import (
	"errors"
	"flag"
	"reflect"
	"strings"
	"testing"
	"time"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestOptionsFromEnvDefaults(t *testing.T) {
	o, err := OptionsFromEnv(envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o, DefaultOptions()) {
		t.Fatalf("got %+v, want defaults %+v", o, DefaultOptions())
	}
	if o.ErrorCode != 500 || o.RateLimitCode != 429 || o.ListenAddr != "127.0.0.1:9090" || o.ErrorType != "http_error" {
		t.Fatalf("unexpected defaults %+v", o)
	}
}

func TestOptionsFromEnvAll(t *testing.T) {
	o, err := OptionsFromEnv(envMap(map[string]string{
		"NAME": "payments", "MESSAGE": "hi", "LISTEN_ADDR": "127.0.0.1:1234",
		"UPSTREAM_URIS":        "http://127.0.0.1:1, http://localhost:2/x ,",
		"TIMING_50_PERCENTILE": "20ms", "TIMING_90_PERCENTILE": "30ms", "TIMING_99_PERCENTILE": "1s",
		"TIMING_VARIANCE": "10", "ERROR_RATE": "0.3", "ERROR_CODE": "503", "ERROR_TYPE": "delay",
		"ERROR_DELAY": "2s", "RATE_LIMIT": "12.5", "RATE_LIMIT_CODE": "503", "SEED": "-42",
		"HTTP_CLIENT_REQUEST_TIMEOUT": "3s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Options{
		Name: "payments", Message: "hi", ListenAddr: "127.0.0.1:1234",
		UpstreamURIs: []string{"http://127.0.0.1:1", "http://localhost:2/x"},
		Timing50:     20 * time.Millisecond, Timing90: 30 * time.Millisecond, Timing99: time.Second,
		TimingVariance: 10, ErrorRate: 0.3, ErrorCode: 503, ErrorType: "delay", ErrorDelay: 2 * time.Second,
		RateLimitRPS: 12.5, RateLimitCode: 503, Seed: -42, UpstreamTimeout: 3 * time.Second,
	}
	if !reflect.DeepEqual(o, want) {
		t.Fatalf("got  %+v\nwant %+v", o, want)
	}
}

func TestBadValuesNameTheirSource(t *testing.T) {
	for _, c := range []struct {
		env, val string
		flag     string
	}{
		{"ERROR_RATE", "1.5", "error-rate"},
		{"ERROR_RATE", "abc", "error-rate"},
		{"ERROR_RATE", "-0.1", "error-rate"},
		{"ERROR_CODE", "42", "error-code"},
		{"ERROR_TYPE", "boom", "error-type"},
		{"TIMING_50_PERCENTILE", "20", "timing-50"},
		{"TIMING_90_PERCENTILE", "-1ms", "timing-90"},
		{"TIMING_VARIANCE", "x", "timing-variance"},
		{"UPSTREAM_URIS", "grpc://x:1", "upstream"},
		{"LISTEN_ADDR", "nope", "listen"},
		{"RATE_LIMIT", "-3", "rate-limit"},
		{"RATE_LIMIT_CODE", "1000", "rate-limit-code"},
		{"SEED", "1.5", "seed"},
		{"HTTP_CLIENT_REQUEST_TIMEOUT", "soon", "upstream-timeout"},
	} {
		_, err := OptionsFromEnv(envMap(map[string]string{c.env: c.val}))
		if err == nil || !strings.HasPrefix(err.Error(), c.env+"=") || strings.Contains(err.Error(), "\n") {
			t.Errorf("env %s=%q: got %v", c.env, c.val, err)
		}
		_, err = LoadOptions(envMap(nil), []string{"--" + c.flag, c.val})
		if err == nil || !strings.HasPrefix(err.Error(), "--"+c.flag+" ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("flag --%s %q: got %v", c.flag, c.val, err)
		}
	}
}

func TestFlagsOverrideEnv(t *testing.T) {
	env := envMap(map[string]string{"NAME": "a", "ERROR_RATE": "0.5", "UPSTREAM_URIS": "http://env:1", "SEED": "1"})
	o, err := LoadOptions(env, []string{"--name", "b", "--error-rate=0.25", "--upstream", "http://f:1",
		"--upstream", "http://f:2,http://f:3", "--seed", "7", "--timing-50", "5ms", "--listen", "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Name != "b" || o.ErrorRate != 0.25 || o.Seed != 7 || o.Timing50 != 5*time.Millisecond || o.ListenAddr != "127.0.0.1:0" {
		t.Fatalf("flags did not override: %+v", o)
	}
	if want := []string{"http://f:1", "http://f:2", "http://f:3"}; !reflect.DeepEqual(o.UpstreamURIs, want) {
		t.Fatalf("upstreams %v, want %v", o.UpstreamURIs, want)
	}
	o, err = LoadOptions(env, nil)
	if err != nil || !reflect.DeepEqual(o.UpstreamURIs, []string{"http://env:1"}) {
		t.Fatalf("env upstreams lost: %v %v", o.UpstreamURIs, err)
	}
}

func TestFlagErrors(t *testing.T) {
	if _, err := LoadOptions(envMap(nil), []string{"--bogus"}); err == nil || !strings.Contains(err.Error(), "--bogus") {
		t.Errorf("unknown flag: %v", err)
	}
	if _, err := LoadOptions(envMap(nil), []string{"stray"}); err == nil || !strings.Contains(err.Error(), "stray") {
		t.Errorf("stray arg: %v", err)
	}
	if _, err := LoadOptions(envMap(nil), []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

func TestValidate(t *testing.T) {
	o := DefaultOptions()
	o.ErrorRate = 2
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "ErrorRate") {
		t.Errorf("got %v", err)
	}
	if _, err := NewServer(Options{ErrorRate: 0.1}); err != nil {
		t.Errorf("zero options with defaults filled should be valid: %v", err)
	}
}
