package builtin

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"meshgym/dataplane"
	"meshgym/plugins"
)

// Semantics profiles: the defaults and algorithms of a real mesh, applied
// by the control plane to every config it renders (the before phase, where
// the mesh is installed with none of the scenario's policies, and the after
// phase). The primary source of every value is
// /work/shared/reference/mesh-semantics.md (sections 1–7); each profile's
// Sources name the documentation pages and source files the values were
// checked against. docs/profiles.md is the learner's view of the table.

// Outlier families (Defaults.Outlier): which ejection algorithm a
// profile's sidecars run for a circuit breaker.
const (
	// OutlierBook keeps the scenario's algorithm (book, book_half_open or
	// envoy), mapped as [Outlier] does; only the book profile uses it.
	OutlierBook = "book"
	// OutlierEnvoy is Envoy's outlier detection, starting from
	// Defaults.OutlierDetection (Envoy, Istio, Consul, Kuma).
	OutlierEnvoy = "envoy"
	// OutlierLinkerd is Linkerd's consecutive-failures failure accrual
	// (dataplane outlier algorithm "linkerd").
	OutlierLinkerd = "linkerd"
)

// Profile is one semantics profile: a mesh, the release whose defaults it
// reproduces, and those defaults as data.
type Profile struct {
	// Name is "book", "envoy", "istio", "linkerd", "consul" or "kuma".
	Name string
	// Release is the release reproduced, e.g. "1.27" ("" for book).
	Release string
	// Requested is the spec ResolveProfile was given ("istio@1.25" when
	// it resolved to the 1.23 entry); "" when resolved from the name alone.
	Requested string
	// Sources are the documentation pages and source files the defaults
	// were checked against (the first is the main one).
	Sources []string
	// Summary is one line for `meshgym plugin list`.
	Summary string
	// Defaults are the mesh's defaults and algorithms.
	Defaults Defaults
}

// Spec returns "name@release" ("book" for the book profile).
func (p *Profile) Spec() string {
	if p.Release == "" {
		return p.Name
	}
	return p.Name + "@" + p.Release
}

// IsBook reports whether p is meshgym's teaching profile (nil counts as book).
func (p *Profile) IsBook() bool { return p == nil || p.Name == "book" }

// Defaults are what a mesh does where the scenario says nothing. A zero
// value is "the mesh sets nothing here". Each group carries the URL its
// values come from, used as the provenance of the knobs it fills.
type Defaults struct {
	// Retry is the retry policy of a route the scenario gives none for
	// (nil = no retries, as in Envoy without a retry_policy). Retry_on
	// tokens the sidecar does not implement (HTTP/2 and gRPC conditions)
	// are dropped at render time with a note.
	Retry       *dataplane.RetryPolicy
	RetrySource string

	// HostSelectionMaxAttempts is host_selection_retry_max_attempts of a
	// scenario's retry policy that avoids previous hosts (Envoy 1, Istio
	// 5); 0 = meshgym's default (1).
	HostSelectionMaxAttempts int
	// PreviousHosts adds Envoy's previous_hosts predicate to every retry
	// policy (Istio); a scenario's preferNewHost: true does it anyway.
	PreviousHosts bool
	// RetryBudget is added to every route the scenario retries without a
	// retry budget of its own (Linkerd's ServiceProfile retryBudget).
	RetryBudget *dataplane.RetryBudget
	// PolicySource is the URL of the three knobs above.
	PolicySource string

	// RouteTimeout is the route timeout when the scenario sets none
	// (Envoy RouteAction.timeout 15s; 0 = none).
	RouteTimeout  time.Duration
	TimeoutSource string

	// Outlier is the ejection family (OutlierBook, OutlierEnvoy,
	// OutlierLinkerd); OutlierDetection holds its field defaults, which
	// the scenario's explicit numbers override.
	Outlier          string
	OutlierDetection dataplane.OutlierDetection
	// AlwaysOutlier puts OutlierDetection on every cluster, even with no
	// circuit breaker in the scenario (Consul).
	AlwaysOutlier bool
	OutlierSource string

	// MaxRetries is the circuit breaker max_retries (concurrent retries
	// per cluster; 0 = no cap, as Istio's 2^32−1).
	MaxRetries       int
	MaxRetriesSource string

	// LBPolicy is the load balancer (dataplane LB policy name).
	LBPolicy string
	LBSource string

	// Gaps name the scenario policies the mesh has no native feature for,
	// keyed by "fault", "rateLimit" or "retryBudget:<kind>"; meshgym's
	// sidecar still applies them and the render notes the gap.
	Gaps map[string]string
}

