package builtin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"meshgym/dataplane"
	"meshgym/plugins"
	"meshgym/sandbox"
	"meshgym/scenarios"
)

func TestResolveProfile(t *testing.T) {
	tests := []struct {
		spec, name, release, err string
	}{
		{spec: "", name: "book"},
		{spec: "book", name: "book"},
		{spec: "istio", name: "istio", release: "1.27"},
		{spec: "istio@1.23", name: "istio", release: "1.23"},
		{spec: "istio@1.25", name: "istio", release: "1.23"},
		{spec: "istio@1.22.4", name: "istio", release: "1.18"},
		{spec: "istio@1.99", name: "istio", release: "1.27"},
		{spec: "istio@1.13", name: "istio", release: "1.13"},
		{spec: "envoy", name: "envoy", release: "1.35"},
		{spec: "envoy@1.26", name: "envoy", release: "1.26"},
		{spec: "linkerd", name: "linkerd", release: "2.18"},
		{spec: "consul", name: "consul", release: "1.21"},
		{spec: "kuma", name: "kuma", release: "2.11"},
		{spec: "istoi", err: `unknown mesh profile "istoi"; known: book, consul, envoy, istio, kuma, linkerd`},
		{spec: "istio@1.10", err: "istio@1.10 is older than the oldest release reproduced (1.13); known: istio@1.13, istio@1.18, istio@1.23, istio@1.27"},
		{spec: "istio@one", err: `mesh profile "istio@one": version "one" is not a release number such as 1.27`},
		{spec: "istio@", err: `version "" is not a release number`},
		{spec: "book@1.0", err: "mesh profile book has no releases"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			p, err := ResolveProfile(tt.spec)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != tt.name || p.Release != tt.release {
				t.Errorf("got %s@%s, want %s@%s", p.Name, p.Release, tt.name, tt.release)
			}
			if len(p.Sources) == 0 || p.Summary == "" {
				t.Errorf("profile without sources or summary: %+v", p)
			}
		})
	}
}

func TestProfilesInfo(t *testing.T) {
	infos := Profiles()
	var names []string
	for _, in := range infos {
		names = append(names, in.Name)
		if in.Source == "" || in.Summary == "" || len(in.Versions) == 0 {
			t.Errorf("incomplete %+v", in)
		}
	}
	if want := []string{"book", "consul", "envoy", "istio", "kuma", "linkerd"}; !slices.Equal(names, want) {
		t.Errorf("names %v, want %v", names, want)
	}
	istio := infos[slices.IndexFunc(infos, func(i plugins.ProfileInfo) bool { return i.Name == "istio" })]
	if istio.Release != "1.27" || !slices.Equal(istio.Versions, []string{"istio@1.13", "istio@1.18", "istio@1.23", "istio@1.27"}) {
		t.Errorf("istio info %+v", istio)
	}
}

// renderBuiltin renders one phase of a built-in scenario under spec.
func renderBuiltin(t *testing.T, name, spec string, after bool) (map[string]dataplane.Config, []plugins.Knob, []string) {
	t.Helper()
	sc, err := scenarios.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	prof, err := ResolveProfile(spec)
	if err != nil {
		t.Fatal(err)
	}
	cfgs, knobs, notes, err := New().RenderProfile(sc.Topology, goldenEndpoints(sc.Topology), sc.Phase(after), prof)
	if err != nil {
		t.Fatal(err)
	}
	return cfgs, knobs, notes
}

// want is the part of a cluster a case checks; nil fields are not checked.
type want struct {
	retry      *dataplane.RetryPolicy // compared field by field; noRetry for nil
	noRetry    bool
	timeout    *time.Duration
	maxRetries *int
	lb         string
	outlier    *dataplane.OutlierDetection
	noOutlier  bool
	budget     *dataplane.RetryBudget
}

func ptr[T any](v T) *T { return &v }

