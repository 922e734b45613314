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
// with output "json", the SMP results document. Progress goes to stderr.
// Exit codes as run: 2 for a bad file or output (one stderr line per
// problem, file:line:col: field: …), 3 when the load generator fails, 130
// when interrupted; 0 otherwise (an SMP test has no conditions, so error
// responses are reported, not judged).
func runSMPFile(cmd *cobra.Command, path string, output string) error {
	if output != "text" && output != "json" {
		return usageErr("--output: unknown format %q; use text or json", output)
	}
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
	for _, n := range cfg.Notes {
		fmt.Fprintf(stderr, "  read: %s\n", n)
	}
	fmt.Fprintf(stderr, "▶ smp      %s: %s\n", cfg.Name, smpPlan(cfg))
	var mu sync.Mutex
	doc, err := smp.Run(cmd.Context(), cfg, smp.RunOptions{Progress: func(p smp.Progress) {
		if !p.Done {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stderr, "✓ client %d %s: %d requests, %d errors\n", p.Client, p.URL, p.Requests, p.Errors)
	}})
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
	return writeSMP(cmd.OutOrStdout(), doc, output)
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
		fmt.Fprintf(tw, "  Latency (ms):\tmin %.3f · avg %.3f · p50 %.3f · p90 %.3f · p99 %.3f · p99.9 %.3f · max %.3f\n",
			l.Min, l.Average, l.P50, l.P90, l.P99, r.Meshgym.P999Ms, l.Max)
		fmt.Fprintf(tw, "  Status codes:\t%s\n", smpStatus(r.Meshgym.StatusCodes))
		if r.Meshgym.Requests > 0 {
			fmt.Fprintf(tw, "  Errors:\t%d (%.2f%%)\n", r.Meshgym.Errors, 100*float64(r.Meshgym.Errors)/float64(r.Meshgym.Requests))
		}
		tw.Flush()
		if r.Meshgym.FellBehind {
			fmt.Fprintf(w, "  warning: the load generator fell behind: %s\n", r.Meshgym.FellBehindReason)
		}
	}
	fmt.Fprintln(w, "\n(load generator fortio; --output json prints these as SMP results)")
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
