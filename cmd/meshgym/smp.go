package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"meshgym/smp"
)

// runSMPFile runs an SMP performance test file (see smp.IsTestConfig: the
// run command calls this when its argument is one) and prints a summary
// per client and endpoint — rate, latency percentiles, status codes — or,
// with output "json", the SMP results document. Progress goes to stderr
// (none with -q). Nothing is deployed and nothing is stored in the results
// store.
//
// The run command's --duration, --rps and --connections (read from
// cmd's flags when set) override the file for every client; --mesh, --set,
// --seed, --port, --run-dir and --all mean nothing for such a test and are
// refused (exit 2, one line saying why).
//
// Exit codes as run: 2 for a bad file, output or flag (one stderr line per
// problem, file:line:col: field: …), 3 when the load generator fails or an
// endpoint is unreachable (every request failed without an HTTP response:
// one line per endpoint naming the URL and the cause, e.g. connection
// refused), 130 when interrupted; 0 otherwise (an SMP test has no
// conditions, so error responses are reported, not judged; an endpoint
// that answered no request with 2xx gets a warning line).
func runSMPFile(cmd *cobra.Command, path string, output string) error {
	if output != "text" && output != "json" {
		return usageErr("--output: unknown format %q; use text or json", output)
	}
	if err := smpRefuseFlags(cmd, path); err != nil {
		return err
	}
	quiet := smpFlagBool(cmd, "quiet")
	stderr := cmd.ErrOrStderr()
	cfg, err := smp.Load(path)
	if err != nil {
		var probs smp.Errors
		if errors.As(err, &probs) {
			for _, p := range probs {
				fmt.Fprintln(stderr, "meshgym: "+oneLine(p.Error()))
			}
			return &exitError{code: exitUsage, err: errors.New("")}
		}
		return &exitError{code: exitUsage, err: err}
	}
	notes, err := cfg.Override(smpOverrides(cmd))
	if err != nil {
		return usageErr("%s: %v", path, err)
	}
	if !quiet {
		for _, n := range cfg.Notes {
			fmt.Fprintf(stderr, "  read: %s\n", n)
		}
		for _, n := range notes {
			fmt.Fprintf(stderr, "  flag: %s\n", n)
		}
		fmt.Fprintf(stderr, "▶ smp      %s: %s\n", cfg.Name, smpPlan(cfg))
	}
	var mu sync.Mutex
	opts := smp.RunOptions{}
	if !quiet {
		opts.Progress = func(p smp.Progress) {
			if !p.Done {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(stderr, "✓ client %d %s: %d requests, %d errors\n", p.Client, p.URL, p.Requests, p.Errors)
		}
	}
	doc, err := smp.Run(cmd.Context(), cfg, opts)
	if err != nil {
		code := exitPlatform
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			code = exitInterrupted
		}
		if doc != nil && len(doc.Results) > 0 {
			writeSMP(cmd.OutOrStdout(), doc, output)
		}
		return &exitError{code: code, err: err}
	}
	if err := writeSMP(cmd.OutOrStdout(), doc, output); err != nil {
		return err
	}
	unreachable := false
	for i, r := range doc.Results {
		switch {
		case r.Unreachable():
			unreachable = true
			fmt.Fprintln(stderr, "meshgym: "+smpUnreachable(r))
		case r.No2xx() && output == "json":
			fmt.Fprintln(stderr, "meshgym: warning: "+smpNo2xx(doc.Results[i]))
		}
	}
	if unreachable {
		return &exitError{code: exitPlatform, err: errors.New("")}
	}
	return nil
}

// smpUnreachable is the one line for an endpoint no request reached.
func smpUnreachable(r smp.PerformanceResult) string {
	cause := r.Meshgym.SocketErrorCause
	if cause == "" {
		cause = "socket errors; a request made after the run got a response, so the endpoint may have come back"
	}
	return fmt.Sprintf("%s is unreachable: all %d requests failed without an HTTP response (%s); hint: is the service running and listening there?",
		r.EndpointURL, r.Meshgym.Requests, cause)
}

// smpNo2xx is the warning for an endpoint that answered, but never 2xx.
func smpNo2xx(r smp.PerformanceResult) string {
	return fmt.Sprintf("%s answered none of %d requests with 2xx (%s); the latencies are of error responses: check the URL's path and that the service is healthy",
		r.EndpointURL, r.Meshgym.Requests, smpStatus(r.Meshgym.StatusCodes))
}

// smpFlagReasons say why a run flag means nothing for an SMP test, in the
// order they are reported.
var smpFlagReasons = []struct{ flag, why string }{
	{"all", "--all runs the built-in scenarios, not a file"},
	{"mesh", "nothing is deployed, so no mesh applies a pattern (the file's mesh: is only recorded in the results)"},
	{"set", "a test has no scenario knobs; edit the file's clients"},
	{"seed", "the load generator makes no random choices"},
	{"port", "the ports are in the file's endpoint_urls"},
	{"run-dir", "SMP test runs are not stored, nothing is written; save the results with --output json > FILE"},
}

