package dataplane

import (
	"context"
	"sync/atomic"
	"time"
)

// Fault injection on the outbound path (Cluster.Fault), Envoy's HTTP fault
// filter (source/extensions/filters/http/fault/fault_filter.cc) as Istio
// configures it from VirtualService fault.delay / fault.abort:
//
//   - it runs before the router: an aborted request never reaches the
//     router, contacts no endpoint and is never retried (Istio doc: fault
//     injection); the caller gets the abort status with body
//     "fault filter abort" (flag FI);
//   - delay and abort are drawn independently per request, each as Envoy's
//     runtime featureEnabled on a FractionalPercent: random() % 1,000,000
//     < percent × 10,000 (Istio translatePercentToFractionalPercent, per
//     million), so any percent with up to 4 decimals is exact in
//     expectation;
//   - the delay is drawn first; a delayed request waits Duration, then the
//     abort is drawn ("Delays can precede aborts but not vice versa",
//     FaultFilter::postDelayInjection), then the request goes to the
//     router (flag DI);
//   - the route timeout starts at the router, after the delay (Envoy arms
//     it in Filter::onRequestComplete), so a delay is not cut by the route
//     timeout: a 2 s delay with a 1 s route timeout answers after 2 s plus
//     the upstream time (at most 1 s more). See envoyproxy/gateway#8193.
//
// Counters meshgym_faults_total{cluster,kind="delay"|"abort"}; events
// fault_delay and fault_abort, at most one per cluster and kind per
// [FaultEventInterval], whose Count says how many faults they stand for.

// Event kinds of the policies (see [Event]).
const (
	// EventFaultAbort: requests were aborted by fault injection (Count).
	EventFaultAbort = "fault_abort"
	// EventFaultDelay: requests were delayed by fault injection (Count).
	EventFaultDelay = "fault_delay"
	// EventRetryOverflow: a retriable outcome was not retried because the
	// cluster's max_retries or retry budget was full (flag UO); Detail is
	// the reason (max_retries or budget).
	EventRetryOverflow = "retry_overflow"
	// EventRouteTimeout: the route timeout ended a request (504, flag UT).
	EventRouteTimeout = "route_timeout"
)

// FaultEventInterval is the least time between two fault events of one
// cluster and kind; the faults in between are counted in the next event.
const FaultEventInterval = time.Second

const bodyFaultAbort = "fault filter abort"

// percentDenominator is Envoy's FractionalPercent MILLION.
const percentDenominator = 1_000_000

// fault kinds, the kind label of meshgym_faults_total.
const (
	faultDelay = iota
	faultAbort
)

var faultKindLabels = [2]string{"delay", "abort"}

// compiledFault is a validated [Fault].
type compiledFault struct {
	delay      time.Duration
	delayPerM  uint64 // requests per million delayed; 0 = no delay draw
	hasDelay   bool
	abortCode  int
	abortPerM  uint64
	hasAbort   bool
	eventGates [2]eventGate
}

func compileFault(f *Fault) *compiledFault {
	if f == nil || (f.Abort == nil && f.Delay == nil) {
		return nil
	}
	cf := &compiledFault{}
	if d := f.Delay; d != nil {
		cf.hasDelay, cf.delay, cf.delayPerM = true, d.Duration, perMillion(d.Percent)
	}
	if a := f.Abort; a != nil {
		cf.hasAbort, cf.abortCode, cf.abortPerM = true, a.StatusCode, perMillion(a.Percent)
	}
	return cf
}

// perMillion converts a percent to Envoy's per-million numerator as Istio
// does (uint32(percent × 10000)).
func perMillion(pct float64) uint64 { return uint64(pct * 10000) }

// drawDelay decides whether this request is delayed (one draw when a delay
// is configured).
func (cf *compiledFault) drawDelay(rnd func() uint64) (time.Duration, bool) {
	if !cf.hasDelay || rnd()%percentDenominator >= cf.delayPerM {
		return 0, false
	}
	return cf.delay, true
}

// drawAbort decides whether this request is aborted (one draw when an
// abort is configured) and with which status.
func (cf *compiledFault) drawAbort(rnd func() uint64) (int, bool) {
	if !cf.hasAbort || rnd()%percentDenominator >= cf.abortPerM {
		return 0, false
	}
	return cf.abortCode, true
}

// waitDelay holds the request for d on clk (or until ctx ends).
func waitDelay(ctx context.Context, clk Clock, d time.Duration) {
	if d <= 0 {
		return
	}
	t := clk.NewTimer(d)
	select {
	case <-t.C():
	case <-ctx.Done():
		t.Stop()
	}
}

// eventGate lets at most one event through per FaultEventInterval and
// counts what it held back. Faults are counted only while someone
// listens on /events.
type eventGate struct {
	pending atomic.Int64
	last    atomic.Int64 // UnixNano of the last event let through; 0 = none
}

// note records one occurrence at now; it returns the count the event to
// publish stands for, or 0 when no event is due.
func (g *eventGate) note(now time.Time) int64 {
	g.pending.Add(1)
	last, t := g.last.Load(), now.UnixNano()
	if last != 0 && t-last < int64(FaultEventInterval) {
		return 0
	}
	if !g.last.CompareAndSwap(last, t) {
		return 0
	}
	return g.pending.Swap(0)
}

// injected counts one fault of kind on cluster cl and publishes its
// (gated) event.
func (cf *compiledFault) injected(f *forwarder, cl *clusterRuntime, p *clusterPolicy, kind int, status int, delay time.Duration) {
	f.tel.pol.faults.Add(context.Background(), 1, p.faultOpts[kind]...)
	if !f.events.active() {
		return
	}
	now := f.clock.Now()
	n := cf.eventGates[kind].note(now)
	if n == 0 {
		return
	}
	e := Event{Time: now, Component: f.name, Cluster: cl.name, Count: n}
	if kind == faultAbort {
		e.Kind, e.StatusCode = EventFaultAbort, status
	} else {
		e.Kind, e.Detail = EventFaultDelay, "delay "+delay.String()
	}
	f.events.publish(e)
}
