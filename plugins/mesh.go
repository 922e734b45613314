// Package plugins is the mesh plugin protocol: the Go interface a mesh
// plugin implements (Mesh), its gRPC transport over hashicorp/go-plugin
// (versioned proto in plugins/proto/v1), the host-side Loader that starts
// plugin processes and kills every one it started, and Serve for plugin
// authors. The engine talks to a mesh only through this interface; the
// plugins themselves live in sub-packages (builtin now; istio, linkerd,
// consul later). docs/plugins.md is the author guide.
package plugins

import (
	"context"
	"fmt"
	"time"

	"meshgym/sandbox"
	"meshgym/scenarios"
)

// ProtocolVersion is the version of the plugin protocol (the go-plugin
// handshake's ProtocolVersion and the proto package meshgym.plugin.v1).
// A plugin built for another version is refused with a message naming both.
const ProtocolVersion = 1

// Mesh is a mesh plugin: an adapter that installs a mesh, renders a pattern
// as the mesh's own configuration and applies it to a running deployment.
// Every method takes a context that is carried over the wire (cancellation
// and deadline). Errors returned by a plugin should be *Error so their Code
// survives the wire; any other error arrives as CodeInternal.
type Mesh interface {
	// Info names the plugin and what it supports.
	Info(ctx context.Context) (Info, error)
	// Install makes the mesh ready on a platform (the builtin plugin has
	// nothing to install: its sidecars are started by the platform).
	Install(ctx context.Context, req InstallRequest) error
	// Uninstall removes what Install added.
	Uninstall(ctx context.Context, req InstallRequest) error
	// Render returns what the pattern becomes in the mesh's configuration
	// language, without touching any deployment (for `meshgym explain`).
	Render(ctx context.Context, req RenderRequest) (Rendered, error)
	// Apply puts the pattern in force on a running deployment and returns
	// once every proxy accepted it. A zero Pattern is "pattern off": the
	// mesh with its defaults and no policy of the scenario.
	Apply(ctx context.Context, req ApplyRequest) error
	// Remove takes the pattern out of force (back to the mesh's defaults).
	Remove(ctx context.Context, req ApplyRequest) error
	// ScrapeTargets lists the Prometheus endpoints that count requests
	// server-side for the given deployment.
	ScrapeTargets(ctx context.Context, req ScrapeRequest) ([]ScrapeTarget, error)
	// MetricMapping maps the mesh's own metric names onto meshgym's
	// (request_count …). The builtin plugin's sidecars already speak
	// meshgym's names and return an identity mapping.
	MetricMapping(ctx context.Context) ([]MetricMapping, error)
	// Events streams policy events (retries, ejections, budget exhaustion …)
	// of the deployment's proxies to send until ctx ends or send fails; it
	// returns nil when ctx ends.
	Events(ctx context.Context, req EventsRequest, send func(PolicyEvent) error) error
}

// Info describes a plugin.
type Info struct {
	Name    string `json:"name"`    // "builtin"
	Version string `json:"version"` // the plugin's own version
	// Patterns are the pattern kinds it can apply (scenarios.PatternKinds).
	Patterns []string `json:"patterns"`
	// Platforms it can run on: "local", "docker", "kind".
	Platforms []string `json:"platforms"`
	// Profiles are the semantics profiles it carries (builtin only).
	Profiles []ProfileInfo `json:"profiles,omitempty"`
	// Formats are the configuration languages Render can produce; the first
	// is the default.
	Formats []string `json:"formats,omitempty"`
	// Notes are one-line semantics notes for `meshgym plugin list`.
	Notes []string `json:"notes,omitempty"`
}

// ProfileInfo names one semantics profile of the builtin plugin.
type ProfileInfo struct {
	Name     string   `json:"name"`     // "istio"
	Release  string   `json:"release"`  // release reproduced by default, "1.27"
	Versions []string `json:"versions"` // releases that may be asked for: istio@1.23
	Source   string   `json:"source"`   // documentation URL
	Summary  string   `json:"summary"`  // one line
}

// InstallRequest says where to install.
type InstallRequest struct {
	Platform string `json:"platform"`
	Profile  string `json:"profile,omitempty"`
	// Cluster is the Kubernetes cluster to install into (platform kind;
	// nil elsewhere).
	Cluster *sandbox.Cluster `json:"cluster,omitempty"`
}

// RenderRequest asks for the configuration a pattern becomes.
type RenderRequest struct {
	// Profile is "name" or "name@version"; "" is the plugin's default.
	Profile string `json:"profile,omitempty"`
	// Format is one of Info.Formats; "" is the first.
	Format   string             `json:"format,omitempty"`
	Topology scenarios.Topology `json:"topology"`
	Pattern  scenarios.Pattern  `json:"pattern"`
	// Endpoints of each service; may be empty (explain renders placeholders).
	Endpoints map[string][]sandbox.Endpoint `json:"endpoints,omitempty"`
}

// Rendered is a pattern in a mesh's configuration language.
type Rendered struct {
	Documents []Document `json:"documents"`
	// Knobs lists every effective knob and where its value came from.
	Knobs []Knob `json:"knobs,omitempty"`
	// Notes are one-line remarks: semantics worth knowing, "not supported
	// by this mesh: …".
	Notes []string `json:"notes,omitempty"`
}

