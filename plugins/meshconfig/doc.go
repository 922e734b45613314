// Package meshconfig renders a scenario's pattern in each real mesh's own
// configuration language, for `meshgym explain FILE --mesh NAME` and, later,
// for the istio, linkerd, consul and kuma plugins that apply it to a real
// cluster:
//
//	envoy    raw Envoy xDS resources (RouteConfiguration, Cluster,
//	         HttpConnectionManager filter chains)
//	istio    VirtualService, DestinationRule, EnvoyFilter, Namespace
//	linkerd  Service annotations, HTTPRoute, Server,
//	         HTTPLocalRateLimitPolicy, ServiceProfile, Namespace
//	consul   ServiceDefaults, ServiceResolver, ServiceRouter,
//	         ServiceSplitter (consul-k8s CRDs)
//	kuma     MeshRetry, MeshTimeout, MeshCircuitBreaker, MeshHTTPRoute,
//	         MeshFaultInjection, MeshRateLimit, Namespace
//
// Every resource is built from typed Go structs with yaml tags (no string
// templates) and marshalled with goccy/go-yaml. What a mesh cannot express
// comes back as a one-line Note ("not supported by linkerd: …; workaround
// …"), with the semantics a learner would trip on and their sources.
//
// Kubernetes objects follow how meshgym deploys a topology on a cluster: one
// Service per scenario service (label app: <service>, port 9090 named
// "http"), one Deployment per version whose pods carry the labels
// app: <service> and version: <version name>, and, where a mesh routes to
// versions through Services (Linkerd, Gateway API, Kuma MeshService), one
// Service per version. Kubernetes names cannot contain '_': scenario names
// are lower-cased with every character outside [a-z0-9-] turned into '-'
// (payments_v1 → payments-v1); label values keep the scenario's spelling.
//
// The package knows nothing of clusters, plugins' transport or the engine:
// it is a pure function of (mesh, version, topology, pattern).
package meshconfig