// Source URLs, one per fact group (see mesh-semantics.md for the tags).
const (
	srcEnvoyRouter   = "https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/router_filter"
	srcEnvoyRoute    = "https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/route/v3/route_components.proto"
	srcEnvoyOutlier  = "https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/outlier_detection.proto"
	srcEnvoyBreakers = "https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/circuit_breaker.proto"
	srcEnvoyCluster  = "https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/cluster/v3/cluster.proto"
	srcEnvoyStrict   = "https://github.com/envoyproxy/envoy/pull/27909"

	srcIstioRetry    = "https://github.com/istio/istio/blob/master/pilot/pkg/networking/core/route/retry/retry.go"
	srcIstio503      = "https://github.com/istio/istio/pull/52111"
	srcIstioVS       = "https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRetry"
	srcIstioTimeout  = "https://github.com/istio/istio/blob/master/pilot/pkg/networking/core/route/route.go"
	srcIstioOutlier  = "https://istio.io/latest/docs/reference/config/networking/destination-rule/#OutlierDetection"
	srcIstioBreakers = "https://github.com/istio/istio/blob/master/pilot/pkg/networking/core/cluster_traffic_policy.go"
	srcIstioLB       = "https://github.com/istio/istio/pull/37220"
	srcIstioRL       = "https://istio.io/latest/docs/tasks/policy-enforcement/rate-limit/"

	srcLinkerdRetries = "https://linkerd.io/2.18/reference/retries/"
	srcLinkerdBudget  = "https://github.com/linkerd/linkerd2/blob/main/controller/api/destination/profile_translator.go"
	srcLinkerdCB      = "https://linkerd.io/2.18/reference/circuit-breaking/"
	srcLinkerdTimeout = "https://linkerd.io/2.18/reference/timeouts/"
	srcLinkerdLB      = "https://github.com/linkerd/linkerd2/blob/main/policy-controller/grpc/src/outbound.rs"
	srcLinkerdFault   = "https://linkerd.io/2.18/tasks/fault-injection/"

	srcConsulRouter   = "https://developer.hashicorp.com/consul/docs/connect/config-entries/service-router"
	srcConsulRoutes   = "https://github.com/hashicorp/consul/blob/main/agent/xds/routes.go"
	srcConsulClusters = "https://github.com/hashicorp/consul/blob/main/agent/xds/clusters.go"
	srcConsulRL       = "https://developer.hashicorp.com/consul/docs/connect/config-entries/service-defaults#ratelimits"

	srcKumaRetry    = "https://github.com/kumahq/kuma/blob/master/pkg/plugins/policies/meshretry/plugin/xds/configurer.go"
	srcKumaDefaults = "https://github.com/kumahq/kuma/blob/master/pkg/defaults/mesh/meshretry.go"
	srcKumaTimeout  = "https://github.com/kumahq/kuma/blob/master/pkg/plugins/policies/core/defaults/consts.go"
	srcKumaCB       = "https://github.com/kumahq/kuma/blob/master/pkg/plugins/policies/meshcircuitbreaker/plugin/xds/configurer.go"
	srcKumaLB       = "https://kuma.io/docs/latest/policies/meshloadbalancingstrategy/"
)

// release is one selectable release of a mesh; build returns a fresh
// Profile (no memory shared between calls).
type release struct {
	version string
	build   func() *Profile
}

