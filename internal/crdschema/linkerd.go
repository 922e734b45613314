package crdschema

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Linkerd's own custom resources (policy.linkerd.io, linkerd.io). Their
// CRDs ship in Linkerd's Helm chart (linkerd-crds), not in a Go module
// meshgym depends on, so these structs are written from Linkerd's public
// reference pages, each linked on its type. Linkerd 2.18+ reads HTTPRoute
// from gateway.networking.k8s.io/v1, which is validated with Gateway API's
// CRD instead (Default loads it).

const (
	linkerdServerDoc    = "https://linkerd.io/2/reference/authorization-policy/#server"
	linkerdRateLimitDoc = "https://linkerd.io/2/reference/rate-limiting/"
	linkerdHTTPRouteDoc = "https://linkerd.io/2/reference/httproute/"
	linkerdProfileDoc   = "https://linkerd.io/2/reference/service-profiles/"
)

func init() {
	registerTyped("policy.linkerd.io/v1beta3", "Server", linkerdServerDoc, true, func() any { return &LinkerdServer{} })
	registerTyped("policy.linkerd.io/v1alpha1", "HTTPLocalRateLimitPolicy", linkerdRateLimitDoc, true, func() any { return &LinkerdHTTPLocalRateLimitPolicy{} })
	registerTyped("policy.linkerd.io/v1beta3", "HTTPRoute", linkerdHTTPRouteDoc, true, func() any { return &LinkerdHTTPRoute{} })
	registerTyped("linkerd.io/v1alpha2", "ServiceProfile", linkerdProfileDoc, true, func() any { return &LinkerdServiceProfile{} })
}

// LinkerdServer is the spec of a Server (policy.linkerd.io/v1beta3): the
// port of the selected pods (or external workloads) that policy applies
// to, its protocol, and the default access policy
// (https://linkerd.io/2/reference/authorization-policy/#server).
type LinkerdServer struct {
	PodSelector              *metav1.LabelSelector `json:"podSelector,omitempty"`
	ExternalWorkloadSelector *metav1.LabelSelector `json:"externalWorkloadSelector,omitempty"`
	// Port is a port number or a container port name.
	Port          intstr.IntOrString `json:"port"`
	ProxyProtocol string             `json:"proxyProtocol,omitempty" check:"enum=unknown|HTTP/1|HTTP/2|gRPC|opaque|TLS"`
	AccessPolicy  string             `json:"accessPolicy,omitempty" check:"enum=deny|all-authenticated|all-unauthenticated|cluster-authenticated|cluster-unauthenticated|audit"`
}

func (s *LinkerdServer) crossCheck(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if (s.PodSelector == nil) == (s.ExternalWorkloadSelector == nil) {
		errs = append(errs, field.Invalid(p, nil, "exactly one of podSelector and externalWorkloadSelector must be set"))
	}
	errs = append(errs, validatePortRef(s.Port, p.Child("port"))...)
	return errs
}

// LinkerdHTTPLocalRateLimitPolicy is the spec of an
// HTTPLocalRateLimitPolicy (policy.linkerd.io/v1alpha1, Linkerd 2.17+):
// per-proxy rate limits for a Server's inbound traffic, answered 429
// (https://linkerd.io/2/reference/rate-limiting/).
type LinkerdHTTPLocalRateLimitPolicy struct {
	TargetRef LinkerdTargetRef           `json:"targetRef"`
	Total     *LinkerdRPS                `json:"total,omitempty"`
	Identity  *LinkerdRPS                `json:"identity,omitempty"`
	Overrides []LinkerdRateLimitOverride `json:"overrides,omitempty"`
}

func (r *LinkerdHTTPLocalRateLimitPolicy) crossCheck(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if r.TargetRef.Group != "policy.linkerd.io" || r.TargetRef.Kind != "Server" {
		errs = append(errs, field.Invalid(p.Child("targetRef"), r.TargetRef.Group+"/"+r.TargetRef.Kind, "must reference a policy.linkerd.io Server"))
	}
	if r.Total == nil && r.Identity == nil && len(r.Overrides) == 0 {
		errs = append(errs, field.Required(p.Child("total"), "at least one of total, identity, overrides"))
	}
	return errs
}

// LinkerdTargetRef names the resource a policy attaches to.
type LinkerdTargetRef struct {
	Group string `json:"group,omitempty"`
	Kind  string `json:"kind" check:"required"`
	Name  string `json:"name" check:"required"`
}

