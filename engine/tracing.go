package engine

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"meshgym/load"
	"meshgym/tracing"
	"meshgym/tracing/tracelite"
)

// DefaultTraceSample is the fraction of the load generator's requests
// traced when Options.TraceSample is 0 and OTEL_TRACES_SAMPLER_ARG does
// not say otherwise: 10%.
const DefaultTraceSample = 0.1

// LoadgenService is the service.name of the load generator's root spans.
const LoadgenService = "loadgen"

// TracesSummary is what a run recorded of its traces.
type TracesSummary struct {
	// File is the span record (one tracing.Span per line), under the run
	// directory (tracing.SpansFile).
	File string `json:"file"`
	// Sample is the fraction of requests the load generator traced.
	Sample float64 `json:"sample"`
	// Spans counts spans received from every component (and written).
	Spans int64 `json:"spans"`
	// Dropped counts spans lost before the file: the load generator's
	// export queue was full or its export failed, plus spans in export
	// requests the receiver could not decode. Components' own losses are
	// not counted here.
	Dropped int64 `json:"dropped"`
	// Forward is the user's OTLP traces URL ("" = none); Forwarded and
	// ForwardDropped count the export requests it accepted and the ones
	// not delivered (queue full, endpoint down).
	Forward        string `json:"forward,omitempty"`
	Forwarded      int64  `json:"forwarded,omitempty"`
	ForwardDropped int64  `json:"forward_dropped,omitempty"`
}

// EnvTracesSamplerArg is OpenTelemetry's sampler argument variable
// (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#general-sdk-configuration):
// for the ratio samplers, the fraction sampled. meshgym reads it as the
// default of Options.TraceSample.
const EnvTracesSamplerArg = "OTEL_TRACES_SAMPLER_ARG"

// traceSample resolves Options.TraceSample: > 0 as given (capped at 1),
// < 0 off (0 returned), 0 the environment's OTEL_TRACES_SAMPLER_ARG when it
// is a fraction in [0, 1], else DefaultTraceSample.
func traceSample(opt float64, getenv func(string) string) float64 {
	switch {
	case opt < 0:
		return 0
	case opt > 0:
		return min(opt, 1)
	}
	if v := strings.TrimSpace(getenv(EnvTracesSamplerArg)); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f <= 1 {
			return f
		}
	}
	return DefaultTraceSample
}

// ComponentHostAddresser is implemented by platforms whose components do
// not share this machine's loopback (the Docker platform: each container
// has its own network namespace). ComponentHostAddress says where the
// run's OTLP trace receiver must listen for the components to reach it
// without it being exposed beyond this machine (listenIP, an address of
// this machine, e.g. the Docker bridge's 172.17.0.1), and the host name or
// address the components reach it by (componentHost, e.g.
// "host.docker.internal"). An error means they cannot reach this machine
// (a remote Docker daemon): the run then records only the load
// generator's spans and says so. Platforms without it (local processes)
// get a receiver on 127.0.0.1.
type ComponentHostAddresser interface {
	ComponentHostAddress(ctx context.Context) (listenIP, componentHost string, err error)
}

// componentHostTimeout bounds ComponentHostAddress (a daemon round trip).
const componentHostTimeout = 5 * time.Second

// runTracing is a run's tracing: the OTLP receiver the components export
// to, and the load generator's tracer. A nil *runTracing is tracing off.
type runTracing struct {
	sample  float64
	rcv     *tracing.Receiver
	loadgen *tracelite.Tracer
	file    string
	forward string
	seed    uint64
	// componentURL is the receiver's base URL as the components reach it
	// ("" = the receiver's own, rcv.Endpoint()).
	componentURL string
	// noComponents: the components cannot reach the receiver; only the
	// load generator's spans are recorded.
	noComponents bool
}

// startTracing starts the receiver (writing <run dir>/traces/spans.jsonl
// and forwarding to the user's endpoint, if any) unless tracing is off. On
// a platform that implements ComponentHostAddresser the receiver listens
// where the components can reach it; otherwise on 127.0.0.1.
func startTracing(opts Options, em emitter) (*runTracing, error) {
	sample := traceSample(opts.TraceSample, os.Getenv)
	if sample <= 0 {
		return nil, nil
	}
	t := &runTracing{sample: sample, file: filepath.Join(opts.RunDir, tracing.SpansFile), seed: uint64(opts.Seed)}
	t.forward = tracing.ForwardURL(opts.OTLPEndpoint, os.Getenv)
	listen, compHost := "", ""
	if ha, ok := opts.Platform.(ComponentHostAddresser); ok {
		ctx, cancel := context.WithTimeout(context.Background(), componentHostTimeout)
		ip, host, err := ha.ComponentHostAddress(ctx)
		cancel()
		if err != nil {
			t.noComponents = true
			em.log(fmt.Sprintf("traces: the %s components cannot send spans to this machine (%v); only the load generator's spans are recorded", opts.Platform.Name(), err))
		} else {
			listen, compHost = net.JoinHostPort(ip, "0"), host
		}
	}
	rcv, err := tracing.StartReceiver(tracing.ReceiverOptions{
		Addr: listen, SpansPath: t.file, ForwardURL: t.forward,
		Logf: func(f string, a ...any) { em.log(fmt.Sprintf(f, a...)) },
	})
	if err != nil {
		return nil, err
	}
	t.rcv = rcv
	if compHost != "" {
		_, port, _ := net.SplitHostPort(rcv.Addr())
		t.componentURL = "http://" + net.JoinHostPort(compHost, port)
	}
	if t.loadgen, err = tracelite.New(tracelite.Config{Service: LoadgenService, URL: rcv.TracesURL()}); err != nil {
		rcv.Close(context.Background())
		return nil, err
	}
	note := fmt.Sprintf("traces: %.0f%% of requests sampled, recorded in %s", sample*100, t.file)
	if t.forward != "" {
		note += ", forwarded to " + t.forward
	}
	em.log(note)
	return t, nil
}

// env is what the platform passes to every component: where to export
// (the receiver, as the components reach it), or that tracing is off. Both
// OTLP variables are set so that a user's own
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, inherited by the children, does not
// win over the receiver.
func (t *runTracing) env() map[string]string {
	if t == nil || t.noComponents {
		return map[string]string{tracelite.EnvSDKDisabled: "true"}
	}
	base := t.rcv.Endpoint()
	if t.componentURL != "" {
		base = t.componentURL
	}
	return map[string]string{
		tracelite.EnvEndpoint:       base,
		tracelite.EnvTracesEndpoint: base + tracelite.TracesPath,
		tracelite.EnvSDKDisabled:    "false",
	}
}

// load is the load generator's tracing for phase (nil when off).
func (t *runTracing) load(phase string) *load.Tracing {
	if t == nil {
		return nil
	}
	return &load.Tracing{Sample: t.sample, Tracer: t.loadgen, Seed: t.seed,
		Attrs: []tracelite.Attr{tracelite.String(tracing.AttrPhase, phase)}}
}

// stop flushes the load generator's spans, stops the receiver (after the
// deployment's teardown, so the components' last spans are in) and
// returns the summary.
func (t *runTracing) stop() *TracesSummary {
	if t == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = t.loadgen.Shutdown(ctx)
	_ = t.rcv.Close(ctx)
	st := t.rcv.Stats()
	ls := t.loadgen.Stats()
	return &TracesSummary{File: t.file, Sample: t.sample, Spans: st.Spans, Dropped: ls.Dropped + st.Rejected,
		Forward: t.forward, Forwarded: st.Forwarded, ForwardDropped: st.ForwardDropped}
}
