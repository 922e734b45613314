package meshconfig

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	yaml "github.com/goccy/go-yaml"

	"meshgym/internal/kubename"
	"meshgym/plugins"
	"meshgym/scenarios"
)

// DefaultNamespace is the Kubernetes namespace meshgym deploys a topology
// into when Options.Namespace is empty.
const DefaultNamespace = "meshgym"

// ServicePort is the port of every Kubernetes Service and container meshgym
// deploys (fake-service's LISTEN_ADDR default, 9090); the Service port and
// the container port are both named PortName.
const (
	ServicePort = 9090
	PortName    = "http"
)

// Options tunes Render.
type Options struct {
	// Namespace of every namespaced resource; "" = DefaultNamespace ("meshgym").
	Namespace string
}

// Output is a pattern rendered for one mesh.
type Output struct {
	// Documents are the resources, in the order they should be applied;
	// each Content is one YAML document ending in a newline.
	Documents []plugins.Document
	// Notes are one-line remarks, each with its source: semantics a learner
	// would trip on, and "not supported by <mesh>: <what>; <workaround>".
	Notes []string
}

// YAML joins the documents with "---" lines and appends the notes as
// "# note: …" comment lines: what `meshgym explain --mesh` prints.
func (o Output) YAML() string {
	var b strings.Builder
	for i, d := range o.Documents {
		if i > 0 {
			b.WriteString("---\n")
		}
		b.WriteString(d.Content)
	}
	for _, n := range o.Notes {
		b.WriteString("# note: " + n + "\n")
	}
	return b.String()
}

// mesh describes one renderer: the release rendered when the caller gives
// no version, and the function that fills the builder.
type mesh struct {
	current string
	render  func(*builder)
}

var meshes = map[string]mesh{
	"envoy":   {current: "1.35", render: renderEnvoy},
	"istio":   {current: "1.29", render: renderIstio},
	"kuma":    {current: "2.12", render: renderKuma},
	"consul":  {current: "1.21", render: renderConsul},
	"linkerd": {current: "2.19", render: renderLinkerd},
}

// Meshes lists the meshes Render knows, in the order `meshgym explain`
// shows them: envoy, istio, kuma, consul, linkerd.
func Meshes() []string { return []string{"envoy", "istio", "kuma", "consul", "linkerd"} }

// CurrentVersion returns the release Render targets for mesh when its
// version argument is "" (e.g. "1.29" for istio); the error lists the known
// meshes.
func CurrentVersion(mesh string) (string, error) {
	m, ok := meshes[mesh]
	if !ok {
		return "", unknownMesh(mesh)
	}
	return m.current, nil
}

func unknownMesh(name string) error {
	return fmt.Errorf("unknown mesh %q; known meshes: %s", name, strings.Join(Meshes(), ", "))
}

// Render returns what pattern p (usually Scenario.Phase(true): the
// baseline with the pattern on top) becomes in mesh's own configuration
// language, for the services of topo. version is the mesh release as
// "1.27" or "v1.27.3"; "" is CurrentVersion(mesh). It matters where the
// mesh's resources differ between releases: Istio networking.istio.io/v1
// from 1.22 (v1beta1 before), HTTPRetry.backoff and
// retryIgnorePreviousHosts from 1.26, DestinationRule retryBudget from
// 1.27; Linkerd gateway.networking.k8s.io/v1 HTTPRoute from 2.18
// (policy.linkerd.io/v1beta3 before), retry/timeout annotations from 2.16,
// HTTPLocalRateLimitPolicy from 2.17; Kuma real MeshService targetRefs
// (name/namespace/sectionName), Dataplane targetRefs and inbound `rules`
// from 2.10 (kuma.io/service names, MeshServiceSubset and `from` before).
//
// Errors: an unknown mesh (the message lists Meshes()), a version that is
// not "major.minor[.patch]", or a policy naming a service or version that
// topo lacks. What the mesh cannot express is not an error: it comes back
// as a Note "not supported by <mesh>: …".
func Render(meshName, version string, topo scenarios.Topology, p scenarios.Pattern, opts Options) (Output, error) {
	m, ok := meshes[meshName]
	if !ok {
		return Output{}, unknownMesh(meshName)
	}
	if version == "" {
		version = m.current
	}
	v, err := parseVersion(version)
	if err != nil {
		return Output{}, fmt.Errorf("mesh %s: %w", meshName, err)
	}
	b := &builder{mesh: meshName, ver: v, ns: opts.Namespace, topo: topo, p: p}
	if b.ns == "" {
		b.ns = DefaultNamespace
	}
	if err := b.check(); err != nil {
		return Output{}, err
	}
	m.render(b)
	if b.err != nil {
		return Output{}, b.err
	}
	return Output{Documents: b.docs, Notes: b.notes}, nil
}