func checkCluster(t *testing.T, cl dataplane.Cluster, w want) {
	t.Helper()
	if w.noRetry && cl.Retry != nil {
		t.Errorf("retry %+v, want none", *cl.Retry)
	}
	if w.retry != nil {
		if cl.Retry == nil {
			t.Fatalf("no retry policy, want %+v", *w.retry)
		}
		g, e := *cl.Retry, *w.retry
		if g.NumRetries != e.NumRetries || !slices.Equal(g.RetryOn, e.RetryOn) || !slices.Equal(g.RetriableStatusCodes, e.RetriableStatusCodes) ||
			g.PerTryTimeout != e.PerTryTimeout || g.PreviousHosts != e.PreviousHosts || g.HostSelectionMaxAttempts != e.HostSelectionMaxAttempts ||
			g.BackoffBase != e.BackoffBase || g.BackoffMax != e.BackoffMax {
			t.Errorf("retry\n got %+v\nwant %+v", g, e)
		}
	}
	if w.timeout != nil && cl.Timeout != *w.timeout {
		t.Errorf("timeout %v, want %v", cl.Timeout, *w.timeout)
	}
	if w.maxRetries != nil && cl.MaxRetries != *w.maxRetries {
		t.Errorf("max_retries %d, want %d", cl.MaxRetries, *w.maxRetries)
	}
	if w.lb != "" && cl.LBPolicy != w.lb {
		t.Errorf("lb_policy %q, want %q", cl.LBPolicy, w.lb)
	}
	if w.noOutlier && cl.Outlier != nil {
		t.Errorf("outlier %+v, want none", *cl.Outlier)
	}
	if w.outlier != nil {
		if cl.Outlier == nil {
			t.Fatalf("no outlier detection, want %+v", *w.outlier)
		}
		g, e := *cl.Outlier, *w.outlier
		if g.Algorithm != e.Algorithm || g.Consecutive5xx != e.Consecutive5xx || g.BaseEjectionTime != e.BaseEjectionTime ||
			g.MaxEjectionTime != e.MaxEjectionTime || g.Interval != e.Interval || g.MaxEjectionPercent != e.MaxEjectionPercent ||
			g.HealthyPanicThreshold != e.HealthyPanicThreshold || g.AlwaysEjectOneHost != e.AlwaysEjectOneHost ||
			g.EnforcingConsecutive5xx != e.EnforcingConsecutive5xx || g.JitterRatio != e.JitterRatio {
			t.Errorf("outlier\n got %+v\nwant %+v", g, e)
		}
	}
	if w.budget != nil && (cl.RetryBudget == nil || *cl.RetryBudget != *w.budget) {
		t.Errorf("retry budget %+v, want %+v", cl.RetryBudget, *w.budget)
	}
}

// Istio's DefaultPolicy (retry.go) as meshgym's sidecar runs it: the
// HTTP/2 and gRPC retry_on conditions left out.
func istioDefault(codes ...int) *dataplane.RetryPolicy {
	on := []string{"connect-failure"}
	if len(codes) > 0 {
		on = append(on, "retriable-status-codes")
	}
	return &dataplane.RetryPolicy{NumRetries: 2, RetryOn: on, RetriableStatusCodes: codes, PreviousHosts: true,
		HostSelectionMaxAttempts: 5, BackoffBase: 25 * time.Millisecond, BackoffMax: 250 * time.Millisecond}
}

// envoyOD is Envoy's outlier_detection.proto defaults with the circuit
// breaking scenario's 2 errors and 60s.
func envoyOD(panic int, oneHost bool) *dataplane.OutlierDetection {
	od := dataplane.EnvoyOutlierDefaults()
	od.Consecutive5xx, od.BaseEjectionTime = 2, time.Minute
	od.HealthyPanicThreshold, od.AlwaysEjectOneHost = panic, oneHost
	return &od
}

