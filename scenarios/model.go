package scenarios

import "time"

// APIVersion is the apiVersion of the long form this package writes and reads.
const APIVersion = "meshgym.dev/v1alpha1"

// Scenario is one experiment: a topology, a pattern applied in the "after"
// phase, the load both phases run, and the success conditions. Both spellings
// of a scenario file (book shorthand and long form) load to this model.
type Scenario struct {
	APIVersion  string `json:"apiVersion" yaml:"apiVersion"`
	Kind        string `json:"kind" yaml:"kind"` // always "Scenario"
	Name        string `json:"name" yaml:"name"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// Seed makes a run repeatable (0 = choose one and print it).
	Seed       int64       `json:"seed,omitempty" yaml:"seed,omitempty"`
	Topology   Topology    `json:"topology" yaml:"topology"`
	Pattern    Pattern     `json:"pattern" yaml:"pattern"`
	Load       LoadSpec    `json:"load" yaml:"load"`
	Conditions []Condition `json:"conditions" yaml:"conditions"`

	// Source is the file the scenario came from ("builtin:retries" for
	// embedded ones). Not serialised.
	Source string `json:"-" yaml:"-"`
	// Notes says how each value was read (for `explain`), e.g.
	// "upstream_error_rate[1]: 50 read as 50%". Not serialised.
	Notes []string `json:"-" yaml:"-"`
}

// Topology is the sample system: services calling each other, each with one
// or more versions. Entry is the service the load generator calls.
type Topology struct {
	Entry    string    `json:"entry" yaml:"entry"`
	Services []Service `json:"services" yaml:"services"`
}

// Service is one logical service (e.g. "currency") with its versions.
type Service struct {
	Name string `json:"name" yaml:"name"`
	// Upstreams are names of services this one calls on every request.
	Upstreams []string `json:"upstreams,omitempty" yaml:"upstreams,omitempty"`
	// Sidecar is true when every instance runs behind a sidecar (default true).
	Sidecar  bool      `json:"sidecar" yaml:"sidecar"`
	Versions []Version `json:"versions" yaml:"versions"`
}

// Version is one version of a service; its Name is the component name used
// in conditions (e.g. "currency_v2").
type Version struct {
	Name      string `json:"name" yaml:"name"`
	Instances int    `json:"instances" yaml:"instances"` // ≥ 1
	// Weight is the share of traffic in percent when the pattern splits by
	// weight; 0 when no split is configured.
	Weight float64 `json:"weight,omitempty" yaml:"weight,omitempty"`
	// ErrorRate is the share of requests answered with ErrorCode, in percent
	// (0–100).
	ErrorRate float64 `json:"errorRate" yaml:"errorRate"`
	ErrorCode int     `json:"errorCode,omitempty" yaml:"errorCode,omitempty"` // default 500
	// Latency is the service time the app adds (fake-service TIMING_*).
	Latency Latency `json:"latency,omitempty" yaml:"latency,omitempty"`
}

// Latency is fake-service's timing model: 90% of requests take P50, 9% take
// P90, 1% take P99.
type Latency struct {
	P50 Duration `json:"p50,omitempty" yaml:"p50,omitempty"`
	P90 Duration `json:"p90,omitempty" yaml:"p90,omitempty"`
	P99 Duration `json:"p99,omitempty" yaml:"p99,omitempty"`
}

// Pattern is the mesh pattern applied in the "after" phase.
type Pattern struct {
	// Kind is the pattern name: "retries" (more come with later issues).
	Kind  string       `json:"kind" yaml:"kind"`
	Retry *RetryPolicy `json:"retry,omitempty" yaml:"retry,omitempty"`
}

// RetryPolicy is the scenario's retry knob set, mapped 1:1 on Envoy's route
// retry_policy by the builtin control plane.
type RetryPolicy struct {
	// Service whose callers retry (the upstream, e.g. "currency").
	Service       string   `json:"service" yaml:"service"`
	Attempts      int      `json:"attempts" yaml:"attempts"` // retries after the first try
	RetryOn       []string `json:"retryOn" yaml:"retryOn"`
	PerTryTimeout Duration `json:"perTryTimeout,omitempty" yaml:"perTryTimeout,omitempty"`
	BackoffBase   Duration `json:"backoffBase,omitempty" yaml:"backoffBase,omitempty"`
	// PreferNewHost: a retry avoids hosts already tried (Envoy previous_hosts).
	PreferNewHost bool `json:"preferNewHost" yaml:"preferNewHost"`
}

// LoadSpec is the load both phases run against the entry service.
type LoadSpec struct {
	Duration    Duration `json:"duration" yaml:"duration"`
	RPS         float64  `json:"rps" yaml:"rps"` // total req/s; 0 = as fast as possible
	Connections int      `json:"connections" yaml:"connections"`
}

// Duration is a time.Duration that reads and writes as "200s", "3m", "100ms".
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