// version is a mesh release, major.minor.
type version struct{ major, minor int }

var versionRE = regexp.MustCompile(`^v?(\d+)\.(\d+)(\.\d+)?$`)

func parseVersion(s string) (version, error) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return version{}, fmt.Errorf("version %q is not major.minor (e.g. 1.27)", s)
	}
	maj, _ := strconv.Atoi(m[1])
	mnr, _ := strconv.Atoi(m[2])
	return version{maj, mnr}, nil
}

// atLeast reports whether v ≥ major.minor.
func (v version) atLeast(major, minor int) bool {
	return v.major > major || (v.major == major && v.minor >= minor)
}

func (v version) String() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }

// builder collects the documents and notes of one rendering.
type builder struct {
	mesh  string
	ver   version
	ns    string
	topo  scenarios.Topology
	p     scenarios.Pattern
	docs  []plugins.Document
	notes []string
	err   error
	// renamed lists the scenario names used in Kubernetes names that
	// kname changed, in first-use order.
	renamed []string
}

// kn is kubename.Name(s), remembering s when the conversion changed it (for the
// names note).
func (b *builder) kn(s string) string {
	k := kubename.Name(s)
	if k != s && !slices.Contains(b.renamed, s) {
		b.renamed = append(b.renamed, s)
	}
	return k
}

// add marshals obj as one YAML document named name ("payments VirtualService").
func (b *builder) add(name string, obj any) {
	data, err := yaml.MarshalWithOptions(obj, yaml.IndentSequence(true))
	if err != nil {
		if b.err == nil {
			b.err = fmt.Errorf("render %s: %w", name, err)
		}
		return
	}
	content := string(data)
	if !strings.HasSuffix(content, "\n") {
		content += "\n"
	}
	b.docs = append(b.docs, plugins.Document{Name: name, Format: "yaml", Content: content})
}

// note adds a one-line note prefixed with the mesh name; a repeated note is
// kept once.
func (b *builder) note(format string, args ...any) {
	n := b.mesh + ": " + fmt.Sprintf(format, args...)
	if !slices.Contains(b.notes, n) {
		b.notes = append(b.notes, n)
	}
}

// unsupported adds "not supported by <mesh>: <what>; <how>".
func (b *builder) unsupported(what, how string) {
	n := "not supported by " + b.mesh + ": " + what + "; " + how
	if !slices.Contains(b.notes, n) {
		b.notes = append(b.notes, n)
	}
}

// check refuses policies naming services or versions the topology lacks.
func (b *builder) check() error {
	has := func(s string) bool { return b.service(s) != nil }
	var names []string
	for _, r := range b.p.Retries {
		names = append(names, r.Service)
	}
	for _, r := range b.p.RetryBudgets {
		names = append(names, r.Service)
	}
	if c := b.p.CircuitBreaker; c != nil {
		names = append(names, c.Service)
	}
	if t := b.p.Timeout; t != nil {
		names = append(names, t.Service)
	}
	if r := b.p.RateLimit; r != nil {
		names = append(names, r.Service)
	}
	if f := b.p.Fault; f != nil {
		names = append(names, f.Service)
	}
	if s := b.p.Split; s != nil {
		names = append(names, s.Service)
	}
	for _, n := range names {
		if !has(n) {
			return fmt.Errorf("pattern names service %q, which the topology lacks (services: %s)", n, strings.Join(b.serviceNames(), ", "))
		}
	}
	if s := b.p.Split; s != nil {
		svc := b.service(s.Service)
		ok := func(v string) bool {
			return slices.ContainsFunc(svc.Versions, func(x scenarios.Version) bool { return x.Name == v })
		}
		for _, t := range s.Targets {
			if !ok(t.Version) {
				return fmt.Errorf("split names version %q, which service %s lacks", t.Version, s.Service)
			}
		}
		for _, m := range s.Match {
			if !ok(m.Version) {
				return fmt.Errorf("split match names version %q, which service %s lacks", m.Version, s.Service)
			}
		}
	}
	return nil
}

func (b *builder) serviceNames() []string {
	var out []string
	for _, s := range b.topo.Services {
		out = append(out, s.Name)
	}
	return out
}

func (b *builder) service(name string) *scenarios.Service {
	for i := range b.topo.Services {
		if b.topo.Services[i].Name == name {
			return &b.topo.Services[i]
		}
	}
	return nil
}

// callers lists the services that call service, in topology order.
func (b *builder) callers(service string) []string {
	var out []string
	for _, s := range b.topo.Services {
		if slices.Contains(s.Upstreams, service) {
			out = append(out, s.Name)
		}
	}
	return out
}