// consulAlways is the outlier detection Consul puts on every cluster
// (clusters.go ToOutlierDetection with nothing set, panic threshold 0).
func consulAlways() *dataplane.OutlierDetection {
	od := dataplane.EnvoyOutlierDefaults()
	od.HealthyPanicThreshold = 0
	return &od
}

// Every profile and selectable release, on the built-in retries,
// circuit-breaking and timeouts scenarios: the effective config of the
// cluster the pattern targets, against the sources in profiles.go.
func TestProfileRenderBuiltins(t *testing.T) {
	zero := ptr(time.Duration(0))
	s15 := ptr(15 * time.Second)
	scenarioRetry := func(hostSel int) *dataplane.RetryPolicy {
		return &dataplane.RetryPolicy{NumRetries: 3, RetryOn: []string{"5xx", "connect-failure"}, PreviousHosts: true,
			HostSelectionMaxAttempts: hostSel, BackoffBase: 25 * time.Millisecond, BackoffMax: 250 * time.Millisecond}
	}
	timeoutRetry := func(hostSel int) *dataplane.RetryPolicy {
		return &dataplane.RetryPolicy{NumRetries: 2, RetryOn: []string{"5xx", "reset", "connect-failure"}, PreviousHosts: true,
			PerTryTimeout: 50 * time.Millisecond, HostSelectionMaxAttempts: hostSel, BackoffBase: 25 * time.Millisecond, BackoffMax: 250 * time.Millisecond}
	}
	kumaDefault := &dataplane.RetryPolicy{NumRetries: 5, RetryOn: []string{"gateway-error", "connect-failure"}, PerTryTimeout: 16 * time.Second,
		BackoffBase: 25 * time.Millisecond, BackoffMax: 250 * time.Millisecond}
	linkerdBudget := &dataplane.RetryBudget{Kind: "linkerd", RetryRatio: 0.2, MinRetriesPerSecond: 10, TTL: 10 * time.Second}
	linkerdOD := &dataplane.OutlierDetection{Algorithm: "linkerd", Consecutive5xx: 2, EnforcingConsecutive5xx: 100, BaseEjectionTime: time.Minute,
		MaxEjectionTime: time.Minute, MaxEjectionPercent: 100, JitterRatio: 0.5}
	bookOD := &dataplane.OutlierDetection{Algorithm: "book", Consecutive5xx: 2, EnforcingConsecutive5xx: 100, BaseEjectionTime: time.Minute, MaxEjectionPercent: 100}

	tests := []struct {
		scenario, spec string
		after          bool
		cluster        string // caller/upstream
		want           want
	}{
		// retries, pattern off: only the mesh's defaults.
		{"retries", "book", false, "payments/currency", want{noRetry: true, timeout: zero, maxRetries: ptr(0), lb: "round_robin", noOutlier: true}},
		{"retries", "envoy", false, "payments/currency", want{noRetry: true, timeout: s15, maxRetries: ptr(3), lb: "round_robin", noOutlier: true}},
		{"retries", "envoy@1.26", false, "payments/currency", want{noRetry: true, timeout: s15, maxRetries: ptr(3), noOutlier: true}},
		{"retries", "istio@1.13", false, "payments/currency", want{retry: istioDefault(503), timeout: zero, maxRetries: ptr(0), lb: "round_robin", noOutlier: true}},
		{"retries", "istio@1.18", false, "payments/currency", want{retry: istioDefault(503), timeout: zero, lb: "least_request"}},
		{"retries", "istio@1.23", false, "payments/currency", want{retry: istioDefault(503), timeout: zero, maxRetries: ptr(0), lb: "least_request", noOutlier: true}},
		{"retries", "istio@1.23", false, "api/payments", want{retry: istioDefault(503)}},
		{"retries", "istio", false, "payments/currency", want{retry: istioDefault(), timeout: zero, maxRetries: ptr(0), lb: "least_request", noOutlier: true}},
		{"retries", "linkerd", false, "payments/currency", want{noRetry: true, timeout: zero, maxRetries: ptr(0), lb: "peak_ewma", noOutlier: true}},
		{"retries", "consul", false, "payments/currency", want{noRetry: true, timeout: s15, maxRetries: ptr(3), lb: "round_robin", outlier: consulAlways()}},
		{"retries", "kuma", false, "payments/currency", want{retry: kumaDefault, timeout: s15, maxRetries: ptr(3), lb: "round_robin", noOutlier: true}},
		// retries, pattern on: the scenario's policy, profile knobs for what it leaves out.
		{"retries", "book", true, "payments/currency", want{retry: scenarioRetry(1), timeout: zero, maxRetries: ptr(0)}},
		{"retries", "envoy", true, "payments/currency", want{retry: scenarioRetry(1), timeout: s15, maxRetries: ptr(3)}},
		{"retries", "istio@1.23", true, "payments/currency", want{retry: scenarioRetry(5), timeout: zero}},
		{"retries", "istio", true, "payments/currency", want{retry: scenarioRetry(5), timeout: zero, maxRetries: ptr(0)}},
		{"retries", "istio", true, "api/payments", want{retry: istioDefault()}},
		{"retries", "linkerd", true, "payments/currency", want{retry: scenarioRetry(1), timeout: zero, budget: linkerdBudget}},
		{"retries", "consul", true, "payments/currency", want{retry: scenarioRetry(1), timeout: s15, maxRetries: ptr(3), outlier: consulAlways()}},
		{"retries", "kuma", true, "payments/currency", want{retry: scenarioRetry(1), timeout: s15, maxRetries: ptr(3)}},
		{"retries", "kuma", true, "api/payments", want{retry: kumaDefault}},
		// circuit-breaking: the book's breaker vs each mesh's algorithm.
		{"circuit-breaking", "book", true, "checkout/payments", want{outlier: bookOD, noRetry: true}},
		{"circuit-breaking", "envoy", true, "checkout/payments", want{outlier: envoyOD(50, false), noRetry: true, maxRetries: ptr(3)}},
		{"circuit-breaking", "envoy@1.26", true, "checkout/payments", want{outlier: envoyOD(50, true)}},
		{"circuit-breaking", "istio@1.13", true, "checkout/payments", want{outlier: envoyOD(0, true), retry: istioDefault(503)}},
		{"circuit-breaking", "istio@1.18", true, "checkout/payments", want{outlier: envoyOD(0, true)}},
		{"circuit-breaking", "istio@1.23", true, "checkout/payments", want{outlier: envoyOD(0, false)}},
		{"circuit-breaking", "istio", true, "checkout/payments", want{outlier: envoyOD(0, false), retry: istioDefault()}},
		{"circuit-breaking", "linkerd", true, "checkout/payments", want{outlier: linkerdOD, noRetry: true}},
		{"circuit-breaking", "consul", true, "checkout/payments", want{outlier: envoyOD(0, false), noRetry: true}},
		{"circuit-breaking", "kuma", true, "checkout/payments", want{outlier: envoyOD(50, false), retry: kumaDefault}},
		{"circuit-breaking", "istio", false, "checkout/payments", want{noOutlier: true}},
		{"circuit-breaking", "consul", false, "checkout/payments", want{outlier: consulAlways()}},
		// timeouts: the scenario's 100ms and 50ms beat every default.
		{"timeouts", "book", true, "payments/currency", want{retry: timeoutRetry(1), timeout: ptr(100 * time.Millisecond)}},
		{"timeouts", "envoy", true, "payments/currency", want{retry: timeoutRetry(1), timeout: ptr(100 * time.Millisecond), maxRetries: ptr(3)}},
		{"timeouts", "istio@1.23", true, "payments/currency", want{retry: timeoutRetry(5), timeout: ptr(100 * time.Millisecond)}},
		{"timeouts", "istio", true, "payments/currency", want{retry: timeoutRetry(5), timeout: ptr(100 * time.Millisecond)}},
		{"timeouts", "linkerd", true, "payments/currency", want{retry: timeoutRetry(1), timeout: ptr(100 * time.Millisecond), budget: linkerdBudget}},
		{"timeouts", "consul", true, "payments/currency", want{retry: timeoutRetry(1), timeout: ptr(100 * time.Millisecond)}},
		{"timeouts", "kuma", true, "payments/currency", want{retry: timeoutRetry(1), timeout: ptr(100 * time.Millisecond)}},
		{"timeouts", "kuma", false, "payments/currency", want{retry: kumaDefault, timeout: s15}},
		{"timeouts", "envoy", false, "payments/currency", want{noRetry: true, timeout: s15}},
		{"timeouts", "linkerd", false, "payments/currency", want{noRetry: true, timeout: zero}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s/after=%v/%s", tt.scenario, tt.spec, tt.after, tt.cluster), func(t *testing.T) {
			cfgs, _, _ := renderBuiltin(t, tt.scenario, tt.spec, tt.after)
			caller, up, _ := strings.Cut(tt.cluster, "/")
			cl, ok := cfgs[caller].Clusters[up]
			if !ok {
				t.Fatalf("no cluster %s in %s's config", up, caller)
			}
			checkCluster(t, cl, tt.want)
		})
	}
}

