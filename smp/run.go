package smp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"meshgym/load"
)

// RunOptions tune Run. The zero value is valid.
type RunOptions struct {
	// Progress, when set, receives each load run's progress about once a
	// second (from the load generator's goroutines; it must not block).
	Progress func(Progress)
}

// Progress is the live view of one client loading one endpoint.
type Progress struct {
	Client int    // index in TestConfig.Clients
	URL    string // the endpoint under load
	load.Progress
}

// Run runs an SMP test with meshgym's load generator (package load, which
// wraps fortio) and returns one PerformanceResult per client and endpoint
// URL, in config order.
//
// How the spec's shape maps to runs: the clients are the spec's "single or
// distributed load generators", so they run at the same time, each with
// its own rps and connections; a client's endpoint_urls are loaded one
// after the other, each for the whole duration at the client's rate. With
// rps > 0 each endpoint receives exactly rps × duration requests (the load
// package's exact-count mode).
//
// Cancelling ctx stops every client; Run then returns the results measured
// so far (the interrupted run included, marked by a short duration)
// together with an error wrapping ctx.Err(). A load generator that cannot
// start returns the other results and an error naming the client and URL.
func Run(ctx context.Context, cfg *TestConfig, opts RunOptions) (*Document, error) {
	if cfg == nil || len(cfg.Clients) == 0 {
		return nil, errors.New("smp: no clients to run")
	}
	doc := &Document{SMPVersion: SpecVersion, Generator: generator(), Source: cfg.File}
	perClient := make([][]PerformanceResult, len(cfg.Clients))
	errs := make([]error, len(cfg.Clients))
	var wg sync.WaitGroup
	for i, c := range cfg.Clients {
		wg.Go(func() { perClient[i], errs[i] = runClient(ctx, cfg, i, c, opts) })
	}
	wg.Wait()
	doc.Results = []PerformanceResult{}
	for _, rs := range perClient {
		doc.Results = append(doc.Results, rs...)
	}
	return doc, errors.Join(errs...)
}

func runClient(ctx context.Context, cfg *TestConfig, idx int, c Client, opts RunOptions) ([]PerformanceResult, error) {
	var out []PerformanceResult
	for _, u := range c.EndpointURLs {
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("client %d: %s not started: %w", idx, u, err)
		}
		spec := load.Spec{URL: u, RPS: c.RPS, Connections: c.Connections, Duration: cfg.Duration}
		if opts.Progress != nil {
			spec.Progress = func(p load.Progress) { opts.Progress(Progress{Client: idx, URL: u, Progress: p}) }
		}
		started := time.Now()
		lr, err := load.Run(ctx, spec)
		if lr != nil {
			pr := cfg.result(idx, u, lr, started, time.Now())
			if pr.Unreachable() && ctx.Err() == nil {
				pr.Meshgym.SocketErrorCause = probe(ctx, u, probeTimeout)
			}
			out = append(out, pr)
		}
		if err != nil {
			return out, fmt.Errorf("client %d: %w", idx, err)
		}
	}
	return out, nil
}

// probeTimeout bounds the GET that finds why an endpoint is unreachable.
const probeTimeout = 5 * time.Second

// probe makes one GET to url and returns why it failed, shortest first:
// the system call and its error ("connect: connection refused"), a DNS
// error, or the client's error; "" when it got a response (the endpoint
// came back after the run).
func probe(ctx context.Context, url string, timeout time.Duration) string {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		return ""
	}
	var sys *os.SyscallError
	var dns *net.DNSError
	var op *net.OpError
	switch {
	case errors.As(err, &sys):
		return sys.Error()
	case errors.As(err, &dns):
		return dns.Error()
	case errors.As(err, &op):
		return op.Err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no response within %s", timeout)
	}
	return err.Error()
}

// result is one client's run against one endpoint in SMP's shape.
func (cfg *TestConfig) result(idx int, url string, lr *load.Result, started, ended time.Time) PerformanceResult {
	pr := fromLoad(lr, url, started, ended)
	id := cfg.ID
	if id == "" {
		id = cfg.Name
	}
	pr.ID = fmt.Sprintf("%s/client-%d/%s", id, idx, url)
	pr.Name = cfg.Name
	if len(cfg.Labels) > 0 {
		pr.Labels = map[string]string{}
		for k, v := range cfg.Labels {
			pr.Labels[k] = v
		}
	}
	if cfg.Mesh != "" {
		pr.Mesh = &Component{Name: cfg.Mesh, Version: cfg.MeshVersion}
	}
	return pr
}
