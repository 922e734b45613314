package scenarios

import "time"

// APIVersion is the apiVersion of the long form this package writes and reads.
const APIVersion = "meshgym.dev/v1alpha1"

// Scenario is one experiment: a topology, a pattern applied in the "after"
// phase, the load both phases run, and the success conditions. Both spellings
// of a scenario file (book shorthand and long form) load to this model.
type Scenario struct {
	// APIVersion is always APIVersion ("meshgym.dev/v1alpha1").
	APIVersion string `json:"apiVersion" yaml:"apiVersion"`
	Kind       string `json:"kind" yaml:"kind"` // always "Scenario"
	// Name identifies the scenario (letters, digits, _ - .); book files take
	// it from the file name.
	Name string `json:"name" yaml:"name"`
	// Description is one line shown by `meshgym list`.
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// Seed makes a run repeatable (0 = choose one and print it).
	Seed int64 `json:"seed,omitempty" yaml:"seed,omitempty"`
	// Topology is the sample system both phases deploy.
	Topology Topology `json:"topology" yaml:"topology"`
	// Pattern is applied in the "after" phase only.
	Pattern Pattern `json:"pattern" yaml:"pattern"`
	// Load is what both phases run against Topology.Entry.
	Load LoadSpec `json:"load" yaml:"load"`
	// Conditions are the success conditions, judged on the "after" phase.
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
	// Entry is the name of the service the load generator calls.
	Entry string `json:"entry" yaml:"entry"`
	// Services in the order they are listed (and deployed).
	Services []Service `json:"services" yaml:"services"`
}

// Service is one logical service (e.g. "currency") with its versions.
type Service struct {
	// Name of the service, e.g. "payments"; a condition's name=payments
	// selects all its versions.
	Name string `json:"name" yaml:"name"`
	// Upstreams are names of services this one calls on every request.
	Upstreams []string `json:"upstreams,omitempty" yaml:"upstreams,omitempty"`
	// Sidecar is true when every instance runs behind a sidecar (default true).
	Sidecar bool `json:"sidecar" yaml:"sidecar"`
	// Versions of the service (≥ 1); callers balance across their
	// instances round-robin.
	Versions []Version `json:"versions" yaml:"versions"`
}

// Version is one version of a service; its Name is the component name used
// in conditions (e.g. "currency_v2").
type Version struct {
	// Name is unique across the topology, e.g. "currency_v2"; a service
	// with one version has it named like the service.
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
	P50 Duration `json:"p50,omitempty" yaml:"p50,omitempty"` // TIMING_50_PERCENTILE
	P90 Duration `json:"p90,omitempty" yaml:"p90,omitempty"` // TIMING_90_PERCENTILE
	P99 Duration `json:"p99,omitempty" yaml:"p99,omitempty"` // TIMING_99_PERCENTILE
}

// Pattern kinds (Pattern.Kind). The engine runs KindRetries today; the
// others load, validate and explain so the book's files can be read.
const (
	KindRetries         = "retries"
	KindSidecarProxy    = "sidecar_proxy"
	KindCircuitBreaking = "circuit_breaking"
	KindCanary          = "canary"
)

// PatternKinds lists every Pattern.Kind this package understands.
var PatternKinds = []string{KindRetries, KindSidecarProxy, KindCircuitBreaking, KindCanary}

// Pattern is the mesh pattern applied in the "after" phase. Exactly one
// policy pointer matching Kind is set.
type Pattern struct {
	// Kind is the pattern name: one of PatternKinds ("retries",
	// "sidecar_proxy", "circuit_breaking", "canary").
	Kind string `json:"kind" yaml:"kind"`
	// Retry is set when Kind is "retries".
	Retry *RetryPolicy `json:"retry,omitempty" yaml:"retry,omitempty"`
	// CircuitBreaker is set when Kind is "circuit_breaking".
	CircuitBreaker *CircuitBreakerPolicy `json:"circuitBreaker,omitempty" yaml:"circuitBreaker,omitempty"`
	// Split is set when Kind is "canary".
	Split *SplitPolicy `json:"split,omitempty" yaml:"split,omitempty"`
	// Sidecar is set when Kind is "sidecar_proxy". The topology then
	// describes the "after" phase (every service with a sidecar); the
	// "before" phase runs the same services without sidecars.
	Sidecar *SidecarPolicy `json:"sidecar,omitempty" yaml:"sidecar,omitempty"`
}