// fqdn is the cluster DNS name of service's Kubernetes Service.
func (b *builder) fqdn(service string) string {
	return b.kn(service) + "." + b.ns + ".svc.cluster.local"
}

// routed lists, in topology order, the services with a route-level policy
// (retries, timeout, split, fault): what a VirtualService, an HTTPRoute, a
// service-router or an Envoy RouteConfiguration carries.
func (b *builder) routed() []string {
	var out []string
	for _, s := range b.topo.Services {
		n := s.Name
		if b.p.Retry(n) != nil || b.timeout(n) != nil || b.split(n) != nil || b.fault(n) != nil {
			out = append(out, n)
		}
	}
	return out
}

func (b *builder) timeout(service string) *scenarios.TimeoutPolicy {
	if t := b.p.Timeout; t != nil && t.Service == service {
		return t
	}
	return nil
}

func (b *builder) split(service string) *scenarios.SplitPolicy {
	if s := b.p.Split; s != nil && s.Service == service {
		return s
	}
	return nil
}

func (b *builder) fault(service string) *scenarios.FaultPolicy {
	if f := b.p.Fault; f != nil && f.Service == service {
		return f
	}
	return nil
}

func (b *builder) breaker(service string) *scenarios.CircuitBreakerPolicy {
	if c := b.p.CircuitBreaker; c != nil && c.Service == service {
		return c
	}
	return nil
}

// perTry is the per-try timeout for calls to service: the TimeoutPolicy's
// PerTry, else the RetryPolicy's PerTryTimeout; 0 = none.
func (b *builder) perTry(service string) scenarios.Duration {
	if t := b.timeout(service); t != nil && t.PerTry > 0 {
		return t.PerTry
	}
	if r := b.p.Retry(service); r != nil {
		return r.PerTryTimeout
	}
	return 0
}

// commonNotes adds the notes every Kubernetes mesh shares: how the names
// used were converted.
func (b *builder) commonNotes() {
	var conv []string
	for _, n := range b.renamed {
		conv = append(conv, n+" → "+kubename.Name(n))
	}
	if len(conv) > 0 {
		b.note("Kubernetes names cannot contain '_' (RFC 1123): %s; the pods' version label keeps the scenario's name (label values may contain '_') (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/)", strings.Join(conv, ", "))
	}
}

// rolloutNote explains what a progressive rollout becomes.
func (b *builder) rolloutNote(controller string) {
	s := b.p.Split
	if s == nil || s.Rollout == nil {
		return
	}
	r := s.Rollout
	b.note("the rollout (%s +%s%% per step up to %s%% while its error rate ≤ %s%% and p99 ≤ +%s%%) is meshgym's engine rewriting these weights step by step; they are rendered at the start weights; %s",
		r.Canary, num(r.StepWeight), num(r.MaxWeight), num(r.MaxErrorRate), num(r.MaxLatencyIncrease), controller)
}

// dur writes a duration as Kubernetes, Istio, Kuma, Consul, Linkerd and
// Gateway API all read it: whole seconds as "60s", else whole milliseconds
// as "100ms" (sub-millisecond durations round up to 1ms).
func dur(d scenarios.Duration) string {
	t := d.D()
	if t%time.Second == 0 {
		return strconv.FormatInt(int64(t/time.Second), 10) + "s"
	}
	ms := int64(math.Ceil(float64(t) / float64(time.Millisecond)))
	return strconv.FormatInt(ms, 10) + "ms"
}

// protoDur writes a duration in protobuf JSON form, as Envoy reads it:
// "0.025s", "60s".
func protoDur(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// num writes a float without a trailing ".0": 50, 0.5.
func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// number is f as an int when whole (so YAML shows 50, not 50.0).
func number(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f)
	}
	return f
}

// relWeights turns percent weights into the integers of APIs whose weights
// are relative (Envoy weighted clusters, Gateway API, Kuma): the percents
// themselves when all are whole, else the percents × 100 rounded.
func relWeights(ts []scenarios.WeightedTarget) []int {
	whole := true
	for _, t := range ts {
		if t.Weight != math.Trunc(t.Weight) {
			whole = false
		}
	}
	out := make([]int, len(ts))
	for i, t := range ts {
		if whole {
			out[i] = int(t.Weight)
		} else {
			out[i] = int(math.Round(t.Weight * 100))
		}
	}
	return out
}

