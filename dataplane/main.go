package dataplane

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"meshgym/tracing/tracelite"
)

// Exit codes of [Main].
const (
	// ExitOK: stopped by stdin EOF or a signal.
	ExitOK = 0
	// ExitRuntime: failed while running.
	ExitRuntime = 1
	// ExitUsage: bad flags.
	ExitUsage = 2
	// ExitBind: a listen address could not be bound.
	ExitBind = 3
)

var (
	stdout io.Writer = os.Stdout
	stderr io.Writer = os.Stderr
)

// Main is the whole meshgym-sidecar program; it returns the exit code.
//
// Flags: --name NAME, --admin ADDR, --inbound ADDR --app ADDR (a pair),
// --outbound SVC=ADDR (repeatable), --seed N. Bad flags print one line on
// stderr and return 2; an address that cannot be bound prints one line
// naming it and returns 3. Once every listener is up it prints exactly one
// line `READY {json}` on stdout ([Addresses] as JSON). It then exits 0 at
// once when stdin reaches EOF or fails (its parent died or closed the pipe;
// this works on every OS) unless stdin is a terminal or another character
// device such as /dev/null, and shuts down gracefully on SIGINT/SIGTERM.
func Main() int {
	setWorkers(os.Args[1:])
	return run(os.Args[1:], os.Stdin)
}

// DefaultWorkers is the number of OS threads that run the sidecar's Go
// code at once (GOMAXPROCS) unless --workers or the GOMAXPROCS variable
// says otherwise: one, as Linkerd's default Helm configuration runs its
// proxies with a single runtime worker
// (https://linkerd.io/2/tasks/configuring-proxy-concurrency). A sidecar
// handles one instance's traffic; more threads mostly compete with the app
// and the other components for the laptop's cores (and wake each other).
const DefaultWorkers = 1

// setWorkers applies --workers N (or DefaultWorkers) to this process; bad
// values are left for parseFlags to report.
func setWorkers(args []string) {
	n := DefaultWorkers
	if os.Getenv("GOMAXPROCS") != "" {
		n = 0 // the runtime already read it
	}
	for i, a := range args {
		v, ok := strings.CutPrefix(strings.TrimLeft(a, "-"), "workers=")
		if !ok && strings.TrimLeft(a, "-") == "workers" && i+1 < len(args) {
			v, ok = args[i+1], true
		}
		if ok {
			if k, err := strconv.Atoi(v); err == nil && k > 0 {
				n = k
			}
		}
	}
	if n > 0 {
		runtime.GOMAXPROCS(n)
	}
}

func run(args []string, stdin *os.File) int {
	opts, err := parseFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "usage: meshgym-sidecar --name NAME --admin ADDR [--inbound ADDR --app ADDR] [--outbound SVC=ADDR]... [--seed N]")
			return ExitUsage
		}
		fmt.Fprintf(stderr, "meshgym-sidecar: %s\n", oneLine(err.Error()))
		return ExitUsage
	}
	// Spans of sampled requests go to the OTLP endpoint the platform
	// passes in the environment (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
	// OTEL_EXPORTER_OTLP_ENDPOINT); none = tracing off.
	tracer, err := tracelite.FromEnv(TraceService(opts.Name), os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "meshgym-sidecar: %s\n", oneLine(err.Error()))
		return ExitUsage
	}
	opts.Tracer = tracer
	defer flushTracer(tracer)
	// Catch signals before READY so a signal right after it is graceful.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	sc, err := Start(opts)
	if err != nil {
		var be *BindError
		if errors.As(err, &be) {
			fmt.Fprintf(stderr, "meshgym-sidecar: cannot listen on %s: %s\n", be.Addr, oneLine(be.Err.Error()))
			return ExitBind
		}
		fmt.Fprintf(stderr, "meshgym-sidecar: %s\n", oneLine(err.Error()))
		return ExitRuntime
	}
	line, _ := json.Marshal(sc.Addrs())
	fmt.Fprintf(stdout, "READY %s\n", line)

	done := make(chan string, 2)
	if watchStdin(stdin) {
		go func() {
			buf := make([]byte, 512)
			for {
				if _, err := stdin.Read(buf); err != nil {
					done <- "stdin"
					return
				}
			}
		}()
	}
	go func() { <-sigs; done <- "signal" }()

	if why := <-done; why == "stdin" {
		// The parent is gone: exit at once, nothing to drain for.
		return ExitOK
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sc.Shutdown(ctx); err != nil {
		fmt.Fprintf(stderr, "meshgym-sidecar: shutdown: %s\n", oneLine(err.Error()))
	}
	return ExitOK
}

// TraceService is the service.name of a sidecar's spans: its --name with
// "_sidecar" appended (the platform's component name, e.g.
// currency_v2_sidecar), so that the sidecar and its app (whose --name is
// the same version name, as the metrics label them) are told apart.
func TraceService(name string) string {
	if strings.HasSuffix(name, "_sidecar") {
		return name
	}
	return name + "_sidecar"
}

// TracerFlushTimeout bounds the flush of queued spans when the sidecar
// exits (also at stdin EOF, which otherwise exits at once).
const TracerFlushTimeout = time.Second

func flushTracer(t *tracelite.Tracer) {
	if t == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), TracerFlushTimeout)
	defer cancel()
	_ = t.Shutdown(ctx)
}

// watchStdin reports whether stdin is watched for EOF: not when it is a
// terminal or another character device (/dev/null), so a sidecar started
// by hand keeps running.
func watchStdin(f *os.File) bool {
	if f == nil {
		return false
	}
	st, err := f.Stat()
	if err != nil {
		return true
	}
	return st.Mode()&os.ModeCharDevice == 0
}

func parseFlags(args []string) (Options, error) {
	var o Options
	fs := flag.NewFlagSet("meshgym-sidecar", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.Name, "name", "", "component name, e.g. currency_v1 (labels metrics and events)")
	fs.StringVar(&o.AdminAddr, "admin", "127.0.0.1:0", "admin API listen address host:port")
	fs.StringVar(&o.InboundAddr, "inbound", "", "inbound listener address host:port (needs --app)")
	fs.StringVar(&o.AppAddr, "app", "", "local app address host:port the inbound listener forwards to")
	fs.Func("outbound", "outbound listener SVC=host:port (repeatable)", func(v string) error {
		svc, addr, ok := strings.Cut(v, "=")
		if !ok || svc == "" || addr == "" {
			return fmt.Errorf("want SVC=host:port, got %q", v)
		}
		o.Outbound = append(o.Outbound, OutboundListener{Service: svc, Addr: addr})
		return nil
	})
	fs.Func("workers", "OS threads running Go code at once (GOMAXPROCS); default 1, as Linkerd's proxy", func(v string) error {
		if k, err := strconv.Atoi(v); err != nil || k < 1 || k > 1024 {
			return fmt.Errorf("--workers: want a number from 1 to 1024, got %q", v)
		}
		return nil
	})
	fs.Func("seed", "random seed of LB and back-off jitter (0 = from time)", func(v string) error {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("want an unsigned integer")
		}
		o.Seed = n
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.Name == "":
		return o, errors.New("--name is required")
	case (o.InboundAddr == "") != (o.AppAddr == ""):
		return o, errors.New("--inbound and --app go together")
	}
	seen := map[string]bool{}
	for _, ob := range o.Outbound {
		if seen[ob.Service] {
			return o, fmt.Errorf("--outbound %s given twice", ob.Service)
		}
		seen[ob.Service] = true
	}
	return o, nil
}