// LinkerdRPS is a requests-per-second limit.
type LinkerdRPS struct {
	RequestsPerSecond int64 `json:"requestsPerSecond" check:"required,min=1"`
}

// LinkerdRateLimitOverride is a limit for some clients.
type LinkerdRateLimitOverride struct {
	RequestsPerSecond int64              `json:"requestsPerSecond" check:"required,min=1"`
	ClientRefs        []LinkerdClientRef `json:"clientRefs" check:"required"`
}

// LinkerdClientRef names a client identity (a ServiceAccount).
type LinkerdClientRef struct {
	Kind string `json:"kind" check:"required,enum=ServiceAccount"`
	Name string `json:"name" check:"required"`
}

// LinkerdHTTPRoute is the spec of Linkerd's own HTTPRoute
// (policy.linkerd.io/v1beta3, read by Linkerd before 2.18): Gateway API's
// HTTPRoute shape with parentRefs of kind Service (outbound) or Server
// (inbound) and GEP-2257 durations in timeouts
// (https://linkerd.io/2/reference/httproute/).
type LinkerdHTTPRoute struct {
	ParentRefs []LinkerdParentRef `json:"parentRefs,omitempty"`
	Hostnames  []string           `json:"hostnames,omitempty"`
	Rules      []LinkerdRouteRule `json:"rules,omitempty"`
}

// LinkerdParentRef attaches the route to a Service or a Server.
type LinkerdParentRef struct {
	Group       string `json:"group,omitempty"`
	Kind        string `json:"kind,omitempty" check:"enum=Service|Server"`
	Namespace   string `json:"namespace,omitempty"`
	Name        string `json:"name" check:"required"`
	SectionName string `json:"sectionName,omitempty"`
	Port        *int64 `json:"port,omitempty" check:"min=1,max=65535"`
}

// LinkerdRouteRule is one rule: matches, filters, backends, timeouts.
type LinkerdRouteRule struct {
	Matches     []LinkerdRouteMatch  `json:"matches,omitempty"`
	Filters     []LinkerdRouteFilter `json:"filters,omitempty"`
	BackendRefs []LinkerdBackendRef  `json:"backendRefs,omitempty"`
	Timeouts    *LinkerdTimeouts     `json:"timeouts,omitempty"`
}

// LinkerdRouteMatch matches requests by path, headers, query and method.
type LinkerdRouteMatch struct {
	Path        *LinkerdPathMatch   `json:"path,omitempty"`
	Headers     []LinkerdValueMatch `json:"headers,omitempty"`
	QueryParams []LinkerdValueMatch `json:"queryParams,omitempty"`
	Method      string              `json:"method,omitempty" check:"enum=GET|HEAD|POST|PUT|DELETE|CONNECT|OPTIONS|TRACE|PATCH"`
}

// LinkerdPathMatch matches the path.
type LinkerdPathMatch struct {
	Type  string `json:"type,omitempty" check:"enum=Exact|PathPrefix|RegularExpression"`
	Value string `json:"value,omitempty"`
}

// LinkerdValueMatch matches a header or query parameter.
type LinkerdValueMatch struct {
	Type  string `json:"type,omitempty" check:"enum=Exact|RegularExpression"`
	Name  string `json:"name" check:"required"`
	Value string `json:"value" check:"required"`
}

func (m *LinkerdValueMatch) crossCheck(p *field.Path) field.ErrorList {
	if m.Type == "RegularExpression" {
		return checkScalar(reflectString(m.Value), []string{"regex"}, p.Child("value"))
	}
	return nil
}

// LinkerdRouteFilter modifies requests or responses.
type LinkerdRouteFilter struct {
	Type                   string                  `json:"type" check:"required,enum=RequestHeaderModifier|ResponseHeaderModifier|RequestRedirect"`
	RequestHeaderModifier  *LinkerdHeaderModifier  `json:"requestHeaderModifier,omitempty"`
	ResponseHeaderModifier *LinkerdHeaderModifier  `json:"responseHeaderModifier,omitempty"`
	RequestRedirect        *LinkerdRequestRedirect `json:"requestRedirect,omitempty"`
}

// LinkerdHeaderModifier sets, adds or removes headers.
type LinkerdHeaderModifier struct {
	Set    []LinkerdHeader `json:"set,omitempty"`
	Add    []LinkerdHeader `json:"add,omitempty"`
	Remove []string        `json:"remove,omitempty"`
}

// LinkerdHeader is a header name and value.
type LinkerdHeader struct {
	Name  string `json:"name" check:"required"`
	Value string `json:"value"`
}