// catalog lists each mesh's releases, oldest first. Only releases whose
// behaviour differs in something meshgym models are listed.
var catalog = map[string][]release{
	"book":    {{"", bookProfile}},
	"envoy":   {{"1.26", func() *Profile { return envoyProfile("1.26") }}, {"1.35", func() *Profile { return envoyProfile("1.35") }}},
	"istio":   {{"1.13", func() *Profile { return istioProfile("1.13") }}, {"1.18", func() *Profile { return istioProfile("1.18") }}, {"1.23", func() *Profile { return istioProfile("1.23") }}, {"1.27", func() *Profile { return istioProfile("1.27") }}},
	"linkerd": {{"2.18", linkerdProfile}},
	"consul":  {{"1.21", consulProfile}},
	"kuma":    {{"2.11", kumaProfile}},
}

// ProfileNames lists the profile names, sorted.
func ProfileNames() []string {
	var names []string
	for n := range catalog {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Book returns meshgym's teaching profile: the book's semantics, with no
// mesh default added (what Render has always done).
func Book() *Profile { return bookProfile() }

// ResolveProfile returns the profile spec names: "" is book; "istio" is the
// newest release reproduced; "istio@1.23" the newest entry at or below
// 1.23 (a version above the newest resolves to the newest). Errors: an
// unknown name (listing the known ones), a malformed version, a version
// older than the oldest entry (listing the selectable ones), or a version
// given to book.
func ResolveProfile(spec string) (*Profile, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return Book(), nil
	}
	name, ver, hasVer := strings.Cut(spec, "@")
	rels, ok := catalog[name]
	if !ok {
		return nil, fmt.Errorf("unknown mesh profile %q; known: %s", name, strings.Join(ProfileNames(), ", "))
	}
	if !hasVer {
		p := rels[len(rels)-1].build()
		return p, nil
	}
	if name == "book" {
		return nil, fmt.Errorf("mesh profile book has no releases; name it without @ (book)")
	}
	want, err := parseVersion(ver)
	if err != nil {
		return nil, fmt.Errorf("mesh profile %q: version %q is not a release number such as %s", spec, ver, rels[len(rels)-1].version)
	}
	for i := len(rels) - 1; i >= 0; i-- {
		have, _ := parseVersion(rels[i].version)
		if compareVersions(have, want) <= 0 {
			p := rels[i].build()
			p.Requested = spec
			return p, nil
		}
	}
	return nil, fmt.Errorf("%s is older than the oldest release reproduced (%s); known: %s", spec, rels[0].version, strings.Join(selectable(name), ", "))
}

// selectable lists "name@version" for every release of name.
func selectable(name string) []string {
	var out []string
	for _, r := range catalog[name] {
		if r.version == "" {
			out = append(out, name)
		} else {
			out = append(out, name+"@"+r.version)
		}
	}
	return out
}

// Profiles lists every profile for plugins.Info, sorted by name: the
// release reproduced by default and the selectable ones.
func Profiles() []plugins.ProfileInfo {
	var out []plugins.ProfileInfo
	for _, name := range ProfileNames() {
		rels := catalog[name]
		p := rels[len(rels)-1].build()
		out = append(out, plugins.ProfileInfo{Name: name, Release: p.Release, Versions: selectable(name), Source: p.Sources[0], Summary: p.Summary})
	}
	return out
}

func parseVersion(s string) ([]int, error) {
	if s == "" {
		return nil, fmt.Errorf("empty version")
	}
	var out []int
	for _, part := range strings.Split(strings.TrimPrefix(s, "v"), ".") {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad version %q", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func compareVersions(a, b []int) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y int
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return x - y
		}
	}
	return 0
}

// atLeast reports whether release v is at or above min ("1.24").
func atLeast(v, min string) bool {
	a, _ := parseVersion(v)
	b, _ := parseVersion(min)
	return compareVersions(a, b) >= 0
}

// bookProfile is meshgym's teaching profile: no mesh defaults, the
// scenario's breaker algorithm as written, round-robin.
func bookProfile() *Profile {
	return &Profile{
		Name:    "book",
		Sources: []string{"docs/profiles.md#book"},
		Summary: "meshgym's teaching profile: the book's semantics, nothing but what the scenario sets",
		Defaults: Defaults{
			Outlier:  OutlierBook,
			LBPolicy: dataplane.LBRoundRobin,
		},
	}
}

