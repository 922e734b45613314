package sandbox

import (
	"strings"
	"testing"

	"meshgym/scenarios"
)

func TestInstances(t *testing.T) {
	topo := scenarios.Topology{Entry: "currency", Services: []scenarios.Service{
		{Name: "api", Versions: []scenarios.Version{{Name: "api", Instances: 1}}},
		{Name: "currency", Versions: []scenarios.Version{{Name: "currency_v1", Instances: 2}, {Name: "currency_v2"}}},
	}}
	got, err := Instances(topo)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, in := range got {
		n := in.Name
		if in.Entry {
			n += "*"
		}
		names = append(names, n)
	}
	if want := "api currency_v1-0* currency_v1-1 currency_v2"; strings.Join(names, " ") != want {
		t.Errorf("Instances = %s; want %s (entry starred)", strings.Join(names, " "), want)
	}
	if _, err := Instances(scenarios.Topology{Entry: "nope", Services: topo.Services}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("missing entry: %v", err)
	}
}

func TestComponentSeedAndAppEnv(t *testing.T) {
	a, b := ComponentSeed(1, "currency_v1"), ComponentSeed(1, "currency_v2")
	if a == b || a < 0 || b < 0 || ComponentSeed(1, "currency_v1") != a {
		t.Errorf("ComponentSeed: %d, %d; want distinct, non-negative, repeatable", a, b)
	}
	in := Instance{Version: scenarios.Version{Name: "currency_v2", ErrorRate: 50, ErrorCode: 503}}
	env := strings.Join(AppEnv(in, "0.0.0.0:9090", []string{"http://a/", "http://b/"}, 7), " ")
	for _, want := range []string{"NAME=currency_v2", "LISTEN_ADDR=0.0.0.0:9090", "UPSTREAM_URIS=http://a/,http://b/", "ERROR_RATE=0.5", "ERROR_CODE=503", "SEED=7"} {
		if !strings.Contains(env, want) {
			t.Errorf("AppEnv = %s; missing %s", env, want)
		}
	}
}