// LinkerdRequestRedirect answers with a redirect.
type LinkerdRequestRedirect struct {
	Scheme     string         `json:"scheme,omitempty" check:"enum=http|https"`
	Hostname   string         `json:"hostname,omitempty"`
	Path       map[string]any `json:"path,omitempty"`
	Port       *int64         `json:"port,omitempty" check:"min=1,max=65535"`
	StatusCode *int64         `json:"statusCode,omitempty" check:"enum=301|302"`
}

// LinkerdBackendRef is a weighted backend Service.
type LinkerdBackendRef struct {
	Group     string               `json:"group,omitempty"`
	Kind      string               `json:"kind,omitempty" check:"enum=Service"`
	Name      string               `json:"name" check:"required"`
	Namespace string               `json:"namespace,omitempty"`
	Port      *int64               `json:"port,omitempty" check:"min=1,max=65535"`
	Weight    *int64               `json:"weight,omitempty" check:"min=0,max=1000000"`
	Filters   []LinkerdRouteFilter `json:"filters,omitempty"`
}

// LinkerdTimeouts are the rule's timeouts (GEP-2257 durations).
type LinkerdTimeouts struct {
	Request        string `json:"request,omitempty" check:"gwduration"`
	BackendRequest string `json:"backendRequest,omitempty" check:"gwduration"`
}

// LinkerdServiceProfile is the spec of a ServiceProfile (linkerd.io/v1alpha2):
// per-route metrics, retries (isRetryable) and timeouts, the retry budget
// and traffic-split overrides; named after the service's FQDN
// (https://linkerd.io/2/reference/service-profiles/).
type LinkerdServiceProfile struct {
	Routes       []LinkerdProfileRoute `json:"routes,omitempty"`
	RetryBudget  *LinkerdRetryBudget   `json:"retryBudget,omitempty"`
	DstOverrides []LinkerdDstOverride  `json:"dstOverrides,omitempty"`
	OpaquePorts  []int64               `json:"opaquePorts,omitempty" check:"min=1,max=65535"`
}

// LinkerdProfileRoute is a named route with its request condition.
type LinkerdProfileRoute struct {
	Name            string                 `json:"name" check:"required"`
	Condition       *LinkerdRequestMatch   `json:"condition" check:"required"`
	ResponseClasses []LinkerdResponseClass `json:"responseClasses,omitempty"`
	IsRetryable     bool                   `json:"isRetryable,omitempty"`
	Timeout         string                 `json:"timeout,omitempty" check:"duration"`
}

// LinkerdRequestMatch is a request condition (combinable with all/any/not).
type LinkerdRequestMatch struct {
	All       []LinkerdRequestMatch `json:"all,omitempty"`
	Any       []LinkerdRequestMatch `json:"any,omitempty"`
	Not       *LinkerdRequestMatch  `json:"not,omitempty"`
	PathRegex string                `json:"pathRegex,omitempty" check:"regex"`
	Method    string                `json:"method,omitempty"`
}

// LinkerdResponseClass classifies responses as failures.
type LinkerdResponseClass struct {
	Condition LinkerdResponseMatch `json:"condition"`
	IsFailure bool                 `json:"isFailure,omitempty"`
}

// LinkerdResponseMatch is a response condition.
type LinkerdResponseMatch struct {
	All    []LinkerdResponseMatch `json:"all,omitempty"`
	Any    []LinkerdResponseMatch `json:"any,omitempty"`
	Not    *LinkerdResponseMatch  `json:"not,omitempty"`
	Status *LinkerdStatusRange    `json:"status,omitempty"`
}

// LinkerdStatusRange is an inclusive range of HTTP statuses.
type LinkerdStatusRange struct {
	Min int64 `json:"min,omitempty" check:"min=100,max=599"`
	Max int64 `json:"max,omitempty" check:"min=100,max=599"`
}

// LinkerdRetryBudget bounds retries: at most retryRatio × the requests of
// the last ttl, plus minRetriesPerSecond.
type LinkerdRetryBudget struct {
	RetryRatio          *float64 `json:"retryRatio" check:"required,min=0"`
	MinRetriesPerSecond *int64   `json:"minRetriesPerSecond" check:"required,min=0,max=4294967295"`
	TTL                 string   `json:"ttl" check:"required,duration"`
}

// LinkerdDstOverride sends a weight of the traffic to an authority.
type LinkerdDstOverride struct {
	Authority string            `json:"authority" check:"required"`
	Weight    resource.Quantity `json:"weight"`
}

