package crdschema

import (
	"fmt"
	"math"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Consul config entries as Kubernetes custom resources
// (consul.hashicorp.com/v1alpha1). Consul's CRDs ship in consul-k8s, whose
// licence (BUSL 1.1) is not open source, so nothing of it is read or
// copied here: these structs are written from the public configuration
// reference pages (the "YAML (Kubernetes)" form of each entry), each
// linked on its type. Fields are the Kubernetes camelCase names; every
// spec field the reference lists for Consul 1.21 is present, so a typo is
// an unknown field.

const consulAPIVersion = "consul.hashicorp.com/v1alpha1"

const (
	consulDefaultsDoc   = "https://developer.hashicorp.com/consul/docs/connect/config-entries/service-defaults"
	consulResolverDoc   = "https://developer.hashicorp.com/consul/docs/connect/config-entries/service-resolver"
	consulRouterDoc     = "https://developer.hashicorp.com/consul/docs/connect/config-entries/service-router"
	consulSplitterDoc   = "https://developer.hashicorp.com/consul/docs/connect/config-entries/service-splitter"
	consulIntentionsDoc = "https://developer.hashicorp.com/consul/docs/connect/config-entries/service-intentions"
)

func init() {
	registerTyped(consulAPIVersion, "ServiceDefaults", consulDefaultsDoc, true, func() any { return &ConsulServiceDefaults{} })
	registerTyped(consulAPIVersion, "ServiceResolver", consulResolverDoc, true, func() any { return &ConsulServiceResolver{} })
	registerTyped(consulAPIVersion, "ServiceRouter", consulRouterDoc, true, func() any { return &ConsulServiceRouter{} })
	registerTyped(consulAPIVersion, "ServiceSplitter", consulSplitterDoc, true, func() any { return &ConsulServiceSplitter{} })
	registerTyped(consulAPIVersion, "ServiceIntentions", consulIntentionsDoc, true, func() any { return &ConsulServiceIntentions{} })
}

// ConsulServiceDefaults is the spec of a ServiceDefaults config entry:
// the service's protocol and the defaults of its proxies and upstreams
// (https://developer.hashicorp.com/consul/docs/connect/config-entries/service-defaults).
type ConsulServiceDefaults struct {
	// Protocol the sidecars proxy: tcp (Consul's default), http, http2, grpc.
	Protocol                  string                  `json:"protocol,omitempty" check:"enum=tcp|http|http2|grpc"`
	Mode                      string                  `json:"mode,omitempty" check:"enum=direct|transparent"`
	TransparentProxy          *ConsulTransparentProxy `json:"transparentProxy,omitempty"`
	MutualTLSMode             string                  `json:"mutualTLSMode,omitempty" check:"enum=strict|permissive"`
	MeshGateway               *ConsulMeshGateway      `json:"meshGateway,omitempty"`
	Expose                    *ConsulExpose           `json:"expose,omitempty"`
	ExternalSNI               string                  `json:"externalSNI,omitempty"`
	UpstreamConfig            *ConsulUpstreamConfig   `json:"upstreamConfig,omitempty"`
	Destination               *ConsulDestination      `json:"destination,omitempty"`
	MaxInboundConnections     *int64                  `json:"maxInboundConnections,omitempty" check:"min=0"`
	LocalConnectTimeoutMs     *int64                  `json:"localConnectTimeoutMs,omitempty" check:"min=0"`
	LocalRequestTimeoutMs     *int64                  `json:"localRequestTimeoutMs,omitempty" check:"min=0"`
	BalanceInboundConnections string                  `json:"balanceInboundConnections,omitempty" check:"enum=exact_balance"`
	RateLimits                *ConsulRateLimits       `json:"rateLimits,omitempty"`
	EnvoyExtensions           []ConsulEnvoyExtension  `json:"envoyExtensions,omitempty"`
	Meta                      map[string]string       `json:"meta,omitempty"`
}

// ConsulTransparentProxy is ServiceDefaults transparentProxy.
type ConsulTransparentProxy struct {
	OutboundListenerPort *int64 `json:"outboundListenerPort,omitempty" check:"min=0,max=65535"`
	DialedDirectly       bool   `json:"dialedDirectly,omitempty"`
}

// ConsulMeshGateway is meshGateway: how traffic crosses datacenters.
type ConsulMeshGateway struct {
	Mode string `json:"mode,omitempty" check:"enum=none|local|remote"`
}

// ConsulExpose is ServiceDefaults expose: paths served without mTLS.
type ConsulExpose struct {
	Checks bool               `json:"checks,omitempty"`
	Paths  []ConsulExposePath `json:"paths,omitempty"`
}

// ConsulExposePath is one exposed path.
type ConsulExposePath struct {
	ListenerPort  int64  `json:"listenerPort,omitempty" check:"min=0,max=65535"`
	Path          string `json:"path,omitempty"`
	LocalPathPort int64  `json:"localPathPort,omitempty" check:"min=0,max=65535"`
	Protocol      string `json:"protocol,omitempty" check:"enum=http|http2"`
}

// ConsulUpstreamConfig is ServiceDefaults upstreamConfig: settings for all
// upstreams (defaults) and per upstream (overrides).
type ConsulUpstreamConfig struct {
	Defaults  *ConsulUpstream  `json:"defaults,omitempty"`
	Overrides []ConsulUpstream `json:"overrides,omitempty"`
}

// ConsulUpstream is one upstreamConfig entry; name is required in overrides.
type ConsulUpstream struct {
	Name                       string                    `json:"name,omitempty"`
	Namespace                  string                    `json:"namespace,omitempty"`
	Partition                  string                    `json:"partition,omitempty"`
	Peer                       string                    `json:"peer,omitempty"`
	EnvoyListenerJSON          string                    `json:"envoyListenerJSON,omitempty"`
	EnvoyClusterJSON           string                    `json:"envoyClusterJSON,omitempty"`
	Protocol                   string                    `json:"protocol,omitempty" check:"enum=tcp|http|http2|grpc"`
	ConnectTimeoutMs           *int64                    `json:"connectTimeoutMs,omitempty" check:"min=0"`
	Limits                     *ConsulUpstreamLimits     `json:"limits,omitempty"`
	PassiveHealthCheck         *ConsulPassiveHealthCheck `json:"passiveHealthCheck,omitempty"`
	MeshGateway                *ConsulMeshGateway        `json:"meshGateway,omitempty"`
	BalanceOutboundConnections string                    `json:"balanceOutboundConnections,omitempty" check:"enum=exact_balance"`
}

// ConsulUpstreamLimits are Envoy circuit-breaker thresholds.
type ConsulUpstreamLimits struct {
	MaxConnections        *int64 `json:"maxConnections,omitempty" check:"min=0"`
	MaxPendingRequests    *int64 `json:"maxPendingRequests,omitempty" check:"min=0"`
	MaxConcurrentRequests *int64 `json:"maxConcurrentRequests,omitempty" check:"min=0"`
}

// ConsulPassiveHealthCheck is Envoy outlier detection on an upstream:
// interval and baseEjectionTime are durations, maxFailures is Envoy's
// consecutive_5xx, enforcingConsecutive5xx and maxEjectionPercent are
// percents.
type ConsulPassiveHealthCheck struct {
	Interval                string `json:"interval,omitempty" check:"duration"`
	MaxFailures             *int64 `json:"maxFailures,omitempty" check:"min=0,max=4294967295"`
	EnforcingConsecutive5xx *int64 `json:"enforcingConsecutive5xx,omitempty" check:"min=0,max=100"`
	MaxEjectionPercent      *int64 `json:"maxEjectionPercent,omitempty" check:"min=0,max=100"`
	BaseEjectionTime        string `json:"baseEjectionTime,omitempty" check:"duration"`
}

// ConsulDestination is a terminating-gateway destination.
type ConsulDestination struct {
	Addresses []string `json:"addresses,omitempty"`
	Port      int64    `json:"port,omitempty" check:"min=0,max=65535"`
}

// ConsulRateLimits is ServiceDefaults rateLimits (Consul Enterprise 1.17+).
type ConsulRateLimits struct {
	InstanceLevel *ConsulInstanceLevel `json:"instanceLevel,omitempty"`
}

// ConsulInstanceLevel is a token bucket per service instance.
type ConsulInstanceLevel struct {
	RequestsPerSecond *int64             `json:"requestsPerSecond,omitempty" check:"min=0"`
	RequestsMaxBurst  *int64             `json:"requestsMaxBurst,omitempty" check:"min=0"`
	Routes            []ConsulRouteLimit `json:"routes,omitempty"`
}

// ConsulRouteLimit is a rate limit on one path.
type ConsulRouteLimit struct {
	PathExact         string `json:"pathExact,omitempty"`
	PathPrefix        string `json:"pathPrefix,omitempty"`
	PathRegex         string `json:"pathRegex,omitempty" check:"regex"`
	RequestsPerSecond int64  `json:"requestsPerSecond" check:"min=0"`
	RequestsMaxBurst  int64  `json:"requestsMaxBurst,omitempty" check:"min=0"`
}

func (r *ConsulRouteLimit) crossCheck(p *field.Path) field.ErrorList {
	if countSet(r.PathExact, r.PathPrefix, r.PathRegex) != 1 {
		return field.ErrorList{field.Invalid(p, nil, "exactly one of pathExact, pathPrefix, pathRegex must be set")}
	}
	return nil
}

// ConsulEnvoyExtension is one entry of envoyExtensions.
type ConsulEnvoyExtension struct {
	Name          string         `json:"name" check:"required"`
	Required      bool           `json:"required,omitempty"`
	Arguments     map[string]any `json:"arguments,omitempty"`
	ConsulVersion string         `json:"consulVersion,omitempty"`
	EnvoyVersion  string         `json:"envoyVersion,omitempty"`
}

// ConsulServiceResolver is the spec of a ServiceResolver: subsets,
// redirects, failover and load balancing for a service
// (https://developer.hashicorp.com/consul/docs/connect/config-entries/service-resolver).
type ConsulServiceResolver struct {
	DefaultSubset        string                          `json:"defaultSubset,omitempty"`
	Subsets              map[string]ConsulResolverSubset `json:"subsets,omitempty"`
	Redirect             *ConsulRedirect                 `json:"redirect,omitempty"`
	Failover             map[string]ConsulFailover       `json:"failover,omitempty"`
	ConnectTimeout       string                          `json:"connectTimeout,omitempty" check:"duration"`
	RequestTimeout       string                          `json:"requestTimeout,omitempty" check:"duration"`
	LoadBalancer         *ConsulLoadBalancer             `json:"loadBalancer,omitempty"`
	PrioritizeByLocality *ConsulLocality                 `json:"prioritizeByLocality,omitempty"`
	Meta                 map[string]string               `json:"meta,omitempty"`
}

func (r *ConsulServiceResolver) crossCheck(p *field.Path) field.ErrorList {
	if r.DefaultSubset != "" {
		if _, ok := r.Subsets[r.DefaultSubset]; !ok {
			return field.ErrorList{field.Invalid(p.Child("defaultSubset"), r.DefaultSubset, "must name one of subsets")}
		}
	}
	return nil
}

// ConsulResolverSubset selects instances by a filter expression
// (https://developer.hashicorp.com/consul/api-docs/features/filtering).
type ConsulResolverSubset struct {
	Filter      string `json:"filter,omitempty"`
	OnlyPassing bool   `json:"onlyPassing,omitempty"`
}

// ConsulRedirect sends all traffic to another service or datacenter.
type ConsulRedirect struct {
	Service       string `json:"service,omitempty"`
	ServiceSubset string `json:"serviceSubset,omitempty"`
	Namespace     string `json:"namespace,omitempty"`
	Partition     string `json:"partition,omitempty"`
	SamenessGroup string `json:"samenessGroup,omitempty"`
	Datacenter    string `json:"datacenter,omitempty"`
	Peer          string `json:"peer,omitempty"`
}

// ConsulFailover is a failover policy for a subset ("*" = all).
type ConsulFailover struct {
	Service       string                 `json:"service,omitempty"`
	ServiceSubset string                 `json:"serviceSubset,omitempty"`
	Namespace     string                 `json:"namespace,omitempty"`
	SamenessGroup string                 `json:"samenessGroup,omitempty"`
	Datacenters   []string               `json:"datacenters,omitempty"`
	Targets       []ConsulFailoverTarget `json:"targets,omitempty"`
	Policy        *ConsulFailoverPolicy  `json:"policy,omitempty"`
}

// ConsulFailoverTarget is one failover target.
type ConsulFailoverTarget struct {
	Service       string `json:"service,omitempty"`
	ServiceSubset string `json:"serviceSubset,omitempty"`
	Namespace     string `json:"namespace,omitempty"`
	Partition     string `json:"partition,omitempty"`
	Datacenter    string `json:"datacenter,omitempty"`
	Peer          string `json:"peer,omitempty"`
}

// ConsulFailoverPolicy orders failover targets.
type ConsulFailoverPolicy struct {
	Mode    string   `json:"mode,omitempty" check:"enum=default|order-by-locality"`
	Regions []string `json:"regions,omitempty"`
}

// ConsulLoadBalancer is the resolver's load-balancing policy (Envoy's).
type ConsulLoadBalancer struct {
	Policy             string              `json:"policy,omitempty" check:"enum=random|round_robin|least_request|ring_hash|maglev"`
	RingHashConfig     *ConsulRingHash     `json:"ringHashConfig,omitempty"`
	LeastRequestConfig *ConsulLeastRequest `json:"leastRequestConfig,omitempty"`
	HashPolicies       []ConsulHashPolicy  `json:"hashPolicies,omitempty"`
}

// ConsulRingHash sizes the ring of ring_hash.
type ConsulRingHash struct {
	MinimumRingSize int64 `json:"minimumRingSize,omitempty" check:"min=0"`
	MaximumRingSize int64 `json:"maximumRingSize,omitempty" check:"min=0"`
}

// ConsulLeastRequest is least_request's choice count.
type ConsulLeastRequest struct {
	ChoiceCount int64 `json:"choiceCount,omitempty" check:"min=0"`
}

// ConsulHashPolicy is one hash policy of ring_hash/maglev.
type ConsulHashPolicy struct {
	Field        string            `json:"field,omitempty" check:"enum=header|cookie|query_parameter"`
	FieldValue   string            `json:"fieldValue,omitempty"`
	CookieConfig *ConsulCookieConf `json:"cookieConfig,omitempty"`
	SourceIP     bool              `json:"sourceIP,omitempty"`
	Terminal     bool              `json:"terminal,omitempty"`
}

// ConsulCookieConf configures a cookie hash.
type ConsulCookieConf struct {
	Session bool   `json:"session,omitempty"`
	TTL     string `json:"ttl,omitempty" check:"duration"`
	Path    string `json:"path,omitempty"`
}

// ConsulLocality is prioritizeByLocality.
type ConsulLocality struct {
	Mode string `json:"mode,omitempty" check:"enum=none|failover"`
}

// ConsulServiceRouter is the spec of a ServiceRouter: L7 routes, each a
// match and a destination with timeouts and retries
// (https://developer.hashicorp.com/consul/docs/connect/config-entries/service-router).
type ConsulServiceRouter struct {
	Routes []ConsulRoute `json:"routes,omitempty"`
}

// ConsulRoute is one route; the first that matches wins.
type ConsulRoute struct {
	Match       *ConsulRouteMatch       `json:"match,omitempty"`
	Destination *ConsulRouteDestination `json:"destination,omitempty"`
}

// ConsulRouteMatch is a route's match.
type ConsulRouteMatch struct {
	HTTP *ConsulHTTPMatch `json:"http,omitempty"`
}

// ConsulHTTPMatch matches HTTP requests; at most one path field.
type ConsulHTTPMatch struct {
	PathExact       string              `json:"pathExact,omitempty"`
	PathPrefix      string              `json:"pathPrefix,omitempty"`
	PathRegex       string              `json:"pathRegex,omitempty" check:"regex"`
	CaseInsensitive bool                `json:"caseInsensitive,omitempty"`
	Header          []ConsulHeaderMatch `json:"header,omitempty"`
	QueryParam      []ConsulQueryMatch  `json:"queryParam,omitempty"`
	Methods         []string            `json:"methods,omitempty" check:"enum=GET|HEAD|POST|PUT|DELETE|CONNECT|OPTIONS|TRACE|PATCH"`
}

func (m *ConsulHTTPMatch) crossCheck(p *field.Path) field.ErrorList {
	if countSet(m.PathExact, m.PathPrefix, m.PathRegex) > 1 {
		return field.ErrorList{field.Invalid(p, nil, "at most one of pathExact, pathPrefix, pathRegex may be set")}
	}
	return nil
}

// ConsulHeaderMatch matches one header; at most one of the match fields.
type ConsulHeaderMatch struct {
	Name       string `json:"name" check:"required"`
	Present    bool   `json:"present,omitempty"`
	Exact      string `json:"exact,omitempty"`
	Prefix     string `json:"prefix,omitempty"`
	Suffix     string `json:"suffix,omitempty"`
	Contains   string `json:"contains,omitempty"`
	Regex      string `json:"regex,omitempty" check:"regex"`
	Invert     bool   `json:"invert,omitempty"`
	IgnoreCase bool   `json:"ignoreCase,omitempty"`
}

func (h *ConsulHeaderMatch) crossCheck(p *field.Path) field.ErrorList {
	if countSet(h.Present, h.Exact, h.Prefix, h.Suffix, h.Contains, h.Regex) > 1 {
		return field.ErrorList{field.Invalid(p, h.Name, "at most one of present, exact, prefix, suffix, contains, regex may be set")}
	}
	return nil
}

// ConsulQueryMatch matches one query parameter.
type ConsulQueryMatch struct {
	Name    string `json:"name" check:"required"`
	Present bool   `json:"present,omitempty"`
	Exact   string `json:"exact,omitempty"`
	Regex   string `json:"regex,omitempty" check:"regex"`
}

// ConsulRouteDestination is where a route sends requests, with its
// timeouts (durations) and retry policy: numRetries counts retries,
// retryOn lists Envoy retry conditions, retryOnStatusCodes HTTP statuses.
type ConsulRouteDestination struct {
	Service               string                `json:"service,omitempty"`
	ServiceSubset         string                `json:"serviceSubset,omitempty"`
	Namespace             string                `json:"namespace,omitempty"`
	Partition             string                `json:"partition,omitempty"`
	PrefixRewrite         string                `json:"prefixRewrite,omitempty"`
	IdleTimeout           string                `json:"idleTimeout,omitempty" check:"duration"`
	RequestTimeout        string                `json:"requestTimeout,omitempty" check:"duration"`
	NumRetries            *int64                `json:"numRetries,omitempty" check:"min=0,max=4294967295"`
	RetryOnConnectFailure bool                  `json:"retryOnConnectFailure,omitempty"`
	RetryOn               []string              `json:"retryOn,omitempty" check:"enum=5xx|gateway-error|reset|connect-failure|envoy-ratelimited|retriable-4xx|refused-stream|cancelled|deadline-exceeded|internal|resource-exhausted|unavailable"`
	RetryOnStatusCodes    []int64               `json:"retryOnStatusCodes,omitempty" check:"min=100,max=599"`
	RequestHeaders        *ConsulHeaderModifier `json:"requestHeaders,omitempty"`
	ResponseHeaders       *ConsulHeaderModifier `json:"responseHeaders,omitempty"`
}

// ConsulHeaderModifier adds, sets or removes headers.
type ConsulHeaderModifier struct {
	Add    map[string]string `json:"add,omitempty"`
	Set    map[string]string `json:"set,omitempty"`
	Remove []string          `json:"remove,omitempty"`
}

// ConsulServiceSplitter is the spec of a ServiceSplitter: weighted splits
// whose weights (percent, float, 0.01 resolution) sum to 100
// (https://developer.hashicorp.com/consul/docs/connect/config-entries/service-splitter).
type ConsulServiceSplitter struct {
	Splits []ConsulSplit `json:"splits,omitempty" check:"required"`
}

func (s *ConsulServiceSplitter) crossCheck(p *field.Path) field.ErrorList {
	sum := 0.0
	for _, sp := range s.Splits {
		if sp.Weight != nil {
			sum += *sp.Weight
		}
	}
	if len(s.Splits) > 0 && math.Abs(sum-100) > 0.005 {
		return field.ErrorList{field.Invalid(p.Child("splits"), fmt.Sprintf("sum %g", sum), "the weights must sum to 100")}
	}
	return nil
}

// ConsulSplit is one split.
type ConsulSplit struct {
	Weight          *float64              `json:"weight,omitempty" check:"required,min=0,max=100"`
	Service         string                `json:"service,omitempty"`
	ServiceSubset   string                `json:"serviceSubset,omitempty"`
	Namespace       string                `json:"namespace,omitempty"`
	Partition       string                `json:"partition,omitempty"`
	RequestHeaders  *ConsulHeaderModifier `json:"requestHeaders,omitempty"`
	ResponseHeaders *ConsulHeaderModifier `json:"responseHeaders,omitempty"`
}

// ConsulServiceIntentions is the spec of a ServiceIntentions: which
// sources may call the destination
// (https://developer.hashicorp.com/consul/docs/connect/config-entries/service-intentions).
type ConsulServiceIntentions struct {
	Destination ConsulIntentionDestination `json:"destination"`
	Sources     []ConsulIntentionSource    `json:"sources,omitempty"`
	JWT         map[string]any             `json:"jwt,omitempty"`
}

// ConsulIntentionDestination names the destination service.
type ConsulIntentionDestination struct {
	Name      string `json:"name" check:"required"`
	Namespace string `json:"namespace,omitempty"`
	Partition string `json:"partition,omitempty"`
}

// ConsulIntentionSource is one source; action or permissions, not both.
type ConsulIntentionSource struct {
	Name          string                      `json:"name,omitempty"`
	Peer          string                      `json:"peer,omitempty"`
	Namespace     string                      `json:"namespace,omitempty"`
	Partition     string                      `json:"partition,omitempty"`
	SamenessGroup string                      `json:"samenessGroup,omitempty"`
	Action        string                      `json:"action,omitempty" check:"enum=allow|deny"`
	Permissions   []ConsulIntentionPermission `json:"permissions,omitempty"`
	Description   string                      `json:"description,omitempty"`
	Type          string                      `json:"type,omitempty" check:"enum=consul"`
}

func (s *ConsulIntentionSource) crossCheck(p *field.Path) field.ErrorList {
	if (s.Action == "") == (len(s.Permissions) == 0) {
		return field.ErrorList{field.Invalid(p, s.Name, "exactly one of action and permissions must be set")}
	}
	return nil
}

// ConsulIntentionPermission is an L7 permission.
type ConsulIntentionPermission struct {
	Action string                `json:"action" check:"required,enum=allow|deny"`
	HTTP   *ConsulPermissionHTTP `json:"http,omitempty"`
	JWT    map[string]any        `json:"jwt,omitempty"`
}

// ConsulPermissionHTTP matches requests of a permission.
type ConsulPermissionHTTP struct {
	PathExact  string              `json:"pathExact,omitempty"`
	PathPrefix string              `json:"pathPrefix,omitempty"`
	PathRegex  string              `json:"pathRegex,omitempty" check:"regex"`
	Methods    []string            `json:"methods,omitempty" check:"enum=GET|HEAD|POST|PUT|DELETE|CONNECT|OPTIONS|TRACE|PATCH"`
	Header     []ConsulHeaderMatch `json:"header,omitempty"`
}
