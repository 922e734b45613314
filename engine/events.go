package engine

import (
	"time"

	"meshgym/metrics"
)

// Event is one item of the engine's progress stream: *PhaseEvent,
// *ProgressEvent, *PolicyEvent or *LogEvent. The CLI prints them, the TUI
// renders them, and `--output json` can stream them.
type Event interface{ isEvent() }

// Phase names.
const (
	PhaseDeploy   = "deploy"
	PhaseBefore   = "before"
	PhaseAfter    = "after"
	PhaseTeardown = "teardown"
)

// PhaseEvent marks the start or end of a phase.
type PhaseEvent struct {
	Phase string    `json:"phase"`
	Start bool      `json:"start"` // false = the phase ended
	At    time.Time `json:"at"`
	// Detail is a one-line description, e.g. "pattern off".
	Detail string `json:"detail,omitempty"`
}

// ProgressEvent reports the load of a measuring phase, about once a second.
type ProgressEvent struct {
	Phase    string        `json:"phase"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	Total    time.Duration `json:"total_ns"`
	Requests int64         `json:"requests"`
	Errors   int64         `json:"errors"`  // responses other than 2xx, and socket errors
	RPS      float64       `json:"rps"`     // achieved so far (req/s)
	Retries  int64         `json:"retries"` // policy events of kind "retry" seen so far in this phase
	// Components are the inbound requests and errors each component
	// (currency_v2, payments_sidecar…) answered so far in this phase, as
	// of the last per-second scrape.
	Components map[string]metrics.ComponentCount `json:"components,omitempty"`
}

// PolicyEvent is a decision a sidecar took: a retry, a retry limit reached,
// (later) an ejection.
type PolicyEvent struct {
	Phase      string        `json:"phase"`
	At         time.Time     `json:"at"`
	Component  string        `json:"component"` // the sidecar that decided, e.g. "payments_sidecar"
	Kind       string        `json:"kind"`      // "retry", "retry_limit_exceeded", …
	Cluster    string        `json:"cluster,omitempty"`
	Endpoint   string        `json:"endpoint,omitempty"`
	Attempt    int           `json:"attempt,omitempty"`
	StatusCode int           `json:"status_code,omitempty"`
	Backoff    time.Duration `json:"backoff_ns,omitempty"`
	Detail     string        `json:"detail,omitempty"`
	// Count is how many decisions the event stands for (sidecars sample
	// frequent ones such as fault injections: one event a second per kind).
	Count int64 `json:"count,omitempty"`
}

// LogEvent is a note for the user ("port 8200 taken, using 40123").
type LogEvent struct {
	At  time.Time `json:"at"`
	Msg string    `json:"msg"`
}

func (*PhaseEvent) isEvent()    {}
func (*ProgressEvent) isEvent() {}
func (*PolicyEvent) isEvent()   {}
func (*LogEvent) isEvent()      {}