// envoyProfile reproduces a bare Envoy with the scenario's settings
// written as route and cluster config: no retries without a retry_policy,
// num_retries 1 and host selection once when one exists (router_filter,
// route_components.proto), route timeout 15s, outlier_detection defaults
// (5 × 5xx, 10s, 30s, 10%, panic 50%), circuit breaker max_retries 3
// (circuit_breaker.proto), ROUND_ROBIN (cluster.proto). Before 1.27 the
// max_ejection_percent cap let one host be ejected even when the cap
// forbade it (PR #27909 made it strict): modelled as always_eject_one_host
// for envoy@1.26.
func envoyProfile(v string) *Profile {
	od := dataplane.EnvoyOutlierDefaults()
	od.AlwaysEjectOneHost = !atLeast(v, "1.27")
	return &Profile{
		Name:    "envoy",
		Release: v,
		Sources: []string{srcEnvoyRouter, srcEnvoyRoute, srcEnvoyOutlier, srcEnvoyBreakers, srcEnvoyCluster, srcEnvoyStrict},
		Summary: "bare Envoy: no default retries, 15s route timeout, outlier detection 10% cap and 50% panic when configured, max_retries 3",
		Defaults: Defaults{
			HostSelectionMaxAttempts: 1,
			PolicySource:             srcEnvoyRoute,
			RouteTimeout:             15 * time.Second,
			TimeoutSource:            srcEnvoyRoute,
			Outlier:                  OutlierEnvoy,
			OutlierDetection:         od,
			OutlierSource:            outlierSource(v, srcEnvoyOutlier),
			MaxRetries:               3,
			MaxRetriesSource:         srcEnvoyBreakers,
			LBPolicy:                 dataplane.LBRoundRobin,
			LBSource:                 srcEnvoyCluster,
			Gaps: map[string]string{
				"retryBudget:linkerd": "Envoy has no request-ratio retry budget (only circuit_breaker.proto retry_budget)",
			},
		},
	}
}

// outlierSource names the strict-cap PR for releases before it.
func outlierSource(envoyRelease, src string) string {
	if atLeast(envoyRelease, "1.27") {
		return src
	}
	return src + " + " + srcEnvoyStrict
}

// istioEnvoy is the Envoy release each Istio release ships (Istio's
// supported-releases table; [U] for the exact minor).
var istioEnvoy = map[string]string{"1.13": "1.21", "1.18": "1.26", "1.23": "1.31", "1.27": "1.35"}

