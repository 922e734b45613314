package sandbox

import (
	"fmt"
	"hash/fnv"
	"io"
	"strconv"
	"strings"

	"meshgym/scenarios"
)

// Instance is one service instance of a topology, as every platform
// deploys it: an app, and a sidecar when the service has one.
type Instance struct {
	Service scenarios.Service
	Version scenarios.Version
	// Index is the replica number within its version (0-based).
	Index int
	// Name is the component instance name: the version's name
	// ("currency_v2"), or with several instances "currency_v2-0".
	Name string
	// Entry marks the first instance of the entry service, the one the
	// load generator calls.
	Entry bool
}

// Instances lists the instances of a topology in deployment order
// (services, then versions, then replicas) with the naming the local
// platform uses. The error is an entry service missing from the topology.
func Instances(topo scenarios.Topology) ([]Instance, error) {
	var out []Instance
	entry := false
	for _, svc := range topo.Services {
		for _, ver := range svc.Versions {
			n := max(ver.Instances, 1)
			for i := 0; i < n; i++ {
				in := Instance{Service: svc, Version: ver, Index: i, Name: ver.Name}
				if ver.Instances > 1 {
					in.Name = fmt.Sprintf("%s-%d", ver.Name, i)
				}
				if svc.Name == topo.Entry && !entry {
					in.Entry, entry = true, true
				}
				out = append(out, in)
			}
		}
	}
	if !entry {
		return nil, fmt.Errorf("topology: entry service %q is not among the services", topo.Entry)
	}
	return out, nil
}

// ComponentSeed derives a per-component seed from the run's seed and the
// component instance's name, so that components do not share a random
// sequence while the run stays repeatable from one seed (non-negative: the
// components read it as an unsigned number). The same formula as the local
// platform's, so a seed gives the same error sequence on every platform.
func ComponentSeed(seed int64, name string) int64 {
	h := fnv.New64a()
	io.WriteString(h, name)
	return (seed ^ int64(h.Sum64())) & 0x7fffffffffffffff
}

// AppEnv is the environment of a sample app (fake-service's variable
// names; see docs/architecture.md, "Sample app contract"): its name,
// listen address (host:port), the upstream URLs it calls on every request,
// the version's error rate (percent in the scenario, a fraction 0..1 in
// ERROR_RATE), error code and latency, and its seed.
func AppEnv(in Instance, listen string, upstreamURIs []string, seed int64) []string {
	ver := in.Version
	env := []string{
		"NAME=" + ver.Name,
		"LISTEN_ADDR=" + listen,
		"UPSTREAM_URIS=" + strings.Join(upstreamURIs, ","),
		"ERROR_RATE=" + strconv.FormatFloat(ver.ErrorRate/100, 'g', -1, 64),
		"ERROR_TYPE=http_error",
		"SEED=" + strconv.FormatInt(seed, 10),
	}
	if ver.ErrorCode != 0 {
		env = append(env, "ERROR_CODE="+strconv.Itoa(ver.ErrorCode))
	}
	if l := ver.Latency; l.P50 > 0 {
		env = append(env, "TIMING_50_PERCENTILE="+l.P50.D().String())
		if l.P90 > 0 {
			env = append(env, "TIMING_90_PERCENTILE="+l.P90.D().String())
		}
		if l.P99 > 0 {
			env = append(env, "TIMING_99_PERCENTILE="+l.P99.D().String())
		}
	}
	return env
}