// Document is one configuration object (a YAML document, a JSON config).
type Document struct {
	Name    string `json:"name"`    // "payments VirtualService"
	Format  string `json:"format"`  // "yaml" or "json"
	Content string `json:"content"` // the text, ending in a newline
}

// Knob is one effective setting and its origin.
type Knob struct {
	Path  string `json:"path"`  // "payments.retry.num_retries"
	Value string `json:"value"` // "2"
	// Source is "scenario", "profile istio@1.27 (URL)" or "meshgym default".
	Source string `json:"source"`
}

// ApplyRequest is a pattern to put in force on a deployment.
type ApplyRequest struct {
	Profile    string                        `json:"profile,omitempty"`
	Platform   string                        `json:"platform"`
	Topology   scenarios.Topology            `json:"topology"`
	Pattern    scenarios.Pattern             `json:"pattern"`
	Endpoints  map[string][]sandbox.Endpoint `json:"endpoints"`
	Components []sandbox.Component           `json:"components"`
	// Cluster is the Kubernetes cluster of the deployment (platform kind;
	// nil elsewhere).
	Cluster *sandbox.Cluster `json:"cluster,omitempty"`
}

// ScrapeRequest names the deployment whose metrics are wanted.
type ScrapeRequest struct {
	Platform   string              `json:"platform"`
	Components []sandbox.Component `json:"components"`
	// Cluster is the Kubernetes cluster of the deployment (platform kind;
	// nil elsewhere).
	Cluster *sandbox.Cluster `json:"cluster,omitempty"`
}

// ScrapeTarget is one Prometheus text endpoint.
type ScrapeTarget struct {
	Component string `json:"component"` // component name, "payments_sidecar"
	URL       string `json:"url"`
	// Labels are added to every sample read from URL (a label the sample
	// already has is overwritten), as Prometheus adds target labels: a
	// real mesh's proxy does not know meshgym's component names, so its
	// plugin says {"name": "currency_v1"} here.
	Labels map[string]string `json:"labels,omitempty"`
}

// MetricMapping renames one of the mesh's metrics to meshgym's.
type MetricMapping struct {
	Mesh    string `json:"mesh"`    // "istio_requests_total"
	Meshgym string `json:"meshgym"` // "request_count"
	// Labels renames labels: mesh label → meshgym label.
	Labels map[string]string `json:"labels,omitempty"`
	// Where keeps only the samples of the family whose labels have these
	// values (the others are dropped): {"reporter": "destination"} keeps
	// Istio's server-side counts and drops the client-side ones the same
	// proxy reports.
	Where map[string]string `json:"where,omitempty"`
}

// EventsRequest names the proxies whose policy events are wanted.
type EventsRequest struct {
	Components []sandbox.Component `json:"components"`
	// Cluster is the Kubernetes cluster of the deployment (platform kind;
	// nil elsewhere).
	Cluster *sandbox.Cluster `json:"cluster,omitempty"`
}

// PolicyEvent is one policy decision of a proxy.
type PolicyEvent struct {
	At         time.Time     `json:"at"`
	Component  string        `json:"component"` // "payments_sidecar"
	Kind       string        `json:"kind"`      // "retry", "ejection", "budget_exhausted" …
	Cluster    string        `json:"cluster,omitempty"`
	Endpoint   string        `json:"endpoint,omitempty"`
	Attempt    int           `json:"attempt,omitempty"`
	StatusCode int           `json:"status_code,omitempty"`
	Backoff    time.Duration `json:"backoff_ns,omitempty"`
	Detail     string        `json:"detail,omitempty"`
	// Count is how many decisions the event stands for (≥ 1).
	Count int64 `json:"count,omitempty"`
}

// Code classifies a plugin error; it survives the wire as a gRPC status
// code (see codeToGRPC).
type Code int

// Error codes.
const (
	CodeInternal    Code = iota // a bug or an unexpected failure (gRPC Internal)
	CodeInvalid                 // bad input: scenario, profile, format (InvalidArgument) → exit 2
	CodeUnsupported             // the mesh lacks this pattern or platform (Unimplemented) → exit 2
	CodeUnavailable             // a proxy or the mesh cannot be reached (Unavailable) → exit 3
	CodeCanceled                // the context ended (Canceled)
)

// Error is an error from a plugin.
type Error struct {
	Plugin string // plugin name, filled in by the host
	Code   Code
	Msg    string
}

func (e *Error) Error() string {
	if e.Plugin == "" {
		return e.Msg
	}
	return "mesh plugin " + e.Plugin + ": " + e.Msg
}

// Errorf returns an *Error with the given code.
func Errorf(code Code, format string, args ...any) error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Is makes errors.Is(err, context.Canceled) and errors.Is(err,
// context.DeadlineExceeded) true for a CodeCanceled error, so that a call
// ended by its context reads as a context error on both sides of the wire.
func (e *Error) Is(target error) bool {
	return e.Code == CodeCanceled && (target == context.Canceled || target == context.DeadlineExceeded)
}