// istioProfile reproduces Istio v: a default retry policy on every route
// (retry.go DefaultPolicy: 2 retries on connect-failure, refused-stream,
// unavailable, cancelled, retriable-status-codes, previous_hosts, host
// selection 5; 503 retriable up to 1.23, not from 1.24 — commit 65aaaf4,
// #52111); a VirtualService's retries keep previous_hosts and host
// selection 5; no route timeout (route.go setTimeout); with a
// DestinationRule outlierDetection Envoy's algorithm with Istio's field
// defaults and healthy_panic_threshold = minHealthPercent = 0; circuit
// breaker limits 2^32−1 (getDefaultCircuitBreakerThresholds), so no
// max_retries cap; LEAST_REQUEST from 1.14 (#37220), ROUND_ROBIN before.
func istioProfile(v string) *Profile {
	retry := &dataplane.RetryPolicy{
		NumRetries:               2,
		RetryOn:                  []string{"connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"},
		BackoffBase:              DefaultBackoffBase,
		BackoffMax:               10 * DefaultBackoffBase,
		PreviousHosts:            true,
		HostSelectionMaxAttempts: 5,
	}
	retrySrc := srcIstioRetry
	if !atLeast(v, "1.24") {
		retry.RetriableStatusCodes = []int{503}
	} else {
		retrySrc += " + " + srcIstio503
	}
	od := dataplane.EnvoyOutlierDefaults()
	od.HealthyPanicThreshold = 0
	od.AlwaysEjectOneHost = !atLeast(istioEnvoy[v], "1.27")
	lb, lbSrc := dataplane.LBLeastRequest, srcIstioLB
	if !atLeast(v, "1.14") {
		lb, lbSrc = dataplane.LBRoundRobin, srcIstioLB+" (ROUND_ROBIN before 1.14)"
	}
	gaps := map[string]string{
		"rateLimit":           "Istio has no first-class local rate limit API (an EnvoyFilter adds envoy.filters.http.local_ratelimit, " + srcIstioRL + ")",
		"retryBudget:linkerd": "Istio has no request-ratio retry budget",
		"retryBudget:envoy":   "Istio exposes retry_budget only from 1.27 (trafficPolicy.retryBudget, #56782)",
	}
	if atLeast(v, "1.27") {
		delete(gaps, "retryBudget:envoy")
	}
	return &Profile{
		Name:    "istio",
		Release: v,
		Sources: []string{srcIstioRetry, srcIstio503, srcIstioVS, srcIstioTimeout, srcIstioOutlier, srcIstioBreakers, srcIstioLB},
		Summary: "Istio " + v + ": 2 default retries" + map[bool]string{true: " (503 not retried)", false: " (503 retried)"}[atLeast(v, "1.24")] +
			", no route timeout, outlier detection with 10% cap and panic 0, no max_retries cap, " + lb,
		Defaults: Defaults{
			Retry:                    retry,
			RetrySource:              retrySrc,
			HostSelectionMaxAttempts: 5,
			PreviousHosts:            true,
			PolicySource:             srcIstioRetry,
			TimeoutSource:            srcIstioTimeout,
			Outlier:                  OutlierEnvoy,
			OutlierDetection:         od,
			OutlierSource:            outlierSource(istioEnvoy[v], srcIstioOutlier),
			MaxRetriesSource:         srcIstioBreakers,
			LBPolicy:                 lb,
			LBSource:                 lbSrc,
			Gaps:                     gaps,
		},
	}
}

// linkerdProfile reproduces Linkerd 2.18: no default retries and no
// default timeout (2.9+, #4958); a retried route gets the ServiceProfile
// retry budget (retryRatio 0.2, minRetriesPerSecond 10, ttl 10s —
// profile_translator.go defaultRetryBudget) and back-off 25–250 ms;
// circuit breaking is failure accrual (max failures 7, min penalty 1s,
// max penalty 1m, jitter 0.5; probation with one request; 503 when every
// endpoint is unavailable); P2C + Peak-EWMA (30 ms default RTT, 10 s
// decay). No native fault injection.
func linkerdProfile() *Profile {
	od := dataplane.OutlierDetection{
		Algorithm:               dataplane.OutlierLinkerd,
		Consecutive5xx:          7,
		EnforcingConsecutive5xx: 100,
		BaseEjectionTime:        time.Second,
		MaxEjectionTime:         time.Minute,
		MaxEjectionPercent:      100,
		HealthyPanicThreshold:   0,
		JitterRatio:             0.5,
	}
	return &Profile{
		Name:    "linkerd",
		Release: "2.18",
		Sources: []string{srcLinkerdRetries, srcLinkerdBudget, srcLinkerdCB, srcLinkerdTimeout, srcLinkerdLB, srcLinkerdFault},
		Summary: "Linkerd 2.18: no default retries or timeout, retry budget 20% + 10/s, failure accrual (7 failures, 1s–1m penalty), Peak-EWMA",
		Defaults: Defaults{
			RetryBudget:      &dataplane.RetryBudget{Kind: "linkerd", RetryRatio: 0.2, MinRetriesPerSecond: 10, TTL: 10 * time.Second},
			PolicySource:     srcLinkerdBudget,
			TimeoutSource:    srcLinkerdTimeout,
			Outlier:          OutlierLinkerd,
			OutlierDetection: od,
			OutlierSource:    srcLinkerdCB,
			LBPolicy:         dataplane.LBPeakEWMA,
			LBSource:         srcLinkerdLB,
			Gaps: map[string]string{
				"fault":                   "Linkerd has no native fault injection (" + srcLinkerdFault + ": a weighted HTTPRoute to a failing backend)",
				"retryBudget:envoy":       "Linkerd has no concurrency-based retry budget",
				"retryBudget:max_retries": "Linkerd has no max_retries circuit breaker",
			},
		},
	}
}