// CircuitBreakerPolicy ejects a failing endpoint (version instance) of
// Service after ErrorThreshold consecutive errors for EjectionDuration; the
// endpoint then returns with its error count reset (the book's model).
type CircuitBreakerPolicy struct {
	// Service whose callers break the circuit (the upstream, e.g. "payments").
	Service string `json:"service" yaml:"service"`
	// ErrorThreshold is the number of consecutive errors (5xx or no
	// response) that ejects an endpoint; ≥ 1.
	ErrorThreshold int `json:"errorThreshold" yaml:"errorThreshold"`
	// EjectionDuration is how long an ejected endpoint takes no traffic; > 0.
	EjectionDuration Duration `json:"ejectionDuration" yaml:"ejectionDuration"`
}

// SplitPolicy routes the traffic to Service across its versions by weight.
type SplitPolicy struct {
	// Service whose versions share the traffic (e.g. "payments").
	Service string `json:"service" yaml:"service"`
	// Targets are the versions and their weights; weights sum to 100.
	Targets []WeightedTarget `json:"targets" yaml:"targets"`
}

// WeightedTarget is one version of a split and its share of the traffic.
type WeightedTarget struct {
	// Version is a version name of the split's service (e.g. "payments_v2").
	Version string `json:"version" yaml:"version"`
	// Weight is the share of the traffic in percent (0–100).
	Weight float64 `json:"weight" yaml:"weight"`
}

// SidecarPolicy is the sidecar proxy pattern's knob set.
type SidecarPolicy struct {
	// Protocol the sidecars proxy: "http", "grpc" or "tcp".
	Protocol string `json:"protocol" yaml:"protocol"`
}

// RetryPolicy is the scenario's retry knob set, mapped 1:1 on Envoy's route
// retry_policy by the builtin control plane.
type RetryPolicy struct {
	// Service whose callers retry (the upstream, e.g. "currency").
	Service  string `json:"service" yaml:"service"`
	Attempts int    `json:"attempts" yaml:"attempts"` // retries after the first try
	// RetryOn names the failures retried, as Envoy's retry_on values
	// (RetryOnValues), e.g. ["5xx", "connect-failure"].
	RetryOn []string `json:"retryOn" yaml:"retryOn"`
	// PerTryTimeout bounds each attempt; 0 = no per-try timeout.
	PerTryTimeout Duration `json:"perTryTimeout,omitempty" yaml:"perTryTimeout,omitempty"`
	// BackoffBase is the base interval of the jittered exponential backoff
	// between attempts; 0 = no backoff.
	BackoffBase Duration `json:"backoffBase,omitempty" yaml:"backoffBase,omitempty"`
	// PreferNewHost: a retry avoids hosts already tried (Envoy previous_hosts).
	PreferNewHost bool `json:"preferNewHost" yaml:"preferNewHost"`
}

// LoadSpec is the load both phases run against the entry service.
type LoadSpec struct {
	// Duration of each phase (1s – 168h).
	Duration Duration `json:"duration" yaml:"duration"`
	// RPS is the total requests per second; 0 = as fast as possible.
	RPS float64 `json:"rps" yaml:"rps"`
	// Connections is the number of concurrent connections (≥ 1).
	Connections int `json:"connections" yaml:"connections"`
}

// Duration is a time.Duration that reads and writes as "200s", "3m", "100ms".
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String writes the duration the way scenario files do: "200s", "3m",
// "25ms", "1500us" (the largest unit that keeps a whole number; minutes and
// hours only from 2m and 2h so that "60s" stays "60s").
func (d Duration) String() string { return formatDuration(time.Duration(d)) }

// MarshalText writes the duration as String does (also used by JSON).
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a Go duration string ("200s", "3m", "100ms").
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
