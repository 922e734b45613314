package engine

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"meshgym/sandbox"
	"meshgym/tracing/tracelite"
)

// hostPlatform is a platform whose components reach this machine by
// another name (as containers reach host.docker.internal).
type hostPlatform struct {
	sandbox.Platform
	ip, host string
	err      error
}

func (p hostPlatform) Name() string { return "fake" }

func (p hostPlatform) ComponentHostAddress(context.Context) (string, string, error) {
	return p.ip, p.host, p.err
}

// TestTracingComponentHost: on a platform that implements
// ComponentHostAddresser the receiver listens on the address it gives and
// the components are told to export to the host name it gives, on the
// receiver's port; when the platform says its components cannot reach
// this machine, they are told tracing is off and the run says why.
func TestTracingComponentHost(t *testing.T) {
	opts := Options{RunDir: t.TempDir(), TraceSample: 1,
		Platform: hostPlatform{ip: "127.0.0.1", host: "host.example.internal"}}
	trc, err := startTracing(opts, emitter{})
	if err != nil {
		t.Fatal(err)
	}
	defer trc.stop()
	host, port, _ := net.SplitHostPort(trc.rcv.Addr())
	if host != "127.0.0.1" {
		t.Errorf("receiver listens on %s, want the platform's 127.0.0.1", trc.rcv.Addr())
	}
	env := trc.env()
	want := "http://host.example.internal:" + port
	if env[tracelite.EnvEndpoint] != want || env[tracelite.EnvTracesEndpoint] != want+tracelite.TracesPath || env[tracelite.EnvSDKDisabled] != "false" {
		t.Errorf("component env %v; want endpoint %s", env, want)
	}

	ch := make(chan Event, 10)
	opts.Platform = hostPlatform{err: errors.New("the daemon is remote")}
	trc2, err := startTracing(opts, emitter{ch: ch})
	if err != nil {
		t.Fatal(err)
	}
	defer trc2.stop()
	if env := trc2.env(); env[tracelite.EnvSDKDisabled] != "true" {
		t.Errorf("unreachable receiver: component env %v; want tracing off", env)
	}
	var said bool
	for len(ch) > 0 {
		if l, ok := (<-ch).(*LogEvent); ok && strings.Contains(l.Msg, "the daemon is remote") && strings.Contains(l.Msg, "load generator") {
			said = true
		}
	}
	if !said {
		t.Error("no note saying why only the load generator's spans are recorded")
	}
}