// consulProfile reproduces Consul's service mesh on Envoy: no retries
// unless a service-router sets a retry field (routes.go
// getRetryPolicyForDestination); RequestTimeout 0 leaves Envoy's 15s;
// every upstream cluster has an OutlierDetection block with Envoy's
// defaults (5 × 5xx, 10s, 30s, 10% — nothing is ejected below 10 hosts)
// and healthy_panic_threshold 0 (clusters.go); Envoy's max_retries 3;
// ROUND_ROBIN. Local rate limits are Enterprise only; no native fault
// injection was found [U].
func consulProfile() *Profile {
	od := dataplane.EnvoyOutlierDefaults()
	od.HealthyPanicThreshold = 0
	return &Profile{
		Name:    "consul",
		Release: "1.21",
		Sources: []string{srcConsulRouter, srcConsulRoutes, srcConsulClusters, srcConsulRL},
		Summary: "Consul 1.21: no default retries, 15s route timeout, outlier detection always on (Envoy defaults, 10% cap, panic 0), max_retries 3",
		Defaults: Defaults{
			HostSelectionMaxAttempts: 1,
			PolicySource:             srcConsulRoutes,
			RouteTimeout:             15 * time.Second,
			TimeoutSource:            srcConsulRouter,
			Outlier:                  OutlierEnvoy,
			OutlierDetection:         od,
			AlwaysOutlier:            true,
			OutlierSource:            srcConsulClusters,
			MaxRetries:               3,
			MaxRetriesSource:         srcEnvoyBreakers,
			LBPolicy:                 dataplane.LBRoundRobin,
			LBSource:                 srcConsulClusters,
			Gaps: map[string]string{
				"rateLimit":           "Consul's local rate limit (service-defaults RateLimits) is Enterprise only (" + srcConsulRL + ")",
				"fault":               "Consul has no native fault injection [U]",
				"retryBudget:envoy":   "Consul exposes no Envoy retry_budget",
				"retryBudget:linkerd": "Consul has no request-ratio retry budget",
			},
		},
	}
}

// kumaProfile reproduces Kuma's default policies (pkg/defaults/mesh):
// mesh-retry-all (HTTP: 5 retries, per-try 16s, back-off 25–250 ms, retry
// on gateway-error, connect-failure, refused-stream — so 503 is retried),
// mesh-timeout-to-all (outbound request timeout 15s), mesh-circuit-breaker-all
// (connection limits and max_retries 3, no outlier detection; when set,
// only the configured detectors are enforced and the panic threshold stays
// Envoy's 50%), ROUND_ROBIN.
func kumaProfile() *Profile {
	return &Profile{
		Name:    "kuma",
		Release: "2.11",
		Sources: []string{srcKumaDefaults, srcKumaRetry, srcKumaTimeout, srcKumaCB, srcKumaLB},
		Summary: "Kuma 2.11: MeshRetry default 5 retries on gateway-error (503 retried), 15s outbound timeout, max_retries 3, round-robin",
		Defaults: Defaults{
			Retry: &dataplane.RetryPolicy{
				NumRetries:    5,
				RetryOn:       []string{"gateway-error", "connect-failure", "refused-stream"},
				PerTryTimeout: 16 * time.Second,
				BackoffBase:   DefaultBackoffBase,
				BackoffMax:    10 * DefaultBackoffBase,
			},
			RetrySource:              srcKumaRetry,
			HostSelectionMaxAttempts: 1,
			PolicySource:             srcKumaRetry,
			RouteTimeout:             15 * time.Second,
			TimeoutSource:            srcKumaTimeout,
			Outlier:                  OutlierEnvoy,
			OutlierDetection:         dataplane.EnvoyOutlierDefaults(),
			OutlierSource:            srcKumaCB,
			MaxRetries:               3,
			MaxRetriesSource:         srcKumaCB,
			LBPolicy:                 dataplane.LBRoundRobin,
			LBSource:                 srcKumaLB,
			Gaps: map[string]string{
				"retryBudget:linkerd": "Kuma has no request-ratio retry budget",
			},
		},
	}
}