// With no retry policy, which answers each profile retries: the compiled
// policy of payments → currency in the retries scenario's before phase.
func TestDefaultRetryOf503(t *testing.T) {
	tests := []struct {
		spec    string
		retries int // retries of a 503 (0 = not retried)
	}{
		{"book", 0}, {"envoy", 0}, {"istio@1.13", 2}, {"istio@1.23", 2}, {"istio", 0}, {"linkerd", 0}, {"consul", 0}, {"kuma", 5},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			cfgs, _, _ := renderBuiltin(t, "retries", tt.spec, false)
			rp := cfgs["payments"].Clusters["currency"].Retry
			got := 0
			if rp != nil {
				c, err := rp.Compile()
				if err != nil {
					t.Fatal(err)
				}
				if c.On&(dataplane.RetryOn5xx|dataplane.RetryOnGatewayError) != 0 ||
					(c.On&dataplane.RetryOnRetriableStatusCodes != 0 && slices.Contains(c.StatusCodes, 503)) {
					got = c.NumRetries
				}
			}
			if got != tt.retries {
				t.Errorf("503 retried %d times, want %d (policy %+v)", got, tt.retries, rp)
			}
		})
	}
}

func findKnob(knobs []plugins.Knob, path string) (plugins.Knob, bool) {
	i := slices.IndexFunc(knobs, func(k plugins.Knob) bool { return k.Path == path })
	if i < 0 {
		return plugins.Knob{}, false
	}
	return knobs[i], true
}