// validatePortRef checks a port number (1–65535) or an IANA_SVC_NAME.
func validatePortRef(port intstr.IntOrString, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if port.Type == intstr.Int {
		if port.IntVal < 1 || port.IntVal > 65535 {
			errs = append(errs, field.Invalid(p, port.IntVal, "must be between 1 and 65535, inclusive"))
		}
		return errs
	}
	for _, msg := range utilvalidation.IsValidPortName(port.StrVal) {
		errs = append(errs, field.Invalid(p, port.StrVal, msg))
	}
	return errs
}

// linkerdAnnotations are the Linkerd annotations (on Services, HTTPRoutes,
// namespaces, pods) whose values Linkerd parses, by key: Service and route
// retries (https://linkerd.io/2/reference/retries/), timeouts
// (https://linkerd.io/2/reference/timeouts/), failure accrual
// (https://linkerd.io/2/reference/circuit-breaking/) and proxy injection
// (https://linkerd.io/2/features/proxy-injection/). A key in one of the
// linkerdAnnotationDomains that is not listed is a typo to Linkerd, which
// ignores it silently.
var linkerdAnnotations = map[string]func(string) string{
	"retry.linkerd.io/http":    checkRetryHTTP,
	"retry.linkerd.io/grpc":    checkList("cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable"),
	"retry.linkerd.io/limit":   checkUint,
	"retry.linkerd.io/timeout": checkDuration,

	"timeout.linkerd.io/request":  checkDuration,
	"timeout.linkerd.io/response": checkDuration,
	"timeout.linkerd.io/idle":     checkDuration,

	"balancer.linkerd.io/failure-accrual":                          checkList("consecutive"),
	"balancer.linkerd.io/failure-accrual-consecutive-max-failures": checkUint,
	"balancer.linkerd.io/failure-accrual-consecutive-min-penalty":  checkDuration,
	"balancer.linkerd.io/failure-accrual-consecutive-max-penalty":  checkDuration,
	"balancer.linkerd.io/failure-accrual-consecutive-jitter-ratio": checkFloat,
	"linkerd.io/inject": checkList("enabled", "disabled", "ingress"),
}

// linkerdAnnotationDomains are the annotation prefixes checked strictly.
var linkerdAnnotationDomains = []string{"retry.linkerd.io/", "timeout.linkerd.io/", "balancer.linkerd.io/"}

// validateLinkerdAnnotations checks the Linkerd annotations of an object.
func validateLinkerdAnnotations(ann map[string]string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	keys := make([]string, 0, len(ann))
	for k := range ann {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		check, known := linkerdAnnotations[k]
		if !known {
			for _, d := range linkerdAnnotationDomains {
				if strings.HasPrefix(k, d) {
					errs = append(errs, unknownField(p.Key(k).String()))
				}
			}
			continue
		}
		if msg := check(ann[k]); msg != "" {
			errs = append(errs, field.Invalid(p.Key(k), ann[k], msg))
		}
	}
	return errs
}

func checkDuration(s string) string {
	if _, err := time.ParseDuration(s); err != nil {
		return "must be a duration such as 250ms or 10s"
	}
	return ""
}

func checkUint(s string) string {
	if _, err := strconv.ParseUint(s, 10, 32); err != nil {
		return "must be a non-negative integer"
	}
	return ""
}

func checkFloat(s string) string {
	if f, err := strconv.ParseFloat(s, 64); err != nil || f < 0 {
		return "must be a non-negative number"
	}
	return ""
}

// checkList accepts a comma-separated list of the given values.
func checkList(allowed ...string) func(string) string {
	return func(s string) string {
		for _, v := range strings.Split(s, ",") {
			if !slices.Contains(allowed, strings.TrimSpace(v)) {
				return "must be a comma-separated list of " + strings.Join(allowed, ", ")
			}
		}
		return ""
	}
}

// checkRetryHTTP accepts retry.linkerd.io/http's list of 5xx,
// gateway-error, a status code or a range of codes ("500-504").
func checkRetryHTTP(s string) string {
	for _, v := range strings.Split(s, ",") {
		v = strings.TrimSpace(v)
		if v == "5xx" || v == "gateway-error" {
			continue
		}
		lo, hi, isRange := strings.Cut(v, "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || a < 100 || b > 599 || a > b {
			return "must be a comma-separated list of 5xx, gateway-error, status codes (500) and ranges (500-504)"
		}
	}
	return ""
}