// percentWeights turns percent weights into integers summing to 100 by the
// largest remainder (Istio's route weights); exact reports whether no
// weight was rounded.
func percentWeights(ts []scenarios.WeightedTarget) (out []int, exact bool) {
	out = make([]int, len(ts))
	sum := 0
	exact = true
	type rem struct {
		i int
		r float64
	}
	var rems []rem
	for i, t := range ts {
		out[i] = int(math.Floor(t.Weight))
		sum += out[i]
		if r := t.Weight - math.Floor(t.Weight); r > 0 {
			exact = false
			rems = append(rems, rem{i, r})
		}
	}
	slices.SortStableFunc(rems, func(a, b rem) int {
		switch {
		case a.r > b.r:
			return -1
		case a.r < b.r:
			return 1
		}
		return 0
	})
	for k := 0; sum < 100 && k < len(rems); k++ {
		out[rems[k].i]++
		sum++
	}
	return out, exact
}

// header is one exact header match (name lower-cased).
type header struct{ name, value string }

// headers returns m's header matches sorted by name, lower-cased as HTTP/2
// and Istio require.
func headers(m scenarios.MatchRoute) []header {
	var out []header
	for k, v := range m.Headers {
		out = append(out, header{strings.ToLower(k), v})
	}
	slices.SortFunc(out, func(a, b header) int { return strings.Compare(a.name, b.name) })
	return out
}

// cookieRegex is an RE2 regex on the Cookie header that matches when every
// cookie of m has its value; "" when m has no cookies. It is anchored, so
// full-match (Envoy safe_regex) and search semantics agree. Cookies are
// matched in name order.
func cookieRegex(m scenarios.MatchRoute) string {
	if len(m.Cookies) == 0 {
		return ""
	}
	names := make([]string, 0, len(m.Cookies))
	for k := range m.Cookies {
		names = append(names, k)
	}
	slices.Sort(names)
	var sb strings.Builder
	sb.WriteString("^")
	for _, n := range names {
		sb.WriteString(`(.*;\s*)?` + regexp.QuoteMeta(n) + "=" + regexp.QuoteMeta(m.Cookies[n]))
		if n != names[len(names)-1] {
			sb.WriteString(";")
		}
	}
	sb.WriteString(`(;.*)?$`)
	return sb.String()
}

// matchNotes notes the cookie limitations a split's match routes meet.
func (b *builder) matchNotes(s *scenarios.SplitPolicy) {
	for _, m := range s.Match {
		if len(m.Cookies) > 0 {
			b.note("cookie matches are a regex on the Cookie header (no cookie matcher in this API)")
		}
		if len(m.Cookies) > 1 {
			b.note("a match with several cookies expects them in name order in the Cookie header")
		}
	}
}

// retryOnHas reports whether the retry policy for service retries on one
// of conds.
func retryOnHas(r *scenarios.RetryPolicy, conds ...string) bool {
	if r == nil {
		return false
	}
	for _, c := range r.RetryOn {
		if slices.Contains(conds, c) {
			return true
		}
	}
	return false
}

// perTryRetryNote notes that a per-try timeout is retried only under 5xx,
// gateway-error or reset (Envoy's rule, shared by the Envoy meshes).
func (b *builder) perTryRetryNote(service string) {
	if b.perTry(service) == 0 {
		return
	}
	r := b.p.Retry(service)
	if r == nil {
		b.note("calls to %s have a per-try timeout but no retry policy: the timed-out attempt is not retried, so it acts as a request timeout", service)
		return
	}
	if !retryOnHas(r, "5xx", "gateway-error", "reset") {
		b.note("a timed-out attempt to %s is retried only when retryOn has 5xx, gateway-error or reset, and it has %s (Envoy router.cc onPerTryTimeout; https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/router_filter)", service, strings.Join(r.RetryOn, ","))
	}
}

// tokenBucket picks an Envoy token bucket for rps requests per second with
// bucket size burst: max_tokens = burst and the largest tokens_per_fill ≤
// burst whose fill interval rps/tokens is a whole number of milliseconds of
// at least 50ms (Envoy's minimum). Keeping tokens_per_fill ≤ max_tokens
// makes the rate exact for timer-refilled buckets too. exact is false when
// no such pair exists (then 1s / ⌈rps⌉ is used).
func tokenBucket(rps float64, burst int) (maxTokens, perFill int, fill time.Duration, exact bool) {
	if burst < 1 {
		burst = 1
	}
	for t := burst; t >= 1; t-- {
		ms := float64(t) * 1000 / rps
		if ms >= 50 && math.Abs(ms-math.Round(ms)) < 1e-9 {
			return burst, t, time.Duration(math.Round(ms)) * time.Millisecond, true
		}
	}
	return max(burst, int(math.Ceil(rps))), int(math.Ceil(rps)), time.Second, false
}