func TestKnobProvenance(t *testing.T) {
	tests := []struct {
		scenario, spec string
		after          bool
		path, value    string
		source         string // prefix
	}{
		{"retries", "istio@1.23", false, "currency.retry.num_retries", "2", "profile istio@1.23 (" + srcIstioRetry},
		{"retries", "istio@1.23", false, "currency.retry.retriable_status_codes", "[503]", "profile istio@1.23 ("},
		{"retries", "istio", false, "currency.retry.retriable_status_codes", "[]", "profile istio@1.27 (" + srcIstioRetry + " + " + srcIstio503},
		{"retries", "istio", true, "currency.retry.num_retries", "3", "scenario"},
		{"retries", "istio", true, "currency.retry.host_selection_retry_max_attempts", "5", "profile istio@1.27 ("},
		{"retries", "book", true, "currency.retry.host_selection_retry_max_attempts", "1", "meshgym default"},
		{"retries", "envoy", true, "currency.timeout", "15s", "profile envoy@1.35 (" + srcEnvoyRoute},
		{"retries", "istio", true, "currency.timeout", "none", "profile istio@1.27 ("},
		{"retries", "consul", false, "currency.outlier.max_ejection_percent", "10", "profile consul@1.21 (" + srcConsulClusters},
		{"retries", "consul", false, "currency.outlier.healthy_panic_threshold", "0", "profile consul@1.21 ("},
		{"circuit-breaking", "istio", true, "payments.outlier.consecutive_5xx", "2", "scenario"},
		{"circuit-breaking", "istio", true, "payments.outlier.max_ejection_percent", "10", "profile istio@1.27 (" + srcIstioOutlier},
		{"circuit-breaking", "istio@1.18", true, "payments.outlier.always_eject_one_host", "true", "profile istio@1.18 (" + srcIstioOutlier + " + " + srcEnvoyStrict},
		{"circuit-breaking", "book", true, "payments.outlier.algorithm", "book", "scenario"},
		{"circuit-breaking", "linkerd", true, "payments.outlier.max_ejection_time", "60s", "profile linkerd@2.18 ("},
		{"circuit-breaking", "linkerd", true, "payments.outlier.jitter_ratio", "0.5", "profile linkerd@2.18 (" + srcLinkerdCB},
		{"timeouts", "kuma", false, "currency.retry.per_try_timeout", "16s", "profile kuma@2.11 (" + srcKumaRetry},
		{"timeouts", "kuma", true, "currency.retry.per_try_timeout", "50ms", "scenario"},
		{"timeouts", "kuma", true, "currency.lb_policy", "round_robin", "profile kuma@2.11 ("},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s/%v/%s", tt.scenario, tt.spec, tt.after, tt.path), func(t *testing.T) {
			_, knobs, _ := renderBuiltin(t, tt.scenario, tt.spec, tt.after)
			k, ok := findKnob(knobs, tt.path)
			if !ok {
				t.Fatalf("no knob %s in %+v", tt.path, knobs)
			}
			if k.Value != tt.value || !strings.HasPrefix(k.Source, tt.source) {
				t.Errorf("%s = %q from %q, want %q from %q…", tt.path, k.Value, k.Source, tt.value, tt.source)
			}
		})
	}
	// Knobs are sorted and each path appears once.
	_, knobs, _ := renderBuiltin(t, "timeouts", "kuma", true)
	if !slices.IsSortedFunc(knobs, func(a, b plugins.Knob) int { return strings.Compare(a.Path, b.Path) }) {
		t.Error("knobs not sorted by path")
	}
	for i := 1; i < len(knobs); i++ {
		if knobs[i].Path == knobs[i-1].Path {
			t.Errorf("knob %s twice", knobs[i].Path)
		}
	}
}