// smpRefuseFlags refuses, in one line, the run flags that mean nothing for
// an SMP test (exit 2).
func smpRefuseFlags(cmd *cobra.Command, path string) error {
	var names, whys []string
	for _, r := range smpFlagReasons {
		if smpChanged(cmd, r.flag) {
			names = append(names, "--"+r.flag)
			whys = append(whys, "--"+r.flag+": "+r.why)
		}
	}
	if len(names) == 0 {
		return nil
	}
	verb, obj := "does", "it"
	if len(names) > 1 {
		verb, obj = "do", "them"
	}
	return usageErr("%s %s not apply to %s, an SMP performance test (it loads the file's endpoint_urls; nothing is deployed): %s; remove %s",
		strings.Join(names, ", "), verb, path, strings.Join(whys, "; "), obj)
}

func smpChanged(cmd *cobra.Command, name string) bool {
	f := cmd.Flags().Lookup(name)
	return f != nil && f.Changed
}

func smpFlagBool(cmd *cobra.Command, name string) bool {
	v, err := cmd.Flags().GetBool(name)
	return err == nil && v
}

// smpOverrides reads --duration, --rps and --connections when they were
// given on the command line.
func smpOverrides(cmd *cobra.Command) smp.Overrides {
	var o smp.Overrides
	fl := cmd.Flags()
	if smpChanged(cmd, "duration") {
		if d, err := fl.GetDuration("duration"); err == nil {
			o.Duration = &d
		}
	}
	if smpChanged(cmd, "rps") {
		if r, err := fl.GetFloat64("rps"); err == nil {
			o.RPS = &r
		}
	}
	if smpChanged(cmd, "connections") {
		if n, err := fl.GetInt("connections"); err == nil {
			o.Connections = &n
		}
	}
	return o
}

// smpPlan is the one-line plan of a test.
func smpPlan(cfg *smp.TestConfig) string {
	var parts []string
	for i, c := range cfg.Clients {
		rate := "as fast as possible"
		if c.RPS > 0 {
			rate = strconv.FormatFloat(c.RPS, 'f', -1, 64) + " req/s"
		}
		parts = append(parts, fmt.Sprintf("client %d: %d URL(s) one after the other, %s on %s", i, len(c.EndpointURLs), rate, smpPlural(c.Connections, "connection")))
	}
	s := fmt.Sprintf("%s per URL; ", cfg.Duration) + strings.Join(parts, "; ")
	if len(cfg.Clients) > 1 {
		s += " (clients at the same time)"
	}
	return s
}

func writeSMP(w io.Writer, doc *smp.Document, output string) error {
	if output == "json" {
		if err := doc.Write(w); err != nil {
			return &exitError{code: exitPlatform, err: err}
		}
		return nil
	}
	for _, r := range doc.Results {
		fmt.Fprintf(w, "\n%s · %s\n", r.Name, r.EndpointURL)
		tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
		rate := fmt.Sprintf("%.1f req/s", r.ActualQPS)
		if r.RequestedQPS > 0 {
			rate += fmt.Sprintf(" (requested %g)", r.RequestedQPS)
		}
		fmt.Fprintf(tw, "  Requests:\t%d in %s, %s, %s\n", r.Meshgym.Requests, r.Duration, rate, smpPlural(r.Connections, "connection"))
		l := r.LatenciesMs
		if !r.Unreachable() {
			fmt.Fprintf(tw, "  Latency (ms):\tmin %.3f · avg %.3f · p50 %.3f · p90 %.3f · p99 %.3f · p99.9 %.3f · max %.3f\n",
				l.Min, l.Average, l.P50, l.P90, l.P99, r.Meshgym.P999Ms, l.Max)
		}
		fmt.Fprintf(tw, "  Status codes:\t%s\n", smpStatus(r.Meshgym.StatusCodes))
		if r.Meshgym.Requests > 0 {
			fmt.Fprintf(tw, "  Errors:\t%d (%.2f%%)\n", r.Meshgym.Errors, 100*float64(r.Meshgym.Errors)/float64(r.Meshgym.Requests))
		}
		tw.Flush()
		switch {
		case r.Unreachable():
			fmt.Fprintf(w, "  unreachable: no request got an HTTP response (%s)\n", resultsOrDash(r.Meshgym.SocketErrorCause))
		case r.No2xx():
			fmt.Fprintf(w, "  warning: %s\n", smpNo2xx(r))
		}
		if r.Meshgym.FellBehind && !r.Unreachable() {
			fmt.Fprintf(w, "  warning: the load generator fell behind: %s\n", r.Meshgym.FellBehindReason)
		}
	}
	fmt.Fprintln(w, "\n(load generator fortio; --output json prints these as SMP results; SMP test runs are not kept in the results store)")
	return nil
}

func smpStatus(m map[string]int64) string {
	codes := make([]int, 0, len(m))
	for k := range m {
		n, _ := strconv.Atoi(k)
		codes = append(codes, n)
	}
	sort.Ints(codes)
	var parts []string
	for _, c := range codes {
		label := strconv.Itoa(c)
		if c < 0 {
			label = "socket error"
		}
		parts = append(parts, fmt.Sprintf("%s: %d", label, m[strconv.Itoa(c)]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func smpPlural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
