package sampleapps

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"meshgym/tracing/tracelite"
)

// Exit codes of [Main].
const (
	// ExitOK: stopped by stdin EOF, SIGINT/SIGTERM, or -h.
	ExitOK = 0
	// ExitFailure: the server failed after it started.
	ExitFailure = 1
	// ExitUsage: an invalid environment variable or flag.
	ExitUsage = 2
	// ExitBind: the listen address could not be bound.
	ExitBind = 3
)

// ReadyLine is the JSON printed after "READY " on stdout once the service
// listens.
type ReadyLine struct {
	// Name is the service name.
	Name string `json:"name"`
	// Listen is the bound address, host:port.
	Listen string `json:"listen"`
	// PID is the process id.
	PID int `json:"pid"`
	// Seed is the error-injection seed in use.
	Seed int64 `json:"seed"`
}

// Main is the whole meshgym-app program; it returns the process exit code
// (see [ExitOK] and the other Exit constants). It reads [Options] from the
// environment and os.Args ([LoadOptions]), listens on ListenAddr, prints
// exactly one line `READY {"name":…,"listen":"127.0.0.1:p",…}` to stdout,
// and then logs only to stderr. It stops and returns 0 at once when stdin
// reaches EOF or fails (the parent died or closed the pipe) unless stdin is
// a terminal or character device such as /dev/null, or --no-stdin-watch is
// given; on SIGINT or SIGTERM it shuts down gracefully (up to 5 s) and
// returns 0.
func Main() int {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	return run(os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr, sig)
}

func run(args []string, getenv func(string) string, stdin *os.File, stdout, stderr io.Writer, sig <-chan os.Signal) int {
	opts, ex, err := parseCommandLine(getenv, args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "meshgym-app: %v\n", err)
		return ExitUsage
	}
	srv, err := NewServer(opts)
	if err != nil {
		fmt.Fprintf(stderr, "meshgym-app: %v\n", err)
		return ExitUsage
	}
	// Spans of sampled requests go to the OTLP endpoint the platform
	// passes (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
	// OTEL_EXPORTER_OTLP_ENDPOINT); none = tracing off.
	tracer, err := tracelite.FromEnv(opts.Name, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "meshgym-app: %v\n", err)
		return ExitUsage
	}
	srv.SetTracer(tracer)
	defer flushTracer(tracer)
	l, err := net.Listen("tcp", opts.ListenAddr)
	if err != nil {
		fmt.Fprintf(stderr, "meshgym-app: cannot listen on %s: %v\n", opts.ListenAddr, err)
		return ExitBind
	}
	ready, _ := json.Marshal(ReadyLine{Name: opts.Name, Listen: l.Addr().String(), PID: os.Getpid(), Seed: opts.Seed})
	fmt.Fprintf(stdout, "READY %s\n", ready)
	fmt.Fprintf(stderr, "meshgym-app: %s listening on %s, upstreams %v, error rate %v, p50 %v\n",
		opts.Name, l.Addr(), opts.UpstreamURIs, opts.ErrorRate, opts.Timing50)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, l) }()

	eof := make(chan struct{})
	if !ex.noStdinWatch && stdin != nil && !isCharDevice(stdin) {
		go func() {
			io.Copy(io.Discard, stdin)
			close(eof)
		}()
	}

	select {
	case <-eof:
		// The parent is gone: stop at once, nobody waits for answers.
		l.Close()
		return ExitOK
	case s := <-sig:
		fmt.Fprintf(stderr, "meshgym-app: %s: %v, shutting down\n", opts.Name, s)
		cancel()
		select {
		case err := <-served:
			if err != nil {
				fmt.Fprintf(stderr, "meshgym-app: %v\n", err)
			}
		case <-time.After(6 * time.Second):
		case <-eof:
		}
		return ExitOK
	case err := <-served:
		fmt.Fprintf(stderr, "meshgym-app: serving on %s: %v\n", l.Addr(), err)
		return ExitFailure
	}
}

// TracerFlushTimeout bounds the flush of queued spans when the app exits
// (also at stdin EOF, which otherwise exits at once).
const TracerFlushTimeout = time.Second

func flushTracer(t *tracelite.Tracer) {
	if t == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), TracerFlushTimeout)
	defer cancel()
	_ = t.Shutdown(ctx)
}

// isCharDevice reports whether f is a terminal or another character device
// (like /dev/null), which is not a parent's pipe and must not be watched.
func isCharDevice(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