func TestProfileNotes(t *testing.T) {
	tests := []struct {
		scenario, spec string
		want           string // a note containing this
		none           bool   // no note at all
	}{
		{"circuit-breaking", "istio", "circuitBreaker.algorithm: book ignored: istio ejects with Envoy's outlier detection", false},
		{"circuit-breaking", "linkerd", "circuitBreaker.algorithm: book ignored: linkerd ejects with failure accrual", false},
		{"circuit-breaking-envoy", "linkerd", "circuitBreaker.interval, maxEjectionPercent, healthyPanicThreshold ignored", false},
		{"fault-injection", "linkerd", "fault: Linkerd has no native fault injection", false},
		{"rate-limiting", "consul", "rateLimit: Consul's local rate limit (service-defaults RateLimits) is Enterprise only", false},
		{"rate-limiting", "istio", "rateLimit: Istio has no first-class local rate limit API", false},
		{"retries", "istio", "istio@1.27 default retry_on refused-stream, unavailable, cancelled, retriable-status-codes (no codes: matches nothing): not applied", false},
		{"retries", "consul", "with max_ejection_percent 10% a cluster of fewer than 10 hosts never ejects", false},
		{"retries", "linkerd", "currency: linkerd@2.18 limits retries with a retry budget", false},
		{"circuit-breaking", "book", "", true},
		{"circuit-breaking-envoy", "envoy", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.scenario+"/"+tt.spec, func(t *testing.T) {
			_, _, notes := renderBuiltin(t, tt.scenario, tt.spec, true)
			if tt.none {
				if len(notes) > 0 {
					t.Errorf("notes %q, want none", notes)
				}
				return
			}
			if !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, tt.want) }) {
				t.Errorf("no note with %q in %q", tt.want, notes)
			}
		})
	}
}

