package dataplane

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Event kinds published on GET /events.
const (
	// EventRetry: an attempt's outcome is being retried (after Backoff).
	EventRetry = "retry"
	// EventRetryLimitExceeded: the last attempt was retriable but no retry
	// was left (Envoy flag URX).
	EventRetryLimitExceeded = "retry_limit_exceeded"
	// EventConfig: a new Config was applied (Detail says which version).
	EventConfig = "config"
	// EventEjection: outlier detection ejected Endpoint of Cluster (Detail
	// says why and for how long, e.g. "5 consecutive 5xx; ejected for 30s
	// (time 1)"; StatusCode is the outcome that tripped it).
	EventEjection = "ejection"
	// EventUnejection: an ejected endpoint returned to the load balancer
	// (or, book_half_open, became half-open; linkerd, went on probation).
	// Time is when it returned.
	EventUnejection = "unejection"
	// EventProbation (outlier algorithm linkerd): the one request let
	// through to an endpoint on probation succeeded (StatusCode), so the
	// endpoint is available again with its failure count reset and its
	// next penalty back to the minimum. A failed probation request is an
	// EventEjection instead.
	EventProbation = "probation"
)

// Event is one policy event of a sidecar, streamed as one JSON object per
// line (NDJSON) on GET /events.
type Event struct {
	// Time the event happened.
	Time time.Time `json:"time"`
	// Component is the sidecar's --name.
	Component string `json:"component"`
	// Kind is one of the Event* kinds above.
	Kind string `json:"kind"`
	// Cluster is the upstream service (empty for config events).
	Cluster string `json:"cluster,omitempty"`
	// Endpoint is the name of the endpoint the attempt went to.
	Endpoint string `json:"endpoint,omitempty"`
	// Attempt is the number of the attempt the event is about (1-based).
	Attempt int `json:"attempt,omitempty"`
	// StatusCode of that attempt, 0 when it got no response.
	StatusCode int `json:"status_code"`
	// Backoff is the wait before the retry, in nanoseconds (time.Duration).
	Backoff time.Duration `json:"backoff,omitempty"`
	// Detail is free text: the failure reason or the config version.
	Detail string `json:"detail,omitempty"`
	// Count is how many occurrences a gated event stands for (fault_delay,
	// fault_abort: the faults since the previous such event); 0 = one.
	Count int64 `json:"count,omitempty"`
}

// EventBufferSize is how many events a /events subscriber may lag behind
// before newer events are dropped for it (and counted in
// meshgym_events_dropped_total).
const EventBufferSize = 1024

// eventHub is a bounded fan-out: publish never blocks; a subscriber whose
// buffer is full loses the event.
type eventHub struct {
	mu      sync.Mutex
	subs    map[chan Event]struct{}
	nsubs   atomic.Int32
	dropped atomic.Int64
	onDrop  func()
}

func newEventHub(onDrop func()) *eventHub {
	return &eventHub{subs: make(map[chan Event]struct{}), onDrop: onDrop}
}

// active reports whether anyone listens (so callers can skip building events).
func (h *eventHub) active() bool { return h.nsubs.Load() > 0 }

func (h *eventHub) publish(e Event) {
	if !h.active() {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- e:
		default:
			h.dropped.Add(1)
			if h.onDrop != nil {
				h.onDrop()
			}
		}
	}
}

// subscribe returns a channel of events and a function that ends the
// subscription.
func (h *eventHub) subscribe(buf int) (<-chan Event, func()) {
	ch := make(chan Event, buf)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.nsubs.Add(1)
	h.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs, ch)
			h.nsubs.Add(-1)
			h.mu.Unlock()
		})
	}
}

// waitSubscribers blocks until at least n subscribers exist (tests).
func (h *eventHub) waitSubscribers(ctx context.Context, n int) error {
	for h.nsubs.Load() < int32(n) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}