// A real sidecar in front of two upstreams that answer 503: under
// istio@1.23 Istio's default retry policy retries the 503 twice, the first
// retry on the other host (previous_hosts); under current Istio the 503 is
// attempted once.
func TestIstioDefaultRetryOf503OnARealSidecar(t *testing.T) {
	tests := []struct {
		spec     string
		attempts int64
	}{{"istio@1.23", 3}, {"istio", 1}, {"book", 1}, {"kuma", 6}}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			var order []string
			var hits atomic.Int64
			var mu = make(chan struct{}, 1)
			mu <- struct{}{}
			upstream := func(name string) *httptest.Server {
				return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					hits.Add(1)
					<-mu
					order = append(order, name)
					mu <- struct{}{}
					http.Error(w, "unavailable", http.StatusServiceUnavailable)
				}))
			}
			a, b := upstream("currency_v1"), upstream("currency_v2")
			defer a.Close()
			defer b.Close()
			topo := scenarios.Topology{Entry: "payments", Services: []scenarios.Service{
				{Name: "payments", Upstreams: []string{"currency"}, Sidecar: true, Versions: []scenarios.Version{{Name: "payments", Instances: 1}}},
				{Name: "currency", Sidecar: true, Versions: []scenarios.Version{{Name: "currency_v1", Instances: 1}, {Name: "currency_v2", Instances: 1}}},
			}}
			eps := fakeEndpoints{"currency": {
				{Name: "currency_v1", Address: strings.TrimPrefix(a.URL, "http://")},
				{Name: "currency_v2", Address: strings.TrimPrefix(b.URL, "http://")},
			}}
			sc, err := dataplane.Start(dataplane.Options{Name: "payments_sidecar", AdminAddr: "127.0.0.1:0", Seed: 1,
				Outbound: []dataplane.OutboundListener{{Service: "currency", Addr: "127.0.0.1:0"}}, ErrorLog: nil})
			if err != nil {
				t.Fatal(err)
			}
			defer sc.Close()
			prof, err := ResolveProfile(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			cp := New()
			comps := []sandbox.Component{{Name: "payments_sidecar", Instance: "payments_sidecar-0", Kind: sandbox.KindSidecar, Service: "payments", AdminURL: "http://" + sc.Addrs().Admin}}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := cp.ApplyProfile(ctx, topo, eps, comps, scenarios.Pattern{}, prof); err != nil {
				t.Fatal(err)
			}
			resp, err := http.Get("http://" + sc.Addrs().Outbound["currency"] + "/")
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("status %d, want 503", resp.StatusCode)
			}
			if got := hits.Load(); got != tt.attempts {
				t.Errorf("%d attempts, want %d (%v)", got, tt.attempts, order)
			}
			if tt.attempts > 1 && len(order) > 1 && order[0] == order[1] {
				t.Errorf("first retry went to the same host: %v (previous_hosts)", order)
			}
		})
	}
}

// Every profile and release renders every built-in scenario, both phases,
// into configs the sidecar accepts.
func TestEveryProfileRendersValidConfigs(t *testing.T) {
	var specs []string
	for _, name := range ProfileNames() {
		specs = append(specs, selectable(name)...)
	}
	for _, spec := range specs {
		for _, in := range scenarios.BuiltinNames() {
			for _, after := range []bool{false, true} {
				cfgs, knobs, _ := renderBuiltin(t, in.Name, spec, after)
				for svc, cfg := range cfgs {
					if err := cfg.Validate(); err != nil {
						t.Errorf("%s %s after=%v: %s: %v", spec, in.Name, after, svc, err)
					}
				}
				for _, k := range knobs {
					if k.Path == "" || k.Value == "" || k.Source == "" {
						t.Errorf("%s %s: incomplete knob %+v", spec, in.Name, k)
					}
				}
			}
		}
	}
}

// The plugin carries the profiles: Info lists them, Render resolves the
// request's profile and returns its knobs and notes, and an unknown
// profile is bad input.
func TestPluginProfiles(t *testing.T) {
	ctx := context.Background()
	p := NewPlugin()
	info, err := p.Info(ctx)
	if err != nil || len(info.Profiles) != len(ProfileNames()) {
		t.Fatalf("info profiles %+v, %v", info.Profiles, err)
	}
	sc, err := scenarios.Builtin("retries")
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Render(ctx, plugins.RenderRequest{Profile: "istio@1.23", Format: FormatSidecar, Topology: sc.Topology, Pattern: sc.Phase(false)})
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := findKnob(r.Knobs, "currency.retry.retriable_status_codes"); !ok || k.Value != "[503]" {
		t.Errorf("knob %+v (found %v)", k, ok)
	}
	if !strings.Contains(r.Documents[1].Content, `"retriable_status_codes": [`) {
		t.Errorf("payments document lacks the default retry policy:\n%s", r.Documents[1].Content)
	}
	_, err = p.Render(ctx, plugins.RenderRequest{Profile: "istoi", Topology: sc.Topology, Pattern: sc.Phase(false)})
	var pe *plugins.Error
	if !errors.As(err, &pe) || pe.Code != plugins.CodeInvalid || !strings.Contains(pe.Msg, `unknown mesh profile "istoi"`) {
		t.Errorf("unknown profile: %v", err)
	}
}

// Without a format, a real mesh's profile renders that mesh's own
// resources for the profile's release, and the first knob names the
// resolved profile.
func TestPluginRendersTheProfilesMesh(t *testing.T) {
	ctx := context.Background()
	sc, err := scenarios.Builtin("retries")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ profile, want, resolved string }{
		{"istio@1.21", "apiVersion: networking.istio.io/v1beta1", "istio@1.18"},
		{"istio", "kind: VirtualService", "istio@1.27"},
		{"linkerd", "retry.linkerd.io/limit", "linkerd@2.18"},
		{"", `"retry": {`, "book"},
	} {
		r, err := NewPlugin().Render(ctx, plugins.RenderRequest{Profile: tt.profile, Topology: sc.Topology, Pattern: sc.Phase(true)})
		if err != nil {
			t.Fatalf("%s: %v", tt.profile, err)
		}
		var all strings.Builder
		for _, d := range r.Documents {
			all.WriteString(d.Content)
		}
		if !strings.Contains(all.String(), tt.want) {
			t.Errorf("%s: rendering lacks %q:\n%s", tt.profile, tt.want, all.String())
		}
		if len(r.Knobs) == 0 || r.Knobs[0].Path != "profile" || r.Knobs[0].Value != tt.resolved {
			t.Errorf("%s: first knob %+v, want profile %s", tt.profile, r.Knobs[:min(1, len(r.Knobs))], tt.resolved)
		}
	}
	_, err = NewPlugin().Render(ctx, plugins.RenderRequest{Format: "yaml", Topology: sc.Topology, Pattern: sc.Phase(true)})
	var pe *plugins.Error
	if !errors.As(err, &pe) || pe.Code != plugins.CodeInvalid || !strings.Contains(pe.Msg, "sidecar, envoy, istio") {
		t.Errorf("unknown format: %v", err)
	}
}
